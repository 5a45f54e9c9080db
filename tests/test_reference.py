"""The float64 reference model (softland.analysis.reference): the physics it is written from,
and how it keeps in step with the firmware's decisions at a threshold."""

from __future__ import annotations

import math

import pytest

from softland.analysis.reference import (
    DecisionJudge,
    FirmwareDecisions,
    RefEstimator,
    RefGuidance,
    RefParams,
    Tolerances,
)
from softland.boards.firmware import fsw_module


@pytest.fixture
def params() -> RefParams:
    return RefParams.from_values(list(fsw_module("params").Params().v))


def test_parameters_are_converted_to_physical_units(params: RefParams) -> None:
    assert params.period_s == pytest.approx(0.02)
    assert params.g == pytest.approx(1.62)
    assert params.guid_k == pytest.approx(3686 / 4096)
    assert params.thr_min == pytest.approx(6554 / 32767)


def test_the_estimator_integrates_a_constant_acceleration_exactly(params: RefParams) -> None:
    est = RefEstimator(params, DecisionJudge(), Tolerances())
    est.reset(1000.0, -10.0, 1.0)
    for _ in range(500):  # 10 s at 50 Hz, no ranges
        est.predict(1.0, imu=True)
    assert est.vel == pytest.approx(-10.0 + 1.0 * 10)
    assert est.alt == pytest.approx(1000.0 - 10.0 * 10 + 0.5 * 1.0 * 100)
    assert est.sigma == pytest.approx(1.0 + params.sigma_grow * 10)


def test_the_schedule_is_the_stopping_speed_with_margin(params: RefParams) -> None:
    guid = RefGuidance(params, DecisionJudge(), Tolerances())
    guid.reset()
    a_max = 3.24
    guid.step(100.0, -5.0, 0.2, a_max, terminal=False, hover=False)
    ka = params.guid_khi * (a_max - params.g)
    h = 100.0 - params.nsigma * 0.2 - params.term_alt
    # ending at the gate at the terminal ramp's speed: v_td less a quarter of ka (bounded)
    ramp = min(ka / 4, RefGuidance.RAMP_A_MAX)
    v2 = params.vtd**2 + 2 * ramp * params.term_alt + 2 * ka * h
    assert guid.vref == pytest.approx(-math.sqrt(v2))


def test_the_terminal_ramp_ends_at_the_touchdown_speed(params: RefParams) -> None:
    guid = RefGuidance(params, DecisionJudge(), Tolerances())
    guid.reset()
    guid.step(0.4, -1.0, 0.2, 3.24, terminal=True, hover=False)  # h_low 0: on the ground
    assert guid.vref == pytest.approx(-params.vtd)
    guid.step(1.4, -1.0, 0.2, 3.24, terminal=True, hover=False)  # h_low 1 m
    assert -guid.vref > params.vtd


def _fw(flags: int) -> FirmwareDecisions:
    return FirmwareDecisions(mode=2, phase=1, flags=flags, flags2=0)


def test_within_the_tolerance_the_firmware_decision_is_taken_and_recorded() -> None:
    judge = DecisionJudge()
    judge.begin(7, _fw(flags=1))
    taken = judge.decide("gate", False, -0.001, 0.01, lambda fw: bool(fw.flags & 1), flags=1)
    assert taken is True
    assert judge.follow_count == {"gate": 1}
    assert judge.followed[0].tick == 7
    assert judge.ambiguous_flags == 1


def test_beyond_the_tolerance_the_reference_keeps_its_own_decision() -> None:
    judge = DecisionJudge()
    judge.begin(7, _fw(flags=1))
    taken = judge.decide("gate", False, -0.5, 0.01, lambda fw: bool(fw.flags & 1), flags=1)
    assert taken is False
    assert judge.follow_count == {}
    assert judge.ambiguous_flags == 0


def test_before_the_flight_there_is_no_firmware_decision_to_follow() -> None:
    judge = DecisionJudge()
    judge.begin(1, None)
    assert judge.decide("gate", False, 0.0, 0.01, lambda fw: True) is False
