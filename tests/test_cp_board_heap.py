"""Board mode on CircuitPython does not allocate per tick: hal/cp_board.py under the board
loop, run under micropython.heap_lock() on the unix ports (64-bit and 32-bit; no
CircuitPython runs on this host, and its VM is MicroPython's), on small CircuitPython
stand-ins written in MicroPython here: busio.I2C with the bus lock and start=/end= keywords
over the `machine` stand-in's LIDAR-Lite and LSM6DSOX register files (tests/board_standin),
pwmio.PWMOut, digitalio, microcontroller.watchdog, supervisor.ticks_ms on the stand-in's
clock, time.sleep of the HAL's own floats, alarm.sleep_memory as a fixed bytearray. Every
path: SAFE, ARM, descent with the ESC on the throttle, persistence, a stall (late tick,
skipped deadline), the IMU pulled and back, the LIDAR-Lite pulled, the switch opened; and,
with the heap unlocked (its OSError(EBUSY) is a new exception, as busio's own are), the bus
held by another user: the bounded lock wait."""

from __future__ import annotations

import subprocess
from pathlib import Path

from softland.boards.runtimes import micropython_env

STANDIN_DIR = Path(__file__).resolve().parent / "board_standin"
HEAP_SCRIPT = Path(__file__).resolve().parent / "test_board_heap.py"

_SCRIPT = """
import micropython
import machine
from fsw.app import App, C_ARM, C_START, CMD_LEN, CMD_CODE, CMD_VALUE
from fsw.flags import IMU_USED
from fsw.link import Encoder, HEADER_LEN, OVERHEAD, T_CMD, put_u8, put_i32
from hal.cp_board import CircuitPythonBoard, config
from hal.board_loop import BoardLoop

CFG = {"mode": "board", "hal": "circuitpython", "pwm_pin": "D5", "arm_pin": "D6",
       "led_pin": "LED", "wdt_ms": 500, "loop_hz": 50, "backup": "sleep_memory",
       "imu": "lsm6dsox", "imu_addr": 0x6A}


class Pin:
    def __init__(self, name):
        self.name = name


class board:
    SDA = Pin("SDA")
    SCL = Pin("SCL")
    D5 = Pin("D5")
    D6 = Pin("D6")
    LED = Pin("LED")


class I2C:
    # busio.I2C: the lock, keyword slices; the machine stand-in's devices answer
    def __init__(self, scl, sda, frequency=100000):
        self.m = machine.I2C(0)
        self.locked = False
        self.held_by_other = False
        self.bufs = [bytearray(i) for i in range(18)]

    def try_lock(self):
        if self.locked or self.held_by_other:
            return False
        self.locked = True
        return True

    def unlock(self):
        self.locked = False

    def writeto(self, addr, buf, start=0, end=None):
        if not self.locked:
            raise RuntimeError("Function requires lock")
        n = len(buf) if end is None else end
        if addr != 0x6A:
            if n == len(buf):
                self.m.writeto(addr, buf)
            else:
                t = self.bufs[n]
                for i in range(n):
                    t[i] = buf[i]
                self.m.writeto(addr, t)
            return
        t = self.bufs[n - 1]  # a register write: the register, then its data
        for i in range(n - 1):
            t[i] = buf[1 + i]
        self.m.writeto_mem(addr, buf[0], t)

    def readfrom_into(self, addr, buf, start=0, end=None):
        if not self.locked:
            raise RuntimeError("Function requires lock")
        self.m.readfrom_into(addr, buf)

    def writeto_then_readfrom(self, addr, out, inb, out_start=0, out_end=None, in_start=0,
                              in_end=None):
        if not self.locked:
            raise RuntimeError("Function requires lock")
        self.m.readfrom_mem_into(addr, out[0], inb)


class busio:
    pass


busio.I2C = I2C


class PWMOut:
    def __init__(self, pin, frequency=500, duty_cycle=0):
        self.frequency = frequency
        self.duty = duty_cycle
        self.max_duty = duty_cycle

    @property
    def duty_cycle(self):
        return self.duty

    @duty_cycle.setter
    def duty_cycle(self, d):
        if d < 0 or d > 65535:
            raise ValueError("duty_cycle must be 0..65535")
        self.duty = d
        if d > self.max_duty:
            self.max_duty = d


class pwmio:
    PWMOut = PWMOut


class DigitalInOut:
    def __init__(self, pin):
        self.value = False

    def switch_to_input(self, pull=None):
        self.value = pull == "UP"

    def switch_to_output(self, value=False):
        self.value = value


class Pull:
    UP = "UP"
    DOWN = "DOWN"


class digitalio:
    pass


digitalio.DigitalInOut = DigitalInOut
digitalio.Pull = Pull


class Watchdog:
    def __init__(self):
        self.timeout = 0.0
        self.mode = None
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class microcontroller:
    watchdog = Watchdog()


class WatchDogMode:
    RESET = "RESET"


class watchdog:
    pass


watchdog.WatchDogMode = WatchDogMode


def ticks_ms():
    return (machine.clock.now_us // 1000) & 0x1FFFFFFF


class supervisor:
    pass


supervisor.ticks_ms = ticks_ms


class time:
    table = ()


def sleep(s):
    # the HAL sleeps its own floats, made at boot: find which (no float arithmetic here)
    t = time.table
    for i in range(len(t)):
        if t[i] is s:
            machine.clock.advance_us(i * 1000)
            return
    raise ValueError("a float made after boot")


time.sleep = sleep


class alarm:
    sleep_memory = bytearray(4096)


class Mods:
    pass


mods = Mods()
mods.board = board
mods.busio = busio
mods.pwmio = pwmio
mods.digitalio = digitalio
mods.microcontroller = microcontroller
mods.watchdog = watchdog
mods.supervisor = supervisor
mods.time = time
mods.alarm = alarm

HOST


def main():
    board_ = CircuitPythonBoard(config(CFG), mods)
    time.table = board_._sleep_s
    host = Host()
    arm_end = host.command(C_ARM, 0)
    start_end = host.command(C_START, 0)
    sink = Sink()
    app = App(sink, None, board_.backup, board_.i2c)
    loop = BoardLoop(board_, app, host)
    board_.switch._pin.value = False  # switch closed (to GND)
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
        duty_flying = board_.esc._pwm.max_duty
        imu_used = app.flight.flags & IMU_USED
        machine.clock.advance_us(50000)  # the loop stalls: a late tick, a skipped deadline
        loop.run(20)
        bus_errors = app.lidar.errors
        micropython.heap_unlock()  # a failed transaction raises a new OSError (allocates)
        board_.i2c.bus.held_by_other = True  # another user holds the bus: bounded tries
        loop.run(10)
        lock_failures = board_.i2c.lock_failures
        board_.i2c.bus.held_by_other = False
        micropython.heap_lock()
        loop.run(20)
        board_.i2c.bus.m.nack_addr = 0x6A  # the IMU pulled
        loop.run(30)
        imu_pulled = board_.imu.status
        board_.i2c.bus.m.nack_addr = -1  # and plugged back in
        loop.run(20)
        imu_back = board_.imu.status
        board_.i2c.bus.m.unplugged = True
        loop.run(100)
        rf_status = app.range.status
        board_.switch._pin.value = True  # switch opened
        loop.run(5)
    finally:
        micropython.heap_unlock()
    print("ticks", app.flight.ticks, "faults", app.faults, "mode", app.flight.mode,
          "overruns", loop.overruns, "skipped", loop.skipped, "feeds", loop.feeds,
          "wdt_feeds", microcontroller.watchdog.feeds, "duty_flying", duty_flying,
          "pulse", board_.esc.pulse_us, "duty", board_.esc._pwm.duty_cycle, "rf", rf_status,
          "armed", armed, "imu_used", imu_used, "imu_pulled", imu_pulled, "imu_back",
          imu_back, "bus_errors", bus_errors, "lock_failures", lock_failures,
          "backup", 1 if alarm.sleep_memory[0] or alarm.sleep_memory[1] else 0)

main()
"""


