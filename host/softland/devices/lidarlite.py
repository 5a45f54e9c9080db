"""Register-level emulator of the Garmin LIDAR-Lite v3 / v3HP on I2C, on a virtual clock.

What it is for: the unmodified ``adafruit_lidarlite`` driver (through ``adafruit_bus_device``),
the firmware's own flight driver (through a ``machine.I2C``-like adapter, or through the SIL
link's I2C frames) and bench tools all talk to the same emulated sensor, register by register,
with the timing, quirks and field failures listed in ``shared/reference/lidarlite.md``.

Objects
-------
``VirtualClock``
    ``now_us`` (int), ``advance_us(n)``, ``advance_to_us(t)`` (never goes back), ``now_s``.
    Shared by the caller, the sensor(s) and the bus. Nothing here reads wall-clock time.
``LidarLiteEmulator(clock, rng, *, variant="v3", target=None, address=0x62, unit_id=None,
noise_sigma_cm=None)``
    One sensor. ``variant`` is ``"v3"`` (post-Aug-2018 I2C: undefined registers read 0x00),
    ``"v3-pre2018"`` (undefined registers return the last successfully read value) or
    ``"v3hp"``. ``target(now_s) -> (distance_m, reflectance)`` gives the truth (a bare float is
    taken as a distance with reflectance 0.7); without one, ``set_target(distance_m,
    reflectance=0.7)`` sets a fixed target (default 2 m, 0.7). ``rng`` is a seeded
    ``numpy.random.Generator``: same seed and same transactions, same readings. Every
    completed measurement draws exactly three numbers from it whatever the faults, so a fault
    never shifts the noise stream. Faults: ``inject(name, start_s, end_s=None, **params)``.
``EmulatedI2C(clock, devices=(), *, frequency=100_000, timeout_us=50_000)``
    The bus: holds one or more sensors (routed by their current I2C address) and presents
    - the ``busio.I2C`` API (CircuitPython / Blinka): ``try_lock``, ``unlock``, ``scan``,
      ``writeto``, ``readfrom_into``, ``writeto_then_readfrom`` (keyword ``start``/``end``
      slices), ``probe``, ``deinit``, context manager, ``frequency``. Every call except
      ``try_lock`` / ``unlock`` / ``deinit`` needs the lock (``RuntimeError("Function requires
      lock")``); after ``deinit`` every call raises ``ValueError``. Address NACK ->
      ``OSError(errno.ENODEV)``, data NACK -> ``OSError(errno.EIO)``, bus lock-up ->
      ``OSError(errno.ETIMEDOUT)``.
    - ``transact(op, addr, reg, write, read_len) -> (status, data)``: the raw entry point the
      SIL link calls. ``op``: ``Op.WRITE`` = 1 (write ``write``, STOP), ``Op.READ`` = 2 (read
      ``read_len`` bytes from the current register pointer), ``Op.WRITE_MEM`` = 3 (``reg`` then
      ``write`` in one transaction), ``Op.READ_MEM`` = 4 (write ``reg``, repeated START, read
      ``read_len``). ``status``: ``Status.OK`` = 0, ``NACK_ADDR`` = 1, ``NACK_DATA`` = 2,
      ``TIMEOUT`` = 3 (bus lock-up). ``data`` is ``read_len`` bytes on OK reads, else ``b""``.
      An unknown op raises ``ValueError``.
    - ``stats`` (``BusStats``): ``total``, ``by_op[Op]``, ``address_nacks``, ``data_nacks``,
      ``timeouts``; ``mark()`` and ``transactions_since(mark)`` to count per firmware tick.
``MachineI2C(bus)``
    MicroPython ``machine.I2C`` semantics over the same bus: ``writeto(addr, buf, stop=True)
    -> int`` (data bytes ACKed; a data NACK returns a short count), ``readfrom_into``,
    ``readfrom``, ``writeto_mem``, ``readfrom_mem_into``, ``readfrom_mem``, ``scan``. Address
    NACK -> ``OSError(19)`` (ENODEV), data NACK in the ``*_mem`` calls -> ``OSError(5)``
    (EIO), lock-up -> ``OSError(110)`` (ETIMEDOUT). No locking (machine.I2C has none).

Timing on the virtual clock
---------------------------
Each transaction advances the clock by its bus time: START + 9 bits per byte (address byte
included, ACK included) + STOP (+ repeated START), at ``frequency``. A status poll with a
repeated start is 39 bits = 390 us at 100 kHz, so a driver that busy-polls STATUS sees the
acquisition end. A NACKed address costs 11 bits; a lock-up costs ``timeout_us`` (the master's
I2C timeout; MicroPython's default is 50 ms). The sensor is evaluated at the end of the
transaction.

Acquisition: ``overhead + per_count * counts`` with counts = SIG_COUNT_VAL (v3: 1000 us +
21 us/count, 3.69 ms at the 0x80 default; v3HP: 640 us + 12 us/count, 3.70 ms at its 0xFF
default). Quick termination (ACQ_CONFIG b3 = 0) stops early on strong returns (counts scaled by
``clip(1.5 / amplitude, 0.1, 1)``). v3 bias-corrected measurements (ACQ_COMMAND 0x04) add
``1000 + 200 * ref_counts`` us (ref_counts = REF_COUNT_VAL if ACQ_CONFIG b2 else 5): 5.7 ms by
default. STATUS b0 is set from the command until the result is in FULL_DELAY. A command
while busy (a trigger while busy) abandons the running measurement and starts a new one: the
abandoned result never reaches FULL_DELAY (which keeps the older value) and busy lasts the
new measurement's full time. Neither manual says what the sensor does; modelled so that a
driver cannot take a result for fresh when it is not. The result is sampled at the nominal
end of the acquisition (the ``latency`` fault delays its appearance
only). Free-running (v3): OUTER_LOOP_COUNT 0xFF repeats measurements, start to start, every
MEASURE_DELAY * 0.5 ms when ACQ_CONFIG b5 is set, else every 10 ms (the default delay); never
before the previous one is done. 2..254 gives a burst of that many. Reset (ACQ_COMMAND 0x00,
on both variants: an assumption for the v3HP, whose manual only says non-zero starts a
measurement) and power-up: the device ignores its address (address NACK) for 22 ms, then all
registers are back to their defaults (I2C address included).

Measurement model
-----------------
``return = (reflectance / 0.7) * (40 m / d)^2 * SIG_COUNT_VAL / default_SIG_COUNT_VAL``;
``amplitude = sqrt(return)``. A return needs ``return >= 1`` and ``d <= 40 m``; otherwise
"no return": FULL_DELAY = 1 cm, and on v3 STATUS b3. SIGNAL_STRENGTH =
``round(255 * a / (a + 6))`` (falls with range, rises with reflectance); signal overflow
(v3 b2, v3HP b1) when ``a > 100`` (closer than ~0.4 m on a 70 % target). Noise: the datasheet
figure is taken as 2 sigma (v3: 2.5 cm below 5 m, 10 cm beyond; v3HP: 5 cm below 2 m, 2.5 cm
beyond; ``noise_sigma_cm`` replaces it with one sigma at every
range); below 1 m a bias of ``+5 cm * (1 - d/1 m)^2`` (the nonlinearity). Valid readings are
clamped to >= 2 cm, so 1 cm always means "no return" and 0 means a fault. The v3 STATUS
health bit b5 is set, b1 (reference overflow) and b6 (process error) are never set. VELOCITY
(v3) = signed 8-bit difference of the last two results (cm), LAST_DELAY (v3) = the previous
result. Bias and no-bias readings have the same statistics. Not modelled: the correlation
record (CORR_DATA reads 0), THRESHOLD_BYPASS, POWER_CONTROL, the mode pin, v3HP bits 4-5.

Registers
---------
Multi-byte reads and writes: on v3, bit 7 of the register address auto-increments (0x8f reads
0x0f, 0x10); without it every byte comes from the same register. On v3HP the address always
increments (bit 7 is ignored), as Garmin's v3HP library reads 0x0f with two bytes. A write's
first byte is the register address, so a pointer write and a data write in two transactions
write nothing (writes must be one transaction). A pointer write followed by a separate read
(Garmin's STOP) reads on every variant. A write-then-read with a repeated START
(``writeto_then_readfrom``, ``readfrom_mem_into``, ``Op.READ_MEM``) sets the pointer on every
variant, but a v3 then reads 0x00 for every byte (what Garmin's manual warns of and the field
sees on hosts that send a repeated START: the Raspberry Pi after its kernel's switch, Blinka's
FT232H and MCP2221); a v3HP answers it (Garmin's v3HP library uses one). Writes to read-only or
undefined registers are ACKed and ignored. v3HP has no VELOCITY, PEAK_CORR, NOISE_PEAK,
OUTER_LOOP_COUNT, LAST_DELAY, MEASURE_DELAY, HW/SW version: they read as undefined (0x00), so
HW/SW version (0x41/0x4f) read 0 on v3HP and > 0 on v3 (how PX4 tells them apart). v3 has no
HEALTH_STATUS (0x48). I2C address change: write UNIT_ID to I2C_ID (0x18/0x19), then the new
address to I2C_SEC_ADDR (0x1a; v3HP: shifted left by 1). v3 answers on it at once, v3HP once
I2C_CONFIG b4 is set; I2C_CONFIG b3 stops answering on the default address.

Faults (``inject(name, start_s, end_s=None, **params)``; window ``[start_s, end_s)``,
``end_s=None`` = for ever; unknown names or params raise ``ValueError`` naming them)
----------------------------------------------------------------------------------------------
``nack_burst(probability=1.0, kind="data")``
    each transaction in the window fails with that probability (fault RNG, a child of ``rng``):
    ``kind="data"`` -> data NACK (EIO), ``"address"`` -> address NACK (ENODEV). Nothing reaches
    the sensor.
``bus_lockup(until_reset=True)``
    the sensor holds SDA: every transaction on the whole bus times out (status 3). After the
    window ends the bus stays locked until the master sends the sensor's reset command (a write
    of 0x00 to ACQ_COMMAND, as ``[0x00, 0x00]`` or WRITE_MEM reg 0): that one write gets
    through (think bus recovery clocks + reset), the sensor reboots (22 ms of address NACKs,
    defaults restored) and the bus is free. During the window even the reset times out. A
    driver recovers by resetting after N consecutive errors. ``until_reset=False``: the bus
    frees itself at ``end_s``.
``stuck_zero``
    results read 0 cm, and keep reading 0 after the window until a reset (PX4 resets after 20
    zeros). A reset inside the window does not help.
``busy_stuck``
    STATUS b0 reads 1 and no measurement completes, until a reset after the window.
``read_ff``
    every read returns 0xFF bytes (sensor absent, bus pulled up); writes are ACKed and lost.
``stale``
    measurements complete but FULL_DELAY, LAST_DELAY, VELOCITY and SIGNAL_STRENGTH stop
    updating: the same value repeats.
``secondary_return(probability=0.5, distance_m=None)``
    STATUS b4 (v3) on every measurement; with ``probability`` the reported distance is the
    secondary return's: ``distance_m``, or a random 20-80 % of the true range.
``signal_loss``
    no return (dark surface / out of range): 1 cm, plus STATUS b3 on v3.
``power_cycle``
    the supply drops at ``start_s`` and comes back at ``end_s`` (or at once): address NACKs
    until power-up + 22 ms, every register (and the I2C address) back to its default.
``post_reset_drift(cm=5.0, measurements=200.0)``
    while active, results carry ``cm * exp(-n / measurements)`` of bias, n = measurements since
    the last reset or power-up (construction counts as power-up).
``latency(ms=10.0)``
    each measurement started in the window stays busy ``ms`` longer and its result, sampled at
    the nominal time, appears ``ms`` late.
``busy_nack(probability=1.0, kind="address")``
    while a measurement runs (STATUS b0 set), each transaction fails with that probability:
    the older units' behaviour that PX4's ll40ls still tolerates ("NACKs are expected when we
    read before it is ready"). A v3 / v3HP without it answers while busy: STATUS shows b0 and
    FULL_DELAY holds the previous result (Garmin's manuals poll STATUS).

Latching faults (``stuck_zero``, ``busy_stuck``, ``bus_lockup`` with ``until_reset``) latch at
the window start and clear on a reset (command or power cycle) unless the window still covers
the end of the reboot. ``parse_fault(...)`` validates a fault without an emulator (for scenario
loaders); ``FAULT_PARAMS`` lists every fault with its parameters and defaults.
"""

