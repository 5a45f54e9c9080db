# Vertical altitude/velocity estimator: alpha-beta filter in fixed point.
# State: altitude above the ground in mm (+ a Q8 fraction), vertical velocity in mm/s Q8
# (up positive), altitude uncertainty sigma in mm. Prediction integrates the accelerometer's
# vertical specific force minus gravity (or the thrust model when the IMU is not good). A Good
# range must pass the kinematic consistency test (consistent) before the innovation gate.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.fixmath import clamp, ticks_diff

# fsw.params values as local constants, folded at compile time (P.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_EST_ALPHA_Q12 = const(12)
_EST_BETA_Q12 = const(13)
_TERM_ALT_MM = const(9)
_GATE_MM = const(14)
_SIGMA_GROW_MM_S = const(16)
_SIGMA_RANGE_MM = const(17)
_EST_GAMMA_Q12 = const(29)

# fsw.flags values as local constants, folded at compile time (F.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_RANGE_INCONSISTENT = const(0x1)
_RANGE_USED = const(0x2)
_RANGE_REJECTED = const(0x4)
_RANGE_UNCHECKED = const(0x4)
_RANGE_VEL_REBASED = const(0x8)
_RANGE_REBASED = const(0x8)
_RANGE_REVERTED = const(0x10)
_RANGE_HELD = const(0x20)
_RANGE_CANDIDATE = const(0x40)
_RANGE_ACQUIRING = const(0x80)


_VEL_MAX_Q8 = const(38400000)  # 150 m/s
_ALT_MAX = const(1000000000)
_ALT_MIN = const(-1000000)
_ACC_MAX = const(32000)
# sigma limit: 6 km (SIGMA0_MM is at most 5 km, fsw/params.py). Every product of sigma stays
# below 2^30: NSIGMA_Q4 (<= 160) x 6 000 000 = 9.6e8 in guidance, 3 x sigma in the gate, and
# the correction's alpha x sigma is formed in two halves (update)
_SIGMA_MAX = const(6000000)
_BIAS_MAX_Q8 = const(256000)  # accelerometer bias estimate limit: 1000 mm/s^2 (0.1 g)
_INNOV_G_MAX = const(500)  # gamma term: only noise-sized innovations
_INNOV_LIM = const(500000000)  # innovation bound: the spread of two rejected ones stays < 2^30
_INNOV_V_MAX = const(2000)  # beta term: an altitude surprise says little about velocity
_REACQ_N = const(25)  # consecutive rejections that agree with each other: accept new ground
_REACQ_SPREAD_MM = const(1000)  # ... whose innovations stay within this band + range / 256
# telling a terrain step from a false return (docs/architecture.md, "Terrain step or false
# return"): new ground farther away (the vehicle higher than thought) is taken only once it has
# persisted this long (a false return lasts seconds; waiting on the lower altitude costs only
# propellant), new ground nearer at once (braking for it is the safe side) ...
_REACQ_HI_MS = const(10000)
# ... and the track a re-base left stays a hypothesis this long: _BACK_N consecutive rejected
# ranges within its gate (GATE_MM + 3 sigma) say the re-base was onto a false return: back to it
_PREV_MS = const(30000)
_CAND_GAP_MS = const(1000)  # a candidate unsupported this long starts its persistence again
_BACK_N = const(5)
_PREV_OFF_MAX = const(268435456)  # 2^28: the offset of the left track (an altitude difference)
# kinematic consistency test (docs/architecture.md, "Range consistency")
_RING_N = const(8)  # recent Good ranges a new one is compared with ...
_RING_DT_MS = const(60)  # ... kept at least this far apart (the ring spans ~0.5 s)
_TRAIN_N = const(8)  # range pairs that set the first noise estimate (ranges unchecked meanwhile)
_NOISE_MIN_MM = const(10)  # noise estimate floor (a LIDAR-Lite counts in cm)
_NOISE_MAX_MM = const(200000)  # ... and ceiling
_TOL_K = const(4)  # tolerance: 4 noise estimates (mean |jump| between ranges: 1.13 sigma)
_TOL_FLOOR_MM = const(20)  # ... plus a floor, plus SIGMA_GROW_MM_S (the velocity uncertainty)
_LAG_MAX_MS = const(2000)  # ... times the lag; an older ring entry does not vote
_TICKS_MASK = const(0x3FFFFFFF)  # fsw.fixmath.TICKS_MASK
_TICKS_HALF = const(0x20000000)  # fsw.fixmath.TICKS_HALF
_KIN_MAX = const(67108864)  # 2^26: the motion integral is re-zeroed beyond this
_MEAS_MAX = const(268435456)  # 2^28: ranges for the test (MAX_RANGE_MM is at most 10^8) ...
_D_MAX = const(335544320)  # ... so |d| < 2^28 + 2^26 and a difference of two stays < 2^30
_INC_N = const(25)  # consecutive inconsistent ranges that moved together: the velocity is wrong
_INC_MOVED_MAX = const(1000000)  # their movement counted up to 1 km (x 1000 stays < 2^30)
# acquisition (docs/architecture.md, "Acquiring the altitude"): while sigma is above the
# terminal gate and _ACQ_NOISE_K noise estimates, a checked, consistent range in the gate is
# taken at gain 1/2 (sigma x 3/4), with no velocity or bias term
_ACQ_NOISE_K = const(8)


