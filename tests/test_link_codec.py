"""The link codec (firmware/fsw/link.py, imported as the host imports it) against the hand-made
vectors in tests/vectors/link_vectors.json and against hypothesis properties.

The vectors' CRCs and frame bytes come from an independent bitwise CRC-32 (IEEE 802.3), the PAD
rule applied by hand and a hand-built framer in tests/vectors/make_link_vectors.py; that
reference is reused here.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from softland.boards.firmware import fsw_module

VECTORS_DIR = Path(__file__).parent / "vectors"
VECTORS = json.loads((VECTORS_DIR / "link_vectors.json").read_text())
FRAMES = VECTORS["frames"]
STREAMS = VECTORS["streams"]
LAYOUT_FRAMES = [f for f in FRAMES if f["layout"] is not None]
COUNTERS = tuple(VECTORS["counters"])
ERROR_COUNTERS = ("crc_errors", "truncated", "oversized", "out_of_seq")

link = fsw_module("link")


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "make_link_vectors", VECTORS_DIR / "make_link_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _load_generator()
ref_crc = gen.crc32_ieee  # the independent bitwise reference
CRC_LIMIT = 1 << 30  # every frame's CRC is below 2^30
# the change of the CRC's top two bits when PAD = p is appended instead of 0, whatever the data
PAD_TOP_BITS = (0b00, 0b01, 0b11, 0b10)

# moderate budgets; no explain phase (it re-runs failing tests under a tracer, slowly)
PROPERTY = settings(
    max_examples=200, deadline=None, phases=[p for p in Phase if p is not Phase.explain]
)

# ---------------------------------------------------------------- helpers


class Collector:
    """A Decoder whose handler records (type, seq, payload) and the raw frame bytes."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, int, bytes]] = []
        self.raw: list[bytes] = []
        self.dec = link.Decoder(self._on_frame)

    def _on_frame(self, ftype: int, buf: bytearray, length: int) -> None:
        hl = link.HEADER_LEN
        self.frames.append((ftype, buf[4], bytes(buf[hl : hl + length])))
        self.raw.append(bytes(buf[: length + link.OVERHEAD]))

    def feed(self, data: bytes, end: bool = True) -> Collector:
        for b in data:
            self.dec.feed(b)
        if end:
            self.dec.end()
        return self

    def feed_chunks(self, data: bytes, cuts: list[int], end: bool = True) -> Collector:
        """Feed data through Decoder.feed_into, split at the offsets in cuts."""
        bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
        for a, b in zip(bounds, bounds[1:], strict=False):
            chunk = bytearray(data[a:b])
            self.dec.feed_into(chunk, len(chunk))
        if end:
            self.dec.end()
        return self

    def read_in_place(self, data: bytes, short: list[int], end: bool = True) -> Collector:
        """Read data as a board's serving loop does: needed() bytes at a time straight into
        rx_view(), then received(); a read returns fewer bytes where short says so."""
        pos = 0
        k = 0
        while pos < len(data):
            want = self.dec.needed()
            if k < len(short):
                want = max(1, min(want, short[k]))
                k += 1
            got = data[pos : pos + want]
            view = self.dec.rx_view()
            view[: len(got)] = got
            pos += len(got)
            self.dec.received(len(got))
        if end:
            self.dec.end()
        return self

    def counters(self) -> dict[str, int]:
        return {name: getattr(self.dec, name) for name in COUNTERS}


def frame_tuple(raw: bytes) -> tuple[int, int, bytes]:
    return raw[3], raw[4], raw[link.HEADER_LEN : -link.TRAILER_LEN]


def wire_crc(raw: bytes) -> int:
    """The CRC a frame carries in its last four bytes, little-endian."""
    return int.from_bytes(raw[-4:], "little")


def crc_ok(raw: bytes) -> bool:
    """The frame's CRC is below 2^30 and is the reference CRC-32 of LEN..PAD."""
    return wire_crc(raw) < CRC_LIMIT and ref_crc(raw[2:-4]) == wire_crc(raw)


def encode(frames: list[tuple[int, bytes]], start_seq: int = 0) -> list[bytes]:
    """Encode (type, payload) pairs with the codec's Encoder, sequence numbers from start_seq."""
    enc = link.Encoder()
    enc.seq = start_seq
    out = []
    for ftype, payload in frames:
        buf = bytearray(len(payload) + link.OVERHEAD)
        buf[link.HEADER_LEN : link.HEADER_LEN + len(payload)] = payload
        n = enc.finish(buf, ftype, len(payload))
        out.append(bytes(buf[:n]))
    return out


