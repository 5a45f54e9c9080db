# softland link codec: one allocation-free implementation shared by the firmware and the host.
#
# Frame:  A5 5A | LEN | TYPE | SEQ | PAYLOAD (LEN bytes) | CRC16 hi | CRC16 lo
# CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) over LEN..PAYLOAD.
# Multi-byte payload fields are little-endian; 32-bit fields carry values within +/-2^30 so
# that they stay small ints on 32-bit MicroPython ports.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


SYNC1 = const(0xA5)
SYNC2 = const(0x5A)
HEADER_LEN = const(5)  # sync1, sync2, len, type, seq
OVERHEAD = const(7)  # header + 2 CRC bytes
MAX_PAYLOAD = const(120)
BUF_LEN = const(127)  # MAX_PAYLOAD + OVERHEAD

# frame types: host -> firmware
T_TICK = const(0x01)
T_CMD = const(0x02)
T_I2C_RESP = const(0x03)  # the host's answer to an I2C transaction
T_SERIAL = const(0x04)  # bytes from a serial sensor
# frame types: firmware -> host
T_TELEM = const(0x81)
T_ACK = const(0x82)
T_EVENT = const(0x83)
T_I2C_REQ = const(0x84)  # an I2C transaction for the host's device emulators

I32_MAX = const(0x3FFFFFFF)
I32_MIN = const(-0x3FFFFFFF - 1)

# decoder states
_HUNT = const(0)
_SYNC = const(1)
_LEN = const(2)
_TYPE = const(3)
_SEQ = const(4)
_BODY = const(5)
_RESYNC_AFTER = const(3)

# nibble table for CRC-16/CCITT-FALSE
_CRC_T = (
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
    0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
)


def crc16_byte(crc, b):
    crc = ((crc << 4) & 0xFFFF) ^ _CRC_T[(crc >> 12) ^ (b >> 4)]
    return ((crc << 4) & 0xFFFF) ^ _CRC_T[(crc >> 12) ^ (b & 0x0F)]


def crc16(buf, start, end):
    crc = 0xFFFF
    for i in range(start, end):
        crc = crc16_byte(crc, buf[i])
    return crc


def put_u8(buf, off, v):
    buf[off] = v & 0xFF


def put_u16(buf, off, v):
    buf[off] = v & 0xFF
    buf[off + 1] = (v >> 8) & 0xFF


def put_i32(buf, off, v):
    # saturate: a value outside +/-2^30 never goes on the wire
    if v > I32_MAX:
        v = I32_MAX
    elif v < I32_MIN:
        v = I32_MIN
    buf[off] = v & 0xFF
    buf[off + 1] = (v >> 8) & 0xFF
    buf[off + 2] = (v >> 16) & 0xFF
    buf[off + 3] = (v >> 24) & 0xFF


def get_u8(buf, off):
    return buf[off]


def get_u16(buf, off):
    return buf[off] | (buf[off + 1] << 8)


def get_i32(buf, off):
    hi = buf[off + 3]
    if hi >= 0x80:
        hi -= 0x100
    # a field outside +/-2^30 saturates instead of becoming a heap int
    if hi > 0x3F:
        return I32_MAX
    if hi < -0x40:
        return I32_MIN
    return (hi << 24) + (buf[off + 2] << 16) + (buf[off + 1] << 8) + buf[off]


class Encoder:
    """Fills in header, sequence number and CRC of a preallocated frame buffer."""

    def __init__(self):
        self.seq = 0
        self.frames = 0

    def finish(self, frame, ftype, length):
        # frame: bytearray of at least length + OVERHEAD bytes, payload already at [5:5+length]
        frame[0] = SYNC1
        frame[1] = SYNC2
        frame[2] = length
        frame[3] = ftype
        frame[4] = self.seq
        end = HEADER_LEN + length
        crc = crc16(frame, 2, end)
        frame[end] = crc >> 8
        frame[end + 1] = crc & 0xFF
        self.seq = (self.seq + 1) & 0xFF
        self.frames += 1
        return end + 2


