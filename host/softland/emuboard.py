"""The emulated microcontroller: MicroPython 1.28 on QEMU's `microbit` machine (a Cortex-M0,
SRAM raised to 256 KB), its UART on a pty. With `-icount shift=S` every instruction advances
the board's clock by 2^S ns, so `time.ticks_us()` on the board is instruction time: shift 6 is
a ~16 MHz core (15.6 M instructions/s), shift 3 a ~125 MHz one.

Found through settings, in this order: an explicit path, $SOFTLAND_PIL_FIRMWARE, the image in
a `shared/pil/` folder beside the checkout; QEMU as $SOFTLAND_QEMU or `qemu-system-arm` on
PATH. A missing QEMU or image is a UserError that says which and how to get it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from softland.errors import UserError

IMAGE_NAME = "micropython-1.28.0-qemu-microbit.elf"
UNIX32_NAME = "micropython-1.28.0-unix-x86-32bit"
# -icount shift per emulated core clock: one instruction per 2^shift ns
SHIFT_FOR_MHZ = {16: 6, 125: 3}


def shared_pil_dirs() -> list[Path]:
    """`shared/pil/` folders where the 32-bit runtimes may lie: beside the checkout (CI's
    layout: main/ and shared/ side by side) and beside its parent."""
    repo = Path(__file__).resolve().parents[2]
    return [repo.parent / "shared" / "pil", repo / "shared" / "pil"]


def _find_file(explicit: str | None, env_var: str, name: str) -> Path | None:
    wanted = explicit or os.environ.get(env_var)
    if wanted:
        path = Path(wanted)
        return path if path.is_file() else None
    for d in shared_pil_dirs():
        if (d / name).is_file():
            return d / name
    return None


def find_image(explicit: str | None = None) -> Path:
    """The board's firmware image (ELF), or a UserError naming where it was looked for."""
    path = _find_file(explicit, "SOFTLAND_PIL_FIRMWARE", IMAGE_NAME)
    if path is None:
        wanted = explicit or os.environ.get("SOFTLAND_PIL_FIRMWARE")
        where = (
            f"'{wanted}' is not a file"
            if wanted
            else (f"{IMAGE_NAME} is not in " + " or ".join(str(d) for d in shared_pil_dirs()))
        )
        raise UserError(
            f"emulated-board image not found: {where}; set SOFTLAND_PIL_FIRMWARE to the "
            f"MicroPython qemu-port ELF ({IMAGE_NAME}, built by shared/pil/build.sh)"
        )
    return path


def find_unix32(explicit: str | None = None) -> Path | None:
    """The 32-bit MicroPython unix port: explicit, $SOFTLAND_MICROPYTHON32, or shared/pil/."""
    return _find_file(explicit, "SOFTLAND_MICROPYTHON32", UNIX32_NAME)


def find_qemu() -> str:
    wanted = os.environ.get("SOFTLAND_QEMU", "qemu-system-arm")
    path = shutil.which(wanted)
    if path is None:
        raise UserError(
            f"QEMU not found: '{wanted}'; install it (Debian: apt-get install qemu-system-arm) "
            "or set SOFTLAND_QEMU"
        )
    return path


@dataclass(frozen=True)
class BoardClock:
    mhz: int
    shift: int


def board_clock(mhz: int) -> BoardClock:
    if mhz not in SHIFT_FOR_MHZ:
        known = ", ".join(str(m) for m in SHIFT_FOR_MHZ)
        raise UserError(f"--clock-mhz {mhz}: the emulated board runs at {known} MHz")
    return BoardClock(mhz, SHIFT_FOR_MHZ[mhz])