def firmware_offsets(layout: str) -> tuple[int, dict[str, int]]:
    """(payload length, field -> offset) of a payload layout, read from the firmware."""
    app = fsw_module("app")
    names = [f[0] for f in VECTORS["layouts"][layout]["fields"]]
    if layout == "telem":
        tel = fsw_module("telemetry")
        return tel.LENGTH, {n: getattr(tel, n.upper()) for n in names}
    prefix = {"tick": "TICK_", "cmd": "CMD_", "ack": "ACK_", "event": "EV_"}[layout]
    return getattr(app, prefix + "LEN"), {n: getattr(app, prefix + n.upper()) for n in names}


PUT = {"u8": "put_u8", "u16": "put_u16", "i32": "put_i32"}
GET = {"u8": "get_u8", "u16": "get_u16", "i32": "get_i32"}


# ---------------------------------------------------------------- CRC


def test_crc32_check_value() -> None:
    assert ref_crc(b"123456789") == 0xCBF43926
    assert VECTORS["crc"]["check"] == 0xCBF43926
    assert link.crc32(b"123456789") == 0xCBF43926  # the codec's CRC: binascii.crc32
    # above 2^30: small_crc reports it as -1 (on a 32-bit port it would be a heap int)
    assert link.small_crc(memoryview(b"123456789")) == -1


@PROPERTY
@given(st.binary(max_size=link.BUF_LEN))
def test_codec_crc_matches_bitwise_reference(data: bytes) -> None:
    ref = ref_crc(data)
    assert link.crc32(data) == ref
    assert link.small_crc(memoryview(data)) == (ref if ref < CRC_LIMIT else -1)


def test_crc_view_covers_len_through_pad() -> None:
    frame = bytearray(range(20, 20 + 7 + link.OVERHEAD))
    assert bytes(link.crc_view(frame, 7)) == bytes(frame[2 : link.HEADER_LEN + 7 + 1])


@pytest.mark.parametrize("case", FRAMES, ids=lambda c: c["name"])
def test_vector_crc_matches_codec_crc(case: dict) -> None:
    raw = bytes.fromhex(case["hex"])
    n = case["len"]
    assert len(raw) == n + link.OVERHEAD
    assert raw[link.HEADER_LEN + n] == case["pad"]
    assert link.small_crc(link.crc_view(bytearray(raw), n)) == case["crc"]
    assert ref_crc(raw[2:-4]) == wire_crc(raw) == case["crc"] < CRC_LIMIT


def test_vectors_cover_every_pad_value() -> None:
    assert {case["pad"] for case in FRAMES} == {0, 1, 2, 3}


@PROPERTY
@given(st.integers(0, 255), st.binary(max_size=link.MAX_PAYLOAD), st.integers(0, 255))
def test_encoded_crc_is_below_2_pow_30_with_the_first_pad_that_gives_that(
    ftype: int, payload: bytes, seq: int
) -> None:
    (raw,) = encode([(ftype, payload)], seq)
    body = raw[2 : link.HEADER_LEN + len(payload)]  # LEN..PAYLOAD
    candidates = [ref_crc(body + bytes([p])) for p in range(4)]
    pad = raw[-5]
    assert wire_crc(raw) == candidates[pad] < CRC_LIMIT
    assert all(c >= CRC_LIMIT for c in candidates[:pad])
    # the top two bits move by a fixed pattern, so exactly one PAD gives 00
    assert [(c >> 30) ^ (candidates[0] >> 30) for c in candidates] == list(PAD_TOP_BITS)
    assert sum(c < CRC_LIMIT for c in candidates) == 1


@PROPERTY
@given(st.integers(0, 255), st.binary(max_size=link.MAX_PAYLOAD), st.integers(0, 255))
def test_encoder_with_a_kept_crc_view_writes_the_same_frame(
    ftype: int, payload: bytes, seq: int
) -> None:
    n = len(payload)
    made, kept = bytearray(n + link.OVERHEAD), bytearray(n + link.OVERHEAD)
    made[link.HEADER_LEN : link.HEADER_LEN + n] = kept[link.HEADER_LEN : link.HEADER_LEN + n] = (
        payload
    )
    for buf, view in ((made, None), (kept, link.crc_view(kept, n))):
        enc = link.Encoder()
        enc.seq = seq
        assert enc.finish(buf, ftype, n, view) == n + link.OVERHEAD
    assert made == kept


