# State persistence across a flight-computer reset. Beresheet (2019) lost its main engine to a
# reset mid-burn; here every tick leaves the whole flight state (parameters, mode, estimator,
# guidance, controller, land detector) in a record that the app writes to a backup store (RTC /
# backup RAM on a board, a file or memory in the simulator) before it answers the tick. At
# boot the newest valid record of a descent in progress is restored and the next tick flies on.
#
# The record has two slots, written alternately; the store is given both every time, so a
# reset that tears a write can only tear the slot being updated (the other slot's bytes are
# rewritten unchanged) and the previous tick's state is still there.
# Slot (little-endian): u16 magic, u8 version, u8 parameter count, u8 state count, u8 spare,
# u16 sequence, parameters i32 x count, state i32 x count, u16 + u16 checksum (Adler-style
# sums over the i32 values as they are written: no second pass per tick).
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw import params as P
from fsw.link import get_i32, get_u8, get_u16, put_i32, put_u8, put_u16

MAGIC = const(0x4C53)  # "SL"
VERSION = const(1)
_HEADER = const(8)
_SEQ = const(6)
_MOD = const(65521)

# modes a reset may interrupt and the flight resumes (fsw.flight DESCENT, TERMINAL, ABORT);
# a newest record in any other mode boots into SAFE
_RESUMABLE = (2, 3, 5)


class Persist:
    def __init__(self, flight):
        # the components whose STATE attributes are persisted, in record order
        self.parts = (flight, flight.est, flight.guid, flight.ctrl, flight.land)
        n = 0
        for part in self.parts:
            for name in part.STATE:
                x = getattr(part, name)
                n += len(x) if type(x) is list else 1  # a list: its elements, in order
        self.state_count = n
        self.slot_size = _HEADER + 4 * (P.COUNT + n) + 4
        self.record = bytearray(2 * self.slot_size)
        self.seq = 0
        self._slot = 0

    def save(self, flight):
        # pack the flight's state into the older slot (no allocation: attribute names are
        # interned strings, every value a small int)
        b = self.record
        self.seq = (self.seq + 1) & 0xFFFF
        self._slot ^= 1
        base = self._slot * self.slot_size
        put_u16(b, base, MAGIC)
        put_u8(b, base + 2, VERSION)
        put_u8(b, base + 3, P.COUNT)
        put_u8(b, base + 4, self.state_count)
        put_u16(b, base + _SEQ, self.seq)
        s1 = 1
        s2 = 0
        o = base + _HEADER
        v = flight.params.v
        for i in range(P.COUNT):
            x = v[i]
            put_i32(b, o, x)
            s1 = (s1 + (x & 0xFFFF) + ((x >> 16) & 0xFFFF)) % _MOD
            s2 = (s2 + s1) % _MOD
            o += 4
        for part in self.parts:
            for name in part.STATE:
                x = getattr(part, name)
                if type(x) is list:
                    for e in x:
                        put_i32(b, o, e)
                        s1 = (s1 + (e & 0xFFFF) + ((e >> 16) & 0xFFFF)) % _MOD
                        s2 = (s2 + s1) % _MOD
                        o += 4
                    continue
                x = int(x)
                put_i32(b, o, x)
                s1 = (s1 + (x & 0xFFFF) + ((x >> 16) & 0xFFFF)) % _MOD
                s2 = (s2 + s1) % _MOD
                o += 4
        put_u16(b, o, s1)
        put_u16(b, o + 2, s2)

    def _slot_ok(self, base):
        # whole, from this firmware's layout, unaltered, parameters within their ranges
        b = self.record
        if get_u16(b, base) != MAGIC or get_u8(b, base + 2) != VERSION:
            return False
        if get_u8(b, base + 3) != P.COUNT or get_u8(b, base + 4) != self.state_count:
            return False
        s1 = 1
        s2 = 0
        o = base + _HEADER
        for i in range(P.COUNT + self.state_count):
            x = get_i32(b, o)
            if i < P.COUNT and (x < P.bounds_min(i) or x > P.bounds_max(i)):
                return False
            s1 = (s1 + (x & 0xFFFF) + ((x >> 16) & 0xFFFF)) % _MOD
            s2 = (s2 + s1) % _MOD
            o += 4
        return get_u16(b, o) == s1 and get_u16(b, o + 2) == s2

    def newest(self, n):
        # n: bytes read back from the store. The offset of the newest whole slot when it
        # holds a descent in progress, else -1
        if n != len(self.record):
            return -1
        b = self.record
        size = self.slot_size
        best = -1
        for base in (0, size):
            if not self._slot_ok(base):
                continue
            if best < 0 or (get_u16(b, base + _SEQ) - get_u16(b, best + _SEQ)) & 0x8000 == 0:
                best = base
        if best < 0 or get_i32(b, best + _HEADER + 4 * P.COUNT) not in _RESUMABLE:
            return -1  # flight.STATE starts with the mode
        return best

    def restore(self, flight, base):
        # unpack the slot at base (from newest()) into the flight: parameters, then every
        # component's state; later saves continue its sequence
        b = self.record
        self.seq = get_u16(b, base + _SEQ)
        self._slot = base // self.slot_size
        o = base + _HEADER
        params = flight.params
        for i in range(P.COUNT):
            params.set(i, get_i32(b, o))
            o += 4
        for part in self.parts:
            for name in part.STATE:
                cur = getattr(part, name)
                if type(cur) is list:
                    for i in range(len(cur)):
                        cur[i] = get_i32(b, o)
                        o += 4
                    continue
                x = get_i32(b, o)
                if type(cur) is bool:
                    x = x != 0
                setattr(part, name, x)
                o += 4
