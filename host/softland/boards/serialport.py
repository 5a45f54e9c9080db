"""A board on a serial port as a `Runtime` (softland.boards.runtimes): the bytes of the link
over pyserial. HIL's session (softland.boards.hil) drives it; a port that cannot be opened is
one UserError, a port that fails mid-run (a board unplugged, an emulator killed) is
`softland.simulation.sim.LinkLost`."""

from __future__ import annotations

import os
import termios
from collections.abc import Callable

import serial

from softland.errors import UserError
from softland.simulation.sim import LinkLost

DEFAULT_BAUD = 115_200
WRITE_TIMEOUT_S = 1.0  # a frame is under 130 bytes: a write blocked this long is a dead port


def open_port(path: str, baud: int = DEFAULT_BAUD) -> serial.Serial:
    """The serial port at `path` in raw mode, or a UserError naming it and why not."""
    if not os.path.exists(path):
        raise UserError(f"serial port {path} does not exist (is the board plugged in?)")
    try:
        return serial.Serial(
            path, baud, timeout=0.1, write_timeout=WRITE_TIMEOUT_S, exclusive=True
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserError(f"cannot open serial port {path}: {reason}") from None


class SerialRuntime:
    """The firmware on a board at the other end of a serial port. It cannot be reset from
    here (restart() is refused: a scenario that resets the flight computer is SIL only)."""

    def __init__(self, port: serial.Serial, name: str = "hil") -> None:
        self.port = port
        self.name = name
        self.bytes_sent = 0
        self.bytes_received = 0

    def attach(self, on_output: Callable[[bytes], None]) -> None:
        pass  # output is read by receive()

    def send(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise LinkLost(f"writing to {self.port.port} failed: {exc}") from None
        self.bytes_sent += len(data)

    reply = send

    def receive(self, timeout_s: float) -> bytes:
        """What arrived within timeout_s (b"" when nothing did)."""
        try:
            self.port.timeout = max(timeout_s, 0.0)
            first = self.port.read(1)
            if not first:
                return b""
            waiting = self.port.in_waiting
            data = first + (self.port.read(waiting) if waiting else b"")
        except (serial.SerialException, OSError, termios.error) as exc:
            raise LinkLost(f"reading from {self.port.port} failed: {exc}") from None
        self.bytes_received += len(data)
        return data

    def discard_input(self) -> bytes:
        """Whatever the board sent before the host spoke (a boot banner, a REPL prompt)."""
        try:
            waiting = self.port.in_waiting
            return self.port.read(waiting) if waiting else b""
        except (serial.SerialException, OSError, termios.error) as exc:
            raise LinkLost(f"reading from {self.port.port} failed: {exc}") from None

    def restart(self) -> None:
        raise UserError(
            "this scenario resets the flight computer: HIL cannot reset a board over its "
            "serial link (fly it with `softland sim`)"
        )

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