# ---------------------------------------------------------------- single-frame vectors


def test_vector_layouts_match_firmware_offsets() -> None:
    for layout, spec in VECTORS["layouts"].items():
        length, offsets = firmware_offsets(layout)
        assert spec["length"] == length, layout
        assert {f: off for f, off, _ in spec["fields"]} == offsets, layout


def test_vector_frame_types_match_firmware_constants() -> None:
    for name, value in VECTORS["types"].items():
        assert getattr(link, "T_" + name) == value, name
    for layout, spec in VECTORS["layouts"].items():
        assert spec["type"] == VECTORS["types"][{"telem": "TELEM"}.get(layout, layout.upper())]


def test_vector_limits_match_firmware_constants() -> None:
    assert VECTORS["max_payload"] == link.MAX_PAYLOAD
    assert (VECTORS["i32_min"], VECTORS["i32_max"]) == (link.I32_MIN, link.I32_MAX)
    assert bytes.fromhex(VECTORS["sync_hex"]) == bytes([link.SYNC1, link.SYNC2])


@pytest.mark.parametrize("case", FRAMES, ids=lambda c: c["name"])
def test_encoder_reproduces_vector_bytes(case: dict) -> None:
    n = case["len"]
    buf = bytearray(n + link.OVERHEAD)
    if case["layout"] is None:
        buf[link.HEADER_LEN : link.HEADER_LEN + n] = bytes.fromhex(case["payload_hex"])
    else:
        length, offsets = firmware_offsets(case["layout"])
        assert n == length
        values = {**case["fields"], **case.get("encode_with", {})}
        for field, _, kind in VECTORS["layouts"][case["layout"]]["fields"]:
            getattr(link, PUT[kind])(buf, link.HEADER_LEN + offsets[field], values[field])
    enc = link.Encoder()
    enc.seq = case["seq"]
    assert enc.finish(buf, case["type"], n) == len(buf)
    assert buf.hex() == case["hex"]


@pytest.mark.parametrize("case", FRAMES, ids=lambda c: c["name"])
def test_decoder_delivers_vector_frame(case: dict) -> None:
    c = Collector().feed(bytes.fromhex(case["hex"]))
    assert c.frames == [(case["type"], case["seq"], bytes.fromhex(case["payload_hex"]))]
    assert c.counters() == dict.fromkeys(COUNTERS, 0) | {"good": 1}


@pytest.mark.parametrize("case", LAYOUT_FRAMES, ids=lambda c: c["name"])
def test_vector_payload_fields_decode(case: dict) -> None:
    payload = bytes.fromhex(case["payload_hex"])
    _, offsets = firmware_offsets(case["layout"])
    decoded = {
        field: getattr(link, GET[kind])(payload, offsets[field])
        for field, _, kind in VECTORS["layouts"][case["layout"]]["fields"]
    }
    assert decoded == case["fields"]


def test_vectors_file_matches_generator() -> None:
    text = (VECTORS_DIR / "link_vectors.json").read_text()
    assert text == gen.render(), "run tests/vectors/make_link_vectors.py"


# ---------------------------------------------------------------- stream vectors


@pytest.mark.parametrize("case", STREAMS, ids=lambda c: c["name"])
def test_stream_vector_delivers_expected_frames(case: dict) -> None:
    c = Collector().feed(bytes.fromhex(case["hex"]), end=case["end"])
    expected = [
        (d["type"], d["seq"], bytes.fromhex(d["payload_hex"]))
        for d in case["expected"]["delivered"]
    ]
    assert c.frames == expected


@settings(PROPERTY, max_examples=20)
@pytest.mark.parametrize("case", STREAMS, ids=lambda c: c["name"])
@given(data=st.data())
def test_stream_vector_decodes_the_same_read_in_place(case: dict, data: st.DataObject) -> None:
    # a reader that reads into the decoder's own buffer (rx_view, received), whole or short
    # reads, sees the same frames and counters as one that feeds bytes
    raw = bytes.fromhex(case["hex"])
    short = data.draw(st.lists(st.integers(1, 40), max_size=12), label="short reads")
    c = Collector().read_in_place(raw, short, end=case["end"])
    expected = [
        (d["type"], d["seq"], bytes.fromhex(d["payload_hex"]))
        for d in case["expected"]["delivered"]
    ]
    assert c.frames == expected
    assert c.counters() == case["expected"]["counters"]


