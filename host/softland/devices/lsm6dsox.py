"""Register-level emulator of the ST LSM6DSOX accelerometer on I2C, on a virtual clock.

It sits on the LIDAR-Lite emulator's bus (``softland.devices.lidarlite.EmulatedI2C``: same
``VirtualClock``, same bus timing, same ``MachineI2C`` / ``busio`` / ``transact`` faces), at
0x6A (0x6B with SA0 high), beside a LIDAR-Lite at 0x62 if one is attached: the firmware's
driver ``fsw/lsm6dsox.py`` talks to it with ``readfrom_mem_into`` / ``writeto_mem``.

Physical input
--------------
``force(now_s) -> float``: the vertical specific force in m/s^2 (what an accelerometer whose
axis points up reads: +g0 at rest on the ground, 0 in free fall, g0 + a under thrust). The
part is mounted with body axis ``up_axis`` (0 x, 1 y, 2 z) along the vertical, sense
``up_sign``; the other two axes read 0. Each axis adds ``bias_mps2[axis]``, a turn-on bias
(normal, ``turn_on_bias_mg`` standard deviation, drawn at construction and again at every power
cycle from a child generator of ``rng``) and white noise of ``noise_ug_rthz`` (70 ug/sqrt(Hz),
the datasheet's high-performance figure) over a bandwidth of ODR/2, drawn from the seeded
``numpy.random.Generator``: every sample draws exactly six normals (three of noise, three for
the ``noise_burst`` fault) whatever the faults, so a fault never shifts the noise stream.
Samples are taken at the output data rate on the virtual clock.

Registers (what is modelled)
----------------------------
``WHO_AM_I`` 0x0F reads 0x6C. ``CTRL1_XL`` 0x10 (default 0x00: power-down): ODR_XL [7:4]
(0 power-down; 1..10 12.5, 26, 52, 104, 208, 416, 833, 1666, 3333, 6666 Hz; 11 is 1.6 Hz in
low-power mode, 12.5 Hz in the high-performance mode modelled here; 12..15 power-down), FS_XL
[3:2] (00 +/-2 g, 01 +/-16 g, 10 +/-4 g, 11 +/-8 g; sensitivity 0.061, 0.488, 0.122, 0.244
mg/LSB). Writing CTRL1_XL restarts the sample clock: the first sample 1/ODR later. ``CTRL3_C``
0x12 (default 0x04, IF_INC): SW_RESET (b0) restores every register's default (the bit reads 0
afterwards; the rest of the written value is lost), BDU (b6): an output pair whose one byte
has been read is not updated until its other byte has been, IF_INC (b2): multi-byte reads and
writes move the register address on (without it every byte is the same register).
``STATUS_REG`` 0x1E: XLDA (b0) set by each new sample, cleared when OUTX_H_A is read (this
model's reading of "new data available"). ``OUTX_L_A`` 0x28 .. ``OUTZ_H_A`` 0x2D: the sample,
16-bit two's complement, little endian, ``round(a / sensitivity)`` clipped to -32768..32767
(a sample beyond full scale reads 0x7FFF or 0x8000). CTRL2_G .. CTRL10_C (0x11..0x19) are
read/write storage; other registers read 0, writes to them are ACKed and ignored. Power-up and
power cycles: the part NACKs its address for ``BOOT_US`` (10 ms), then every register is at
its default. Not modelled: the gyroscope, temperature, FIFO, filters, settling samples after
an ODR change, self-test, embedded functions.

Faults (``inject(name, start_s, end_s=None, **params)``; window ``[start_s, end_s)``)
-----------------------------------------------------------------------------------------
``nack(probability=1.0, kind="address")``  each transaction fails: ``"address"`` NACK (the
    part absent, ENODEV) or ``"data"`` NACK (EIO). Nothing reaches the registers.
``stuck(mps2=None)``  samples keep coming (XLDA sets) but the output registers stop changing;
    with ``mps2`` a number, the vertical specific force reads that constant instead (noise,
    biases and the other axes as usual).
``bias_jump(mps2=2.0)``  the vertical reading carries ``mps2`` more.
``saturation(g=32.0)``  ``g`` more on the vertical: beyond any full scale, the up axis clips.
``clip(mps2=19.6)``  the vertical specific force is clipped at +/- ``mps2`` before the noise
    (a part whose range is below the force flown).
``dropout(probability=1.0)``  no new sample (each sample lost with ``probability``; a draw
    from the fault stream only when it is below 1): XLDA stays clear, the outputs keep their
    last values.
``noise_burst(sigma_mps2=5.0)``  that much more white noise on every axis.
``power_cycle``  the supply drops at ``start_s`` and returns at ``end_s`` (or at once):
    address NACKs until it returns + ``BOOT_US``, then every register at its default.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from softland.devices import faults
from softland.devices.lidarlite import Status, VirtualClock

DEFAULT_ADDRESS = 0x6A
ALT_ADDRESS = 0x6B  # SA0 high
WHO_AM_I_VALUE = 0x6C
BOOT_US = 10_000
G0 = 9.80665  # m/s^2 per g

REG_WHO_AM_I = 0x0F
REG_CTRL1_XL = 0x10
REG_CTRL2_G = 0x11
REG_CTRL3_C = 0x12
REG_CTRL10_C = 0x19
REG_STATUS = 0x1E
REG_OUTX_L_A = 0x28
REG_OUTX_H_A = 0x29
REG_OUTZ_H_A = 0x2D

CTRL3_BOOT = 0x80
CTRL3_BDU = 0x40
CTRL3_IF_INC = 0x04
CTRL3_SW_RESET = 0x01
STATUS_XLDA = 0x01

DEFAULTS: Mapping[int, int] = MappingProxyType({REG_CTRL3_C: CTRL3_IF_INC})
_WRITABLE = frozenset(range(REG_CTRL1_XL, REG_CTRL10_C + 1))

# CTRL1_XL ODR_XL code -> Hz (high-performance mode; 0 and 12..15 power-down)
ODR_HZ: Mapping[int, float] = MappingProxyType(
    {
        1: 12.5,
        2: 26.0,
        3: 52.0,
        4: 104.0,
        5: 208.0,
        6: 416.0,
        7: 833.0,
        8: 1666.0,
        9: 3333.0,
        10: 6666.0,
        11: 12.5,
    }
)
# CTRL1_XL FS_XL bits -> (full scale in g, sensitivity in mg/LSB)
FULL_SCALE: Mapping[int, tuple[int, float]] = MappingProxyType(
    {0: (2, 0.061), 1: (16, 0.488), 2: (4, 0.122), 3: (8, 0.244)}
)
NOISE_UG_RTHZ = 70.0
MAX_DRAWN_SAMPLES = 100_000  # more pending samples than this: the older ones are not drawn

ForceFn = Callable[[float], float]


def sensitivity_mps2(fs_bits: int) -> float:
    """m/s^2 per LSB for FS_XL bits."""
    return FULL_SCALE[fs_bits][1] * 1e-3 * G0


def to_raw(a_mps2: float, fs_bits: int) -> int:
    """What the part outputs for a specific force along an axis: rounded, clipped."""
    if math.isnan(a_mps2):
        return 0
    counts = a_mps2 / sensitivity_mps2(fs_bits)
    if counts >= 32767:
        return 32767
    if counts <= -32768:
        return -32768
    return int(round(counts))


# ---------------------------------------------------------------------------------------------
# faults


def _optional_number(fault: str, name: str, value: Any) -> float | None:
    return None if value is None else faults.number(fault, name, value)


_FAULT_TABLE: faults.FaultTable = MappingProxyType(
    {
        "nack": MappingProxyType(
            {"probability": (faults.probability, 1.0), "kind": (faults.nack_kind, "address")}
        ),
        "stuck": MappingProxyType({"mps2": (_optional_number, None)}),
        "bias_jump": MappingProxyType({"mps2": (faults.number, 2.0)}),
        "saturation": MappingProxyType({"g": (faults.number, 32.0)}),
        "clip": MappingProxyType({"mps2": (faults.positive, 19.6)}),
        "dropout": MappingProxyType({"probability": (faults.probability, 1.0)}),
        "noise_burst": MappingProxyType({"sigma_mps2": (faults.non_negative, 5.0)}),
        "power_cycle": MappingProxyType({}),
    }
)
FAULT_NAMES: tuple[str, ...] = tuple(_FAULT_TABLE)
FAULT_PARAMS = faults.defaults(_FAULT_TABLE)
FaultSpec = faults.FaultSpec


def parse_fault(name: str, start_s: float, end_s: float | None = None, **params: Any) -> FaultSpec:
    """Validate a fault (name, window, params) and fill in the defaults."""
    return faults.parse(_FAULT_TABLE, FaultSpec, name, start_s, end_s, params)


# ---------------------------------------------------------------------------------------------
# the part


@dataclass
class _Sampler:
    """The sample clock since the last CTRL1_XL write: sample n at ``t0 + n / ODR``."""

    t0_us: int = 0
    n: int = 0  # samples taken since t0
    odr_hz: float = 0.0

    def due_us(self, n: int) -> int:
        return self.t0_us + math.ceil(n * 1e6 / self.odr_hz)


@dataclass
class _Power:
    boot_until_us: int
    handled: set[int] = field(default_factory=set)  # power_cycle faults already applied


def _at_rest(_now_s: float) -> float:
    return G0


class Lsm6dsoxEmulator:
    """One LSM6DSOX (accelerometer side). Attach it to an ``EmulatedI2C`` to talk to it."""

    def __init__(
        self,
        clock: VirtualClock,
        rng: np.random.Generator,
        *,
        force: ForceFn | None = None,
        up_axis: int = 2,
        up_sign: int = 1,
        bias_mps2: tuple[float, float, float] = (0.0, 0.0, 0.0),
        noise_ug_rthz: float = NOISE_UG_RTHZ,
        turn_on_bias_mg: float = 0.0,
        address: int = DEFAULT_ADDRESS,
    ) -> None:
        if up_axis not in (0, 1, 2) or up_sign not in (1, -1):
            raise ValueError(f"up_axis must be 0..2 and up_sign +/-1, got {up_axis}, {up_sign}")
        if address not in (DEFAULT_ADDRESS, ALT_ADDRESS):
            raise ValueError(f"the LSM6DSOX answers on 0x6A or 0x6B, not 0x{address:02x}")
        self.clock = clock
        self.address = address
        self.force: ForceFn = force if force is not None else _at_rest
        self.up_axis = up_axis
        self.up_sign = up_sign
        self.bias_mps2 = tuple(float(b) for b in bias_mps2)
        self.noise_ug_rthz = float(noise_ug_rthz)
        self._rng = rng
        self._fault_rng = np.random.default_rng(int(rng.integers(0, 2**62)))
        self._bias_rng = np.random.default_rng(int(rng.integers(0, 2**62)))
        self.turn_on_bias_mg = float(turn_on_bias_mg)
        self.turn_on_bias_mps2 = self._draw_turn_on_bias()
        self._lock = threading.RLock()
        self._faults: list[FaultSpec] = []
        self._power = _Power(boot_until_us=clock.now_us)
        # counters (read freely)
        self.samples = 0  # samples taken (those skipped in a long fast-forward included)
        self.resets = 0  # SW_RESETs and power cycles
        self._restore_defaults()

    # -- state -----------------------------------------------------------------------------

    def _restore_defaults(self) -> None:
        self._regs = bytearray(0x80)
        for reg, value in DEFAULTS.items():
            self._regs[reg] = value
        self._regs[REG_WHO_AM_I] = WHO_AM_I_VALUE
        self._ptr = 0
        self._xlda = False
        self._raw = [0, 0, 0]  # latest sample, counts
        self._out = [0, 0, 0]  # what the output registers show
        self._held: set[int] = set()  # BDU: axes with one byte read
        self._sampler = _Sampler()

    def _reset(self) -> None:
        self.resets += 1
        self._restore_defaults()

    def _draw_turn_on_bias(self) -> tuple[float, float, float]:
        sigma = self.turn_on_bias_mg * 1e-3 * G0
        x, y, z = (float(v) * sigma for v in self._bias_rng.standard_normal(3))
        return x, y, z

    @property
    def fs_bits(self) -> int:
        return (self._regs[REG_CTRL1_XL] >> 2) & 0x03

    @property
    def full_scale_g(self) -> int:
        return FULL_SCALE[self.fs_bits][0]

    @property
    def odr_hz(self) -> float:
        return ODR_HZ.get(self._regs[REG_CTRL1_XL] >> 4, 0.0)

    def register(self, reg: int) -> int:
        """A register's current value without a bus transaction (no side effects)."""
        with self._lock:
            self._sync(self.clock.now_us)
            return self._value(reg & 0x7F)

    # -- faults ----------------------------------------------------------------------------

    def inject(
        self, name: str, start_s: float, end_s: float | None = None, **params: Any
    ) -> FaultSpec:
        """Schedule a fault on the virtual clock (see the module docstring for the list)."""
        spec = parse_fault(name, start_s, end_s, **params)
        with self._lock:
            self._faults.append(spec)
        return spec

    def clear_faults(self) -> None:
        """Drop every scheduled fault (a power cycle already applied stays applied)."""
        with self._lock:
            self._faults.clear()
            self._power.handled.clear()

    @property
    def faults(self) -> tuple[FaultSpec, ...]:
        return tuple(self._faults)

    def _on(self, name: str, t_us: int) -> FaultSpec | None:
        for spec in self._faults:
            if spec.name == name and spec.active_at(t_us):
                return spec
        return None

    # -- sampling --------------------------------------------------------------------------

    def _sync(self, now_us: int) -> None:
        """Apply power cycles and take every sample due up to ``now_us``."""
        for i, spec in enumerate(self._faults):
            if spec.name == "power_cycle" and i not in self._power.handled:
                if spec.start_us <= now_us:
                    self._power.handled.add(i)
                    back = spec.start_us if spec.end_us is None else spec.end_us
                    self._power.boot_until_us = max(back, spec.start_us) + BOOT_US
                    self.turn_on_bias_mps2 = self._draw_turn_on_bias()
                    self._reset()
        s = self._sampler
        if s.odr_hz <= 0.0:
            return
        # samples n = s.n + 1 .. last are due (only the last one shows)
        last = math.floor((now_us - s.t0_us) * s.odr_hz / 1e6)
        while last > s.n and s.due_us(last) > now_us:
            last -= 1
        pending = last - s.n
        if pending <= 0:
            return
        drawn = min(pending, MAX_DRAWN_SAMPLES)
        noise = self._rng.standard_normal((drawn, 6))
        s.n = last
        self.samples += pending
        self._take(s.due_us(last), noise[-1])

    def _take(self, t_us: int, normals: np.ndarray) -> None:
        drop = self._on("dropout", t_us)
        if drop is not None:
            p = float(drop.params["probability"])
            # a draw only for a partial dropout: a full one leaves the fault stream as it was
            if p >= 1.0 or self._fault_rng.random() < p:
                return
        self._xlda = True
        stuck = self._on("stuck", t_us)
        if stuck is not None and stuck.params["mps2"] is None:
            return
        bits = self.fs_bits
        sigma = self.noise_ug_rthz * 1e-6 * G0 * math.sqrt(self.odr_hz / 2.0)
        burst = self._on("noise_burst", t_us)
        extra = 0.0 if burst is None else float(burst.params["sigma_mps2"])
        vertical = float(self.force(t_us / 1e6))
        jump = self._on("bias_jump", t_us)
        if jump is not None:
            vertical += jump.params["mps2"]
        sat = self._on("saturation", t_us)
        if sat is not None:
            vertical += sat.params["g"] * G0
        if stuck is not None:
            vertical = float(stuck.params["mps2"])
        clip = self._on("clip", t_us)
        if clip is not None:
            limit = float(clip.params["mps2"])
            vertical = min(max(vertical, -limit), limit)
        for axis in range(3):
            a = self.bias_mps2[axis] + self.turn_on_bias_mps2[axis]
            a += sigma * normals[axis] + extra * normals[3 + axis]
            if axis == self.up_axis:
                a += self.up_sign * vertical
            self._raw[axis] = to_raw(float(a), bits)
        for axis in range(3):
            if axis not in self._held:
                self._out[axis] = self._raw[axis]

    # -- registers -------------------------------------------------------------------------

    def _value(self, reg: int) -> int:
        if REG_OUTX_L_A <= reg <= REG_OUTZ_H_A:
            v = self._out[(reg - REG_OUTX_L_A) >> 1] & 0xFFFF
            return v >> 8 if reg & 1 else v & 0xFF
        if reg == REG_STATUS:
            return STATUS_XLDA if self._xlda else 0
        return self._regs[reg]

    def _read_reg(self, reg: int) -> int:
        v = self._value(reg)
        if REG_OUTX_L_A <= reg <= REG_OUTZ_H_A:
            axis = (reg - REG_OUTX_L_A) >> 1
            if self._regs[REG_CTRL3_C] & CTRL3_BDU:
                if axis in self._held:  # the pair's other byte: release it
                    self._held.discard(axis)
                    self._out[axis] = self._raw[axis]
                else:
                    self._held.add(axis)
            if reg == REG_OUTX_H_A:
                self._xlda = False
        return v

    def _write_reg(self, reg: int, value: int, t_us: int) -> bool:
        """Write one register; True if it reset the part (the rest of the write is lost)."""
        if reg not in _WRITABLE:
            return False
        if reg == REG_CTRL3_C and value & CTRL3_SW_RESET:
            self._reset()
            return True
        self._regs[reg] = value
        if reg == REG_CTRL1_XL:
            self._sampler = _Sampler(t0_us=t_us, n=0, odr_hz=self.odr_hz)
        if reg == REG_CTRL3_C and not value & CTRL3_BDU:
            for axis in self._held:
                self._out[axis] = self._raw[axis]
            self._held.clear()
        return False

    def _next(self, reg: int, i: int) -> int:
        if self._regs[REG_CTRL3_C] & CTRL3_IF_INC:
            return (reg + i) & 0x7F
        return reg

    # -- the bus side (the EmulatedI2C device protocol) ------------------------------------

    def sync(self, now_us: int) -> None:
        with self._lock:
            self._sync(now_us)

    def answers(self, addr: int, t_us: int) -> bool:
        with self._lock:
            if addr != self.address or t_us < self._power.boot_until_us:
                return False
            return self._on("power_cycle", t_us) is None

    def forced_nack(self, t_us: int) -> Status | None:
        with self._lock:
            spec = self._on("nack", t_us)
            if spec is None:
                return None
            p = spec.params["probability"]
            if p < 1.0 and self._fault_rng.random() >= p:
                return None
            return Status.NACK_ADDR if spec.params["kind"] == "address" else Status.NACK_DATA

    def lockup(self, t_us: int) -> int:
        """The part never holds the bus (0: free)."""
        return 0

    def recover_with_reset(self, t_us: int) -> None:
        """Never called: the part never locks the bus."""

    def write(self, data: bytes, t_us: int) -> None:
        with self._lock:
            if not data:
                return
            self._ptr = data[0] & 0x7F
            for i, value in enumerate(data[1:]):
                if self._write_reg(self._next(self._ptr, i), value, t_us):
                    return

    def read(self, n: int, t_us: int) -> bytes:
        with self._lock:
            return bytes(self._read_reg(self._next(self._ptr, i)) for i in range(n))
