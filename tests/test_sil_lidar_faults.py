"""LIDAR-Lite faults injected into the register-level emulator while the firmware's driver
flies in the loop over link I2C (SIL): the loop keeps running with bounded bus work per tick,
nothing escapes the driver, the health in telemetry says what happened within the stated
number of ticks, and the driver is GOOD again once the fault clears (after the reset it
performs itself, for the faults that need one). Bounds: docs/lidar-driver.md."""

from __future__ import annotations

import dataclasses

import pytest

from softland.boards.firmware import fsw_module
from softland.simulation.scenario import Fault, Scenario, load_scenario
from softland.simulation.sim import PREFLIGHT_TICKS, SimResult, run_scenario

rf = fsw_module("rangefinder")
START_S = 0.6
END_S = 2.6  # 100 ticks: longer than the 51 the stale detector needs
MAX_TX_PER_TICK = 4


@pytest.fixture(scope="module")
def hopper() -> Scenario:
    s = load_scenario("earth-hopper")
    # start higher and slower so the whole fault window is flown inside the 40 m range
    return dataclasses.replace(
        s,
        initial=dataclasses.replace(s.initial, altitude_m=38.0, velocity_mps=-1.0),
        criteria=dataclasses.replace(s.criteria, outcome="landed", max_touchdown_speed_mps=3.0),
    )


def _fly(s: Scenario, fault: Fault, variant: str = "v3", runtime: str = "cpython") -> SimResult:
    return run_scenario(
        dataclasses.replace(s, faults=(fault,), lidarlite={**s.lidarlite, "variant": variant}),
        runtime,
    )


def _rows(result: SimResult, start: float, end: float) -> list[dict]:
    return [r for r in result.telemetry if start <= r["t_s"] < end]


def _first(rows: list[dict], statuses: set[int]) -> int | None:
    return next((k for k, r in enumerate(rows) if r["rf_status"] in statuses), None)


BAD = {rf.RF_NO_DATA, rf.RF_NOT_CONNECTED}
# Frozen registers ("stale") read GOOD until the driver's detector fires (50 ticks); the
# estimator's kinematic consistency test rejects the frozen value within a few ticks meanwhile
# (tests/test_firmware_core.py), so the hopper lands under every fault here.
# fault, params -> (health reported during the fault, ticks to report it, ticks to GOOD after)
CASES = {
    "nack_burst": ({}, BAD, 2, 10),
    "bus_lockup": ({}, BAD, 2, 25),
    "stuck_zero": ({}, BAD, 3, 35),
    "busy_stuck": ({}, BAD, 3, 35),
    "read_ff": ({}, BAD, 2, 10),
    "stale": ({}, BAD, 55, 10),
    "signal_loss": ({}, {rf.RF_OUT_OF_RANGE_HIGH}, 3, 3),
    "power_cycle": ({}, BAD, 2, 10),
    "latency": ({"ms": 60.0}, BAD, 4, 10),
}


def _check_loop_health(result: SimResult) -> None:
    rows = result.telemetry
    assert max(r["i2c_tx"] for r in rows) <= MAX_TX_PER_TICK
    assert all(r["i2c_tx"] == r["rf_tx"] for r in rows)  # the firmware counts what it did
    assert result.summary["faults"] == 0  # nothing escaped into the loop's catch-all
    first = PREFLIGHT_TICKS + 1  # the firmware ran its preflight ticks in SAFE before ARM
    assert [r["tick"] for r in rows] == list(range(first, first + len(rows)))  # none skipped


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_lidar_fault_is_reported_and_recovered_in_sil(
    hopper: Scenario, name: str, variant: str
) -> None:
    params, statuses, within, recover = CASES[name]
    if variant == "v3hp" and name == "power_cycle":
        recover = 10  # v3HP defaults are the configuration: nothing to rewrite
    result = _fly(hopper, Fault("lidarlite", name, START_S, END_S, params), variant)
    _check_loop_health(result)
    before = _rows(result, START_S - 0.2, START_S)
    assert all(r["rf_status"] == rf.RF_GOOD for r in before)
    k = _first(_rows(result, START_S, END_S), statuses)
    assert k is not None and k <= within, [r["rf_status"] for r in _rows(result, START_S, END_S)]
    k = _first(_rows(result, END_S, END_S + 1.0), {rf.RF_GOOD})
    assert k is not None and k <= recover
    assert result.summary["outcome"] == "landed"


@pytest.mark.parametrize("name", ["secondary_return", "post_reset_drift"])
def test_lidar_faults_the_driver_does_not_flag_leave_it_good(hopper: Scenario, name: str) -> None:
    result = _fly(hopper, Fault("lidarlite", name, START_S, END_S))
    _check_loop_health(result)
    during = _rows(result, START_S, END_S)
    assert sum(r["rf_status"] == rf.RF_GOOD for r in during) >= 0.9 * len(during)
    assert result.summary["outcome"] == "landed"


def test_the_hopper_reads_the_emulated_lidar_from_the_third_tick(hopper: Scenario) -> None:
    result = run_scenario(hopper, "cpython")
    statuses = [r["rf_status"] for r in result.telemetry]
    assert statuses[2] == rf.RF_GOOD
    _check_loop_health(result)


def test_lidar_faults_give_identical_telemetry_under_micropython(
    hopper: Scenario, micropython_bin: str
) -> None:
    fault = Fault("lidarlite", "bus_lockup", START_S, END_S)
    mp = _fly(hopper, fault, runtime="micropython")
    cp = _fly(hopper, fault, runtime="cpython")
    assert mp.summary["telemetry_sha256"] == cp.summary["telemetry_sha256"]
    _check_loop_health(mp)
