"""`softland drop capture --blinka`: the LIDAR-Lite read from a laptop through Blinka's
busio.I2C with the bounded Adafruit driver, tested against the emulator behind a Blinka-like
bus (softland.devices.lidarlite.EmulatedI2C: busio.I2C's methods and semantics, its
writeto_then_readfrom a repeated START, which a v3 answers with zeros).

The regression test: a driver that reads with writeto_then_readfrom (as the stock
adafruit_lidarlite does) cannot read a v3 from Blinka's FT232H or MCP2221. The check
`assert_reads_the_fall` must fail for such a driver; a test runs it against one to show it."""

from __future__ import annotations

import importlib.util
from typing import Any

import adafruit_lidarlite
import numpy as np
import pytest

from softland.devices.freefall import G_STANDARD
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, VirtualClock
from softland.drop.analysis import analyze
from softland.drop.blinka import blinka_capture, bounded_module, open_blinka_i2c
from softland.drop.capture import DropCapture
from softland.drop.emulate import START_US, DropRig
from softland.errors import UserError

RIG = DropRig(samples=700, noise_sigma_cm=1.25)


class VirtualTime:
    """adafruit_lidarlite's `time`: its sleeps (0.5 s at start, 1 ms per register write)
    advance the emulator's clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def sleep(self, seconds: float) -> None:
        self.clock.advance_us(round(seconds * 1e6))


def blinka_drop(monkeypatch: pytest.MonkeyPatch, variant: str, driver: Any = None) -> DropCapture:
    clock = VirtualClock(START_US - 600_000)  # the driver's start-up sleeps come first
    monkeypatch.setattr(adafruit_lidarlite, "time", VirtualTime(clock))
    fall = RIG.fall()
    sensor = LidarLiteEmulator(
        clock, np.random.default_rng(9), variant=variant, target=fall, noise_sigma_cm=1.25
    )
    bus = EmulatedI2C(clock, [sensor], frequency=400_000)  # the Blinka-like bus

    def clock_us() -> int:
        clock.advance_us(20)  # the host's own time per call
        return clock.now_us

    return blinka_capture(bus, RIG.samples, "blinka emulated", clock_us, driver=driver)


def assert_reads_the_fall(cap: DropCapture) -> None:
    """The check a Blinka capture of the emulated fall must pass."""
    assert cap.valid.sum() > 0.95 * cap.samples, "most readings must hold a distance"
    rep = analyze(cap, estimator=False)
    assert abs(rep.free.g - G_STANDARD) < 0.4
    assert abs(rep.known.impact_speed_m_s - RIG.fall().impact_speed_m_s) < 0.03


class RepeatedStartLIDARLite(bounded_module().BoundedLIDARLite):  # type: ignore[misc, name-defined]
    """The bounded driver with the stock driver's register read: write_then_readinto, i.e.
    busio's writeto_then_readfrom, a repeated START."""

    @property
    def status(self) -> int:
        buf = bytearray([0x01])
        with self.i2c_device as i2c:
            i2c.write_then_readinto(buf, buf)
        return buf[0]

    def _read_stop(self, reg: int, buf: bytearray, num: int) -> bytearray:
        buf[0] = reg
        with self.i2c_device as i2c:
            i2c.write_then_readinto(buf, buf, out_end=1, in_end=num)
        return buf


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
def test_blinka_capture_with_the_bounded_driver_reads_the_fall(
    monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    cap = blinka_drop(monkeypatch, variant)
    assert cap.variant == variant and cap.source == "blinka emulated"
    assert_reads_the_fall(cap)


def test_blinka_capture_never_uses_a_repeated_start(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = EmulatedI2C.writeto_then_readfrom

    def spy(self: EmulatedI2C, *args: Any, **kwargs: Any) -> None:
        calls.append("writeto_then_readfrom")
        original(self, *args, **kwargs)

    monkeypatch.setattr(EmulatedI2C, "writeto_then_readfrom", spy)
    blinka_drop(monkeypatch, "v3")
    assert calls == []


def test_regression_check_fails_for_a_driver_reading_a_v3_with_a_repeated_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cap = blinka_drop(monkeypatch, "v3", driver=RepeatedStartLIDARLite)
    assert cap.valid.sum() == 0  # STATUS reads 0x00: "System failure" on every reading
    with pytest.raises(AssertionError, match="most readings must hold a distance"):
        assert_reads_the_fall(cap)


def test_the_repeated_start_driver_still_reads_a_v3hp(monkeypatch: pytest.MonkeyPatch) -> None:
    # the v3HP answers a repeated START: the failure above is the v3's, not the test rig's
    assert_reads_the_fall(blinka_drop(monkeypatch, "v3hp", driver=RepeatedStartLIDARLite))


def test_without_blinka_installed_one_line_names_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "board" else real(name, *a)
    )
    with pytest.raises(UserError, match="Blinka is not installed: pip install adafruit-blinka"):
        open_blinka_i2c("mcp2221")


def test_without_an_adapter_plugged_in_one_line_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    board = types.ModuleType("board")
    busio = types.ModuleType("busio")

    def no_adapter(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("BLINKA_FT232H environment variable set, but no FT232H device found")

    board.SCL, board.SDA = 1, 2  # type: ignore[attr-defined]
    busio.I2C = no_adapter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "board", board)
    monkeypatch.setitem(sys.modules, "busio", busio)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name in ("board", "busio") else real(name, *a),
    )
    with pytest.raises(UserError, match="^no FT232H adapter found through Blinka: BLINKA_FT232H"):
        open_blinka_i2c("ft232h")


def test_no_sensor_behind_the_adapter_gives_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = VirtualClock()
    with pytest.raises(UserError, match="no LIDAR-Lite answers at 0x62"):
        blinka_capture(EmulatedI2C(clock, []), 10, "blinka emulated", lambda: clock.now_us)
