"""Monte Carlo: seeded dispersions, campaigns independent of the worker count, any run
reproducible alone from its seed, outputs, and the `softland mc` command's errors."""

from __future__ import annotations

import csv
import dataclasses
import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_softland

from softland.errors import UserError
from softland.simulation.dispersions import (
    DRAW_NAMES,
    FLIGHT_START_S,
    DispersionDraw,
    apply_dispersions,
    apply_draw,
    dispersed_run,
    dispersed_run_with_draw,
    dispersion_rng,
    draw_dispersions,
)
from softland.simulation.mc import Campaign, RunSpec, run_campaign, run_one, write_campaign
from softland.simulation.scenario import Dispersions, Fault, Scenario
from softland.simulation.sim import firmware_parameters, run_scenario

ALL_SIGMAS = Dispersions(
    altitude_sigma_m=50.0,
    velocity_sigma_mps=2.0,
    nav_altitude_sigma_m=20.0,
    nav_velocity_sigma_mps=0.3,
    mass_sigma_fraction=0.02,
    thrust_sigma_fraction=0.02,
    isp_sigma_fraction=0.01,
    sensor_noise_scale_sigma=0.2,
    imu_bias_sigma_mps2=0.003,
    fault_time_sigma_s=1.0,
    terrain_sigma_m=100.0,
)
CAMPAIGN_RUNS = 8
CAMPAIGN_SEED = 100


@pytest.fixture(scope="module")
def dispersed(nominal: Scenario) -> Scenario:
    return dataclasses.replace(nominal, dispersions=ALL_SIGMAS)


@pytest.fixture(scope="module")
def campaign(dispersed: Scenario) -> Campaign:
    return run_campaign(dispersed, CAMPAIGN_RUNS, CAMPAIGN_SEED, workers=1, runtime="cpython")


# ------------------------------------------------------------------ dispersions


def test_dispersions_are_deterministic_from_the_seed(dispersed: Scenario) -> None:
    a = draw_dispersions(dispersed, dispersion_rng(7))
    b = draw_dispersions(dispersed, dispersion_rng(7))
    c = draw_dispersions(dispersed, dispersion_rng(8))
    assert a == b
    assert a != c
    assert len(a.z) == len(DRAW_NAMES)
    assert dispersed_run(dispersed, 7) == dispersed_run(dispersed, 7)
    assert apply_dispersions(dispersed, dispersion_rng(7)) == dispersed_run(dispersed, 7)


def test_a_zero_sigma_does_not_shift_the_other_draws(dispersed: Scenario) -> None:
    fewer = dataclasses.replace(
        dispersed,
        dispersions=dataclasses.replace(
            ALL_SIGMAS, altitude_sigma_m=0.0, mass_sigma_fraction=0.0, imu_bias_sigma_mps2=0.0
        ),
    )
    full = draw_dispersions(dispersed, dispersion_rng(3))
    some = draw_dispersions(fewer, dispersion_rng(3))
    assert some.z == full.z
    assert (some.d_altitude_m, some.mass_factor, some.d_imu_bias_mps2) == (0.0, 1.0, 0.0)
    for name in ("d_velocity_mps", "d_nav_altitude_m", "thrust_factor", "isp_factor"):
        assert getattr(some, name) == getattr(full, name), name
    assert some.range_noise_factor == full.range_noise_factor


def test_the_dispersion_stream_is_not_the_sim_noise_stream() -> None:
    sim_stream = np.random.default_rng(5).standard_normal(4)
    assert not np.allclose(dispersion_rng(5).standard_normal(4), sim_stream)


