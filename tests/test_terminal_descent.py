"""The terminal descent on a trusted altitude: the ramp down to the touchdown speed
(fsw/guidance.py) and the stopping feed-forward (fsw/flight.py `_stop_ff`)."""

from __future__ import annotations

from math import isqrt

from softland.boards.firmware import fsw_module
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

flight = fsw_module("flight")
guidance = fsw_module("guidance")
params = fsw_module("params")

A_MAX = 3240  # mm/s^2


def _guidance() -> object:
    g = guidance.Guidance(params.Params())
    g.reset()
    return g


def _ramp(g: object) -> int:
    return min(g.ka_mm_s2 >> 2, guidance._RAMP_A_MAX)  # type: ignore[attr-defined]


def test_the_ramp_ends_at_the_touchdown_speed_at_the_altitude_lower_bound() -> None:
    g = _guidance()
    p = params.Params().v
    g.step(400, -1000, 200, A_MAX, True, False)  # h_low 0
    assert g.vref_mm_s == -p[params.VTD_MM_S]


def test_above_it_the_ramp_sinks_faster_at_a_bounded_deceleration() -> None:
    g = _guidance()
    p = params.Params().v
    g.step(1400, -1000, 200, A_MAX, True, False)  # h_low 1 m
    vtd = p[params.VTD_MM_S]
    assert abs(-g.vref_mm_s - isqrt(vtd * vtd + 2 * _ramp(g) * 1000)) <= 1
    assert _ramp(g) <= guidance._RAMP_A_MAX


def test_the_braking_schedule_meets_the_ramp_at_the_gate() -> None:
    p = params.Params().v
    term = p[params.TERM_ALT_MM]
    alt = term + 400  # h_low at the gate (sigma 200 mm, n 2)
    brake = _guidance()
    brake.step(alt + 1, -1500, 200, A_MAX, False, False)
    ramp = _guidance()
    ramp.step(alt, -1500, 200, A_MAX, True, False)
    assert abs(brake.vref_mm_s - ramp.vref_mm_s) <= 2


def test_on_the_touchdown_speed_the_stopping_feedforward_adds_nothing() -> None:
    p = params.Params().v
    vtd = p[params.VTD_MM_S]
    assert flight._stop_ff(p, 1620, -vtd, 1000) == 1620
    assert flight._stop_ff(p, 1620, 0, 1000) == 1620


def test_sinking_faster_it_decelerates_to_the_touchdown_speed_by_the_lower_bound() -> None:
    p = params.Params().v
    g = p[params.GRAVITY_MM_S2]
    vtd = p[params.VTD_MM_S] // 10
    # 3 m/s with 1 m to go: (3^2 - 0.7^2) / 2 m/s^2 on top of gravity
    assert flight._stop_ff(p, g, -3000, 1000) == g + (300 * 300 - vtd * vtd) * 5 // 100


def test_near_the_ground_it_plans_on_a_minimum_height() -> None:
    p = params.Params().v
    assert flight._stop_ff(p, 0, -2000, -5000) == flight._stop_ff(p, 0, -2000, 250)


def test_the_hopper_that_reaches_the_gate_behind_the_schedule_lands_within_1_m_s() -> None:
    # hopper-lidar-faults seed 46: the saturated braking reached the 1 m gate at 3.6 m/s and
    # the controller's gain alone touched down at 1.86 m/s
    s = dispersed_run(load_scenario("hopper-lidar-faults"), 46)
    r = run_scenario(s, "cpython", seed=46)
    assert r.summary["passed"]
    assert r.summary["touchdown_vertical_speed_mps"] < 1.0
