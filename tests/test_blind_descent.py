"""Uncertainty too large to land on: the blind descent, its land detection, its declarations.

No trusted altitude (sigma or the ranges' scatter above the terminal altitude) means the normal
terminal segment cannot be flown: guidance sinks slowly across the whole band h_est +/- n sigma,
the land detector recognises the ground by its reaction, and the firmware declares what it
cannot do (a band the propellant cannot cover, the propellant reserve reached)."""

from __future__ import annotations

from math import isqrt

import pytest
from core_rig import Events as _Events
from core_rig import descending
from core_rig import params as _params

from softland.boards.firmware import fsw_module
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

params_mod = fsw_module("params")
flags = fsw_module("flags")
guidance = fsw_module("guidance")
LandDetector = fsw_module("landdet").LandDetector
flight = fsw_module("flight")
rangefinder = fsw_module("rangefinder")

A_MAX = 3240
G = 1620


def _terminal(g, sigma_mm: int, ticks: int = 1, alt_mm: int = 0) -> None:
    for _ in range(ticks):
        g.step(alt_mm, -300, sigma_mm, A_MAX, True, False)


def test_guidance_sinks_at_the_blind_rate_when_sigma_is_above_the_gate() -> None:
    g = guidance.Guidance(_params(blind_sink_mm_s=300, term_alt_mm=2000))
    g.reset()
    _terminal(g, sigma_mm=80_000)
    assert g.phase == guidance.BLIND
    assert g.vref_mm_s == -300


def test_guidance_keeps_the_terminal_rate_with_a_trusted_altitude() -> None:
    g = guidance.Guidance(_params(vtd_mm_s=700, term_alt_mm=2000))
    g.reset()
    _terminal(g, sigma_mm=200)
    assert g.phase == guidance.TERMINAL
    assert g.vref_mm_s == -700


def test_blind_rate_rises_with_time_in_the_band_up_to_its_limit() -> None:
    g = guidance.Guidance(
        _params(blind_sink_mm_s=300, blind_ramp_mm_s2=10, blind_max_mm_s=1000, period_ms=20)
    )
    g.reset()
    _terminal(g, 80_000, ticks=50 * 20, alt_mm=-1_000_000)  # 20 s in the band
    assert g.vref_mm_s == -(300 + 10 * 20)
    _terminal(g, 80_000, ticks=50 * 100, alt_mm=-1_000_000)
    assert g.vref_mm_s == -1000


def test_blind_guidance_returns_to_the_schedule_above_the_band() -> None:
    g = guidance.Guidance(_params(blind_sink_mm_s=300, nsigma_q4=32, term_alt_mm=2000))
    g.reset()
    # a drifted velocity carried the vehicle back up: h_low = 100 m - 2 x 5 m, far above the gate
    g.step(100_000, 500, 5_000, A_MAX, True, False)
    assert g.phase == guidance.BLIND
    assert -g.vref_mm_s > 5_000


def test_blind_stays_blind_below_the_gate_when_the_scatter_dips() -> None:
    g = guidance.Guidance(_params(term_alt_mm=2000))
    g.reset()
    _terminal(g, sigma_mm=5_000)
    _terminal(g, sigma_mm=1_000)
    assert g.blind
    assert g.phase == guidance.BLIND


def test_schedule_ends_at_the_blind_rate_without_a_trusted_altitude() -> None:
    g = guidance.Guidance(_params(blind_sink_mm_s=300, vtd_mm_s=700))
    g.reset()
    g.step(3_000_000, -60_000, 80_000, A_MAX, False, False)
    assert g.schedule(0) == 300
    g.step(3_000_000, -60_000, 200, A_MAX, False, False)
    # trusted: v_td, plus the terminal ramp's speed at the gate (tests/test_terminal_descent.py)
    ramp = min(g.ka_mm_s2 >> 2, guidance._RAMP_A_MAX)
    term = params_mod.Params().v[params_mod.TERM_ALT_MM]
    assert abs(g.schedule(0) - isqrt(700 * 700 + 2 * ramp * term)) <= 1


def test_band_time_accounts_for_the_ramp_and_the_limit() -> None:
    g = guidance.Guidance(_params(blind_sink_mm_s=500, blind_ramp_mm_s2=0))
    assert g.band_s(100_000) == 200
    g = guidance.Guidance(_params(blind_sink_mm_s=500, blind_ramp_mm_s2=10, blind_max_mm_s=1500))
    # 100 s to reach 1.5 m/s over 100 m, then 100 m more at 1.5 m/s
    assert g.band_s(100_000) == 100
    assert g.band_s(250_000) == 200


def test_land_detector_recognises_the_ground_by_its_reaction_without_a_trusted_altitude() -> None:
    d = LandDetector(_params(land_time_ms=500, period_ms=20))
    thr_min = params_mod.default(params_mod.THR_MIN_Q15)
    # altitude and velocity estimates drifted far off: only the ground reaction counts
    landed = False
    for _ in range(25):
        landed = d.step(80_000, -1_500, thr_min, True, True, G - 650)
    assert d.contact
    assert landed