def test_every_quantity_is_dispersed(dispersed: Scenario) -> None:
    s, draw = dispersed_run_with_draw(dispersed, 11)
    n = dispersed
    assert s.initial.altitude_m == pytest.approx(n.initial.altitude_m + draw.d_altitude_m)
    assert s.initial.velocity_mps != n.initial.velocity_mps
    assert s.initial.altitude_error_m != n.initial.altitude_error_m
    assert s.initial.velocity_error_mps != n.initial.velocity_error_mps
    assert s.vehicle.mass_kg != n.vehicle.mass_kg
    assert s.vehicle.propellant_kg == n.vehicle.propellant_kg
    assert s.vehicle.max_thrust_n != n.vehicle.max_thrust_n
    assert s.vehicle.isp_s != n.vehicle.isp_s
    assert s.imu.noise_mps2 == pytest.approx(n.imu.noise_mps2 * draw.imu_noise_factor)
    assert s.imu.bias_mps2 == pytest.approx(n.imu.bias_mps2 + draw.d_imu_bias_mps2)
    cfg, nominal_cfg = s.lrf_config(), n.lrf_config()
    assert cfg.noise_m == pytest.approx(nominal_cfg.noise_m * draw.range_noise_factor)
    assert cfg.noise_fraction == pytest.approx(
        nominal_cfg.noise_fraction * draw.range_noise_factor
    )
    assert s.rangefinder.noise_m == pytest.approx(n.rangefinder.noise_m * draw.range_noise_factor)


def test_the_firmware_is_told_the_nominal_vehicle(dispersed: Scenario) -> None:
    big = dataclasses.replace(
        dispersed,
        dispersions=dataclasses.replace(
            ALL_SIGMAS, mass_sigma_fraction=0.1, thrust_sigma_fraction=0.1, isp_sigma_fraction=0.1
        ),
    )
    nominal_params = firmware_parameters(big)
    for seed in range(5):
        s, draw = dispersed_run_with_draw(big, seed)
        params = firmware_parameters(s)
        assert s.vehicle != big.vehicle
        assert params["amax0_mm_s2"] == nominal_params["amax0_mm_s2"]
        assert params["isp_s"] == nominal_params["isp_s"]
        true_amax = round(s.vehicle.max_thrust_n / s.vehicle.mass_kg * 1000)
        assert true_amax != nominal_params["amax0_mm_s2"]
        # the navigation handover follows the true state, with its own (dispersed) error
        belief = s.initial.altitude_m + s.initial.altitude_error_m
        assert params["init_alt_mm"] == round(belief * 1000)
        assert belief - s.initial.altitude_m == pytest.approx(
            big.initial.altitude_error_m + draw.d_nav_altitude_m
        )
    # a scenario's own override wins
    told = dataclasses.replace(big, firmware={**big.firmware, "amax0_mm_s2": 3000})
    assert firmware_parameters(dispersed_run(told, 1))["amax0_mm_s2"] == 3000


def test_impossible_draws_are_clipped(dispersed: Scenario) -> None:
    huge = Dispersions(
        altitude_sigma_m=1e6,
        nav_altitude_sigma_m=1e6,
        mass_sigma_fraction=100.0,
        thrust_sigma_fraction=100.0,
        isp_sigma_fraction=100.0,
        sensor_noise_scale_sigma=100.0,
    )
    s0 = dataclasses.replace(dispersed, dispersions=huge)
    for seed in range(40):
        s = dispersed_run(s0, seed)
        assert s.initial.altitude_m > 0
        assert s.initial.altitude_m + s.initial.altitude_error_m >= 0
        assert s.vehicle.mass_kg > s.vehicle.propellant_kg
        assert s.vehicle.max_thrust_n > 0 and s.vehicle.isp_s > 0
        assert s.imu.noise_mps2 >= 0 and s.rangefinder.noise_m >= 0
        assert s.lrf["noise_m"] >= 0 and s.lrf["noise_fraction"] >= 0


def test_fault_windows_shift_together_and_clip_at_the_flight_start(nominal: Scenario) -> None:
    s = dataclasses.replace(
        nominal,
        faults=(
            Fault("lrf", "signal_loss", 10.0, 20.0),
            Fault("lrf", "stuck", 30.0, None),
            Fault("lrf", "garbage", 0.0, 5.0),
        ),
    )
    moved = apply_draw(s, DispersionDraw(fault_shift_s=2.5)).faults
    assert [(f.start_s, f.end_s) for f in moved] == [(12.5, 22.5), (32.5, None), (0.0, 7.5)]
    early = apply_draw(s, DispersionDraw(fault_shift_s=-15.0)).faults
    # the first window clips to the flight's start (just after t = 0: not from power-on, which
    # a start at 0 declares); the power-on one ends before t = 0: it never happens
    assert [(f.name, f.start_s, f.end_s) for f in early] == [
        ("signal_loss", FLIGHT_START_S, 5.0),
        ("stuck", 15.0, None),
    ]
    shifts = {
        dispersed_run(dataclasses.replace(s, dispersions=ALL_SIGMAS), k).faults[1].start_s
        for k in range(3)
    }
    assert len(shifts) == 3


