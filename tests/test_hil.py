"""Hardware in the loop over a serial port (softland.boards.hil, docs/hil.md): the firmware on
an emulated board (the MicroPython unix port behind a socat pty, the emulated Cortex-M0's UART)
gives the same telemetry as SIL; through the fault proxy lost and corrupted frames are retried
and never used; a board that stops answering ends the run with link_lost in the stated time."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import run_softland

from softland.analysis.report import write_outputs
from softland.boards.faultproxy import FaultProxy, FaultRates
from softland.boards.firmware import fsw_module
from softland.boards.hil import EMULATED_HIL_WAIT_MS, HilSession, LinkSettings, run_hil
from softland.boards.ptyboard import UnixPtyBoard
from softland.boards.serialport import SerialRuntime, open_port
from softland.errors import UserError
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import Scenario, load_scenario
from softland.simulation.sim import run_scenario

link = fsw_module("link")
app = fsw_module("app")


@pytest.fixture
def pty_board(micropython_bin: str) -> Iterator[UnixPtyBoard]:
    if shutil.which("socat") is None:
        pytest.skip("socat not installed (CI installs it with apt)")
    with UnixPtyBoard(micropython_bin) as board:
        yield board


def _scenario(name: str) -> Scenario:
    return dispersed_run(load_scenario(name), None)


def _hil(
    s: Scenario, port: str, settings: LinkSettings | None = None, **kw
) -> tuple[dict, list[HilSession]]:
    sessions: list[HilSession] = []
    rt = SerialRuntime(open_port(port), "hil:test")
    try:
        result = run_hil(s, rt, settings=settings, sessions=sessions, **kw)
    finally:
        rt.close()
    return result.summary, sessions


def test_hil_nominal_on_the_unix_port_behind_a_pty_gives_the_sim_telemetry_hash(
    pty_board: UnixPtyBoard, micropython_bin: str
) -> None:
    s = _scenario("nominal")
    hil, _ = _hil(s, pty_board.path or "")
    sim = run_scenario(s, "micropython", micropython=micropython_bin).summary
    assert hil["outcome"] == sim["outcome"] == "landed"
    assert hil["ticks"] == sim["ticks"]
    assert hil["telemetry_sha256"] == sim["telemetry_sha256"]
    assert hil["link"]["retries"] == 0
    assert hil["link"]["tick_rtt_ms"]["ticks"] > 0


def test_hil_earth_hopper_on_the_emulated_cortex_m0_gives_the_sim_telemetry_hash() -> None:
    from softland.boards.emuboard import EmulatedBoard

    try:
        board = EmulatedBoard(clock_mhz=16)
    except UserError as exc:
        pytest.skip(f"no emulated board here: {exc}")
    s = _scenario("earth-hopper")
    with board:
        port = board.start_link(wait_ms=EMULATED_HIL_WAIT_MS)
        rt = SerialRuntime(port, "hil:qemu_m0")
        try:
            hil = run_hil(s, rt, board="qemu_m0").summary
        finally:
            rt.close()
    sim = run_scenario(s, "cpython").summary
    assert hil["outcome"] == sim["outcome"] == "landed"
    assert hil["telemetry_sha256"] == sim["telemetry_sha256"]
    assert hil["link"]["frames_lost"] == 0


# short waits (the unix port answers in a millisecond) and retries to spare: a loaded CI host
# that stalls for a second costs retransmissions, not the run
_PROXY_SETTINGS = LinkSettings(reply_timeout_s=0.2, retries=6)
_SLACK_S = 1.0  # a loaded host notices the end this much later than stated, at most


def _board_frames(stream: bytes) -> list[bytes]:
    """The distinct frames a board sent, in order: re-sent answers (same SEQ) taken once."""
    frames: list[bytes] = []
    state = {"next": None}

    def on_frame(ftype: int, buf: bytearray, length: int) -> None:
        dec.restart_seq()
        seq = buf[4]
        if state["next"] is None or seq == state["next"]:
            frames.append(bytes(buf[: length + link.OVERHEAD]))
            state["next"] = (seq + 1) & 0xFF

    dec = link.Decoder(on_frame)
    dec.feed_into(stream, len(stream))
    return frames


def test_through_the_fault_proxy_frames_are_retried_and_no_corrupted_frame_is_used(
    pty_board: UnixPtyBoard,
) -> None:
    rates = FaultRates(drop=0.02, corrupt=0.02, dup=0.02, delay=0.02, delay_ms=30)
    s = _scenario("earth-hopper")
    with FaultProxy(pty_board.path or "", rates, seed=3, record=True) as proxy:
        hil, sessions = _hil(s, proxy.host_path or "", _PROXY_SETTINGS)
        sent = proxy.to_host.recorded
        counters = proxy.counters()
    assert counters["to_host"]["corrupted"] > 0 and counters["to_board"]["corrupted"] > 0
    assert counters["to_host"]["dropped"] > 0 and counters["to_board"]["dropped"] > 0
    stats = hil["link"]
    assert stats["retries"] > 0
    assert stats["crc_errors"] > 0  # the corrupted frames were seen, and dropped
    # every frame the host took is one the board sent, byte for byte and in its order (after
    # the PING's ACK): no corrupted frame was used, and any gap is counted in frames_lost
    assert sent is not None
    board = _board_frames(bytes(sent))[1:]
    taken = sessions[0].frames_taken
    assert taken is not None
    i = 0
    for frame in taken:
        while board[i] != frame:  # IndexError: a frame the board never sent (or not here)
            i += 1
        i += 1
    assert len(board) - len(taken) == stats["frames_lost"]
    # the flight itself: landed, the board's decoder counted the damage it saw
    assert hil["outcome"] == "landed"
    assert hil["link_errors"] > 0


def test_answers_lost_on_the_way_to_the_host_are_sent_again_without_a_trace(
    pty_board: UnixPtyBoard, micropython_bin: str
) -> None:
    # only board -> host frames dropped: the board re-sends each answer the host missed, the
    # host fills every gap, and the telemetry is SIL's, byte for byte
    s = _scenario("earth-hopper")
    with FaultProxy(
        pty_board.path or "", FaultRates(drop=0.03), seed=5, host_rates=FaultRates()
    ) as proxy:
        hil, _ = _hil(s, proxy.host_path or "", _PROXY_SETTINGS)
        dropped = proxy.counters()["to_host"]["dropped"]
    sim = run_scenario(s, "micropython", micropython=micropython_bin).summary
    assert dropped > 0
    assert hil["link"]["retries"] >= 1
    assert hil["link"]["frames_lost"] == 0
    assert hil["telemetry_sha256"] == sim["telemetry_sha256"]


def _stop_board_after(board: UnixPtyBoard, ticks: int, how: str, at: list[float]):
    count = [0]

    def on_tick(t_s: float, altitude_m: float) -> None:
        count[0] += 1
        if count[0] == ticks:
            at.append(time.monotonic())
            board.pause() if how == "pause" else board.kill()

    return on_tick


def test_a_board_that_stops_answering_ends_the_run_with_link_lost_in_the_stated_time(
    pty_board: UnixPtyBoard, tmp_path: Path
) -> None:
    settings = LinkSettings(reply_timeout_s=0.3, retries=2)  # stated: 3 x 0.3 s = 0.9 s
    stopped: list[float] = []
    s = _scenario("earth-hopper")
    rt = SerialRuntime(open_port(pty_board.path or ""), "hil:test")
    try:
        result = run_hil(
            s, rt, settings=settings, on_tick=_stop_board_after(pty_board, 100, "pause", stopped)
        )
    finally:
        rt.close()
    ended = time.monotonic()
    assert result.summary["outcome"] == "link_lost"
    assert ended - stopped[0] <= settings.link_lost_after_s + _SLACK_S
    assert len(result.telemetry) == 100  # every tick answered before the board stopped
    paths = write_outputs(result, tmp_path)
    written = json.loads(paths["summary"].read_text())
    assert written["outcome"] == "link_lost"
    assert written["link"]["link_lost_after_s"] == pytest.approx(0.9)
    assert "no answer" in written["link"]["lost_reason"]
    assert len(paths["telemetry"].read_text().splitlines()) == 101  # header + 100 ticks


def test_a_board_killed_mid_run_ends_the_run_with_link_lost_at_once(
    pty_board: UnixPtyBoard,
) -> None:
    stopped: list[float] = []
    s = _scenario("earth-hopper")
    rt = SerialRuntime(open_port(pty_board.path or ""), "hil:test")
    try:
        result = run_hil(s, rt, on_tick=_stop_board_after(pty_board, 50, "kill", stopped))
    finally:
        rt.close()
    assert result.summary["outcome"] == "link_lost"
    assert time.monotonic() - stopped[0] <= LinkSettings().link_lost_after_s + _SLACK_S
    assert len(result.telemetry) == 50


def test_realtime_paces_the_ticks_by_the_wall_clock_and_says_whether_the_board_kept_up(
    pty_board: UnixPtyBoard,
) -> None:
    s = _scenario("earth-hopper")
    s = dataclasses.replace(s, sim=dataclasses.replace(s.sim, max_time_s=1.0))
    started = time.monotonic()
    hil, _ = _hil(s, pty_board.path or "", LinkSettings(realtime=True))
    wall = time.monotonic() - started
    stats = hil["link"]
    ticks = stats["tick_rtt_ms"]["ticks"]
    assert stats["mode"] == "realtime"
    assert stats["tick_period_ms"] == 20.0
    assert wall >= (ticks - 1) * 0.020
    assert stats["kept_up"] == (stats["late_ticks"] == 0)


# ---- a board that is not the softland link


class _FakeBoard:
    """A pty whose far end answers each frame with `answer(frame)` (a thread)."""

    def __init__(self, answer) -> None:
        import tty

        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._answer = answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select

        frames: list[bytes] = []
        dec = link.Decoder(lambda t, buf, n: frames.append(bytes(buf[: n + link.OVERHEAD])))
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            data = os.read(self.master, 4096)
            dec.feed_into(data, len(data))
            while frames:
                os.write(self.master, self._answer(frames.pop(0)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)


def _handshake_error(answer) -> str:
    board = _FakeBoard(answer)
    rt = SerialRuntime(open_port(board.path), "hil:fake")
    try:
        with pytest.raises(UserError) as err:
            run_hil(_scenario("nominal"), rt, settings=LinkSettings(reply_timeout_s=0.1))
    finally:
        rt.close()
        board.close()
    return str(err.value)


def test_a_board_answering_ping_with_another_ack_layout_is_a_protocol_error() -> None:
    def short_ack(frame: bytes) -> bytes:
        buf = bytearray(6 + link.OVERHEAD)
        buf[link.HEADER_LEN] = app.C_PING
        n = link.Encoder().finish(buf, link.T_ACK, 6)
        return bytes(buf[:n])

    message = _handshake_error(short_ack)
    assert "6-byte ACK" in message and "protocol version" in message


def test_a_board_answering_ping_with_telemetry_is_not_the_link() -> None:
    def telemetry(frame: bytes) -> bytes:
        buf = bytearray(68 + link.OVERHEAD)
        n = link.Encoder().finish(buf, link.T_TELEM, 68)
        return bytes(buf[:n])

    assert "does not answer PING with an ACK" in _handshake_error(telemetry)


def test_a_port_with_a_repl_on_it_is_not_the_link() -> None:
    message = _handshake_error(lambda frame: b"\r\n>>> ")
    assert "does not speak the softland link" in message and ">>>" in message


_softland = run_softland


def test_a_port_that_does_not_exist_is_one_clear_line(tmp_path: Path) -> None:
    proc = _softland("hil", "nominal", "--port", "/dev/ttyNOPE0", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["error: serial port /dev/ttyNOPE0 does not exist (is the board plugged in?)"]


def test_hil_command_writes_the_sim_outputs_with_link_statistics(
    tmp_path: Path, micropython_bin: str
) -> None:
    if shutil.which("socat") is None:
        pytest.skip("socat not installed (CI installs it with apt)")
    proc = _softland(
        "hil", "earth-hopper", "--port", "emulated", "--board", "unix", "--out", str(tmp_path),
        "--micropython", micropython_bin, "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for name in ("summary.json", "telemetry.csv", "events.json", "descent.png"):
        assert (tmp_path / name).is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["outcome"] == "landed"
    assert set(summary["link"]["tick_rtt_ms"]) == {"ticks", "p50", "p90", "p99", "max"}
    assert summary["link"]["corrupted_frames_used"] == 0


def test_hil_check_replays_the_board_run_bit_exact_under_cpython(
    tmp_path: Path, micropython_bin: str
) -> None:
    # the run directory of a HIL run holds what the board was given (inputs.bin), like sim's
    if shutil.which("socat") is None:
        pytest.skip("socat not installed (CI installs it with apt)")
    proc = _softland(
        "hil", "earth-hopper", "--port", "emulated", "--board", "unix", "--out", str(tmp_path),
        "--micropython", micropython_bin, "--quiet", "--check", "--check-against", "cpython",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert (tmp_path / "inputs.bin").is_file() and (tmp_path / "report.html").is_file()
    assert "OK: every channel within its bound" in proc.stdout + proc.stderr
    events = json.loads((tmp_path / "events.json").read_text())
    assert max(e["t_s"] for e in events) > 0  # events carry their times, as in sim