from __future__ import annotations

import errno
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any

import numpy as np

from softland.devices import faults

DEFAULT_ADDRESS = 0x62

# registers
REG_ACQ_COMMAND = 0x00
REG_STATUS = 0x01
REG_SIG_COUNT_VAL = 0x02
REG_ACQ_CONFIG = 0x04
REG_VELOCITY = 0x09
REG_PEAK_CORR = 0x0C
REG_NOISE_PEAK = 0x0D
REG_SIGNAL_STRENGTH = 0x0E
REG_FULL_DELAY_HIGH = 0x0F
REG_FULL_DELAY_LOW = 0x10
REG_OUTER_LOOP_COUNT = 0x11
REG_REF_COUNT_VAL = 0x12
REG_LAST_DELAY_HIGH = 0x14
REG_LAST_DELAY_LOW = 0x15
REG_UNIT_ID_HIGH = 0x16
REG_UNIT_ID_LOW = 0x17
REG_I2C_ID_HIGH = 0x18
REG_I2C_ID_LOW = 0x19
REG_I2C_SEC_ADDR = 0x1A
REG_THRESHOLD_BYPASS = 0x1C
REG_I2C_CONFIG = 0x1E
REG_COMMAND = 0x40
REG_HW_VERSION = 0x41
REG_MEASURE_DELAY = 0x45
REG_HEALTH_STATUS = 0x48
REG_SW_VERSION = 0x4F
REG_CORR_DATA = 0x52
REG_CORR_DATA_SIGN = 0x53
REG_POWER_CONTROL = 0x65

