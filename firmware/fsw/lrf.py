# Long-range laser rangefinder (LRF) driver for the lunar profile. Serial frames from a UART,
# reported through the rangefinder health contract of fsw.rangefinder (status, distance_mm,
# valid_count, reading_us, signal; step(now_us) is bounded, never raises, never allocates).
#
# Frame (10 bytes):  59 4C | SEQ | STATUS | RANGE_CM u24 LE | SIGNAL | CRC hi | CRC lo
# CRC-16/CCITT-FALSE (the sensor's: crc16 below) over SEQ..SIGNAL. STATUS: 0 valid, 1 no return (too far or too
# weak), 2 too close, 3 sensor fault. SIGNAL: SNR in 0.25 dB steps. See docs/lrf.md.
#
# Frames are found with a 10-byte sliding window: whenever the window starts with the sync
# pair its CRC is checked, so a good frame is found right after garbage or a cut-off frame.
# Windows overlapping the last good frame are not checked (sync bytes inside its data are
# data). A window with the sync pair and a bad CRC is counted in crc_errors and dropped.
# The window slides over a history buffer (the last 9 bytes of the previous read, then this
# read's bytes, read into it in place) and the windows that start with the sync pair are
# found by bytearray.find (C): a byte costs nothing in Python, where a byte-at-a-time window
# cost ~0.15 ms a byte on a 16 MHz Cortex-M0.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.rangefinder import (
    RF_GOOD,
    RF_NO_DATA,
    RF_NOT_CONNECTED,
    RF_OUT_OF_RANGE_HIGH,
    RF_OUT_OF_RANGE_LOW,
    VALID_COUNT_MAX,
)

SYNC1 = const(0x59)
SYNC2 = const(0x4C)
FRAME_LEN = const(10)
ST_VALID = const(0)
ST_NO_RETURN = const(1)
ST_TOO_CLOSE = const(2)
ST_FAULT = const(3)
CHUNK = const(64)  # most bytes read from the UART per step
_KEEP = const(9)  # bytes of the stream kept from one read to the next (FRAME_LEN - 1)
_SYNC = b"\x59\x4c"  # SYNC1, SYNC2
_COUNT_MASK = const(0x1FFFFFFF)  # counters wrap at 2^29: never a heap int
_TICKS_MASK = const(0x3FFFFFFF)  # fsw.fixmath.TICKS_MASK
_TICKS_HALF = const(0x20000000)  # fsw.fixmath.TICKS_HALF



def _crc_table():
    # CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0), a byte at a
    # time: one lookup a byte, in the loop itself (a function call a byte cost ~0.1 ms on a
    # 16 MHz Cortex-M0); 256 small ints, made once at import
    t = []
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
        t.append(c)
    return tuple(t)


_CRC_T = _crc_table()


def crc16_byte(crc, b):
    return ((crc << 8) & 0xFF00) ^ _CRC_T[(crc >> 8) ^ b]


def crc16(buf, start, end):
    crc = 0xFFFF
    t = _CRC_T
    for i in range(start, end):
        crc = ((crc << 8) & 0xFF00) ^ t[(crc >> 8) ^ buf[i]]
    return crc


