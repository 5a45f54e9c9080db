"""A drop capture against physics (docs/tabletop.md, "Reading the report").

Model of the distance the sensor reports, d(t), with t the time the board had the reading
(trigger stamp + dt_us): at rest ``d0`` until the drop starts at ``t0``, then
``d0 + s g/2 (t - t0)^2`` (s = -1 when the sensor falls toward the floor, +1 when a target
falls away from a fixed sensor) until it reaches the resting distance ``d_rest`` at the
impact, then ``d_rest``. Least-squares fits over every valid sample: g free (d0, t0, g,
d_rest), g known (d0, t0, d_rest) and, when the capture has the release pin's time, g free
from the release (d0, g, d_rest, t0 the pin's time). From them:

- g and its error against the known g: from the fit anchored at the release pin when there is
  one, else from the g-free fit. A start time the fit must find costs g most of its precision
  (the start and g trade against each other over a fall of a fraction of a second: at 2.5 cm
  noise, 250 Hz and a 2 m fall the Cramer-Rao bound on g is ~0.09 m/s^2 with t0 free and
  ~0.03 m/s^2 with t0 known); the anchored g is biased by the sensor latency instead
  (about -2.5 g latency / fall time: -0.04 m/s^2 per ms over a 2 m fall), so both are reported;
- the impact speed ``sqrt(2 g |d_rest - d0|)``, from each fit (the g-known one is the
  measurement: on a tabletop g is known; the g-free one shows what the sensor alone says);
- the drop start t0 and, when the capture has the release pin's time, the sensor latency
  ``t0 - t_release`` (how much later than the physical instant a reading reaches the board);
- noise (the residuals' standard deviation), dropouts (bus errors, busy timeouts, 0 / 1 cm
  readings, gaps), sample-rate jitter (the sample interval's spread);
- the firmware estimator (firmware/fsw/estimator.py, unchanged) run at the flight's 50 Hz on
  the newest reading each tick, range only and with a free-fall accelerometer, and its velocity
  against the fit's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from softland.boards.firmware import fsw_module
from softland.devices.freefall import G_STANDARD
from softland.drop.capture import F_BUS_ERROR, F_TIMEOUT, DropCapture
from softland.errors import UserError

MIN_DROP_M = 0.2  # a capture whose distance moves less than this holds no drop
EST_PERIOD_MS = 20  # the flight loop's period


@dataclass(frozen=True)
class Fit:
    g: float  # m/s^2
    t0_s: float  # drop start, capture time
    d0_m: float
    d_rest_m: float
    sign: int
    residual_std_m: float
    g_free: bool
    t0_from_release: bool = False  # the start is the release pin's time, not fitted

    @property
    def fall_m(self) -> float:
        return abs(self.d_rest_m - self.d0_m)

    @property
    def impact_s(self) -> float:
        return self.t0_s + math.sqrt(2.0 * self.fall_m / self.g)

    @property
    def impact_speed_m_s(self) -> float:
        return math.sqrt(2.0 * self.g * self.fall_m)

    def distance_m(self, t: np.ndarray) -> np.ndarray:
        return _model(np.asarray(t, dtype=float), self.d0_m, self.t0_s, self.g, self.d_rest_m,
                      self.sign)  # fmt: skip

    def velocity_m_s(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        falling = (t > self.t0_s) & (t < self.impact_s)
        return np.where(falling, self.sign * self.g * (t - self.t0_s), 0.0)


@dataclass(frozen=True)
class EstimatorRun:
    name: str
    t_s: np.ndarray
    vel_m_s: np.ndarray
    fit_vel_m_s: np.ndarray
    rms_error_m_s: float  # over the fall
    impact_error_m_s: float  # at the last tick before the impact


@dataclass
class DropReport:
    capture: DropCapture
    g_known: float
    free: Fit
    known: Fit
    anchored: Fit | None  # g free, the start at the release pin (None: no release pin)
    samples: int
    valid: int
    bus_errors: int
    timeouts: int
    no_return: int
    zeros: int
    gaps: int  # intervals longer than 1.5 x the median one
    rate_hz: float
    interval_median_us: float
    interval_std_us: float
    interval_max_us: float
    latency_ms: float | None
    t_s: np.ndarray
    d_m: np.ndarray
    ok: np.ndarray
    estimator: list[EstimatorRun] = field(default_factory=list)

    @property
    def g_fit(self) -> Fit:
        """The fit g is measured by: anchored at the release pin when there is one."""
        return self.anchored if self.anchored is not None else self.free

    @property
    def g_error(self) -> float:
        return self.g_fit.g - self.g_known

    def summary(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {
            "source": self.capture.source,
            "variant": self.capture.variant,
            "samples": self.samples,
            "valid": self.valid,
            "rate_hz": round(self.rate_hz, 2),
            "g_fit_m_s2": round(self.g_fit.g, 4),
            "g_fit_from": "release pin" if self.anchored is not None else "fitted start",
            "g_known_m_s2": self.g_known,
            "g_error_m_s2": round(self.g_error, 4),
            "g_fit_start_free_m_s2": round(self.free.g, 4),
            "fall_m": round(self.known.fall_m, 4),
            "impact_speed_m_s": round(self.known.impact_speed_m_s, 4),
            "impact_speed_g_free_m_s": round(self.g_fit.impact_speed_m_s, 4),
            "drop_start_s": round(self.known.t0_s, 5),
            "impact_s": round(self.known.impact_s, 5),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "noise_cm": round(self.free.residual_std_m * 100, 3),
            "bus_errors": self.bus_errors,
            "timeouts": self.timeouts,
            "no_return": self.no_return,
            "zeros": self.zeros,
            "gaps": self.gaps,
            "interval_median_us": round(self.interval_median_us, 1),
            "interval_std_us": round(self.interval_std_us, 1),
            "interval_max_us": round(self.interval_max_us, 1),
        }
        for run in self.estimator:
            out[f"estimator_{run.name}_rms_m_s"] = round(run.rms_error_m_s, 4)
            out[f"estimator_{run.name}_at_impact_m_s"] = round(run.impact_error_m_s, 4)
        return out


def _model(t: np.ndarray, d0: float, t0: float, g: float, d_rest: float, sign: int) -> np.ndarray:
    dt = np.clip(t - t0, 0.0, None)
    d = d0 + sign * 0.5 * g * dt * dt
    return np.minimum(d, d_rest) if sign > 0 else np.maximum(d, d_rest)


def _fit_anchored(t: np.ndarray, d: np.ndarray, free: Fit, t0: float) -> Fit:
    # g free, the start fixed at the release pin's time
    def res(p: np.ndarray) -> np.ndarray:
        return _model(t, p[0], t0, p[1], p[2], free.sign) - d

    x0 = np.array([free.d0_m, free.g, free.d_rest_m])
    sol = least_squares(res, x0, x_scale=np.abs(x0) + 0.1, method="trf")
    p = sol.x
    r = res(p)
    std = float(np.sqrt(np.mean(r * r)))
    return Fit(float(p[1]), t0, float(p[0]), float(p[2]), free.sign, std, True, True)


def _fit(t: np.ndarray, d: np.ndarray, guess: tuple[float, float, float, float], sign: int,
         g_known: float | None) -> Fit:  # fmt: skip
    d0, t0, g, d_rest = guess
    if g_known is None:

        def res(p: np.ndarray) -> np.ndarray:
            return _model(t, p[0], p[1], p[2], p[3], sign) - d

        x0 = np.array([d0, t0, g, d_rest])
    else:

        def res(p: np.ndarray) -> np.ndarray:
            return _model(t, p[0], p[1], g_known, p[2], sign) - d

        x0 = np.array([d0, t0, d_rest])
    sol = least_squares(res, x0, x_scale=np.abs(x0) + 0.1, method="trf")
    p = sol.x
    r = res(p)
    std = float(np.sqrt(np.mean(r * r)))
    if g_known is None:
        return Fit(float(p[2]), float(p[1]), float(p[0]), float(p[3]), sign, std, True)
    return Fit(g_known, float(p[1]), float(p[0]), float(p[2]), sign, std, False)


def _initial_guess(t: np.ndarray, d: np.ndarray) -> tuple[int, tuple[float, float, float, float]]:
    n = len(d)
    k = max(5, n // 20)
    d_start = float(np.median(d[:k]))
    d_end = float(np.median(d[-k:]))
    if abs(d_end - d_start) < MIN_DROP_M:
        raise UserError(
            f"no drop in this capture: the distance moves {abs(d_end - d_start) * 100:.0f} cm "
            f"from start to end (at least {MIN_DROP_M * 100:.0f} cm needed)"
        )
    sign = 1 if d_end > d_start else -1
    noise = float(np.median(np.abs(np.diff(d[:k])))) + 0.01
    moved = np.nonzero(sign * (d - d_start) > 5 * noise)[0]
    t_move = float(t[moved[0]]) if len(moved) else float(t[0])
    fall = abs(d_end - d_start)
    # the first 5 noise-widths of a fall take sqrt(2 x / g): start the fit that much earlier
    t0 = t_move - math.sqrt(2 * 5 * noise / G_STANDARD)
    if len(moved) == 0 or t0 + math.sqrt(2 * fall / G_STANDARD) > t[-1] + 0.5:
        raise UserError("the drop does not fit in this capture (it starts too late)")
    return sign, (d_start, t0, G_STANDARD, d_end)


def _estimator_runs(t: np.ndarray, d: np.ndarray, fit: Fit) -> list[EstimatorRun]:
    est_mod = fsw_module("estimator")
    params_mod = fsw_module("params")
    runs = []
    n_ticks = int(t[-1] * 1000 // EST_PERIOD_MS)
    tick_t = (np.arange(1, n_ticks + 1) * EST_PERIOD_MS) / 1000.0
    for name, imu in (("range_only", False), ("freefall_imu", True)):
        p = params_mod.Params()
        est = est_mod.Estimator(p)
        est.reset(int(round(d[0] * 1000)), 0, 1000)
        used = -1
        vel = np.zeros(n_ticks)
        for k, tk in enumerate(tick_t):
            falling = fit.t0_s < tk <= fit.impact_s
            acc = int(round(fit.sign * fit.g * 1000)) if (imu and falling) else 0
            est.predict(acc, EST_PERIOD_MS, imu)
            i = int(np.searchsorted(t, tk, side="right")) - 1
            if i > used and i >= 0:
                used = i
                est.update(int(round(d[i] * 1000)))
            vel[k] = est.vel_mm_s() / 1000.0
        fit_vel = fit.velocity_m_s(tick_t)
        in_fall = (tick_t > fit.t0_s) & (tick_t <= fit.impact_s)
        err = vel - fit_vel
        rms = float(np.sqrt(np.mean(err[in_fall] ** 2))) if in_fall.any() else float("nan")
        last = np.nonzero(in_fall)[0]
        at_impact = float(err[last[-1]]) if len(last) else float("nan")
        runs.append(EstimatorRun(name, tick_t, vel, fit_vel, rms, at_impact))
    return runs


def analyze(cap: DropCapture, g_known: float = G_STANDARD, estimator: bool = True) -> DropReport:
    """Fit a capture; UserError when it holds too few readings or no drop."""
    if cap.samples < 20:
        raise UserError(f"{cap.source}: only {cap.samples} samples; a drop needs hundreds")
    ok = cap.valid
    t_all = (cap.t_us + cap.dt_us) / 1e6
    d_all = cap.distance_cm / 100.0
    if ok.sum() < 20:
        raise UserError(
            f"{cap.source}: only {int(ok.sum())} of {cap.samples} samples hold a distance "
            "(bus errors, timeouts or no return): check the wiring and the target"
        )
    t, d = t_all[ok], d_all[ok]
    sign, guess = _initial_guess(t, d)
    free = _fit(t, d, guess, sign, None)
    known = _fit(t, d, (free.d0_m, free.t0_s, g_known, free.d_rest_m), sign, g_known)
    intervals = np.diff(cap.t_us).astype(float)
    median = float(np.median(intervals))
    latency = None
    anchored = None
    if cap.release_us is not None:
        latency = (known.t0_s - cap.release_us / 1e6) * 1000.0
        anchored = _fit_anchored(t, d, free, cap.release_us / 1e6)
    report = DropReport(
        capture=cap,
        g_known=g_known,
        free=free,
        known=known,
        anchored=anchored,
        samples=cap.samples,
        valid=int(ok.sum()),
        bus_errors=int(((cap.flags & F_BUS_ERROR) != 0).sum()),
        timeouts=int(((cap.flags & F_TIMEOUT) != 0).sum()),
        no_return=int((cap.distance_cm == 1).sum()),
        zeros=int(((cap.distance_cm == 0) & ((cap.flags & F_BUS_ERROR) == 0)).sum()),
        gaps=int((intervals > 1.5 * median).sum()),
        rate_hz=1e6 / median,
        interval_median_us=median,
        interval_std_us=float(np.std(intervals)),
        interval_max_us=float(np.max(intervals)),
        latency_ms=latency,
        t_s=t_all,
        d_m=d_all,
        ok=ok,
    )
    if estimator:
        report.estimator = _estimator_runs(t, d, known)
    return report
