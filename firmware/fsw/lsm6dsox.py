# ST LSM6DSOX accelerometer flight driver (I2C 0x6A, 0x6B with SA0 high; Adafruit breakout):
# the vertical specific force for Flight.tick, as a non-blocking state machine: at most max_tx
# I2C transactions per step(), no allocation, integers only (every intermediate within
# +/-2^30), every bus exception counted and turned into health, never raised. docs/imu.md.
#
# Bus: readfrom_mem_into / writeto_mem (register address, repeated START; what the part and
# micropython-lib's lsm6dsox driver use). States (transactions):
#   PROBE WHO_AM_I (1) -> RESET CTRL3_C SW_RESET (1) -> WAIT (0, rest of the step)
#   -> CONFIG CTRL3_C = BDU|IF_INC, CTRL1_XL = ODR|FS (2) -> VERIFY 0x0F..0x12 (1) -> RUN
#   RUN: STATUS_REG (1), and when XLDA is set OUTX_L_A..OUTZ_H_A in one read (1); a VERIFY
#   read (WHO_AM_I and the configuration back) every CHECK_EVERY steps and every stale step
#
# threshold        value    meaning
# RESET_ERRORS     5        consecutive failed transactions -> re-probe (then reset, config)
# RESET_WAIT_US    1000     after SW_RESET no traffic until the next step at least this late
# STALE_US         50000    no new sample (XLDA clear) for this long -> NO_DATA, verify
# STALE_RESET_US   250000   stale this long with the configuration intact -> SW_RESET, config
# STUCK_N          25       consecutive samples with all 6 output bytes identical -> NO_DATA
#                           and SW_RESET (noise makes that improbable on a working part)
# CHECK_EVERY      25       RUN steps between configuration read-backs (power cycle: lost)
# MAX_TX           3        transactions per step (constructor max_tx, at least 1)
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.fixmath import ticks_diff

ADDR = const(0x6A)
ADDR_ALT = const(0x6B)
WHO_AM_I_VALUE = const(0x6C)

RESET_ERRORS = const(5)
RESET_WAIT_US = const(1000)
STALE_US = const(50000)
STALE_RESET_US = const(250000)
STUCK_N = const(25)
CHECK_EVERY = const(25)
MAX_TX = const(3)

# health
ACC_NOT_CONNECTED = const(0)  # nothing answers, or not an LSM6DSOX (WHO_AM_I)
ACC_NO_DATA = const(1)  # answers but no usable sample: errors, stale, stuck, configuring
ACC_SATURATED = const(2)  # the up axis sits at full scale: acc_mm_s2 is a lower bound
ACC_GOOD = const(3)

# states
S_PROBE = const(0)
S_RESET = const(1)
S_WAIT = const(2)
S_CONFIG = const(3)
S_VERIFY = const(4)
S_RUN = const(5)

# registers
_REG_WHO_AM_I = const(0x0F)  # VERIFY reads 0x0F WHO_AM_I, 0x10 CTRL1_XL, 0x11 CTRL2_G, 0x12 CTRL3_C
_REG_CTRL1_XL = const(0x10)
_REG_CTRL3_C = const(0x12)
_REG_STATUS = const(0x1E)
_REG_OUTX_L_A = const(0x28)
_CTRL3_BDU = const(0x40)
_CTRL3_IF_INC = const(0x04)
_CTRL3_SW_RESET = const(0x01)
_CTRL3 = const(0x44)  # BDU | IF_INC
_XLDA = const(0x01)
_COUNT_MASK = const(0x1FFFFFFF)  # counters wrap at 2^29: never a heap int

# full scale (g) -> CTRL1_XL FS_XL bits (XL_FS_MODE = 0; the codes are not in order)
FS_BITS = {2: 0, 4: 2, 8: 3, 16: 1}
# sensitivity 0.061 mg/LSB at +/-2 g, doubling with the range (0.122, 0.244, 0.488), times
# g0 = 9806.65 mm/s^2: mm/s^2 per LSB = 59820565 * 2^k / 10^8, k = 0..3 for 2..16 g
SENS_NUM = const(59820565)
SENS_DEN_LOG10 = const(8)
FS_SHIFT = {2: 0, 4: 1, 8: 2, 16: 3}
# CTRL1_XL ODR_XL codes 1..10 (high-performance mode) and their rates in 0.1 Hz
ODR_DHZ = (0, 125, 260, 520, 1040, 2080, 4160, 8330, 16660, 33330, 66660)