AUTO_INCREMENT = 0x80

# ACQ_COMMAND values (v3)
CMD_RESET = 0x00
CMD_MEASURE_NO_BIAS = 0x03
CMD_MEASURE_BIAS = 0x04

# STATUS bits
V3_BUSY = 0x01
V3_REF_OVERFLOW = 0x02
V3_SIGNAL_OVERFLOW = 0x04
V3_NO_PEAK = 0x08
V3_SECONDARY_RETURN = 0x10
V3_HEALTH_OK = 0x20
V3_PROCESS_ERROR = 0x40
V3HP_BUSY = 0x01
V3HP_SIGNAL_OVERFLOW = 0x02

# ACQ_CONFIG bits
ACQ_CONFIG_REF_COUNT = 0x04  # b2: use REF_COUNT_VAL
ACQ_CONFIG_NO_QUICK_TERM = 0x08  # b3: 1 = quick termination disabled
ACQ_CONFIG_MEASURE_DELAY = 0x20  # b5: use MEASURE_DELAY for burst / free-running

V3_HW_VERSION = 0x15  # any value > 0 (PX4 only checks > 0)
V3_SW_VERSION = 0x2A
V3HP_HEALTH = 0x1F  # HEALTH_STATUS reads "all OK"; its bits are not modelled

BOOT_US = 22_000
MAX_RANGE_M = 40.0
NOMINAL_REFLECTANCE = 0.7
NO_RETURN_CM = 1
MIN_VALID_CM = 2
SIGNAL_OVERFLOW_AMPLITUDE = 100.0
DEFAULT_FREE_RUN_DELAY_COUNTS = 0x14  # ACQ_CONFIG b5 clear: default delay, 10 ms
FREE_RUN_FAST_FORWARD = 1000  # free-run measurements skipped beyond this many periods
_INFINITE = -1

VARIANTS = ("v3", "v3-pre2018", "v3hp")


class Op(IntEnum):
    """Transaction kinds of ``EmulatedI2C.transact`` (and the link's I2C request frames)."""

    WRITE = 1
    READ = 2
    WRITE_MEM = 3
    READ_MEM = 4


class Status(IntEnum):
    """Outcome of a transaction."""

    OK = 0
    NACK_ADDR = 1
    NACK_DATA = 2
    TIMEOUT = 3


_STATUS_ERRNO = MappingProxyType(
    {Status.NACK_ADDR: errno.ENODEV, Status.NACK_DATA: errno.EIO, Status.TIMEOUT: errno.ETIMEDOUT}
)


def _oserror(status: Status) -> OSError:
    code = _STATUS_ERRNO[status]
    return OSError(code, os.strerror(code))


@dataclass
class VirtualClock:
    """Microsecond clock shared by the caller, the sensors and the bus."""

    now_us: int = 0

    def advance_us(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"the clock cannot go back (advance_us({n}))")
        self.now_us += int(n)

    def advance_to_us(self, t_us: int) -> None:
        """Move to ``t_us`` unless transactions already took the clock past it."""
        if t_us > self.now_us:
            self.now_us = int(t_us)

    @property
    def now_s(self) -> float:
        return self.now_us / 1e6


# ---------------------------------------------------------------------------------------------
# variants


@dataclass(frozen=True)
class VariantSpec:
    name: str
    hp: bool
    undefined_reads_last: bool
    defaults: Mapping[int, int]  # read/write configuration registers and power-on values
    computed: frozenset[int]  # read-only registers the sensor fills in
    overhead_us: int
    per_count_us: int

    def noise_sigma_cm(self, d_m: float) -> float:
        if self.hp:
            spec = 5.0 if d_m < 2.0 else 2.5
        else:
            spec = 2.5 if d_m < 5.0 else 10.0
        return spec / 2.0