class Estimator:
    STATE = (
        "alt_mm", "alt_frac_q8", "vel_q8", "sigma_mm", "_sigma_acc", "rejects", "_rej_lo",
        "_rej_hi", "latching", "excluded", "bias_q8", "imu", "_kin_mm", "_kin_frac_q8",
        "_clk_ms", "_ring_d", "_ring_t", "_ring_n", "_ring_i", "_ring_newest", "_last_d",
        "_have_last", "noise_mm", "_trained", "_inc_n", "_inc_meas0", "_inc_t0",
        "_inc_mid", "_inc_tmid", "_rej_t0", "_prev_live", "_prev_off", "_prev_t0", "_back_n",
        "_cand_live", "_cand_off", "_cand_t0", "_cand_last",
    )
    # the part of STATE that changes only in update() (and its helpers), reset(), rebase()
    # and _rezero(): each of those moves cold_ver first, so that fsw.persist repacks these
    # values only when cold_ver moved since that slot was written (a 16 MHz Cortex-M0 packs
    # ~27 us a value; a prediction-only tick changes none of them). A new writer of one of
    # these names moves cold_ver too (tests/test_persist.py holds every record equal to the
    # whole state, tick by tick)
    STATE_COLD = (
        "rejects", "_rej_lo", "_rej_hi", "latching", "excluded", "bias_q8", "_ring_d",
        "_ring_t", "_ring_n", "_ring_i", "_ring_newest", "_last_d", "_have_last", "noise_mm",
        "_trained", "_inc_n", "_inc_meas0", "_inc_t0", "_inc_mid", "_inc_tmid", "_rej_t0",
        "_prev_live", "_prev_off", "_prev_t0", "_back_n", "_cand_live", "_cand_off",
        "_cand_t0", "_cand_last",
    )
    # the part of STATE_COLD that a range update in the gate leaves alone (the ring's
    # entries, written every _RING_DT_MS; the rejection run, the inconsistent run, the
    # false-return tracks): their writers move rare_ver too, so that fsw.persist repacks them
    # only when rare_ver moved (the hopper updates the estimator every tick: ~30 values
    # fewer than STATE_COLD on most ticks). A new writer of one of these moves rare_ver first
    STATE_RARE = (
        "_rej_lo", "_rej_hi", "latching", "excluded", "_ring_d", "_ring_t", "_inc_meas0",
        "_inc_t0", "_inc_mid", "_inc_tmid", "_rej_t0", "_prev_live", "_prev_off", "_prev_t0",
        "_cand_off", "_cand_t0", "_cand_last",
    )

    def __init__(self, params):
        self.p = params.v
        self.cold_ver = 0  # moves before any STATE_COLD value can change (wraps at 2^30)
        self.rare_ver = 0  # moves before any STATE_RARE value can change (wraps at 2^30)
        self.alt_mm = 0
        self.alt_frac_q8 = 0
        self.vel_q8 = 0
        self.sigma_mm = 0
        self._sigma_acc = 0
        self.rejects = 0
        self._rej_lo = 0
        self._rej_hi = 0
        self.latching = False  # baseline "latching": exclude the sensor instead of re-basing
        self.excluded = False
        self.bias_q8 = 0  # accelerometer bias estimate, mm/s^2 Q8
        self.imu = False  # the last prediction used the accelerometer
        self.flags2 = 0  # FLAGS2 decision bits of the last update
        # consistency test: the vehicle's own motion integrated from the velocity estimate
        # (kin, mm + Q8 fraction; alt without the range corrections), a clock (ms, wraps at
        # 2^30), and a ring of recent Good ranges as d = altitude from the range - kin (constant
        # while range and motion agree) with the clock at each
        self._kin_mm = 0
        self._kin_frac_q8 = 0
        self._clk_ms = 0
        self._ring_d = [0] * _RING_N
        self._ring_t = [0] * _RING_N
        self._ring_n = 0  # entries filled
        self._ring_i = 0  # next entry to write
        self._ring_newest = 0  # clock of the newest entry
        self._last_d = 0  # d of the last Good range (the noise estimate follows its jumps)
        self._have_last = False
        self.noise_mm = 0  # mean |jump of d| between successive Good ranges
        self._trained = 0  # pairs seen while training the noise estimate
        # a run of inconsistent ranges: how many, the first one's altitude and clock
        self._inc_n = 0
        self._inc_meas0 = 0
        self._inc_t0 = 0
        self._inc_mid = 0  # ... and the altitude and clock half-way through the run
        self._inc_tmid = 0
        # telling a terrain step from a false return: the clock at the start of the run of
        # rejected ranges; the track the last re-base left (alive, its altitude minus this
        # one's, the clock at the re-base) and the run of ranges that matched it
        self._rej_t0 = 0
        self._prev_live = False
        self._prev_off = 0
        self._prev_t0 = 0
        self._back_n = 0
        # the candidate track (farther ground held): alive, its altitude minus this one's,
        # the clock at the start of its run and at its last supporting range
        self._cand_live = False
        self._cand_off = 0
        self._cand_t0 = 0
        self._cand_last = 0

    def reset(self, alt_mm, vel_mm_s, sigma_mm):
        self.cold_ver = (self.cold_ver + 1) & _TICKS_MASK
        self.rare_ver = (self.rare_ver + 1) & _TICKS_MASK  # excluded, tracks (latching: start)
        self.alt_mm = alt_mm
        self.alt_frac_q8 = 0
        self.vel_q8 = clamp(vel_mm_s, -150000, 150000) << 8
        self.sigma_mm = sigma_mm
        self._sigma_acc = 0
        self.rejects = 0
        self.excluded = False
        self.bias_q8 = 0
        self.flags2 = 0
        self._kin_mm = 0
        self._kin_frac_q8 = 0
        self.noise_mm = self.p[_SIGMA_RANGE_MM]
        self._restart_consistency()
        self._inc_n = 0
        self._prev_live = False
        self._back_n = 0
        self._cand_live = False

    def _restart_consistency(self):
        # the consistency test starts again: empty ring, noise estimate trained anew
        self._ring_n = 0
        self._ring_i = 0
        self._have_last = False
        self._trained = 0

    def rebase(self, alt_mm):
        # take a measurement as the altitude outright
        self.cold_ver = (self.cold_ver + 1) & _TICKS_MASK
        self.alt_mm = alt_mm
        self.alt_frac_q8 = 0
        self.rejects = 0
        self.sigma_mm = self.p[_SIGMA_RANGE_MM]

    def vel_mm_s(self):
        return self.vel_q8 >> 8

    def predict(self, acc_mm_s2, period_ms, imu):
        # one step of period_ms with vertical acceleration acc (up +, gravity included); an
        # accelerometer-based acc is corrected by the bias estimate
        self.imu = imu
        if imu:
            acc_mm_s2 -= self.bias_q8 >> 8
        # (bounds as conditional expressions, not clamp()/min(): a call costs ~0.1 ms on a
        # 16 MHz Cortex-M0, and this runs every tick)
        a = acc_mm_s2
        if a > _ACC_MAX:
            a = _ACC_MAX
        elif a < -_ACC_MAX:
            a = -_ACC_MAX
        pm = period_ms
        vel = self.vel_q8
        dalt_q8 = (vel * pm) // 1000 + (a * pm * pm) // 7812
        vel += (a * pm * 32) // 125
        if vel > _VEL_MAX_Q8:
            vel = _VEL_MAX_Q8
        elif vel < -_VEL_MAX_Q8:
            vel = -_VEL_MAX_Q8
        self.vel_q8 = vel
        frac = self.alt_frac_q8 + dalt_q8
        alt = self.alt_mm + (frac >> 8)
        if alt > _ALT_MAX:
            alt = _ALT_MAX
        elif alt < _ALT_MIN:
            alt = _ALT_MIN
        self.alt_mm = alt
        self.alt_frac_q8 = frac & 0xFF
        kin = self._kin_frac_q8 + dalt_q8
        kin_mm = self._kin_mm + (kin >> 8)
        self._kin_mm = kin_mm
        self._kin_frac_q8 = kin & 0xFF
        if kin_mm > _KIN_MAX or kin_mm < -_KIN_MAX:
            self._rezero()
        # the clock wraps at 2^30 (fixmath.ticks_add, written out: clk + pm - 2^30 first)
        clk = self._clk_ms - (_TICKS_MASK - pm) - 1
        self._clk_ms = clk if clk >= 0 else self._clk_ms + pm
        acc = self._sigma_acc + self.p[_SIGMA_GROW_MM_S] * pm
        sigma = self.sigma_mm + acc // 1000
        self.sigma_mm = sigma if sigma < _SIGMA_MAX else _SIGMA_MAX
        self._sigma_acc = acc % 1000

    def _rezero(self):
        # keep kin and d small: move the motion integral's origin to here
        self.cold_ver = (self.cold_ver + 1) & _TICKS_MASK
        self.rare_ver = (self.rare_ver + 1) & _TICKS_MASK  # the ring
        k = self._kin_mm
        ring = self._ring_d
        for j in range(_RING_N):
            ring[j] = clamp(ring[j] + k, -_D_MAX, _D_MAX)
        self._last_d = clamp(self._last_d + k, -_D_MAX, _D_MAX)
        self._kin_mm = 0

    def _inconsistent_run(self, alt_meas_mm):
        # never latch the sensor off through a wrong velocity: ranges that all disagree with
        # the motion integral yet moved steadily together (a frozen sensor does not move; one
        # that froze or thawed during the run did not move steadily) say the velocity estimate
        # is what is wrong, e.g. after a long gap without ranges. After _INC_N of them the
        # velocity becomes their rate and the test starts again from it.
        now = self._clk_ms
        meas = clamp(alt_meas_mm, -_MEAS_MAX, _MEAS_MAX)
        if self._inc_n == 0:
            self._inc_meas0 = meas
            self._inc_t0 = now
        self._inc_n += 1
        if self._inc_n == _INC_N // 2:
            self._inc_mid = meas
            self._inc_tmid = now
        if self._inc_n < _INC_N:
            return
        self._inc_n = 0
        moved = clamp(meas - self._inc_meas0, -_INC_MOVED_MAX, _INC_MOVED_MAX)
        dt = ticks_diff(now, self._inc_t0)
        tol = _TOL_K * self.noise_mm + _TOL_FLOOR_MM
        if dt <= 0 or -tol <= moved <= tol:
            return  # stood still: a frozen reading (or a hover), keep rejecting
        rate = clamp(moved * 1000 // dt, -150000, 150000)
        t_mid = clamp(ticks_diff(self._inc_tmid, self._inc_t0), 0, 5000)
        bend = clamp(self._inc_mid - self._inc_meas0 - (rate * t_mid) // 1000, -_D_MAX, _D_MAX)
        if bend > tol or bend < -tol:
            return  # did not move steadily (froze or thawed during the run): no one rate
        self.vel_q8 = rate << 8
        self._restart_consistency()
        self.flags2 |= _RANGE_VEL_REBASED

    def update(self, alt_meas_mm):
        # a Good range converted to altitude; returns the flags it set (FLAGS2 bits: flags2)
        p = self.p
        self.flags2 = 0
        if self.excluded:
            return _RANGE_REJECTED
        self.cold_ver = (self.cold_ver + 1) & _TICKS_MASK
        # (the helpers called through the class: a method looked up on this object, some 30
        # attributes, costs ~150 us a call on a 16 MHz Cortex-M0, through the class ~60 us)
        # 1. the kinematic consistency test of the range, written out here (it runs for every
        # Good range): its change since each recent Good range in the ring must match the
        # motion the estimate integrated over the same time, within 4 noise estimates + the
        # velocity uncertainty over the lag. Consistent with the majority of the ring: ok;
        # else not (a frozen value under a moving vehicle, an outlier, the first ranges after
        # a terrain step). Sets the FLAGS2 bits, learns the noise, records the range in the
        # ring. (Bounds as conditional expressions and ticks_diff written out.)
        d = alt_meas_mm
        if d > _MEAS_MAX:
            d = _MEAS_MAX
        elif d < -_MEAS_MAX:
            d = -_MEAS_MAX
        d -= self._kin_mm
        now = self._clk_ms
        ring_d = self._ring_d
        ring_t = self._ring_t
        n = self._ring_n
        ok = True
        checked = False
        if self._have_last:
            jump = d - self._last_d
            if jump < 0:
                jump = -jump
            if jump > _NOISE_MAX_MM:
                jump = _NOISE_MAX_MM
            noise = self.noise_mm
            if self._trained < _TRAIN_N:
                # first pairs: the mean jump, unchecked (nothing yet says what noise is)
                self._trained += 1
                noise += (jump - noise) // self._trained
            else:
                base = _TOL_K * noise + _TOL_FLOOR_MM
                v_tol = self.p[_SIGMA_GROW_MM_S]
                votes = 0
                voters = n  # less the entries too old to vote
                half = n >> 1
                now_t = now & _TICKS_MASK
                for j in range(n):
                    # (the usual case first: a lag within _LAG_MAX_MS takes one comparison)
                    lag = (now_t - (ring_t[j] & _TICKS_MASK)) & _TICKS_MASK  # ticks_diff
                    diff = d - ring_d[j]
                    if diff < 0:
                        diff = -diff
                    if lag > _LAG_MAX_MS:
                        if lag < _TICKS_HALF:
                            voters -= 1  # too old: no vote
                            continue
                        lag = lag - _TICKS_HALF - _TICKS_HALF  # ahead of the clock: votes
                        if diff > base + (v_tol * lag) // 1000:
                            continue
                    elif diff > base and diff > base + (v_tol * lag) // 1000:
                        # (0 <= lag here and v_tol >= 0: within base it votes, no division)
                        continue
                    votes += 1
                    if votes > half:
                        # a majority of all n entries (2 votes > n), whatever the rest say or
                        # however many of them are too old to vote: consistent (votes only
                        # grow, voters only shrink), the same outcome as the whole loop
                        break
                if voters > 0:
                    checked = True
                    ok = 2 * votes > voters
                # the noise estimate follows the jumps; one jump moves it at most 3/16 up,
                # so an outlier or a step barely moves it yet a noisier sensor is learnt
                step = jump if jump < 4 * noise else 4 * noise
                noise += (step - noise) >> 4
            if noise < _NOISE_MIN_MM:
                noise = _NOISE_MIN_MM
            elif noise > _NOISE_MAX_MM:
                noise = _NOISE_MAX_MM
            self.noise_mm = noise
        self._have_last = True
        self._last_d = d
        if n:
            lag = ((now & _TICKS_MASK) - (self._ring_newest & _TICKS_MASK)) & _TICKS_MASK
            if lag >= _TICKS_HALF:  # ticks_diff(now, self._ring_newest), written out
                lag = lag - _TICKS_HALF - _TICKS_HALF
        if n == 0 or lag >= _RING_DT_MS:
            self.rare_ver = (self.rare_ver + 1) & _TICKS_MASK  # an entry of the ring
            i = self._ring_i
            ring_d[i] = d
            ring_t[i] = now
            self._ring_newest = now
            self._ring_i = i + 1 if i + 1 < _RING_N else 0
            if n < _RING_N:
                self._ring_n = n + 1
        if not checked:
            self.flags2 |= _RANGE_UNCHECKED
        elif not ok:
            self.flags2 |= _RANGE_INCONSISTENT
        # 2. the innovation gate (or the run of rejected ranges)
        if not ok:
            self.rejects = 0  # not used; re-basing needs a run of consistent rejected ranges
            self.rare_ver = (self.rare_ver + 1) & _TICKS_MASK  # the inconsistent run
            Estimator._inconsistent_run(self, alt_meas_mm)
            return 0
        self._inc_n = 0
        innov = alt_meas_mm - self.alt_mm
        if innov > _INNOV_LIM:
            innov = _INNOV_LIM
        elif innov < -_INNOV_LIM:
            innov = -_INNOV_LIM
        gate = p[_GATE_MM] + 3 * self.sigma_mm
        if -gate <= innov <= gate:
            self.rejects = 0
            self._back_n = 0
            self._cand_live = False  # the ground the estimate expects: no candidate stands
            s = self.sigma_mm
            if (
                s > p[_TERM_ALT_MM]
                and s > _ACQ_NOISE_K * self.noise_mm
                and not self.flags2 & _RANGE_UNCHECKED
            ):
                # acquiring: the altitude is far less known than the range (a handover error
                # meets the first ranges). Its error is a bias, not a velocity (a Kalman
                # filter's velocity gain falls as 1/sigma^2 with the altitude variance, its
                # altitude gain rises towards 1): half the innovation each range, no velocity
                # or bias term, sigma x 3/4, so the estimate's error shrinks faster than
                # sigma (x 2/3 against it each range) and is down to the noise when sigma
                # reaches the gate. The alpha-beta filter with its velocity gain resumes then.
                alpha = 2048
                beta = 0
                gamma = 0
                s -= s >> 2
                self.flags2 |= _RANGE_ACQUIRING
            else:
                alpha = p[_EST_ALPHA_Q12]
                beta = p[_EST_BETA_Q12]
                gamma = p[_EST_GAMMA_Q12]
                # s -= (alpha * s) >> 12, exactly, with alpha (<= 4096) times sigma (<= 6e6)
                # split at 2^12 so that no product passes 2^30: alpha * (s >> 12) <= 4096 *
                # 1465 < 2^23, alpha * (s & 4095) < 2^24
                s -= alpha * (s >> 12) + ((alpha * (s & 4095)) >> 12)
            floor = p[_SIGMA_RANGE_MM]
            self.sigma_mm = s if s > floor else floor
            # the state's correction by the innovation, with these gains (sigma: above), written
            # out here (a call costs ~0.1 ms at 16 MHz). Bounds as conditional expressions.
            # alt += alpha * innov / 4096 in mm + Q8, the product split at 2^12 so that none
            # passes 2^30 whatever the innovation the gate let through (|innov| <= _INNOV_LIM):
            # alpha * (innov >> 12) <= 4096 * 122071 < 2^29, (alpha * (innov & 4095)) >> 4 < 2^20
            frac = self.alt_frac_q8 + ((alpha * (innov & 4095)) >> 4)
            alt = self.alt_mm + alpha * (innov >> 12) + (frac >> 8)
            if alt > _ALT_MAX:
                alt = _ALT_MAX
            elif alt < _ALT_MIN:
                alt = _ALT_MIN
            self.alt_mm = alt
            self.alt_frac_q8 = frac & 0xFF
            ib = innov
            if ib > _INNOV_V_MAX:
                ib = _INNOV_V_MAX
            elif ib < -_INNOV_V_MAX:
                ib = -_INNOV_V_MAX
            vel = self.vel_q8 + ((beta * ib) >> 4)
            if vel > _VEL_MAX_Q8:
                vel = _VEL_MAX_Q8
            elif vel < -_VEL_MAX_Q8:
                vel = -_VEL_MAX_Q8
            self.vel_q8 = vel
            if gamma and self.imu:
                # alpha-beta-gamma: a persistent innovation is an accelerometer bias
                # (transients, such as a navigation handover error, are clamped out)
                if innov > _INNOV_G_MAX:
                    innov = _INNOV_G_MAX
                elif innov < -_INNOV_G_MAX:
                    innov = -_INNOV_G_MAX
                bias = self.bias_q8 - ((gamma * innov) >> 4)
                if bias > _BIAS_MAX_Q8:
                    bias = _BIAS_MAX_Q8
                elif bias < -_BIAS_MAX_Q8:
                    bias = -_BIAS_MAX_Q8
                self.bias_q8 = bias
            return _RANGE_USED
        # never latch the sensor off: a run of rejected ranges whose innovation stays the same
        # is new ground (a crater rim, a terrain step: the offset is constant while the vehicle
        # moves), not a sensor fault; a frozen reading under a moving vehicle drifts and is not
        self.rare_ver = (self.rare_ver + 1) & _TICKS_MASK  # the rejection run, the tracks
        now = self._clk_ms
        if self._prev_live:
            r = Estimator._revert(self, alt_meas_mm, innov, gate, now)
            if r:
                return r
        if self._cand_live:
            r = Estimator._candidate(self, alt_meas_mm, innov, gate, now)
            if r:
                return r
        if self.rejects == 0:
            self._rej_lo = innov
            self._rej_hi = innov
            self._rej_t0 = now  # the run starts
        elif innov < self._rej_lo:
            self._rej_lo = innov
        elif innov > self._rej_hi:
            self._rej_hi = innov
        if self.rejects < _REACQ_N:
            self.rejects += 1
        spread = _REACQ_SPREAD_MM + (clamp(alt_meas_mm, 0, _ALT_MAX) >> 8)
        if self._rej_hi - self._rej_lo > spread:
            self.rejects = 1
            self._rej_lo = innov
            self._rej_hi = innov
            self._rej_t0 = now
        if self.rejects >= _REACQ_N:
            if self.latching:
                self.excluded = True  # the Mission 1 logic: judged failed, for good
                return _RANGE_REJECTED
            self.rejects = 0
            if innov > 0:
                # farther ground (the vehicle higher than thought): a terrain step or a false
                # return, a candidate track until it has persisted _REACQ_HI_MS from the run's
                # start; meanwhile the flight keeps the lower altitude
                self._cand_live = True
                self._cand_off = innov
                self._cand_t0 = self._rej_t0
                self._cand_last = now
                self.flags2 |= _RANGE_HELD | _RANGE_CANDIDATE
                return _RANGE_REJECTED
            Estimator._rebase_to(self, alt_meas_mm, now)
            return _RANGE_REBASED
        return _RANGE_REJECTED

    def _candidate(self, alt_meas_mm, innov, gate, now):
        # a rejected range against the candidate track (farther ground held): within its gate
        # it supports it (a gap of more than _CAND_GAP_MS without support starts its clock
        # again), and once the candidate has persisted _REACQ_HI_MS it is the ground
        dev = innov - self._cand_off
        if dev < -gate or dev > gate:
            return 0
        if ticks_diff(now, self._cand_last) > _CAND_GAP_MS:
            self._cand_t0 = now
        self._cand_last = now
        self.rejects = 0
        if ticks_diff(now, self._cand_t0) < _REACQ_HI_MS:
            self.flags2 |= _RANGE_HELD
            return _RANGE_REJECTED
        Estimator._rebase_to(self, alt_meas_mm, now)
        return _RANGE_REBASED

    def _rebase_to(self, alt_meas_mm, now):
        # take the new ground; the track left behind stays a hypothesis for _PREV_MS
        off = self.alt_mm - alt_meas_mm
        self._prev_off = clamp(off, -_PREV_OFF_MAX, _PREV_OFF_MAX)
        self._prev_live = True
        self._prev_t0 = now
        self._back_n = 0
        self._cand_live = False
        self.alt_mm = alt_meas_mm
        self.alt_frac_q8 = 0
        s = self.p[_SIGMA_RANGE_MM]
        if self.sigma_mm < s:
            self.sigma_mm = s

    def _revert(self, alt_meas_mm, innov, gate, now):
        # a rejected range against the track the last re-base left: _BACK_N in a row within
        # that track's gate (the ground seen before the re-base is back where it would be)
        # say the re-base was onto a false return: back to that track (RANGE_REVERTED)
        if ticks_diff(now, self._prev_t0) > _PREV_MS:
            self._prev_live = False  # the re-base has stood: the new ground is the ground
            self._back_n = 0
            return 0
        dev = innov - self._prev_off
        if dev < -gate or dev > gate:
            self._back_n = 0
            return 0
        self._back_n += 1
        if self._back_n < _BACK_N:
            return 0
        self.rejects = 0
        Estimator._rebase_to(self, alt_meas_mm, now)
        self.flags2 |= _RANGE_REVERTED
        return _RANGE_REBASED
