# The flight: mode machine and the tick (sensors -> estimator -> guidance -> controller ->
# land detector -> mode), on plain integer inputs so every HAL (link, board) drives it alike.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw import flags as F
from fsw import params as P
from fsw.control import Controller
from fsw.estimator import Estimator
from fsw.fixmath import ticks_diff
from fsw.guidance import CHECK, TOUCHDOWN, Guidance
from fsw.landdet import LandDetector
from fsw.rangefinder import RF_GOOD

# modes
SAFE = const(0)
ARMED = const(1)
DESCENT = const(2)
TERMINAL = const(3)
LANDED = const(4)
ABORT = const(5)


# events (code, arg)
EV_MODE = const(1)  # arg: new mode
EV_IGNITION = const(2)  # arg: altitude estimate, mm
EV_CUTOFF = const(3)  # arg: altitude estimate, mm
EV_FAULT = const(4)  # arg: fault count (an exception was caught in the loop)
EV_ARM_REFUSED = const(5)  # arg: param id * 8 + reason
EV_REBASE = const(6)  # arg: new altitude, mm
EV_EXCLUDE = const(7)  # baseline latching: rangefinder excluded for good; arg: altitude, mm
EV_TRUST = const(8)  # baseline naive: first valid range taken as the altitude; arg: mm
EV_CHECKED = const(9)  # engine-check burn done; arg: engine performance, Q12 (4096 = as told)

_MAX_STEPS = const(4)  # prediction steps per tick when ticks arrive late
_MAX_AGE_MS = const(500)  # an older reading is stale: not used (flagged RANGE_STALE)