def _host_classes() -> str:
    """The Sink and Host classes of tests/test_board_heap.py's script (one host, two tests)."""
    text = HEAP_SCRIPT.read_text()
    return text[text.index("class Sink:") : text.index("def main():")]


def _run(binary: str, alloc: str = "pass") -> dict[str, int]:
    script = _SCRIPT.replace("HOST", _host_classes()).replace("ALLOC", alloc)
    proc = subprocess.run(
        [binary, "-X", "heapsize=400K", "-c", script],
        capture_output=True,
        text=True,
        env=micropython_env(STANDIN_DIR),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = proc.stdout.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}


def test_circuitpython_board_mode_ticks_do_not_allocate(any_micropython_bin: str) -> None:
    out = _run(any_micropython_bin)
    assert out["faults"] == 0  # an allocation under the lock is a MemoryError, a fault
    assert out["ticks"] == 1 + 20 + 2 + 300 + 20 + 10 + 20 + 30 + 20 + 100 + 5
    assert out["armed"] == 1  # ARMED without the override: the IMU was good
    assert out["imu_used"]
    assert out["duty_flying"] > 1000 * 50 * 1024 // 15625  # the ESC followed the throttle
    assert out["overruns"] == 1 and out["skipped"] == 1
    assert out["feeds"] == out["wdt_feeds"] == out["ticks"] - 1  # all but the late one
    assert out["bus_errors"] == 0
    assert out["lock_failures"] > 0  # the held bus failed transactions, boundedly
    assert out["imu_pulled"] == 0 and out["imu_back"] == 3
    assert out["rf"] == 0  # NotConnected
    assert out["mode"] == 5  # ABORT: the switch opened
    assert out["pulse"] == 1000 and out["duty"] == 1000 * 50 * 1024 // 15625  # safe
    assert out["backup"] == 1  # the flight state went to sleep_memory


def test_an_allocating_engine_output_is_caught_as_a_fault(micropython_bin: str) -> None:
    # proves the check can fail: a duty computation that builds a list under the heap lock
    # raises MemoryError, which the loop catches, counts and reports as a fault
    out = _run(micropython_bin, "board_.esc.duty = lambda us: [us][0]")
    assert out["faults"] > 0
