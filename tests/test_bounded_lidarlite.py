"""firmware/hal/bounded_lidarlite.py (adafruit_lidarlite with a bounded busy-wait) and the
firmware/lib/digitalio.py shim, against the register-level emulator; and both on the
MicroPython unix port when it is installed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adafruit_bus_device
import adafruit_lidarlite
import numpy as np
import pytest

from softland.boards.firmware import firmware_dir
from softland.devices.lidarlite import (
    REG_ACQ_COMMAND,
    EmulatedI2C,
    LidarLiteEmulator,
    Op,
    VirtualClock,
)


def load_firmware_module(relpath: str, name: str) -> types.ModuleType:
    """Import a firmware file by path, without putting firmware/ on sys.path."""
    spec = importlib.util.spec_from_file_location(name, firmware_dir() / relpath)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bounded = load_firmware_module("hal/bounded_lidarlite.py", "softland_test_bounded_lidarlite")


class VirtualTime:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def sleep(self, seconds: float) -> None:
        self.clock.advance_us(round(seconds * 1e6))


@dataclass
class Bench:
    clock: VirtualClock
    emu: LidarLiteEmulator
    bus: EmulatedI2C
    lidar: Any  # BoundedLIDARLite


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Bench]:
    def make(variant: str = "v3", distance_m: float = 5.0, **kwargs: Any) -> Bench:
        clock = VirtualClock()
        monkeypatch.setattr(adafruit_lidarlite, "time", VirtualTime(clock))
        emu = LidarLiteEmulator(clock, np.random.default_rng(5), variant=variant)
        emu.set_target(distance_m)
        bus = EmulatedI2C(clock, [emu])
        hp = variant == "v3hp"
        sensor_type = adafruit_lidarlite.TYPE_V3HP if hp else adafruit_lidarlite.TYPE_V3
        kwargs.setdefault("clock_ms", lambda: clock.now_us // 1000)
        lidar = bounded.BoundedLIDARLite(bus, sensor_type=sensor_type, **kwargs)
        return Bench(clock, emu, bus, lidar)

    return make


def call_with_timeout(fn: Callable[[], Any], timeout_s: float = 5.0) -> Any:
    """fn() in a thread; fails the test instead of hanging it. Re-raises fn's exception."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert not worker.is_alive(), "the call did not return within its bound"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
@pytest.mark.parametrize("distance_m", [1.5, 8.0, 20.0])
def test_reads_the_distance(bench: Callable[..., Bench], variant: str, distance_m: float) -> None:
    b = bench(variant, distance_m)
    readings = [b.lidar.distance for _ in range(5)]
    assert all(abs(cm - distance_m * 100) <= 25 for cm in readings), readings
    assert b.lidar.busy_timeouts == 0 and 0 < b.lidar.last_polls < 30


def test_busy_stuck_raises_after_max_polls_status_reads(bench: Callable[..., Bench]) -> None:
    b = bench("v3", max_polls=25)
    b.emu.inject("busy_stuck", b.clock.now_s)
    mark = b.bus.stats.mark()
    with pytest.raises(RuntimeError, match="^LIDAR-Lite busy timeout$"):
        call_with_timeout(lambda: b.lidar.distance)
    # trigger + the polls, each a pointer write and a separate read
    assert b.bus.stats.transactions_since(mark) == 1 + 2 * 25
    assert b.lidar.busy_timeouts == 1 and b.lidar.last_polls == 25


def test_busy_stuck_on_v3hp_raises_within_the_bound(bench: Callable[..., Bench]) -> None:
    b = bench("v3hp", max_polls=10)
    b.emu.inject("busy_stuck", b.clock.now_s)
    with pytest.raises(RuntimeError, match="busy timeout"):
        call_with_timeout(lambda: b.lidar.distance)
    assert b.lidar.last_polls == 10


def test_time_budget_alone_bounds_the_wait(bench: Callable[..., Bench]) -> None:
    b = bench("v3", max_polls=None, timeout_ms=20)
    b.emu.inject("busy_stuck", b.clock.now_s)
    start_us = b.clock.now_us
    with pytest.raises(RuntimeError, match="busy timeout"):
        call_with_timeout(lambda: b.lidar.distance)
    assert 20_000 <= b.clock.now_us - start_us <= 22_000


def test_reads_again_after_the_caller_resets_the_sensor(bench: Callable[..., Bench]) -> None:
    b = bench("v3", distance_m=6.0, max_polls=20)
    b.emu.inject("busy_stuck", b.clock.now_s, b.clock.now_s + 0.005)
    with pytest.raises(RuntimeError):
        call_with_timeout(lambda: b.lidar.distance)
    assert b.bus.transact(Op.WRITE_MEM, 0x62, REG_ACQ_COMMAND, b"\x00", 0)[0] == 0
    b.clock.advance_us(30_000)
    assert abs(b.lidar.distance - 600) < 10


def test_bus_errors_stay_oserror(bench: Callable[..., Bench]) -> None:
    b = bench("v3")
    b.emu.inject("nack_burst", b.clock.now_s)
    with pytest.raises(OSError):
        _ = b.lidar.distance