_V3_DEFAULTS = MappingProxyType(
    {
        REG_SIG_COUNT_VAL: 0x80,
        REG_ACQ_CONFIG: 0x08,
        REG_OUTER_LOOP_COUNT: 0x01,
        REG_REF_COUNT_VAL: 0x05,
        REG_I2C_ID_HIGH: 0x00,
        REG_I2C_ID_LOW: 0x00,
        REG_I2C_SEC_ADDR: 0x00,
        REG_THRESHOLD_BYPASS: 0x00,
        REG_I2C_CONFIG: 0x00,
        REG_COMMAND: 0x00,
        REG_MEASURE_DELAY: 0x14,
        REG_POWER_CONTROL: 0x80,
    }
)
_V3_COMPUTED = frozenset(
    {
        REG_STATUS,
        REG_VELOCITY,
        REG_PEAK_CORR,
        REG_NOISE_PEAK,
        REG_SIGNAL_STRENGTH,
        REG_FULL_DELAY_HIGH,
        REG_FULL_DELAY_LOW,
        REG_LAST_DELAY_HIGH,
        REG_LAST_DELAY_LOW,
        REG_UNIT_ID_HIGH,
        REG_UNIT_ID_LOW,
        REG_HW_VERSION,
        REG_SW_VERSION,
        REG_CORR_DATA,
        REG_CORR_DATA_SIGN,
    }
)
_V3HP_DEFAULTS = MappingProxyType(
    {
        REG_SIG_COUNT_VAL: 0xFF,
        REG_ACQ_CONFIG: 0x08,
        REG_REF_COUNT_VAL: 0x03,
        REG_I2C_ID_HIGH: 0x00,
        REG_I2C_ID_LOW: 0x00,
        REG_I2C_SEC_ADDR: 0x00,
        REG_THRESHOLD_BYPASS: 0x00,
        REG_I2C_CONFIG: 0x00,
        REG_COMMAND: 0x00,
        REG_POWER_CONTROL: 0x00,
    }
)
_V3HP_COMPUTED = frozenset(
    {
        REG_STATUS,
        REG_SIGNAL_STRENGTH,
        REG_FULL_DELAY_HIGH,
        REG_FULL_DELAY_LOW,
        REG_UNIT_ID_HIGH,
        REG_UNIT_ID_LOW,
        REG_HEALTH_STATUS,
        REG_CORR_DATA,
        REG_CORR_DATA_SIGN,
    }
)

VARIANT_SPECS: Mapping[str, VariantSpec] = MappingProxyType(
    {
        "v3": VariantSpec("v3", False, False, _V3_DEFAULTS, _V3_COMPUTED, 1000, 21),
        "v3-pre2018": VariantSpec("v3-pre2018", False, True, _V3_DEFAULTS, _V3_COMPUTED, 1000, 21),
        "v3hp": VariantSpec("v3hp", True, False, _V3HP_DEFAULTS, _V3HP_COMPUTED, 640, 12),
    }
)


# ---------------------------------------------------------------------------------------------
# faults


# fault name -> {param: (validator, default)}
_FAULT_TABLE: faults.FaultTable = MappingProxyType(
    {
        "nack_burst": MappingProxyType(
            {"probability": (faults.probability, 1.0), "kind": (faults.nack_kind, "data")}
        ),
        "bus_lockup": MappingProxyType({"until_reset": (faults.boolean, True)}),
        "stuck_zero": MappingProxyType({}),
        "busy_stuck": MappingProxyType({}),
        "read_ff": MappingProxyType({}),
        "stale": MappingProxyType({}),
        "secondary_return": MappingProxyType(
            {
                "probability": (faults.probability, 0.5),
                "distance_m": (faults.optional_non_negative, None),
            }
        ),
        "signal_loss": MappingProxyType({}),
        "power_cycle": MappingProxyType({}),
        "post_reset_drift": MappingProxyType(
            {"cm": (faults.number, 5.0), "measurements": (faults.positive, 200.0)}
        ),
        "latency": MappingProxyType({"ms": (faults.non_negative, 10.0)}),
        "busy_nack": MappingProxyType(
            {"probability": (faults.probability, 1.0), "kind": (faults.nack_kind, "address")}
        ),
    }
)

FAULT_NAMES: tuple[str, ...] = tuple(_FAULT_TABLE)
# fault name -> {param: default}
FAULT_PARAMS = faults.defaults(_FAULT_TABLE)
_LATCHING = frozenset({"stuck_zero", "busy_stuck", "bus_lockup"})


@dataclass(frozen=True)
class FaultSpec(faults.FaultSpec):
    """A LIDAR-Lite fault; `latches`: it lasts until the sensor is reset."""

    @property
    def latches(self) -> bool:
        if self.name == "bus_lockup":
            return bool(self.params["until_reset"])
        return self.name in _LATCHING


def parse_fault(name: str, start_s: float, end_s: float | None = None, **params: Any) -> FaultSpec:
    """Validate a fault (name, window, params) and fill in the defaults."""
    return faults.parse(_FAULT_TABLE, FaultSpec, name, start_s, end_s, params)


@dataclass
class _Scheduled:
    spec: FaultSpec
    started: bool = False


# ---------------------------------------------------------------------------------------------
# the sensor

TargetFn = Callable[[float], "tuple[float, float] | float"]