def test_terrain_elevations_scale(nominal: Scenario) -> None:
    from softland.simulation.scenario import TerrainStep

    s = dataclasses.replace(
        nominal,
        terrain=(TerrainStep(5.0, -3000.0), TerrainStep(9.0, -1500.0)),
        dispersions=Dispersions(terrain_sigma_m=300.0),
    )
    out, draw = dispersed_run_with_draw(s, 4)
    z = draw.z[DRAW_NAMES.index("terrain")]
    assert draw.terrain_factor == pytest.approx(1 + 300.0 * z / 3000.0)
    assert [t.elevation_m for t in out.terrain] == pytest.approx(
        [-3000.0 * draw.terrain_factor, -1500.0 * draw.terrain_factor]
    )
    assert [t.t_s for t in out.terrain] == [5.0, 9.0]


def test_a_scenario_without_dispersions_flies_unchanged(nominal: Scenario) -> None:
    import dataclasses

    from softland.simulation.scenario import Dispersions

    plain = dataclasses.replace(nominal, dispersions=Dispersions())
    assert dispersed_run(plain, 123) is plain
    # and applying zero dispersions changes nothing the sim sees
    zero = apply_dispersions(plain, dispersion_rng(123))
    assert firmware_parameters(zero) == firmware_parameters(plain)
    assert zero.vehicle == plain.vehicle and zero.initial == plain.initial
    assert zero.lrf_config() == plain.lrf_config()


# ------------------------------------------------------------------ campaigns


def test_campaign_does_not_depend_on_the_worker_count(
    dispersed: Scenario, campaign: Campaign
) -> None:
    parallel = run_campaign(dispersed, CAMPAIGN_RUNS, CAMPAIGN_SEED, workers=2)
    assert parallel.workers == 2
    assert parallel.runs == campaign.runs
    one, two = campaign.summary(), parallel.summary()
    for key in ("wall_time_s", "workers"):
        one.pop(key), two.pop(key)
    assert one == two
    assert [r["seed"] for r in campaign.runs] == list(
        range(CAMPAIGN_SEED, CAMPAIGN_SEED + CAMPAIGN_RUNS)
    )
    assert len({r["telemetry_sha256"] for r in campaign.runs}) == CAMPAIGN_RUNS


def test_campaign_summary(campaign: Campaign) -> None:
    s = campaign.summary()
    assert s["runs"] == CAMPAIGN_RUNS and s["seed"] == CAMPAIGN_SEED
    assert s["runtime"] == "cpython" and s["controller"] == "firmware"
    assert s["outcomes"]["landed"] == CAMPAIGN_RUNS
    assert s["landed_rate"] == 1.0
    passed = [r["passed"] for r in campaign.runs]
    assert s["success_rate"] == pytest.approx(sum(passed) / CAMPAIGN_RUNS)
    assert s["failed_seeds"] == [r["seed"] for r in campaign.runs if not r["passed"]]
    speeds = sorted(r["touchdown_vertical_speed_mps"] for r in campaign.runs)
    assert s["touchdown_speed_max"] == speeds[-1] < 2.0
    assert 0 < s["touchdown_speed_p50"] <= s["touchdown_speed_p99"] <= s["touchdown_speed_max"]
    assert s["touchdown_speed_p50"] == pytest.approx(float(np.median(speeds)), abs=1e-4)
    assert 1.0 <= s["delta_v_ratio_p50"] <= s["delta_v_ratio_p99"] < 1.2
    assert s["errors"] == 0


def test_the_delta_v_ratio_is_against_the_variable_mass_optimum(campaign: Campaign) -> None:
    for r in campaign.runs:
        assert r["delta_v_ratio"] == pytest.approx(
            r["delta_v_mps"] / r["delta_v_optimal_variable_mass_mps"], abs=2e-4
        )
        assert r["delta_v_ratio_closed_form"] == pytest.approx(
            r["delta_v_mps"] / r["delta_v_optimal_mps"], abs=2e-4
        )
        # the closed form overstates the optimum: its ratio is the lower one
        assert r["delta_v_ratio_closed_form"] < r["delta_v_ratio"]
    s = campaign.summary()
    assert s["delta_v_ratio_closed_form_p50"] < s["delta_v_ratio_p50"]


