"""The drop app (firmware/drop.py) inside MicroPython, on the unix port (stdin/stdout) or on the
emulated Cortex-M0 (its UART), with tests/board_remote/remote_machine.py as its `machine`: every
I2C transaction goes to this host, where the register-level LIDAR-Lite emulator watches a free
fall on the host's virtual clock, and the release switch (pin RELEASE_PIN) reads 1 from the
fall's start. The app's own dump frames share the stream with the stand-in's requests; they are
split by type and decoded as `softland drop capture --port` decodes a board's."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from softland.boards.firmware import firmware_dir, fsw_module
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C, VirtualClock
from softland.drop.capture import DropCapture
from softland.drop.emulate import START_US, DropRig
from softland.drop.wire import DropAssembler, split_frames

REMOTE_DIR = Path(__file__).resolve().parent / "board_remote"
T_REQ, T_REP = 0x90, 0x10
OP_HELLO, OP_SLEEP, OP_I2C, OP_DONE = 1, 2, 3, 7
MASK = (1 << 30) - 1
RELEASE_PIN = 7


def script(samples: int, board_clock: bool = False) -> str:
    """What the board runs: the stand-in link up, then the drop app as on a board. With
    board_clock the board's own compute time (its ticks_us) is added to the host's clock."""
    return (
        "import sys\n"
        "try:\n"
        "    import micropython\n"
        "    micropython.kbd_intr(-1)\n"
        "except (ImportError, AttributeError):\n"
        "    pass\n"
        "import remote_machine as rm\n"
        f"rm._link = rm.Link(sys.stdin.buffer, sys.stdout.buffer, {bool(board_clock)})\n"
        "rm._link.call(rm.OP_HELLO)\n"
        "import drop\n"
        f"pin = rm.Pin({RELEASE_PIN}, rm.Pin.IN)\n"
        f"s = drop.DropSampler(rm.I2C(0), rm.Clock.ticks_us, {samples}, release_pin=pin,\n"
        "                      released=1, i2c_hz=400000)\n"
        "s.probe()\n"
        "s.run()\n"
        "s.dump(sys.stdout.buffer.write)\n"
        "rm._link.post(rm.OP_DONE, 17)\n"
    )


class DropHost:
    """Answers the stand-in's requests with the emulator and collects the drop dump."""

    def __init__(
        self, write: Callable[[bytes], Any], read: Callable[[float], bytes], rig: DropRig
    ) -> None:
        self.write = write
        self.read = read
        self.fall = rig.fall()
        self.clock = VirtualClock(START_US)
        self.sensor = LidarLiteEmulator(
            self.clock,
            np.random.default_rng(7),
            variant=rig.variant,
            target=self.fall,
            noise_sigma_cm=rig.noise_sigma_cm,
        )
        self.i2c = MachineI2C(EmulatedI2C(self.clock, [self.sensor], frequency=rig.i2c_hz))
        self._enc = fsw_module("link").Encoder()
        self.requests = 0
        self.done = False

    def _answer(self, status: int, data: bytes = b"") -> None:
        released = self.clock.now_us >= round(self.fall.t0_s * 1e6)
        pins = (1 << RELEASE_PIN) if released else 0
        payload = bytearray([status])
        payload += (self.clock.now_us & MASK).to_bytes(4, "little")
        payload += pins.to_bytes(4, "little")
        payload += bytes([0, len(data)]) + data
        frame = bytearray(len(payload) + 10)
        frame[5 : 5 + len(payload)] = payload
        n = self._enc.finish(frame, T_REP, len(payload))
        self.write(bytes(frame[:n]))

    def _i2c(self, p: bytes) -> tuple[int, bytes]:
        kind, addr, reg, rlen, wlen = p[0], p[1], p[2], p[3], p[4]
        w = p[5 : 5 + wlen]
        try:
            if kind == 0:
                return 0, bytes([self.i2c.writeto(addr, w) & 0xFF])
            buf = bytearray(rlen)
            if kind == 1:
                self.i2c.readfrom_into(addr, buf)
            elif kind == 2:
                self.i2c.writeto_mem(addr, reg, w)
            else:
                self.i2c.readfrom_mem_into(addr, reg, buf)
            return 0, bytes(buf)
        except OSError as exc:
            return (exc.errno or 5) & 0x7F, b""

    def _request(self, p: bytes) -> None:
        op = p[0]
        self.requests += 1
        elapsed = int.from_bytes(p[1:5], "little", signed=True)
        self.clock.advance_us(max(0, elapsed))  # the board's own compute time, if measured
        args = p[6:]
        if op == OP_HELLO:
            self._answer(0)
        elif op == OP_SLEEP:
            self.clock.advance_us(int.from_bytes(args[:4], "little", signed=True))
            self._answer(0)
        elif op == OP_I2C:
            self._answer(*self._i2c(args))
        elif op == OP_DONE:
            self.done = True

    def run(self, source: str, timeout_s: float = 300.0) -> DropCapture:
        import time

        asm = DropAssembler(source)
        buf = bytearray()
        t0 = time.monotonic()
        while not self.done:
            if time.monotonic() - t0 > timeout_s:
                raise RuntimeError(f"no drop dump within {timeout_s:.0f} s")
            chunk = self.read(0.5)
            if not chunk:
                continue
            buf += chunk
            for ftype, payload in split_frames(buf):
                if ftype == T_REQ:
                    self._request(payload)
                else:
                    asm.feed(ftype, payload)
        return asm.capture()


def drop_unix(binary: str, rig: DropRig, timeout_s: float = 300.0) -> DropCapture:
    env = {**os.environ, "MICROPYPATH": ":".join([str(firmware_dir()), str(REMOTE_DIR)])}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [binary, "-c", script(rig.samples)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            bufsize=0,
        )
        assert proc.stdin is not None and proc.stdout is not None
        fd = proc.stdout.fileno()

        def read(timeout: float) -> bytes:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return b""
            chunk = os.read(fd, 65536)
            if not chunk:
                err.seek(0)
                raise RuntimeError(f"micropython exited: {err.read().decode(errors='replace')}")
            return chunk

        host = DropHost(proc.stdin.write, read, rig)
        try:
            return host.run("unix port", timeout_s)
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def drop_emulated(rig: DropRig, clock_mhz: int = 125, timeout_s: float = 600.0) -> DropCapture:
    """The drop app on the emulated Cortex-M0 (drop.py, fsw/ and the stand-in in its ROMFS),
    its compute time (instruction time at ``clock_mhz``) on the host's clock."""
    from softland.boards.emuboard import EmulatedBoard

    with EmulatedBoard(clock_mhz=clock_mhz) as board, tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            firmware_dir() / "fsw",
            Path(tmp) / "fsw",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        shutil.copy(firmware_dir() / "drop.py", Path(tmp) / "drop.py")
        shutil.copy(REMOTE_DIR / "remote_machine.py", Path(tmp) / "remote_machine.py")
        board.load_romfs(Path(tmp))
        board.exec("import remote_machine, drop", 300)
        t = board.transport()
        t.exec_raw_no_follow(script(rig.samples, board_clock=True))
        port = t.serial

        def read(timeout: float) -> bytes:
            port.timeout = timeout
            first = port.read(1)
            if not first:
                return b""
            return first + port.read(port.in_waiting)

        return DropHost(port.write, read, rig).run("emulated Cortex-M0", timeout_s)
