"""The reference controller (fsw/control.py in float64)."""

from __future__ import annotations

from softland.analysis.reference.judge import DecisionJudge, Tolerances, flag_bits
from softland.analysis.reference.units import G0, RefParams


class RefController:
    """PI + feedforward on the vertical velocity, anti-windup, throttle limits and slew, the
    propellant mass model and the engine performance learnt from the accelerometer
    (fsw/control.py)."""

    AMAX_CAP = 32.767
    MASS_MIN = 1 / 16
    PERF_MIN, PERF_MAX = 0.5, 1.5
    STEADY_TICKS = 25
    STEADY_DTHR = 328 / 32767
    ERR_MAX = 100.0

    def __init__(self, p: RefParams, judge: DecisionJudge, tol: Tolerances) -> None:
        self.p = p
        self.judge = judge
        self.tol = tol
        self.flags = 0
        self.reset()

    def reset(self) -> None:
        p = self.p
        self.throttle = 0.0
        self.integ = 0.0
        self.a_cmd = 0.0
        self.mass = 1.0  # mass / start mass
        self.engine_on = False
        self.perf = 1.0
        self.steady = 0
        self.last_thr = 0.0
        # start-mass fraction burnt per tick at full throttle: a_max0 dt / (Isp g0)
        self.burn_full = p.amax0 * p.period_s / (p.isp_s * G0)
        self.a_max = self._a_max()

    def _a_max(self) -> float:
        believed = min(self.p.amax0 / self.mass, self.AMAX_CAP)
        return min(believed * self.perf, self.AMAX_CAP)

    def hold_min(self) -> None:
        f = flag_bits()
        self.ignite()
        self.throttle = self.p.thr_min
        self.flags = f.ENGINE_ON | f.THR_SAT_LO | f.INTEG_HELD

    def learn(self, f_meas: float, fast: bool, thr: float) -> None:
        """thr: the throttle the engine was commanded over the last tick (the firmware's)."""
        if not self.engine_on or thr < self.p.thr_min:
            self.steady = 0
            return
        d = thr - self.last_thr
        self.last_thr = thr
        if abs(d) <= self.STEADY_DTHR:
            self.steady = min(self.steady + 1, self.STEADY_TICKS)
        else:
            self.steady = 0
        if self.steady < self.STEADY_TICKS:
            return
        expected = thr * self.a_max
        if expected <= 0:
            return
        q = min(max(0.0, min(32.0, f_meas)) / expected, 2 * self.PERF_MAX)
        ratio = max(self.PERF_MIN, min(self.PERF_MAX, q * self.perf))
        self.perf += (ratio - self.perf) / (8 if fast else 32)
        self.a_max = self._a_max()

    def cutoff(self) -> None:
        self.engine_on = False
        self.throttle = 0.0
        self.a_cmd = 0.0

    def ignite(self) -> None:
        if not self.engine_on:
            self.engine_on = True
            self.throttle = self.p.thr_min

    def burn(self, thr: float) -> None:
        """Propellant used over the last tick at the throttle the engine was commanded."""
        self.mass = max(self.mass - self.burn_full * thr, self.MASS_MIN)
        self.a_max = self._a_max()

    def spool_down(self, last: float) -> None:
        f = flag_bits()
        self.throttle = max(last - self.p.thr_slew, self.p.thr_min)
        self.integ = 0.0
        self.flags = f.ENGINE_ON | f.INTEG_HELD | f.THR_SLEW

    def step(
        self,
        vref: float,
        vel: float,
        ff: float,
        last: float,
        integ: float | None = None,
        a_max: float | None = None,
    ) -> None:
        """last: the throttle commanded on the last tick (the slew limit's start); integ: the
        firmware's integrator going into the tick, a_max its full-thrust acceleration on the
        tick (None: the reference's own)."""
        p = self.p
        a_full = self.a_max if a_max is None else a_max
        if integ is not None:
            self.integ = integ
        f = flag_bits()
        if not self.engine_on:
            self.flags = 0
            self.throttle = 0.0
            return
        fl = f.ENGINE_ON
        err = max(-self.ERR_MAX, min(self.ERR_MAX, vref - vel))
        a_cmd = ff + p.kp * err + self.integ
        self.a_cmd = max(-self.AMAX_CAP, min(self.AMAX_CAP, a_cmd))
        raw = max(0.0, min(a_full, a_cmd)) / a_full
        thr = raw
        hi = lo = False
        if thr >= p.thr_max:
            thr, hi = p.thr_max, True
            fl |= f.THR_SAT_HI
        elif thr <= p.thr_min:
            thr, lo = p.thr_min, True
            fl |= f.THR_SAT_LO
        if thr > last + p.thr_slew:
            thr, hi = last + p.thr_slew, True
            fl |= f.THR_SLEW
        elif thr < last - p.thr_slew:
            thr, lo = last - p.thr_slew, True
            fl |= f.THR_SLEW
        self.throttle = thr
        # how close the saturation and slew decisions (and the error's sign) were to flipping
        limits = (p.thr_max, p.thr_min, last + p.thr_slew, last - p.thr_slew)
        margin = min(
            min(abs(raw - x) for x in limits) / self.tol.throttle,
            abs(err) / (self.tol.vel_mps + self.tol.vref_mps),
        )
        own_held = (hi and err > 0) or (lo and err < 0)
        held = self.judge.decide(
            "integrator_held",
            own_held,
            margin,
            1.0,
            lambda fw: bool(fw.flags & f.INTEG_HELD),
            flags=f.INTEG_HELD | f.THR_SAT_HI | f.THR_SAT_LO | f.THR_SLEW,
        )
        if held:
            fl |= f.INTEG_HELD
        else:
            lim = p.amax0 / 2
            self.integ = max(-lim, min(lim, self.integ + p.ki * err * p.period_s))
        self.flags = fl
