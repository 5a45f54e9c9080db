# softland link codec: one allocation-free implementation shared by the firmware and the host.
#
# Frame:  A5 5A | LEN | TYPE | SEQ | PAYLOAD (LEN bytes) | PAD | CRC32 (4 bytes, little-endian)
# CRC-32 (IEEE 802.3, as zlib.crc32 and binascii.crc32) over LEN..PAD. PAD is the one of 0..3
# that makes the CRC a value below 2^30: a small int on every MicroPython port, so computing
# and checking it allocates nothing (binascii.crc32 runs in C; a CRC in Python costs ~55 us a
# byte on a 16 MHz Cortex-M0, 4 ms for one telemetry frame). Appending PAD = p changes the CRC's
# top two bits by a fixed pattern (0 -> 00, 1 -> 01, 2 -> 11, 3 -> 10) whatever the data, so
# exactly one of the four gives 00. Multi-byte payload fields are little-endian; 32-bit fields
# carry values within +/-2^30 so that they stay small ints on 32-bit MicroPython ports.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from binascii import crc32

SYNC1 = const(0xA5)
SYNC2 = const(0x5A)
HEADER_LEN = const(5)  # sync1, sync2, len, type, seq
TRAILER_LEN = const(5)  # pad, 4 CRC bytes
OVERHEAD = const(10)  # header + trailer
MAX_PAYLOAD = const(120)
BUF_LEN = const(130)  # MAX_PAYLOAD + OVERHEAD

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
COUNT_MASK = const(0x1FFFFFFF)  # counters wrap at 2^29: count + 1 (and the sum of two)
# stays a small int; masking at 2^30 would form 2^30 first

# decoder states
_HUNT = const(0)
_SYNC = const(1)
_LEN = const(2)
_TYPE = const(3)
_SEQ = const(4)
_BODY = const(5)
_RESYNC_AFTER = const(3)


def crc_view(frame, length):
    # the bytes a frame's CRC covers (LEN..PAD), as a view made once per buffer and length:
    # memoryview slicing allocates, so the firmware keeps these
    return memoryview(frame)[2 : HEADER_LEN + length + 1]


def small_crc(view):
    # CRC-32 of view when it is below 2^30, else -1. On a 32-bit port a larger CRC would be a
    # heap int: under the heap lock that every serving loop holds, making it raises MemoryError
    try:
        c = crc32(view)
    except MemoryError:
        return -1
    if c > I32_MAX:
        return -1
    return c


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


def put_header(frame, ftype, length):
    # a frame's sync, LEN and TYPE bytes (Encoder.finish; a buffer only ever sent as one type
    # and length has them written once, at its creation, and is sent by Encoder.refinish)
    frame[0] = SYNC1
    frame[1] = SYNC2
    frame[2] = length
    frame[3] = ftype


class Encoder:
    """Fills in header, sequence number, PAD and CRC of a preallocated frame buffer."""

    def __init__(self):
        self.seq = 0
        self.frames = 0  # frames finished, wraps at 2^29

    def finish(self, frame, ftype, length, view=None):
        # frame: bytearray of at least length + OVERHEAD bytes, payload already at [5:5+length];
        # view: crc_view(frame, length), kept by the caller (None: made here, which allocates)
        put_header(frame, ftype, length)
        if view is None:
            view = crc_view(frame, length)
        return Encoder.refinish(self, frame, HEADER_LEN + length, view)

    def refinish(self, frame, end, view):
        # finish() of a frame whose first four bytes (sync, LEN, TYPE) are already in place
        # (a buffer only ever sent as one type and length: the telemetry): SEQ, PAD and CRC;
        # end: HEADER_LEN + length, view: crc_view(frame, length)
        frame[4] = self.seq
        # the PAD whose CRC is below 2^30: one of the four is, whatever the data
        crc = -1
        pad = 0
        while crc < 0:
            frame[end] = pad
            pad += 1
            try:  # small_crc, written out: a call costs ~0.1 ms at 16 MHz
                crc = crc32(view)
                if crc > I32_MAX:
                    crc = -1  # 64-bit runtimes, or an unlocked heap
            except MemoryError:
                crc = -1  # a CRC of 2^30 or more would be a heap int: next PAD
        frame[end + 1] = crc & 0xFF
        frame[end + 2] = (crc >> 8) & 0xFF
        frame[end + 3] = (crc >> 16) & 0xFF
        frame[end + 4] = (crc >> 24) & 0xFF
        self.seq = (self.seq + 1) & 0xFF
        self.frames = (self.frames + 1) & COUNT_MASK
        return end + TRAILER_LEN