def scale_parts(fs_g):
    # the factor 59820565 * 2^k split in base 1000 (h, m, l): convert() multiplies a raw
    # sample by each part, so no product passes 2^30 (|raw| <= 32768, parts < 1000)
    c = SENS_NUM << FS_SHIFT[fs_g]
    return c // 1000000, (c // 1000) % 1000, c % 1000


def convert(raw, h, m, l):
    # raw * (h*10^6 + m*10^3 + l) / 10^8, rounded half up, exactly: floor(floor(x/a)/b) =
    # floor(x/(a*b)) makes the nested floor divisions the floor of the whole fraction.
    # |raw| <= 32768: largest intermediate 32768 * 999 + 32768 < 3.3e7
    t = raw * m + (raw * l) // 1000
    t = raw * h + t // 1000
    return (t + 50) // 100


def odr_code(loop_hz):
    # the slowest ODR at least 4 times the loop rate (default 50 Hz loop: 208 Hz)
    want = loop_hz * 40
    for code in range(1, 11):
        if ODR_DHZ[code] >= want:
            return code
    return 10


class Lsm6dsox:
    # i2c: machine.I2C-like. up_axis 0/1/2 (x/y/z) is the body axis pointing up, up_sign +1
    # or -1 its sense; fs_g 2/4/8/16 the full scale (16: landing shocks). Read-only:
    # status (ACC_*), acc_ok, acc_mm_s2 (vertical specific force, +1 g at rest), reading_us
    # (step time of the last sample read), raw (the up axis, sensor counts), saturated,
    # state, counters errors, reprobes, resets, config_rewrites, stale_events, stuck_events,
    # saturations, samples, tx_last, tx_max.

    def __init__(self, i2c, addr=ADDR, fs_g=16, up_axis=2, up_sign=1, loop_hz=50, max_tx=MAX_TX):
        if fs_g not in FS_BITS:
            raise ValueError("fs_g must be 2, 4, 8 or 16")
        if up_axis not in (0, 1, 2) or up_sign not in (1, -1):
            raise ValueError("up_axis 0..2, up_sign +1 or -1")
        self._rd = i2c.readfrom_mem_into
        self._wr = i2c.writeto_mem
        self.addr = addr
        self.fs_g = fs_g
        self.max_tx = max_tx if max_tx > 0 else 1
        self.ctrl1 = (odr_code(loop_hz) << 4) | (FS_BITS[fs_g] << 2)
        self._h, self._m, self._l = scale_parts(fs_g)
        self._lo = 2 * up_axis
        self._neg = up_sign < 0
        self._r1 = bytearray(1)
        self._w1 = bytearray(1)
        self._chk = bytearray(4)  # WHO_AM_I, CTRL1_XL, CTRL2_G, CTRL3_C
        self._out = bytearray(6)
        self._prev = bytearray(6)
        self.state = S_PROBE
        self.status = ACC_NOT_CONNECTED
        self.acc_ok = False
        self.saturated = False
        self.acc_mm_s2 = self.raw = self.reading_us = 0
        self.errors = self.reprobes = self.resets = self.config_rewrites = 0
        self.stale_events = self.stuck_events = self.saturations = self.samples = 0
        self.tx_last = self.tx_max = self._tx = 0
        self._op = 0
        self._t = 0  # reset time (WAIT), else the time of the last new sample
        self._fresh = False  # a sample has been read since (re)configuration
        self._since_check = 0
        self._err_run = self._same_run = 0

    def step(self, now_us):
        self._tx = 0
        if self._since_check < CHECK_EVERY:
            self._since_check += 1
        try:
            self._run(now_us)
        except Exception:
            self._fail()
        tx = self._tx
        self.tx_last = tx
        if tx > self.tx_max:
            self.tx_max = tx
        st = self.status
        if st == ACC_GOOD or st == ACC_SATURATED:
            if ticks_diff(now_us, self.reading_us) > STALE_US:
                self.status = ACC_NO_DATA
                self.stale_events = (self.stale_events + 1) & _COUNT_MASK
        self.acc_ok = self.status == ACC_GOOD

    def _read(self, reg, buf):
        self._tx += 1
        self._rd(self.addr, reg, buf)

    def _write(self, reg, value):
        w = self._w1
        w[0] = value
        self._tx += 1
        self._wr(self.addr, reg, w)

    def _run(self, now):
        while self._tx < self.max_tx:
            s = self.state
            if s == S_RUN:
                if self._op == 0:
                    stale = ticks_diff(now, self._t) > STALE_US
                    # a read-back every CHECK_EVERY steps, and every step while stale (at
                    # most one a step: _since_check is 0 after one, counted up per step)
                    if self._since_check >= CHECK_EVERY or (stale and self._since_check):
                        if stale and ticks_diff(now, self._t) > STALE_RESET_US:
                            self.state = S_RESET  # no sample for long, configuration intact
                            continue
                        self.state = S_VERIFY
                        continue
                    r = self._r1
                    r[0] = 0
                    self._read(_REG_STATUS, r)
                    self._err_run = 0
                    if not r[0] & _XLDA:
                        return  # no new sample yet (step() judges the age)
                    self._op = 1
                else:
                    self._op = 0
                    self._read(_REG_OUTX_L_A, self._out)
                    self._err_run = 0
                    self._sample(now)
                    return
            elif s == S_VERIFY:
                c = self._chk
                c[0] = 0
                self._read(_REG_WHO_AM_I, c)
                self._err_run = 0
                self._since_check = 0
                if c[0] != WHO_AM_I_VALUE:
                    self.state = S_PROBE  # another part, or a bus reading garbage
                    self.reprobes = (self.reprobes + 1) & _COUNT_MASK
                    self.status = ACC_NOT_CONNECTED
                    return
                if c[1] != self.ctrl1 or c[3] != _CTRL3:
                    # configuration lost (power cycle, brown-out): write it again
                    self.config_rewrites = (self.config_rewrites + 1) & _COUNT_MASK
                    self.state = S_CONFIG
                    self._op = 0
                    self._lost()
                else:
                    self.state = S_RUN
                    self._op = 0
            elif s == S_CONFIG:
                if self._op == 0:
                    self._write(_REG_CTRL3_C, _CTRL3)
                    self._op = 1
                else:
                    self._write(_REG_CTRL1_XL, self.ctrl1)
                    self._op = 0
                    self._t = now  # the first sample is due 1/ODR from now
                    self._fresh = False
                    self._since_check = 0
                    self.state = S_VERIFY
                self._err_run = 0
            elif s == S_PROBE:
                r = self._r1
                r[0] = 0
                self._read(_REG_WHO_AM_I, r)
                if r[0] != WHO_AM_I_VALUE:
                    return self._fail()
                self._err_run = 0
                self.status = ACC_NO_DATA
                self.state = S_RESET
            elif s == S_RESET:
                self.resets = (self.resets + 1) & _COUNT_MASK
                self._lost()
                self.state = S_WAIT
                self._t = now
                self._write(_REG_CTRL3_C, _CTRL3_SW_RESET)
                return
            else:  # S_WAIT: the reset takes ~50 us; configure on a later step
                if ticks_diff(now, self._t) < RESET_WAIT_US:
                    return
                self.state = S_CONFIG
                self._op = 0

    def _lost(self):
        # no trustworthy sample until the part is configured and samples again
        self.status = ACC_NO_DATA
        self._same_run = 0

    def _fail(self):
        # a failed transaction (NACK, EIO, timeout, an allocating HAL), or a wrong WHO_AM_I
        self.errors = (self.errors + 1) & _COUNT_MASK
        if self._err_run < RESET_ERRORS:
            self._err_run += 1
        self._op = 0
        s = self.state
        if s == S_PROBE:
            self.status = ACC_NOT_CONNECTED
        elif self.status != ACC_NOT_CONNECTED:
            self.status = ACC_NO_DATA
        if s == S_WAIT:  # the SW_RESET write itself failed: send it again
            self.state = S_RESET
        if self._err_run >= RESET_ERRORS and s != S_PROBE:
            self._err_run = 0
            self.state = S_PROBE
            self.status = ACC_NOT_CONNECTED
            self.reprobes = (self.reprobes + 1) & _COUNT_MASK

    def _sample(self, now):
        b = self._out
        p = self._prev
        same = self._fresh and b == p
        self._out = p  # the next read goes into the other buffer: this one is the previous
        self._prev = b
        self._fresh = True
        self._t = now
        lo = self._lo
        raw = b[lo] | (b[lo + 1] << 8)
        if raw > 32767:
            raw -= 65536
        self.raw = raw
        if same:
            self._same_run += 1
            if self._same_run >= STUCK_N:  # frozen output registers
                self.stuck_events = (self.stuck_events + 1) & _COUNT_MASK
                self.state = S_RESET
                self._lost()
                return
        else:
            self._same_run = 0
        self.saturated = raw == 32767 or raw == -32768
        if self._neg:
            raw = -raw
        self.acc_mm_s2 = convert(raw, self._h, self._m, self._l)
        self.reading_us = now
        self.samples = (self.samples + 1) & _COUNT_MASK
        if self.saturated:
            self.saturations = (self.saturations + 1) & _COUNT_MASK
            self.status = ACC_SATURATED
        else:
            self.status = ACC_GOOD
