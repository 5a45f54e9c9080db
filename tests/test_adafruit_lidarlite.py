"""The unmodified ``adafruit_lidarlite`` (PyPI adafruit-circuitpython-lidarlite, through
adafruit_bus_device) against the register-level emulator, v3 and v3HP.

Besides reading correct distances, these tests pin down the driver's sharp edges, so that
anyone using it on a bench or a CircuitPython board knows what it does:

- ``_read_reg`` busy-waits on STATUS with no bound: a stuck busy bit hangs the caller for ever
  (``firmware/hal/bounded_lidarlite.py`` is the bounded subclass).
- ``unit_id`` reads both bytes into one shared buffer, so it returns (low << 8) | low.
- On v3HP there is no status check: a "no return" (1 cm) is returned as a distance of 1 cm; a
  stuck-at-zero sensor reads 0 cm on v3 without complaint.
- On v3, no peak and secondary return both raise ``RuntimeError("Measurement failure
  STATUS_NO_PEAK")`` (same message); bus errors come out as ``OSError``.
- Constructing it for a v3HP writes the v3 default SIG_COUNT_VAL (0x80) over the v3HP's 0xFF.
- ``distance`` takes its first bias-corrected reading on the 101st call, not the first.
- It reads every register with a repeated START (``write_then_readinto``), which a v3 answers
  with zeros: on a bus that really sends one (Blinka's FT232H and MCP2221, a Raspberry Pi
  since its kernel's change) every v3 reading is ``RuntimeError("System failure")``. The other
  v3 tests here put it on a host bus that splits the write-then-read with a STOP
  (``StopBetweenBus``), where it works, as it did on the older Raspberry Pi kernels.
- ``__init__`` sleeps 0.5 s and every register write sleeps 1 ms (virtual time here: the
  driver's ``time`` is replaced by one that advances the emulator's clock).
- Every read allocates (``status`` builds a new bytearray per poll); not measured here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import adafruit_lidarlite
import numpy as np
import pytest

from softland.devices.lidarlite import (
    REG_SIG_COUNT_VAL,
    EmulatedI2C,
    LidarLiteEmulator,
    VirtualClock,
)


class VirtualTime:
    """Stands in for the driver's ``time`` module: sleeping advances the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def sleep(self, seconds: float) -> None:
        self.clock.advance_us(round(seconds * 1e6))

    def monotonic(self) -> float:
        return self.clock.now_s


class StopBetweenBus:
    """A busio-style host bus whose ``writeto_then_readfrom`` sends a STOP between the write
    and the read (as Linux i2c-dev on the older Raspberry Pi kernels)."""

    def __init__(self, bus: EmulatedI2C) -> None:
        self.bus = bus
        self.try_lock = bus.try_lock
        self.unlock = bus.unlock
        self.writeto = bus.writeto
        self.readfrom_into = bus.readfrom_into

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: Any,
        buffer_in: Any,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        self.bus.writeto(address, bytes(buffer_out[out_start:out_end]))
        self.bus.readfrom_into(address, buffer_in, start=in_start, end=in_end)


@dataclass
class Bench:
    clock: VirtualClock
    emu: LidarLiteEmulator
    bus: EmulatedI2C
    lidar: adafruit_lidarlite.LIDARLite


BenchFactory = Callable[..., Bench]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> BenchFactory:
    def make(
        variant: str = "v3", distance_m: float = 5.0, repeated_start: bool = False, **kwargs: Any
    ) -> Bench:
        clock = VirtualClock()
        monkeypatch.setattr(adafruit_lidarlite, "time", VirtualTime(clock))
        emu = LidarLiteEmulator(clock, np.random.default_rng(3), variant=variant, **kwargs)
        if "target" not in kwargs:
            emu.set_target(distance_m)
        bus = EmulatedI2C(clock, [emu])
        hp = variant == "v3hp"
        sensor_type = adafruit_lidarlite.TYPE_V3HP if hp else "V3"
        host: Any = bus if hp or repeated_start else StopBetweenBus(bus)
        lidar = adafruit_lidarlite.LIDARLite(host, sensor_type=sensor_type)
        return Bench(clock, emu, bus, lidar)

    return make


@pytest.mark.parametrize("variant", ["v3", "v3-pre2018"])
@pytest.mark.parametrize("distance_m", [0.8, 3.0, 12.0, 35.0])
def test_v3_reads_the_distance(bench: BenchFactory, variant: str, distance_m: float) -> None:
    b = bench(variant, distance_m)
    readings = [b.lidar.distance for _ in range(5)]
    assert all(abs(cm - distance_m * 100) <= 25 for cm in readings), readings


@pytest.mark.parametrize("variant", ["v3", "v3-pre2018"])
def test_v3_behind_a_repeated_start_bus_fails_every_reading_with_system_failure(
    bench: BenchFactory, variant: str
) -> None:
    b = bench(variant, 3.0, repeated_start=True)
    assert b.lidar.status == 0  # STATUS reads 0x00: health bit clear
    for _ in range(3):
        with pytest.raises(RuntimeError, match="^System failure$"):
            _ = b.lidar.distance


