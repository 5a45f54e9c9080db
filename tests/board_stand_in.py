"""A board in board mode without hardware, under CPython: the firmware's board HAL and loop
(hal/machine_board.py, hal/board_loop.py) on the `machine` stand-in of tests/board_standin/,
with the host's register-level LIDAR-Lite emulator (and, when asked, the LSM6DSOX emulator
beside it) answering the I2C bus on the stand-in's virtual clock, and a host on the console
(HostLink frames in, frames out)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from softland.boards.firmware import fsw_module
from softland.boards.firmware import hal_module as firmware_hal_module
from softland.boards.hostlink import Frame, HostLink
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C
from softland.devices.lsm6dsox import G0, Lsm6dsoxEmulator

STANDIN_DIR = Path(__file__).resolve().parent / "board_standin"
# start 2 s before the 2^30 wrap of ticks_us: a run of 100 ticks or more crosses it
T0_US = (1 << 30) - 2_000_000

CONFIG: dict[str, Any] = {
    "mode": "board",
    "hal": "machine",
    "i2c_id": 0,
    "i2c_scl": 5,
    "i2c_sda": 4,
    "i2c_freq": 400_000,
    "i2c_timeout_us": 2000,
    "loop_hz": 50,
    "pwm_pin": 15,
    "pwm_min_us": 1000,
    "pwm_max_us": 2000,
    "arm_pin": 14,
    "led_pin": 25,
    "wdt_ms": 200,
    "backup": "none",
}
PERIOD_US = 20_000


def standin_machine() -> ModuleType:
    """The stand-in `machine` module (tests/board_standin/machine.py)."""
    if str(STANDIN_DIR) not in sys.path:
        sys.path.insert(0, str(STANDIN_DIR))
    return importlib.import_module("machine")


def hal_module(name: str) -> ModuleType:
    """Firmware module `hal.<name>`, imported as fsw_module imports `fsw.<name>`."""
    return firmware_hal_module(name)


class HostInput:
    """The console as the board sees it: bytes the host sent, read without waiting."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def readinto(self, buf: bytearray, n: int) -> int:
        k = min(n, len(self.pending))
        buf[:k] = self.pending[:k]
        del self.pending[:k]
        return k


class HostOutput:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, buf: bytes) -> int:
        self.data += buf
        return len(buf)


def at_rest(_t_s: float) -> float:
    """An accelerometer standing on the ground: +1 g up."""
    return G0


