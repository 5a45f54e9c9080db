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
# u16 sequence, parameters i32 x count, u16 + u16 parameter checksum (Adler-style), state i32
# x count, u16 sequence again, u16 spare. A slot is whole when both sequence numbers match
# (the head is written before the state, the tail after it: a torn write leaves them apart),
# its parameters are within their ranges and match their checksum.
#
# What a tick costs (on a 16 MHz Cortex-M0, see docs/benchmarks.md): the parameters change
# only in SAFE, so a slot's copy of them is repacked only when Params.version moved since
# that slot was written; the state goes in with one struct.pack_into call (C) through a
# function generated at construction from the components' STATE names. The state has no
# checksum of its own (a per-value sum in Python cost most of the old 50 ms a tick): a flipped
# bit in the state region of a kept record is not detected, a torn write is.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


import gc

from fsw import params as P
from fsw.link import get_i32, get_u8, get_u16

try:
    from ustruct import pack_into
except ImportError:
    from struct import pack_into

MAGIC = const(0x4C53)  # "SL"
VERSION = const(4)
_HEADER = const(8)
_SEQ = const(6)
_MOD = const(65521)

# modes a reset may interrupt and the flight resumes (fsw.flight DESCENT, TERMINAL, ABORT);
# a newest record in any other mode boots into SAFE
_RESUMABLE = (2, 3, 5)


def _fields(parts, group):
    # the persisted values of the parts' STATE names of a group: 0 not in STATE_COLD, 1 in
    # STATE_COLD but not in STATE_RARE, 2 in STATE_RARE (a subset of STATE_COLD):
    # (part index, attribute, list index or -1), in record order
    fields = []
    for k in range(len(parts)):
        part = parts[k]
        part_cold = getattr(part, "STATE_COLD", ())
        part_rare = getattr(part, "STATE_RARE", ())
        for name in part.STATE:
            g = 2 if name in part_rare else 1 if name in part_cold else 0
            if g != group:
                continue
            x = getattr(part, name)
            if type(x) is list:
                for i in range(len(x)):  # a list: its elements, in order
                    fields.append((k, name, i))
            else:
                fields.append((k, name, -1))
    return fields


def _packer(fields, parts):
    # def pack(b, o, pi=pack_into, p0=parts[0], p1=parts[1], ...):
    #     l0 = p1._ring_d
    #     pi(fmt, b, o, p0.mode, p0.ticks, ..., l0[0], l0[1], ...)
    # One call into C per tick, no allocation (every value a small int, bools pack as ints);
    # the components come in as default arguments (local names, not passed on every call)
    # and each list attribute is read once
    scope = {"pack_into": pack_into}
    args = ""
    for k in range(len(parts)):
        scope["part%d" % k] = parts[k]
        args += ", p%d=part%d" % (k, k)
    lists = []
    vals = []
    for k, name, i in fields:
        if i < 0:
            vals.append("p%d.%s" % (k, name))
            continue
        ref = "p%d.%s" % (k, name)
        if ref not in lists:
            lists.append(ref)
        vals.append("l%d[%d]" % (lists.index(ref), i))
    src = "def pack(b, o, pi=pack_into%s):\n" % args
    for j in range(len(lists)):
        src += "    l%d = %s\n" % (j, lists[j])
    src += "    pi('<%di', b, o, %s)\n" % (len(fields), ", ".join(vals))
    exec(src, scope)
    return scope["pack"]


def _list_packer(n):
    # def pack(b, o, pi, v): pi('<ni', b, o, v[0], v[1], ...): a list of n ints in one call
    vals = ", ".join("v[%d]" % i for i in range(n))
    src = "def pack(b, o, pi, v):\n    pi('<%di', b, o, %s)\n" % (n, vals)
    scope = {}
    exec(src, scope)
    return scope["pack"]


