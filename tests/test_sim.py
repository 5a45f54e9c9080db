"""The closed loop: the nominal descent lands, identically under both runtimes."""

from __future__ import annotations

import dataclasses

import pytest

from softland.simulation.scenario import Scenario
from softland.simulation.sim import SimResult, run_scenario


@pytest.fixture(scope="module")
def cpython_run(nominal: Scenario) -> SimResult:
    return run_scenario(nominal, "cpython")


@pytest.fixture(scope="module")
def micropython_run(nominal: Scenario, micropython_bin: str) -> SimResult:
    return run_scenario(nominal, "micropython", micropython=micropython_bin)


def test_nominal_lands_softly_under_cpython(cpython_run: SimResult) -> None:
    s = cpython_run.summary
    assert s["outcome"] == "landed"
    assert s["touchdown_vertical_speed_mps"] <= 1.0
    assert s["final_mode"] == "LANDED"


def test_nominal_lands_softly_under_micropython(micropython_run: SimResult) -> None:
    s = micropython_run.summary
    assert s["outcome"] == "landed"
    assert s["touchdown_vertical_speed_mps"] <= 1.0


def test_runtimes_give_byte_identical_telemetry(
    cpython_run: SimResult, micropython_run: SimResult
) -> None:
    assert micropython_run.summary["telemetry_sha256"] == cpython_run.summary["telemetry_sha256"]
    assert micropython_run.telemetry == cpython_run.telemetry


def test_micropython_run_is_fault_free_with_the_heap_locked(micropython_run: SimResult) -> None:
    # SIL locks the heap around the loop: an allocation per tick would raise MemoryError,
    # be caught and counted as a fault
    assert micropython_run.summary["faults"] == 0
    assert not [e for e in micropython_run.events if e["name"] == "fault"]


def test_delta_v_is_close_to_the_fuel_optimum(cpython_run: SimResult) -> None:
    s = cpython_run.summary
    optimum = s["delta_v_optimal_variable_mass_mps"]
    assert optimum < s["delta_v_mps"] < 1.10 * optimum


def test_same_seed_gives_the_same_telemetry(nominal: Scenario, cpython_run: SimResult) -> None:
    again = run_scenario(nominal, "cpython")
    assert again.summary["telemetry_sha256"] == cpython_run.summary["telemetry_sha256"]


def test_another_seed_gives_other_telemetry(nominal: Scenario, cpython_run: SimResult) -> None:
    other = run_scenario(nominal, "cpython", seed=nominal.seed + 1)
    assert other.summary["telemetry_sha256"] != cpython_run.summary["telemetry_sha256"]
    assert other.summary["outcome"] == "landed"


def test_engine_lights_then_cuts_off_on_the_ground(cpython_run: SimResult) -> None:
    names = [e["name"] for e in cpython_run.events]
    assert names.index("ignition") < names.index("cutoff")
    assert cpython_run.telemetry[-1]["throttle_q15"] == 0


def test_too_little_propellant_ends_fuel_exhausted(nominal: Scenario) -> None:
    starved = dataclasses.replace(
        nominal,
        vehicle=dataclasses.replace(nominal.vehicle, propellant_kg=15.0),
    )
    result = run_scenario(starved, "cpython")
    assert result.summary["outcome"] == "fuel_exhausted"
    assert result.summary["passed"] is False


def test_a_weak_engine_crashes(nominal: Scenario) -> None:
    # T/W 1.25: the firmware's schedule is still flyable but it ignites far too late for a
    # vehicle it believes is twice as strong
    weak = dataclasses.replace(
        nominal,
        vehicle=dataclasses.replace(nominal.vehicle, max_thrust_n=2025.0),
        firmware={"amax0_mm_s2": 3240},
    )
    result = run_scenario(weak, "cpython")
    assert result.summary["outcome"] == "crashed"
    assert result.summary["touchdown_vertical_speed_mps"] > 3.0


def test_summary_has_the_documented_keys(cpython_run: SimResult) -> None:
    keys = {
        "scenario",
        "runtime",
        "seed",
        "outcome",
        "touchdown_vertical_speed_mps",
        "delta_v_mps",
        "delta_v_optimal_mps",
        "propellant_used_kg",
        "flight_time_s",
        "ticks",
        "tick_overruns",
        "telemetry_sha256",
    }
    assert keys <= set(cpython_run.summary)


def test_earth_hopper_lands_and_cuts_the_engine() -> None:
    from softland.simulation.scenario import load_scenario

    result = run_scenario(load_scenario("earth-hopper"), "cpython")
    s = result.summary
    assert s["outcome"] == "landed"
    assert s["touchdown_vertical_speed_mps"] <= 1.0
    assert s["final_mode"] == "LANDED"
    assert s["land_detected_s"] - s["flight_time_s"] < 2.0


def test_land_detection_follows_contact_closely(cpython_run: SimResult) -> None:
    s = cpython_run.summary
    assert 0.0 < s["land_detected_s"] - s["flight_time_s"] < 2.0
