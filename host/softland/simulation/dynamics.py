"""1-D vertical dynamics of a throttled rocket: variable mass (Isp), first-order thrust lag,
throttle limits, ground contact. Sub-stepped much finer than the firmware tick."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

G0 = 9.80665  # standard gravity for Isp
BOUNCE_MIN_MPS = 0.05  # with restitution: slower contacts come to rest


@dataclass
class VehicleState:
    t_s: float
    altitude_m: float  # feet above the datum (the ground elevation at t = 0)
    velocity_mps: float  # up positive
    propellant_kg: float
    thrust_n: float  # actual thrust (after the engine lag)
    on_ground: bool = False


@dataclass(frozen=True)
class Contact:
    t_s: float
    speed_mps: float  # vertical speed at first contact (positive)


class Dynamics:
    """Integrates the vehicle between firmware ticks.

    step(throttle, dt) holds the throttle command for dt: 0 means engine off; a lit engine is
    held within [throttle_min, throttle_max]; without propellant the engine gives no thrust.
    """

    def __init__(
        self,
        gravity_mps2: float,
        dry_mass_kg: float,
        propellant_kg: float,
        max_thrust_n: float,
        isp_s: float,
        throttle_min: float,
        throttle_max: float,
        engine_lag_s: float,
        altitude_m: float,
        velocity_mps: float,
        substeps: int,
        ground_m: Callable[[float], float] | None = None,
        restitution: float = 0.0,
    ) -> None:
        self.g = gravity_mps2
        self.dry_mass_kg = dry_mass_kg
        self.max_thrust_n = max_thrust_n
        self.exhaust_mps = isp_s * G0
        self.throttle_min = throttle_min
        self.throttle_max = throttle_max
        self.engine_lag_s = engine_lag_s
        self.substeps = substeps
        self.state = VehicleState(0.0, altitude_m, velocity_mps, propellant_kg, 0.0)
        # terrain under the track: ground elevation above the datum at time t
        self.ground_m: Callable[[float], float] = ground_m or _flat_ground
        self._flat = ground_m is None  # no terrain: the ground stays at 0 (no call per substep)
        # contact: 0 (the default) stops the vertical motion at once; above 0 a contact faster
        # than BOUNCE_MIN_MPS rebounds at restitution x the impact speed (a hard contact that
        # bounces: legs, rocks), a slower one stops it
        self.restitution = restitution
        self.bounces = 0
        self.first_contact: Contact | None = None
        self.fuel_out_t_s: float | None = None
        self.delta_v_mps = 0.0  # integral of thrust / mass while airborne before contact
        self.mean_specific_force_mps2 = 0.0  # over the last step()

    def height_above_ground_m(self) -> float:
        return self.state.altitude_m - self.ground_m(self.state.t_s)

    @property
    def mass_kg(self) -> float:
        return self.dry_mass_kg + self.state.propellant_kg

    def specific_force_mps2(self) -> float:
        """Instantaneous non-gravitational acceleration, up +, as an ideal accelerometer."""
        s = self.state
        if s.on_ground:
            return max(self.g, s.thrust_n / self.mass_kg)
        return s.thrust_n / self.mass_kg

    def step(self, throttle: float, dt_s: float) -> None:
        """Hold the throttle for dt_s: `substeps` substeps of the exact first-order thrust
        response, the mass burnt and the motion over each.

        One loop with the state in locals: the same floating-point operations in the same
        order as one method call per substep made (docs/benchmarks.md, "Speed"), so the
        trajectory is the same to the last bit."""
        s = self.state
        v0 = s.velocity_mps
        n = self.substeps
        h = dt_s / n
        lag = self.engine_lag_s
        lagged = lag > 0
        decay = math.exp(-h / lag) if lagged else 0.0
        one_minus_decay = 1.0 - decay
        g = self.g
        dry = self.dry_mass_kg
        exhaust = self.exhaust_mps
        restitution = self.restitution
        ground_m = self.ground_m
        flat = self._flat
        # the engine's command while it has propellant: 0 for throttle 0, else held within
        # the throttle limits
        lit_n = 0.0
        if not throttle <= 0.0:
            lit_n = self.max_thrust_n * min(max(throttle, self.throttle_min), self.throttle_max)
        t_s = s.t_s
        alt = s.altitude_m
        vel = s.velocity_mps
        prop = s.propellant_kg
        thrust = s.thrust_n
        on_ground = s.on_ground
        airborne_before_contact = self.first_contact is None
        dv = self.delta_v_mps
        for _ in range(n):
            if prop <= 0.0:
                cmd_n = 0.0
                thrust = 0.0
            else:
                cmd_n = lit_n
            gap = thrust - cmd_n
            t1 = cmd_n + gap * decay
            # exact mean of the first-order response over the substep
            if lagged:
                mean_t = cmd_n + gap * one_minus_decay * lag / h
            else:
                mean_t = cmd_n
            m0 = dry + prop
            burn = mean_t / exhaust * h
            if prop < burn:
                burn = prop
            m1 = m0 - burn
            acc_thrust = mean_t / (0.5 * (m0 + m1))
            prop -= burn
            if prop <= 1e-12:
                prop = 0.0
                if self.fuel_out_t_s is None:
                    self.fuel_out_t_s = t_s + h
            thrust = t1 if prop > 0 else 0.0
            a = acc_thrust - g
            if on_ground:
                if a > 0:
                    on_ground = False  # lift-off
                else:
                    t_s += h
                    continue
            if airborne_before_contact:
                dv += acc_thrust * h
            ground = 0.0 if flat else ground_m(t_s)
            new_alt = alt + vel * h + 0.5 * a * h * h
            if new_alt <= ground:
                # contact inside this substep: solve alt + v t + a t^2 / 2 = ground
                t_c = _first_root(alt - ground, vel, a, h)
                v_c = vel + a * t_c
                if airborne_before_contact:
                    self.first_contact = Contact(t_s + t_c, -v_c)
                    airborne_before_contact = False
                alt = ground
                if restitution > 0.0 and -v_c > BOUNCE_MIN_MPS:
                    # the rebound leaves the ground at once (the rest of the substep is not
                    # flown)
                    vel = -restitution * v_c
                    self.bounces += 1
                else:
                    vel = 0.0
                    on_ground = True
            else:
                alt = new_alt
                vel += a * h
            t_s += h
        s.t_s = t_s
        s.altitude_m = alt
        s.velocity_mps = vel
        s.propellant_kg = prop
        s.thrust_n = thrust
        s.on_ground = on_ground
        self.delta_v_mps = dv
        # what a delta-velocity IMU reports for this interval: contact impulses included
        self.mean_specific_force_mps2 = (vel - v0) / dt_s + g


def _flat_ground(_t_s: float) -> float:
    return 0.0


def _first_root(x0: float, v0: float, a: float, h: float) -> float:
    if abs(a) < 1e-12:
        return min(max(-x0 / v0, 0.0), h) if v0 < 0 else h
    disc = v0 * v0 - 2.0 * a * x0
    if disc < 0:
        return h
    r = math.sqrt(disc)
    roots = sorted(((-v0 - r) / a, (-v0 + r) / a))
    for t in roots:
        if 0.0 <= t <= h:
            return t
    return h
