# The flight: mode machine and the tick (sensors -> estimator -> guidance -> controller ->
# land detector -> mode), on plain integer inputs so every HAL (link, board) drives it alike.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.control import Controller
from fsw.estimator import Estimator
from fsw.guidance import BRAKE, CHECK, COAST, TOUCHDOWN, Guidance
from fsw.landdet import LandDetector

# fsw.params values as local constants, folded at compile time (P.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_OK = const(0)
_PERIOD_MS = const(0)
_GRAVITY_MM_S2 = const(1)
_ISP_S = const(3)
_E_MODE = const(3)
_E_CROSS = const(4)
_E_PREFLIGHT = const(7)
_VTD_MM_S = const(8)
_TERM_ALT_MM = const(9)
_SIGMA0_MM = const(15)
_SIGMA_GROW_MM_S = const(16)
_NSIGMA_Q4 = const(18)
_CLEARANCE_MM = const(19)
_INIT_ALT_MM = const(23)
_INIT_VEL_MM_S = const(24)
_MAX_RANGE_MM = const(25)
_BASELINE = const(27)
_CAL_MS = const(28)
_DRY_Q15 = const(31)
_RESERVE_S = const(32)

# fsw.flags values as local constants, folded at compile time (F.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_RANGE_GOOD = const(0x1)
_RANGE_USED = const(0x2)
_RANGE_STALE = const(0x2)
_RANGE_REBASED = const(0x8)
_IMU_USED = const(0x10)
_BLIND = const(0x100)
_SCATTER_SIGMA = const(0x200)
_RESERVE = const(0x400)
_RESUMED = const(0x800)
_PREFLIGHT_BAD = const(0x1000)
_ACC_CLAMPED = const(0x2000)
_RANGE_REVERTED = const(0x10)
_RANGE_CANDIDATE = const(0x40)
_LAND_IMPACT = const(0x4000)
_OVERRUN = const(0x2000)
_SIGMA_HIGH = const(0x4000)
_ACC_BAD = const(0x8000)

_TICKS_MASK = const(0x3FFFFFFF)  # fsw.fixmath.TICKS_MASK
_TICKS_HALF = const(0x20000000)  # fsw.fixmath.TICKS_HALF
_RF_NOT_CONNECTED = const(0)  # fsw.rangefinder.RF_NOT_CONNECTED
_RF_NO_DATA = const(1)  # fsw.rangefinder.RF_NO_DATA
_RF_GOOD = const(4)  # fsw.rangefinder.RF_GOOD


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
EV_BLIND = const(10)  # terminal gate reached with no trusted altitude (sigma > TERM_ALT_MM): the
# blind descent begins; arg: seconds the band h_est +/- n sigma takes at the blind rate
EV_SHORT = const(11)  # that band cannot be covered with the propellant above the reserve;
# arg: seconds of hover the propellant above the reserve gives
EV_RESERVE = const(12)  # propellant down to the reserve (RESERVE_S of hover) before touchdown
# was recognised: the declared outcome of a descent that found no ground; arg: altitude, mm
EV_ACC_CAL = const(13)  # accelerometer bias measured in the engine-off coast (free fall reads
# zero); arg: bias, mm/s^2 Q8, subtracted from every later reading
EV_RESUMED = const(14)  # first tick after a reset restored the state; arg: gap, ms (-1: unknown)
EV_ARM_OVERRIDE = const(15)  # armed by override despite a failed preflight check; arg: reason
# (16-19: the board loop's, firmware/hal/board_loop.py)
EV_REVERT = const(20)  # ranges matched the track the last re-base left (the ground seen before
# it, where it would be now): that re-base was onto a false return, back; arg: new altitude, mm
EV_IMPACT = const(21)  # land detector: a ground impact (a specific force the thrust cannot give)
# while low: contact held from here, the engine spools down; arg: that force, mm/s^2
EV_HOLD = const(22)  # rejected ranges agree on ground farther away (a terrain step or a false
# return): held as a candidate, not re-based onto until it persists; arg: its offset, mm
EV_SIGHTED = const(23)  # the blind descent ended: the altitude is known again (sigma at
# half the terminal altitude or below for a second); arg: altitude, mm. Still above the terminal
# gate, the mode goes back to DESCENT: the schedule with its feedforward, braking
EV_ACC_BAD = const(24)  # the accelerometer monitor distrusts the accelerometer (or finds a new
# reason while it does): the thrust model propagates; arg: the ACC_* reasons seen so far
EV_ACC_GOOD = const(25)  # the accelerometer is trusted again after ACC_CLEAN clean ticks; arg:
# ticks it was distrusted (capped at 2^20)