class LidarLiteEmulator:
    """One LIDAR-Lite v3 / v3HP. Attach it to an ``EmulatedI2C`` to talk to it."""

    def __init__(
        self,
        clock: VirtualClock,
        rng: np.random.Generator,
        *,
        variant: str = "v3",
        target: TargetFn | None = None,
        address: int = DEFAULT_ADDRESS,
        unit_id: int | None = None,
        noise_sigma_cm: float | None = None,
    ) -> None:
        if variant not in VARIANT_SPECS:
            raise ValueError(f"unknown LIDAR-Lite variant {variant!r}; use one of {VARIANTS}")
        if not 0x08 <= address <= 0x77:
            raise ValueError(f"I2C address 0x{address:02x} is outside 0x08..0x77")
        self.clock = clock
        self.variant = variant
        self.spec = VARIANT_SPECS[variant]
        self.default_address = address
        self._rng = rng
        self._fault_rng = np.random.default_rng(int(rng.integers(0, 2**62)))
        drawn_id = int(rng.integers(0x0101, 0xFFFF))  # drawn either way: same noise stream
        if unit_id is None:
            unit_id = drawn_id
        if not 0 <= unit_id <= 0xFFFF:
            raise ValueError(f"unit_id 0x{unit_id:x} does not fit 16 bits")
        self.unit_id = unit_id
        if noise_sigma_cm is not None and not noise_sigma_cm >= 0.0:
            raise ValueError(f"noise_sigma_cm must be >= 0, got {noise_sigma_cm}")
        self.noise_sigma_cm = noise_sigma_cm
        self._fixed_target: tuple[float, float] = (2.0, NOMINAL_REFLECTANCE)
        self._target: TargetFn = target if target is not None else self._fixed
        self._lock = threading.RLock()
        self._faults: list[_Scheduled] = []
        self._latched: set[str] = set()
        # counters (read freely)
        self.measurements = 0  # completed measurements
        self.bias_measurements = 0  # v3 bias-corrected commands (0x04)
        self.resets = 0  # reset commands and power cycles
        self._restore_defaults(boot_until_us=clock.now_us)

    # -- target --------------------------------------------------------------------------------

    def _fixed(self, _now_s: float) -> tuple[float, float]:
        return self._fixed_target

    def set_target(self, distance_m: float, reflectance: float = NOMINAL_REFLECTANCE) -> None:
        """A fixed target from now on (replaces any target callable)."""
        with self._lock:
            self._fixed_target = (float(distance_m), float(reflectance))
            self._target = self._fixed

    def _target_at(self, t_us: int) -> tuple[float, float]:
        value = self._target(t_us / 1e6)
        if isinstance(value, tuple):
            d, refl = float(value[0]), float(value[1])
        else:
            d, refl = float(value), NOMINAL_REFLECTANCE
        if math.isnan(d):
            d = math.inf
        return max(d, 0.0), min(max(refl, 0.0), 1.0)

    # -- faults --------------------------------------------------------------------------------

    def inject(
        self, name: str, start_s: float, end_s: float | None = None, **params: Any
    ) -> FaultSpec:
        """Schedule a fault on the virtual clock (see the module docstring for the list)."""
        spec = parse_fault(name, start_s, end_s, **params)
        with self._lock:
            self._faults.append(_Scheduled(spec))
        return spec

    def clear_faults(self) -> None:
        """Drop every scheduled fault and every latched one."""
        with self._lock:
            self._faults.clear()
            self._latched.clear()

    @property
    def faults(self) -> tuple[FaultSpec, ...]:
        return tuple(s.spec for s in self._faults)

    def _window(self, name: str, t_us: int) -> FaultSpec | None:
        for s in self._faults:
            if s.spec.name == name and s.spec.active_at(t_us):
                return s.spec
        return None

    def _on(self, name: str, t_us: int) -> FaultSpec | None:
        """The fault's spec if it affects the sensor at ``t_us`` (window or latch)."""
        spec = self._window(name, t_us)
        if spec is not None:
            if spec.latches:
                self._latched.add(name)
            return spec
        if name in self._latched:
            for s in reversed(self._faults):
                if s.spec.name == name and s.started:
                    return s.spec
        return None

    # -- state ---------------------------------------------------------------------------------

    def _restore_defaults(self, boot_until_us: int) -> None:
        self._regs: dict[int, int] = dict(self.spec.defaults)
        self._ptr = 0
        self._sec_addr: int | None = None
        self._busy_until: int | None = None
        self._sample_at = 0
        self._meas_start = 0
        self._meas_bias = False
        self._burst = 0
        self._next_start: int | None = None
        self._cycle_us = 0
        self._full = 0
        self._last = 0
        self._velocity = 0
        self._signal = 0
        self._peak = 0
        self._noise_peak = 0
        self._flags = 0 if self.spec.hp else V3_HEALTH_OK
        self._last_read = 0
        self._boot_until = boot_until_us
        self._since_reset = 0
        for name in list(self._latched):
            if self._window(name, boot_until_us) is None:
                self._latched.discard(name)

    def _reset(self, t_us: int, power_back_us: int | None = None) -> None:
        self.resets += 1
        back = t_us if power_back_us is None else max(t_us, power_back_us)
        self._restore_defaults(boot_until_us=back + BOOT_US)

    @property
    def addresses(self) -> tuple[int, ...]:
        """The addresses the sensor answers on (ignores boot / faults)."""
        out = []
        cfg = self._regs[REG_I2C_CONFIG]
        sec_on = self._sec_addr is not None and (not self.spec.hp or cfg & 0x10)
        if not (sec_on and cfg & 0x08):
            out.append(self.default_address)
        if sec_on and self._sec_addr is not None and self._sec_addr not in out:
            out.append(self._sec_addr)
        return tuple(out)

    def register(self, reg: int) -> int:
        """A register's current value without a bus transaction (for tests and tools);
        undefined registers give 0."""
        with self._lock:
            self._sync(self.clock.now_us)
            v = self._reg_value(reg & 0x7F, self.clock.now_us)
            return 0 if v is None else v

    # -- the bus side (called by EmulatedI2C with the device lock held) ------------------------

    def sync(self, now_us: int) -> None:
        with self._lock:
            self._sync(now_us)

    def answers(self, addr: int, t_us: int) -> bool:
        with self._lock:
            return t_us >= self._boot_until and addr in self.addresses

    def forced_nack(self, t_us: int) -> Status | None:
        with self._lock:
            spec = self._window("nack_burst", t_us)
            if spec is None and self._busy_until is not None:
                spec = self._window("busy_nack", t_us)  # only while a measurement runs
            if spec is None:
                return None
            p = spec.params["probability"]
            if p < 1.0 and self._fault_rng.random() >= p:
                return None
            return Status.NACK_ADDR if spec.params["kind"] == "address" else Status.NACK_DATA

    def lockup(self, t_us: int) -> int:
        """0: bus free; 1: locked (fault window); 2: locked until this sensor's reset."""
        with self._lock:
            spec = self._window("bus_lockup", t_us)
            if spec is not None:
                if spec.latches:
                    self._latched.add("bus_lockup")
                return 1
            return 2 if "bus_lockup" in self._latched else 0

    def recover_with_reset(self, t_us: int) -> None:
        """The reset command got through a latched lock-up: reboot and free the bus."""
        with self._lock:
            self._latched.discard("bus_lockup")
            self._reset(t_us)

    def write(self, data: bytes, t_us: int) -> None:
        with self._lock:
            if not data or self._on("read_ff", t_us) is not None:
                return
            self._ptr = data[0]
            for i, value in enumerate(data[1:]):
                if self._write_reg(self._reg_at(i), value, t_us):
                    return  # reset: the rest of the transaction is lost

    def read_after_repeated_start(self, n: int, t_us: int) -> bytes:
        """The read half of a write-then-read with a repeated START (the pointer is already
        written). The v3 does not answer it: it ACKs and every byte reads 0x00 (Garmin's
        manual asks for a STOP; the field sees zeros). The v3HP answers (Garmin's own v3HP
        library reads with a repeated START)."""
        with self._lock:
            if not self.spec.hp and self._on("read_ff", t_us) is None:
                return bytes(n)
        return self.read(n, t_us)

    def read(self, n: int, t_us: int) -> bytes:
        with self._lock:
            if self._on("read_ff", t_us) is not None:
                return b"\xff" * n
            out = bytearray(n)
            for i in range(n):
                v = self._reg_value(self._reg_at(i), t_us)
                if v is None:
                    v = self._last_read if self.spec.undefined_reads_last else 0
                else:
                    self._last_read = v
                out[i] = v
            return bytes(out)

    # -- registers -----------------------------------------------------------------------------

    def _reg_at(self, i: int) -> int:
        base = self._ptr & 0x7F
        if self.spec.hp or self._ptr & AUTO_INCREMENT:
            return (base + i) & 0x7F
        return base

    def _reg_value(self, reg: int, t_us: int) -> int | None:
        if reg in self._regs:
            return self._regs[reg]
        if reg not in self.spec.computed:
            return None
        if reg == REG_STATUS:
            busy = self._busy_until is not None or self._on("busy_stuck", t_us) is not None
            return self._flags | (V3_BUSY if busy else 0)
        if reg == REG_FULL_DELAY_HIGH:
            return self._full >> 8
        if reg == REG_FULL_DELAY_LOW:
            return self._full & 0xFF
        if reg == REG_LAST_DELAY_HIGH:
            return self._last >> 8
        if reg == REG_LAST_DELAY_LOW:
            return self._last & 0xFF
        if reg == REG_VELOCITY:
            return self._velocity & 0xFF
        if reg == REG_SIGNAL_STRENGTH:
            return self._signal
        if reg == REG_PEAK_CORR:
            return self._peak
        if reg == REG_NOISE_PEAK:
            return self._noise_peak
        if reg == REG_UNIT_ID_HIGH:
            return self.unit_id >> 8
        if reg == REG_UNIT_ID_LOW:
            return self.unit_id & 0xFF
        if reg == REG_HW_VERSION:
            return V3_HW_VERSION
        if reg == REG_SW_VERSION:
            return V3_SW_VERSION
        if reg == REG_HEALTH_STATUS:
            return V3HP_HEALTH
        return 0  # CORR_DATA: the correlation record is not modelled

    def _write_reg(self, reg: int, value: int, t_us: int) -> bool:
        """Write one register; True if it reset the sensor."""
        if reg == REG_ACQ_COMMAND:
            if value == CMD_RESET:
                self._reset(t_us)
                return True
            if self.spec.hp:
                self._command(t_us, bias=False)
            elif value in (CMD_MEASURE_NO_BIAS, CMD_MEASURE_BIAS):
                bias = value == CMD_MEASURE_BIAS
                if bias:
                    self.bias_measurements += 1
                self._command(t_us, bias=bias)
            return False  # other v3 commands (reprocess, ...) are not modelled
        if reg not in self._regs:
            return False  # read-only or undefined: ACKed, ignored
        self._regs[reg] = value
        if reg == REG_I2C_SEC_ADDR:
            serial = (self._regs[REG_I2C_ID_HIGH] << 8) | self._regs[REG_I2C_ID_LOW]
            if serial == self.unit_id:
                addr = value >> 1 if self.spec.hp else value & 0x7F
                self._sec_addr = addr if 0x08 <= addr <= 0x77 else None
        return False

    # -- acquisition ---------------------------------------------------------------------------

    def _command(self, t_us: int, bias: bool) -> None:
        burst = 1
        if not self.spec.hp:
            olc = self._regs[REG_OUTER_LOOP_COUNT]
            burst = _INFINITE if olc == 0xFF else max(olc, 1)
        self._start(t_us, bias, burst)

    def _amplitude(self, d_m: float, refl: float) -> float:
        gain = self._regs[REG_SIG_COUNT_VAL] / self.spec.defaults[REG_SIG_COUNT_VAL]
        d = max(d_m, 0.05)
        ratio = (refl / NOMINAL_REFLECTANCE) * (MAX_RANGE_M / d) ** 2 * gain
        return math.sqrt(ratio)

    def _acquisition_us(self, amplitude: float, bias: bool) -> int:
        cfg = self._regs[REG_ACQ_CONFIG]
        counts = float(max(self._regs[REG_SIG_COUNT_VAL], 1))
        if not cfg & ACQ_CONFIG_NO_QUICK_TERM:
            q = 1.0 if amplitude <= 0 else min(max(1.5 / amplitude, 0.1), 1.0)
            counts = max(1.0, round(counts * q))
        us = self.spec.overhead_us + self.spec.per_count_us * counts
        if bias and not self.spec.hp:
            ref = self._regs[REG_REF_COUNT_VAL] if cfg & ACQ_CONFIG_REF_COUNT else 5
            us += 1000 + 200 * ref
        return int(us)

    def _start(self, t_us: int, bias: bool, burst: int) -> None:
        d, refl = self._target_at(t_us)
        nominal = self._acquisition_us(self._amplitude(d, refl), bias)
        latency = self._on("latency", t_us)
        extra = 0 if latency is None else round(latency.params["ms"] * 1000)
        self._meas_start = t_us
        self._meas_bias = bias
        self._burst = burst
        self._sample_at = t_us + nominal
        self._busy_until = t_us + nominal + extra
        self._next_start = None

    def _period_us(self) -> int:
        if self._regs[REG_ACQ_CONFIG] & ACQ_CONFIG_MEASURE_DELAY:
            return self._regs[REG_MEASURE_DELAY] * 500
        return DEFAULT_FREE_RUN_DELAY_COUNTS * 500

    def _complete(self, t_us: int) -> None:
        self._busy_until = None
        if self._on("busy_stuck", t_us) is not None:
            self._burst = 0  # the result never arrives
            return
        noise = float(self._rng.standard_normal())
        u_pick = float(self._rng.random())
        u_frac = float(self._rng.random())
        ts = self._sample_at
        d, refl = self._target_at(ts)
        a = self._amplitude(d, refl)
        detected = d <= MAX_RANGE_M and a >= 1.0 and self._on("signal_loss", ts) is None
        flags = 0 if self.spec.hp else V3_HEALTH_OK
        cm = NO_RETURN_CM
        if detected:
            secondary = self._on("secondary_return", ts)
            true_d = d
            if secondary is not None:
                if not self.spec.hp:
                    flags |= V3_SECONDARY_RETURN
                if u_pick < secondary.params["probability"]:
                    wrong = secondary.params["distance_m"]
                    true_d = d * (0.2 + 0.6 * u_frac) if wrong is None else wrong
            drift_cm = 0.0
            drift = self._on("post_reset_drift", ts)
            if drift is not None:
                drift_cm = drift.params["cm"] * math.exp(
                    -self._since_reset / drift.params["measurements"]
                )
            nonlinear_cm = 5.0 * (1.0 - true_d) ** 2 if true_d < 1.0 else 0.0
            sigma = self.noise_sigma_cm
            if sigma is None:
                sigma = self.spec.noise_sigma_cm(true_d)
            value = true_d * 100.0 + nonlinear_cm + drift_cm + sigma * noise
            cm = min(max(round(value), MIN_VALID_CM), 0xFFFF)
            if a > SIGNAL_OVERFLOW_AMPLITUDE:
                flags |= V3HP_SIGNAL_OVERFLOW if self.spec.hp else V3_SIGNAL_OVERFLOW
        elif not self.spec.hp:
            flags |= V3_NO_PEAK
        if self._on("stuck_zero", ts) is not None:
            cm = 0
        self.measurements += 1
        self._since_reset += 1
        self._flags = flags
        if self._on("stale", ts) is None:
            self._last = self._full
            self._full = cm
            self._velocity = max(-128, min(127, cm - self._last))
            self._signal = round(255.0 * a / (a + 6.0))
            self._peak = self._signal
            self._noise_peak = 0x14
        # burst / free-running
        self._cycle_us = max(t_us - self._meas_start, 1)
        more = (
            self._burst == _INFINITE and self._regs.get(REG_OUTER_LOOP_COUNT) == 0xFF
        ) or self._burst > 1
        if more:
            if self._burst != _INFINITE:
                self._burst -= 1
            self._next_start = max(t_us, self._meas_start + self._period_us())
        else:
            self._burst = 0

    # -- events --------------------------------------------------------------------------------

    def _sync(self, now_us: int) -> None:
        """Run every event (fault starts, completions, free-run starts) up to ``now_us``."""
        while True:
            t_next: int | None = None
            kind = ""
            pending: _Scheduled | None = None
            for s in self._faults:
                if not s.started and (t_next is None or s.spec.start_us < t_next):
                    t_next, kind, pending = s.spec.start_us, "fault", s
            if self._busy_until is not None and (t_next is None or self._busy_until < t_next):
                t_next, kind = self._busy_until, "complete"
            if self._next_start is not None and (t_next is None or self._next_start < t_next):
                t_next, kind = self._next_start, "start"
            if t_next is None or t_next > now_us:
                break
            if kind == "fault" and pending is not None:
                pending.started = True
                if pending.spec.latches:
                    self._latched.add(pending.spec.name)
                if pending.spec.name == "power_cycle":
                    self._reset(t_next, power_back_us=pending.spec.end_us)
            elif kind == "complete":
                self._complete(t_next)
            else:
                self._free_run_start(t_next, now_us)

    def _free_run_start(self, t_us: int, now_us: int) -> None:
        self._next_start = None
        cycle = max(self._period_us(), self._cycle_us, 1)
        if self._burst == _INFINITE and now_us - t_us > FREE_RUN_FAST_FORWARD * cycle:
            skip = (now_us - t_us) // cycle - 2
            t_us += skip * cycle
            self.measurements += skip
            self._since_reset += skip
        self._start(t_us, self._meas_bias, self._burst)


