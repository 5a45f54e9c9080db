"""The blind inertial velocity stays within small ints whatever the accelerometer reads.

Found on the 32-bit port (tests/test_sil32.py, ispace-m1 with the latching baseline): the
vehicle hits the ground at ~88 m/s with the engine out, the tick's mean specific force reads
~450 g, and in the blind terminal descent `acc * period * steps * 32` came to 2.8e9: a heap
int, a MemoryError under the locked heap, a fault. The firmware clamps the accelerometer at
64 g and splits the product by the step count."""

from __future__ import annotations

from typing import Any

import pytest

from softland.analysis.intcheck import instrumented_firmware
from softland.boards.firmware import firmware_dir

G = 1620
PERIOD_US = 20_000
CRASH_MM_S2 = 4_409_602  # the impact tick of ispace-m1 under the latching baseline


def _blind_terminal(fsw_flight: Any, fsw_params: Any, rf: Any) -> Any:
    """A Flight in TERMINAL, blind: 100 m believed with sigma 80 m (as test_blind_descent)."""
    p = fsw_params.Params()
    for pid, value in (
        (fsw_params.INIT_ALT_MM, 100_000),
        (fsw_params.INIT_VEL_MM_S, -5_000),
        (fsw_params.SIGMA0_MM, 80_000),
        (fsw_params.CAL_MS, 0),
    ):
        assert p.set(pid, value) == fsw_params.OK
    f = fsw_flight.Flight(p, lambda code, arg: None)
    f.tick((1 << 30) - PERIOD_US, 0, rf.RF_OUT_OF_RANGE_HIGH, 0, 1)
    assert f.arm() == fsw_params.OK
    assert f.start() == fsw_params.OK
    for k in range(5):
        f.tick(k * PERIOD_US, 0, rf.RF_NO_DATA, G, 1)
    assert f.mode == fsw_flight.TERMINAL and f.guid.blind
    return f


@pytest.mark.parametrize("late_periods", [1, 4])
@pytest.mark.parametrize("acc_mm_s2", [CRASH_MM_S2, -CRASH_MM_S2, (1 << 30) - 1])
def test_blind_inertial_velocity_stays_a_small_int_for_any_acceleration(
    acc_mm_s2: int, late_periods: int
) -> None:
    with instrumented_firmware(firmware_dir()) as tracker:
        from fsw import flight, params, rangefinder

        f = _blind_terminal(flight, params, rangefinder)
        f.tick((4 + late_periods) * PERIOD_US, 0, rangefinder.RF_NO_DATA, acc_mm_s2, 1)
    assert tracker.violations == [], tracker.violations[:3]


EXTREME_ACC = (0, 1, -1, 627_648, -627_648, 300_000, -300_000)
EXTREME_MODEL = (0, 1, 32_767)


def test_the_accelerometer_monitor_stays_a_small_int_for_any_sample() -> None:
    # every pair of extreme samples and thrust models (|a| <= 64 g after the clamp, the model
    # 0 .. 32767 mm/s^2), aloft or not, dropped or not: the steps, Q4 levels and scatter
    with instrumented_firmware(firmware_dir()) as tracker:
        from fsw import flight, params

        f = flight.Flight(params.Params(), lambda code, arg: None)
        for aloft in (True, False):
            for ok in (True, False):
                for a in EXTREME_ACC:
                    for m in EXTREME_MODEL:
                        for b in EXTREME_ACC:
                            for _ in range(3):
                                flight._acc_health(f, a, ok, m, 32_767, aloft)
                                flight._acc_health(f, b, ok, 32_767 - m, 32_767, aloft)
    assert tracker.violations == [], tracker.violations[:3]


@pytest.mark.parametrize("h_low_mm", [-(1 << 29), 0, 249, 250, 10_000, 1 << 29])
def test_the_terminal_stopping_feedforward_stays_a_small_int(h_low_mm: int) -> None:
    with instrumented_firmware(firmware_dir()) as tracker:
        from fsw import flight, params

        p = params.Params()
        for pid in (params.VTD_MM_S, params.GRAVITY_MM_S2):
            for value in (params.bounds_min(pid), params.bounds_max(pid)):
                assert p.set(pid, value) == params.OK
                for vel in (-150_000, -30_001, -1_000, 0, 150_000):
                    ff = flight._stop_ff(p.v, 9_807, vel, h_low_mm)
                    assert 9_807 <= ff <= 32_767 + params.bounds_max(params.GRAVITY_MM_S2)
    assert tracker.violations == [], tracker.violations[:3]
