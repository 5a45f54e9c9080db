# Vertical velocity controller: PI + feedforward, conditional-integration anti-windup,
# throttle min/max and slew limits, mass from propellant use.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x

# fsw.params values as local constants, folded at compile time (P.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_PERIOD_MS = const(0)
_AMAX0_MM_S2 = const(2)
_ISP_S = const(3)
_THR_MIN_Q15 = const(4)
_THR_MAX_Q15 = const(5)
_THR_SLEW_Q15 = const(6)
_KP_Q12 = const(10)
_KI_Q12 = const(11)

# fsw.flags values as local constants, folded at compile time (F.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_ENGINE_ON = const(0x20)
_THR_SAT_HI = const(0x40)
_THR_SAT_LO = const(0x80)
_THR_SLEW = const(0x100)
_INTEG_HELD = const(0x200)


_ERR_MAX = const(100000)
_AMAX_CAP = const(32767)  # a_cmd * 32767 // a_max must stay below 2^30
_MASS_ONE_Q24 = const(16777216)
_MASS_MIN_Q24 = const(1048576)  # 1/16 of the start mass
_PERF_ONE = const(4096)  # engine performance: delivered / expected thrust, Q12
_PERF_MIN = const(2048)
_PERF_MAX = const(6144)
_STEADY_TICKS = const(25)  # throttle held this long (0.5 s: 5 lag time constants) first
_STEADY_Q15 = const(328)  # "held": changes below 1 % per tick


