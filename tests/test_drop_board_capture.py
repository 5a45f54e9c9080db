"""`softland drop capture --port`: the raw-REPL conversation with a board, against a stand-in
board on a byte stream whose drop app is the firmware's (firmware/drop.py under CPython, the
LIDAR-Lite emulator on its bus); and the one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest

from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C, VirtualClock
from softland.drop.board import RAW_PROMPT, BoardCapture, capture_from_port, capture_over_stream
from softland.drop.firmware import drop_module
from softland.errors import UserError


class StandInBoard:
    """A MicroPython board's raw REPL on a byte stream. Runs `drop.main(n=...)` with the
    firmware's DropSampler on the emulator; `fail` makes the code raise instead."""

    def __init__(self, fail: str | None = None, repl: bool = True) -> None:
        self.fail = fail
        self.repl = repl
        self.pending = bytearray()
        self.code = bytearray()
        self.raw = False
        self.received = bytearray()

    def write(self, data: bytes) -> None:
        self.received += data
        for b in data:
            if not self.repl:
                continue
            if b == 0x01:
                self.raw = True
                self.pending += RAW_PROMPT
            elif b == 0x04 and self.raw:
                self.pending += b"OK"
                self._run(bytes(self.code))
                self.code.clear()
            elif b == 0x02:
                self.raw = False
            elif self.raw and b not in (0x03, 0x0D):
                self.code.append(b)

    def _run(self, code: str | bytes) -> None:
        text = code.decode() if isinstance(code, bytes) else code
        if self.fail:
            self.pending += b"\x04Traceback (most recent call last):\r\n"
            self.pending += f'  File "<stdin>", line 1\r\n{self.fail}\r\n'.encode() + b"\x04>"
            return
        n = int(text.split("n=")[1].split(",")[0])
        clock = VirtualClock()
        lidar = LidarLiteEmulator(clock, np.random.default_rng(0))
        bus = EmulatedI2C(clock, [lidar], frequency=400_000)
        s = drop_module().DropSampler(MachineI2C(bus), lambda: clock.now_us, n)
        s.probe()
        s.run()
        s.dump(self.pending.extend)
        self.pending += b"\x04\x04>"

    def read(self) -> bytes:
        k = min(len(self.pending), 97)  # arrives in odd-sized pieces
        out = bytes(self.pending[:k])
        del self.pending[:k]
        return out


def test_capture_runs_the_drop_app_through_the_raw_repl() -> None:
    board = StandInBoard()
    cap = capture_over_stream(board.write, board.read, BoardCapture(samples=60), "board test")
    assert cap.samples == 60 and cap.variant == "v3" and cap.source == "board test"
    assert np.all(np.abs(cap.distance_cm - 200) < 8)
    assert b"drop.main(n=60, delay_ms=0, release_pin=None, released=1, sig_count=0)" in (
        board.received
    )
    assert board.received.endswith(b"\x02")  # back to the friendly REPL


def test_a_board_without_the_drop_app_gives_the_error_it_printed() -> None:
    board = StandInBoard(fail="ImportError: no module named 'drop'")
    with pytest.raises(UserError, match="could not run the drop app: ImportError: no module"):
        capture_over_stream(board.write, board.read, BoardCapture(samples=60), "board test")


def test_a_port_without_a_micropython_repl_gives_one_line() -> None:
    board = StandInBoard(repl=False)
    with pytest.raises(UserError, match="no MicroPython raw REPL answered"):
        capture_over_stream(board.write, board.read, BoardCapture(samples=60), "board test")


def test_a_port_that_does_not_exist_gives_one_line() -> None:
    with pytest.raises(UserError, match="serial port /dev/softland-no-such-port cannot be opened"):
        capture_from_port("/dev/softland-no-such-port", BoardCapture())