# ---------------------------------------------------------------------------------------------
# the bus


@dataclass
class BusStats:
    total: int = 0
    by_op: dict[Op, int] = field(default_factory=lambda: dict.fromkeys(Op, 0))
    address_nacks: int = 0
    data_nacks: int = 0
    timeouts: int = 0

    def mark(self) -> int:
        return self.total

    def transactions_since(self, mark: int) -> int:
        return self.total - mark


_ADDRESS_NACK_BITS = 11  # START + address byte + STOP
_DATA_NACK_BITS = 20  # START + address + one byte + STOP


class EmulatedI2C:
    """An I2C bus with emulated sensors on it: ``busio.I2C`` API plus ``transact``."""

    def __init__(
        self,
        clock: VirtualClock,
        devices: Iterable[LidarLiteEmulator] = (),
        *,
        frequency: int = 100_000,
        timeout_us: int = 50_000,
    ) -> None:
        if frequency <= 0:
            raise ValueError(f"frequency must be > 0, got {frequency}")
        self.clock = clock
        self._frequency = int(frequency)
        self.timeout_us = int(timeout_us)
        self.devices: list[LidarLiteEmulator] = []
        self.stats = BusStats()
        self._mutex = threading.RLock()
        self._locked = False
        self._deinited = False
        for dev in devices:
            self.attach(dev)

    def attach(self, device: LidarLiteEmulator) -> None:
        if device.clock is not self.clock:
            raise ValueError("the device and the bus must share one VirtualClock")
        self.devices.append(device)

    @property
    def frequency(self) -> int:
        return self._frequency

    # -- bus time ------------------------------------------------------------------------------

    def _bits_us(self, bits: int) -> int:
        return (bits * 1_000_000 + self._frequency - 1) // self._frequency

    @staticmethod
    def _bits(op: Op, n_out: int, n_in: int) -> int:
        if op is Op.READ:
            return 2 + 9 * (1 + n_in)
        bits = 2 + 9 * (1 + n_out)
        if op is Op.READ_MEM:
            bits += 1 + 9 * (1 + n_in)
        return bits

    # -- the transaction -----------------------------------------------------------------------

    def _find(self, addr: int, t_us: int) -> LidarLiteEmulator | None:
        for dev in self.devices:
            if dev.answers(addr, t_us):
                return dev
        return None

    def _transaction(self, op: Op, addr: int, out: bytes, n_in: int) -> tuple[Status, bytes]:
        with self._mutex:
            clock = self.clock
            t0 = clock.now_us
            for dev in self.devices:
                dev.sync(t0)
            stats = self.stats
            stats.total += 1
            stats.by_op[op] += 1
            locks = [(dev, dev.lockup(t0)) for dev in self.devices]
            if any(state for _, state in locks):
                dev = self._find(addr, t0)
                hard = any(state == 1 for _, state in locks)
                is_reset = (
                    op in (Op.WRITE, Op.WRITE_MEM)
                    and len(out) >= 2
                    and out[0] & 0x7F == REG_ACQ_COMMAND
                    and out[1] == CMD_RESET
                )
                if hard or dev is None or not is_reset or dict(locks)[dev] != 2:
                    stats.timeouts += 1
                    clock.advance_us(self.timeout_us)
                    return Status.TIMEOUT, b""
                clock.advance_us(self._bits_us(self._bits(op, len(out), 0)))
                dev.recover_with_reset(clock.now_us)
                return Status.OK, b""
            dev = self._find(addr, t0)
            if dev is None:
                stats.address_nacks += 1
                clock.advance_us(self._bits_us(_ADDRESS_NACK_BITS))
                return Status.NACK_ADDR, b""
            forced = dev.forced_nack(t0)
            if forced is Status.NACK_ADDR:
                stats.address_nacks += 1
                clock.advance_us(self._bits_us(_ADDRESS_NACK_BITS))
                return forced, b""
            if forced is Status.NACK_DATA:
                stats.data_nacks += 1
                clock.advance_us(self._bits_us(_DATA_NACK_BITS))
                return forced, b""
            clock.advance_us(self._bits_us(self._bits(op, len(out), n_in)))
            t1 = clock.now_us
            for d in self.devices:
                d.sync(t1)
            if op in (Op.WRITE, Op.WRITE_MEM):
                dev.write(out, t1)
                return Status.OK, b""
            if op is Op.READ_MEM:
                if out:
                    dev.write(out, t1)
                # a LIDAR-Lite v3 answers a repeated START with zeros; other devices on the
                # bus (the LSM6DSOX) read as usual
                read = getattr(dev, "read_after_repeated_start", dev.read)
                return Status.OK, read(n_in, t1)
            return Status.OK, dev.read(n_in, t1)

    def transact(
        self, op: int, addr: int, reg: int, write: bytes, read_len: int
    ) -> tuple[int, bytes]:
        """One link I2C request: see the module docstring for ops and status codes."""
        try:
            kind = Op(op)
        except ValueError:
            raise ValueError(f"unknown I2C op {op!r}; expected 1..4 (Op)") from None
        write = bytes(write or b"")
        if kind is Op.WRITE:
            status, data = self._transaction(kind, addr, write, 0)
        elif kind is Op.READ:
            status, data = self._transaction(kind, addr, b"", read_len)
        elif kind is Op.WRITE_MEM:
            status, data = self._transaction(kind, addr, bytes([reg & 0xFF]) + write, 0)
        else:
            status, data = self._transaction(kind, addr, bytes([reg & 0xFF]), read_len)
        return int(status), data

    def _probe(self, addr: int) -> bool:
        return self._transaction(Op.WRITE, addr, b"", 0)[0] is Status.OK

    # -- busio.I2C -----------------------------------------------------------------------------

    def _check(self) -> None:
        if self._deinited:
            raise ValueError(
                "Object has been deinitialized and can no longer be used. Create a new object."
            )
        if not self._locked:
            raise RuntimeError("Function requires lock")

    def try_lock(self) -> bool:
        if self._deinited:
            raise ValueError(
                "Object has been deinitialized and can no longer be used. Create a new object."
            )
        with self._mutex:
            if self._locked:
                return False
            self._locked = True
            return True

    def unlock(self) -> None:
        with self._mutex:
            self._locked = False

    def deinit(self) -> None:
        self._deinited = True
        self._locked = False

    def __enter__(self) -> EmulatedI2C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.deinit()

    def scan(self) -> list[int]:
        self._check()
        return [a for a in range(0x08, 0x78) if self._probe(a)]

    def probe(self, address: int) -> bool:
        """CircuitPython's ``I2C.probe``: a zero-length write; True if the address ACKs."""
        self._check()
        return self._probe(address)

    def writeto(
        self, address: int, buffer: Any, *, start: int = 0, end: int | None = None
    ) -> None:
        self._check()
        status, _ = self._transaction(Op.WRITE, address, bytes(memoryview(buffer)[start:end]), 0)
        if status is not Status.OK:
            raise _oserror(status)

    def readfrom_into(
        self, address: int, buffer: Any, *, start: int = 0, end: int | None = None
    ) -> None:
        self._check()
        view = memoryview(buffer)[start:end]
        status, data = self._transaction(Op.READ, address, b"", len(view))
        if status is not Status.OK:
            raise _oserror(status)
        view[:] = data

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: Any,
        buffer_in: Any,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        self._check()
        out = bytes(memoryview(buffer_out)[out_start:out_end])  # copy: buffers may be shared
        view = memoryview(buffer_in)[in_start:in_end]
        status, data = self._transaction(Op.READ_MEM, address, out, len(view))
        if status is not Status.OK:
            raise _oserror(status)
        view[:] = data


