"""Retransmission (docs/protocol.md, "Retransmission"): a frame that comes again byte for byte
is the sender asking for the answer it missed. The decoder reports it (on_repeat) instead of
delivering it; the firmware's App sends its answer again, the same bytes, and does not act on
the frame twice. Allocation-free on the unix port with the heap locked."""

from __future__ import annotations

import subprocess

from softland.analysis.bench import MPSIDE_DIR
from softland.boards.firmware import fsw_module
from softland.boards.runtimes import micropython_env

link = fsw_module("link")
app_mod = fsw_module("app")


def _frame(ftype: int, payload: bytes, seq: int) -> bytes:
    enc = link.Encoder()
    enc.seq = seq
    buf = bytearray(len(payload) + link.OVERHEAD)
    buf[link.HEADER_LEN : link.HEADER_LEN + len(payload)] = payload
    return bytes(buf[: enc.finish(buf, ftype, len(payload))])


class _Recorder:
    def __init__(self) -> None:
        self.delivered: list[tuple[int, int]] = []
        self.repeats = 0
        self.dec = link.Decoder(self._on_frame)
        self.dec.on_repeat = self._on_repeat

    def _on_frame(self, ftype: int, buf: bytearray, length: int) -> None:
        self.delivered.append((ftype, buf[4]))

    def _on_repeat(self) -> None:
        self.repeats += 1

    def feed(self, data: bytes) -> None:
        self.dec.feed_into(data, len(data))


def test_an_exact_repeat_of_the_last_frame_is_reported_not_delivered_nor_an_error() -> None:
    r = _Recorder()
    f = _frame(link.T_CMD, bytes(6), 0)
    r.feed(f + f)
    assert r.delivered == [(link.T_CMD, 0)]
    assert r.repeats == 1
    assert (r.dec.repeats, r.dec.out_of_seq, r.dec.errors()) == (1, 0, 0)


def test_the_same_seq_with_other_bytes_is_out_of_sequence_not_a_repeat() -> None:
    r = _Recorder()
    r.feed(_frame(link.T_CMD, bytes(6), 0) + _frame(link.T_CMD, bytes([7, 0, 0, 0, 0, 0]), 0))
    assert r.delivered == [(link.T_CMD, 0)]
    assert (r.repeats, r.dec.repeats, r.dec.out_of_seq) == (0, 0, 1)


def test_an_older_frame_sent_again_is_not_a_repeat() -> None:
    r = _Recorder()
    first = _frame(link.T_CMD, bytes(6), 0)
    r.feed(first + _frame(link.T_CMD, bytes(6), 1) + first)
    assert r.delivered == [(link.T_CMD, 0), (link.T_CMD, 1)]
    assert (r.repeats, r.dec.out_of_seq) == (0, 1)


def test_a_repeat_after_a_silence_is_still_not_delivered_again() -> None:
    # on a board, wait_ms without a byte lets the next frame restart the numbering: the
    # retransmission of a host that waited that long must still not run twice
    r = _Recorder()
    f = _frame(link.T_TICK, bytes(14), 5)
    r.feed(f)
    r.dec.restart_seq()
    r.feed(f)
    assert r.delivered == [(link.T_TICK, 5)]
    assert r.repeats == 1


def test_repeats_never_resynchronise_the_decoder() -> None:
    # three repeats in a row are not three consecutive out-of-sequence frames
    r = _Recorder()
    f = _frame(link.T_CMD, bytes(6), 9)
    r.feed(f * 4)
    assert r.delivered == [(link.T_CMD, 9)]
    assert r.repeats == 3


class _Out:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytearray) -> int:
        self.data += b
        return len(b)


def _tick(seq: int, time_us: int) -> bytes:
    p = bytearray(app_mod.TICK_LEN)
    link.put_i32(p, app_mod.TICK_TIME_US, time_us)
    link.put_i32(p, app_mod.TICK_RANGE_MM, 3_000_000)
    link.put_u8(p, app_mod.TICK_RANGE_STATUS, 3)
    link.put_i32(p, app_mod.TICK_ACC_MM_S2, 1620)
    link.put_u8(p, app_mod.TICK_ACC_OK, 1)
    return _frame(link.T_TICK, bytes(p), seq)


def _cmd(seq: int, code: int, pid: int = 0, value: int = 0) -> bytes:
    p = bytearray(app_mod.CMD_LEN)
    link.put_u8(p, app_mod.CMD_CODE, code)
    link.put_u8(p, app_mod.CMD_ID, pid)
    link.put_i32(p, app_mod.CMD_VALUE, value)
    return _frame(link.T_CMD, bytes(p), seq)


def test_a_repeated_tick_is_answered_with_the_same_bytes_and_runs_once() -> None:
    out = _Out()
    app = app_mod.App(out)
    f = _tick(0, 20_000)
    app.feed_into(f, len(f))
    answer = bytes(out.data)
    out.data.clear()
    app.feed_into(f, len(f))
    assert bytes(out.data) == answer
    assert app.flight.ticks == 1
    assert app.repeats_answered == 1


def test_a_repeated_arm_sends_its_events_and_ack_again_and_arms_once() -> None:
    out = _Out()
    app = app_mod.App(out)
    for i in range(3):
        t = _tick(i, 20_000 * (i + 1))
        app.feed_into(t, len(t))
    out.data.clear()
    arm = _cmd(3, app_mod.C_ARM)
    app.feed_into(arm, len(arm))
    answer = bytes(out.data)  # EV_MODE (ARMED), then the ACK
    assert len(answer) == 16 + 18
    out.data.clear()
    app.feed_into(arm, len(arm))
    assert bytes(out.data) == answer
    assert app.flight.mode == 1
    # the next frame is new: answered once, in sequence after the first answer
    out.data.clear()
    ping = _cmd(4, app_mod.C_PING)
    app.feed_into(ping, len(ping))
    assert out.data[4] == (answer[16 + 4] + 1) & 0xFF


_HEAP_SCRIPT = """
import micropython
from sil_frames import Sink, descent_ticks, flying_app

def main():
    app, enc = flying_app(Sink())
    frames = descent_ticks(enc, 500, 0)
    micropython.heap_lock()
    try:
        for f in frames:
            app.feed_into(f, len(f))
            app.feed_into(f, len(f))
    finally:
        micropython.heap_unlock()
    print("ticks", app.flight.ticks, "faults", app.faults, "repeats", app.dec.repeats,
          "answered", app.repeats_answered)

main()
"""


def test_answering_repeats_does_not_allocate(any_micropython_bin: str) -> None:
    proc = subprocess.run(
        [any_micropython_bin, "-X", "heapsize=1M", "-c", _HEAP_SCRIPT],
        capture_output=True,
        text=True,
        env=micropython_env(MPSIDE_DIR),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = proc.stdout.split()
    got = {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}
    assert got == {"ticks": 501, "faults": 0, "repeats": 500, "answered": 500}