def test_land_detector_blind_needs_a_ground_reaction() -> None:
    d = LandDetector(_params())
    thr_min = params_mod.default(params_mod.THR_MIN_Q15)
    for _ in range(100):
        assert not d.step(0, 0, thr_min, True, True, 0)
    assert not d.contact


def test_land_detector_blind_contact_holds_down_to_half_its_threshold() -> None:
    d = LandDetector(_params())
    d.step(0, 0, 20000, True, True, G // 8 + 10)
    assert d.contact
    d.step(0, 0, 20000, True, True, G // 16 + 10)
    assert d.contact
    d.step(0, 0, 20000, True, True, G // 16 - 10)
    assert not d.contact


def _tick(f, k: int, acc_mm_s2: int) -> None:
    f.tick(k * 20_000, 0, rangefinder.RF_NO_DATA, acc_mm_s2, 1)


def test_flight_declares_the_reserve_once_when_propellant_reaches_it() -> None:
    events = _Events()
    f = descending(_params(dry_q15=26214, reserve_s=10), events)  # 80 % dry
    _tick(f, 0, 0)
    assert flight.EV_RESERVE not in events.codes()
    f.ctrl.mass_q24 = (26214 + 100) << 9  # a few seconds of hover left
    for k in range(1, 5):
        _tick(f, k, 0)
    assert events.codes().count(flight.EV_RESERVE) == 1


def test_flight_without_a_dry_mass_declares_no_reserve() -> None:
    events = _Events()
    f = descending(_params(dry_q15=0), events)
    f.ctrl.mass_q24 = 1 << 20
    _tick(f, 0, 0)
    assert f.hover_s() == -1
    assert flight.EV_RESERVE not in events.codes()


def test_flight_declares_the_blind_band_and_a_band_it_cannot_cover() -> None:
    events = _Events()
    # 100 m believed, sigma 80 m: the 2-sigma bound is already under the gate
    f = descending(
        _params(
            init_alt_mm=100_000,
            init_vel_mm_s=-5_000,
            sigma0_mm=80_000,
            cal_ms=0,
            dry_q15=32000,  # barely any propellant
        ),
        events,
    )
    for k in range(5):
        _tick(f, k, 0)
    assert f.mode == flight.TERMINAL
    assert f.phase == guidance.BLIND
    codes = events.codes()
    assert flight.EV_BLIND in codes
    assert flight.EV_SHORT in codes
    seen = dict(events.seen)
    assert seen[flight.EV_BLIND] == f.guid.band_s(2 * 2 * f.est.sigma_mm)
    assert seen[flight.EV_SHORT] < seen[flight.EV_BLIND]


def test_flight_measures_the_accelerometer_bias_in_the_coast() -> None:
    events = _Events()
    f = descending(_params(cal_ms=0), events)
    k = 0
    while flight.EV_ACC_CAL not in events.codes() and k < 3000:
        # free fall reads the bias, 5 mm/s^2, with the sensor's noise (one constant sample
        # after another would read as frozen to the accelerometer monitor)
        _tick(f, k, 5 + (1 if k % 2 else -1))
        k += 1
    bias = dict(events.seen)[flight.EV_ACC_CAL]
    assert bias == pytest.approx(5 * 256, abs=2)


def test_im1_lands_blind_and_the_ground_reaction_ends_the_descent() -> None:
    result = run_scenario(load_scenario("im1"), "cpython")
    s = result.summary
    names = [e["name"] for e in result.events]
    assert s["outcome"] == "landed"
    assert s["touchdown_vertical_speed_mps"] <= 2.0
    assert s["final_mode"] == "LANDED"  # recognised, not a timeout
    assert "blind" in names
    assert "acc_calibrated" in names


def test_guidance_plans_on_more_deceleration_once_the_altitude_is_trusted() -> None:
    g = guidance.Guidance(_params(guid_k_q12=3686, guid_khi_q12=3891, term_alt_mm=2000))
    g.reset()
    a_n = A_MAX - G
    g.step(1_000_000, -40_000, 200, A_MAX, False, False)
    assert g.ka_mm_s2 == (3891 * a_n) >> 12
    g.step(1_000_000, -40_000, 80_000, A_MAX, False, False)
    assert g.ka_mm_s2 == (3686 * a_n) >> 12


def test_range_scatter_above_the_gate_withdraws_the_trust_in_the_altitude() -> None:
    # a filter whose sigma sits at its floor, fed ranges scattered by +/- 5 m: the scatter,
    # not the filter's sigma, says how well the altitude is known
    events = _Events()
    f = descending(_params(init_alt_mm=500_000, init_vel_mm_s=0, sigma0_mm=200, cal_ms=0), events)
    for k in range(200):
        scatter = 5_000 if k % 2 else -5_000
        f.tick(k * 20_000, 500_000 + 1_000 + scatter, rangefinder.RF_GOOD, G, 1)
    assert f.est.sigma_mm < 2_000
    assert f.flags & flags.SIGMA_HIGH
    assert f.guid.blind


def test_steady_ranges_keep_the_altitude_trusted() -> None:
    events = _Events()
    f = descending(_params(init_alt_mm=500_000, init_vel_mm_s=0, sigma0_mm=200, cal_ms=0), events)
    for k in range(200):
        f.tick(k * 20_000, 500_000 + 1_000 + (k % 3) * 100, rangefinder.RF_GOOD, G, 1)
    assert not f.flags & flags.SIGMA_HIGH
    assert not f.guid.blind


def test_arm_refuses_a_blind_rate_above_its_limit() -> None:
    p = _params(blind_sink_mm_s=2500, blind_max_mm_s=2000)
    assert p.check() == params_mod.BLIND_SINK_MM_S * 8 + params_mod.E_CROSS


def test_an_engine_found_stronger_has_burnt_more_propellant() -> None:
    # the mass model burns at the told thrust; the engine performance learnt from the
    # accelerometer scales the propellant used in the hover time left
    f = descending(_params(dry_q15=26214))
    f.ctrl.mass_q24 = 29491 << 9  # 10 % of the start mass used
    told = f.hover_s()
    f.ctrl.perf_q12 = 4096 * 11 // 10  # the engine gives 10 % more than told
    assert f.hover_s() < told


def test_blind_band_is_left_once_sigma_stays_at_half_the_gate_for_a_second() -> None:
    g = guidance.Guidance(_params(term_alt_mm=2000, period_ms=20))
    g.reset()
    _terminal(g, sigma_mm=80_000)
    _terminal(g, sigma_mm=1_000, ticks=49)  # 0.98 s at half the gate: still blind
    assert g.blind
    assert g.phase == guidance.BLIND
    _terminal(g, sigma_mm=1_000)
    assert not g.blind
    assert g.phase == guidance.TERMINAL


def test_blind_band_clearance_restarts_when_sigma_rises_above_half_the_gate() -> None:
    g = guidance.Guidance(_params(term_alt_mm=2000, period_ms=20))
    g.reset()
    _terminal(g, sigma_mm=80_000)
    _terminal(g, sigma_mm=1_000, ticks=40)
    _terminal(g, sigma_mm=1_500)  # under the gate, not half of it: the second restarts
    _terminal(g, sigma_mm=1_000, ticks=40)
    assert g.blind


def _ranged_tick(f, k: int, true_alt_mm: int) -> None:
    # accelerometer: free fall (0); the range: the true altitude plus the sensor's clearance
    clearance = f.p[params_mod.CLEARANCE_MM]
    f.tick(k * 20_000, true_alt_mm + clearance, rangefinder.RF_GOOD, 0, 1)


def test_flight_leaves_the_blind_band_and_brakes_on_the_schedule_once_ranged() -> None:
    events = _Events()
    # told 100 m, sigma 80 m: terminal and blind at once; the truth is 300 m up, at -5 m/s, in
    # free fall (as the accelerometer says), and the ranges come from the first tick
    f = descending(
        _params(init_alt_mm=100_000, init_vel_mm_s=-5_000, sigma0_mm=80_000, cal_ms=0),
        events,
    )
    _tick(f, 0, 0)
    assert f.mode == flight.TERMINAL
    assert f.guid.blind
    k = 1
    while flight.EV_SIGHTED not in events.codes() and k < 500:
        t = k * 0.02
        _ranged_tick(f, k, round(300_000 - 5_000 * t - 1620 * t * t / 2))
        k += 1
    assert flight.EV_SIGHTED in events.codes()
    assert f.mode == flight.DESCENT
    assert f.phase == guidance.BRAKE
    assert not f.guid.blind
    assert abs(f.est.alt_mm - dict(events.seen)[flight.EV_SIGHTED]) < 1_000
    assert f.guid.ff_mm_s2 > 1620  # the schedule's deceleration fed forward, beyond gravity


def test_a_blind_band_entered_before_the_ranges_is_left_once_they_fix_the_altitude() -> None:
    # handover-large with its rangefinder acquiring only at 320 m: seed 1 reaches the gate
    # blind ~395 m up (the band declared short), the ranges come in the band; once sigma is
    # small the blind descent ends (sighted), DESCENT brakes on the schedule, and it lands
    import dataclasses

    from softland.simulation.dispersions import dispersed_run

    s = load_scenario("handover-large")
    s = dataclasses.replace(s, lrf={**s.lrf, "acquisition_range_m": 320.0})
    result = run_scenario(dispersed_run(s, 1), "cpython")
    names = [e["name"] for e in result.events]
    assert names.index("blind") < names.index("sighted")
    sighted = names.index("sighted")
    assert result.events[sighted + 1]["name"] == "mode"
    assert result.events[sighted + 1]["arg"] == flight.DESCENT
    assert result.summary["outcome"] == "landed"
    assert result.summary["touchdown_vertical_speed_mps"] <= 2.0
