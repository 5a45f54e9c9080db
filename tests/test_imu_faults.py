"""Accelerometer faults of a scenario ([[faults]] with sensor "imu"): checked at load with one
message naming the field, played by the SIL accelerometer model (what each tick frame carries
during and after the window) and in the closed loop, where they never shift the noise stream."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from softland.devices.imu_faults import FAULT_NAMES, lsm6dsox_fault, parse_fault
from softland.errors import UserError
from softland.simulation.scenario import Fault, Imu, load_scenario, parse_scenario
from softland.simulation.sensors import ImuModel
from softland.simulation.sim import run_scenario

FORCE = 3.0  # m/s^2 of specific force flown
START, END = 1.0, 2.0
DT = 0.02


def _model(name: str, end_s: float = END, **params: object) -> ImuModel:
    spec = parse_fault(name, START, end_s, **params)
    return ImuModel(
        Imu(noise_mps2=0.01, bias_mps2=0.0),
        np.random.default_rng(1),
        [spec],
        np.random.default_rng(2),
    )


def _fly(model: ImuModel, t_end: float = 3.0) -> list[tuple[float, int, bool]]:
    out = []
    for k in range(round(t_end / DT)):
        t = k * DT
        s = model.sample_at(FORCE, t)
        out.append((t, s.acc_mm_s2, s.ok))
    return out


def _during(rows, lo=START, hi=END):
    return [r for r in rows if lo <= r[0] < hi - 1e-9]


def _after(rows):
    return [r for r in rows if r[0] >= END]


def _near_force(rows, tol_mm=60):
    return all(ok and abs(v - FORCE * 1000) < tol_mm for _, v, ok in rows)


def test_every_fault_kind_is_known_to_the_table() -> None:
    assert FAULT_NAMES == (
        "stuck",
        "bias_jump",
        "saturation",
        "dropout",
        "noise_burst",
        "frozen",
    )


def test_stuck_reads_the_constant_during_the_window_and_the_force_after() -> None:
    rows = _fly(_model("stuck", mps2=-4.5))
    assert {(v, ok) for _, v, ok in _during(rows)} == {(-4500, True)}
    assert _near_force(_after(rows))


def test_bias_jump_adds_its_offset_during_the_window_only() -> None:
    rows = _fly(_model("bias_jump", mps2=1.5))
    assert all(ok and abs(v - 4500) < 60 for _, v, ok in _during(rows))
    assert _near_force(_after(rows))


def test_saturation_clips_at_the_limit_during_the_window_only() -> None:
    rows = _fly(_model("saturation", limit_mps2=2.0))
    assert {(v, ok) for _, v, ok in _during(rows)} == {(2000, True)}
    assert _near_force(_after(rows))


def test_full_dropout_sends_acc_ok_false_with_the_last_value_then_good_samples() -> None:
    rows = _fly(_model("dropout"))
    before = [r for r in rows if r[0] < START][-1][1]
    assert {(v, ok) for _, v, ok in _during(rows)} == {(before, False)}
    assert _near_force(_after(rows))


def test_partial_dropout_loses_about_its_probability_of_the_samples() -> None:
    rows = _fly(_model("dropout", end_s=40.0, probability=0.3), t_end=40.0)
    lost = [not ok for _, _, ok in _during(rows, START, 40.0)]
    assert 0.2 < sum(lost) / len(lost) < 0.4


def test_noise_burst_widens_the_scatter_during_the_window_only() -> None:
    rows = _fly(_model("noise_burst", sigma_mps2=2.0), t_end=END + 1.0)
    inside = np.array([v for _, v, _ in _during(rows)]) / 1000.0
    assert 1.2 < float(np.std(inside)) < 3.0
    assert _near_force(_after(rows))


def test_frozen_repeats_the_last_sample_before_the_window() -> None:
    rows = _fly(_model("frozen"))
    before = [r for r in rows if r[0] < START][-1][1]
    assert {(v, ok) for _, v, ok in _during(rows)} == {(before, True)}
    assert _near_force(_after(rows))


def test_a_fault_draws_nothing_from_the_noise_stream() -> None:
    plain = ImuModel(Imu(), np.random.default_rng(1))
    faulted = _model("noise_burst")
    a = [plain.sample_at(FORCE, k * DT).acc_mm_s2 for k in range(40)]
    b = [faulted.sample_at(FORCE, k * DT).acc_mm_s2 for k in range(40)]
    assert a[: round(START / DT)] == b[: round(START / DT)]
    assert a[round(END / DT) :] == b[round(END / DT) :]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"name": "wobble"}, "unknown fault 'wobble'"),
        ({"name": "stuck", "params": {"mps2": "x"}}, "mps2 must be a number"),
        ({"name": "saturation", "params": {"limit_mps2": 0.0}}, "limit_mps2 must be > 0"),
        ({"name": "dropout", "params": {"probability": 1.5}}, "probability must be within"),
        ({"name": "frozen", "params": {"mps2": 1.0}}, "unknown parameter(s) mps2"),
        ({"name": "frozen", "end_s": 0.5}, "end_s (0.5) must be after start_s"),
    ],
)
def test_a_bad_imu_fault_is_refused_at_load_naming_the_fault_entry(fault, message) -> None:
    raw = _raw_nominal()
    raw["faults"] = [{"sensor": "imu", "start_s": 1.0, **fault}]
    with pytest.raises(UserError) as err:
        parse_scenario(raw, "x.toml")
    assert "x.toml: faults[0]" in str(err.value)
    assert message in str(err.value)


def _raw_nominal() -> dict:
    import tomllib

    from softland.simulation.scenario import BUILTIN_DIR

    return tomllib.loads((BUILTIN_DIR / "nominal.toml").read_text())


@pytest.mark.parametrize(
    ("name", "emulator"),
    [
        ("stuck", ("stuck", {"mps2": 0.0})),
        ("bias_jump", ("bias_jump", {"mps2": 2.0})),
        ("saturation", ("clip", {"mps2": 2.0})),
        ("dropout", ("dropout", {"probability": 1.0})),
        ("noise_burst", ("noise_burst", {"sigma_mps2": 5.0})),
        ("frozen", ("stuck", {})),
    ],
)
def test_each_fault_has_its_lsm6dsox_counterpart(name, emulator) -> None:
    assert lsm6dsox_fault(parse_fault(name, 1.0, 2.0)) == emulator


# --- closed loop (SIL, CPython) ----------------------------------------------------------------


def _short_nominal(*faults: Fault):
    s = load_scenario("nominal")
    return dataclasses.replace(
        s,
        sim=dataclasses.replace(s.sim, max_time_s=4.0),
        criteria=dataclasses.replace(s.criteria, outcome="timeout"),
        faults=faults,
    )


def test_a_dropout_in_flight_reaches_the_firmware_as_acc_ok_false_in_its_window() -> None:
    r = run_scenario(_short_nominal(Fault("imu", "dropout", 1.0, 2.0)), "cpython")
    inside = [row["imu_ok"] for row in r.telemetry if 1.0 <= row["t_s"] < 2.0 - 1e-9]
    after = [row["imu_ok"] for row in r.telemetry if row["t_s"] >= 2.0]
    assert inside and set(inside) == {0}
    assert after and set(after) == {1}


def test_a_frozen_sample_in_flight_is_one_value_for_the_window() -> None:
    r = run_scenario(_short_nominal(Fault("imu", "frozen", 1.0, 2.0)), "cpython")
    inside = {row["imu_mm_s2"] for row in r.telemetry if 1.0 <= row["t_s"] < 2.0 - 1e-9}
    assert len(inside) == 1


def test_an_imu_fault_after_the_flight_leaves_the_telemetry_unchanged() -> None:
    plain = run_scenario(_short_nominal(), "cpython")
    late = run_scenario(_short_nominal(Fault("imu", "noise_burst", 100.0, 101.0)), "cpython")
    assert plain.summary["telemetry_sha256"] == late.summary["telemetry_sha256"]
