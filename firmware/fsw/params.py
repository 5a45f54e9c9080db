# Flight parameters: integer values with ids, defaults and valid ranges.
# The host sets them with CMD SET_PARAM before arming; arming re-checks them all.
# Units are in the names: mm, mm/s, mm/s^2, ms, s, q12 (x/4096), q15 (x/32768), q4 (x/16).
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


PERIOD_MS = const(0)  # control period
GRAVITY_MM_S2 = const(1)  # local gravity
AMAX0_MM_S2 = const(2)  # full thrust / mass at start of descent
ISP_S = const(3)  # specific impulse
THR_MIN_Q15 = const(4)  # lowest throttle with the engine lit
THR_MAX_Q15 = const(5)  # highest throttle
THR_SLEW_Q15 = const(6)  # max throttle change per tick
GUID_K_Q12 = const(7)  # fraction of net deceleration the schedule plans to use
VTD_MM_S = const(8)  # terminal sink rate
TERM_ALT_MM = const(9)  # altitude below which guidance holds the terminal sink rate
KP_Q12 = const(10)  # velocity loop P gain, 1/s
KI_Q12 = const(11)  # velocity loop I gain, 1/s^2
EST_ALPHA_Q12 = const(12)  # altitude correction gain per range update
EST_BETA_Q12 = const(13)  # velocity correction gain per range update (per tick)
GATE_MM = const(14)  # base innovation gate
SIGMA0_MM = const(15)  # initial altitude uncertainty
SIGMA_GROW_MM_S = const(16)  # uncertainty growth without range
SIGMA_RANGE_MM = const(17)  # altitude uncertainty floor with a good range
NSIGMA_Q4 = const(18)  # guidance altitude bound h_low = h - n * sigma
CLEARANCE_MM = const(19)  # rangefinder height above the ground at touchdown
LAND_ALT_MM = const(20)  # land detector: altitude below this
LAND_SPEED_MM_S = const(21)  # land detector: |speed| below this
LAND_TIME_MS = const(22)  # land detector: conditions held this long
INIT_ALT_MM = const(23)  # navigation handover: altitude at START
INIT_VEL_MM_S = const(24)  # navigation handover: vertical velocity at START (up +)
MAX_RANGE_MM = const(25)  # ranges above this are not used
RF_SOURCE = const(26)  # 0: range in the TICK frame, 1: LIDAR-Lite on I2C, 2: long-range serial
BASELINE = const(27)  # 0: softland; 1: naive (brake only on a valid range, as Mission 2);
# 2: latching (exclude the rangefinder for good after a run of rejections, as Mission 1);
# 3: volatile (no state persistence: a reset mid-burn boots into SAFE, as Beresheet)
CAL_MS = const(28)  # engine-check burn at minimum throttle early in the coast (0: none)
EST_GAMMA_Q12 = const(29)  # accelerometer-bias correction per range update, (mm/s^2)/mm Q8
BLIND_SINK_MM_S = const(30)  # sink rate over the uncertainty band when sigma > TERM_ALT_MM
DRY_Q15 = const(31)  # dry mass / start mass (0: unknown, no propellant budget or reserve)
RESERVE_S = const(32)  # propellant reserve, in seconds of hover
BLIND_RAMP_MM_S2 = const(33)  # blind sink rate increase per second spent in the band
BLIND_MAX_MM_S = const(34)  # blind sink rate limit (the touchdown speed the vehicle survives)
GUID_KHI_Q12 = const(35)  # GUID_K_Q12 while the altitude is trusted (sigma <= TERM_ALT_MM)
COUNT = const(36)