def test_a_slow_measurement_within_the_bound_still_reads(bench: Callable[..., Bench]) -> None:
    b = bench("v3", distance_m=4.0, max_polls=100)
    b.emu.inject("latency", b.clock.now_s, ms=20.0)
    assert abs(b.lidar.distance - 400) < 10
    assert b.lidar.last_polls > 50


@pytest.mark.parametrize(("max_polls", "timeout_ms"), [(0, None), (10, -1)])
def test_rejects_nonsense_bounds(
    bench: Callable[..., Bench], max_polls: int, timeout_ms: int | None
) -> None:
    with pytest.raises(ValueError):
        bench("v3", max_polls=max_polls, timeout_ms=timeout_ms)


# ---------------------------------------------------------------------------------------------
# the digitalio shim


class FakePin:
    IN, OUT, OPEN_DRAIN = 0, 1, 2
    PULL_UP, PULL_DOWN = 1, 2

    def __init__(self, pin_id: Any) -> None:
        self.pin_id = pin_id
        self.mode: int | None = None
        self.written: list[int] = []

    def init(self, mode: int = -1, pull: Any = None, *, value: int | None = None) -> None:
        self.mode = mode
        if value is not None:
            self.written.append(value)

    def value(self, v: int | None = None) -> int | None:
        if v is None:
            return self.written[-1] if self.written else 0
        self.written.append(v)
        return None


def test_digitalio_shim_without_machine_remembers_its_value() -> None:
    shim = load_firmware_module("lib/digitalio.py", "softland_test_digitalio")
    pin = shim.DigitalInOut()
    assert pin.direction == shim.Direction.INPUT
    pin.direction = shim.Direction.OUTPUT
    pin.value = True
    assert pin.value is True and pin.direction == shim.Direction.OUTPUT


def test_digitalio_shim_maps_to_machine_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    machine = types.ModuleType("machine")
    machine.Pin = FakePin  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "machine", machine)
    shim = load_firmware_module("lib/digitalio.py", "softland_test_digitalio_machine")
    reset = shim.DigitalInOut("GP15")
    reset.direction = shim.Direction.OUTPUT  # what adafruit_lidarlite.reset() does
    reset.value = True
    reset.value = False
    reset.value = True
    pin = reset._pin
    assert isinstance(pin, FakePin) and pin.pin_id == "GP15"
    assert pin.mode == FakePin.OUT and pin.written == [0, 1, 0, 1]


# ---------------------------------------------------------------------------------------------
# on MicroPython

MICROPYTHON_SCRIPT = """
import adafruit_lidarlite


class _NoSleep:
    def sleep(self, s):
        pass


adafruit_lidarlite.time = _NoSleep()
import bounded_lidarlite
import digitalio


class Bus:
    # busio-style stand-in: 3 busy polls per measurement, 300 cm, health OK
    def __init__(self):
        self.locked = False
        self.busy_left = 0
        self.stuck = False
        self.reg = 0

    def try_lock(self):
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self):
        self.locked = False

    def writeto(self, addr, buf, *, start=0, end=None):
        if end is None:
            end = len(buf)
        if end - start >= 2 and buf[start] == 0:
            self.busy_left = 3
        if end > start:
            self.reg = buf[start] & 0x7F

    def writeto_then_readfrom(self, *args, **kwargs):
        raise AssertionError("repeated START")

    def readfrom_into(self, addr, inb, *, start=0, end=None):
        in_start = start
        reg = self.reg
        if reg == 1:
            busy = self.stuck or self.busy_left > 0
            if self.busy_left > 0:
                self.busy_left -= 1
            inb[in_start] = 0x20 | (1 if busy else 0)
        elif reg == 0x0F:
            inb[in_start] = 0x01
            inb[in_start + 1] = 0x2C


bus = Bus()
lidar = bounded_lidarlite.BoundedLIDARLite(bus, max_polls=10)
print("distance", lidar.distance, lidar.last_polls)
bus.stuck = True
try:
    lidar.distance
    print("no timeout")
except RuntimeError as exc:
    print("timeout", exc, lidar.last_polls)
pin = digitalio.DigitalInOut()
pin.direction = digitalio.Direction.OUTPUT
pin.value = True
print("pin", pin.value)
"""


@pytest.mark.micropython
def test_bounded_driver_and_shim_run_on_micropython(micropython_bin: str, tmp_path: Path) -> None:
    shutil.copy(adafruit_lidarlite.__file__, tmp_path / "adafruit_lidarlite.py")
    shutil.copytree(
        Path(adafruit_bus_device.__file__).parent,
        tmp_path / "adafruit_bus_device",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (tmp_path / "script.py").write_text(MICROPYTHON_SCRIPT)
    fw = firmware_dir()
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(tmp_path), str(fw / "lib"), str(fw / "hal")])
    proc = subprocess.run(
        [micropython_bin, str(tmp_path / "script.py")],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split("\n")[:3] == [
        "distance 300 3",
        "timeout LIDAR-Lite busy timeout 10",
        "pin True",
    ]
