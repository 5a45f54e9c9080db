"""A CircuitPython board in board mode without hardware, under CPython: the firmware's
CircuitPython HAL and the board loop (hal/cp_board.py, hal/board_loop.py) on the stand-in
modules of tests/cp_standin/, with the host's register-level LIDAR-Lite emulator (and, when
asked, the LSM6DSOX emulator) on the stand-in busio.I2C, on the stand-in's virtual clock, and
a host on the console (HostLink frames in, frames out). The same members as
board_stand_in.BoardRig, so the tests read alike."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import cp_standin
import numpy as np
from board_stand_in import BoardRig, HostInput, HostOutput, hal_module
from cp_standin import state

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import HostLink
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator
from softland.devices.lsm6dsox import Lsm6dsoxEmulator

# the Feather wiring of docs/board-feather.md, as board_config.py spells it
CONFIG: dict[str, Any] = {
    "mode": "board",
    "hal": "circuitpython",
    "i2c_scl": "SCL",
    "i2c_sda": "SDA",
    "i2c_freq": 400_000,
    "i2c_timeout_us": 2000,
    "loop_hz": 50,
    "pwm_pin": "D5",
    "pwm_hz": 50,
    "pwm_min_us": 1000,
    "pwm_max_us": 2000,
    "arm_pin": "D6",
    "arm_closed": 0,
    "led_pin": "LED",
    "wdt_ms": 200,
    "backup": "none",
}
PERIOD_US = 20_000
# supervisor.ticks_ms 1 s before its 2^29 ms wrap
MS_WRAP_START_US = ((1 << 29) - 1000) * 1000
# the HAL's microsecond count ((ticks_ms mod 1073741) x 1000 at boot) 2 s before its 2^30
# wrap
US_WRAP_START_US = ((1 << 30) // 1000 - 2000) * 1000


class CpBoardRig(BoardRig):
    """One CircuitPython board: the stand-in modules freshly booted, a LIDAR-Lite emulator at
    `target_m` (or `target`: time s -> (distance m, reflectance)), with `force` an LSM6DSOX
    emulator beside it (and "imu": "lsm6dsox"), the board built from CONFIG updated with
    `config`, the app and its loop."""

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        target_m: float = 2.0,
        start_us: int = US_WRAP_START_US,
        emulator: bool = True,
        target: Callable[[float], tuple[float, float]] | None = None,
        force: Callable[[float], float] | None = None,
    ) -> None:
        self.mods = cp_standin.modules(start_us)
        self.clock = state.clock
        self.imu: Lsm6dsoxEmulator | None = None
        if emulator:
            self.lidar = LidarLiteEmulator(self.clock, np.random.default_rng(1), variant="v3")
            if target is None:
                self.lidar.set_target(target_m)
            else:
                self.lidar._target = target
            devices: list[Any] = [self.lidar]
            if force is not None:
                self.imu = Lsm6dsoxEmulator(self.clock, np.random.default_rng(2), force=force)
                devices.append(self.imu)
            self.mods.busio.I2C.backend = EmulatedI2C(
                self.clock, devices, frequency=400_000, timeout_us=2000
            )
        else:
            self.mods.busio.I2C.no_pullups = True
        cp = cp_module()
        loop_mod = hal_module("board_loop")
        app_mod = fsw_module("app")
        imu_config = {} if force is None else {"imu": "lsm6dsox", "imu_addr": 0x6A}
        self.cfg = cp.config({**CONFIG, **imu_config, **(config or {})})
        self.board = cp.CircuitPythonBoard(self.cfg, self.mods)
        self.inp, self.out = HostInput(), HostOutput()
        self.app = app_mod.App(self.out, None, self.board.backup, self.board.i2c)
        self.loop = loop_mod.BoardLoop(self.board, self.app, self.inp)
        self.host = HostLink()
        self.frames = []
        self.pwm = self.board.esc._pwm
        self.pwm.log = []

    @property
    def machine(self) -> ModuleType:  # what BoardRig's users reach for: the stand-in state
        return state  # type: ignore[return-value]

    def close_switch(self) -> None:
        state.set_level(self.cfg["arm_pin"], bool(self.cfg["arm_closed"]))

    def open_switch(self) -> None:
        state.set_level(self.cfg["arm_pin"], not self.cfg["arm_closed"])


def cp_module() -> ModuleType:
    """Firmware module hal.cp_board."""
    return hal_module("cp_board")