class Decoder:
    """Frame decoder over any chunking of the stream; calls handler(ftype, buf, length) for
    each good frame. Header bytes go through a state machine one at a time; a frame's body is
    copied in bulk and its CRC checked once, in C (binascii.crc32), when the frame is whole.

    The payload of a delivered frame is buf[HEADER_LEN:HEADER_LEN + length]; it is valid only
    during the call. Bad frames are counted and dropped:
      crc_errors  CRC mismatch (corruption)
      truncated   CRC mismatch where a new sync pair appears inside the frame (the frame was
                  cut short and the next one began), or end() called mid-frame
      oversized   LEN above MAX_PAYLOAD
      out_of_seq  SEQ repeats or goes back (duplicate, replay, reorder): dropped; after 3
                  such frames in a row with consecutive SEQs the peer is taken to have
                  restarted its numbering, and the third is accepted
      repeats     an exact repeat of the last frame delivered (same SEQ and CRC: its sender
                  retransmitted it, having missed the answer): not delivered, on_repeat()
                  is called; not an error (not in errors()), not out_of_seq
      lost        frames skipped by a forward SEQ jump (those frames are gone; this one is kept)
    After a bad frame the consumed bytes after its first sync byte are parsed again, so a good
    frame that began inside a bad one is still found. Every counter wraps at 2^29, and so does
    errors(), their running sum.
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
        self.repeats = 0
        # called (no arguments) for an exact repeat of the last delivered frame: the receiver
        # answers it again without acting on it twice (fsw.app re-sends its answer)
        self.on_repeat = None
        self._last_crc = -1  # CRC and SEQ of the last delivered frame (-1: none yet); kept
        self._last_seq = -1  # across restart_seq: a repeat is never acted on twice
        self._errors = 0  # crc_errors + truncated + oversized + out_of_seq, wrapping
        # the CRC span of a frame of each payload length, and where a read at each position
        # of the buffer goes (memoryview slices allocate: made once, here)
        self._views = [crc_view(self.buf, n) for n in range(MAX_PAYLOAD + 1)]
        mv = memoryview(self.buf)
        self._rx = [mv[i:] for i in range(BUF_LEN)]
        self._state = _HUNT
        self._pos = 0
        self._len = 0
        self._seq_next = -1  # -1: accept any sequence number (first frame)
        self._oos_run = 0  # consecutive out-of-sequence frames that follow each other
        self._oos_next = 0
        self._rp = 0  # replay read pointer into buf
        self._rn = 0  # replay end
        # called once a frame: as an instance attribute (a method looked up on an object
        # whose attribute map is full misses it there first, ~0.1 ms at 16 MHz)
        self._end_frame = self._end_frame

    def errors(self):
        return self._errors

    def _error(self):
        self._errors = (self._errors + 1) & COUNT_MASK

    def needed(self):
        # how many bytes the decoder can take without reading past the current frame: a whole
        # header when hunting (a frame is longer than that, so a frame that starts inside
        # those bytes is not read past), then the rest of the header, then the body
        s = self._state
        if s == _BODY:
            return self._len + OVERHEAD - self._pos
        return HEADER_LEN - self._pos

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
            self.truncated = (self.truncated + 1) & COUNT_MASK
            self._error()
        while self._state != _HUNT:
            self._fail()
            self._drain()
        self._pos = 0
        self._rp = 0
        self._rn = 0

    def rx_view(self):
        # where the next bytes read from the stream go: this decoder's buffer at the frame's
        # current position. A reader that reads needed() bytes into it and calls received()
        # hands the frame over without a copy (the board's serving loop, the I2C link)
        return self._rx[self._pos]

    def received(self, n):
        # n bytes were read into rx_view(). A frame's body moves the position on; a whole
        # header read at once is taken as it stands when it is one; any other bytes are parsed
        # one by one where they landed (as the bytes of a dropped frame are). Method calls
        # are what costs on a board (~0.1 ms each at 16 MHz): the usual frame takes two reads
        # and this call twice, the CRC check in C once
        pos = self._pos
        if self._state == _BODY:
            pos += n
            self._pos = pos
            if pos == self._len + OVERHEAD:
                self._end_frame()
                if self._rp < self._rn:
                    self._drain()
            return
        buf = self.buf
        if pos == 0 and n == HEADER_LEN and buf[0] == SYNC1 and buf[1] == SYNC2:
            if buf[2] <= MAX_PAYLOAD:
                self._len = buf[2]
                self._pos = HEADER_LEN
                self._state = _BODY
                return
        self._rp = pos
        self._rn = pos + n
        self._drain()

    def feed_into(self, src, n):
        i = 0
        while i < n:
            if self._state != _BODY or self._rp < self._rn:
                self.feed(src[i])
                i += 1
                continue
            # a frame's body: copy what it still needs, check it once it is whole
            buf = self.buf
            pos = self._pos
            k = self._len + OVERHEAD - pos
            if k > n - i:
                k = n - i
            for j in range(i, i + k):
                buf[pos] = src[j]
                pos += 1
            i += k
            self._pos = pos
            if pos == self._len + OVERHEAD:
                self._end_frame()
                self._drain()

    def feed(self, b):
        self._step(b)
        self._drain()

    def _drain(self):
        # parse again the bytes of a dropped frame (after its first sync byte)
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
                self.oversized = (self.oversized + 1) & COUNT_MASK
                self._error()
                self._fail()
                return
            self._len = b
            self._state = _TYPE
            return
        if s == _TYPE or s == _SEQ:
            self._state = s + 1
            return
        # _BODY: payload, PAD, four CRC bytes
        if self._pos == self._len + OVERHEAD:
            self._end_frame()

    def _end_frame(self):
        buf = self.buf
        n = self._len
        end = HEADER_LEN + n + 1  # after PAD
        crc = -1
        if buf[end + 3] <= 0x3F:  # a CRC at or above 2^30 is never sent
            crc = buf[end] | (buf[end + 1] << 8) | (buf[end + 2] << 16) | (buf[end + 3] << 24)
            # small_crc(), written out (a call costs ~0.1 ms at 16 MHz): a CRC of 2^30 or
            # more (a heap int on a 32-bit port: MemoryError under the heap lock) never
            # equals crc, which is below 2^30
            try:
                if crc32(self._views[n]) != crc:
                    crc = -1
            except MemoryError:
                crc = -1
        if crc < 0:
            if self._has_inner_sync(end + 4):
                self.truncated = (self.truncated + 1) & COUNT_MASK
            else:
                self.crc_errors = (self.crc_errors + 1) & COUNT_MASK
            self._error()
            self._fail()
            return
        self._state = _HUNT
        self._pos = 0
        seq = buf[4]
        if crc == self._last_crc and seq == self._last_seq:
            # the last frame again, byte for byte: a retransmission (its sender missed the
            # answer). Not delivered, and not an error of this end: the receiver answers it
            # again (on_repeat). Counted in repeats only
            self.repeats = (self.repeats + 1) & COUNT_MASK
            self._oos_run = 0
            rep = self.on_repeat
            if rep is not None:
                rep()
            return
        nxt = self._seq_next
        if nxt >= 0 and seq != nxt:
            gap = (seq - nxt) & 0xFF
            if gap >= 128:
                # duplicate or stale: dropped, unless the peer restarted its numbering (a run
                # of _RESYNC_AFTER such frames that follow each other re-synchronises)
                self.out_of_seq = (self.out_of_seq + 1) & COUNT_MASK
                self._error()
                if self._oos_run > 0 and seq == self._oos_next:
                    self._oos_run += 1
                else:
                    self._oos_run = 1
                self._oos_next = (seq + 1) & 0xFF
                if self._oos_run < _RESYNC_AFTER:
                    return
            else:
                self.lost = (self.lost + gap) & COUNT_MASK
        self._oos_run = 0
        self._seq_next = (seq + 1) & 0xFF
        self._last_crc = crc
        self._last_seq = seq
        self.good = (self.good + 1) & COUNT_MASK
        self._handler(buf[3], buf, n)

    def _has_inner_sync(self, n):
        buf = self.buf
        for i in range(1, n - 1):
            if buf[i] == SYNC1 and buf[i + 1] == SYNC2:
                return True
        return False
