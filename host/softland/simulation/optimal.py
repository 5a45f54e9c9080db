"""The 1-D fuel-optimal vertical landing (Meditch 1964): coast, then full thrust to touchdown.

`closed_form_delta_v` is the constant-acceleration closed form (reference/guidance.md): thrust
acceleration fixed at its start value. `variable_mass_delta_v` keeps the same bang-bang
structure but lets full-thrust acceleration grow as propellant burns (rocket equation), which
is the true optimum for the simulated vehicle and is a little lower.
"""

from __future__ import annotations

import math

from scipy.optimize import brentq


def closed_form_delta_v(
    altitude_m: float,
    sink_rate_mps: float,
    gravity_mps2: float,
    thrust_to_weight: float,
    touchdown_speed_mps: float = 0.0,
) -> float:
    """Minimum delta-v from (altitude, sink rate) to touchdown at touchdown_speed_mps.

    sink_rate_mps is positive downwards. delta-v = (v_s - v_td) (1 + g / a_n) with the
    ignition speed v_s^2 = (v0^2 + 2 g h0 + (g / a_n) v_td^2) / (1 + g / a_n).
    """
    if thrust_to_weight <= 1.0:
        raise ValueError("thrust-to-weight must exceed 1 for a landing")
    g = gravity_mps2
    a_n = (thrust_to_weight - 1.0) * g
    ratio = g / a_n
    energy = sink_rate_mps**2 + 2.0 * g * altitude_m
    v_td = min(touchdown_speed_mps, math.sqrt(energy))
    v_s = math.sqrt((energy + ratio * v_td**2) / (1.0 + ratio))
    return (v_s - v_td) * (1.0 + ratio)


def ignition_point(
    altitude_m: float, sink_rate_mps: float, gravity_mps2: float, thrust_to_weight: float
) -> tuple[float, float]:
    """(ignition altitude, ignition sink rate) of the closed-form optimum, touchdown at 0."""
    g = gravity_mps2
    a_n = (thrust_to_weight - 1.0) * g
    v_s2 = (thrust_to_weight - 1.0) / thrust_to_weight * (sink_rate_mps**2 + 2 * g * altitude_m)
    return v_s2 / (2 * a_n), math.sqrt(v_s2)


def _burn(v_s: float, mass_kg: float, thrust_n: float, exhaust_mps: float, g: float, t: float):
    """Sink rate and distance fallen after t seconds of full thrust from sink rate v_s."""
    mdot = thrust_n / exhaust_mps
    m_t = mass_kg - mdot * t
    ln = math.log(mass_kg / m_t)
    sink = v_s - exhaust_mps * ln + g * t
    # integral of the sink rate: v_s t - c [ (m_t/mdot) ln(m_t/m0) + t ] + g t^2/2
    fallen = v_s * t - exhaust_mps * ((m_t / mdot) * (-ln) + t) + 0.5 * g * t * t
    return sink, fallen


def variable_mass_delta_v(
    altitude_m: float,
    sink_rate_mps: float,
    gravity_mps2: float,
    mass_kg: float,
    thrust_n: float,
    isp_s: float,
    touchdown_speed_mps: float = 0.0,
) -> float:
    """Coast then full thrust with the mass falling as propellant burns; delta-v used."""
    g = gravity_mps2
    c = isp_s * 9.80665
    energy = sink_rate_mps**2 + 2 * g * altitude_m
    v_td = min(touchdown_speed_mps, math.sqrt(energy))

    def burn_to_vtd(v_s: float) -> tuple[float, float]:
        t_hi = mass_kg * c / thrust_n * 0.999
        t_b = brentq(lambda t: _burn(v_s, mass_kg, thrust_n, c, g, t)[0] - v_td, 0.0, t_hi)
        return t_b, _burn(v_s, mass_kg, thrust_n, c, g, t_b)[1]

    def miss(v_s: float) -> float:
        # altitude left when the burn that starts at sink rate v_s reaches v_td
        h_s = altitude_m - (v_s**2 - sink_rate_mps**2) / (2 * g)
        return h_s - burn_to_vtd(v_s)[1]

    v_lo = max(sink_rate_mps, v_td)
    v_s = brentq(miss, v_lo, math.sqrt(energy))
    t_b, _ = burn_to_vtd(v_s)
    return c * math.log(mass_kg / (mass_kg - thrust_n / c * t_b))
