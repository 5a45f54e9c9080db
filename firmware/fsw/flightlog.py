# Onboard flight log (docs/flightlog.md): one fixed-size record per tick and per command in a
# ring of slots in a preallocated file, after a text header that describes the record layout.
#
# A record is a link frame (fsw.link: sync, LEN, TYPE T_LOG, SEQ, payload, PAD, CRC-32 below
# 2^30) in a 128-byte slot. Its payload: the record's sequence number (counts on across resets),
# kind and flags, what the flight was given this tick (Flight.tick's arguments, as the range
# driver or the TICK frame delivered them) and the TELEM payload the link just sent, copied
# byte for byte. A command record holds the CMD payload and the ACK payload instead.
# Records collect in a preallocated RAM block of BATCH slots; a full block is written to the
# file in one write (and flushed), so a tick costs a pack, a copy and a CRC (in C), and one
# tick in BATCH also the write. Nothing here allocates after construction; nothing raises out
# of the hooks (a failing store counts in `errors` and costs the log, never the tick).
#
# At boot (construction) the ring's blocks are scanned once (bounded: capacity / BATCH block
# reads) for the newest whole block by sequence number; the log appends after it, so the
# records before a reset stay where they are. The RAM block is also copied, after each record,
# to a tail store when the board has one (battery-backed RAM, as fsw.persist's record: hal/backup
# .py): the next boot takes the records from it that follow the newest one in the file, so a
# reset loses none. Without a tail store a reset loses the records still in RAM (at most
# BATCH - 1 ticks). The next boot's first record carries F_BOOT, and the tick counter in its
# telemetry shows any gap.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


try:
    from ustruct import pack_into, unpack_from
except ImportError:
    from struct import pack_into, unpack_from

from fsw import VERSION as FW_VERSION
from fsw import telemetry
from binascii import crc32

from fsw.link import COUNT_MASK, HEADER_LEN, I32_MAX, SYNC1, SYNC2, crc_view, small_crc

T_LOG = const(0x85)  # frame type of a record (never sent on the link)
FORMAT = const(1)  # header and record layout version
SLOT = const(128)  # bytes per record slot in the file
PAYLOAD = const(92)  # record payload bytes (frame: PAYLOAD + 10)
BATCH = const(4)  # records per block write (4 x 128 = 512 bytes: a flash sector)
HEADER_BYTES = const(1024)  # text header before the first slot

# record payload offsets
SEQ = const(0)  # i32 record sequence number, wraps at 2^29
KIND = const(4)  # u8 K_*
FLAGS = const(5)  # u8 F_*
NOW_US = const(6)  # i32 tick time (Flight.tick now_us)
RANGE_MM = const(10)  # i32 range given to the flight
RANGE_STATUS = const(14)  # u8 rangefinder status given to the flight
ACC_MM_S2 = const(15)  # i32 vertical specific force given to the flight
ACC_OK = const(19)  # u8
AGE_MS = const(20)  # i32 range age given to the flight (-1: the reading already used)
TELEM = const(24)  # the TELEM payload (telemetry.LENGTH bytes)
CMD = const(6)  # command records: the CMD payload (6 bytes)
ACK = const(12)  # command records: the ACK payload (8 bytes)
CMD_LEN = const(6)
ACK_LEN = const(8)

K_TICK = const(1)
K_CMD = const(2)
F_BOOT = const(1)  # first record since the firmware booted
F_FLIGHT = const(2)  # the flight ran this tick (the given fields are this tick's)
F_BOARD = const(4)  # board mode: the board's clock and sensors, no TICK frame
F_OPEN = const(8)  # board mode: the arming switch was open at this tick (hal/board_loop.py)

_HEAD = "<iBB"
_HEAD_GIVEN = "<iBBiiBiBi"  # the header and the given values, packed at once
_PAD_AT = const(97)  # HEADER_LEN + PAYLOAD: the frame's PAD byte in a slot
_CRC_AT = const(98)

