# Velocity-schedule guidance with a terminal constant-rate segment.
# Above the terminal altitude the sink-rate reference is
#     v_ref(h) = sqrt(v_td^2 + 2 k (a_max - g) (h_low - h_term)),   h_low = h - n * sigma
# so a true altitude lower than believed can still be stopped at full thrust. Before ignition
# the engine stays off (coast, the fuel-optimal start); it lights when the sink rate reaches the
# schedule minus the distance the thrust build-up needs.
# Uncertainty too large to land (sigma above the terminal altitude: no trusted altitude, e.g.
# no rangefinder at all): the schedule ends at the blind sink rate instead of v_td, and below
# the gate (h_low at the terminal altitude) the vehicle sinks at that constant rate across the
# whole band h_est +/- n sigma (BLIND), touching down at a rate the vehicle survives wherever
# the ground turns out to be; the land detector then recognises the ground by its reaction.
# The velocity has drifted as much as the altitude, so the true sink is the blind rate plus an
# unknown error: a vehicle truly slower than it believes may never get down at a constant rate.
# The rate therefore rises by BLIND_RAMP_MM_S2 each second in the band, up to BLIND_MAX_MM_S:
# early contact (a truly fast vehicle) comes at the slow rate, late contact faster.
# The band is left once the altitude is known again (ranges acquired in it): sigma at half
# the terminal altitude or below for _CLEAR_MS (a noisy rangefinder's scatter that dips
# under the gate now and then does not qualify); fsw/flight.py then re-plans (DESCENT on the
# schedule with its feedforward when the bound is still above the gate).
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.fixmath import isqrt, isqrt_near

# fsw.params values as local constants, folded at compile time (P.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_PERIOD_MS = const(0)
_GRAVITY_MM_S2 = const(1)
_GUID_K_Q12 = const(7)
_VTD_MM_S = const(8)
_TERM_ALT_MM = const(9)
_NSIGMA_Q4 = const(18)
_BLIND_SINK_MM_S = const(30)
_BLIND_RAMP_MM_S2 = const(33)
_BLIND_MAX_MM_S = const(34)
_GUID_KHI_Q12 = const(35)


COAST = const(0)
BRAKE = const(1)
TERMINAL = const(2)
HOVER = const(3)
IDLE = const(4)
TOUCHDOWN = const(5)  # ground contact suspected: engine spooling down
HOLD = const(6)  # baseline "naive": hold the entry sink rate until the rangefinder is valid
CHECK = const(7)  # engine-check burn at minimum throttle during the coast
BLIND = const(8)  # constant blind sink rate across the uncertainty band (no trusted altitude)

_LIM = const(1000000000)  # bound for the squared speed inside isqrt
_VREF_MAX = const(150000)
_RAMP_H_MAX = const(20000)  # the terminal ramp's height bound, mm
_RAMP_A_MAX = const(450)  # the terminal ramp's deceleration bound, mm/s^2 (its tracking lag,
# ~ramp / KP, is added to the touchdown speed)
_LEAD_MS = const(300)  # ignition lead: thrust build-up time (lag + slew) in ms
_CLEAR_MS = const(1000)  # sigma <= TERM_ALT_MM / 2 this long in the band: blind no more


