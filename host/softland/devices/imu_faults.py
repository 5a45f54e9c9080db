"""Accelerometer faults of a scenario (``[[faults]]`` with ``sensor = "imu"``), one table for
both ways the firmware meets an accelerometer: the simple SIL model
(``softland.simulation.sensors.ImuModel``, the vertical specific force in the tick frame) and
the register-level LSM6DSOX emulator of board mode (``softland.devices.lsm6dsox``), into which
``lsm6dsox_fault`` translates each one.

Every fault is active over ``[start_s, end_s)`` (``end_s`` absent: for good) and reads, up
positive, in m/s^2 of specific force (+g at rest on the ground):

``stuck(mps2=0.0)``  the reading is the constant ``mps2`` (a sensor stuck on a value).
``bias_jump(mps2=2.0)``  the reading carries ``mps2`` more (a bias shift).
``saturation(limit_mps2=2.0)``  the reading is clipped at +/- ``limit_mps2`` (a full scale
    below the force flown: a wrong range setting, a part with too small a range).
``dropout(probability=1.0)``  each sample is lost with ``probability``: SIL sends the tick with
    ``acc_ok`` false (and the last value); on the LSM6DSOX no new sample comes (XLDA stays
    clear), which the firmware's driver reports as no data once the last sample is stale.
``noise_burst(sigma_mps2=5.0)``  that much more white noise.
``frozen``  the last sample before the window repeats (``acc_ok`` true: a frozen output).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from softland.devices import faults

_FAULT_TABLE: faults.FaultTable = MappingProxyType(
    {
        "stuck": MappingProxyType({"mps2": (faults.number, 0.0)}),
        "bias_jump": MappingProxyType({"mps2": (faults.number, 2.0)}),
        "saturation": MappingProxyType({"limit_mps2": (faults.positive, 2.0)}),
        "dropout": MappingProxyType({"probability": (faults.probability, 1.0)}),
        "noise_burst": MappingProxyType({"sigma_mps2": (faults.non_negative, 5.0)}),
        "frozen": MappingProxyType({}),
    }
)
FAULT_NAMES: tuple[str, ...] = tuple(_FAULT_TABLE)
FAULT_PARAMS = faults.defaults(_FAULT_TABLE)
FaultSpec = faults.FaultSpec


def parse_fault(
    name: str, start_s: float, end_s: float | None = None, **params: Any
) -> faults.FaultSpec:
    """Validate an IMU fault (name, window, params) and fill in the defaults; ValueError names
    the fault and the parameter."""
    return faults.parse(_FAULT_TABLE, FaultSpec, name, start_s, end_s, params)


# scenario fault -> (LSM6DSOX emulator fault, parameter renames)
_LSM6DSOX: Mapping[str, tuple[str, Mapping[str, str]]] = MappingProxyType(
    {
        "stuck": ("stuck", {"mps2": "mps2"}),
        "bias_jump": ("bias_jump", {"mps2": "mps2"}),
        "saturation": ("clip", {"limit_mps2": "mps2"}),
        "dropout": ("dropout", {"probability": "probability"}),
        "noise_burst": ("noise_burst", {"sigma_mps2": "sigma_mps2"}),
        "frozen": ("stuck", {}),  # the emulator's plain stuck: the outputs stop changing
    }
)


def lsm6dsox_fault(spec: faults.FaultSpec) -> tuple[str, dict[str, Any]]:
    """The LSM6DSOX emulator's fault (name, params) that plays scenario IMU fault `spec`."""
    name, renames = _LSM6DSOX[spec.name]
    return name, {new: spec.params[old] for old, new in renames.items()}


def inject_lsm6dsox(emulator: Any, specs: list[faults.FaultSpec], offset_s: float = 0.0) -> None:
    """Schedule scenario IMU faults in an ``Lsm6dsoxEmulator`` whose clock runs offset_s ahead
    of the flight clock (a fault from the start, start_s <= 0, from power-on)."""
    for spec in specs:
        name, params = lsm6dsox_fault(spec)
        start = 0.0 if spec.start_s <= 0 else spec.start_s + offset_s
        end = None if spec.end_s is None else spec.end_s + offset_s
        emulator.inject(name, start, end, **params)
