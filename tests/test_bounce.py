"""A hard contact that bounces (issue 12): the contact impulse is clamped in the estimator and
the rebound reads as noise, so "slow" does not come back until the hops die out, seconds later.
The land detector holds the contact from a ground impact sensed while low: a specific force
above twice gravity that the thrust does not explain (docs/architecture.md, "Land detection").
In flight no such force exists; high up, none counts."""

from __future__ import annotations

from core_rig import params as _params

from softland.boards.firmware import fsw_module
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

params_mod = fsw_module("params")
LandDetector = fsw_module("landdet").LandDetector

G = 1620
THR_MIN = params_mod.default(params_mod.THR_MIN_Q15)


def _detector() -> LandDetector:
    return LandDetector(_params(land_time_ms=500, period_ms=20))


def test_an_impact_while_low_holds_the_contact_through_the_rebound() -> None:
    d = _detector()
    d.step(100, -1_500, 14_000, True, False, 57_000)  # 1.5 m/s stopped within a tick
    assert d.impact and d.contact
    landed = [d.step(150, 700, THR_MIN, True, False, 0) for _ in range(25)]  # rebounding
    assert d.contact
    assert landed[-1] and not landed[-2]  # LAND_TIME_MS at minimum throttle


def test_a_force_spike_high_up_is_not_an_impact() -> None:
    d = _detector()
    d.step(5_000, -1_500, THR_MIN, True, False, 57_000)  # 5 m up: an accelerometer glitch
    assert not d.impact
    assert not any(d.step(5_000, 700, THR_MIN, True, False, 0) for _ in range(50))


def test_a_ground_reaction_below_twice_gravity_is_not_an_impact() -> None:
    d = _detector()
    d.step(100, -1_500, THR_MIN, True, False, 2 * G - 10)
    assert not d.impact
    d.step(150, 700, THR_MIN, True, False, 0)
    assert not d.contact  # moving: not slow, no impact to hold it


def test_reset_forgets_the_impact() -> None:
    d = _detector()
    d.step(100, -1_500, THR_MIN, True, False, 57_000)
    d.reset()
    assert not d.impact


def test_the_bounce_scenario_is_declared_landed_within_3_s_of_the_first_contact() -> None:
    # seed 1: without the impact LANDED came 3.7 s after the first contact (three bounces)
    result = run_scenario(dispersed_run(load_scenario("bounce"), 1), "cpython", seed=1)
    s = result.summary
    assert s["outcome"] == "landed"
    assert s["bounces"] >= 1  # it did bounce
    assert s["final_mode"] == "LANDED"
    assert s["land_detected_s"] - s["flight_time_s"] <= 3.0
    assert s["passed"]
    assert "impact" in [e["name"] for e in result.events]
