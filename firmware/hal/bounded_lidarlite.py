# adafruit_lidarlite.LIDARLite with a bounded busy-wait, for CircuitPython boards and host bench
# tools (Blinka). Not the in-loop flight driver (fsw.lidarlite is): this one still blocks for up
# to its bound, sleeps 0.5 s in __init__ and 1 ms per register write, and allocates per read.
#
# The stock driver's _read_reg polls STATUS until the busy bit clears, with no limit, so a stuck
# busy bit (Garmin issue #25) hangs the caller for ever. Here the wait gives up after max_polls
# STATUS reads that all show busy, or after timeout_ms, whichever comes first, and raises
#     RuntimeError("LIDAR-Lite busy timeout")
# The driver already raises RuntimeError for failed measurements (no peak, secondary return,
# system failure), so one `except RuntimeError` covers every "no reading this time". Bus errors
# stay OSError.
#
# Every register read is a pointer write, a STOP, then a separate read (I2CDevice.write then
# I2CDevice.readinto, i.e. busio's writeto then readfrom_into). The stock driver reads with
# write_then_readinto, a repeated START, which a v3 answers with zeros: STATUS 0x00 (health bit
# clear) and "System failure" on every reading. Blinka's FT232H and MCP2221 send that repeated
# START, so the stock driver cannot read a v3 from a laptop; this one can. Everything else is
# the stock driver, unchanged.
#
#     lidar = BoundedLIDARLite(i2c, max_polls=100, timeout_ms=50)
#     try:
#         cm = lidar.distance
#     except RuntimeError:
#         cm = None
#
# On MicroPython the stock driver needs firmware/lib/digitalio.py (it imports digitalio) and a
# busio-style I2C object (try_lock/unlock, start=/end= keywords); machine.I2C is not one.
# MicroPython-compatible syntax: no annotations, no f-strings.
import time

from adafruit_lidarlite import STATUS_BUSY, LIDARLite

DEFAULT_MAX_POLLS = 100  # ~40 ms of 0.4 ms status polls at 100 kHz; a measurement needs ~10-15

try:
    _ticks_ms = time.ticks_ms  # MicroPython
    _ticks_diff = time.ticks_diff
except AttributeError:
    _ticks_ms = None
    _ticks_diff = None


def _monotonic_ms():
    # CircuitPython and CPython
    try:
        return time.monotonic_ns() // 1000000
    except AttributeError:
        return int(time.monotonic() * 1000)


class BoundedLIDARLite(LIDARLite):
    """LIDARLite whose wait for the busy bit is bounded.

    max_polls: STATUS reads allowed while busy (None: no poll limit).
    timeout_ms: time budget of one wait (None: no time limit).
    clock_ms: callable giving milliseconds for timeout_ms (default: time.ticks_ms on
        MicroPython, time.monotonic_ns on CircuitPython/CPython). With both limits None the
        wait is as unbounded as the stock driver's.
    Other keyword arguments go to LIDARLite (reset_pin, configuration, address, sensor_type).
    busy_timeouts counts the waits that gave up; last_polls is the busy polls of the last wait.
    """

    def __init__(self, i2c_bus, max_polls=DEFAULT_MAX_POLLS, timeout_ms=None, clock_ms=None,
                 **kwargs):
        if max_polls is not None and max_polls < 1:
            raise ValueError("max_polls must be >= 1 or None")
        if timeout_ms is not None and timeout_ms < 0:
            raise ValueError("timeout_ms must be >= 0 or None")
        self.max_polls = max_polls
        self.timeout_ms = timeout_ms
        self.busy_timeouts = 0
        self.last_polls = 0
        if clock_ms is not None:
            self._clock_ms = clock_ms
            self._wraps = False
        elif _ticks_ms is not None:
            self._clock_ms = _ticks_ms
            self._wraps = True
        else:
            self._clock_ms = _monotonic_ms
            self._wraps = False
        self._status_buf = bytearray(1)  # before super().__init__, which reads STATUS
        super().__init__(i2c_bus, **kwargs)

    def _read_stop(self, reg, buf, num):
        # pointer write, STOP, read: never a repeated START (a v3 reads zeros after one)
        buf[0] = reg
        with self.i2c_device as i2c:
            i2c.write(buf, end=1)
            i2c.readinto(buf, end=num)
        return buf

    @property
    def status(self):
        return self._read_stop(0x01, self._status_buf, 1)[0]

    def _elapsed_ms(self, start):
        now = self._clock_ms()
        if self._wraps:
            return _ticks_diff(now, start)
        return now - start

    def _read_reg(self, reg, num):
        max_polls = self.max_polls
        timeout_ms = self.timeout_ms
        start = self._clock_ms() if timeout_ms is not None else 0
        polls = 0
        while True:
            self._status = self.status
            if not self._status & STATUS_BUSY:
                break
            polls += 1
            if (max_polls is not None and polls >= max_polls) or (
                timeout_ms is not None and self._elapsed_ms(start) >= timeout_ms
            ):
                self.last_polls = polls
                self.busy_timeouts += 1
                raise RuntimeError("LIDAR-Lite busy timeout")
        self.last_polls = polls
        # no longer busy: the stock driver's read, with a STOP before the data
        return self._read_stop(reg, self._buf, num)
