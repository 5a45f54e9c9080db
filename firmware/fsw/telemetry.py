# Telemetry frame: one per tick, fixed layout (offsets into the payload, little-endian).
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.link import OVERHEAD, T_TELEM, crc_view, put_header

TICK = const(0)  # i32 tick counter
TIME_US = const(4)  # i32 time of the tick input, us, wraps at 2^30
MODE = const(8)  # u8
PHASE = const(9)  # u8 guidance phase
FLAGS = const(10)  # u16 decision bits (fsw.flags)
ALT_MM = const(12)  # i32 altitude estimate
VEL_MM_S = const(16)  # i32 vertical velocity estimate, up +
SIGMA_MM = const(20)  # i32 altitude uncertainty
VREF_MM_S = const(24)  # i32 velocity reference, up +
THROTTLE_Q15 = const(28)  # u16 throttle command
ACMD_MM_S2 = const(30)  # i32 commanded thrust acceleration
INTEG_MM_S2 = const(34)  # i32 PI integrator
RANGE_MM = const(38)  # i32 range received this tick
AMAX_MM_S2 = const(42)  # i32 full-thrust acceleration at the current mass estimate
MASS_Q14 = const(46)  # u16 mass / start mass
OVERRUNS = const(48)  # u16 late ticks so far
LINK_ERRORS = const(50)  # u16 frames dropped by the link decoder so far
FAULTS = const(52)  # u16 exceptions caught in the loop so far
REJECTS = const(54)  # u16 consecutive rejected ranges
HLOW_MM = const(56)  # i32 conservative altitude bound used by guidance
RF_STATUS = const(60)  # u8 rangefinder health (fsw.rangefinder RF_*)
RF_VALID = const(61)  # u8 rangefinder valid count 0..10
RF_SIGNAL = const(62)  # u8 rangefinder signal strength
RF_TX = const(63)  # u8 bus transactions the rangefinder driver made this tick
RF_ERRORS = const(64)  # u16 rangefinder driver errors so far (wraps)
FLAGS2 = const(66)  # u16 second decision word (fsw.flags FLAGS2 bits)
LENGTH = const(68)


# the payload above as one struct format (little-endian, no padding): packed in one call
# into C, ~1 ms on a 16 MHz Cortex-M0 where a put_* call per field cost ~5 ms, by
# fsw.app.App._send_telemetry (written out there: a call costs ~0.05 ms at 16 MHz). Every i32
# field is within +/-2^30 by the firmware's integer discipline (the wire limit that put_i32
# saturates to), the u16 and u8 fields are clamped or masked there
FORMAT = "<iiBBHiiiiHiiiiHHHHHiBBBBHH"


class Telemetry:
    # the frame buffer and the view its CRC covers (made once: a memoryview slice allocates)
    def __init__(self):
        self.frame = bytearray(LENGTH + OVERHEAD)
        self.crc = crc_view(self.frame, LENGTH)
        put_header(self.frame, T_TELEM, LENGTH)  # they never change: Encoder.refinish sends it
