"""The input clamps, counter wraps and overflow-free rewrites of the 32-bit integer discipline
(docs/architecture.md), as behaviours under CPython; tests/test_int32_props.py proves on the
32-bit runtime that none of them forms a value beyond 2^30."""

from __future__ import annotations

from typing import Any

from core_rig import descending, params
from hypothesis import given
from hypothesis import strategies as st

from softland.boards.firmware import fsw_module

fixmath = fsw_module("fixmath")
flags = fsw_module("flags")
flight_mod = fsw_module("flight")
rangefinder = fsw_module("rangefinder")

WRAP = 1 << 30
G64 = 627_648
SMALL = st.integers(-(1 << 30), (1 << 30) - 1)


def _tick(f: Any, acc: int, acc_ok: int = 1) -> None:
    f.tick(20_000, 0, rangefinder.RF_OUT_OF_RANGE_HIGH, acc, acc_ok)


def test_an_accelerometer_sample_beyond_64_g_is_clamped_and_flagged() -> None:
    clamped = descending()
    _tick(clamped, (1 << 30) - 1)
    at_limit = descending()
    _tick(at_limit, G64)
    assert clamped.flags2 & flags.ACC_CLAMPED
    assert clamped.est.vel_q8 == at_limit.est.vel_q8  # used as +64 g


def test_a_sample_within_64_g_is_not_flagged() -> None:
    f = descending()
    _tick(f, -G64)
    assert not f.flags2 & flags.ACC_CLAMPED


def test_a_bad_sample_is_not_flagged_whatever_its_value() -> None:
    f = descending()
    _tick(f, -(1 << 30), acc_ok=0)
    assert not f.flags2 & flags.ACC_CLAMPED


def test_the_tick_counter_wraps_to_zero_after_2_30_minus_1() -> None:
    f = flight_mod.Flight(params(), lambda code, arg: None)
    f.ticks = WRAP - 1
    f.tick(0, 0, rangefinder.RF_OUT_OF_RANGE_HIGH, 0, 1)
    assert f.ticks == 0


@given(st.integers(0, WRAP - 1), SMALL)
def test_ticks_add_is_the_sum_modulo_2_30(a: int, delta: int) -> None:
    assert fixmath.ticks_add(a, delta) == (a + delta) % WRAP


@given(SMALL, SMALL)
def test_ticks_diff_takes_any_time_modulo_2_30(a: int, b: int) -> None:
    d = fixmath.ticks_diff(a, b)
    assert -(1 << 29) <= d < 1 << 29
    assert (b + d - a) % WRAP == 0


@given(st.integers(-G64 - 21_000, G64 + 21_000), st.integers(5, 25), st.integers(0, 100))
def test_the_split_blind_velocity_step_equals_the_single_division(
    acc: int, period_ms: int, steps: int
) -> None:
    # flight.py: (acc * period * steps * 32) // 125 rewritten so that no product passes 2^30
    dv = acc * period_ms * 32
    assert (dv // 125) * steps + ((dv % 125) * steps) // 125 == (
        acc * period_ms * steps * 32
    ) // 125


@given(st.integers(0, 32_000), st.integers(1, 32_767), st.integers(2048, 6144))
def test_the_bounded_learning_quotient_gives_the_unbounded_ratio(
    f: int, expected: int, perf: int
) -> None:
    # control.py learn(): the quotient bounded at 2 * _PERF_MAX before the multiply
    def clamp(x: int) -> int:
        return min(max(x, 2048), 6144)

    q = (f << 12) // expected
    assert clamp((min(q, 12_288) * perf) >> 12) == clamp((q * perf) >> 12)


def _fly_case(name: str) -> tuple[Any, list[int], int]:
    # a REGRESSIONS case of tests/int32_rig.py flown under CPython: the Flight after its
    # ticks, the event codes and the FLAGS2 bits seen (the 32-bit run proves it bounded)
    from int32_rig import REGRESSIONS, _runner_module

    runner = _runner_module()
    case = REGRESSIONS[name]
    codes: list[int] = []
    f = flight_mod.Flight(runner.make_params(case.params), lambda code, arg: codes.append(code))
    runner.setup_flight(f, case.setup)
    seen = 0
    for now, range_mm, status, acc, acc_ok, age in case.steps:
        f.tick(now, range_mm, status, acc, acc_ok, age)
        seen |= f.flags2
    return f, codes, seen


def test_the_widest_sigma_case_reaches_acquisition_with_the_ground_far_below() -> None:
    f, _, seen = _fly_case("acquisition_at_the_sigma_limit_ground_below")
    assert seen & flags.RANGE_ACQUIRING
    assert f.est.alt_mm < 102_000_000  # most of the 18 km pulled in


def test_the_widest_sigma_case_reaches_acquisition_with_the_ground_far_above() -> None:
    _, _, seen = _fly_case("acquisition_at_the_sigma_limit_ground_above")
    assert seen & flags.RANGE_ACQUIRING


def test_the_blind_band_case_at_the_altitude_limit_is_sighted_and_descends() -> None:
    f, codes, _ = _fly_case("blind_band_cleared_at_the_altitude_limit")
    assert flight_mod.EV_SIGHTED in codes
    assert f.mode == flight_mod.DESCENT
