# The rangefinder contract every range driver in fsw follows (after ArduPilot AP_RangeFinder):
#   status        one of the RF_* health states below; every consumer checks it
#   distance_mm   last distance, meaningful only when status is RF_GOOD
#   valid_count   0..10: consecutive good readings, capped (ArduPilot's range_valid_count)
#   reading_us    time (ticks_us domain, wraps at 2^30) of the last good reading
#   signal        signal strength of the last reading (sensor units, 0..255)
#   step(now_us)  bounded, non-blocking work for one tick; never raises, never allocates
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


RF_NOT_CONNECTED = const(0)  # nothing answers on the bus / no frames from the sensor
RF_NO_DATA = const(1)  # the sensor answers but gives no usable reading (timeouts, errors)
RF_OUT_OF_RANGE_LOW = const(2)  # closer than the sensor's minimum range
RF_OUT_OF_RANGE_HIGH = const(3)  # no return / farther than the maximum range
RF_GOOD = const(4)

VALID_COUNT_MAX = const(10)