class MachineI2C:
    """MicroPython ``machine.I2C`` semantics over an ``EmulatedI2C``."""

    def __init__(self, bus: EmulatedI2C) -> None:
        self.bus = bus

    @staticmethod
    def _check_addrsize(addrsize: int) -> None:
        if addrsize != 8:
            raise ValueError(f"only 8-bit register addresses exist on this bus, not {addrsize}")

    def scan(self) -> list[int]:
        return [a for a in range(0x08, 0x78) if self.bus._probe(a)]

    def writeto(self, addr: int, buf: Any, stop: bool = True) -> int:
        data = bytes(buf)
        status, _ = self.bus._transaction(Op.WRITE, addr, data, 0)
        if status is Status.NACK_DATA:
            return 0
        if status is not Status.OK:
            raise _oserror(status)
        return len(data)

    def readfrom_into(self, addr: int, buf: Any, stop: bool = True) -> None:
        view = memoryview(buf)
        status, data = self.bus._transaction(Op.READ, addr, b"", len(view))
        if status is not Status.OK:
            raise _oserror(status)
        view[:] = data

    def readfrom(self, addr: int, nbytes: int, stop: bool = True) -> bytes:
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)

    def writeto_mem(self, addr: int, memaddr: int, buf: Any, *, addrsize: int = 8) -> None:
        self._check_addrsize(addrsize)
        out = bytes([memaddr & 0xFF]) + bytes(buf)
        status, _ = self.bus._transaction(Op.WRITE_MEM, addr, out, 0)
        if status is not Status.OK:
            raise _oserror(status)

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: Any, *, addrsize: int = 8) -> None:
        self._check_addrsize(addrsize)
        view = memoryview(buf)
        status, data = self.bus._transaction(Op.READ_MEM, addr, bytes([memaddr & 0xFF]), len(view))
        if status is not Status.OK:
            raise _oserror(status)
        view[:] = data

    def readfrom_mem(self, addr: int, memaddr: int, nbytes: int, *, addrsize: int = 8) -> bytes:
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)
