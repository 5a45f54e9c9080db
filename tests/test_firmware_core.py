"""Firmware core components, each alone, under CPython (the same files the boards run)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from core_rig import Events as _Events
from core_rig import descending
from core_rig import params as _params
from hypothesis import given
from hypothesis import strategies as st

from softland.boards.firmware import fsw_module

fixmath = fsw_module("fixmath")
params_mod = fsw_module("params")
flags = fsw_module("flags")
Estimator = fsw_module("estimator").Estimator
guidance = fsw_module("guidance")
Controller = fsw_module("control").Controller
LandDetector = fsw_module("landdet").LandDetector
flight = fsw_module("flight")
rangefinder = fsw_module("rangefinder")


@given(st.integers(min_value=0, max_value=2**30 - 1))
def test_isqrt_is_the_floor_square_root(n: int) -> None:
    assert fixmath.isqrt(n) == math.isqrt(n)


@given(st.integers(min_value=0, max_value=2**30 - 1), st.integers(-(2**30), 2**30 - 1))
def test_isqrt_near_is_the_floor_square_root_whatever_the_hint(n: int, hint: int) -> None:
    assert fixmath.isqrt_near(n, hint) == math.isqrt(n)


@given(st.integers(min_value=1, max_value=2**30 - 1), st.integers(2, 2**15))
def test_isqrt_near_keeps_every_intermediate_within_2_pow_30(n: int, hint: int) -> None:
    # the Newton step x + n // x, as the firmware forms it (n = 0 returns before it)
    x = (hint + n // hint) >> 1
    assert hint + n // hint < 2**30
    while True:
        assert x + n // x < 2**30
        y = (x + n // x) >> 1
        if y >= x:
            break
        x = y


@given(st.integers(0, 2**30 - 1), st.integers(-(2**29) + 1, 2**29 - 1))
def test_ticks_diff_survives_the_wrap(start: int, delta: int) -> None:
    later = fixmath.ticks_add(start, delta)
    assert fixmath.ticks_diff(later, start) == delta


def test_params_reject_out_of_range_values() -> None:
    p = params_mod.Params()
    assert p.set(params_mod.PERIOD_MS, 1000) == params_mod.E_RANGE
    assert p.set(params_mod.COUNT, 1) == params_mod.E_ID
    assert p.v[params_mod.PERIOD_MS] == 20


def test_params_accept_a_handover_sigma_of_five_km() -> None:
    p = params_mod.Params()
    assert p.set(params_mod.SIGMA0_MM, 5_000_000) == params_mod.OK
    assert p.check() == params_mod.OK


def test_params_refuse_a_handover_sigma_of_fifty_km() -> None:
    p = params_mod.Params()
    assert p.set(params_mod.SIGMA0_MM, 50_000_000) == params_mod.E_RANGE
    assert p.v[params_mod.SIGMA0_MM] == params_mod.default(params_mod.SIGMA0_MM)


def test_params_check_refuses_a_vehicle_that_cannot_hover() -> None:
    p = _params(amax0_mm_s2=1500)  # below lunar gravity 1620
    assert p.check() == params_mod.AMAX0_MM_S2 * 8 + params_mod.E_CROSS


def test_estimator_prediction_integrates_constant_acceleration() -> None:
    est = Estimator(_params(sigma_grow_mm_s=0))
    est.reset(1_000_000, -10_000, 0)
    for _ in range(50):  # one second at -1 m/s^2
        est.predict(-1000, 20, True)
    assert est.vel_mm_s() == pytest.approx(-11_000, abs=2)
    assert est.alt_mm == pytest.approx(1_000_000 - 10_000 - 500, abs=5)


def test_estimator_uncertainty_grows_without_range() -> None:
    est = Estimator(_params(sigma_grow_mm_s=1000))
    est.reset(100_000, 0, 100)
    for _ in range(50):
        est.predict(0, 20, True)
    assert est.sigma_mm == 1100


def test_estimator_accepts_a_range_inside_the_gate() -> None:
    est = Estimator(_params())
    est.reset(100_000, 0, 1000)
    assert est.update(101_000) == flags.RANGE_USED
    assert 100_000 < est.alt_mm < 101_000


def test_estimator_rejects_a_spike_outside_the_gate() -> None:
    est = Estimator(_params(gate_mm=1000))
    est.reset(100_000, 0, 100)
    assert est.update(200_000) == flags.RANGE_REJECTED
    assert est.alt_mm == 100_000


def test_estimator_rebases_on_consistent_new_ground_instead_of_latching_off() -> None:
    # Mission 1: a real terrain step must be accepted after a run of consistent readings
    est = Estimator(_params(gate_mm=1000))
    est.reset(5_000_000, 0, 100)
    results = [est.update(2_000_000 + k) for k in range(30)]
    assert flags.RANGE_REBASED in results
    assert results.index(flags.RANGE_REBASED) < 30
    assert abs(est.alt_mm - 2_000_000) < 100


def test_estimator_keeps_rejecting_scattered_garbage() -> None:
    est = Estimator(_params(gate_mm=1000))
    est.reset(5_000_000, 0, 100)
    results = [est.update(1_000_000 + (k % 2) * 1_000_000) for k in range(60)]
    assert flags.RANGE_REBASED not in results


def test_guidance_schedule_grows_with_height_and_ends_at_the_terminal_ramp_speed() -> None:
    g = guidance.Guidance(_params())
    g.ka_mm_s2 = 1458
    speeds = [g.schedule(h) for h in (0, 10_000, 1_000_000, 3_000_000)]
    # at the gate: v_td on the terminal ramp's 2 m at a quarter of ka (364 mm/s^2)
    assert speeds[0] == math.isqrt(700 * 700 + 2 * (1458 >> 2) * 2000)
    assert speeds == sorted(speeds)
    # sqrt(0.7^2 + 2 * 1.458 * 3000) m/s
    assert speeds[-1] == pytest.approx(math.sqrt(0.49 + 2 * 1.458 * 3000) * 1000, rel=1e-3)


def test_guidance_coasts_until_the_schedule_is_reached() -> None:
    g = guidance.Guidance(_params())
    g.reset()
    g.step(3_000_000, -60_000, 200, 3240, False, False)
    assert g.phase == guidance.COAST
    assert g.ff_mm_s2 == 0
    g.step(2_000_000, -85_000, 200, 3240, False, False)
    assert g.phase == guidance.BRAKE


def test_guidance_bound_uses_the_uncertainty() -> None:
    g = guidance.Guidance(_params(nsigma_q4=32))
    g.reset()
    g.step(1_000_000, -40_000, 50_000, 3240, False, False)
    assert g.h_low_mm == 1_000_000 - 2 * 50_000


def _controller(**overrides: int):
    c = Controller(_params(**overrides))
    c.reset()
    c.ignite()
    return c


def test_controller_holds_throttle_within_its_limits() -> None:
    c = _controller(thr_slew_q15=32767)
    c.step(0, -50_000, 1620)  # far too fast down: wants more than full thrust
    assert c.throttle_q15 == 32767
    assert c.flags & flags.THR_SAT_HI
    c.step(0, 50_000, 0)  # rising fast: wants less than the minimum
    assert c.throttle_q15 == params_mod.default(params_mod.THR_MIN_Q15)
    assert c.flags & flags.THR_SAT_LO


def test_controller_slew_limits_throttle_changes() -> None:
    c = _controller(thr_slew_q15=1000)
    start = c.throttle_q15
    c.step(0, -50_000, 1620)
    assert c.throttle_q15 == start + 1000
    assert c.flags & flags.THR_SLEW


def test_controller_anti_windup_holds_the_integrator_when_saturated() -> None:
    c = _controller(thr_slew_q15=32767)
    for _ in range(100):
        c.step(0, -50_000, 1620)
    assert c.integ_q8 == 0
    assert c.flags & flags.INTEG_HELD


def test_controller_integrates_a_steady_error() -> None:
    c = _controller(thr_slew_q15=32767)
    for _ in range(50):
        c.step(-1000, -1100, 1620)
    assert c.integ_q8 > 0


def test_controller_mass_falls_with_throttle_and_raises_a_max() -> None:
    c = _controller()
    a0 = c.a_max_mm_s2
    c.throttle_q15 = 32767
    for _ in range(1000):
        c.burn()
    # 20 s at full thrust: mass ratio exp(-3.24 * 20 / 2942) ~ 0.978
    assert c.mass_q24 / 2**24 == pytest.approx(1 - 3.24 * 20 / 2942, rel=2e-3)
    assert c.a_max_mm_s2 > a0


def test_controller_cutoff_zeroes_throttle() -> None:
    c = _controller()
    c.step(-700, -700, 1620)
    c.cutoff()
    assert c.throttle_q15 == 0 and not c.engine_on


def test_land_detector_needs_the_conditions_held_for_the_set_time() -> None:
    d = LandDetector(_params(land_time_ms=500))
    results = [d.step(0, 0, 6554, True) for _ in range(25)]
    assert results[-2] is False and results[-1] is True
    assert d.flags == flags.LAND_ALT | flags.LAND_SPEED | flags.LAND_THR


def test_land_detector_restarts_when_a_condition_breaks() -> None:
    d = LandDetector(_params(land_time_ms=500))
    for _ in range(20):
        d.step(0, 0, 6554, True)
    d.step(0, -2000, 6554, True)
    assert d.held_ms == 0


def test_flight_refuses_to_start_unless_armed() -> None:
    f = flight.Flight(_params(), _Events())
    assert f.start() == params_mod.E_MODE
    assert f.mode == flight.SAFE


def test_flight_refuses_to_arm_with_inconsistent_parameters() -> None:
    events = _Events()
    f = flight.Flight(_params(thr_min_q15=32767), events)
    assert f.arm() == params_mod.E_CROSS
    assert f.mode == flight.SAFE
    assert events.seen[-1][0] == flight.EV_ARM_REFUSED


def _sensed(rf_status: int, acc_ok: int, events: _Events | None = None) -> Any:
    """A Flight in SAFE whose last tick carried these sensor healths."""
    f = flight.Flight(_params(), events or _Events())
    f.tick(0, 3_001_000, rf_status, 0, acc_ok)
    return f


def test_arm_is_refused_before_any_sensor_was_read() -> None:
    events = _Events()
    f = flight.Flight(_params(), events)
    assert f.arm() == params_mod.E_PREFLIGHT
    assert f.arm_reason == flight.AR_NO_SENSOR_DATA
    assert events.seen[-1] == (flight.EV_ARM_REFUSED, flight.AR_NO_SENSOR_DATA)
    assert f.mode == flight.SAFE


def test_arm_is_refused_with_a_bad_accelerometer() -> None:
    f = _sensed(rangefinder.RF_GOOD, 0)
    assert f.arm() == params_mod.E_PREFLIGHT
    assert f.arm_reason == flight.AR_IMU


@pytest.mark.parametrize("status", [rangefinder.RF_NOT_CONNECTED, rangefinder.RF_NO_DATA])
def test_arm_is_refused_with_a_rangefinder_that_does_not_answer(status: int) -> None:
    f = _sensed(status, 1)
    assert f.arm() == params_mod.E_PREFLIGHT
    assert f.arm_reason == flight.AR_RANGEFINDER + status
    assert f.mode == flight.SAFE


@pytest.mark.parametrize(
    "status",
    [rangefinder.RF_GOOD, rangefinder.RF_OUT_OF_RANGE_HIGH, rangefinder.RF_OUT_OF_RANGE_LOW],
)
def test_arm_accepts_a_rangefinder_that_answers_even_out_of_range(status: int) -> None:
    f = _sensed(status, 1)
    assert f.arm() == params_mod.OK
    assert f.mode == flight.ARMED


def test_arm_override_arms_and_reports_the_failed_check() -> None:
    events = _Events()
    f = _sensed(rangefinder.RF_NO_DATA, 1, events)
    assert f.arm(True) == params_mod.OK
    assert f.mode == flight.ARMED
    assert (flight.EV_ARM_OVERRIDE, flight.AR_RANGEFINDER + rangefinder.RF_NO_DATA) in events.seen


def test_arm_override_does_not_bypass_the_parameter_check() -> None:
    f = flight.Flight(_params(thr_min_q15=32767), _Events())
    f.tick(0, 3_001_000, rangefinder.RF_GOOD, 0, 1)
    assert f.arm(True) == params_mod.E_CROSS
    assert f.mode == flight.SAFE


def test_flight_counts_a_late_tick_as_an_overrun() -> None:
    f = descending()
    f.tick(0, 0, rangefinder.RF_NO_DATA, 1620, 1)
    f.tick(20_000, 0, rangefinder.RF_NO_DATA, 1620, 1)
    f.tick(80_000, 0, rangefinder.RF_NO_DATA, 1620, 1)
    assert f.overruns == 1
    assert f.flags & flags.OVERRUN


def test_flight_uses_the_thrust_model_when_the_imu_is_bad() -> None:
    f = descending()
    f.tick(0, 0, rangefinder.RF_NO_DATA, 0, 0)
    assert not f.flags & flags.IMU_USED


def test_controller_spools_down_to_minimum_at_the_slew_rate() -> None:
    c = _controller(thr_slew_q15=3000)
    c.throttle_q15 = 20000
    c.integ_q8 = 5000
    c.spool_down()
    assert c.throttle_q15 == 17000
    assert c.integ_q8 == 0
    for _ in range(10):
        c.spool_down()
    assert c.throttle_q15 == params_mod.default(params_mod.THR_MIN_Q15)


def test_land_detector_reports_contact_before_landing() -> None:
    d = LandDetector(_params())
    assert d.step(100, 50, 20000, True) is False
    assert d.contact
    d.step(100, -2000, 20000, True)
    assert not d.contact


def test_ticks_diff_stays_within_small_ints() -> None:
    from softland.analysis.intcheck import instrumented_firmware
    from softland.boards.firmware import firmware_dir

    with instrumented_firmware(firmware_dir()) as tracker:
        fix = __import__("fsw.fixmath", fromlist=["ticks_diff"])
        for a, b in ((2**30 - 1, 0), (0, 2**30 - 1), (2**29, 0), (0, 2**29), (123, 2**29 + 123)):
            fix.ticks_diff(a, b)
    assert tracker.violations == []


def test_safe_ticks_show_a_failing_preflight_check_before_arm() -> None:
    f = _sensed(rangefinder.RF_NOT_CONNECTED, 1)
    assert f.flags2 & flags.PREFLIGHT_BAD
    f.tick(20_000, 3_001_000, rangefinder.RF_OUT_OF_RANGE_HIGH, 0, 1)
    assert not f.flags2 & flags.PREFLIGHT_BAD