class Lrf:
    """LRF driver. uart: machine.UART-like (any(), readinto(buf, n) -> count or None).

    Health: no byte for silent_us (since the first step or the last byte) -> NOT_CONNECTED;
    no good frame for stale_us -> NO_DATA; otherwise the last frame decides: valid and within
    max_range_mm -> GOOD, no return or beyond max_range_mm -> OUT_OF_RANGE_HIGH, too close ->
    OUT_OF_RANGE_LOW, sensor fault or unknown status -> NO_DATA.
    """

    def __init__(self, uart, max_range_mm=6000000, stale_us=150000, silent_us=1000000):
        self._uart = uart
        self.max_range_mm = max_range_mm
        self.stale_us = stale_us
        self.silent_us = silent_us
        self.status = RF_NOT_CONNECTED
        self.distance_mm = 0
        self.valid_count = 0
        self.reading_us = 0
        self.signal = 0
        self.frames = 0  # frames with a good CRC
        self.crc_errors = 0  # sync pair found, CRC wrong: dropped
        self.no_return = 0  # no-return frames
        self.faults = 0  # sensor-fault (or unknown status) frames
        self.lost = 0  # frames missing according to SEQ
        self.stale_ticks = 0  # steps without a fresh frame (after the first frame)
        self.uart_errors = 0  # exceptions or nonsense from the UART
        self.backlog = 0  # steps that left more than CHUNK bytes waiting
        self.rx_bytes = 0
        # history: the window starting at j is _hist[j:j + 10]; the last 9 bytes of the stream
        # so far, then the bytes of this step's read (_rx, a view into it)
        self._hist = bytearray(_KEEP + CHUNK)
        mv = memoryview(self._hist)
        self._rx = mv[_KEEP:]
        self._tails = [mv[k : k + _KEEP] for k in range(CHUNK + 1)]  # carried to the front
        self._since = FRAME_LEN  # bytes since the end of the last good frame, capped
        self._seq = -1
        self._byte_us = 0
        self._frame_us = 0
        self._started = False
        self._alive = False  # a byte within silent_us
        self._fresh = False  # a good frame within stale_us
        # step as an instance attribute: a caller's lrf.step(...) finds it in the instance's
        # attribute map (~8 us on a 16 MHz Cortex-M0) instead of missing it there and
        # searching the class (~100 us more on an object this size)
        self.step = self.step

    def _read(self):
        # one bounded read; anything odd from the UART counts as an error and reads nothing
        try:
            u = self._uart
            n = int(u.any())
            if n <= 0:
                return 0
            if n > CHUNK:
                self.backlog = (self.backlog + 1) & _COUNT_MASK
                n = CHUNK
            got = u.readinto(self._rx, n)
            if got is None:
                return 0
            got = int(got)
            if got < 0 or got > n:
                self.uart_errors = (self.uart_errors + 1) & _COUNT_MASK
                return 0
            return got
        except Exception:
            self.uart_errors = (self.uart_errors + 1) & _COUNT_MASK
            return 0

    def step(self, now_us):
        # (shaped for a 16 MHz Cortex-M0, where a method looked up on this object costs
        # ~150 us a call and a function call ~40 us: the helpers through the class,
        # ticks_diff written out)
        if not self._started:
            self._started = True
            self._alive = True
            self._byte_us = now_us
        n = Lrf._read(self)
        if n > 0:
            self.rx_bytes = (self.rx_bytes + n) & _COUNT_MASK
            self._alive = True
            self._byte_us = now_us
            hist = self._hist
            since = self._since
            # the first window to check ends at the byte where since reaches FRAME_LEN; the
            # last one ends at this read's last byte (window start n - 1)
            j = _KEEP - since if since < _KEEP else 0
            last = -1
            while True:
                j = hist.find(_SYNC, j, n + 1)
                if j < 0:
                    break
                if Lrf._crc_ok(self, j):
                    Lrf._frame(self, j, now_us)
                    last = j
                    j += FRAME_LEN  # windows overlapping a good frame are not checked
                else:
                    self.crc_errors = (self.crc_errors + 1) & _COUNT_MASK
                    j += 1
            since = n - 1 - last if last >= 0 else since + n
            self._since = since if since < FRAME_LEN else FRAME_LEN
            hist[0:_KEEP] = self._tails[n]  # the last 9 bytes, for the next read
        m = now_us & _TICKS_MASK
        if self._alive:
            d = (m - (self._byte_us & _TICKS_MASK)) & _TICKS_MASK  # ticks_diff, written out
            if d >= _TICKS_HALF:
                d = d - _TICKS_HALF - _TICKS_HALF
            if d > self.silent_us:
                self._alive = False
        if self._fresh:
            d = (m - (self._frame_us & _TICKS_MASK)) & _TICKS_MASK
            if d >= _TICKS_HALF:
                d = d - _TICKS_HALF - _TICKS_HALF
            if d > self.stale_us:
                self._fresh = False
        if not self._fresh:
            if self.frames:
                self.stale_ticks = (self.stale_ticks + 1) & _COUNT_MASK
            self.valid_count = 0
            self.status = RF_NO_DATA if self._alive else RF_NOT_CONNECTED

    def _crc_ok(self, h):
        win = self._hist
        crc = 0xFFFF
        t = _CRC_T
        for i in range(h + 2, h + 8):
            crc = ((crc << 8) & 0xFF00) ^ t[(crc >> 8) ^ win[i]]
        return crc == (win[h + 8] << 8) | win[h + 9]

    def _frame(self, h, now_us):
        win = self._hist
        seq = win[h + 2]
        if self._seq >= 0:
            gap = (seq - self._seq - 1) & 0xFF
            if gap < 128:
                self.lost = (self.lost + gap) & _COUNT_MASK
        self._seq = seq
        self.frames = (self.frames + 1) & _COUNT_MASK
        self._frame_us = now_us
        self._fresh = True
        self.signal = win[h + 7]
        st = win[h + 3]
        if st == ST_VALID:
            mm = (win[h + 4] | (win[h + 5] << 8) | (win[h + 6] << 16)) * 10
            if mm <= self.max_range_mm:
                self.distance_mm = mm
                self.reading_us = now_us
                self.status = RF_GOOD
                if self.valid_count < VALID_COUNT_MAX:
                    self.valid_count += 1
                return
            self.status = RF_OUT_OF_RANGE_HIGH
        elif st == ST_NO_RETURN:
            self.no_return = (self.no_return + 1) & _COUNT_MASK
            self.status = RF_OUT_OF_RANGE_HIGH
        elif st == ST_TOO_CLOSE:
            self.status = RF_OUT_OF_RANGE_LOW
        else:
            self.faults = (self.faults + 1) & _COUNT_MASK
            self.status = RF_NO_DATA
        self.valid_count = 0
