"""Every built-in scenario flies the same on the 32-bit MicroPython unix port (31-bit small
ints, as on a board) as under CPython (unbounded ints; tests/test_sim.py holds it
byte-identical to the 64-bit port): same telemetry hash, heap locked for the whole loop, no
fault. The mission baselines too: they fly to the crash or the empty tank, where the firmware
controller never goes.

A firmware intermediate outside -2^30 .. 2^30-1 is a heap object on 32 bits: under the locked
heap a MemoryError, caught by the app and counted as a fault, so the telemetry differs.
CPython is the reference rather than the 64-bit port: the test then needs only the 32-bit
binary, and an integer that only fits in 64 bits still shows."""

from __future__ import annotations

import pytest

from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import builtin_names, load_scenario
from softland.simulation.sim import SimResult, run_scenario

# the baselines that reproduce the missions (README)
MISSION_BASELINES = [("ispace-m2", "naive"), ("ispace-m1", "latching"), ("beresheet", "volatile")]


def _fly(name: str, runtime: str, binary: str | None, controller: str) -> SimResult:
    # as `softland sim NAME` flies it: the scenario's own seed, dispersed where it disperses
    scenario = dispersed_run(load_scenario(name))
    return run_scenario(scenario, runtime, micropython=binary, controller=controller)


def _assert_same_flight(name: str, controller: str, micropython32_bin: str) -> None:
    reference = _fly(name, "cpython", None, controller).summary
    on32 = _fly(name, "micropython32", micropython32_bin, controller).summary
    assert on32["runtime"] == "micropython32"
    assert on32["faults"] == 0
    assert on32["ticks"] == reference["ticks"]
    assert on32["telemetry_sha256"] == reference["telemetry_sha256"]


@pytest.mark.micropython32
@pytest.mark.parametrize("name", builtin_names())
def test_scenario_flies_identically_on_the_32bit_port(name: str, micropython32_bin: str) -> None:
    _assert_same_flight(name, "firmware", micropython32_bin)


@pytest.mark.micropython32
@pytest.mark.parametrize(("name", "controller"), MISSION_BASELINES)
def test_mission_baseline_flies_identically_on_the_32bit_port(
    name: str, controller: str, micropython32_bin: str
) -> None:
    _assert_same_flight(name, controller, micropython32_bin)