class Persist:
    def __init__(self, flight):
        # the components whose STATE attributes are persisted, in record order
        self.parts = (flight, flight.est, flight.guid, flight.ctrl, flight.land)
        # the values of every tick first, then the estimator's STATE_COLD ones (fsw.estimator:
        # they change only where its cold_ver moves; repacked into a slot only then), those of
        # STATE_RARE last (repacked only when its rare_ver moved)
        hot = _fields(self.parts, 0)
        cold = _fields(self.parts, 1)
        rare = _fields(self.parts, 2)
        self._fields = hot + cold + rare
        self._cold = flight.est
        # the packers are compiled here, at boot: their source and code want a few contiguous
        # KB, which a heap fragmented by the boot's imports may not have until it is collected
        gc.collect()
        self._pack = _packer(hot, self.parts)
        gc.collect()
        self._pack_cold = _packer(cold, self.parts)
        gc.collect()
        self._pack_rare = _packer(rare, self.parts)
        self._pack_v = _list_packer(P.COUNT)
        n = len(self._fields)
        self.state_count = n
        self._state = _HEADER + 4 * P.COUNT + 4  # offset of the state in a slot
        self._tail = self._state + 4 * n
        self.slot_size = self._tail + 4
        self.record = bytearray(2 * self.slot_size)
        # per slot: where its head sequence number, its state and its tail begin
        self._heads = [_SEQ, self.slot_size + _SEQ]
        self._states = [self._state, self.slot_size + self._state]
        self._tails = [self._tail, self.slot_size + self._tail]
        c = self._state + 4 * len(hot)
        self._colds = [c, self.slot_size + c]  # where each slot's cold values begin
        self._cver = [-1, -1]  # the estimator's cold_ver each slot's cold values were packed at
        r = c + 4 * len(cold)
        self._rares = [r, self.slot_size + r]  # where each slot's rare values begin
        self._rver = [-1, -1]  # the estimator's rare_ver each slot's rare values were packed at
        # each slot's cold (with the rare) and rare regions, and the other slot's: values that
        # did not move since the other slot was written (the last tick) are copied from it in
        # C, not packed again (memoryview slices allocate: made here)
        mv = memoryview(self.record)
        e = self._tail
        z = self.slot_size
        self._cold_mv = [mv[c:e], mv[z + c : z + e]]
        self._rare_mv = [mv[r:e], mv[z + r : z + e]]
        self.seq = 0
        self._slot = 0
        self._pver = [-1, -1]  # Params.version each slot's parameters were packed at
        self._sum_ver = -1  # Params.version the parameters' checksum (_s1, _s2) is of
        # the per-tick entry point as an instance attribute: the caller's persist.save(...)
        # finds it in the instance's attribute map instead of missing it there first
        self.save = self.save
        self._s1 = 0
        self._s2 = 0

    def save(self, flight):
        # the flight's state into the older slot (no allocation). The slot's constant bytes
        # (magic, version, counts, spares) are written with its parameters, when they are
        # repacked; a tick writes the sequence numbers a byte at a time and the state in one
        # call (a pack_into of the 7 header fields cost ~0.2 ms on a 16 MHz Cortex-M0); each
        # slot's offsets are looked up, not computed (every operation counts at 16 MHz)
        b = self.record
        seq = (self.seq + 1) & 0xFFFF
        self.seq = seq
        slot = self._slot ^ 1
        self._slot = slot
        ver = flight.params.version
        if self._pver[slot] != ver:
            self._new_params(flight.params, slot, ver)
        lo = seq & 0xFF
        hi = seq >> 8
        o = self._heads[slot]
        b[o] = lo
        b[o + 1] = hi
        self._pack(b, self._states[slot])
        est = self._cold
        ver = est.cold_ver
        cver = self._cver
        if cver[slot] != ver:
            rver = self._rver
            if cver[slot ^ 1] == ver:
                # the other slot (the last tick's) holds them as they are now, the rare ones
                # with them (rare_ver moves only with cold_ver): copied
                mv = self._cold_mv
                mv[slot][:] = mv[slot ^ 1]
                rver[slot] = rver[slot ^ 1]
            else:
                self._pack_cold(b, self._colds[slot])
                rv = est.rare_ver
                if rver[slot] != rv:
                    if rver[slot ^ 1] == rv:
                        mv = self._rare_mv
                        mv[slot][:] = mv[slot ^ 1]
                    else:
                        self._pack_rare(b, self._rares[slot])
                    rver[slot] = rv
            cver[slot] = ver
        o = self._tails[slot]
        b[o] = lo
        b[o + 1] = hi

    def _new_params(self, params, slot, ver):
        # the slot's parameters and constant bytes, after Params.version moved
        b = self.record
        base = slot * self.slot_size
        self._pack_params(params.v, base, ver)
        pack_into("<HBBBB", b, base, MAGIC, VERSION, P.COUNT, self.state_count, 0)
        b[base + self._tail + 2] = 0
        b[base + self._tail + 3] = 0
        self._pver[slot] = ver

    def _pack_params(self, v, base, version):
        # the parameters in one pack_into call (a call per value cost ~9 ms at 16 MHz); their
        # checksum once per Params.version (both slots carry the same), its modulo taken once
        # at the end, the same sums: s1 stays below 1 + COUNT * 2^17 and s2 below COUNT times
        # that, far within 2^30
        b = self.record
        o = base + _HEADER
        self._pack_v(b, o, pack_into, v)
        if self._sum_ver != version:
            s1 = 1
            s2 = 0
            for i in range(P.COUNT):
                x = v[i]
                s1 += (x & 0xFFFF) + ((x >> 16) & 0xFFFF)
                s2 += s1
            self._s1 = s1 % _MOD
            self._s2 = s2 % _MOD
            self._sum_ver = version
        pack_into("<HH", b, o + 4 * P.COUNT, self._s1, self._s2)

    def _slot_ok(self, base):
        # whole, from this firmware's layout, parameters within their ranges and unaltered
        b = self.record
        if get_u16(b, base) != MAGIC or get_u8(b, base + 2) != VERSION:
            return False
        if get_u8(b, base + 3) != P.COUNT or get_u8(b, base + 4) != self.state_count:
            return False
        if get_u16(b, base + _SEQ) != get_u16(b, base + self._tail):
            return False  # torn: the state after the head was not all written
        s1 = 1
        s2 = 0
        o = base + _HEADER
        for i in range(P.COUNT):
            x = get_i32(b, o)
            if x < P.bounds_min(i) or x > P.bounds_max(i):
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
        if best < 0 or get_i32(b, best + self._state) not in _RESUMABLE:
            return -1  # flight.STATE starts with the mode
        return best

    def restore(self, flight, base):
        # unpack the slot at base (from newest()) into the flight: parameters, then every
        # component's state; later saves continue its sequence
        b = self.record
        self.seq = get_u16(b, base + _SEQ)
        self._cver = [-1, -1]  # the values restored are packed again
        self._rver = [-1, -1]
        self._slot = base // self.slot_size
        o = base + _HEADER
        params = flight.params
        for i in range(P.COUNT):
            params.set(i, get_i32(b, o))
            o += 4
        o = base + self._state
        parts = self.parts
        for k, name, i in self._fields:
            x = get_i32(b, o)
            o += 4
            part = parts[k]
            if i >= 0:
                getattr(part, name)[i] = x
                continue
            if type(getattr(part, name)) is bool:
                x = x != 0
            setattr(part, name, x)
