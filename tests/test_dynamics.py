"""Host dynamics against closed-form physics."""

from __future__ import annotations

import math

import pytest

from softland.simulation.dynamics import G0, Dynamics


def _vehicle(**kw: float) -> Dynamics:
    args = dict(
        gravity_mps2=1.62,
        dry_mass_kg=800.0,
        propellant_kg=200.0,
        max_thrust_n=3240.0,
        isp_s=300.0,
        throttle_min=0.2,
        throttle_max=1.0,
        engine_lag_s=0.1,
        altitude_m=1000.0,
        velocity_mps=0.0,
        substeps=20,
    )
    args.update(kw)
    return Dynamics(**args)  # type: ignore[arg-type]


def test_free_fall_matches_kinematics() -> None:
    d = _vehicle(gravity_mps2=9.81, altitude_m=10.0)
    for _ in range(50):
        d.step(0.0, 0.02)
    assert d.state.velocity_mps == pytest.approx(-9.81, rel=1e-9)
    assert d.state.altitude_m == pytest.approx(10.0 - 0.5 * 9.81, rel=1e-9)


def test_contact_speed_of_a_one_metre_drop_on_earth() -> None:
    d = _vehicle(gravity_mps2=9.81, altitude_m=1.0)
    for _ in range(50):
        d.step(0.0, 0.02)
    assert d.first_contact is not None
    assert d.first_contact.speed_mps == pytest.approx(4.43, abs=0.01)
    assert d.first_contact.t_s == pytest.approx(0.452, abs=0.001)
    assert d.state.on_ground


def test_thrust_follows_the_command_with_first_order_lag() -> None:
    d = _vehicle()
    d.step(1.0, 0.1)  # one time constant
    assert d.state.thrust_n == pytest.approx(3240.0 * (1 - math.exp(-1)), rel=1e-6)


def test_a_lit_engine_never_runs_below_minimum_throttle() -> None:
    d = _vehicle(engine_lag_s=0.0)
    d.step(0.05, 0.02)
    assert d.state.thrust_n == pytest.approx(0.2 * 3240.0)


def test_propellant_use_follows_the_rocket_equation() -> None:
    d = _vehicle(engine_lag_s=0.0, altitude_m=1e6)
    for _ in range(500):
        d.step(1.0, 0.02)
    burnt = 3240.0 / (300.0 * G0) * 10.0
    assert 200.0 - d.state.propellant_kg == pytest.approx(burnt, rel=1e-6)
    assert d.delta_v_mps == pytest.approx(300 * G0 * math.log(1000 / (1000 - burnt)), rel=1e-4)


def test_engine_stops_when_propellant_runs_out() -> None:
    d = _vehicle(propellant_kg=1.0, engine_lag_s=0.0, altitude_m=1e5)
    for _ in range(100):
        d.step(1.0, 0.02)
    assert d.state.propellant_kg == 0.0
    assert d.fuel_out_t_s is not None
    assert d.state.thrust_n == 0.0


def test_the_imu_sees_the_touchdown_impulse() -> None:
    d = _vehicle(gravity_mps2=9.81, altitude_m=0.01, velocity_mps=-1.0)
    d.step(0.0, 0.02)
    assert d.state.on_ground
    assert d.mean_specific_force_mps2 > 9.81 + 1.0 / 0.02 * 0.5


def test_without_restitution_a_contact_stops_the_vehicle_on_the_ground() -> None:
    d = _vehicle(gravity_mps2=9.81, altitude_m=1.0)
    for _ in range(100):
        d.step(0.0, 0.02)
    assert d.state.on_ground and d.state.velocity_mps == 0.0 and d.bounces == 0


def test_with_restitution_a_contact_rebounds_at_that_fraction_of_its_speed() -> None:
    d = _vehicle(gravity_mps2=9.81, altitude_m=1.0, restitution=0.5)
    while d.first_contact is None:
        d.step(0.0, 0.001)
    impact = d.first_contact.speed_mps
    assert impact == pytest.approx(math.sqrt(2 * 9.81 * 1.0), rel=1e-6)
    assert d.bounces == 1 and not d.state.on_ground
    # the rebound rises to (e v)^2 / 2g
    top = 0.0
    for _ in range(200):
        d.step(0.0, 0.001)
        top = max(top, d.height_above_ground_m())
    assert top == pytest.approx((0.5 * impact) ** 2 / (2 * 9.81), rel=0.02)


def test_bounces_die_out_and_the_vehicle_comes_to_rest() -> None:
    d = _vehicle(gravity_mps2=9.81, altitude_m=1.0, restitution=0.5)
    for _ in range(500):
        d.step(0.0, 0.01)
    assert d.state.on_ground and d.state.velocity_mps == 0.0
    assert 3 <= d.bounces <= 10
