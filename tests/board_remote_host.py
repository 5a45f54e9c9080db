"""The host's end of board mode inside MicroPython: the firmware's board loop runs in the
MicroPython unix port (over its stdin/stdout) or on the emulated Cortex-M0 (over its UART's
pty) with tests/board_remote/remote_machine.py as its `machine`, and this host answers that
stand-in: its I2C with the register-level LIDAR-Lite and LSM6DSOX emulators, its sleeps by
advancing the world (the earth-hopper's dynamics, sub-stepped on the PWM pulse the board
reported), its compute time (measured on the board's own clock, when asked) likewise. The
protocol is described at the top of remote_machine.py. The board's TELEM/EVENT/ACK frames share
the stream; the host splits frames by type (each sender numbers its own frames, so no SEQ
check here, the CRC is checked).

HopperHost.fly() flies the earth-hopper as tests/test_board_hopper.py does under CPython:
parameters uploaded, the switch closed, 20 ticks, ARM (no override: the IMU is on the bus),
START, until 5 s after the first ground contact (or 60 s of flight)."""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from board_stand_in import CONFIG as STAND_IN_CONFIG
from board_stand_in import T0_US

from softland.boards.firmware import firmware_dir, fsw_module, param_ids
from softland.boards.hostlink import HostLink
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C
from softland.devices.lsm6dsox import Lsm6dsoxEmulator
from softland.simulation.dynamics import Dynamics
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import firmware_parameters, scenario_dynamics

REMOTE_DIR = Path(__file__).resolve().parent / "board_remote"
T_REQ, T_REP = 0x90, 0x10
OP_HELLO, OP_SLEEP, OP_I2C, OP_PWM, OP_WDT, OP_FEED, OP_DONE = range(1, 8)
STOP = 0x80
MASK = (1 << 30) - 1
CONS_MAX = 64  # console bytes in one answer at most
# the stand-in board's configuration (tests/board_stand_in.py), with a watchdog a real board
# would give it and the LSM6DSOX on the bus
CONFIG: dict[str, Any] = {
    **STAND_IN_CONFIG,
    "arm_closed": 0,
    "wdt_ms": 1000,
    "imu": "lsm6dsox",
    "imu_addr": 0x6A,
}
AFTER_CONTACT_S = 5.0
FLIGHT_MAX_S = 60.0


