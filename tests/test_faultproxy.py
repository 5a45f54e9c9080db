"""The fault proxy's faults (softland.boards.faultproxy.FaultyDirection), without a pty: what
one direction does to the bytes it is given, unit by unit, seeded."""

from __future__ import annotations

import random

import pytest

from softland.boards.faultproxy import FaultRates, FaultyDirection
from softland.boards.hostlink import HostLink
from softland.errors import UserError


def _frames(n: int) -> list[bytes]:
    link = HostLink()
    return [link.tick_frame(20_000 * k, 1_000_000, 4, 1620, True) for k in range(n)]


def _run(rates: FaultRates, data: bytes, seed: int = 1, now: float = 0.0) -> FaultyDirection:
    d = FaultyDirection(rates, random.Random(seed))
    d.take(data, now)
    return d


def test_the_stream_is_cut_into_frames_and_the_bytes_between_them() -> None:
    frames = _frames(3)
    d = _run(FaultRates(), b"\x00\x01" + frames[0] + frames[1] + b"\x77" + frames[2])
    assert d.counters.units == 5  # noise, frame, frame, noise, frame
    assert d.due(0.0) == b"\x00\x01" + frames[0] + frames[1] + b"\x77" + frames[2]


def test_the_same_seed_gives_the_same_faults() -> None:
    data = b"".join(_frames(200))
    rates = FaultRates(drop=0.1, corrupt=0.1, dup=0.1)
    a, b = _run(rates, data, seed=7), _run(rates, data, seed=7)
    assert a.due(0.0) == b.due(0.0)
    assert a.counters == b.counters
    assert a.counters.dropped and a.counters.corrupted and a.counters.duplicated


def test_a_corrupted_frame_differs_from_its_original_by_one_bit() -> None:
    frames = _frames(20)
    out = _run(FaultRates(corrupt=1.0), b"".join(frames)).due(0.0)
    for k, frame in enumerate(frames):
        got = out[k * len(frame) : (k + 1) * len(frame)]
        flipped = sum(bin(x ^ y).count("1") for x, y in zip(frame, got, strict=True))
        assert flipped == 1


def test_dropped_and_duplicated_frames_go_whole() -> None:
    frames = _frames(50)
    assert _run(FaultRates(drop=1.0), b"".join(frames)).due(0.0) == b""
    doubled = _run(FaultRates(dup=1.0), b"".join(frames)).due(0.0)
    assert doubled == b"".join(f + f for f in frames)


def test_a_delayed_frame_holds_back_the_stream_behind_it() -> None:
    frames = _frames(2)
    d = FaultyDirection(FaultRates(delay=1.0, delay_ms=100), random.Random(1))
    d.take(frames[0], 0.0)
    d.rates = FaultRates()  # the next frame is not delayed itself
    d.take(frames[1], 0.01)
    assert d.due(0.05) == b""  # the second waits behind the first: no reordering
    assert d.due(0.1) == frames[0] + frames[1]


def test_a_byte_unit_faults_single_bytes() -> None:
    d = _run(FaultRates(drop=1.0, unit="byte"), b"\x01\x02\x03")
    assert (d.counters.units, d.counters.dropped) == (3, 3)


def test_an_incomplete_frame_goes_as_it_is_after_a_pause() -> None:
    frame = _frames(1)[0]
    d = FaultyDirection(FaultRates(), random.Random(1))
    d.take(frame[:10], 0.0)
    assert d.due(0.0) == b""
    d.take(b"", 1.0)
    assert d.due(1.0) == frame[:10]


@pytest.mark.parametrize("field", ["drop", "corrupt", "dup", "delay"])
def test_a_rate_outside_0_to_1_is_one_clear_error(field: str) -> None:
    with pytest.raises(UserError, match=f"--{field} 1.5: a rate is a probability"):
        FaultRates(**{field: 1.5})