class Controller:
    STATE = (
        "flags", "throttle_q15", "integ_q8", "a_cmd_mm_s2", "mass_q24", "_burn_carry",
        "engine_on", "perf_q12", "_steady", "_last_thr", "_burn_q24", "a_max_mm_s2",
    )

    def __init__(self, params):
        self.p = params.v
        self.flags = 0
        self.reset()

    def reset(self):
        p = self.p
        self.throttle_q15 = 0
        self.integ_q8 = 0
        self.a_cmd_mm_s2 = 0
        self.mass_q24 = _MASS_ONE_Q24
        self._burn_carry = 0
        self.engine_on = False
        self.perf_q12 = _PERF_ONE
        self._steady = 0
        self._last_thr = 0
        # mass fraction burnt per tick at full throttle: a_max0 * dt / (Isp * g0), in Q24
        n1 = min(p[_AMAX0_MM_S2] * p[_PERIOD_MS] * 64 // p[_ISP_S], 1000000)
        self._burn_q24 = (n1 * 1000) // 37411
        self.a_max_mm_s2 = _full_thrust(self.p, self.mass_q24, self.perf_q12)

    def _a_max(self):
        return _full_thrust(self.p, self.mass_q24, self.perf_q12)

    def hold_min(self):
        # engine lit at minimum throttle (the engine-check burn)
        self.ignite()
        self.throttle_q15 = self.p[_THR_MIN_Q15]
        self.flags = _ENGINE_ON | _THR_SAT_LO | _INTEG_HELD

    def learn(self, f_meas_mm_s2, fast=False):
        # the accelerometer's specific force over the last tick against what the throttle then
        # held should give: an engine delivering more or less than its parameters is learnt
        # (learning only at a throttle held steady, so the engine lag has settled)
        thr = self.throttle_q15
        if not self.engine_on or thr < self.p[_THR_MIN_Q15]:
            self._steady = 0
            return
        d = thr - self._last_thr
        self._last_thr = thr
        if -_STEADY_Q15 <= d <= _STEADY_Q15:
            n = self._steady  # saturates: "held long enough"
            self._steady = n + 1 if n < _STEADY_TICKS else _STEADY_TICKS
        else:
            self._steady = 0
        if self._steady < _STEADY_TICKS:
            return
        expected = (thr * self.a_max_mm_s2) // 32767
        if expected <= 0:
            return
        f = f_meas_mm_s2
        if f < 0:
            f = 0
        elif f > 32000:
            f = 32000
        # the quotient is bounded before the multiply ((f << 12) // 1 * perf would pass 2^30):
        # at 2 * _PERF_MAX with perf >= _PERF_MIN the ratio is already clamped to _PERF_MAX
        q = (f << 12) // expected
        if q > 2 * _PERF_MAX:
            q = 2 * _PERF_MAX
        ratio = (q * self.perf_q12) >> 12
        if ratio < _PERF_MIN:
            ratio = _PERF_MIN
        elif ratio > _PERF_MAX:
            ratio = _PERF_MAX
        self.perf_q12 += (ratio - self.perf_q12) >> (3 if fast else 5)
        self.a_max_mm_s2 = _full_thrust(self.p, self.mass_q24, self.perf_q12)

    def cutoff(self):
        self.engine_on = False
        self.throttle_q15 = 0
        self.a_cmd_mm_s2 = 0

    def ignite(self):
        if not self.engine_on:
            self.engine_on = True
            self.throttle_q15 = self.p[_THR_MIN_Q15]

    def burn(self):
        # propellant used during the tick that just ended at the throttle then commanded
        acc = self._burn_q24 * self.throttle_q15 + self._burn_carry
        self._burn_carry = acc & 0x7FFF
        if acc >> 15:
            # the mass moved: so did the full-thrust acceleration (else it is what it was:
            # only this, learn() and reset() change what _a_max() reads)
            mass = self.mass_q24 - (acc >> 15)
            if mass < _MASS_MIN_Q24:
                mass = _MASS_MIN_Q24
            self.mass_q24 = mass
            self.a_max_mm_s2 = _full_thrust(self.p, mass, self.perf_q12)

    def spool_down(self):
        # ground contact suspected: bring the throttle to its minimum at the slew rate and
        # hold the integrator; if the vehicle was still flying it sinks and control resumes
        p = self.p
        self.throttle_q15 = max(self.throttle_q15 - p[_THR_SLEW_Q15], p[_THR_MIN_Q15])
        self.integ_q8 = 0
        self.flags = _ENGINE_ON | _INTEG_HELD | _THR_SLEW

    def step(self, vref_mm_s, vel_mm_s, ff_mm_s2):
        p = self.p
        if not self.engine_on:
            self.flags = 0
            self.throttle_q15 = 0
            return
        fl = _ENGINE_ON
        err = vref_mm_s - vel_mm_s
        if err > _ERR_MAX:
            err = _ERR_MAX
        elif err < -_ERR_MAX:
            err = -_ERR_MAX
        a_max = self.a_max_mm_s2
        a_cmd = ff_mm_s2 + ((p[_KP_Q12] * err) >> 12) + (self.integ_q8 >> 8)
        if a_cmd > _AMAX_CAP:
            self.a_cmd_mm_s2 = _AMAX_CAP
        elif a_cmd < -_AMAX_CAP:
            self.a_cmd_mm_s2 = -_AMAX_CAP
        else:
            self.a_cmd_mm_s2 = a_cmd
        a = a_cmd
        if a < 0:
            a = 0
        elif a > a_max:
            a = a_max
        thr = (a * 32767) // a_max
        t_min = p[_THR_MIN_Q15]
        t_max = p[_THR_MAX_Q15]
        hi = False
        lo = False
        if thr >= t_max:
            thr = t_max
            hi = True
            fl |= _THR_SAT_HI
        elif thr <= t_min:
            thr = t_min
            lo = True
            fl |= _THR_SAT_LO
        last = self.throttle_q15
        slew = p[_THR_SLEW_Q15]
        if thr > last + slew:
            thr = last + slew
            hi = True
            fl |= _THR_SLEW
        elif thr < last - slew:
            thr = last - slew
            lo = True
            fl |= _THR_SLEW
        self.throttle_q15 = thr
        if (hi and err > 0) or (lo and err < 0):
            fl |= _INTEG_HELD
        else:
            di = ((p[_KI_Q12] * err) >> 12) * p[_PERIOD_MS] * 32 // 125
            lim = p[_AMAX0_MM_S2] << 7  # +/- a_max0 / 2 in Q8
            integ = self.integ_q8 + di
            if integ > lim:
                integ = lim
            elif integ < -lim:
                integ = -lim
            self.integ_q8 = integ
        self.flags = fl


def _full_thrust(p, mass_q24, perf_q12):
    # the full-thrust acceleration at this mass and engine performance. A module function:
    # a method looked up on a Controller costs ~100 us a call on a 16 MHz Cortex-M0, this
    # ~45 us; bounds as conditional expressions, not min()/clamp() (a call each)
    believed = (p[_AMAX0_MM_S2] << 14) // (mass_q24 >> 10)
    if believed > _AMAX_CAP:
        believed = _AMAX_CAP
    a = (believed * perf_q12) >> 12
    return a if a < _AMAX_CAP else _AMAX_CAP
