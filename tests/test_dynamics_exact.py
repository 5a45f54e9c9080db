"""Dynamics.step is one loop over the substeps with the state in locals (issue 13, "Speed"): it
must fly exactly as the straightforward form, one method call per substep on the state object,
to the last bit of every float, or the telemetry of every run would move. The straightforward
form is kept here as the specification."""

from __future__ import annotations

import math
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from softland.simulation.dynamics import BOUNCE_MIN_MPS, Contact, Dynamics, _first_root


class ReferenceDynamics(Dynamics):
    """Dynamics.step as it was written before the loop was folded: one _substep a call."""

    def _thrust_command(self, throttle: float) -> float:
        if throttle <= 0.0 or self.state.propellant_kg <= 0.0:
            return 0.0
        return self.max_thrust_n * min(max(throttle, self.throttle_min), self.throttle_max)

    def step(self, throttle: float, dt_s: float) -> None:
        v0 = self.state.velocity_mps
        h = dt_s / self.substeps
        decay = math.exp(-h / self.engine_lag_s) if self.engine_lag_s > 0 else 0.0
        for _ in range(self.substeps):
            self._substep(self._thrust_command(throttle), h, decay)
        self.mean_specific_force_mps2 = (self.state.velocity_mps - v0) / dt_s + self.g

    def _substep(self, cmd_n: float, h: float, decay: float) -> None:
        s = self.state
        if s.propellant_kg <= 0.0:
            cmd_n = 0.0
            s.thrust_n = 0.0
        t0 = s.thrust_n
        t1 = cmd_n + (t0 - cmd_n) * decay
        if self.engine_lag_s > 0:
            mean_t = cmd_n + (t0 - cmd_n) * (1.0 - decay) * self.engine_lag_s / h
        else:
            mean_t = cmd_n
        m0 = self.mass_kg
        burn = min(mean_t / self.exhaust_mps * h, s.propellant_kg)
        m1 = m0 - burn
        acc_thrust = mean_t / (0.5 * (m0 + m1))
        s.propellant_kg -= burn
        if s.propellant_kg <= 1e-12:
            s.propellant_kg = 0.0
            if self.fuel_out_t_s is None:
                self.fuel_out_t_s = s.t_s + h
        s.thrust_n = t1 if s.propellant_kg > 0 else 0.0
        a = acc_thrust - self.g
        if s.on_ground:
            if a > 0:
                s.on_ground = False
            else:
                s.t_s += h
                return
        if self.first_contact is None:
            self.delta_v_mps += acc_thrust * h
        ground = self.ground_m(s.t_s)
        new_alt = s.altitude_m + s.velocity_mps * h + 0.5 * a * h * h
        if new_alt <= ground:
            t_c = _first_root(s.altitude_m - ground, s.velocity_mps, a, h)
            v_c = s.velocity_mps + a * t_c
            if self.first_contact is None:
                self.first_contact = Contact(s.t_s + t_c, -v_c)
            s.altitude_m = ground
            if self.restitution > 0.0 and -v_c > BOUNCE_MIN_MPS:
                s.velocity_mps = -self.restitution * v_c
                self.bounces += 1
            else:
                s.velocity_mps = 0.0
                s.on_ground = True
        else:
            s.altitude_m = new_alt
            s.velocity_mps += a * h
        s.t_s += h


def _terrain(step_t_s: float, elevation_m: float) -> Callable[[float], float]:
    def ground(t_s: float) -> float:
        return elevation_m if t_s >= step_t_s else 0.0

    return ground


def _fingerprint(d: Dynamics) -> tuple[object, ...]:
    s = d.state
    return (
        s.t_s.hex(),
        s.altitude_m.hex(),
        s.velocity_mps.hex(),
        s.propellant_kg.hex(),
        s.thrust_n.hex(),
        s.on_ground,
        d.bounces,
        d.first_contact,
        d.fuel_out_t_s,
        d.delta_v_mps.hex(),
        d.mean_specific_force_mps2.hex(),
        d.height_above_ground_m().hex(),
        d.specific_force_mps2().hex(),
    )


vehicles = st.fixed_dictionaries(
    {
        "gravity_mps2": st.sampled_from([1.62, 3.71, 9.80665]),
        "dry_mass_kg": st.floats(50.0, 2000.0),
        "propellant_kg": st.sampled_from([0.0, 1e-13, 0.05, 3.0, 200.0]),
        "max_thrust_n": st.floats(100.0, 40000.0),
        "isp_s": st.floats(150.0, 330.0),
        "throttle_min": st.sampled_from([0.0, 0.1, 0.2]),
        "throttle_max": st.sampled_from([0.8, 1.0]),
        "engine_lag_s": st.sampled_from([0.0, 0.05, 0.1]),
        "altitude_m": st.floats(0.0, 30.0),
        "velocity_mps": st.floats(-20.0, 5.0),
        "substeps": st.sampled_from([1, 7, 20]),
        "restitution": st.sampled_from([0.0, 0.3]),
    }
)
throttles = st.lists(
    st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.2)), min_size=1, max_size=150
)


@settings(max_examples=150, deadline=None)
@given(
    vehicle=vehicles,
    throttles=throttles,
    terrain=st.one_of(st.none(), st.tuples(st.floats(0.0, 2.0), st.floats(-3.0, 3.0))),
)
def test_the_folded_loop_flies_exactly_as_one_call_per_substep(
    vehicle: dict[str, float],
    throttles: list[float],
    terrain: tuple[float, float] | None,
) -> None:
    ground = None if terrain is None else _terrain(*terrain)
    fast = Dynamics(**vehicle, ground_m=ground)  # type: ignore[arg-type]
    reference = ReferenceDynamics(**vehicle, ground_m=ground)  # type: ignore[arg-type]
    for throttle in throttles:
        fast.step(throttle, 0.02)
        reference.step(throttle, 0.02)
        assert _fingerprint(fast) == _fingerprint(reference)


def test_a_flight_that_burns_out_bounces_and_lands_is_flown_bit_for_bit() -> None:
    vehicle = dict(
        gravity_mps2=1.62,
        dry_mass_kg=300.0,
        propellant_kg=1.5,
        max_thrust_n=2000.0,
        isp_s=300.0,
        throttle_min=0.2,
        throttle_max=1.0,
        engine_lag_s=0.1,
        altitude_m=20.0,
        velocity_mps=-6.0,
        substeps=20,
        restitution=0.4,
    )
    fast = Dynamics(**vehicle)  # type: ignore[arg-type]
    reference = ReferenceDynamics(**vehicle)  # type: ignore[arg-type]
    for k in range(1500):
        throttle = 1.0 if k < 150 else 0.0
        fast.step(throttle, 0.02)
        reference.step(throttle, 0.02)
        assert _fingerprint(fast) == _fingerprint(reference)
    assert fast.fuel_out_t_s is not None  # the engine burnt out
    assert fast.bounces > 0 and fast.state.on_ground  # bounced, then came to rest