# accelerometer monitor reasons (EV_ACC_BAD arg, bits)
ACC_DROPOUT = const(1)  # no sample (acc_ok false)
ACC_FROZEN = const(2)  # the same sample ACC_FROZEN_N + 1 times in a row (stuck, frozen, clipped)
ACC_STEP = const(4)  # a jump from one sample to the next the thrust model does not explain
ACC_LEVEL = const(8)  # the reading against the thrust model moved off its trusted level
ACC_NOISE = const(16)  # the sample-to-sample scatter is far above the sensor's

# ARM refusal reasons (ACK value and EV_ARM_REFUSED arg): parameter id * 8 + fsw.params E_*
# (below 0x100), or a preflight sensor check
AR_NO_SENSOR_DATA = const(0x100)  # no tick since boot: the sensors were never read
AR_IMU = const(0x101)  # the accelerometer sample of the last tick was not good
AR_RANGEFINDER = const(0x110)  # + rangefinder status (RF_NOT_CONNECTED / RF_NO_DATA)

_MAX_STEPS = const(4)  # prediction steps per tick when ticks arrive late
_MAX_AGE_MS = const(500)  # an older reading is stale: not used (flagged RANGE_STALE)
_CAL_SETTLE = const(25)  # coast ticks after the engine went off before calibrating (5 lags)
_CAL_MIN = const(50)  # coast ticks needed for a bias measurement
_CAL_MAX = const(4096)  # ... and used at most
_CAL_LIM = const(1000)  # readings clamped to +/- 0.1 g (the sum * 256 stays within 2^30)
_G0_MM_S2 = const(9807)
_SCATTER_MAX = const(50000)  # innovations counted in the range scatter up to this
_VIN_MAX_Q8 = const(38400000)  # inertial velocity limit: 150 m/s
_RESUME_STEPS = const(100)  # prediction steps allowed once, across a reset's outage
_RF_QUIET_MAX = const(25)  # preflight: the rangefinder answered within this many ticks
_ACC_FS = const(627648)  # accelerometer samples beyond +/-64 g are clamped (flag ACC_CLAMPED)
_COUNT_MASK = const(0x1FFFFFFF)  # event counters (overruns) wrap at 2^29: never a heap int
# accelerometer monitor (_acc_health): thresholds in mm/s^2 grow with the full-thrust
# acceleration (the thrust model's error does: engine lag, performance not yet learnt)
_ACC_FROZEN_N = const(10)  # identical samples in a row (after the first) that read as frozen
# (a real part at 16 g reads ~1 LSB of noise, 4.8 mm/s^2: 11 equal samples ~1e-5 a tick)
_ACC_CLEAN = const(25)  # clean ticks before a distrusted accelerometer is used again
_ACC_ACCEPT = const(150)  # ticks of a steady level shift alone before it is the new level
_ACC_LOW_MM = const(2000)  # model checks only while the altitude's lower bound is above this
_ACC_STEP0 = const(250)  # step threshold: _ACC_STEP0 + a_max / 32
_ACC_LEVEL0 = const(350)  # level threshold: _ACC_LEVEL0 + a_max / 32 (clean: below half)
_ACC_JMAX = const(1048576)  # |jump| clamped here before it is averaged
# the monitor's state, items of Flight.acc
_A_GOOD = const(0)  # 1: the accelerometer is trusted
_A_WHY = const(1)  # ACC_* reasons seen while distrusted
_A_PREV = const(2)  # last sample, mm/s^2
_A_MPREV = const(3)  # last thrust model (specific force), mm/s^2
_A_SAME = const(4)  # identical samples in a row (-1: no sample yet)
_A_FAST = const(5)  # reading - thrust model, mm/s^2 Q4, low-passed over ~16 ticks
_A_BASE = const(6)  # ... its trusted level, Q4, over ~64 ticks while trusted
_A_DEV = const(7)  # |step not explained by the thrust model|, over ~8 ticks
_A_N = const(8)  # clean ticks (distrusted) / ticks of a level shift alone
_A_BAD = const(9)  # ticks distrusted
_A_LEN = const(10)
_STOP_H_MIN = const(250)  # terminal stopping feedforward: the height it plans on at least, mm
_STOP_V_MAX = const(3000)  # ... and the sink it counts at most, cm/s