class Guidance:
    STATE = (
        "phase", "vref_mm_s", "h_low_mm", "ka_mm_s2", "ff_mm_s2", "blind", "blind_ms",
        "clear_ms",
    )

    def __init__(self, params):
        self.p = params.v
        self.phase = IDLE
        self.vref_mm_s = 0  # signed reference vertical velocity (down negative)
        self.h_low_mm = 0
        self.ka_mm_s2 = 0  # planned net deceleration k (a_max - g)
        self.ff_mm_s2 = 0  # feedforward acceleration the reference needs (up +)
        self.blind = False  # sigma above the terminal gate: no trusted altitude
        self.blind_ms = 0  # time spent in the blind band
        self.clear_ms = 0  # time in the band with sigma at half the gate or below

    def reset(self):
        self.phase = COAST
        self.vref_mm_s = 0
        self.blind = False
        self.blind_ms = 0
        self.clear_ms = 0

    def end_rate(self):
        # the sink rate the schedule ends at: v_td, or the blind rate without a trusted altitude
        return self.p[_BLIND_SINK_MM_S] if self.blind else self.p[_VTD_MM_S]

    def schedule(self, h_mm):
        # sink speed (mm/s, >= the end rate) allowed at height h_mm above the terminal gate.
        # The square root starts from the last tick's reference (the same root, found in 2-3
        # Newton steps instead of 15 rounds); bounds are conditional expressions, not
        # min()/max() calls (~0.1 ms each on a 16 MHz Cortex-M0)
        p = self.p
        vtd = p[_BLIND_SINK_MM_S] if self.blind else p[_VTD_MM_S]  # end_rate()
        ka2 = 2 * self.ka_mm_s2
        h = h_mm if h_mm > 0 else 0
        hint = -self.vref_mm_s
        v2 = vtd * vtd
        if not self.blind:
            # ... and at the gate the terminal ramp's speed (2 * 8191 * 20000 < 2^29)
            t = p[_TERM_ALT_MM]
            a = self.ka_mm_s2 >> 2
            if a > _RAMP_A_MAX:
                a = _RAMP_A_MAX
            v2 += 2 * a * (t if t < _RAMP_H_MAX else _RAMP_H_MAX)
        if h <= (_LIM - v2) // ka2:
            return isqrt_near(v2 + ka2 * h, hint)
        # beyond the mm range: speed in cm/s (v^2 in cm^2/s^2 = 2 ka[mm/s^2] h[cm] / 10)
        h_c = h // 10
        top = _LIM // ka2
        if h_c > top:
            h_c = top
        v = isqrt_near(v2 // 100 + (ka2 * h_c) // 10, hint // 10) * 10
        return v if v < _VREF_MAX else _VREF_MAX

    def step(self, alt_mm, vel_mm_s, sigma_mm, a_max_mm_s2, terminal, hover):
        p = self.p
        g = p[_GRAVITY_MM_S2]
        a_n = a_max_mm_s2 - g
        if a_n < 100:
            a_n = 100
        h_low = alt_mm - ((p[_NSIGMA_Q4] * sigma_mm) >> 4)
        self.h_low_mm = h_low
        # once below the gate blind, blind until the altitude is known again: sigma at half
        # the gate or below for _CLEAR_MS (an LRF's filtered sigma sits at ~0.5 m) (a rangefinder's scatter that dips under
        # the gate now and then does not make its altitude good to the land detector's 0.3 m)
        term_alt = p[_TERM_ALT_MM]
        loose = sigma_mm > term_alt
        blind = loose
        clear = 0
        if terminal and self.blind and not loose:
            blind = True
            if 2 * sigma_mm <= term_alt:
                clear = self.clear_ms + p[_PERIOD_MS]
                if clear >= _CLEAR_MS:
                    blind = False
                    clear = 0
                    self.blind_ms = 0
        self.clear_ms = clear
        self.blind = blind
        # the k margin: an altitude known to the terminal gate needs little of it (the schedule
        # only has to cover tracking); a loose one keeps GUID_K for what lies beyond n sigma
        k = p[_GUID_K_Q12] if loose else p[_GUID_KHI_Q12]
        ka = (k * a_n) >> 12
        if ka < 10:
            ka = 10
        self.ka_mm_s2 = ka
        if hover:
            self.phase = HOVER
            self.vref_mm_s = 0
            self.ff_mm_s2 = g
            return
        if terminal:
            if self.blind:
                self.phase = BLIND
                t = self.blind_ms + p[_PERIOD_MS]
                if t > 1000000:
                    t = 1000000
                self.blind_ms = t
                sink = p[_BLIND_SINK_MM_S] + (p[_BLIND_RAMP_MM_S2] * t) // 1000
                if sink > p[_BLIND_MAX_MM_S]:
                    sink = p[_BLIND_MAX_MM_S]
                h_sched = h_low - p[_TERM_ALT_MM]
                if h_sched > 0:
                    # back above the band (a drifted velocity carried it up): the schedule
                    v = Guidance.schedule(self, h_sched)
                    if v > sink:
                        sink = v
                self.vref_mm_s = -sink
            else:
                self.phase = TERMINAL
                # the terminal ramp: the sink falls to v_td by the altitude's lower bound at a
                # quarter of the braking deceleration, at most _RAMP_A_MAX (what the last
                # metres cost is g times their duration: a constant v_td from the gate was
                # ~7 m/s of the nominal's ~10 above the optimum). h bounded: 2 * _RAMP_A_MAX
                # * 20000 + vtd^2 < 2^30
                h = h_low if h_low > 0 else 0
                if h > _RAMP_H_MAX:
                    h = _RAMP_H_MAX
                vtd = p[_VTD_MM_S]
                a = ka >> 2
                if a > _RAMP_A_MAX:
                    a = _RAMP_A_MAX
                self.vref_mm_s = -isqrt_near(vtd * vtd + 2 * a * h, -self.vref_mm_s)
            self.ff_mm_s2 = g
            return
        h_sched = h_low - p[_TERM_ALT_MM]
        # (schedule() through the class: a method looked up on the instance costs ~80 us a
        # call on a 16 MHz Cortex-M0, through the class ~60 us)
        sink_ref = Guidance.schedule(self, h_sched)
        self.vref_mm_s = -sink_ref
        phase = self.phase
        if phase == COAST and -vel_mm_s + (ka * _LEAD_MS) // 1000 >= sink_ref:
            phase = BRAKE
            self.phase = BRAKE
        if phase != BRAKE:
            self.ff_mm_s2 = 0
        elif h_sched > 0:
            # the reference changes at dv_ref/dt = k (a_max - g) * sink / sink_ref along the
            # actual path: the full schedule deceleration on the schedule, less when sinking
            # slower (none when rising), never more
            sink = -vel_mm_s
            if sink < 0:
                sink = 0
            elif sink > sink_ref:
                sink = sink_ref
            ratio_q12 = (sink << 12) // (sink_ref if sink_ref > 1 else 1)
            self.ff_mm_s2 = g + ((ka * ratio_q12) >> 12)
        else:
            self.ff_mm_s2 = g

    def band_s(self, band_mm):
        # seconds the blind descent takes to cover band_mm (ramp and limit included)
        p = self.p
        v0 = p[_BLIND_SINK_MM_S]
        vmax = max(p[_BLIND_MAX_MM_S], v0)
        a = p[_BLIND_RAMP_MM_S2]
        if a == 0:
            return band_mm // v0
        t1 = (vmax - v0) // a  # seconds to reach the limit
        d1 = (v0 + vmax) * t1 // 2
        if d1 >= band_mm:
            return (isqrt(v0 * v0 + 2 * a * band_mm) - v0) // a
        return t1 + (band_mm - d1) // vmax

    def hold(self, vref_mm_s, g):
        # keep the sink rate constant, engine lit (what a lander waiting for its altimeter does)
        self.phase = HOLD
        self.vref_mm_s = vref_mm_s
        self.ff_mm_s2 = g

    def at_gate(self):
        # the conservative altitude bound has reached the terminal gate
        return self.h_low_mm <= self.p[_TERM_ALT_MM]