class Decoder:
    """Byte-at-a-time frame decoder; calls handler(ftype, buf, length) for each good frame.

    The payload of a delivered frame is buf[HEADER_LEN:HEADER_LEN + length]; it is valid only
    during the call. Bad frames are counted and dropped:
      crc_errors  CRC mismatch (corruption)
      truncated   CRC mismatch where a new sync pair appears inside the frame (the frame was
                  cut short and the next one began), or end() called mid-frame
      oversized   LEN above MAX_PAYLOAD
      out_of_seq  SEQ repeats or goes back (duplicate, replay, reorder): dropped; after 3
                  such frames in a row with consecutive SEQs the peer is taken to have
                  restarted its numbering, and the third is accepted
      lost        frames skipped by a forward SEQ jump (those frames are gone; this one is kept)
    After a bad frame the consumed bytes after its first sync byte are parsed again, so a good
    frame that began inside a bad one is still found.
    """

    def __init__(self, handler):
        self._handler = handler
        self.buf = bytearray(BUF_LEN)
        self.good = 0
        self.crc_errors = 0
        self.truncated = 0
        self.oversized = 0
        self.out_of_seq = 0
        self.lost = 0
        self._state = _HUNT
        self._pos = 0
        self._len = 0
        self._crc = 0
        self._seq_next = -1  # -1: accept any sequence number (first frame)
        self._oos_run = 0  # consecutive out-of-sequence frames that follow each other
        self._oos_next = 0
        self._rp = 0  # replay read pointer into buf
        self._rn = 0  # replay end

    def errors(self):
        return self.crc_errors + self.truncated + self.oversized + self.out_of_seq

    def needed(self):
        # how many bytes the decoder can take without reading past the current frame
        s = self._state
        if s == _BODY:
            return self._len + OVERHEAD - self._pos
        if s == _LEN:
            return 3
        if s == _TYPE:
            return 2
        if s == _SEQ:
            return 1
        if s == _SYNC:
            return 1
        return 1

    def replaying(self):
        # True while bytes of a dropped frame are still being parsed again
        return self._rp < self._rn

    def restart_seq(self):
        # the peer went quiet (a host that reconnects numbers its frames from 0 again): the
        # next good frame is accepted whatever its SEQ, as the first one was
        self._seq_next = -1
        self._oos_run = 0

    def end(self):
        # the stream ended or went quiet: a frame in progress is truncated; a good frame that
        # began inside it is still delivered (its bytes are parsed again, as after a bad CRC)
        if self._state != _HUNT:
            self.truncated += 1
        buf = self.buf
        while self._state != _HUNT:
            self._fail()
            while self._rp < self._rn:
                c = buf[self._rp]
                self._rp += 1
                self._step(c)
        self._pos = 0
        self._rp = 0
        self._rn = 0

    def feed_into(self, src, n):
        for i in range(n):
            self.feed(src[i])

    def feed(self, b):
        self._step(b)
        buf = self.buf
        while self._rp < self._rn:
            c = buf[self._rp]
            self._rp += 1
            self._step(c)

    def _fail(self):
        # drop the frame in buf[0:pos]; parse its bytes after the first sync byte again
        buf = self.buf
        pos = self._pos
        self._state = _HUNT
        self._pos = 0
        p = 1
        while p < pos and buf[p] != SYNC1:
            p += 1
        if p >= pos:
            return
        k = pos - p
        if self._rp < self._rn:
            # already replaying: put these bytes just before the unread replay bytes
            dst = self._rp - k
            i = k - 1
            while i >= 0:
                buf[dst + i] = buf[p + i]
                i -= 1
            self._rp = dst
        else:
            self._rp = p
            self._rn = pos

    def _step(self, b):
        s = self._state
        buf = self.buf
        if s == _HUNT:
            if b == SYNC1:
                buf[0] = b
                self._pos = 1
                self._state = _SYNC
            return
        buf[self._pos] = b
        self._pos += 1
        if s == _SYNC:
            if b == SYNC2:
                self._state = _LEN
            elif b == SYNC1:
                self._pos = 1
            else:
                self._state = _HUNT
                self._pos = 0
            return
        if s == _LEN:
            if b > MAX_PAYLOAD:
                self.oversized += 1
                self._fail()
                return
            self._len = b
            self._crc = crc16_byte(0xFFFF, b)
            self._state = _TYPE
            return
        if s == _TYPE or s == _SEQ:
            self._crc = crc16_byte(self._crc, b)
            self._state = s + 1
            return
        # _BODY: payload then two CRC bytes
        end = HEADER_LEN + self._len
        if self._pos <= end:
            self._crc = crc16_byte(self._crc, b)
            return
        if self._pos < end + 2:
            return
        got = (buf[end] << 8) | buf[end + 1]
        if got != self._crc:
            if self._has_inner_sync(end + 2):
                self.truncated += 1
            else:
                self.crc_errors += 1
            self._fail()
            return
        self._state = _HUNT
        self._pos = 0
        seq = buf[4]
        nxt = self._seq_next
        if nxt >= 0 and seq != nxt:
            gap = (seq - nxt) & 0xFF
            if gap >= 128:
                # duplicate or stale: dropped, unless the peer restarted its numbering (a run
                # of _RESYNC_AFTER such frames that follow each other re-synchronises)
                self.out_of_seq += 1
                if self._oos_run > 0 and seq == self._oos_next:
                    self._oos_run += 1
                else:
                    self._oos_run = 1
                self._oos_next = (seq + 1) & 0xFF
                if self._oos_run < _RESYNC_AFTER:
                    return
            else:
                self.lost += gap
        self._oos_run = 0
        self._seq_next = (seq + 1) & 0xFF
        self.good += 1
        self._handler(buf[3], buf, self._len)

    def _has_inner_sync(self, n):
        buf = self.buf
        for i in range(1, n - 1):
            if buf[i] == SYNC1 and buf[i + 1] == SYNC2:
                return True
        return False