class Flight:
    # what a reset must not lose (fsw.persist); the mode first
    STATE = (
        "mode", "ticks", "now_us", "_last_us", "_started", "overruns", "arm_reason",
        "_trusted", "_check_ms", "phase", "sensor_ticks", "rf_quiet", "_reserve", "_off", "_cal_sum",
        "_cal_n", "acc_bias_q8", "_bias_carry", "scatter_q4", "_vin_q8", "_thr_lag",
    )

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
        self.resuming = False  # state restored after a reset; the next tick bridges the gap
        self.sensor_ticks = 0  # ticks seen since boot (capped): the sensors have been read
        self.acc_ok_in = 0  # the last tick's accelerometer health
        self.rf_status_in = _RF_NOT_CONNECTED  # the last tick's rangefinder status
        self.rf_quiet = 1000  # ticks since the rangefinder last answered (capped)
        self.acc = [0] * _A_LEN  # the accelerometer monitor's state
        self._acc_clear()
        self._clear_descent()
        self._bind()
        # the per-tick entry point as an instance attribute: a caller's flight.tick(...) then
        # finds it in the instance's attribute map (~8 us on a 16 MHz Cortex-M0) instead of
        # missing it there and searching the class (~120 us more on an object this size)
        self.tick = self.tick

    def _bind(self):
        # the components' per-tick methods, looked up once: a method call on an object with
        # many attributes costs up to ~165 us on a 16 MHz Cortex-M0 (the name misses the
        # instance's attribute map before the class is searched), a bound method held in an
        # attribute ~47 us. (Whatever replaces a component's method, such as the PIL
        # harness's timers, calls this again.)
        est = self.est
        ctrl = self.ctrl
        self._predict = est.predict
        self._update = est.update
        self._burn = ctrl.burn
        self._learn = ctrl.learn
        self._ctrl_step = ctrl.step
        self._cutoff = ctrl.cutoff
        self._guid_step = self.guid.step
        self._land_step = self.land.step

    def _clear_descent(self):
        # what one descent builds up; start() clears it for the next
        self._reserve = False  # propellant reserve reached and declared
        self._off = 0  # coast ticks with the engine off
        self._cal_sum = 0  # accelerometer readings summed over the engine-off coast
        self._cal_n = 0
        self.acc_bias_q8 = 0  # accelerometer bias measured in the coast (mm/s^2 Q8)
        self._bias_carry = 0
        self.scatter_q4 = 0  # mean |innovation| of the ranges used, mm Q4
        self._vin_q8 = 0  # inertial-only velocity below the gate when blind, mm/s Q8
        self._thr_lag = 0  # throttle through a model of the engine lag, Q15

    def _acc_clear(self):
        # the accelerometer monitor's state (_acc_health, items _A_*), filled in place; not
        # persisted: after a reset it starts over
        m = self.acc
        for i in range(_A_LEN):
            m[i] = 0
        m[_A_GOOD] = 1
        m[_A_SAME] = -1

    def set_mode(self, mode):
        if mode != self.mode:
            self.mode = mode
            self._event(EV_MODE, mode)

    def preflight(self):
        # sensor checks on the last tick: 0 when healthy, else an AR_* reason
        if self.sensor_ticks == 0:
            return AR_NO_SENSOR_DATA
        if not self.acc_ok_in:
            return AR_IMU
        if self.rf_quiet >= _RF_QUIET_MAX:
            # a rangefinder that answers (even out of range, far above the ground) is healthy;
            # one that has not answered for half a second is not (a lossy link that drops
            # frames now and then still answers)
            return AR_RANGEFINDER + self.rf_status_in
        return 0

    def arm(self, override=False):
        # parameters must be valid; the sensors must be healthy unless the operator overrides
        # (a handover with a known-bad sensor: the reason is still reported, as an event)
        if self.mode != SAFE:
            return _E_MODE
        bad = self.params.check()
        code = _E_CROSS
        if not bad:
            bad = self.preflight()
            code = _E_PREFLIGHT
            if bad and override:
                self._event(EV_ARM_OVERRIDE, bad)
                bad = 0
        self.arm_reason = bad
        if bad:
            self._event(EV_ARM_REFUSED, bad)
            return code
        self.set_mode(ARMED)
        return _OK

    def disarm(self):
        if self.mode != ARMED:
            return _E_MODE
        self.set_mode(SAFE)
        return _OK

    def start(self):
        if self.mode != ARMED:
            return _E_MODE
        p = self.p
        self.est.reset(p[_INIT_ALT_MM], p[_INIT_VEL_MM_S], p[_SIGMA0_MM])
        self.guid.reset()
        self.ctrl.reset()
        self.land.reset()
        self.est.latching = p[_BASELINE] == 2
        self._trusted = p[_BASELINE] != 1
        self._check_ms = p[_CAL_MS]  # engine-check burn still to do
        self._started = False
        self._clear_descent()
        self._acc_clear()
        self.set_mode(DESCENT)
        return _OK

    def abort(self):
        if self.mode == DESCENT or self.mode == TERMINAL:
            self.set_mode(ABORT)
            return _OK
        return _E_MODE

    def _resume(self, dt_us, steps):
        # the first tick after a reset: propagate across the outage (its length from the
        # clock when the clock ran on, bounded; one step and a wider sigma when it did not)
        self.resuming = False
        self.ctrl._steady = 0  # the reset cut the engine: no steady throttle to learn from
        self._thr_lag = 0  # ... and the thrust the lag model holds (the accelerometer monitor)
        if 0 < steps <= _RESUME_STEPS:
            self._event(EV_RESUMED, dt_us // 1000)
            return steps
        self._event(EV_RESUMED, -1)
        est = self.est
        # (6 km: the estimator's sigma limit, fsw/estimator.py)
        est.sigma_mm = min(est.sigma_mm + self.p[_SIGMA_GROW_MM_S] * 2, 6000000)
        return 1

    def tick(self, now_us, range_mm, range_status, acc_mm_s2, acc_ok, range_age_ms=0):
        # range_age_ms: how old the range is (-1: not a new reading since the last tick, so
        # not used again); the altitude it gives is carried forward by that age.
        # Shaped for a 16 MHz Cortex-M0 (docs/architecture.md, "The tick on a 16 MHz
        # Cortex-M0"): bounds as conditional expressions, not min()/max() (a call ~40 us);
        # the components' methods through the bound methods of _bind(); helpers of this
        # class as module functions (a method looked up on this attribute-heavy object
        # costs ~165 us a call, a module function ~40 us); each attribute read once
        p = self.p
        # wraps at 2^30, as its telemetry field (ticks + 1 would itself be 2^30: not formed)
        n = self.ticks
        self.ticks = n + 1 if n < _TICKS_MASK else 0
        self.now_us = now_us
        self.range_mm = range_mm
        n = self.sensor_ticks
        self.sensor_ticks = n + 1 if n < 1000 else 1000
        self.acc_ok_in = acc_ok
        self.rf_status_in = range_status
        if range_status == _RF_NOT_CONNECTED or range_status == _RF_NO_DATA:
            n = self.rf_quiet
            self.rf_quiet = n + 1 if n < 1000 else 1000
        else:
            self.rf_quiet = 0
        pm = p[_PERIOD_MS]
        period_us = pm * 1000
        steps = 1
        fl = 0
        resuming = self.resuming
        f2 = _RESUMED if resuming else 0
        if acc_mm_s2 > _ACC_FS or acc_mm_s2 < -_ACC_FS:
            # beyond any sane full scale (the link carries up to +/-2^30; a crash's impulse
            # over one tick reads hundreds of g): clamped, so that the bias, gravity,
            # integration and the accelerometer monitor below stay within 2^30 (the monitor
            # sees a sample marked bad too); flagged when the sample was marked good
            acc_mm_s2 = _ACC_FS if acc_mm_s2 > 0 else -_ACC_FS
            if acc_ok:
                f2 |= _ACC_CLAMPED
        if self._started:
            # ticks_diff(now_us, self._last_us), written out
            dt = ((now_us & _TICKS_MASK) - (self._last_us & _TICKS_MASK)) & _TICKS_MASK
            if dt >= _TICKS_HALF:
                dt = dt - _TICKS_HALF - _TICKS_HALF
            if dt > period_us + (period_us >> 1):
                self.overruns = (self.overruns + 1) & _COUNT_MASK
                fl |= _OVERRUN
            steps = (dt + (period_us >> 1)) // period_us
            if resuming:
                steps = self._resume(dt, steps)
            elif steps < 0:
                steps = 0
            elif steps > _MAX_STEPS:
                steps = _MAX_STEPS
        self._started = True
        self._last_us = now_us
        mode = self.mode
        self.flags2 = 0
        if mode < DESCENT or mode == LANDED:
            self._cutoff()
            self.flags = fl
            if mode < DESCENT and self.preflight():
                f2 |= _PREFLIGHT_BAD
            self.flags2 = f2
            return
        est = self.est
        ctrl = self.ctrl
        guid = self.guid
        land = self.land
        g = p[_GRAVITY_MM_S2]
        # 1. propagate: accelerometer when good (less the bias measured in the coast), else
        #    the thrust model (what the engine should give); the throttle through a model of
        #    the engine's lag (time constant ~4 ticks), for the ground reaction: the specific
        #    force the thrust does not explain, the ground holding the vehicle up
        thr = ctrl.throttle_q15
        lag = self._thr_lag
        lag += (thr - lag) >> 2
        self._thr_lag = lag
        reaction = 0
        model = (lag * ctrl.a_max_mm_s2) // 32767
        # the accelerometer monitor: a sample the checks distrust is not used (thrust model)
        acc_ok = _acc_health(self, acc_mm_s2, acc_ok, model, ctrl.a_max_mm_s2,
                             guid.h_low_mm > _ACC_LOW_MM and not land.contact)  # fmt: skip
        if not acc_ok:
            f2 |= _ACC_BAD
        if acc_ok:
            if mode == DESCENT:
                _calibrate(self, acc_mm_s2)
            b = self.acc_bias_q8 + self._bias_carry
            self._bias_carry = b & 0xFF
            f = acc_mm_s2 - (b >> 8)
            acc = f - g
            reaction = f - model
            fl |= _IMU_USED
        else:
            f = 0
            acc = (thr * ctrl.a_max_mm_s2) // 32767 - g
        burn = self._burn
        predict = self._predict
        for _ in range(steps):
            burn()
            predict(acc, pm, acc_ok)
        blind = mode == TERMINAL and guid.blind
        if blind:
            # below the gate blind: the velocity from the accelerometer alone, corrected by the
            # coast's bias measurement only (ranges whose scatter is metres would hide the
            # ground's signature, the velocity stopping, and bias the filter's own estimate)
            # (acc * period * 32 * steps) // 125 split so that no product passes 2^30 (|acc| is
            # at most 64 g + g + bias, steps up to _RESUME_STEPS after a reset): same result
            dv = acc * pm * 32
            v = self._vin_q8 + (dv // 125) * steps + ((dv % 125) * steps) // 125
            # ... pulled towards the filter's velocity over ~10 s (its noise averages out,
            # the ground's sudden stop does not)
            v += (est.vel_q8 - v) >> 9
            if v > _VIN_MAX_Q8:
                v = _VIN_MAX_Q8
            elif v < -_VIN_MAX_Q8:
                v = -_VIN_MAX_Q8
            self._vin_q8 = v
        else:
            self._vin_q8 = est.vel_q8
        check_ms = self._check_ms
        if acc_ok and not land.contact:
            self._learn(f, check_ms > 0)
        # 2. range update
        if range_status == _RF_GOOD and 0 < range_mm <= p[_MAX_RANGE_MM] and range_age_ms >= 0:
            fl |= _RANGE_GOOD
            if range_age_ms > _MAX_AGE_MS:
                f2 |= _RANGE_STALE  # too old to carry forward by the velocity: not used
            else:
                meas = range_mm - p[_CLEARANCE_MM] + ((est.vel_q8 >> 8) * range_age_ms) // 1000
                if not self._trusted:
                    # baseline naive: the first valid range is the altitude, no questions asked
                    self._trusted = True
                    est.rebase(meas)
                    self._event(EV_TRUST, meas)
                    r = _RANGE_USED
                else:
                    excluded = est.excluded
                    innov = meas - est.alt_mm
                    r = self._update(meas)
                    f2 |= est.flags2
                    if est.excluded and not excluded:
                        self._event(EV_EXCLUDE, est.alt_mm)
                    if r == _RANGE_USED:
                        # range scatter: mean |innovation| of the ranges used (Q4, ~1 s memory)
                        a = innov if innov >= 0 else -innov
                        a = (a if a < _SCATTER_MAX else _SCATTER_MAX) << 4
                        self.scatter_q4 += (a - self.scatter_q4) >> 4
                fl |= r
                if f2 & _RANGE_CANDIDATE:
                    self._event(EV_HOLD, meas - est.alt_mm)
                if r == _RANGE_REBASED:
                    if est.flags2 & _RANGE_REVERTED:
                        self._event(EV_REVERT, est.alt_mm)
                    else:
                        self._event(EV_REBASE, est.alt_mm)
        alt = est.alt_mm
        vel = (self._vin_q8 if blind else est.vel_q8) >> 8
        # the altitude is no better than the ranges' scatter: a noisy rangefinder leaves the
        # estimate (and the velocity the filter derives from it) that uncertain, whatever sigma
        # the filter's gains give; guidance plans on the larger of the two
        est_sigma = est.sigma_mm
        sigma = self.scatter_q4 >> 4
        if sigma < est_sigma:
            sigma = est_sigma
        term_alt = p[_TERM_ALT_MM]
        if sigma > term_alt:
            fl |= _SIGMA_HIGH
        # 3. guidance, and the switch to terminal descent once the conservative altitude
        #    bound reaches the terminal gate (the schedule is then at the terminal rate)
        if self._trusted:
            self._guid_step(alt, vel, sigma, ctrl.a_max_mm_s2, mode == TERMINAL, mode == ABORT)
            if blind and not guid.blind:
                _sighted(self, alt, sigma)
                mode = self.mode
                vel = est.vel_q8 >> 8
        else:
            guid.hold(p[_INIT_VEL_MM_S], g)
        phase = guid.phase
        if mode == DESCENT and phase == 1 and guid.h_low_mm <= term_alt:
            self.set_mode(TERMINAL)
            mode = TERMINAL
            self._guid_step(alt, vel, sigma, ctrl.a_max_mm_s2, True, False)
            phase = guid.phase
            if guid.blind:
                self._blind_budget(sigma)
        dry = p[_DRY_Q15]
        if dry and not self._reserve:
            # _check_reserve() and _hover_s(), written out (a call costs ~0.05 ms at 16 MHz;
            # hover_s() is -1 without a dry mass: no reserve)
            perf = ctrl.perf_q12
            left = (32768 - (ctrl.mass_q24 >> 9)) * (perf if perf > 4096 else 4096)
            left = 32768 - (left >> 12)  # the mass left, Q15
            k = p[_ISP_S] * _G0_MM_S2 // (g if g > 1 else 1)
            if k > 30000:
                k = 30000
            left = k * (left - dry if left > dry else 0) // (left if left > 1 else 1)
            if 0 <= left <= p[_RESERVE_S]:
                self._reserve = True
                self._event(EV_RESERVE, alt)
        # 4. control
        self.phase = phase
        checking = False
        engine_on = ctrl.engine_on
        if check_ms > 0 and phase == 0 and mode == DESCENT:
            # engine-check burn: learn what the engine really gives before planning on it
            checking = True
            self.phase = CHECK
            if not engine_on:
                self._event(EV_IGNITION, alt)
            if acc_ok:
                # counted on trusted samples only: a check the accelerometer monitor
                # distrusted teaches nothing, so it goes on (until braking, at the latest)
                check_ms -= pm
            if check_ms <= 0:
                check_ms = 0
                self._check_ms = 0
                self._event(EV_CHECKED, ctrl.perf_q12)
            else:
                self._check_ms = check_ms
        elif check_ms > 0 and phase != 0:
            self._check_ms = check_ms = 0  # braking already: the engine is learnt on the way
        if phase != 0 and not engine_on:
            ctrl.ignite()  # any phase but COAST lights the engine
            self._event(EV_IGNITION, alt)
        if mode == TERMINAL and land.contact:
            self.phase = TOUCHDOWN
            ctrl.spool_down()
        elif checking:
            ctrl.hold_min()
            if check_ms == 0:
                self._cutoff()  # check done: back to the coast, engine off
        elif mode == TERMINAL and not guid.blind:
            self._ctrl_step(guid.vref_mm_s, vel, _stop_ff(p, guid.ff_mm_s2, vel, guid.h_low_mm))
        else:
            self._ctrl_step(guid.vref_mm_s, vel, guid.ff_mm_s2)
        fl |= ctrl.flags
        # 5. land detector (its verdict acts on the next tick's control)
        if mode == TERMINAL:
            # with no trusted altitude (sigma above the terminal gate) neither "low" nor "slow"
            # can be known: the ground is what holds the vehicle up against a thrust below its
            # weight (specific force the thrust does not explain)
            impact = land.impact
            if self._land_step(alt, vel, ctrl.throttle_q15, ctrl.engine_on,
                               guid.blind and acc_ok, reaction):  # fmt: skip
                self._cutoff()
                self._event(EV_CUTOFF, alt)
                self.set_mode(LANDED)
            fl |= land.flags
            if land.impact:
                f2 |= _LAND_IMPACT
                if not impact:
                    self._event(EV_IMPACT, reaction)
        self.flags = fl
        if guid.blind:
            f2 |= _BLIND
        if sigma > est_sigma:
            f2 |= _SCATTER_SIGMA
        if self._reserve:
            f2 |= _RESERVE
        self.flags2 = f2

    def hover_s(self):
        # seconds of hover the propellant above the dry mass still gives; -1 when the dry
        # mass is not known (_hover_s)
        return _hover_s(self.p, self.ctrl)

    def _blind_budget(self, sigma_mm):
        # the band h_est +/- n sigma at the blind rate, against the propellant above the reserve
        p = self.p
        band = 2 * ((p[_NSIGMA_Q4] * sigma_mm) >> 4)
        need = self.guid.band_s(min(band, 10000000))
        self._event(EV_BLIND, need)
        avail = self.hover_s()
        if avail >= 0 and need > avail - p[_RESERVE_S]:
            self._event(EV_SHORT, avail - p[_RESERVE_S])


# helpers of Flight.tick as module functions: a method looked up on a Flight (some 50
# attributes) costs ~165 us a call on a 16 MHz Cortex-M0, a module function ~40 us


def _hover_s(p, ctrl):
    # seconds of hover the propellant above the dry mass still gives (rocket equation,
    # ln(m / m_dry) >= 1 - m_dry / m: on the safe side); -1 when the dry mass is not known.
    # The mass model burns at the thrust the engine was said to give; an engine found
    # stronger by the accelerometer has burnt that much more (same Isp): scaled here
    dry = p[_DRY_Q15]
    if dry == 0:
        return -1
    perf = ctrl.perf_q12
    used = ((32768 - (ctrl.mass_q24 >> 9)) * (perf if perf > 4096 else 4096)) >> 12
    m = 32768 - used
    g = p[_GRAVITY_MM_S2]
    k = p[_ISP_S] * _G0_MM_S2 // (g if g > 1 else 1)
    if k > 30000:
        k = 30000
    above = m - dry
    return k * (above if above > 0 else 0) // (m if m > 1 else 1)


def _sighted(fl, alt_mm, sigma_mm):
    # the blind descent ended (guidance: the altitude is known again). The velocity is the
    # filter's again; still above the terminal gate, back to DESCENT and braking on the
    # schedule with its feedforward (in the band the reference had none: the controller lagged
    # it), the terminal gate then taken as usual; at the gate, the terminal rate
    est = fl.est
    guid = fl.guid
    fl._vin_q8 = est.vel_q8
    fl._event(EV_SIGHTED, alt_mm)
    if not guid.at_gate():
        fl.set_mode(DESCENT)
        guid.phase = BRAKE
        fl._guid_step(alt_mm, est.vel_q8 >> 8, sigma_mm, fl.ctrl.a_max_mm_s2, False, False)


def _stop_ff(p, ff, vel_mm_s, h_low_mm):
    # the terminal descent on a known altitude holds the touchdown speed with the controller's
    # gain alone; a vehicle that reached the gate sinking faster (the braking saturated behind
    # the schedule: at 1 g a hopper's slew and lag cost it 2-3 m/s) would still sink fast at
    # the ground. The feedforward is at least the deceleration that brings the sink to the
    # touchdown speed by the altitude's lower bound (no less than _STOP_H_MIN): zero on the
    # touchdown speed, continuous in every input. In cm and cm/s: (v^2 - vtd^2) * 5 stays
    # below 2^26, the quotient (mm/s^2) below 32767 once bounded
    vtd = p[_VTD_MM_S]
    if -vel_mm_s <= vtd:
        return ff
    v = -vel_mm_s // 10
    if v > _STOP_V_MAX:
        v = _STOP_V_MAX
    t = vtd // 10
    h = h_low_mm if h_low_mm > _STOP_H_MIN else _STOP_H_MIN
    need = ((v * v - t * t) * 5) // (h // 10)
    if need > 32767:
        need = 32767
    need += p[_GRAVITY_MM_S2]
    return need if need > ff else ff


def _acc_health(fl, a, ok, model, a_max, aloft):
    # the accelerometer monitor: whether this tick's sample a (mm/s^2) may be used, against
    # the thrust model's specific force (model, mm/s^2, the throttle through the engine lag).
    # Distrusted on: no sample; the same sample ACC_FROZEN_N + 1 times in a row (stuck,
    # frozen, clipped at a full scale below the force: noise cannot move a clipped reading);
    # and, only while aloft (the ground's reaction is what the thrust does not explain): a
    # jump between samples the thrust model does not explain, the reading moving off its
    # trusted level against the model, a scatter far above the sensor's. Trusted again after
    # _ACC_CLEAN clean ticks; a level shift alone, steady for _ACC_ACCEPT ticks, is taken as
    # the new level (an engine that changed, not the sensor). Events EV_ACC_BAD / EV_ACC_GOOD.
    # The state in one list (fl.acc, _A_* indices): a list item costs a fraction of an
    # attribute of the Flight on a 16 MHz Cortex-M0
    m = fl.acc
    prev = m[_A_PREV]
    if m[_A_SAME] < 0:
        # the first sample of a descent (or after a reset, the engine relit on a throttle
        # the model has not seen yet): the steps count from it, the level from zero
        m[_A_SAME] = 0
        prev = a
        m[_A_MPREV] = model
        m[_A_FAST] = 0
        m[_A_BASE] = 0
    jump = (a - prev) - (model - m[_A_MPREV])
    if jump < 0:
        jump = -jump
    if jump > _ACC_JMAX:
        jump = _ACC_JMAX
    why = 0
    dev = m[_A_DEV]
    if ok:
        if a == prev:
            n = m[_A_SAME]
            n = n + 1 if n < _ACC_FROZEN_N else _ACC_FROZEN_N
            if n >= _ACC_FROZEN_N:
                why = ACC_FROZEN
            m[_A_SAME] = n
        else:
            m[_A_SAME] = 0
        dev += (jump - dev) >> 3
        m[_A_DEV] = dev
    else:
        why = ACC_DROPOUT
    m[_A_PREV] = a
    m[_A_MPREV] = model
    # (|a| <= 64 g, 0 <= model <= 32767: the Q4 levels stay within 2^24)
    fast = m[_A_FAST]
    fast += (((a - model) << 4) - fast) >> 4
    m[_A_FAST] = fast
    base = m[_A_BASE]
    lvl = fast - base if fast > base else base - fast
    lvl >>= 4
    t = a_max >> 5
    tl = _ACC_LEVEL0 + t
    t += _ACC_STEP0
    good = m[_A_GOOD]
    if aloft and ok:
        if jump > t:
            why |= ACC_STEP
        if dev > t >> 1:
            why |= ACC_NOISE
        if good:
            if lvl > tl:
                why |= ACC_LEVEL
        elif lvl > tl >> 1:
            why |= ACC_LEVEL
    if good:
        if why:
            m[_A_GOOD] = 0
            m[_A_WHY] = why
            m[_A_N] = 0
            m[_A_BAD] = 1
            fl._event(EV_ACC_BAD, why)
            return False
        m[_A_BASE] = base + ((fast - base) >> 6)
        return True
    bad = m[_A_BAD]  # ticks distrusted before this one
    m[_A_BAD] = bad + 1 if bad < _ACC_JMAX else _ACC_JMAX
    seen = m[_A_WHY]
    if why & ~seen:
        seen |= why
        m[_A_WHY] = seen
        fl._event(EV_ACC_BAD, seen)
    n = m[_A_N]
    if why == ACC_LEVEL:
        # a level shift alone: steady long enough, it is the new level
        if n < _ACC_ACCEPT:
            m[_A_N] = n + 1
            return False
        m[_A_BASE] = fast
        n = 0
    elif why:
        m[_A_N] = 0
        return False
    n += 1
    if n < _ACC_CLEAN:
        m[_A_N] = n
        return False
    m[_A_GOOD] = 1
    m[_A_WHY] = 0
    m[_A_N] = 0
    fl._event(EV_ACC_GOOD, bad)
    return True


def _calibrate(fl, f_mm_s2):
    # free fall reads zero: in the coast, engine off and its thrust decayed, the mean
    # reading is the accelerometer bias; measured until the engine lights to brake (in
    # DESCENT only: the caller checks)
    ctrl = fl.ctrl
    if fl.guid.phase == COAST and not ctrl.engine_on:
        off = fl._off
        off = off + 1 if off <= _CAL_SETTLE else _CAL_SETTLE + 1  # only "settled" matters
        fl._off = off
        n = fl._cal_n
        if off > _CAL_SETTLE and n < _CAL_MAX:
            f = f_mm_s2
            if f > _CAL_LIM:
                f = _CAL_LIM
            elif f < -_CAL_LIM:
                f = -_CAL_LIM
            fl._cal_sum += f
            fl._cal_n = n + 1
        return
    n = fl._cal_n
    if n >= _CAL_MIN and ctrl.engine_on:
        fl.acc_bias_q8 = (fl._cal_sum << 8) // n
        fl._event(EV_ACC_CAL, fl.acc_bias_q8)
    fl._off = 0
    fl._cal_n = 0
    fl._cal_sum = 0