@pytest.mark.parametrize("case", STREAMS, ids=lambda c: c["name"])
def test_stream_vector_counters(case: dict) -> None:
    c = Collector().feed(bytes.fromhex(case["hex"]), end=case["end"])
    assert c.counters() == case["expected"]["counters"]


@settings(PROPERTY, max_examples=20)
@pytest.mark.parametrize("case", STREAMS, ids=lambda c: c["name"])
@given(data=st.data())
def test_stream_vector_decodes_the_same_in_any_chunks(case: dict, data: st.DataObject) -> None:
    # feed_into copies a frame's body in bulk: chunk boundaries anywhere change nothing
    raw = bytes.fromhex(case["hex"])
    cuts = data.draw(st.lists(st.integers(1, max(1, len(raw) - 1)), max_size=8), label="cuts")
    c = Collector().feed_chunks(raw, cuts, end=case["end"])
    expected = [
        (d["type"], d["seq"], bytes.fromhex(d["payload_hex"]))
        for d in case["expected"]["delivered"]
    ]
    assert c.frames == expected
    assert c.counters() == case["expected"]["counters"]


# ---------------------------------------------------------------- put_/get_ helpers

I32 = st.integers(link.I32_MIN, link.I32_MAX)


@PROPERTY
@given(I32)
def test_i32_round_trips_within_range(v: int) -> None:
    buf = bytearray(6)
    link.put_i32(buf, 1, v)
    assert link.get_i32(buf, 1) == v
    assert buf[0] == 0 and buf[5] == 0


@PROPERTY
@given(
    st.one_of(st.integers(link.I32_MAX + 1, 1 << 70), st.integers(-(1 << 70), link.I32_MIN - 1))
)
def test_put_i32_saturates_outside_range(v: int) -> None:
    buf = bytearray(4)
    link.put_i32(buf, 0, v)
    assert link.get_i32(buf, 0) == (link.I32_MAX if v > 0 else link.I32_MIN)


def test_i32_saturation_bounds_are_plus_minus_2_pow_30() -> None:
    assert (link.I32_MIN, link.I32_MAX) == (-(1 << 30), (1 << 30) - 1)
    buf = bytearray(4)
    for given_v, wire in [
        (1 << 30, (1 << 30) - 1),
        ((1 << 30) - 1, (1 << 30) - 1),
        (-(1 << 30), -(1 << 30)),
        (-(1 << 30) - 1, -(1 << 30)),
    ]:
        link.put_i32(buf, 0, given_v)
        assert link.get_i32(buf, 0) == wire, given_v


@PROPERTY
@given(st.binary(min_size=4, max_size=4))
def test_get_i32_saturates_wire_values_outside_range(raw: bytes) -> None:
    v = int.from_bytes(raw, "little", signed=True)
    assert link.get_i32(raw, 0) == max(link.I32_MIN, min(link.I32_MAX, v))


@PROPERTY
@given(st.integers(0, 0xFFFF))
def test_u16_round_trips(v: int) -> None:
    buf = bytearray(3)
    link.put_u16(buf, 1, v)
    assert link.get_u16(buf, 1) == v
    assert buf[1:] == bytes([v & 0xFF, v >> 8])


@PROPERTY
@given(st.integers(0, 0xFF))
def test_u8_round_trips(v: int) -> None:
    buf = bytearray(2)
    link.put_u8(buf, 1, v)
    assert link.get_u8(buf, 1) == v


# ---------------------------------------------------------------- properties

# Bytes biased towards the sync bytes, so that payloads and junk often hold frame starts:
# st.binary (fast to draw) with 0xE0..0xEF read as A5 and 0xF0..0xFF as 5A (1 in 15 each).
_BIAS = bytes(range(0xE0)) + bytes([link.SYNC1]) * 16 + bytes([link.SYNC2]) * 16


def biased_bytes(max_size: int) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=max_size).map(lambda b: b.translate(_BIAS))