class Flight:
    def __init__(self, params, events):
        # events: callable(code, arg) that reports an event on the link
        self.params = params
        self.p = params.v
        self.est = Estimator(params)
        self.guid = Guidance(params)
        self.ctrl = Controller(params)
        self.land = LandDetector(params)
        self._event = events
        self.mode = SAFE
        self.ticks = 0
        self.now_us = 0
        self._last_us = 0
        self._started = False
        self.overruns = 0
        self.flags = 0
        self.flags2 = 0  # second decision word (fsw.flags FLAGS2 bits)
        self.range_mm = 0
        self.arm_reason = 0  # param id * 8 + reason of the last refused ARM
        self._trusted = True  # baseline naive: a valid range has been seen
        self._check_ms = 0
        self.phase = 4  # phase as reported: fsw.guidance phases plus CHECK and TOUCHDOWN

    def set_mode(self, mode):
        if mode != self.mode:
            self.mode = mode
            self._event(EV_MODE, mode)

    def arm(self):
        if self.mode != SAFE:
            return P.E_MODE
        bad = self.params.check()
        self.arm_reason = bad
        if bad:
            self._event(EV_ARM_REFUSED, bad)
            return P.E_CROSS
        self.set_mode(ARMED)
        return P.OK

    def disarm(self):
        if self.mode != ARMED:
            return P.E_MODE
        self.set_mode(SAFE)
        return P.OK

    def start(self):
        if self.mode != ARMED:
            return P.E_MODE
        p = self.p
        self.est.reset(p[P.INIT_ALT_MM], p[P.INIT_VEL_MM_S], p[P.SIGMA0_MM])
        self.guid.reset()
        self.ctrl.reset()
        self.land.reset()
        self.est.latching = p[P.BASELINE] == 2
        self._trusted = p[P.BASELINE] != 1
        self._check_ms = p[P.CAL_MS]  # engine-check burn still to do
        self._started = False
        self.set_mode(DESCENT)
        return P.OK

    def abort(self):
        if self.mode == DESCENT or self.mode == TERMINAL:
            self.set_mode(ABORT)
            return P.OK
        return P.E_MODE

    def tick(self, now_us, range_mm, range_status, acc_mm_s2, acc_ok, range_age_ms=0):
        # range_age_ms: how old the range is (-1: not a new reading since the last tick, so
        # not used again); the altitude it gives is carried forward by that age
        p = self.p
        self.ticks += 1
        self.now_us = now_us
        self.range_mm = range_mm
        period_us = p[P.PERIOD_MS] * 1000
        steps = 1
        fl = 0
        if self._started:
            dt = ticks_diff(now_us, self._last_us)
            if dt > period_us + (period_us >> 1):
                self.overruns += 1
                fl |= F.OVERRUN
            steps = (dt + (period_us >> 1)) // period_us
            if steps < 0:
                steps = 0
            elif steps > _MAX_STEPS:
                steps = _MAX_STEPS
        self._started = True
        self._last_us = now_us
        mode = self.mode
        self.flags2 = 0
        if mode < DESCENT or mode == LANDED:
            self.ctrl.cutoff()
            self.flags = fl
            return
        est = self.est
        ctrl = self.ctrl
        # 1. propagate: accelerometer when good, else the thrust model
        if acc_ok:
            acc = acc_mm_s2 - p[P.GRAVITY_MM_S2]
            fl |= F.IMU_USED
        else:
            acc = (ctrl.throttle_q15 * ctrl.a_max_mm_s2) // 32767 - p[P.GRAVITY_MM_S2]
        for _ in range(steps):
            ctrl.burn()
            est.predict(acc, p[P.PERIOD_MS], acc_ok)
        if acc_ok and not self.land.contact:
            ctrl.learn(acc_mm_s2, self._check_ms > 0)
        # 2. range update
        if range_status == RF_GOOD and 0 < range_mm <= p[P.MAX_RANGE_MM] and range_age_ms >= 0:
            fl |= F.RANGE_GOOD
        if fl & F.RANGE_GOOD and range_age_ms > _MAX_AGE_MS:
            self.flags2 = F.RANGE_STALE  # too old to carry forward by the velocity: not used
        elif fl & F.RANGE_GOOD:
            meas = range_mm - p[P.CLEARANCE_MM] + (est.vel_mm_s() * range_age_ms) // 1000
            if not self._trusted:
                # baseline naive: the first valid range is the altitude, no questions asked
                self._trusted = True
                est.rebase(meas)
                self._event(EV_TRUST, meas)
                r = F.RANGE_USED
            else:
                excluded = est.excluded
                r = est.update(meas)
                self.flags2 = est.flags2
                if est.excluded and not excluded:
                    self._event(EV_EXCLUDE, est.alt_mm)
            fl |= r
            if r == F.RANGE_REBASED:
                self._event(EV_REBASE, est.alt_mm)
        alt = est.alt_mm
        vel = est.vel_mm_s()
        if est.sigma_mm > p[P.TERM_ALT_MM]:
            fl |= F.SIGMA_HIGH
        # 3. guidance, and the switch to terminal descent once the conservative altitude
        #    bound reaches the terminal gate (the schedule is then at the terminal rate)
        guid = self.guid
        if self._trusted:
            guid.step(alt, vel, est.sigma_mm, ctrl.a_max_mm_s2, mode == TERMINAL, mode == ABORT)
        else:
            guid.hold(p[P.INIT_VEL_MM_S], p[P.GRAVITY_MM_S2])
        if mode == DESCENT and guid.phase == 1 and guid.at_gate():
            self.set_mode(TERMINAL)
            mode = TERMINAL
            guid.step(alt, vel, est.sigma_mm, ctrl.a_max_mm_s2, True, False)
        # 4. control
        self.phase = guid.phase
        checking = False
        if self._check_ms > 0 and guid.phase == 0 and mode == DESCENT:
            # engine-check burn: learn what the engine really gives before planning on it
            checking = True
            self.phase = CHECK
            if not ctrl.engine_on:
                self._event(EV_IGNITION, alt)
            self._check_ms -= p[P.PERIOD_MS]
            if self._check_ms <= 0:
                self._check_ms = 0
                self._event(EV_CHECKED, ctrl.perf_q12)
        elif self._check_ms > 0 and guid.phase != 0:
            self._check_ms = 0  # braking already: the engine is learnt on the way
        if guid.phase != 0 and not ctrl.engine_on:
            ctrl.ignite()  # any phase but COAST lights the engine
            self._event(EV_IGNITION, alt)
        land = self.land
        if mode == TERMINAL and land.contact:
            self.phase = TOUCHDOWN
            ctrl.spool_down()
        elif checking:
            ctrl.hold_min()
            if self._check_ms == 0:
                ctrl.cutoff()  # check done: back to the coast, engine off
        else:
            ctrl.step(guid.vref_mm_s, vel, guid.ff_mm_s2)
        fl |= ctrl.flags
        # 5. land detector (its verdict acts on the next tick's control)
        if mode == TERMINAL:
            # with no trusted altitude (sigma above the terminal gate) "low" cannot be known:
            # commanding a descent yet not moving is the ground holding the vehicle up
            land_alt = 0 if fl & F.SIGMA_HIGH else alt
            if land.step(land_alt, vel, ctrl.throttle_q15, ctrl.engine_on):
                ctrl.cutoff()
                self._event(EV_CUTOFF, alt)
                self.set_mode(LANDED)
            fl |= land.flags
        self.flags = fl
