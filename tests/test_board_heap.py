"""Board mode does not allocate per tick: the board loop (hal/board_loop.py) on the `machine`
stand-in (tests/board_standin, small LIDAR-Lite and LSM6DSOX register files on its bus) runs
under micropython.heap_lock() on the unix ports, 64-bit and 32-bit, through every path: SAFE,
commands from the host, ARM (the accelerometer good: no override), descent with the ESC
following the throttle on the accelerometer, RTC persistence, a stalled loop (late tick,
skipped deadline), the IMU pulled (ENODEV at 0x6A: the thrust model) and plugged back in
(re-probe, reset, configuration), the LIDAR-Lite pulled (ENODEV on every transaction), the
arming switch opened (abort)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from softland.boards.runtimes import micropython_env

STANDIN_DIR = Path(__file__).resolve().parent / "board_standin"

_SCRIPT = """
import micropython
import machine
from fsw.app import App, C_ARM, C_START, CMD_LEN, CMD_CODE, CMD_VALUE
from fsw.flags import IMU_USED
from fsw.link import Encoder, HEADER_LEN, OVERHEAD, T_CMD, put_u8, put_i32
from hal.machine_board import MachineBoard, config
from hal.board_loop import BoardLoop

CFG = {"mode": "board", "i2c_scl": 5, "i2c_sda": 4, "pwm_pin": 15, "arm_pin": 14,
       "led_pin": 25, "wdt_ms": 500, "loop_hz": 50, "backup": "rtc", "imu": "lsm6dsox",
       "imu_addr": 0x6A, "imu_fs_g": 16, "imu_up_axis": "z", "imu_up_sign": 1}


class Sink:
    def __init__(self):
        self.frames = 0

    def write(self, buf):
        self.frames += 1
        return len(buf)


class Host:
    # the host's bytes, handed to the board up to `released`
    def __init__(self):
        self.buf = bytearray(128)
        self.n = 0
        self.pos = 0
        self.released = 0
        self.enc = Encoder()

    def command(self, code, value):
        f = bytearray(CMD_LEN + OVERHEAD)
        put_u8(f, HEADER_LEN + CMD_CODE, code)
        put_i32(f, HEADER_LEN + CMD_VALUE, value)
        k = self.enc.finish(f, T_CMD, CMD_LEN)
        for i in range(k):
            self.buf[self.n + i] = f[i]
        self.n += k
        return self.n

    def readinto(self, buf, n):
        k = self.released - self.pos
        if k > n:
            k = n
        for i in range(k):
            buf[i] = self.buf[self.pos + i]
        self.pos += k
        return k


def main():
    machine.clear_rtc()
    board = MachineBoard(config(CFG), machine, machine.clock)
    host = Host()
    arm_end = host.command(C_ARM, 0)  # no override: the accelerometer passes the preflight
    start_end = host.command(C_START, 0)
    sink = Sink()
    app = App(sink, None, board.backup, board.i2c)
    loop = BoardLoop(board, app, host)
    machine.set_level(14, 0)  # switch closed
    loop.run(1)  # first tick (starts the watchdog) before the lock
    ALLOC
    micropython.heap_lock()
    try:
        loop.run(20)
        host.released = arm_end
        loop.run(2)
        armed = app.flight.mode
        host.released = start_end
        loop.run(300)
        pulse_flying = board.esc._pwm.max_ns // 1000
        imu_used = app.flight.flags & IMU_USED
        machine.clock.advance_us(50000)  # the loop stalls: a late tick, a skipped deadline
        loop.run(20)
        bus_errors = app.lidar.errors  # a MemoryError on the bus would be a driver error
        imu_bus_errors = board.imu.errors
        board.i2c.nack_addr = 0x6A  # the IMU pulled
        loop.run(30)
        imu_pulled = board.imu.status
        imu_used_pulled = app.flight.flags & IMU_USED
        board.i2c.nack_addr = -1  # and plugged back in
        loop.run(20)
        imu_back = board.imu.status
        board.i2c.unplugged = True
        loop.run(100)
        rf_status = app.range.status
        rf_errors = app.lidar.errors
        machine.set_level(14, 1)  # switch opened
        loop.run(5)
    finally:
        micropython.heap_unlock()
    print("ticks", app.flight.ticks, "faults", app.faults, "mode", app.flight.mode,
          "overruns", loop.overruns, "skipped", loop.skipped, "feeds", loop.feeds,
          "pulse_flying", pulse_flying, "pulse", board.esc.pulse_us, "rf", rf_status,
          "rtc", machine._rtc_n[0], "frames", sink.frames, "bus_errors", bus_errors,
          "rf_errors", rf_errors, "armed", armed, "imu_used", imu_used, "imu_bus_errors",
          imu_bus_errors, "imu_pulled", imu_pulled, "imu_used_pulled", imu_used_pulled,
          "imu_back", imu_back, "imu_resets", board.imu.resets)

main()
"""


def _run(binary: str, alloc: str = "pass") -> dict[str, int]:
    proc = subprocess.run(
        [binary, "-X", "heapsize=400K", "-c", _SCRIPT.replace("ALLOC", alloc)],
        capture_output=True,
        text=True,
        env=micropython_env(STANDIN_DIR),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = proc.stdout.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}


def test_board_mode_ticks_do_not_allocate(any_micropython_bin: str) -> None:
    out = _run(any_micropython_bin)
    assert out["faults"] == 0  # an allocation under the lock is a MemoryError, a fault
    assert out["ticks"] == 1 + 20 + 2 + 300 + 20 + 30 + 20 + 100 + 5
    assert out["armed"] == 1  # ARMED without the override bit: the IMU was good
    assert out["imu_used"]  # the descent propagated on the accelerometer
    assert out["imu_bus_errors"] == 0
    assert out["imu_pulled"] == 0  # NotConnected ...
    assert not out["imu_used_pulled"]  # ... the thrust model ...
    assert out["imu_back"] == 3  # ... and good again once it answers
    assert out["imu_resets"] >= 2
    assert out["pulse_flying"] > 1000  # the ESC followed the throttle
    # the stall: 50 ms from a tick's end, so the next deadline had passed by 30 ms or more
    assert out["overruns"] == 1 and out["skipped"] == 1
    assert out["feeds"] == out["ticks"] - 1  # every tick fed but the late one
    assert out["rf"] == 0  # NotConnected
    assert out["mode"] == 5  # ABORT: the switch opened
    assert out["pulse"] == 1000  # safe
    assert out["rtc"] > 0  # the flight state was persisted every tick
    assert out["bus_errors"] == 0
    assert out["rf_errors"] > 0


def test_an_allocating_engine_output_is_caught_as_a_fault(micropython_bin: str) -> None:
    # proves the check can fail: an ESC write that appends to a list under the heap lock
    # raises MemoryError, which the loop catches, counts and reports as a fault
    out = _run(micropython_bin, "board.esc._pwm.log = []")
    assert out["faults"] > 0