class EmulatedBoard:
    """One QEMU process: start() boots it and finds its UART pty; close() ends it by PID.
    Start a fresh one per session (an uncaught MemoryError or a soft reset can leave the
    board unusable; it boots in well under a second)."""

    def __init__(self, clock_mhz: int = 16, image: str | None = None) -> None:
        self.clock = board_clock(clock_mhz)
        self.image = find_image(image)
        self.qemu = find_qemu()
        self.proc: subprocess.Popen[bytes] | None = None
        self.pty: str | None = None
        self._transport = None
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> EmulatedBoard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(self) -> list[str]:
        return [
            self.qemu, "-machine", "microbit",
            "-global", "nrf51-soc.flash-size=1048576",
            "-global", "nrf51-soc.sram-size=262144",
            "-bios", "none", "-nographic", "-monitor", "null", "-semihosting",
            "-icount", f"shift={self.clock.shift}",
            "-serial", "pty", "-kernel", str(self.image),
        ]  # fmt: skip

    def start(self, timeout_s: float = 10.0) -> str:
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._log.seek(0)
            text = self._log.read().decode(errors="replace")
            m = re.search(r"char device redirected to (/dev/pts/\d+)", text)
            if m:
                self.pty = m.group(1)
                return self.pty
            if self.proc.poll() is not None:
                raise UserError(f"QEMU exited at start (code {self.proc.returncode}): {text}")
            time.sleep(0.02)
        self.close()
        raise UserError(f"QEMU did not report its UART pty within {timeout_s:.0f} s")

    def mpremote(self, *args: str, cwd: Path | None = None, timeout_s: float = 600) -> str:
        """Run mpremote against the board's pty (e.g. "mount", DIR, "exec", CODE); returns its
        standard output; a failure raises RuntimeError with what mpremote printed."""
        if self.pty is None:
            raise RuntimeError("the emulated board is not started")
        cmd = [sys.executable, "-m", "mpremote", "connect", self.pty, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout_s)
        if proc.returncode != 0:
            raise RuntimeError(
                f"mpremote {' '.join(args[:1])} on the emulated board failed "
                f"(code {proc.returncode}): {(proc.stdout + proc.stderr).strip()[-2000:]}"
            )
        return proc.stdout

    def load_romfs(self, src_dir: Path, chunk: int = 2048) -> int:
        """Put a folder on the board: `mpremote romfs build` makes a ROMFS image of it (.py
        compiled to .mpy), the raw REPL copies the image into a bytearray on the board, which
        is mounted at /rom and made the current directory, so its modules import from there
        (a .mpy in a ROMFS runs in place). Unlike `mpremote mount`, nothing waits on the host
        in the board's instruction-counted time. Returns the image's size in bytes."""
        with tempfile.TemporaryDirectory(prefix="softland-romfs-") as tmp:
            image = Path(tmp) / "romfs.img"
            proc = subprocess.run(
                [sys.executable, "-m", "mpremote", "romfs", "-o", str(image), "build",
                 str(src_dir)],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            if proc.returncode != 0 or not image.is_file():
                raise RuntimeError(f"mpremote romfs build failed: {proc.stdout}{proc.stderr}")
            data = image.read_bytes()
        t = self.transport()
        t.exec(f"import vfs, os, sys\n_rom = bytearray({len(data)})")
        for off in range(0, len(data), chunk):
            part = data[off : off + chunk]
            t.exec(f"_rom[{off}:{off + len(part)}] = {part!r}")
        t.exec("vfs.mount(vfs.VfsRom(_rom), '/rom')\nos.chdir('/rom')\nsys.path.insert(0, '/rom')")
        return len(data)

    def transport(self):  # mpremote.transport_serial.SerialTransport, in raw REPL
        if self._transport is None:
            from mpremote.transport_serial import SerialTransport

            if self.pty is None:
                raise RuntimeError("the emulated board is not started")
            self._transport = SerialTransport(self.pty, baudrate=115200)
            self._transport.enter_raw_repl(soft_reset=False)
        return self._transport

    def exec(self, code: str, timeout_s: float = 600) -> str:
        """Run code on the board through the raw REPL; its output, or RuntimeError with the
        board's traceback."""
        from mpremote.transport import TransportError

        t = self.transport()
        t.serial.timeout = timeout_s
        try:
            ret, err = t.exec_raw(code, timeout=timeout_s)
        except TransportError as exc:
            raise RuntimeError(f"the emulated board did not answer: {exc}") from None
        if err:
            raise RuntimeError(f"on the emulated board: {err.decode(errors='replace').strip()}")
        return ret.decode(errors="replace")

    def close(self) -> None:
        if self._transport is not None:
            try:
                self._transport.close()
            except Exception:  # the board may be gone already: nothing left to close
                pass
            self._transport = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self._log.close()