# (default, min, max) per id
_SPEC = (
    (20, 5, 25),  # PERIOD_MS
    (1620, 0, 20000),  # GRAVITY_MM_S2
    (3240, 100, 32000),  # AMAX0_MM_S2
    (300, 50, 500),  # ISP_S
    (6554, 0, 32767),  # THR_MIN_Q15
    (32767, 1, 32767),  # THR_MAX_Q15
    (1638, 1, 32767),  # THR_SLEW_Q15
    (3686, 410, 4096),  # GUID_K_Q12
    (700, 0, 10000),  # VTD_MM_S
    (2000, 0, 100000),  # TERM_ALT_MM
    (4096, 0, 8192),  # KP_Q12
    (614, 0, 4096),  # KI_Q12
    (205, 1, 4096),  # EST_ALPHA_Q12
    (262, 0, 4096),  # EST_BETA_Q12
    (20000, 0, 1000000),  # GATE_MM
    (50000, 0, 5000000),  # SIGMA0_MM (5 km: sigma is held within 6 km, fsw/estimator.py)
    (500, 0, 100000),  # SIGMA_GROW_MM_S
    (200, 1, 100000),  # SIGMA_RANGE_MM
    (32, 0, 160),  # NSIGMA_Q4
    (1000, 0, 10000),  # CLEARANCE_MM
    (300, 0, 10000),  # LAND_ALT_MM
    (300, 1, 5000),  # LAND_SPEED_MM_S
    (500, 0, 10000),  # LAND_TIME_MS
    (3000000, 0, 100000000),  # INIT_ALT_MM
    (-60000, -150000, 150000),  # INIT_VEL_MM_S
    (5000000, 1000, 100000000),  # MAX_RANGE_MM
    (0, 0, 2),  # RF_SOURCE
    (0, 0, 3),  # BASELINE
    (1000, 0, 5000),  # CAL_MS
    (2, 0, 2048),  # EST_GAMMA_Q12
    (300, 50, 10000),  # BLIND_SINK_MM_S
    (0, 0, 32767),  # DRY_Q15
    (10, 0, 1000),  # RESERVE_S
    (8, 0, 1000),  # BLIND_RAMP_MM_S2
    (2000, 50, 10000),  # BLIND_MAX_MM_S
    (3891, 410, 4096),  # GUID_KHI_Q12
)

# ACK result codes for SET_PARAM / ARM
OK = const(0)
E_ID = const(1)  # unknown parameter id
E_RANGE = const(2)  # value outside its range
E_MODE = const(3)  # not allowed in this mode
E_CROSS = const(4)  # parameters inconsistent with each other
E_PREFLIGHT = const(7)  # ARM: a preflight sensor check failed (the ACK value says which;
# 5 and 6 are the app's E_BAD_FRAME and E_UNKNOWN)


class Params:
    def __init__(self):
        self.v = [0] * COUNT
        for i in range(COUNT):
            self.v[i] = _SPEC[i][0]
        self.version = 0  # counts accepted changes (wraps): what persistence repacks on

    def set(self, pid, value):
        if pid < 0 or pid >= COUNT:
            return E_ID
        spec = _SPEC[pid]
        if value < spec[1] or value > spec[2]:
            return E_RANGE
        self.v[pid] = value
        self.version = (self.version + 1) & 0x1FFFFFFF  # 2^29: x + 1 never forms 2^30
        return OK

    def check(self):
        # whole-set consistency, run when arming; returns the first failing id * 8 + code
        v = self.v
        for i in range(COUNT):
            spec = _SPEC[i]
            if v[i] < spec[1] or v[i] > spec[2]:
                return i * 8 + E_RANGE
        if v[THR_MIN_Q15] >= v[THR_MAX_Q15]:
            return THR_MIN_Q15 * 8 + E_CROSS
        if v[AMAX0_MM_S2] * v[THR_MAX_Q15] // 32768 <= v[GRAVITY_MM_S2]:
            # cannot hover at full throttle: no soft landing is possible
            return AMAX0_MM_S2 * 8 + E_CROSS
        if v[LAND_ALT_MM] >= v[TERM_ALT_MM] and v[TERM_ALT_MM] > 0:
            return LAND_ALT_MM * 8 + E_CROSS
        if v[BLIND_SINK_MM_S] > v[BLIND_MAX_MM_S]:
            return BLIND_SINK_MM_S * 8 + E_CROSS
        return OK


def default(pid):
    return _SPEC[pid][0]


def bounds_min(pid):
    return _SPEC[pid][1]


def bounds_max(pid):
    return _SPEC[pid][2]
