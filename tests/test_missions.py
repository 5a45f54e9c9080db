"""The two ispace failures and Beresheet, flown with the flawed logic that lost them and with
softland's."""

from __future__ import annotations

import dataclasses

import pytest

from softland.boards.firmware import fsw_module
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import SimResult, run_scenario


@pytest.fixture(scope="module")
def m2() -> dict[str, SimResult]:
    s = load_scenario("ispace-m2")
    return {c: run_scenario(s, "cpython", controller=c) for c in ("firmware", "naive")}


@pytest.fixture(scope="module")
def m1() -> dict[str, SimResult]:
    s = load_scenario("ispace-m1")
    return {c: run_scenario(s, "cpython", controller=c) for c in ("firmware", "latching")}


@pytest.fixture(scope="module")
def beresheet() -> dict[str, SimResult]:
    s = load_scenario("beresheet")
    return {c: run_scenario(s, "cpython", controller=c) for c in ("firmware", "volatile")}


def test_mission2_naive_logic_crashes_at_tens_of_metres_per_second(m2) -> None:
    s = m2["naive"].summary
    assert s["outcome"] == "crashed"
    assert s["touchdown_vertical_speed_mps"] > 10.0
    assert "trust" in [e["name"] for e in m2["naive"].events]


def test_mission2_firmware_brakes_on_the_inertial_bound_and_lands(m2) -> None:
    s = m2["firmware"].summary
    assert s["outcome"] == "landed"
    assert s["touchdown_vertical_speed_mps"] <= 2.0
    # braking began long before the first valid range (~900 m)
    rows = m2["firmware"].telemetry
    first_range = next(r for r in rows if r["flags"] & 0x0002)
    ignition = next(r for r in rows if r["flags"] & 0x0020)
    assert first_range["true_alt_m"] < 1000.0
    assert ignition["true_alt_m"] > 1500.0


def test_mission1_latching_logic_runs_dry_kilometres_up(m1) -> None:
    result = m1["latching"]
    assert result.summary["outcome"] == "fuel_exhausted"
    assert "exclude" in [e["name"] for e in result.events]
    dry = next(r for r in result.telemetry if r["propellant_kg"] <= 0.0)
    assert dry["true_alt_m"] > 1000.0
    assert dry["alt_mm"] < 100_000  # it believed it was (nearly) down


def test_mission1_firmware_rebases_on_the_crater_floor_and_lands(m1) -> None:
    result = m1["firmware"]
    assert result.summary["outcome"] == "landed"
    assert result.summary["touchdown_vertical_speed_mps"] <= 2.0
    assert "rebase" in [e["name"] for e in result.events]
    assert "exclude" not in [e["name"] for e in result.events]


def test_the_optimum_is_measured_to_the_ground_actually_landed_on(m1) -> None:
    # 2 km above the rim plateau + the 3 km drop to the crater floor
    s = m1["firmware"].summary
    assert 1.0 < s["delta_v_ratio"] < 1.3


def test_beresheet_without_persisted_state_boots_into_safe_and_crashes(beresheet) -> None:
    s = beresheet["volatile"].summary
    assert s["computer_resets"] == 1
    assert s["resume_ticks"] is None
    assert s["outcome"] == "crashed"
    assert s["touchdown_vertical_speed_mps"] > 30.0
    assert s["final_mode"] == "SAFE"


def test_beresheet_firmware_flies_on_from_the_first_tick_after_the_boot(beresheet) -> None:
    result = beresheet["firmware"]
    assert result.summary["resume_ticks"] == 1
    assert result.summary["outcome"] == "landed"
    assert result.summary["passed"]
    resumed = [e for e in result.events if e["name"] == "resumed"]
    assert len(resumed) == 1
    rows = result.telemetry
    down = [i for i, r in enumerate(rows) if not r["computer_up"]]
    first = rows[down[-1] + 1]
    # the outage measured on the virtual clock, and the estimate carried across it
    assert resumed[0]["arg"] == pytest.approx((len(down) + 1) * 20, abs=20)
    assert first["alt_mm"] / 1000 == pytest.approx(first["true_alt_m"], abs=5.0)
    assert first["throttle_q15"] > 0


@pytest.mark.micropython
def test_beresheet_resumes_identically_in_a_restarted_micropython_process(
    beresheet, micropython_bin: str
) -> None:
    mp = run_scenario(load_scenario("beresheet"), "micropython", micropython=micropython_bin)
    assert mp.summary["telemetry_sha256"] == beresheet["firmware"].summary["telemetry_sha256"]
    assert mp.summary["faults"] == 0


def test_the_preflight_check_refuses_to_arm_with_im1s_silent_rangefinder() -> None:
    s = load_scenario("im1")
    enforced = s.__class__(
        **{**s.__dict__, "sim": dataclasses.replace(s.sim, preflight="enforce")}
    )
    result = run_scenario(enforced, "cpython")
    assert result.summary["outcome"] == "arm_refused"
    assert result.summary["preflight"] == "rangefinder NoData"
    assert result.telemetry == []
    assert "arm_refused" in [e["name"] for e in result.events]


def test_im1_flies_on_an_override_that_is_reported() -> None:
    result = run_scenario(load_scenario("im1"), "cpython")
    assert result.summary["preflight"] == "rangefinder NoData"
    assert "arm_override" in [e["name"] for e in result.events]
    assert result.summary["outcome"] == "landed"


def test_im1s_blind_descent_is_visible_in_telemetry() -> None:
    blind = fsw_module("flags").BLIND
    result = run_scenario(load_scenario("im1"), "cpython")
    phases = {r["phase"] for r in result.telemetry if r["flags2"] & blind}
    assert phases  # the blind descent was flown, and said so on every tick of it
    assert all(r["flags2"] & blind for r in result.telemetry if r["phase"] == 8)
