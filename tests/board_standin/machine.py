# A test-only stand-in for MicroPython's `machine` module, for board mode without hardware
# (tests/test_board_mode.py). It runs under CPython and under MicroPython (the unix ports, with
# this directory on MICROPYPATH), so it is written as firmware is: no annotations, no f-strings,
# and nothing the loop calls allocates (the heap-lock test runs the board loop through it).
#
#   clock     a virtual microsecond clock: ticks_us/ticks_ms/ticks_add/ticks_diff/sleep_us/
#             sleep_ms for the board (the time module's API) and now_us/advance_us/
#             advance_to_us for the host's LIDAR-Lite emulator, which takes it as its clock.
#             Time moves only when the loop sleeps, a bus transaction takes its time, or a
#             test advances it.
#   Pin       value() reads `level` (set_level(id, level) sets it from a test); a pull-up
#             input reads 1 until something pulls it down.
#   I2C       answered by I2C.backend when a test sets one (under CPython: the emulators'
#             MachineI2C), else by FakeLidar, a small LIDAR-Lite v3 register file (writeto,
#             readfrom_into), and FakeImu, a small LSM6DSOX register file (writeto_mem,
#             readfrom_mem_into). `unplugged` makes every transaction raise OSError(ENODEV),
#             `nack_addr` those to one address (a part pulled off the bus).
#   PWM       duty_ns() records the pulse (pulse_us, max_ns, writes; `log` collects
#             (time, us) when a test sets it to a list).
#   WDT       feed() records the feed; the clock checks it on every advance and raises
#             WatchdogBite (a BaseException: no `except Exception` in the loop catches it)
#             when it goes unfed longer than its timeout.
#   RTC       memory(): a byte store kept across boards built in one test (battery RAM).
#   created   the names of the devices in the order they were built (CPython tests only).

TICKS_MASK = 0x3FFFFFFF
TICKS_HALF = 0x20000000


class WatchdogBite(BaseException):
    pass


