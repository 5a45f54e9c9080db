"""Long-range laser rangefinder (LRF) for the lunar profile: acquisition, noise, dropouts, faults,
and the serial bytes the sensor puts on its UART.

Acquisition (per measurement)
-----------------------------
A link budget: the received power goes as ``power_factor * reflectance / range^2``, and the
sensor's pulse integration loses signal at speed (the return smears across range bins), by a
factor ``1 / (1 + speed_penalty * |v|)``. Relative to the nominal case (reference
reflectance, full power, at rest, at ``nominal_acquisition_range_m``) the margin is::

    margin_db = 10 log10(power_factor * reflectance / reference_reflectance
                         / (1 + speed_penalty * |v|))
                - 20 log10(range / nominal_acquisition_range_m)

and a measurement is valid with probability ``1 / (1 + exp(-margin_db / acquisition_slope_db))``:
one half at the acquisition range, where ``margin_db = 0``. The slope is steep (0.1 dB by
default: 99 % at 5 % closer, 1.5 % at 5 % farther) because the sensor integrates many pulses per
measurement and reports a range only when they agree. So in a descent the first valid reading
comes within a few percent of :meth:`LrfConfig.acquisition_range_m`, and
:meth:`LrfConfig.with_acquisition_range` sets that range (ispace Mission 2: ~900 m instead of
~3 km, a -10.5 dB loss) by scaling ``power_factor``. Beyond ``max_range_m`` the range gate
gives no return whatever the margin; below ``min_range_m`` the sensor reports "too close".

Noise: a valid range is ``true + sigma * N(0, 1)`` with ``sigma = noise_m + noise_fraction *
range``. Dropouts: with ``dropout_probability`` a frame is lost entirely (nothing on the wire,
its sequence number skipped); every other measurement produces a frame, valid or not.

Serial frame (10 bytes, 8N1 at ``baud``; one per measurement at ``rate_hz``)::

    59 4C | SEQ u8 | STATUS u8 | RANGE_CM u24 LE | SIGNAL u8 | CRC hi | CRC lo

CRC-16/CCITT-FALSE over SEQ..SIGNAL, high byte first (the firmware's ``fsw.lrf.crc16``).
STATUS: 0 valid, 1 no return (too far or too weak), 2 too close, 3 sensor fault; RANGE_CM is 0
unless STATUS is 0. SIGNAL: the SNR in 0.25 dB steps, ``(threshold_snr_db + margin_db) * 4``,
clamped to 0..255; 0 when the laser sees nothing (signal loss, fault). SEQ counts every
measurement, including dropped ones. The firmware driver is ``fsw.lrf.Lrf``; docs/lrf.md.

Determinism: each measurement draws the same three numbers from ``rng`` (detection, dropout,
noise) whatever happens to it, so changing one setting or fault does not shift the noise of
the others. Garbage bytes come from a second generator seeded once from ``rng``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np

from softland.boards.firmware import fsw_module

SYNC = b"\x59\x4c"
FRAME_LEN = 10
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
SIGNAL_STEP_DB = 0.25
RANGE_CM_MAX = 0xFFFFFF

ST_VALID = 0
ST_NO_RETURN = 1
ST_TOO_CLOSE = 2
ST_FAULT = 3


@dataclass(frozen=True)
class LrfConfig:
    """A long-range laser rangefinder. Defaults: a 6 km, 20 Hz sensor over a lunar mare.

    reflectance: surface albedo at the laser wavelength (1064 nm): 0.12 for mare basalt (the
    visible albedo is ~0.07-0.10, higher in the near infrared), ~0.25 for highlands.
    reference_reflectance: the surface the nominal acquisition range was specified over.
    speed_penalty: SNR loss per m/s of vertical speed, as 1 / (1 + speed_penalty * |v|):
    0.002 s/m costs 0.37 dB (4 % of acquisition range) at 44 m/s.
    phase_s: time of the first measurement after power-on (t = 0); then every 1 / rate_hz.
    threshold_snr_db: the detection threshold's SNR, only for the SIGNAL byte.
    """

    max_range_m: float = 6000.0
    min_range_m: float = 1.0
    rate_hz: float = 20.0
    phase_s: float = 0.01
    baud: int = 115200
    noise_m: float = 0.3
    noise_fraction: float = 0.001
    nominal_acquisition_range_m: float = 3000.0
    reference_reflectance: float = 0.12
    reflectance: float = 0.12
    power_factor: float = 1.0
    speed_penalty: float = 0.002
    acquisition_slope_db: float = 0.1
    threshold_snr_db: float = 13.0
    dropout_probability: float = 0.01

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"LrfConfig.{f.name} = {value!r}: must be a number")
            if not math.isfinite(value):
                raise ValueError(f"LrfConfig.{f.name} = {value!r}: must be finite")
        positive = (
            "max_range_m",
            "min_range_m",
            "rate_hz",
            "baud",
            "nominal_acquisition_range_m",
            "reference_reflectance",
            "acquisition_slope_db",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"LrfConfig.{name} = {getattr(self, name)!r}: must be > 0")
        for name in ("noise_m", "noise_fraction", "power_factor", "speed_penalty", "phase_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"LrfConfig.{name} = {getattr(self, name)!r}: must be >= 0")
        if not 0.0 <= self.reflectance <= 1.0:
            raise ValueError(f"LrfConfig.reflectance = {self.reflectance!r}: must be in 0..1")
        if not 0.0 <= self.dropout_probability <= 1.0:
            raise ValueError(
                f"LrfConfig.dropout_probability = {self.dropout_probability!r}: must be in 0..1"
            )
        if self.min_range_m >= self.max_range_m:
            raise ValueError(
                f"LrfConfig.min_range_m = {self.min_range_m!r}: must be below max_range_m "
                f"({self.max_range_m!r})"
            )
        if self.max_range_m * 100 > RANGE_CM_MAX:
            raise ValueError(
                f"LrfConfig.max_range_m = {self.max_range_m!r}: the frame's 24-bit cm field "
                f"holds at most {RANGE_CM_MAX / 100:.0f} m"
            )
        needed = self.rate_hz * FRAME_LEN * BITS_PER_BYTE
        if needed > self.baud:
            raise ValueError(
                f"LrfConfig.baud = {self.baud!r}: {self.rate_hz:g} frames/s of {FRAME_LEN} "
                f"bytes need at least {needed:g} baud; raise baud or lower rate_hz"
            )

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def byte_time_s(self) -> float:
        return BITS_PER_BYTE / self.baud

    def _gain(self, speed_mps: float, reflectance: float | None) -> float:
        refl = self.reflectance if reflectance is None else reflectance
        speed_loss = 1.0 + self.speed_penalty * abs(speed_mps)
        return self.power_factor * refl / self.reference_reflectance / speed_loss

    def margin_db(
        self, range_m: float, speed_mps: float = 0.0, reflectance: float | None = None
    ) -> float:
        """SNR margin over the 50 % detection point (dB); -inf with no laser or a black surface."""
        gain = self._gain(speed_mps, reflectance)
        if gain <= 0.0:
            return -math.inf
        if range_m <= 0.0:
            return math.inf
        return 10.0 * math.log10(gain) - 20.0 * math.log10(
            range_m / self.nominal_acquisition_range_m
        )

    def detection_probability(
        self, range_m: float, speed_mps: float = 0.0, reflectance: float | None = None
    ) -> float:
        """Probability that one measurement gives a valid range (link budget only; the range
        gate at max_range_m and dropouts come on top)."""
        x = self.margin_db(range_m, speed_mps, reflectance) / self.acquisition_slope_db
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x)) if x != math.inf else 1.0
        if x == -math.inf:
            return 0.0
        e = math.exp(x)
        return e / (1.0 + e)

    def acquisition_range_m(
        self, speed_mps: float = 0.0, reflectance: float | None = None
    ) -> float:
        """The range at which one measurement is valid with probability 1/2."""
        return self.nominal_acquisition_range_m * math.sqrt(self._gain(speed_mps, reflectance))

    def with_acquisition_range(self, range_m: float, speed_mps: float = 0.0) -> LrfConfig:
        """This sensor with its laser power scaled so that, over this config's reflectance and
        at this vertical speed, the acquisition range (50 % per measurement) is range_m; e.g.
        ``LrfConfig().with_acquisition_range(900.0, speed_mps=66.0)`` for ispace Mission 2."""
        if not range_m > 0.0 or not math.isfinite(range_m):
            raise ValueError(f"acquisition range {range_m!r} m: must be a positive number")
        gain_now = self._gain(speed_mps, None)
        if gain_now <= 0.0:
            raise ValueError(
                "with_acquisition_range: reflectance and power_factor must be > 0 to scale"
            )
        wanted = (range_m / self.nominal_acquisition_range_m) ** 2
        return replace(self, power_factor=self.power_factor * wanted / gain_now)

    def sigma_m(self, range_m: float) -> float:
        """Standard deviation of a valid range at this range."""
        return self.noise_m + self.noise_fraction * max(range_m, 0.0)

    def signal_byte(self, margin_db: float) -> int:
        if margin_db == -math.inf:
            return 0
        if margin_db == math.inf:
            return 255
        return min(max(round((self.threshold_snr_db + margin_db) / SIGNAL_STEP_DB), 0), 255)


@dataclass(frozen=True)
class LrfFrame:
    seq: int
    status: int
    range_cm: int
    signal: int

    @property
    def range_m(self) -> float:
        return self.range_cm / 100.0


@cache
def _fsw_lrf() -> Any:
    return fsw_module("lrf")


def _crc16(data: bytes | bytearray) -> int:
    return _fsw_lrf().crc16(data, 0, len(data))


def encode_frame(seq: int, status: int, range_cm: int, signal: int) -> bytes:
    """One serial frame; every field must fit its width."""
    for name, value, hi in (
        ("seq", seq, 0xFF),
        ("status", status, 0xFF),
        ("range_cm", range_cm, RANGE_CM_MAX),
        ("signal", signal, 0xFF),
    ):
        if not 0 <= value <= hi:
            raise ValueError(f"LRF frame field {name} = {value}: must be in 0..{hi}")
    body = bytes(
        (seq, status, range_cm & 0xFF, (range_cm >> 8) & 0xFF, (range_cm >> 16) & 0xFF, signal)
    )
    crc = _crc16(body)
    return SYNC + body + bytes((crc >> 8, crc & 0xFF))


def parse_frames(data: bytes | bytearray) -> list[LrfFrame]:
    """The good frames in a byte stream (host side; same sliding-window rule as fsw.lrf)."""
    frames: list[LrfFrame] = []
    i = 0
    n = len(data)
    while i + FRAME_LEN <= n:
        if data[i : i + 2] == SYNC:
            body = bytes(data[i + 2 : i + 8])
            if _crc16(body) == (data[i + 8] << 8) | data[i + 9]:
                rng = body[2] | (body[3] << 8) | (body[4] << 16)
                frames.append(LrfFrame(body[0], body[1], rng, body[5]))
                i += FRAME_LEN
                continue
        i += 1
    return frames


_REQUIRED = object()
# fault name -> {parameter: default (or _REQUIRED)}
FAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        # valid frames repeat range_m, else the last valid range before the fault
        "stuck": MappingProxyType({"range_m": None}),
        # random bytes on the line before every frame
        "garbage": MappingProxyType({"bytes_per_frame": 8}),
        # frames leave latency_ms after their measurement
        "delay": MappingProxyType({"latency_ms": _REQUIRED}),
        # the laser sees nothing: no-return frames, signal 0
        "signal_loss": MappingProxyType({}),
        # the sensor sends nothing at all (power, cable)
        "silent": MappingProxyType({}),
        # frames with the sensor-fault status
        "sensor_fault": MappingProxyType({}),
        # the laser locks onto a false return offset_m beyond the ground (negative: short of
        # it; dust, a crater wall, a secondary return): a strong valid return every frame
        "false_return": MappingProxyType({"offset_m": _REQUIRED}),
    }
)


@dataclass(frozen=True)
class LrfFault:
    name: str
    start_s: float
    end_s: float
    params: dict[str, Any] = field(default_factory=dict)

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


def _check_param(name: str, param: str, value: Any) -> Any:
    where = f"LRF fault '{name}' parameter '{param}' = {value!r}"
    if param == "range_m" and value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number")
    if param == "bytes_per_frame":
        if int(value) != value or not 1 <= value <= 255:
            raise ValueError(f"{where}: must be an integer in 1..255")
        return int(value)
    if param == "range_m" and not 0 < value * 100 <= RANGE_CM_MAX:
        raise ValueError(f"{where}: must be in 0..{RANGE_CM_MAX / 100:.0f} m")
    if param == "offset_m":
        if abs(value) * 100 > RANGE_CM_MAX:
            raise ValueError(f"{where}: must be within +/-{RANGE_CM_MAX / 100:.0f} m")
        return float(value)
    if value < 0:
        raise ValueError(f"{where}: must be >= 0")
    return float(value)


class LrfModel:
    """The sensor: ``advance(t, range, speed)`` returns the bytes it sent since the last call."""

    def __init__(self, cfg: LrfConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self._rng = rng
        self._garbage_rng = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
        self._faults: list[LrfFault] = []
        self._t = 0.0
        self._k = 0  # index of the next measurement
        self._prev: tuple[float, float] | None = None  # (t, range) of the previous call
        self._line_free_s = 0.0
        # the bytes on the line, not yet delivered: _tx_bytes[i] is out at _tx_times[i]
        # (never decreasing: the line sends one byte after another); the first _tx_head of
        # them were delivered (dropped in bulk once they are half of the lists)
        self._tx_times: list[float] = []
        self._tx_bytes = bytearray()
        self._tx_head = 0
        self._last_valid_cm: int | None = None
        self.seq = 0
        self.measurements = 0
        self.dropouts = 0
        self.frames_sent = 0

    @property
    def faults(self) -> tuple[LrfFault, ...]:
        return tuple(self._faults)

    @property
    def t_s(self) -> float:
        """Time of the latest advance() call."""
        return self._t

    @property
    def pending_bytes(self) -> int:
        return len(self._tx_times) - self._tx_head

    def inject(self, name: str, start_s: float, end_s: float | None = None, **params: Any) -> None:
        """Switch fault `name` on over [start_s, end_s) (end_s None: for good). Names and
        parameters: see FAULTS; a bad name or parameter raises ValueError naming it."""
        if name not in FAULTS:
            raise ValueError(f"unknown LRF fault '{name}' (known: {', '.join(sorted(FAULTS))})")
        spec = FAULTS[name]
        for param in params:
            if param not in spec:
                known = ", ".join(sorted(spec)) or "none"
                raise ValueError(
                    f"LRF fault '{name}': unknown parameter '{param}' (known: {known})"
                )
        values: dict[str, Any] = {}
        for param, default in spec.items():
            if param in params:
                values[param] = _check_param(name, param, params[param])
            elif default is _REQUIRED:
                raise ValueError(f"LRF fault '{name}' needs parameter '{param}'")
            else:
                values[param] = default
        if not math.isfinite(start_s):
            raise ValueError(f"LRF fault '{name}': start_s = {start_s!r} must be finite")
        end = math.inf if end_s is None else end_s
        if not end > start_s:
            raise ValueError(f"LRF fault '{name}': end_s = {end_s!r} must be after start_s")
        self._faults.append(LrfFault(name, float(start_s), float(end), values))

    def _fault(self, name: str, t_s: float) -> LrfFault | None:
        for f in self._faults:
            if f.name == name and f.active(t_s):
                return f
        return None

    def advance(
        self,
        t_s: float,
        true_range_m: float,
        vertical_speed_mps: float,
        reflectance: float | None = None,
    ) -> bytes:
        """Run the sensor up to time t_s (s since power-on) and return the bytes it put on the
        line since the previous call. Measurements between calls see the range interpolated
        linearly from the previous call's; reflectance overrides the config's for them."""
        if t_s < self._t:
            raise ValueError(f"LRF time went back: {t_s} s after {self._t} s")
        cfg = self.cfg
        t0, r0 = self._prev if self._prev is not None else (t_s, true_range_m)
        while True:
            tk = cfg.phase_s + self._k * cfg.period_s
            if tk > t_s:
                break
            if t_s > t0 and tk > t0:
                rk = r0 + (true_range_m - r0) * (tk - t0) / (t_s - t0)
            else:
                rk = r0 if tk <= t0 else true_range_m
            self._measure(tk, rk, vertical_speed_mps, reflectance)
            self._k += 1
        self._t = t_s
        self._prev = (t_s, true_range_m)
        # every byte out by t_s (the times never decrease: the first that is later ends it)
        head = self._tx_head
        end = bisect_right(self._tx_times, t_s + 1e-12, head)
        out = bytes(self._tx_bytes[head:end])
        self._tx_head = end
        if end > 64 and end * 2 > len(self._tx_times):
            del self._tx_times[:end]
            del self._tx_bytes[:end]
            self._tx_head = 0
        return out

    def _send(self, ready_s: float, data: bytes) -> None:
        bt = self.cfg.byte_time_s
        start = max(ready_s, self._line_free_s)
        self._tx_times.extend([start + (i + 1) * bt for i in range(len(data))])
        self._tx_bytes += data
        self._line_free_s = start + len(data) * bt

    def _measure(self, t_s: float, range_m: float, speed_mps: float, refl: float | None) -> None:
        cfg = self.cfg
        # the same three draws for every measurement, whatever becomes of it
        u_detect, u_drop = self._rng.random(2)
        z = float(self._rng.standard_normal())
        seq = self.seq
        self.seq = (seq + 1) & 0xFF
        self.measurements += 1
        delay = self._fault("delay", t_s)
        ready = t_s + (delay.params["latency_ms"] / 1000.0 if delay else 0.0)
        garbage = self._fault("garbage", t_s)
        if garbage:
            n = garbage.params["bytes_per_frame"]
            self._send(ready, bytes(self._garbage_rng.integers(0, 256, n, dtype=np.uint8)))
        if self._fault("silent", t_s):
            return
        if u_drop < cfg.dropout_probability:
            self.dropouts += 1
            return
        margin = cfg.margin_db(range_m, speed_mps, refl)
        signal = cfg.signal_byte(margin)
        status, range_cm = ST_NO_RETURN, 0
        stuck = self._fault("stuck", t_s)
        stuck_cm = self._last_valid_cm
        if stuck and stuck.params["range_m"] is not None:
            stuck_cm = round(stuck.params["range_m"] * 100)
        if self._fault("sensor_fault", t_s):
            status, signal = ST_FAULT, 0
        elif self._fault("signal_loss", t_s):
            signal = 0
        elif stuck and stuck_cm is not None:
            status, range_cm = ST_VALID, stuck_cm
        elif (false := self._fault("false_return", t_s)) is not None:
            echo_m = range_m + false.params["offset_m"]
            if echo_m < cfg.min_range_m:
                status = ST_TOO_CLOSE
            else:
                measured = max(echo_m + cfg.sigma_m(echo_m) * z, cfg.min_range_m)
                status, range_cm = ST_VALID, min(round(measured * 100), RANGE_CM_MAX)
                signal = max(signal, cfg.signal_byte(20.0))
                self._last_valid_cm = range_cm
        elif range_m > cfg.max_range_m:
            pass
        elif range_m < cfg.min_range_m:
            status = ST_TOO_CLOSE
        elif u_detect < cfg.detection_probability(range_m, speed_mps, refl):
            measured = max(range_m + cfg.sigma_m(range_m) * z, cfg.min_range_m)
            status, range_cm = ST_VALID, min(round(measured * 100), RANGE_CM_MAX)
            self._last_valid_cm = range_cm
        self._send(ready, encode_frame(seq, status, range_cm, signal))
        self.frames_sent += 1