PAYLOAD = biased_bytes(link.MAX_PAYLOAD)
# payloads without A5 (5A kept): once such a frame is dropped, nothing in it starts a frame
PAYLOAD_NO_A5 = PAYLOAD.map(lambda b: b.replace(bytes([link.SYNC1]), bytes([link.SYNC2])))
FRAME_LIST = st.lists(st.tuples(st.integers(0, 255), PAYLOAD), min_size=1, max_size=8)
PLAIN_JUNK = biased_bytes(12)
# junk ending in a sync pair and a valid length: a fake header that swallows what follows
FAKE_HEADER = st.tuples(PLAIN_JUNK, st.integers(0, link.MAX_PAYLOAD)).map(
    lambda t: t[0] + bytes([link.SYNC1, link.SYNC2, t[1]])
)
JUNK = st.one_of(PLAIN_JUNK, FAKE_HEADER, st.sampled_from([b"\xa5", b"\xa5\x5a"]))
QUIET_FLUSH = bytes(link.BUF_LEN)  # zeros: no frame start, enough to complete any frame


@PROPERTY
@given(FRAME_LIST, st.integers(0, 255))
def test_back_to_back_frames_decode_to_the_same_list(frames: list, start_seq: int) -> None:
    raws = encode(frames, start_seq)
    c = Collector().feed(b"".join(raws))
    assert c.frames == [frame_tuple(r) for r in raws]
    assert c.counters() == dict.fromkeys(COUNTERS, 0) | {"good": len(raws)}


def _junk_stream(data: st.DataObject, frames: list, start_seq: int) -> tuple[list[bytes], bytes]:
    raws = encode(frames, start_seq)
    junk = data.draw(st.lists(JUNK, min_size=len(raws) + 1, max_size=len(raws) + 1))
    stream = b"".join(j + r for j, r in zip(junk[:-1], raws, strict=True)) + junk[-1]
    return raws, stream


def _skip_if_junk_holds_a_valid_frame(c: Collector, raws: list[bytes]) -> None:
    # Junk followed by frame bytes passes the CRC-32 by chance with probability 2^-32 per fake
    # header; such a frame is valid on the wire and is rightly delivered. Nothing else counts.
    assume(all(f in [frame_tuple(r) for r in raws] for f in c.frames))


@PROPERTY
@given(st.data(), FRAME_LIST, st.integers(0, 255))
def test_junk_between_frames_never_delivers_a_frame_with_a_bad_crc(
    data: st.DataObject, frames: list, start_seq: int
) -> None:
    _, stream = _junk_stream(data, frames, start_seq)
    c = Collector().feed(stream)
    assert all(crc_ok(r) for r in c.raw)


@PROPERTY
@given(st.data(), FRAME_LIST, st.integers(0, 255))
def test_junk_between_frames_loses_no_good_frame_in_a_continuing_stream(
    data: st.DataObject, frames: list, start_seq: int
) -> None:
    # The line carries on after the last frame (QUIET_FLUSH), so every fake header that
    # swallowed good frames runs to its end, fails, and its bytes are re-parsed.
    raws, stream = _junk_stream(data, frames, start_seq)
    c = Collector().feed(stream + QUIET_FLUSH, end=False)
    _skip_if_junk_holds_a_valid_frame(c, raws)
    assert c.frames == [frame_tuple(r) for r in raws]


@PROPERTY
@given(st.data(), FRAME_LIST, st.integers(0, 255))
def test_junk_between_frames_loses_no_good_frame_when_the_stream_ends(
    data: st.DataObject, frames: list, start_seq: int
) -> None:
    # When the stream ends inside a fake frame, Decoder.end() re-parses the buffered bytes,
    # so complete good frames inside it are delivered (see
    # test_end_delivers_a_good_frame_buffered_inside_an_unfinished_frame).
    raws, stream = _junk_stream(data, frames, start_seq)
    c = Collector().feed(stream)
    _skip_if_junk_holds_a_valid_frame(c, raws)
    assert c.frames == [frame_tuple(r) for r in raws]