def test_any_run_is_reproduced_alone_from_its_seed(
    dispersed: Scenario, campaign: Campaign
) -> None:
    row = campaign.runs[5]
    seed = row["seed"]
    # as `softland sim --seed` flies it (it names the controller: its upload is hashed too)
    alone = run_scenario(
        dispersed_run(dispersed, seed), "cpython", seed=seed, controller="firmware"
    )
    assert alone.summary["telemetry_sha256"] == row["telemetry_sha256"]
    assert alone.summary["touchdown_vertical_speed_mps"] == row["touchdown_vertical_speed_mps"]


@pytest.mark.micropython
def test_campaign_runs_hash_the_same_under_micropython(
    dispersed: Scenario, campaign: Campaign, micropython_bin: str
) -> None:
    mp = run_campaign(
        dispersed, 2, CAMPAIGN_SEED, runtime="micropython", micropython=micropython_bin
    )
    assert mp.runtime == "micropython"
    hashes = [r["telemetry_sha256"] for r in mp.runs]
    assert hashes == [r["telemetry_sha256"] for r in campaign.runs[:2]]


def test_outputs(campaign: Campaign, tmp_path: Path) -> None:
    paths = write_campaign(campaign, tmp_path / "out")
    summary = json.loads(paths["summary"].read_text())
    for key in (
        "runs",
        "success_rate",
        "landed_rate",
        "touchdown_speed_p50",
        "touchdown_speed_p99",
        "touchdown_speed_max",
        "delta_v_ratio_p50",
        "delta_v_ratio_p99",
        "outcomes",
        "failed_seeds",
        "wall_time_s",
        "workers",
    ):
        assert key in summary, key
    with paths["runs"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == CAMPAIGN_RUNS
    assert rows[3]["seed"] == str(CAMPAIGN_SEED + 3)
    assert rows[3]["telemetry_sha256"] == campaign.runs[3]["telemetry_sha256"]
    for column in (
        "outcome",
        "delta_v_ratio",
        "delta_v_ratio_closed_form",
        "delta_v_optimal_variable_mass_mps",
        "propellant_used_kg",
        "mass_factor",
    ):
        assert rows[0][column] != "", column
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_that_raises_is_recorded_not_fatal(nominal: Scenario) -> None:
    row = run_one(RunSpec(nominal, 1, "cpython", controller="no-such-controller"))
    assert row["outcome"] == "error" and row["passed"] is False
    assert "no-such-controller" in row["error"]


def test_campaign_rejects_bad_arguments(nominal: Scenario) -> None:
    with pytest.raises(UserError, match="--runs"):
        run_campaign(nominal, 0, 1)
    with pytest.raises(UserError, match="--seed"):
        run_campaign(nominal, 1, -1)
    with pytest.raises(UserError, match="--workers"):
        run_campaign(nominal, 1, 1, workers=-2)
    with pytest.raises(UserError, match="controller"):
        run_campaign(nominal, 1, 1, controller="bogus")


# ------------------------------------------------------------------ CLI


_softland = partial(run_softland, columns=1000)  # one line per message, however long


def test_cli_runs_a_campaign(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    proc = _softland(
        "mc", "earth-hopper", "--runs", "3", "--seed", "5", "--out", str(out), "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 3 and summary["run_seeds"] == [5, 7]
    assert "success rate" in proc.stdout
    assert (out / "runs.csv").is_file() and (out / "dispersion.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nominal", "--runs", "0"), "--runs must be positive"),
        (("nominal", "--runs", "many"), "--runs must be an integer"),
        (("nominal", "--seed", "-3"), "--seed must be at least 0"),
        (("nominal", "--workers", "-1"), "--workers must be at least 0"),
        (("nominal", "--controller", "apollo"), "unknown controller 'apollo'"),
        (("nominal", "--runtime", "pypy"), "unknown runtime 'pypy'"),
        (("no-such-scenario",), "unknown scenario 'no-such-scenario'"),
        (("missing/file.toml",), "scenario file not found"),
    ],
)
def test_cli_bad_input_is_one_clear_error(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    proc = _softland("mc", *args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and message in lines[0], lines[0]
