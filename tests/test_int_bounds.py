"""Small-int discipline: over a whole descent, no integer in the firmware leaves +/-2^30."""

from __future__ import annotations

from softland.analysis.intcheck import instrumented_firmware
from softland.boards.firmware import firmware_dir
from softland.simulation.scenario import Scenario
from softland.simulation.sim import run_scenario


def test_no_integer_leaves_the_small_int_range_over_a_descent(nominal: Scenario) -> None:
    with instrumented_firmware(firmware_dir()) as tracker:
        result = run_scenario(nominal, "cpython")
    assert result.summary["outcome"] == "landed"
    assert tracker.count > 1_000_000  # the whole loop was instrumented
    assert tracker.violations == [], tracker.violations[:5]
    assert tracker.max_abs < 2**30


def test_the_checker_sees_the_loop_arithmetic(nominal: Scenario) -> None:
    # with a 21-bit bound the same descent must trip the checker: it is wired into the loop
    with instrumented_firmware(firmware_dir(), lo=-(2**20), hi=2**20 - 1) as tracker:
        run_scenario(nominal, "cpython")
    assert tracker.violation_count > 0


def test_no_integer_leaves_the_small_int_range_over_a_blind_descent() -> None:
    # IM-2: ranges scattered by metres make the terminal descent blind (ramp, inertial
    # velocity, ground reaction, propellant budget), after a coast bias calibration
    from softland.simulation.scenario import load_scenario

    with instrumented_firmware(firmware_dir()) as tracker:
        result = run_scenario(load_scenario("im2"), "cpython")
    assert "blind" in [e["name"] for e in result.events]
    assert result.summary["outcome"] == "landed"
    assert tracker.violations == [], tracker.violations[:5]


def test_no_integer_leaves_the_small_int_range_through_the_second_tracks_and_an_impact() -> None:
    # the estimator's candidate (farther ground held: `hold`), its re-base after persisting
    # (ispace-m1), the switch back to the track a re-base left (`revert`), and the land
    # detector's impact (`impact`, a bounce)
    from softland.simulation.scenario import load_scenario

    seen: set[str] = set()
    with instrumented_firmware(firmware_dir()) as tracker:
        for name in ("ispace-m1", "false-return-short", "bounce"):
            result = run_scenario(load_scenario(name), "cpython")
            assert result.summary["outcome"] == "landed"
            seen |= {e["name"] for e in result.events}
    assert {"hold", "rebase", "revert", "impact"} <= seen
    assert tracker.violations == [], tracker.violations[:5]


def test_no_integer_leaves_the_small_int_range_over_an_honest_large_handover() -> None:
    # handover-large: sigma0 510 m (beyond the old 250 m cap), the ground ~600 m below the
    # estimate at the first range: the wide innovation, sigma's shrink and the acquisition
    from softland.simulation.scenario import load_scenario

    scenario = load_scenario("handover-large")
    assert scenario.firmware["sigma0_mm"] > 250_000
    with instrumented_firmware(firmware_dir()) as tracker:
        result = run_scenario(scenario, "cpython")
    assert result.summary["outcome"] == "landed"
    assert tracker.violations == [], tracker.violations[:5]


def test_no_integer_leaves_the_small_int_range_through_accelerometer_faults() -> None:
    # imu-braking: the accelerometer monitor distrusts the six faults (step, level, noise,
    # frozen) and the tick flies the thrust model in between; the terminal ramp and the
    # stopping feed-forward at the end
    from softland.simulation.scenario import load_scenario

    with instrumented_firmware(firmware_dir()) as tracker:
        result = run_scenario(load_scenario("imu-braking"), "cpython")
    assert "acc_bad" in [e["name"] for e in result.events]
    assert result.summary["outcome"] == "landed"
    assert tracker.violations == [], tracker.violations[:5]