# the telemetry fields, in fsw.telemetry.FORMAT order (names as fsw.telemetry's constants)
TELEM_NAMES = (
    "tick time_us mode phase flags alt_mm vel_mm_s sigma_mm vref_mm_s throttle_q15 acmd_mm_s2"
    " integ_mm_s2 range_mm amax_mm_s2 mass_q14 overruns link_errors faults rejects hlow_mm"
    " rf_status rf_valid rf_signal rf_tx rf_errors flags2"
)
_TYPES = {"i": ("i32", 4), "H": ("u16", 2), "B": ("u8", 1)}


def header_text(capacity):
    # the layout a reader needs, one item a line: "field NAME TYPE OFFSET" (payload offsets)
    lines = [
        "softland flight log",
        "format %d" % FORMAT,
        "firmware %s" % FW_VERSION,
        "slot %d payload %d type %d batch %d capacity %d header %d"
        % (SLOT, PAYLOAD, T_LOG, BATCH, capacity, HEADER_BYTES),
        "field seq i32 %d" % SEQ,
        "field kind u8 %d" % KIND,
        "field flags u8 %d" % FLAGS,
        "given now_us i32 %d" % NOW_US,
        "given range_mm i32 %d" % RANGE_MM,
        "given range_status u8 %d" % RANGE_STATUS,
        "given acc_mm_s2 i32 %d" % ACC_MM_S2,
        "given acc_ok u8 %d" % ACC_OK,
        "given age_ms i32 %d" % AGE_MS,
        "command cmd 6 %d" % CMD,
        "command ack 8 %d" % ACK,
    ]
    off = TELEM
    names = TELEM_NAMES.split()
    for i, ch in enumerate(telemetry.FORMAT[1:]):
        kind, size = _TYPES[ch]
        lines.append("telem %s %s %d" % (names[i], kind, off))
        off += size
    lines.append("end")
    return "\n".join(lines) + "\n"