def test_end_delivers_a_good_frame_buffered_inside_an_unfinished_frame() -> None:
    # Stream: fake header A5 5A 04, then the complete good frame
    # A5 5A 00 01 00 00 2B B5 86 20 (LEN 0, TICK, SEQ 0, PAD 0), then Decoder.end(). The fake
    # frame wants 14 bytes and has only 13 when the stream ends; end() counts it truncated and,
    # as after a failed CRC, re-parses its bytes, so the good frame it holds is delivered.
    good = bytes.fromhex("a55a000100002bb58620")
    assert crc_ok(good)
    c = Collector().feed(bytes.fromhex("a55a04") + good)
    assert c.dec.truncated >= 1
    assert c.frames == [(0x01, 0x00, b"")]


def _flipped(data: st.DataObject, raw: bytes, first_bit: int = 0) -> bytes:
    bit = data.draw(st.integers(first_bit, 8 * len(raw) - 1), label="bit")
    out = bytearray(raw)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@PROPERTY
@given(st.data(), st.integers(0, 255), PAYLOAD, st.integers(0, 255))
def test_single_bit_flip_is_never_delivered(
    data: st.DataObject, ftype: int, payload: bytes, seq: int
) -> None:
    raw, nxt = encode([(ftype, payload), (0x01, b"\x01\x02")], seq)
    c = Collector().feed(_flipped(data, raw) + nxt)
    assert frame_tuple(raw) not in c.frames
    assert set(c.frames) <= {frame_tuple(nxt)}


@PROPERTY
@given(st.data(), st.integers(0, 255), PAYLOAD_NO_A5, st.integers(0, 255))
def test_single_bit_flip_after_sync_pair_counts_exactly_one_error(
    data: st.DataObject, ftype: int, payload: bytes, seq: int
) -> None:
    # Restricted, deliberately, to (a) bits after the sync pair: a frame whose A5 5A is
    # destroyed is invisible, no decoder can count it (test below); and (b) frames that hold
    # no other A5 once flipped: after a bad frame the decoder re-parses from the next A5 in it,
    # and an A5 5A inside a payload is then counted as a second bad frame (known limitation,
    # test_corrupted_frame_with_a_sync_pair_inside_counts_one_error).
    (raw,) = encode([(ftype, payload)], seq)
    bad = _flipped(data, raw, first_bit=16)
    assume(link.SYNC1 not in bad[1:])
    c = Collector().feed(bad)
    counts = c.counters()
    assert c.frames == []
    assert sum(counts[k] for k in ERROR_COUNTERS) == 1
    assert counts["good"] == counts["lost"] == 0


@PROPERTY
@given(st.data(), st.integers(0, 255), PAYLOAD_NO_A5, st.integers(0, 255))
def test_single_bit_flip_in_sync_pair_hides_the_frame(
    data: st.DataObject, ftype: int, payload: bytes, seq: int
) -> None:
    (raw,) = encode([(ftype, payload)], seq)
    bit = data.draw(st.integers(0, 15), label="bit")
    bad = bytearray(raw)
    bad[bit // 8] ^= 1 << (bit % 8)
    assume(link.SYNC1 not in bad[1:])
    c = Collector().feed(bytes(bad))
    assert c.frames == []
    assert c.counters() == dict.fromkeys(COUNTERS, 0)


@pytest.mark.xfail(
    strict=True,
    reason="codec limitation (reported, not fixed here): the re-parse after a bad frame "
    "treats an A5 5A inside its payload as a frame start and counts that pseudo-frame as a "
    "second error",
)
def test_corrupted_frame_with_a_sync_pair_inside_counts_one_error() -> None:
    # TICK, SEQ 0, payload A5 5A 00 00 00 00 00 (PAD 02, CRC 6C F1 78 26); the last payload
    # bit flipped.
    bad = bytes.fromhex("a55a070100a55a0000000001026cf17826")
    nxt = bytes.fromhex("a55a000101006a849d39")  # then a good LEN-0 TICK, SEQ 1
    assert crc_ok(nxt) and not crc_ok(bad)
    c = Collector().feed(bad + nxt)
    assert c.frames == [(0x01, 0x01, b"")]
    assert sum(c.counters()[k] for k in ERROR_COUNTERS) == 1  # is 2: truncated + crc_errors


@PROPERTY
@given(st.binary(max_size=2000))
def test_decoder_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    Collector().feed(data)


@PROPERTY
@given(biased_bytes(2000))
def test_decoder_never_raises_on_sync_heavy_bytes(data: bytes) -> None:
    Collector().feed(data)
