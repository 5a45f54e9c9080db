# Garmin LIDAR-Lite v3 / v3HP flight driver (I2C 0x62) for the control loop: a non-blocking
# state machine, at most max_tx I2C transactions per step(), no allocation, integers only; every
# exception from the bus is data (counted, reported as health, never raised). Health contract:
# fsw.rangefinder. Description, state table and recovery table: docs/lidar-driver.md.
#
# Bus: writeto + readfrom_into only (a pointer write, STOP, then the read: the v3 does not work
# with the repeated START of readfrom_mem_into). A measurement is 3 transactions: trigger, then
# next step pointer 0x81 and one 16-byte read of registers 0x01..0x10 (STATUS, SIG_COUNT_VAL,
# ACQ_CONFIG, VELOCITY, SIGNAL_STRENGTH, FULL_DELAY): status, distance, signal and the
# configuration read-back every measurement. States (transactions):
#   PROBE 0x41, 0x4f (4) -> CONFIG (2) -> TRIGGER (1) -> READ (2) -> TRIGGER ...
#   RESET (1) -> WAIT (0) -> PROBE
#
# threshold        value    meaning
# BUSY_TIMEOUT_US  25000    busy this long after the trigger: timeout (an error), re-trigger
# RESET_ERRORS     10       consecutive errors (bus exception, short ACK, garbage, timeout,
#                           v3 process error / health bit clear) -> sensor reset
# RESET_ZEROS      20       consecutive 0 cm readings (stuck at zero, as PX4) -> sensor reset
# RESET_WAIT_US    25000    no bus traffic after the reset command (the sensor reboots ~22 ms)
# STALE_N          50       repeats of an in-range reading with identical distance, signal and
#                           velocity (a frozen register file) -> NO_DATA and sensor reset
# MAX_AGE_US       100000   a GOOD reading older than this (by its trigger time) -> NO_DATA
# BIAS_EVERY       100      one bias-corrected trigger (0x04) per 100, else 0x03
# MIN_CM           5        closer -> OUT_OF_RANGE_LOW
# MAX_CM           4000     farther -> OUT_OF_RANGE_HIGH (so are 1 cm and v3 STATUS b3)
# SIG_COUNT        0xFF     SIG_COUNT_VAL written: maximum range (v3 default 0x80)
# ACQ_CONFIG       0x08     ACQ_CONFIG_REG written: quick termination off (the default)
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.fixmath import ticks_diff
from fsw.rangefinder import RF_GOOD, RF_NO_DATA, RF_NOT_CONNECTED, VALID_COUNT_MAX
from fsw.rangefinder import RF_OUT_OF_RANGE_HIGH, RF_OUT_OF_RANGE_LOW

ADDR = const(0x62)
VARIANT_UNKNOWN = const(0)
VARIANT_V3 = const(1)
VARIANT_V3HP = const(2)

BUSY_TIMEOUT_US = const(25000)
RESET_ERRORS = const(10)
RESET_ZEROS = const(20)
RESET_WAIT_US = const(25000)
STALE_N = const(50)
MAX_AGE_US = const(100000)
BIAS_EVERY = const(100)
MIN_CM = const(5)
MAX_CM = const(4000)
NO_RETURN_CM = const(1)
SIG_COUNT = const(0xFF)
ACQ_CONFIG = const(0x08)

# states
S_PROBE = const(0)
S_CONFIG = const(1)
S_TRIGGER = const(2)
S_READ = const(3)
S_RESET = const(4)
S_WAIT = const(5)

# registers and commands
_REG_ACQ_COMMAND = const(0x00)
_REG_SIG_COUNT = const(0x02)
_REG_ACQ_CONFIG = const(0x04)
_REG_HW_VERSION = const(0x41)
_REG_SW_VERSION = const(0x4F)
_REG_BLOCK = const(0x81)  # STATUS with auto-increment
_CMD_RESET = const(0x00)
_CMD_MEASURE = const(0x03)
_CMD_BIAS = const(0x04)
# byte offsets in the block (register - 1)
_B_STATUS = const(0)
_B_SIG_COUNT = const(1)
_B_ACQ_CONFIG = const(3)
_B_VELOCITY = const(8)
_B_SIGNAL = const(13)
_B_DIST_HI = const(14)
_B_DIST_LO = const(15)
# STATUS bits
_ST_BUSY = const(0x01)
_ST_NO_PEAK = const(0x08)  # v3
_ST_HEALTH = const(0x20)  # v3
_ST_PROCESS_ERR = const(0x40)  # v3
_COUNT_MASK = const(0x1FFFFFFF)  # counters wrap at 2^29: never a heap int
_TICKS_MASK = const(0x3FFFFFFF)  # fsw.fixmath.TICKS_MASK
_TICKS_HALF = const(0x20000000)  # fsw.fixmath.TICKS_HALF