class BoardRig:
    """One board: the stand-in machine reset, a LIDAR-Lite emulator at `target_m` (or
    `target`: time s -> (distance m, reflectance)), the board built from `config`, the app
    and its loop. `force` (time s -> vertical specific force, m/s^2): an LSM6DSOX emulator at
    0x6A on the same bus, z up, and the board configured with it ("imu": "lsm6dsox"); None:
    no accelerometer, as the board configuration's default."""

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        target_m: float = 2.0,
        start_us: int = T0_US,
        emulator: bool = True,
        target: Callable[[float], tuple[float, float]] | None = None,
        force: Callable[[float], float] | None = None,
    ) -> None:
        self.machine = standin_machine()
        self.clock = self.machine.reset(start_us)
        self.imu: Lsm6dsoxEmulator | None = None
        if emulator:
            self.lidar = LidarLiteEmulator(self.clock, np.random.default_rng(1), variant="v3")
            if target is None:
                self.lidar.set_target(target_m)
            else:
                self.lidar._target = target  # (distance m, reflectance) at time s
            devices: list[Any] = [self.lidar]
            if force is not None:
                self.imu = Lsm6dsoxEmulator(self.clock, np.random.default_rng(2), force=force)
                devices.append(self.imu)  # at 0x6A, beside the LIDAR-Lite at 0x62
            bus = EmulatedI2C(self.clock, devices, frequency=400_000, timeout_us=2000)
            self.machine.I2C.backend = MachineI2C(bus)
        mb = hal_module("machine_board")
        loop_mod = hal_module("board_loop")
        app_mod = fsw_module("app")
        imu_config = {} if force is None else {"imu": "lsm6dsox", "imu_addr": 0x6A}
        self.cfg = mb.config({**CONFIG, **imu_config, **(config or {})})
        self.board = mb.MachineBoard(self.cfg, self.machine, self.clock)
        self.inp, self.out = HostInput(), HostOutput()
        self.app = app_mod.App(self.out, None, self.board.backup, self.board.i2c)
        self.loop = loop_mod.BoardLoop(self.board, self.app, self.inp)
        self.host = HostLink()
        self.frames: list[Frame] = []
        self.pwm = self.board.esc._pwm
        self.pwm.log = []

    # ---- the world around the board
    def close_switch(self) -> None:
        self.machine.set_level(self.cfg["arm_pin"], self.cfg["arm_closed"])

    def open_switch(self) -> None:
        self.machine.set_level(self.cfg["arm_pin"], 1 - self.cfg["arm_closed"])

    def send(self, code: int, param_id: int = 0, value: int = 0) -> None:
        self.inp.pending += self.host.command_frame(code, param_id, value)

    def run(self, n: int) -> list[Frame]:
        """n ticks of the loop; the frames the board sent meanwhile."""
        self.loop.run(n)
        return self.received()

    def received(self) -> list[Frame]:
        frames = self.host.feed(bytes(self.out.data))
        self.out.data.clear()
        self.frames += frames
        return frames

    # ---- what the board said
    def telemetry(self, frames: list[Frame] | None = None) -> list[dict[str, int]]:
        link = fsw_module("link")
        return [
            self.host.decode_telemetry(f.payload)
            for f in (self.frames if frames is None else frames)
            if f.ftype == link.T_TELEM
        ]

    def events(self, frames: list[Frame] | None = None) -> list[dict[str, Any]]:
        link = fsw_module("link")
        return [
            self.host.decode_event(f.payload)
            for f in (self.frames if frames is None else frames)
            if f.ftype == link.T_EVENT
        ]

    def acks(self, frames: list[Frame] | None = None) -> list[dict[str, int]]:
        link = fsw_module("link")
        return [
            self.host.decode_ack(f.payload)
            for f in (self.frames if frames is None else frames)
            if f.ftype == link.T_ACK
        ]

    def flying(self) -> None:
        """Switch closed, sensors read, ARM (override when no accelerometer), START:
        DESCENT."""
        app = fsw_module("app")
        self.close_switch()
        self.run(10)
        self.send(app.C_ARM, 0, app.ARM_OVERRIDE if self.imu is None else 0)
        self.run(1)
        self.send(app.C_START)
        self.run(1)
        assert self.app.flight.mode == fsw_module("flight").DESCENT


# ---- what the board-mode tests measure (machine and CircuitPython HALs alike)
TICKS_MASK = 0x3FFFFFFF


def tick_gaps(times: list[int]) -> list[int]:
    """The intervals between successive tick times, across the 2^30 wrap."""
    return [(b - a) & TICKS_MASK for a, b in pairwise(times)]


def slow_flight(rig: Any, extra_us: Callable[[int], int]) -> None:
    """The flight's tick of rig (a BoardRig or CpBoardRig) takes extra_us(tick number) of
    board time."""
    tick = rig.app.flight.tick

    def slow(*args: int) -> None:
        tick(*args)
        rig.clock.advance_us(extra_us(rig.app.flight.ticks))

    rig.app.flight.tick = slow


def esc_pulse(config: dict[str, Any], throttle_q15: int) -> int:
    """The ESC pulse (us) the board writes for a throttle, as its HAL computes it."""
    span = config["pwm_max_us"] - config["pwm_min_us"]
    return config["pwm_min_us"] + throttle_q15 * span // 32767