class World:
    """The host's clock (what the emulators run on) and the dynamics behind it: time advanced
    by the board's sleeps, its compute time and the bus is owed to the dynamics and paid
    (sub-stepped, ~1 ms a substep, at the pulse in force) before a sensor is read or the pulse
    changes. Before `flying` the vehicle is held at its handover state, as SIL does."""

    def __init__(self, dyn: Dynamics, start_us: int) -> None:
        self.dyn = dyn
        self.now_us = start_us
        self.owed_us = 0
        self.throttle = 0.0
        self.flying = False
        self.wdt_us = 0
        self.last_feed_us = start_us
        self.bites = 0

    @property
    def now_s(self) -> float:
        return self.now_us / 1e6

    def advance_us(self, n: int) -> None:
        if n < 0:
            raise ValueError("the clock cannot go back")
        self.now_us += n
        if self.flying:
            self.owed_us += n
        if self.wdt_us and self.now_us - self.last_feed_us > self.wdt_us:
            self.bites += 1  # a real board would reset here; counted, the run goes on
            self.last_feed_us = self.now_us

    def advance_to_us(self, t_us: int) -> None:
        if t_us > self.now_us:
            self.advance_us(t_us - self.now_us)

    def sync(self) -> None:
        n = self.owed_us
        if n > 0:
            self.owed_us = 0
            self.dyn.substeps = max(1, n // 1000)
            self.dyn.step(self.throttle, n / 1e6)


def split_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Complete, CRC-good frames at the front of buf (removed from it), as (type, payload);
    bytes that are no frame (the raw REPL's text, a traceback) are skipped."""
    out = []
    while True:
        i = buf.find(b"\xa5\x5a")
        if i < 0:
            del buf[: max(0, len(buf) - 1)]
            return out
        del buf[:i]
        if len(buf) < 5:
            return out
        n = buf[2]
        end = 5 + n + 5
        if n > 120:
            del buf[:1]
            continue
        if len(buf) < end:
            return out
        crc = int.from_bytes(buf[end - 4 : end], "little")
        if zlib.crc32(bytes(buf[2 : end - 4])) != crc:
            del buf[:1]
            continue
        out.append((buf[3], bytes(buf[5 : 5 + n])))
        del buf[:end]


@dataclass
class HopResult:
    runtime: str
    outcome: str = ""
    arm_ack: dict[str, int] = field(default_factory=dict)
    touchdown_mps: float | None = None
    contact_t_s: float | None = None
    terminal_t_s: float | None = None  # dynamics time of the first TERMINAL telemetry
    landed_t_s: float | None = None  # ... of the first LANDED telemetry
    throttle_after_landed: list[float] = field(default_factory=list)
    ticks: int = 0  # TELEM frames (ticks run) from START to the end
    ticks_to_landed: int | None = None  # ... from START to the first LANDED one
    overruns: int = -1  # the board loop's count (OP_DONE)
    skipped: int = -1
    feeds: int = -1
    faults: int = -1
    final_mode: int = -1
    late_us: list[int] = field(default_factory=list)  # EV_LATE args
    wdt_bites: int = 0
    final_pulse_us: int = 0
    requests: int = 0
    compute_us: list[int] = field(default_factory=list)  # board compute time, each tick
    wall_s: float = 0.0
    telemetry: list[dict[str, int]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


class HopperHost:
    """Answers the stand-in over a byte stream (write(bytes), read(timeout) -> bytes) and flies
    the earth-hopper; fly() returns a HopResult."""

    def __init__(
        self, write: Callable[[bytes], Any], read: Callable[[float], bytes], runtime: str
    ) -> None:
        self.write = write
        self.read = read
        self.s = load_scenario("earth-hopper")
        self.dyn = scenario_dynamics(self.s)
        self.world = World(self.dyn, T0_US)
        sensor_m = self.s.vehicle.sensor_height_m
        bias = self.s.imu.bias_mps2
        dyn = self.dyn
        self.lidar = LidarLiteEmulator(self.world, np.random.default_rng(1), variant="v3")
        self.lidar._target = lambda _t: (dyn.height_above_ground_m() + sensor_m, 0.7)
        self.imu = Lsm6dsoxEmulator(
            self.world, np.random.default_rng(2), force=lambda _t: dyn.specific_force_mps2() + bias
        )
        bus = EmulatedI2C(self.world, [self.lidar, self.imu], frequency=400_000, timeout_us=2000)
        self.i2c = MachineI2C(bus)
        self.host = HostLink()
        self.link = fsw_module("link")
        self.flight = fsw_module("flight")
        self.app = fsw_module("app")
        self._enc = self.link.Encoder()
        self.console = bytearray()
        self.pins = 1 << CONFIG["arm_pin"]  # the switch open (pulled up; closed is 0)
        self.stop = False
        self.done = False
        self.r = HopResult(runtime)
        self._phase = "params"
        self._tel = 0
        self._compute = 0
        self._start_tel = 0

    # ---- answers
    def _answer(self, status: int, data: bytes = b"", room: int = 0) -> None:
        k = min(room, CONS_MAX, len(self.console))
        cons = bytes(self.console[:k])
        del self.console[:k]
        if self.stop:
            status |= STOP
        payload = bytearray([status])
        payload += (self.world.now_us & MASK).to_bytes(4, "little")
        payload += self.pins.to_bytes(4, "little")
        payload += bytes([k]) + cons + bytes([len(data)]) + data
        frame = bytearray(len(payload) + self.link.OVERHEAD)
        frame[5 : 5 + len(payload)] = payload
        n = self._enc.finish(frame, T_REP, len(payload))
        self.write(bytes(frame[:n]))

    def _i2c(self, p: bytes) -> tuple[int, bytes]:
        kind, addr, reg, rlen, wlen = p[0], p[1], p[2], p[3], p[4]
        w = p[5 : 5 + wlen]
        self.world.sync()
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
        elapsed = int.from_bytes(p[1:5], "little", signed=True)
        room = p[5]
        args = p[6:]
        w = self.world
        self.r.requests += 1
        self._compute += max(0, elapsed)
        w.advance_us(max(0, elapsed))
        if op == OP_HELLO:
            self._answer(0, room=room)
        elif op == OP_SLEEP:
            w.advance_us(int.from_bytes(args[:4], "little", signed=True))
            self._answer(0, room=room)
        elif op == OP_I2C:
            status, data = self._i2c(args)
            self._answer(status, data, room)
        elif op == OP_PWM:
            w.sync()
            us = int.from_bytes(args[:4], "little", signed=True) // 1000
            lo, hi = CONFIG["pwm_min_us"], CONFIG["pwm_max_us"]
            w.throttle = min(1.0, max(0.0, (us - lo) / (hi - lo)))
            self.r.final_pulse_us = us
        elif op == OP_WDT:
            w.wdt_us = int.from_bytes(args[:4], "little", signed=True) * 1000
            w.last_feed_us = w.now_us
        elif op == OP_FEED:
            w.last_feed_us = w.now_us
        elif op == OP_DONE:
            r = self.r
            r.overruns, r.skipped, r.feeds, r.faults = (
                int.from_bytes(args[i : i + 4], "little", signed=True) for i in (0, 4, 8, 12)
            )
            r.final_mode = args[16]
            self.done = True

    # ---- the flight
    def _command(self, code: int, param_id: int = 0, value: int = 0) -> None:
        self.console += self.host.command_frame(code, param_id, value)

    def _on_telem(self, t: dict[str, int]) -> None:
        r = self.r
        self._tel += 1
        compute, self._compute = self._compute, 0  # since the previous TELEM
        fl = self.flight
        if self._phase == "params" and self._tel >= 20:
            self._phase = "arm"
            self._command(self.app.C_ARM, 0, 0)
        if self._phase == "flying":
            r.ticks += 1
            r.compute_us.append(compute)
            ts = self.dyn.state.t_s
            span = CONFIG["pwm_max_us"] - CONFIG["pwm_min_us"]
            if r.landed_t_s is not None:
                r.throttle_after_landed.append(
                    (self.r.final_pulse_us - CONFIG["pwm_min_us"]) / span
                )
            if t["mode"] == fl.TERMINAL and r.terminal_t_s is None:
                r.terminal_t_s = ts
            if t["mode"] == fl.LANDED and r.landed_t_s is None:
                r.landed_t_s = ts
                r.ticks_to_landed = r.ticks
            c = self.dyn.first_contact
            if (c is not None and ts > c.t_s + AFTER_CONTACT_S) or ts > FLIGHT_MAX_S:
                self.stop = True

    def _on_ack(self, a: dict[str, int]) -> None:
        if self._phase == "arm" and a["mode"] == self.flight.ARMED:
            self.r.arm_ack = a
            self._phase = "start"
            self._command(self.app.C_START)
        elif self._phase == "start" and a["mode"] == self.flight.DESCENT:
            self._phase = "flying"
            self.world.flying = True

    def fly(self, timeout_s: float = 600.0) -> HopResult:
        ids = param_ids()
        for name, value in firmware_parameters(self.s).items():
            self._command(self.app.C_SET_PARAM, ids[name], value)
        self.pins = 0  # the switch closed (arm_closed 0)
        lk = self.link
        buf = bytearray()
        t0 = time.monotonic()
        quiet_since = t0
        while not self.done:
            chunk = self.read(0.5)
            now = time.monotonic()
            if now - t0 > timeout_s:
                raise RuntimeError(f"the board flight took longer than {timeout_s:.0f} s")
            if not chunk:
                if now - quiet_since > 30:
                    raise RuntimeError(f"the board went quiet; it said {bytes(buf[-300:])!r}")
                continue
            quiet_since = now
            buf += chunk
            for ftype, payload in split_frames(buf):
                if ftype == T_REQ:
                    self._request(payload)
                elif ftype == lk.T_TELEM:
                    t = self.host.decode_telemetry(payload)
                    self.r.telemetry.append(t)
                    self._on_telem(t)
                elif ftype == lk.T_EVENT:
                    e = self.host.decode_event(payload)
                    self.r.events.append(e)
                    if e["code"] == 16:  # hal.board_loop.EV_LATE
                        self.r.late_us.append(e["arg"])
                elif ftype == lk.T_ACK:
                    self._on_ack(self.host.decode_ack(payload))
        r = self.r
        r.wall_s = time.monotonic() - t0
        r.wdt_bites = self.world.bites
        c = self.dyn.first_contact
        if c is not None:
            r.touchdown_mps = c.speed_mps
            r.contact_t_s = c.t_s
        ok = c is not None and c.speed_mps < self.s.criteria.max_touchdown_speed_mps
        r.outcome = (
            ("landed" if r.landed_t_s is not None else "touched down, no LANDED")
            if ok
            else ("crashed" if c is not None else "no touchdown")
        )
        return r


def config_literal(cfg: dict[str, Any]) -> str:
    return repr(cfg)


# ---- the unix port


def fly_unix(
    binary: str,
    board_clock: bool = False,
    timeout_s: float = 300.0,
    tap: Callable[[bytes], Any] | None = None,
) -> HopResult:
    """The board loop in `micropython` (the firmware and the stand-in on MICROPYPATH); tap,
    when given, sees every byte the board writes, as read."""
    env = {
        **os.environ,
        "MICROPYPATH": ":".join([str(firmware_dir()), str(REMOTE_DIR), ".frozen"]),
    }
    code = (
        "import remote_machine\n"
        f"remote_machine.main({config_literal(CONFIG)}, {bool(board_clock)})\n"
    )
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [binary, "-c", code],
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
            if tap is not None:
                tap(chunk)
            return chunk

        host = HopperHost(proc.stdin.write, read, "unix port (64-bit)")
        try:
            return host.fly(timeout_s)
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()


# ---- the emulated Cortex-M0


def fly_emulated(clock_mhz: int, timeout_s: float = 600.0) -> HopResult:
    """The board loop on the emulated Cortex-M0: the firmware (fsw/, hal/) and the stand-in as
    ROMFS in its flash (EmulatedBoard.load_romfs), main() started through the raw REPL, the
    host on its UART's pty (pyserial). The compute time is the board's instruction time."""
    import shutil

    from softland.boards.emuboard import EmulatedBoard

    with EmulatedBoard(clock_mhz=clock_mhz) as board, tempfile.TemporaryDirectory() as tmp:
        for package in ("fsw", "hal"):
            shutil.copytree(
                firmware_dir() / package,
                Path(tmp) / package,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        shutil.copy(REMOTE_DIR / "remote_machine.py", Path(tmp) / "remote_machine.py")
        board.load_romfs(Path(tmp))
        board.exec("import remote_machine", 300)
        t = board.transport()
        t.exec_raw_no_follow(f"remote_machine.main({config_literal(CONFIG)}, True)")
        port = t.serial

        def read(timeout: float) -> bytes:
            port.timeout = timeout
            first = port.read(1)
            if not first:
                return b""
            return first + port.read(port.in_waiting)

        host = HopperHost(port.write, read, f"emulated Cortex-M0, {clock_mhz} MHz")
        return host.fly(timeout_s)