@pytest.mark.parametrize("distance_m", [0.8, 3.0, 12.0, 25.0])
def test_v3hp_reads_the_distance(bench: BenchFactory, distance_m: float) -> None:
    b = bench("v3hp", distance_m)
    readings = [b.lidar.distance for _ in range(5)]
    assert all(abs(cm - distance_m * 100) <= 15 for cm in readings), readings


def test_tracks_a_descending_target_on_the_virtual_clock(bench: BenchFactory) -> None:
    b = bench("v3", target=lambda t: (20.0 - 4.0 * t, 0.7))  # 4 m/s descent
    for _ in range(4):
        b.clock.advance_us(1_000_000)
        truth_cm = (20.0 - 4.0 * b.clock.now_s) * 100
        assert abs(b.lidar.distance - truth_cm) < 30


def test_init_sleeps_half_a_second_and_configures_three_registers(bench: BenchFactory) -> None:
    b = bench("v3")
    assert b.clock.now_us >= 503_000  # 0.5 s + 3 register writes x 1 ms
    # the bus_device probe, 3 configuration writes and the STATUS read's pointer write
    assert b.bus.stats.by_op[1] == 5


def test_first_bias_corrected_read_is_the_101st(bench: BenchFactory) -> None:
    b = bench("v3")
    for _ in range(100):
        _ = b.lidar.distance
    assert b.emu.bias_measurements == 0
    _ = b.lidar.distance
    assert b.emu.bias_measurements == 1


def test_busy_wait_never_returns_while_the_busy_bit_is_stuck(bench: BenchFactory) -> None:
    b = bench("v3")
    b.emu.inject("busy_stuck", b.clock.now_s)
    outcome: dict[str, object] = {}

    def read() -> None:
        try:
            outcome["value"] = b.lidar.distance
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc

    mark = b.bus.stats.mark()
    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=0.3)
    assert worker.is_alive(), f"returned: {outcome}"
    assert b.bus.stats.transactions_since(mark) > 100  # still polling STATUS
    # release the thread: a NACK storm makes its next status poll raise
    b.emu.inject("nack_burst", 0.0)
    worker.join(timeout=5.0)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), OSError)


def test_unit_id_returns_the_low_byte_twice(bench: BenchFactory) -> None:
    b = bench("v3", unit_id=0x1234)
    assert b.lidar.unit_id == 0x3434 != b.emu.unit_id


def test_v3hp_no_return_is_accepted_as_a_distance_of_1_cm(bench: BenchFactory) -> None:
    b = bench("v3hp", distance_m=45.0)
    assert b.lidar.distance == 1


def test_v3hp_signal_loss_is_accepted_as_a_distance_of_1_cm(bench: BenchFactory) -> None:
    b = bench("v3hp", distance_m=5.0)
    b.emu.inject("signal_loss", b.clock.now_s)
    assert b.lidar.distance == 1


def test_v3_no_return_raises_runtime_error(bench: BenchFactory) -> None:
    b = bench("v3", distance_m=45.0)
    with pytest.raises(RuntimeError, match="STATUS_NO_PEAK"):
        _ = b.lidar.distance


def test_v3_secondary_return_raises_the_same_no_peak_message(bench: BenchFactory) -> None:
    b = bench("v3", distance_m=5.0)
    b.emu.inject("secondary_return", b.clock.now_s, probability=0.0)
    with pytest.raises(RuntimeError, match="^Measurement failure STATUS_NO_PEAK$"):
        _ = b.lidar.distance


def test_v3_stuck_at_zero_is_returned_as_a_valid_zero(bench: BenchFactory) -> None:
    b = bench("v3", distance_m=5.0)
    b.emu.inject("stuck_zero", b.clock.now_s)
    assert [b.lidar.distance for _ in range(3)] == [0, 0, 0]


def test_bus_errors_come_out_of_distance_as_oserror(bench: BenchFactory) -> None:
    b = bench("v3")
    b.emu.inject("nack_burst", b.clock.now_s)
    with pytest.raises(OSError):
        _ = b.lidar.distance


def test_v3hp_construction_overwrites_sig_count_val_with_the_v3_default(
    bench: BenchFactory,
) -> None:
    b = bench("v3hp")
    assert b.emu.register(REG_SIG_COUNT_VAL) == 0x80  # the v3HP's own default is 0xFF
    # half the integration counts: in the emulator's model a 70 % target at 35 m (in range at
    # the v3HP default) now gives no return, which the driver reports as 1 cm
    b.emu.set_target(35.0)
    assert b.lidar.distance == 1


def test_signal_strength_property_reads_the_register(bench: BenchFactory) -> None:
    near, far = bench("v3", distance_m=2.0), bench("v3", distance_m=25.0)
    _ = near.lidar.distance
    _ = far.lidar.distance
    assert near.lidar.signal_strength > far.lidar.signal_strength > 0
