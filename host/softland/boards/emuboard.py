"""The emulated microcontroller: MicroPython 1.28 on QEMU's `microbit` machine (a Cortex-M0,
SRAM raised to 256 KB), its UART on a pty. With `-icount shift=S` every instruction advances
the board's clock by 2^S ns, so `time.ticks_us()` on the board is instruction time: shift 6 is
a ~16 MHz core (15.6 M instructions/s), shift 3 a ~125 MHz one.

Found through settings, in this order: an explicit path, $SOFTLAND_PIL_FIRMWARE, the image in
a `shared/pil/` folder beside the checkout; QEMU as $SOFTLAND_QEMU or `qemu-system-arm` on
PATH. A missing QEMU or image is a UserError that says which and how to get it.

`EmulatedBoard.start_link()` puts the firmware on the board and leaves it serving the link on
its UART: the fsw/ and hal/ modules go on the board as one ROMFS image of .mpy files
(`load_romfs`: the board has no other filesystem), are imported from there, and
`hal.stdio_link.serve()` starts with the heap locked. The raw REPL's serial connection is
then the link.
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

import serial

from softland.boards.firmware import firmware_dir, fsw_module
from softland.errors import UserError

IMAGE_NAME = "micropython-1.28.0-qemu-microbit.elf"
UNIX32_NAME = "micropython-1.28.0-unix-x86-32bit"
# where a ROMFS image goes in the emulated flash (1 MB; the MicroPython image takes ~350 KB)
ROMFS_ADDR = 0x80000
ROMFS_MAX = 0x80000
# -icount shift per emulated core clock: one instruction per 2^shift ns
SHIFT_FOR_MHZ = {16: 6, 125: 3}
# the firmware packages the link needs on the board
LINK_PACKAGES = ("fsw", "hal")
# hal.stdio_link.serve(wait_ms=): the longest a board read waits for a byte, board clock.
# firmware/main.py uses 250 ms on a real board. The emulated board's clock counts
# instructions, and a board polling its UART runs ~15-30x faster than the wall clock (5 s of
# board time in 0.2-0.3 s), so 250 ms there is ~10 ms of a host's time: a host simulation
# answering I2C would see spurious timeouts. 2 s of board time is ~0.1 s of wall time.
EMULATED_WAIT_MS = 2000


def shared_pil_dirs() -> list[Path]:
    """`shared/pil/` folders where the 32-bit runtimes may lie: beside the checkout (CI's
    layout: main/ and shared/ side by side) and beside its parent."""
    repo = Path(__file__).resolve().parents[3]
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
        self._transport = None
        self._romfs: tempfile.TemporaryDirectory[str] | None = None
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
        ] + self._romfs_device()  # fmt: skip

    def _romfs_device(self) -> list[str]:
        if self._romfs is None:
            return []
        image = Path(self._romfs.name) / "romfs.img"
        return ["-device", f"loader,file={image},addr={ROMFS_ADDR:#x},force-raw=on"]

    def start(self, timeout_s: float = 10.0) -> str:
        # one QEMU per board object: a start() on a running board (a `with` block already
        # started it) replaces that QEMU instead of leaving it running unowned
        self._stop()
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
        """Put the firmware (fsw/ and hal/ of `firmware`, default the checkout's) on the board
        with load_romfs and start `hal.stdio_link.serve()` on its UART, the heap locked;
        returns the open pyserial port, the link answering. The firmware has then sent one
        frame (the ACK of a PING with SEQ 255 that proves it serves), so a host numbering its
        frames from 0 is in sequence. How long each step took: `self.startup`. Once per
        board: a serving board leaves the link only when QEMU ends.

        wait_ms > 0 bounds every read (a poll per byte, hal.stdio_link.PolledInput); 0 reads
        blocking, as SIL does: several times faster per byte on the emulator (QEMU hands a
        board that waits in a poll the next UART byte late), but a host that stops mid-frame
        then holds the board until it sends again."""
        t0 = time.monotonic()
        root = firmware_dir() if firmware is None else Path(firmware)
        with tempfile.TemporaryDirectory(prefix="softland-link-") as tmp:
            for package in LINK_PACKAGES:
                shutil.copytree(
                    root / package,
                    Path(tmp) / package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            st = LinkStartup(image_bytes=self.load_romfs(Path(tmp)))
        t1 = time.monotonic()
        st.load_s = t1 - t0
        out = self.exec(_IMPORT_LINK, timeout_s)
        st.heap_free_after_import = int(out.split("FREE")[-1].split()[0])
        t2 = time.monotonic()
        st.import_s = t2 - t1
        t = self.transport()
        t.exec_raw_no_follow(
            f"serve(sys.stdin.buffer, sys.stdout.buffer, heap_lock={bool(heap_lock)}, "
            f"wait_ms={int(wait_ms)})"
        )
        port: serial.Serial = t.serial
        port.timeout = 1.0
        port.write(_ping_frame(0xFF))
        _wait_for_ack(port, timeout_s)
        st.serve_s = time.monotonic() - t2
        self.startup = st
        return port

    def load_romfs(self, src_dir: Path) -> int:
        """Put a folder on the board: `mpremote romfs build` makes a ROMFS image of it (.py
        compiled to .mpy), the board boots again with the image in its flash (QEMU's loader
        device at ROMFS_ADDR), and the image is mounted at /rom (uctypes.bytearray_at: no
        copy in the heap; a .mpy in a ROMFS runs in place) and made the current directory, so
        its modules import from there. Unlike `mpremote mount`, nothing waits on the host in
        the board's instruction-counted time; unlike a copy through the raw REPL, the heap is
        left to the firmware. Returns the image's size in bytes."""
        if self._romfs is not None:
            self._romfs.cleanup()
        self._romfs = tempfile.TemporaryDirectory(prefix="softland-romfs-")
        image = Path(self._romfs.name) / "romfs.img"
        proc = subprocess.run(
            [sys.executable, "-m", "mpremote", "romfs", "-o", str(image), "build", str(src_dir)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if proc.returncode != 0 or not image.is_file():
            raise RuntimeError(f"mpremote romfs build failed: {proc.stdout}{proc.stderr}")
        size = image.stat().st_size
        if size > ROMFS_MAX:
            raise RuntimeError(f"ROMFS image of {src_dir} is {size} bytes: above {ROMFS_MAX}")
        self._stop()
        self.start()
        self.transport().exec(
            "import uctypes, vfs, os, sys\n"
            f"vfs.mount(vfs.VfsRom(uctypes.bytearray_at({ROMFS_ADDR:#x}, {size})), '/rom')\n"
            "os.chdir('/rom')\nsys.path.insert(0, '/rom')"
        )
        return size

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

    def _stop(self) -> None:
        # QEMU ends (by PID); its log starts empty for the next start()
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
        self.pty = None
        self._log.seek(0)
        self._log.truncate()

    def close(self) -> None:
        self._stop()
        self._log.close()
        if self._romfs is not None:
            self._romfs.cleanup()
            self._romfs = None


# ---- the link on the board

_IMPORT_LINK = """\
import gc, sys
from hal.stdio_link import serve
gc.collect()
print('FREE', gc.mem_free())
"""


@dataclass
class LinkStartup:
    """How long each step of EmulatedBoard.start_link took (wall time, s)."""

    load_s: float = 0.0  # ROMFS image built (.py -> .mpy), the board booted with it in flash
    import_s: float = 0.0  # hal.stdio_link and the fsw modules it needs imported
    serve_s: float = 0.0  # serve() started and a PING answered
    image_bytes: int = 0
    heap_free_after_import: int = 0

    @property
    def total_s(self) -> float:
        return self.load_s + self.import_s + self.serve_s


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
            raise RuntimeError(f"the board does not answer on the link; it said {bytes(seen)!r}")
        chunk = port.read(max(1, port.in_waiting))
        seen += chunk
        for b in chunk:
            dec.feed(b)