class Clock:
    def __init__(self, start_us=0):
        self.now_us = start_us  # absolute, unwrapped
        self.wdt = None

    def advance_us(self, n):
        if n < 0:
            raise ValueError("the clock cannot go back")
        self.now_us += n
        w = self.wdt
        if w is not None:
            w.check(self.now_us)

    def advance_to_us(self, t_us):
        if t_us > self.now_us:
            self.advance_us(t_us - self.now_us)

    @property
    def now_s(self):
        return self.now_us / 1e6

    # the time module's API
    def ticks_us(self):
        return self.now_us & TICKS_MASK

    def ticks_ms(self):
        return (self.now_us // 1000) & TICKS_MASK

    def ticks_add(self, a, d):
        return (a + d) & TICKS_MASK

    def ticks_diff(self, a, b):
        d = (a - b) & TICKS_MASK
        return d - TICKS_HALF - TICKS_HALF if d >= TICKS_HALF else d

    def sleep_us(self, n):
        if n > 0:
            self.advance_us(n)

    def sleep_ms(self, n):
        self.sleep_us(n * 1000)


clock = Clock()
created = []
_ENODEV = OSError(19)


def reset(start_us=0):
    # a fresh board: new clock, no pins, no backend (the RTC memory survives, as battery RAM)
    global clock
    clock = Clock(start_us)
    Pin.pins = {}
    I2C.backend = None
    del created[:]
    return clock


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    pins = {}

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        old = Pin.pins.get(id)
        if old is not None:
            self.level = old.level  # the wire keeps its level
        else:
            self.level = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self.level = 1 if value else 0
        Pin.pins[id] = self

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = 1 if v else 0

    def on(self):
        self.level = 1

    def off(self):
        self.level = 0


def set_level(pin_id, level):
    pin = Pin.pins.get(pin_id)
    if pin is None:
        pin = Pin(pin_id)
    pin.level = level


class FakeLidar:
    # LIDAR-Lite v3 at 0x62: pointer register, bit-7 auto-increment, a measurement command
    # (0x00 <- 3 or 4) finishes at once with distance `cm` and a signal that varies (a frozen
    # register file would be reset by the driver); ~0.1 ms of bus time a transaction
    def __init__(self, cm=250):
        r = bytearray(256)
        r[0x01] = 0x20  # STATUS: health OK, not busy
        r[0x02] = 0x80
        r[0x04] = 0x08
        r[0x41] = 0x14  # v3 HW version
        r[0x4F] = 0x0B  # v3 SW version
        self.regs = r
        self.ptr = 0
        self.cm = cm
        self.n = 0

    def writeto(self, addr, buf, stop=True):
        clock.advance_us(100)
        if addr != 0x62:
            raise _ENODEV
        r = self.regs
        reg = buf[0] & 0x7F
        self.ptr = buf[0]
        if len(buf) > 1:
            r[reg] = buf[1]
            if reg == 0 and (buf[1] == 3 or buf[1] == 4):
                self.n = (self.n + 1) & 0xFFFF
                r[0x0F] = (self.cm >> 8) & 0xFF
                r[0x10] = self.cm & 0xFF
                r[0x0E] = 80 + (self.n & 7)
                r[0x01] = 0x20
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        clock.advance_us(100 + 25 * len(buf))
        if addr != 0x62:
            raise _ENODEV
        r = self.regs
        p = self.ptr
        inc = p & 0x80
        p &= 0x7F
        for i in range(len(buf)):
            buf[i] = r[(p + i) & 0xFF] if inc else r[p]


class FakeImu:
    # LSM6DSOX at 0x6A: WHO_AM_I, CTRL1_XL..CTRL10_C storage, CTRL3_C SW_RESET and IF_INC,
    # STATUS_REG XLDA set while CTRL1_XL's ODR is on (the part samples faster than the loop),
    # the outputs: `mg` milli-g on z (up) at the configured full scale, plus a count that varies
    # (a frozen output would be reset by the driver); ~0.1 ms of bus time a transaction
    SENS_UG = (61, 488, 122, 244)  # ug/LSB for FS_XL bits 0..3 (+/-2, 16, 4, 8 g)

    def __init__(self, mg=1000):
        self.regs = bytearray(128)
        self.mg = mg
        self.n = 0
        self._defaults()

    def _defaults(self):
        r = self.regs
        for i in range(128):
            r[i] = 0
        r[0x0F] = 0x6C
        r[0x12] = 0x04

    def writeto_mem(self, addr, reg, buf):
        clock.advance_us(100 + 25 * len(buf))
        if addr != 0x6A:
            raise _ENODEV
        r = self.regs
        for i in range(len(buf)):
            a = (reg + i) & 0x7F if r[0x12] & 0x04 else reg
            if a == 0x12 and buf[i] & 0x01:
                self._defaults()  # SW_RESET: the rest of the write is lost
                return
            if 0x10 <= a <= 0x19:
                r[a] = buf[i]

    def readfrom_mem_into(self, addr, reg, buf):
        clock.advance_us(100 + 25 * len(buf))
        if addr != 0x6A:
            raise _ENODEV
        r = self.regs
        on = r[0x10] >> 4
        r[0x1E] = 1 if on else 0
        if on and reg == 0x28:
            self.n = (self.n + 1) & 0xFFFF
            z = (self.mg * 1000) // FakeImu.SENS_UG[(r[0x10] >> 2) & 3] + (self.n & 3)
            r[0x28] = self.n & 1
            r[0x29] = 0
            r[0x2A] = 0
            r[0x2B] = 0
            r[0x2C] = z & 0xFF
            r[0x2D] = (z >> 8) & 0xFF
        for i in range(len(buf)):
            buf[i] = r[(reg + i) & 0x7F] if r[0x12] & 0x04 else r[reg]


class I2C:
    backend = None

    def __init__(self, id, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id
        self.scl = scl
        self.sda = sda
        self.freq = freq
        self.timeout_us = timeout
        self.unplugged = False
        self.nack_addr = -1
        self.dev = I2C.backend if I2C.backend is not None else FakeLidar()
        self.mem_dev = I2C.backend if I2C.backend is not None else FakeImu()
        created.append("I2C")

    def _nack(self, addr):
        if self.unplugged or addr == self.nack_addr:
            clock.advance_us(30)  # an address NACK at 400 kHz
            raise _ENODEV

    def writeto(self, addr, buf, stop=True):
        self._nack(addr)
        return self.dev.writeto(addr, buf)

    def readfrom_into(self, addr, buf, stop=True):
        self._nack(addr)
        self.dev.readfrom_into(addr, buf)

    def writeto_mem(self, addr, memaddr, buf):
        self._nack(addr)
        self.mem_dev.writeto_mem(addr, memaddr, buf)

    def readfrom_mem_into(self, addr, memaddr, buf):
        self._nack(addr)
        self.mem_dev.readfrom_mem_into(addr, memaddr, buf)


class PWM:
    def __init__(self, pin, freq=0, duty_ns=0):
        self.pin = pin
        self.freq_hz = freq
        self.writes = 0
        self.log = None
        self.pulse_ns = duty_ns
        self.max_ns = duty_ns  # the longest pulse written
        created.append("PWM")

    def freq(self, hz=None):
        if hz is None:
            return self.freq_hz
        self.freq_hz = hz

    def duty_ns(self, ns=None):
        if ns is None:
            return self.pulse_ns
        self.pulse_ns = ns
        if ns > self.max_ns:
            self.max_ns = ns
        self.writes += 1
        if self.log is not None:
            self.log.append((clock.now_us, ns // 1000))

    @property
    def pulse_us(self):
        return self.pulse_ns // 1000


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout_us = timeout * 1000
        self.feeds = 0
        self.last_feed_us = clock.now_us
        self.bitten_us = -1
        clock.wdt = self
        created.append("WDT")

    def feed(self):
        self.check(clock.now_us)
        self.feeds += 1
        self.last_feed_us = clock.now_us

    def check(self, now_us):
        if self.bitten_us < 0 and now_us - self.last_feed_us > self.timeout_us:
            self.bitten_us = now_us
            raise WatchdogBite()


_rtc = bytearray(2048)  # ESP32 RTC slow memory holds 2 KB
_rtc_n = [0]


def clear_rtc():
    _rtc_n[0] = 0


class RTC:
    def __init__(self):
        created.append("RTC")

    def memory(self, data=None):
        if data is None:
            return bytes(_rtc[: _rtc_n[0]])
        n = len(data)
        if n > len(_rtc):
            raise ValueError("RTC memory holds 2048 bytes")
        for i in range(n):  # byte by byte: a slice would allocate under the heap lock
            _rtc[i] = data[i]
        _rtc_n[0] = n