class FlightLog:
    """The ring in an open file f (r+b) of HEADER_BYTES + capacity * SLOT bytes whose header
    is header_text(capacity) (open_log() makes one). attach(app) before the first tick.
    tail: a store (readinto(buf) -> n, write(buf)) that survives a reset, for the RAM block;
    None: a reset loses the records still in RAM."""

    def __init__(self, f, capacity, tail=None):
        self._f = f
        self._tail = tail
        self.capacity = capacity - capacity % BATCH
        self.buf = bytearray(BATCH * SLOT)
        mv = memoryview(self.buf)
        self._slots = [mv[i * SLOT : (i + 1) * SLOT] for i in range(BATCH)]
        self._crc = [crc_view(s, PAYLOAD) for s in self._slots]
        p = HEADER_LEN
        tl = telemetry.LENGTH
        self._telem = [mv[i * SLOT + p + TELEM : i * SLOT + p + TELEM + tl] for i in range(BATCH)]
        self._cmd = [mv[i * SLOT + p + CMD : i * SLOT + p + CMD + CMD_LEN] for i in range(BATCH)]
        self._ack = [mv[i * SLOT + p + ACK : i * SLOT + p + ACK + ACK_LEN] for i in range(BATCH)]
        rest = ACK + ACK_LEN
        self._rest = [mv[i * SLOT + p + rest : i * SLOT + p + PAYLOAD] for i in range(BATCH)]
        self._zeros = bytearray(PAYLOAD - ACK - ACK_LEN)
        self._n = 0  # records in the RAM block
        self._packed = False  # given() packed this tick's header
        self._flags = F_BOOT
        self._board = 0
        self._app = None
        self._src_telem = None
        self._src_cmd = None
        self._src_ack = None
        self.seq = 0  # the next record's sequence number
        self.pos = 0  # the slot the RAM block goes to (a multiple of BATCH)
        self.written = 0  # records written to the file since boot (wraps at 2^29)
        self.errors = 0  # failed writes or hooks (wraps at 2^29)
        self.found = -1  # boot: the newest record's sequence number in the file, -1 none
        self.recovered = 0  # boot: records taken back from the tail store
        self._scan()
        if tail is not None:
            self._recover()

    def attach(self, app):
        # the buffers the hooks copy from, as views made now (a view made per tick allocates)
        self._src_telem = memoryview(app.telem.frame)[HEADER_LEN : HEADER_LEN + telemetry.LENGTH]
        self._src_cmd = memoryview(app.dec.buf)[HEADER_LEN : HEADER_LEN + CMD_LEN]
        self._src_ack = memoryview(app._ack)[HEADER_LEN : HEADER_LEN + ACK_LEN]
        self._board = F_BOARD if app.board else 0
        self._app = app

    def _good_seq(self, i):
        # the sequence number of slot i of the RAM block when it holds a good record, else -1
        s = self._slots[i]
        if s[0] != 0xA5 or s[1] != 0x5A or s[2] != PAYLOAD or s[3] != T_LOG:
            return -1
        end = HEADER_LEN + PAYLOAD + 1
        crc = s[end] | (s[end + 1] << 8) | (s[end + 2] << 16) | (s[end + 3] << 24)
        if small_crc(self._crc[i]) != crc:
            return -1
        return unpack_from("<i", s, HEADER_LEN + SEQ)[0]

    def _scan(self):
        # the newest record by sequence number. Blocks are written whole, so a block's last
        # slot is the one to check; only a block whose last slot is not good but whose first
        # is (the partial block of a clean shutdown, close()) is looked at slot by slot. A
        # block torn by a reset fails its CRCs and is written over. Bounded: capacity / BATCH
        # block reads, at most capacity CRCs (in C), once, at boot
        best = -1
        best_block = -1
        buf = self.buf
        f = self._f
        for blk in range(0, self.capacity, BATCH):
            f.seek(HEADER_BYTES + blk * SLOT)
            if f.readinto(buf) != len(buf):
                break
            seq = self._good_seq(BATCH - 1)
            if seq < 0 and self._good_seq(0) >= 0:
                for i in range(BATCH - 1):
                    s = self._good_seq(i)
                    seq = s if s > seq else seq
            if seq > best:
                best = seq
                best_block = blk
        self.found = best
        if best >= 0:
            self.seq = (best + 1) & COUNT_MASK
            self.pos = best_block + BATCH
            if self.pos >= self.capacity:
                self.pos = 0
        for i in range(len(buf)):
            buf[i] = 0
        self._headers()

    def _headers(self):
        # each slot's frame header, constant (the link SEQ byte stays 0: a record's own
        # sequence number is in its payload)
        buf = self.buf
        for i in range(BATCH):
            o = i * SLOT
            buf[o] = SYNC1
            buf[o + 1] = SYNC2
            buf[o + 2] = PAYLOAD
            buf[o + 3] = T_LOG

    def _recover(self):
        # boot: the records of the tail store that follow the newest one in the file (slot i
        # holds the block's record i; the block starts at self.seq), in order, each whole.
        # A stale tail (records already in the file, another log's) matches nothing. When the
        # block was full (a reset during its write) it is written now. Once, at boot
        try:
            n = self._tail.readinto(self.buf)
        except Exception:
            n = 0
        k = 0
        if n == len(self.buf):
            first = self.seq
            while k < BATCH and self._good_seq(k) == ((first + k) & COUNT_MASK):
                k += 1
        for i in range(k * SLOT, len(self.buf)):
            self.buf[i] = 0
        self._headers()
        self.recovered = k
        if k:
            self.seq = (self.seq + k) & COUNT_MASK
            self._n = k
            if k == BATCH:
                self._n = 0
                self.flush()

    # ---- hooks (fsw.app.App)
    def given(self, now_us, range_mm, range_status, acc, acc_ok, age_ms):
        # the record's header and what the flight was given, in one pack (tick() finishes it);
        # in board mode also the arming switch, an input from outside the flight
        try:
            flags = self._flags | self._board | F_FLIGHT
            if self._board and self._app.interlock_open:
                flags |= F_OPEN
            pack_into(
                _HEAD_GIVEN,
                self.buf,
                self._n * SLOT + HEADER_LEN + SEQ,
                self.seq,
                K_TICK,
                flags,
                now_us,
                range_mm,
                range_status,
                acc,
                acc_ok,
                age_ms,
            )
            self._packed = True
        except Exception:
            self.errors = (self.errors + 1) & COUNT_MASK

    def tick(self):
        # the TELEM frame made (the app sends it next): the record of this tick
        try:
            self._telem[self._n][:] = self._src_telem
            self._finish(K_TICK)
        except Exception:
            self.errors = (self.errors + 1) & COUNT_MASK

    def command(self):
        # the ACK frame made (the app sends it next): the CMD payload (still in the decoder's
        # buffer) and the ACK
        try:
            n = self._n
            self._cmd[n][:] = self._src_cmd
            self._ack[n][:] = self._src_ack
            self._rest[n][:] = self._zeros
            self._packed = False
            self._finish(K_CMD)
        except Exception:
            self.errors = (self.errors + 1) & COUNT_MASK

    def _finish(self, kind):
        # the header (unless given() packed it), then PAD and CRC as fsw.link.Encoder.finish
        # does, written out (a method call costs ~0.1 ms at 16 MHz)
        n = self._n
        buf = self.buf
        base = n * SLOT
        if self._packed:
            self._packed = False
        else:
            flags = self._flags | self._board
            pack_into(_HEAD, buf, base + HEADER_LEN + SEQ, self.seq, kind, flags)
        view = self._crc[n]
        crc = -1
        pad = 0
        while crc < 0:
            buf[base + _PAD_AT] = pad
            pad += 1
            try:
                crc = crc32(view)
                if crc > I32_MAX:
                    crc = -1
            except MemoryError:
                crc = -1  # a CRC of 2^30 or more would be a heap int on a 32-bit port
        pack_into("<i", buf, base + _CRC_AT, crc)
        self.seq = (self.seq + 1) & COUNT_MASK
        self._flags = 0
        n += 1
        self._n = n
        tail = self._tail
        if tail is not None:
            # the block so far, to the store a reset keeps (before the block's write: a reset
            # during that write finds the whole block there)
            try:
                tail.write(self.buf)
            except Exception:
                self.errors = (self.errors + 1) & COUNT_MASK
        if n == BATCH:
            self._n = 0
            self.flush()

    def close(self):
        # a clean shutdown (the end of the link's input, not a reset): the records still in
        # RAM to the next block, then the file closed. Allocates (a slice): not in a tick
        n = self._n
        if n:
            f = self._f
            f.seek(HEADER_BYTES + self.pos * SLOT)
            f.write(memoryview(self.buf)[: n * SLOT])
            self._n = 0
            self.written = (self.written + n) & COUNT_MASK
            p = self.pos + BATCH
            self.pos = p if p < self.capacity else 0
        self._f.close()

    def flush(self):
        # the full RAM block to its place in the ring
        f = self._f
        f.seek(HEADER_BYTES + self.pos * SLOT)
        f.write(self.buf)
        f.flush()
        self.written = (self.written + BATCH) & COUNT_MASK
        p = self.pos + BATCH
        self.pos = p if p < self.capacity else 0


def open_log(path, capacity, opener=open, tail=None):
    # the ring file at path, made (preallocated) when absent or of another layout; a file of
    # another layout (another firmware's) is kept as path + ".old" first. opener(path, mode):
    # the filesystem's open (a board without a writable filesystem can hand a stand-in)
    head = header_text(capacity).encode()
    if len(head) > HEADER_BYTES:
        raise ValueError("flight log header longer than HEADER_BYTES")
    size = HEADER_BYTES + (capacity - capacity % BATCH) * SLOT
    f = None
    try:
        f = opener(path, "r+b")
        got = f.read(len(head))
        f.seek(0, 2)
        if got != head or f.tell() != size:
            f.close()
            f = None
            try:
                import os

                os.rename(path, path + ".old")
            except Exception:
                pass
    except OSError:
        f = None
    if f is None:
        f = opener(path, "w+b")
        f.write(head)
        f.write(bytearray(HEADER_BYTES - len(head)))
        block = bytearray(BATCH * SLOT)
        for _ in range(0, size - HEADER_BYTES, len(block)):
            f.write(block)
        f.flush()
    return FlightLog(f, capacity, tail)
