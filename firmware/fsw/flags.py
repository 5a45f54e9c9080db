# Telemetry decision bits: every decision the firmware takes on a tick is one of these.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


RANGE_GOOD = const(0x0001)  # the rangefinder reported Good and the range was plausible
RANGE_USED = const(0x0002)  # the range updated the estimate
RANGE_REJECTED = const(0x0004)  # the range fell outside the innovation gate
RANGE_REBASED = const(0x0008)  # consistent rejected ranges were accepted as the new ground
IMU_USED = const(0x0010)  # prediction used the accelerometer (else the thrust model)
ENGINE_ON = const(0x0020)
THR_SAT_HI = const(0x0040)  # throttle held at its maximum
THR_SAT_LO = const(0x0080)  # throttle held at its minimum
THR_SLEW = const(0x0100)  # throttle change limited by the slew rate
INTEG_HELD = const(0x0200)  # anti-windup: integrator not updated
LAND_ALT = const(0x0400)  # land detector: low altitude
LAND_SPEED = const(0x0800)  # land detector: low speed
LAND_THR = const(0x1000)  # land detector: throttle near minimum
OVERRUN = const(0x2000)  # this tick started late
SIGMA_HIGH = const(0x4000)  # altitude uncertainty above the terminal altitude
LINK_ERR = const(0x8000)  # the link dropped a frame since the last tick

NAMES = (
    "range_good", "range_used", "range_rejected", "range_rebased", "imu_used", "engine_on",
    "thr_sat_hi", "thr_sat_lo", "thr_slew", "integ_held", "land_alt", "land_speed",
    "land_thr", "overrun", "sigma_high", "link_err",
)

# FLAGS2: the second decision word. Bits 0-7: estimator (range checks); 8-15: flight.
RANGE_INCONSISTENT = const(0x0001)  # the range failed the kinematic consistency test: not used
RANGE_STALE = const(0x0002)  # the reading was older than the age bound: not used
RANGE_UNCHECKED = const(0x0004)  # too few ranges yet to judge consistency: gated only
RANGE_VEL_REBASED = const(0x0008)  # a run of inconsistent ranges that moved together: the
# velocity estimate was wrong, not the sensor; velocity set from their rate, test restarted
RANGE_REVERTED = const(0x0010)  # with RANGE_REBASED: the ranges matched the track the last
# re-base left, so that re-base was onto a false return: back to the earlier ground (EV_REVERT)
RANGE_HELD = const(0x0020)  # rejected ranges that agree on ground farther away (the vehicle
# higher than thought): a terrain step or a false return, held until it persists
RANGE_CANDIDATE = const(0x0040)  # with RANGE_HELD: this range opened the candidate (EV_HOLD)
RANGE_ACQUIRING = const(0x0080)  # the range was used to acquire the altitude: sigma far above
# the range's noise and the terminal gate, so a high altitude gain and no velocity or bias term
BLIND = const(0x0100)  # guidance flies the blind descent: no trusted altitude below the gate
SCATTER_SIGMA = const(0x0200)  # the ranges' scatter, above the filter's sigma, sets the bound
RESERVE = const(0x0400)  # propellant down to the reserve (declared once by EV_RESERVE)
RESUMED = const(0x0800)  # this tick resumed the flight from the state persisted before a reset
PREFLIGHT_BAD = const(0x1000)  # SAFE/ARMED: a preflight sensor check fails (ARM would refuse)
ACC_CLAMPED = const(0x2000)  # the accelerometer sample was beyond +/-64 g: clamped to it
LAND_IMPACT = const(0x4000)  # land detector: a ground impact was sensed while low; contact held
ACC_BAD = const(0x8000)  # the accelerometer is distrusted (fsw/flight.py's monitor): the thrust
# model propagates, no bias calibration, no engine learning, no ground reaction

NAMES2 = (
    "range_inconsistent", "range_stale", "range_unchecked", "range_vel_rebased", "range_reverted",
    "range_held", "range_candidate", "range_acquiring",
    "blind", "scatter_sigma", "reserve", "resumed", "preflight_bad", "acc_clamped", "land_impact",
    "acc_bad",
)
