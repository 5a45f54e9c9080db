"""The host hands bytes to the link decoders in bulk (softland.boards.hostlink.deliver: a frame's
header, then its body, as the SIL serving loop reads a stream) and unpacks telemetry with one
struct (issue 13, "Speed"). Both must decode exactly as the byte-at-a-time path they replaced:
the same frames, the same error counters, the same field values."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import HostLink, deliver

link = fsw_module("link")
COUNTERS = ("good", "crc_errors", "truncated", "oversized", "out_of_seq", "lost", "repeats")


def _frame(enc: Any, ftype: int, payload: bytes) -> bytes:
    buf = bytearray(len(payload) + link.OVERHEAD)
    buf[link.HEADER_LEN : link.HEADER_LEN + len(payload)] = payload
    n = enc.finish(buf, ftype, len(payload))
    return bytes(buf[:n])


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """Frames as a peer sends them, some damaged (a flipped byte, a cut, garbage between,
    a repeat, a skipped SEQ, an oversized LEN), and a chunking of the whole stream."""
    enc = link.Encoder()
    out = bytearray()
    for _ in range(draw(st.integers(0, 12))):
        payload = draw(st.binary(max_size=link.MAX_PAYLOAD))
        frame = bytearray(_frame(enc, draw(st.sampled_from([0x81, 0x82, 0x83, 0x84])), payload))
        damage = draw(st.sampled_from(["none"] * 6 + ["flip", "cut", "garbage", "repeat", "skip"]))
        if damage == "flip":
            frame[draw(st.integers(0, len(frame) - 1))] ^= draw(st.integers(1, 255))
        elif damage == "cut":
            frame = frame[: draw(st.integers(0, len(frame) - 1))]
        elif damage == "garbage":
            out += draw(st.binary(min_size=1, max_size=20))
        elif damage == "skip":
            enc.seq = (enc.seq + draw(st.integers(1, 200))) & 0xFF
        out += frame
        if damage == "repeat":
            out += frame
    if draw(st.booleans()):
        out += bytes([link.SYNC1, link.SYNC2, link.MAX_PAYLOAD + 1, 0x81, 0])
    cuts = sorted(draw(st.lists(st.integers(0, len(out)), max_size=8)))
    return bytes(out), cuts


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def _decode(chunks: list[bytes], bulk: bool) -> tuple[list[tuple[int, bytes]], dict[str, int]]:
    frames: list[tuple[int, bytes]] = []
    dec = link.Decoder(lambda ftype, buf, n: frames.append((ftype, bytes(buf[: n + 10]))))
    for chunk in chunks:
        if bulk:
            deliver(dec.needed, dec.rx_view, dec.received, chunk)
        else:
            for b in chunk:
                dec.feed(b)
    return frames, {name: getattr(dec, name) for name in COUNTERS} | {"errors": dec.errors()}


@settings(max_examples=300, deadline=None)
@given(streams())
def test_bulk_delivery_decodes_as_feeding_one_byte_at_a_time(stream: Any) -> None:
    data, cuts = stream
    assert _decode(_chunks(data, cuts), bulk=True) == _decode([data], bulk=False)


@settings(max_examples=100, deadline=None)
@given(streams())
def test_the_host_link_decodes_any_chunking_as_one_byte_at_a_time(stream: Any) -> None:
    data, cuts = stream
    host = HostLink()
    frames = [f for chunk in _chunks(data, cuts) for f in host.feed(chunk)]
    expected, counters = _decode([data], bulk=False)
    assert [(f.ftype, f.raw) for f in frames] == expected
    assert host.decoder_errors() == counters["errors"]


def _by_getters(host: HostLink, payload: bytes) -> dict[str, int]:
    getters = {"i32": link.get_i32, "u16": link.get_u16, "u8": link.get_u8}
    return {name: getters[kind](payload, off) for name, off, kind in host.telemetry_offsets}


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=68, max_size=68))
def test_telemetry_unpacks_as_the_codecs_getters_read_it(payload: bytes) -> None:
    host = HostLink()
    assert host.telemetry_len == len(payload)
    decoded = host.decode_telemetry(payload)
    assert decoded == _by_getters(host, payload)
    assert list(decoded) == [name for name, _, _ in host.telemetry_offsets]


def test_telemetry_fields_beyond_2_to_the_30_saturate_as_on_the_wire() -> None:
    host = HostLink()
    payload = bytearray(host.telemetry_len)
    off = {name: o for name, o, _ in host.telemetry_offsets}
    payload[off["alt_mm"] : off["alt_mm"] + 4] = (0x7FFFFFFF).to_bytes(4, "little")
    payload[off["vel_mm_s"] : off["vel_mm_s"] + 4] = (-0x80000000).to_bytes(
        4, "little", signed=True
    )
    decoded = host.decode_telemetry(bytes(payload))
    assert decoded["alt_mm"] == link.I32_MAX
    assert decoded["vel_mm_s"] == link.I32_MIN


def _tick_frame_by_putters(host: HostLink, t_us: int, r: int, s: int, acc: int, ok: bool) -> bytes:
    a = host.app
    p = bytearray(a.TICK_LEN)
    link.put_i32(p, a.TICK_TIME_US, t_us & 0x3FFFFFFF)
    link.put_i32(p, a.TICK_RANGE_MM, r)
    link.put_u8(p, a.TICK_RANGE_STATUS, s)
    link.put_i32(p, a.TICK_ACC_MM_S2, acc)
    link.put_u8(p, a.TICK_ACC_OK, 1 if ok else 0)
    return host._frame(link.T_TICK, p)


ints = st.integers(-(2**40), 2**40)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**40), ints, st.integers(0, 300), ints, st.booleans())))
def test_tick_frames_pack_as_the_codecs_putters_write_them(ticks: list[Any]) -> None:
    packed, putters = HostLink(), HostLink()  # two encoders: the same SEQ numbers
    for t_us, range_mm, status, acc, ok in ticks:
        assert packed.tick_frame(t_us, range_mm, status, acc, ok) == _tick_frame_by_putters(
            putters, t_us, range_mm, status, acc, ok
        )
