# Vertical altitude/velocity estimator: alpha-beta filter in fixed point.
# State: altitude above the ground in mm (+ a Q8 fraction), vertical velocity in mm/s Q8
# (up positive), altitude uncertainty sigma in mm. Prediction integrates the accelerometer's
# vertical specific force minus gravity (or the thrust model when the IMU is not good).
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw import flags as F
from fsw import params as P
from fsw.fixmath import clamp

_VEL_MAX_Q8 = const(38400000)  # 150 m/s
_ALT_MAX = const(1000000000)
_ALT_MIN = const(-1000000)
_ACC_MAX = const(32000)
_SIGMA_MAX = const(250000)
_BIAS_MAX_Q8 = const(256000)  # accelerometer bias estimate limit: 1000 mm/s^2 (0.1 g)
_INNOV_G_MAX = const(500)  # gamma term: only noise-sized innovations
_INNOV_MAX = const(250000)  # clamp for the alpha term (alpha_q12 * innov < 2^30)
_INNOV_V_MAX = const(2000)  # beta term: an altitude surprise says little about velocity
_REACQ_N = const(25)  # consecutive rejections that agree with each other: accept new ground
_REACQ_SPREAD_MM = const(1000)  # ... whose innovations stay within this band + range / 256


class Estimator:
    STATE = (
        "alt_mm", "alt_frac_q8", "vel_q8", "sigma_mm", "_sigma_acc", "rejects", "_rej_lo",
        "_rej_hi", "latching", "excluded", "bias_q8", "imu",
    )

    def __init__(self, params):
        self.p = params.v
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

    def reset(self, alt_mm, vel_mm_s, sigma_mm):
        self.alt_mm = alt_mm
        self.alt_frac_q8 = 0
        self.vel_q8 = clamp(vel_mm_s, -150000, 150000) << 8
        self.sigma_mm = sigma_mm
        self._sigma_acc = 0
        self.rejects = 0
        self.excluded = False
        self.bias_q8 = 0

    def rebase(self, alt_mm):
        # take a measurement as the altitude outright
        self.alt_mm = alt_mm
        self.alt_frac_q8 = 0
        self.rejects = 0
        self.sigma_mm = self.p[P.SIGMA_RANGE_MM]

    def vel_mm_s(self):
        return self.vel_q8 >> 8

    def predict(self, acc_mm_s2, period_ms, imu):
        # one step of period_ms with vertical acceleration acc (up +, gravity included); an
        # accelerometer-based acc is corrected by the bias estimate
        self.imu = imu
        if imu:
            acc_mm_s2 -= self.bias_q8 >> 8
        a = clamp(acc_mm_s2, -_ACC_MAX, _ACC_MAX)
        pm = period_ms
        dalt_q8 = (self.vel_q8 * pm) // 1000 + (a * pm * pm) // 7812
        self.vel_q8 = clamp(self.vel_q8 + (a * pm * 32) // 125, -_VEL_MAX_Q8, _VEL_MAX_Q8)
        frac = self.alt_frac_q8 + dalt_q8
        self.alt_mm = clamp(self.alt_mm + (frac >> 8), _ALT_MIN, _ALT_MAX)
        self.alt_frac_q8 = frac & 0xFF
        acc = self._sigma_acc + self.p[P.SIGMA_GROW_MM_S] * pm
        self.sigma_mm = min(self.sigma_mm + acc // 1000, _SIGMA_MAX)
        self._sigma_acc = acc % 1000

    def update(self, alt_meas_mm):
        # a Good range converted to altitude; returns the flags it set
        p = self.p
        if self.excluded:
            return F.RANGE_REJECTED
        innov = clamp(alt_meas_mm - self.alt_mm, -_ALT_MAX, _ALT_MAX)
        gate = p[P.GATE_MM] + 3 * self.sigma_mm
        if -gate <= innov <= gate:
            self.rejects = 0
            self._correct(innov, p[P.EST_ALPHA_Q12], p[P.EST_BETA_Q12])
            return F.RANGE_USED
        # never latch the sensor off: a run of rejected ranges whose innovation stays the same
        # is new ground (a crater rim, a terrain step: the offset is constant while the vehicle
        # moves), not a sensor fault; a frozen reading under a moving vehicle drifts and is not
        if self.rejects == 0 or innov < self._rej_lo:
            self._rej_lo = innov
        if self.rejects == 0 or innov > self._rej_hi:
            self._rej_hi = innov
        self.rejects += 1
        spread = _REACQ_SPREAD_MM + (clamp(alt_meas_mm, 0, _ALT_MAX) >> 8)
        if self._rej_hi - self._rej_lo > spread:
            self.rejects = 1
            self._rej_lo = innov
            self._rej_hi = innov
        if self.rejects >= _REACQ_N:
            if self.latching:
                self.excluded = True  # the Mission 1 logic: judged failed, for good
                return F.RANGE_REJECTED
            self.rejects = 0
            self.alt_mm = alt_meas_mm
            self.alt_frac_q8 = 0
            self.sigma_mm = max(self.sigma_mm, p[P.SIGMA_RANGE_MM])
            return F.RANGE_REBASED
        return F.RANGE_REJECTED

    def _correct(self, innov, alpha_q12, beta_q12):
        ia = clamp(innov, -_INNOV_MAX, _INNOV_MAX)
        frac = self.alt_frac_q8 + ((alpha_q12 * ia) >> 4)
        self.alt_mm = clamp(self.alt_mm + (frac >> 8), _ALT_MIN, _ALT_MAX)
        self.alt_frac_q8 = frac & 0xFF
        ib = clamp(innov, -_INNOV_V_MAX, _INNOV_V_MAX)
        self.vel_q8 = clamp(self.vel_q8 + ((beta_q12 * ib) >> 4), -_VEL_MAX_Q8, _VEL_MAX_Q8)
        if self.imu:
            # alpha-beta-gamma: a persistent innovation is an accelerometer bias
            # (transients, such as a navigation handover error, are clamped out)
            ig = clamp(innov, -_INNOV_G_MAX, _INNOV_G_MAX)
            gamma = self.p[P.EST_GAMMA_Q12]
            self.bias_q8 = clamp(self.bias_q8 - ((gamma * ig) >> 4), -_BIAS_MAX_Q8, _BIAS_MAX_Q8)
        s = self.sigma_mm
        s -= (alpha_q12 * s) >> 12
        self.sigma_mm = max(s, self.p[P.SIGMA_RANGE_MM])