class LidarLite:
    # i2c: machine.I2C-like. Read-only: status, distance_mm, valid_count, reading_us (trigger
    # time of the last GOOD reading), signal, variant, state, counters errors, resets,
    # timeouts, config_rewrites, readings (GOOD ones), tx_last, tx_max (transactions).

    def __init__(self, i2c, addr=ADDR, max_tx=4):
        self._writeto = i2c.writeto
        self._readinto = i2c.readfrom_into
        self.addr = addr
        self.max_tx = max_tx if max_tx > 0 else 1
        self._ptr = bytearray(1)
        self._w2 = bytearray(2)
        self._r1 = bytearray(1)
        self._blk = bytearray(16)  # registers 0x01..0x10
        self.state = S_PROBE
        self.variant = VARIANT_UNKNOWN
        self.status = RF_NOT_CONNECTED
        self.distance_mm = self.valid_count = self.reading_us = self.signal = 0
        self.errors = self.resets = self.timeouts = self.config_rewrites = self.readings = 0
        self.tx_last = self.tx_max = self._tx = 0
        self._op = 0  # transaction index inside the state
        self._t = 0  # trigger time (READ) or reset time (WAIT)
        self._hw = 0  # HW version read by the probe
        self._bias = 0  # triggers since the last bias-corrected one
        self._err_run = self._zero_run = self._same_run = 0  # consecutive errors / zeros / repeats
        self._prev_d = self._prev_sig = self._prev_vel = -1  # last GOOD reading's raw values
        # step as an instance attribute: a caller's lidar.step(...) finds it in the instance's
        # attribute map (~8 us on a 16 MHz Cortex-M0) instead of missing it there and
        # searching the class (~100 us more on an object this size)
        self.step = self.step

    def step(self, now_us):
        # (shaped for a 16 MHz Cortex-M0: the helpers called through the class, where a
        # method looked up on this object, some 30 attributes, costs ~150 us a call, through
        # the class ~60 us; ticks_diff written out on the per-tick path)
        self._tx = 0
        try:
            LidarLite._run(self, now_us)
        except Exception:
            LidarLite._fail(self)
        tx = self._tx
        self.tx_last = tx
        if tx > self.tx_max:
            self.tx_max = tx
        if self.status == RF_GOOD:
            d = ((now_us & _TICKS_MASK) - (self.reading_us & _TICKS_MASK)) & _TICKS_MASK
            if d >= _TICKS_HALF:  # ticks_diff(now_us, self.reading_us), written out
                d = d - _TICKS_HALF - _TICKS_HALF
            if d > MAX_AGE_US:
                self.status = RF_NO_DATA
                self.valid_count = 0

    def _write(self, buf):
        self._tx += 1
        n = self._writeto(self.addr, buf)
        return n is None or n >= len(buf)  # machine.I2C: ACK count; busio: None

    def _write2(self, reg, value):
        w = self._w2
        w[0] = reg
        w[1] = value
        return LidarLite._write(self, w)

    def _run(self, now):
        while self._tx < self.max_tx:
            s = self.state
            op = self._op
            if s == S_TRIGGER:
                # _write2 and _write, written out (a call costs ~0.05 ms at 16 MHz; this runs
                # every step)
                w = self._w2
                w[0] = _REG_ACQ_COMMAND
                w[1] = _CMD_MEASURE if self._bias else _CMD_BIAS
                self._tx += 1
                n = self._writeto(self.addr, w)
                if not (n is None or n >= 2):
                    return LidarLite._fail(self)
                self._bias = (self._bias + 1) % BIAS_EVERY
                self._t = now
                self.state = S_READ
                return  # the measurement takes a few ms: read it next step
            if s == S_CONFIG:
                if op == 0:
                    ok = LidarLite._write2(self, _REG_SIG_COUNT, SIG_COUNT)
                else:
                    ok = LidarLite._write2(self, _REG_ACQ_CONFIG, ACQ_CONFIG)
                if not ok:
                    return LidarLite._fail(self)
                self._op = 1 - op
                if op:
                    self.state = S_TRIGGER
            elif s == S_RESET:
                # the sensor NACKs while it reboots: that NACK is not a new failure
                self.state = S_WAIT
                self._t = now
                self.resets = (self.resets + 1) & _COUNT_MASK
                self._err_run = self._zero_run = self._same_run = 0
                w = self._w2
                w[0] = _REG_ACQ_COMMAND
                w[1] = _CMD_RESET
                self._tx += 1
                self._writeto(self.addr, w)
                return
            elif s == S_WAIT:  # no bus traffic until the sensor has rebooted
                if ticks_diff(now, self._t) < RESET_WAIT_US:
                    return
                self.state = S_PROBE
                self._op = 0
            elif op == 0 or op == 2:  # PROBE and READ: register pointer, STOP, then read
                ptr = self._ptr
                if s == S_READ:
                    ptr[0] = _REG_BLOCK
                else:
                    ptr[0] = _REG_HW_VERSION if op == 0 else _REG_SW_VERSION
                self._tx += 1  # _write, written out
                n = self._writeto(self.addr, ptr)
                if not (n is None or n >= 1):
                    return LidarLite._fail(self)
                self._op = op + 1
            elif s == S_READ:
                self._blk[_B_STATUS] = 0xFF  # a read that fills nothing is garbage
                self._tx += 1
                self._readinto(self.addr, self._blk)
                self._op = 0
                if not LidarLite._evaluate(self, now):
                    return
            else:  # PROBE reads
                r = self._r1
                r[0] = 0xFF
                self._tx += 1
                self._readinto(self.addr, r)
                if op == 1:
                    self._hw = r[0]
                    self._op = 2
                else:
                    LidarLite._probed(self, self._hw, r[0])
                    if self.state == S_PROBE:
                        return

    def _probed(self, hw, sw):
        self._op = 0
        # v3: both versions non-zero; v3HP: both 0. A mix, or the 0xFF pair that a pulled-up
        # bus without a sensor reads, is no answer
        if (hw == 0) != (sw == 0) or (hw == 0xFF and sw == 0xFF):
            return LidarLite._fail(self)
        self.variant = VARIANT_V3HP if hw == 0 else VARIANT_V3
        self.status = RF_NO_DATA
        self._bias = 0
        self._err_run = 0
        self.state = S_CONFIG

    def _fail(self):
        # a failed transaction, a garbage reading or a timeout
        s = self.state
        if s == S_WAIT:
            return
        self.errors = (self.errors + 1) & _COUNT_MASK
        self._err_run += 1
        self.valid_count = 0
        self._op = 0
        self.status = RF_NOT_CONNECTED if s == S_PROBE else RF_NO_DATA
        if s == S_READ:
            self.state = S_TRIGGER
        if self._err_run >= RESET_ERRORS:
            self.state = S_RESET

    def _bad(self, status):
        # a reading that is not GOOD
        self.status = status
        self.valid_count = 0
        self._same_run = 0
        self._prev_d = -1
        return True

    def _evaluate(self, now):
        # the block is in: True when the state moved on, False to wait for the busy bit
        b = self._blk
        st = b[_B_STATUS]
        if st != 0xFF and st & _ST_BUSY:
            if ticks_diff(now, self._t) < BUSY_TIMEOUT_US:
                return False
            self.timeouts = (self.timeouts + 1) & _COUNT_MASK
            st = 0xFF
        d = (b[_B_DIST_HI] << 8) | b[_B_DIST_LO]
        v3 = self.variant == VARIANT_V3
        # timeout; STATUS 0xFF (pulled-up bus); 0xFFFF or beyond 327 m; v3 process error or
        # health bit clear
        if st == 0xFF or d >= 0x8000 or (v3 and (st & _ST_PROCESS_ERR or not st & _ST_HEALTH)):
            LidarLite._fail(self)
            return True
        if b[_B_SIG_COUNT] != SIG_COUNT or b[_B_ACQ_CONFIG] != ACQ_CONFIG:
            # configuration lost (power cycle): rewrite it, and do not trust this reading
            self.config_rewrites = (self.config_rewrites + 1) & _COUNT_MASK
            self.state = S_CONFIG
            return LidarLite._bad(self, RF_NO_DATA)
        self.state = S_TRIGGER
        self._err_run = 0
        sig = b[_B_SIGNAL]
        self.signal = sig
        self.distance_mm = d * 10
        if d == 0:  # stuck at zero: no target is 0 cm from the lens
            self._zero_run += 1
            if self._zero_run >= RESET_ZEROS:
                self.state = S_RESET
            return LidarLite._bad(self, RF_NO_DATA)
        self._zero_run = 0
        if d == NO_RETURN_CM or d > MAX_CM or (v3 and st & _ST_NO_PEAK):
            return LidarLite._bad(self, RF_OUT_OF_RANGE_HIGH)
        if d < MIN_CM:
            return LidarLite._bad(self, RF_OUT_OF_RANGE_LOW)
        vel = b[_B_VELOCITY]
        if d == self._prev_d and sig == self._prev_sig and vel == self._prev_vel:
            self._same_run += 1
            if self._same_run >= STALE_N:  # a frozen register file
                self.state = S_RESET
                return LidarLite._bad(self, RF_NO_DATA)
        else:
            self._same_run = 0
            self._prev_d = d
            self._prev_sig = sig
            self._prev_vel = vel
        self.status = RF_GOOD
        self.reading_us = self._t
        self.readings = (self.readings + 1) & _COUNT_MASK
        if self.valid_count < VALID_COUNT_MAX:
            self.valid_count += 1
        return True
