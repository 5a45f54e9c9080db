"""Monte Carlo dispersions: one seeded, dispersed copy of a scenario per run.

A run is identified by one integer seed. The sim's own noise (sensor noise, dropouts) comes
from ``numpy.random.default_rng(seed)`` as in every `softland sim`; the dispersions come from
a second stream of the same seed, ``default_rng([seed, DISPERSION_STREAM])``, so
``dispersed_run(scenario, seed)`` followed by ``run_scenario(..., seed=seed)`` reproduces a
campaign's run from nothing but its seed.

Every run draws the same :data:`DRAW_NAMES` standard normals in the same order whatever the
sigmas are, so a zero sigma never shifts the draws of the others. Draws that would make the
vehicle impossible (mass not above its propellant, thrust or Isp not positive, negative noise)
are clipped; what was applied is recorded in :class:`DispersionDraw`.

The firmware is never told the true vehicle: the dispersed copy carries the *nominal*
vehicle's firmware parameters (``amax0_mm_s2``, ``isp_s``, computed as
``sim.firmware_parameters`` does for the undispersed scenario) as overrides, unless the
scenario already overrides them. The navigation handover (the firmware's initial belief) stays
"true state + handover error": the true initial state is dispersed, and the handover error is
dispersed on top of it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from softland.simulation.scenario import Dispersions, Scenario

DISPERSION_STREAM = 0xD15  # second SeedSequence word: the dispersion stream of a run seed

# One standard normal per entry, drawn in this order on every run.
DRAW_NAMES = (
    "altitude",
    "velocity",
    "nav_altitude",
    "nav_velocity",
    "mass",
    "thrust",
    "isp",
    "range_noise",
    "imu_noise",
    "imu_bias",
    "fault_time",
    "terrain",
)

# Firmware parameters derived from the vehicle: pinned to the nominal vehicle's values.
VEHICLE_PARAMETERS = ("amax0_mm_s2", "isp_s")

MIN_DRY_MASS_FRACTION = 0.1  # dispersed dry mass stays above this fraction of the nominal one
MIN_FACTOR = 0.05  # thrust and Isp factors are clipped here
MIN_ALTITUDE_FRACTION = 0.01  # the true initial altitude stays above this fraction of nominal


@dataclass(frozen=True)
class DispersionDraw:
    """What one run's dispersion did, as applied (after clipping).

    ``d_*`` are additive changes in the unit of their name; ``*_factor`` multiply the nominal
    value; ``z`` are the raw standard-normal draws in :data:`DRAW_NAMES` order.
    """

    d_altitude_m: float = 0.0  # true initial altitude
    d_velocity_mps: float = 0.0  # true initial vertical velocity (up +)
    d_nav_altitude_m: float = 0.0  # added to the navigation handover altitude error
    d_nav_velocity_mps: float = 0.0  # added to the navigation handover velocity error
    mass_factor: float = 1.0  # true wet mass / nominal (propellant unchanged)
    thrust_factor: float = 1.0  # true max thrust / nominal
    isp_factor: float = 1.0  # true Isp / nominal
    range_noise_factor: float = 1.0  # rangefinder (simple and LRF) noise sigma / nominal
    imu_noise_factor: float = 1.0  # accelerometer noise sigma / nominal
    d_imu_bias_mps2: float = 0.0  # added accelerometer bias
    fault_shift_s: float = 0.0  # every fault window moved by this (clipped at t = 0)
    terrain_factor: float = 1.0  # terrain step elevations / nominal
    z: tuple[float, ...] = ()

    def row(self) -> dict[str, float]:
        """The applied values by name, rounded to 1e-9 (no raw draws): one runs.csv column
        each."""
        return {
            f.name: round(getattr(self, f.name), 9)
            for f in dataclasses.fields(self)
            if f.name != "z"
        }


# Which sigma drives each applied value (for plots: only dispersed quantities are shown).
SIGMA_OF = {
    "d_altitude_m": "altitude_sigma_m",
    "d_velocity_mps": "velocity_sigma_mps",
    "d_nav_altitude_m": "nav_altitude_sigma_m",
    "d_nav_velocity_mps": "nav_velocity_sigma_mps",
    "mass_factor": "mass_sigma_fraction",
    "thrust_factor": "thrust_sigma_fraction",
    "isp_factor": "isp_sigma_fraction",
    "range_noise_factor": "sensor_noise_scale_sigma",
    "imu_noise_factor": "sensor_noise_scale_sigma",
    "d_imu_bias_mps2": "imu_bias_sigma_mps2",
    "fault_shift_s": "fault_time_sigma_s",
    "terrain_factor": "terrain_sigma_m",
}


def has_dispersions(s: Scenario) -> bool:
    """True when any one-sigma dispersion of the scenario is non-zero."""
    d = s.dispersions
    return any(getattr(d, f.name) != 0 for f in dataclasses.fields(Dispersions))


def dispersion_rng(seed: int) -> np.random.Generator:
    """The dispersion stream of run seed `seed` (independent of the sim's own noise stream)."""
    return np.random.default_rng([int(seed), DISPERSION_STREAM])


def draw_dispersions(s: Scenario, rng: np.random.Generator) -> DispersionDraw:
    """Draw one run's dispersion for scenario `s` (all draws, every time, in a fixed order)."""
    z = [float(x) for x in rng.standard_normal(len(DRAW_NAMES))]
    zd = dict(zip(DRAW_NAMES, z, strict=True))
    d = s.dispersions
    v, i = s.vehicle, s.initial

    min_alt = MIN_ALTITUDE_FRACTION * i.altitude_m
    altitude = max(i.altitude_m + d.altitude_sigma_m * zd["altitude"], min_alt)
    d_nav_alt = d.nav_altitude_sigma_m * zd["nav_altitude"]
    # the handover altitude (true + error) cannot be below the ground
    if altitude + i.altitude_error_m + d_nav_alt < 0:
        d_nav_alt = -(altitude + i.altitude_error_m)

    dry = v.mass_kg - v.propellant_kg
    mass = v.mass_kg * (1.0 + d.mass_sigma_fraction * zd["mass"])
    mass = max(mass, v.propellant_kg + MIN_DRY_MASS_FRACTION * dry)

    terrain_factor = 1.0
    elevations = [abs(e) for e in _terrain_elevations(s)]
    if elevations and max(elevations) > 0:
        terrain_factor = max(1.0 + d.terrain_sigma_m * zd["terrain"] / max(elevations), 0.0)

    return DispersionDraw(
        d_altitude_m=altitude - i.altitude_m,
        d_velocity_mps=d.velocity_sigma_mps * zd["velocity"],
        d_nav_altitude_m=d_nav_alt,
        d_nav_velocity_mps=d.nav_velocity_sigma_mps * zd["nav_velocity"],
        mass_factor=mass / v.mass_kg,
        thrust_factor=max(1.0 + d.thrust_sigma_fraction * zd["thrust"], MIN_FACTOR),
        isp_factor=max(1.0 + d.isp_sigma_fraction * zd["isp"], MIN_FACTOR),
        range_noise_factor=max(1.0 + d.sensor_noise_scale_sigma * zd["range_noise"], 0.0),
        imu_noise_factor=max(1.0 + d.sensor_noise_scale_sigma * zd["imu_noise"], 0.0),
        d_imu_bias_mps2=d.imu_bias_sigma_mps2 * zd["imu_bias"],
        fault_shift_s=d.fault_time_sigma_s * zd["fault_time"],
        terrain_factor=terrain_factor,
        z=tuple(z),
    )


def apply_draw(s: Scenario, draw: DispersionDraw) -> Scenario:
    """The scenario with `draw` applied; the firmware keeps the nominal vehicle."""
    from softland.simulation.sim import firmware_parameters

    nominal = firmware_parameters(s)
    firmware = {k: nominal[k] for k in VEHICLE_PARAMETERS if k in nominal}
    firmware.update(s.firmware)

    v, i = s.vehicle, s.initial
    vehicle = dataclasses.replace(
        v,
        mass_kg=v.mass_kg * draw.mass_factor,
        max_thrust_n=v.max_thrust_n * draw.thrust_factor,
        isp_s=v.isp_s * draw.isp_factor,
    )
    initial = dataclasses.replace(
        i,
        altitude_m=i.altitude_m + draw.d_altitude_m,
        velocity_mps=i.velocity_mps + draw.d_velocity_mps,
        altitude_error_m=i.altitude_error_m + draw.d_nav_altitude_m,
        velocity_error_mps=i.velocity_error_mps + draw.d_nav_velocity_mps,
    )
    rangefinder = dataclasses.replace(
        s.rangefinder,
        noise_m=s.rangefinder.noise_m * draw.range_noise_factor,
        noise_fraction=s.rangefinder.noise_fraction * draw.range_noise_factor,
    )
    imu = dataclasses.replace(
        s.imu,
        noise_mps2=s.imu.noise_mps2 * draw.imu_noise_factor,
        bias_mps2=s.imu.bias_mps2 + draw.d_imu_bias_mps2,
    )
    changes: dict[str, Any] = {
        "vehicle": vehicle,
        "initial": initial,
        "rangefinder": rangefinder,
        "imu": imu,
        "firmware": firmware,
        "lrf": _dispersed_lrf(s, draw.range_noise_factor),
        "faults": _shifted_faults(s, draw.fault_shift_s),
    }
    if hasattr(s, "terrain"):
        changes["terrain"] = _scaled_terrain(s.terrain, draw.terrain_factor)
    return dataclasses.replace(s, **changes)


def apply_dispersions(s: Scenario, rng: np.random.Generator) -> Scenario:
    """A dispersed copy of `s`: true initial state, handover error, mass, thrust, Isp, sensor
    noise, IMU bias, fault timing and terrain drawn from `rng` (see module docstring)."""
    return apply_draw(s, draw_dispersions(s, rng))


def dispersed_run_with_draw(
    scenario: Scenario, seed: int | None = None
) -> tuple[Scenario, DispersionDraw]:
    """Run `seed`'s dispersed scenario and its draw; unchanged when nothing is dispersed."""
    seed = scenario.seed if seed is None else seed
    if not has_dispersions(scenario):
        return scenario, DispersionDraw()
    draw = draw_dispersions(scenario, dispersion_rng(seed))
    return apply_draw(scenario, draw), draw


def dispersed_run(scenario: Scenario, seed: int | None = None) -> Scenario:
    """The scenario that Monte Carlo run seed `seed` flies (None: the scenario's own seed).

    Fly it with ``run_scenario(dispersed_run(s, seed), runtime, seed=seed)`` to reproduce
    that run of a campaign exactly. A scenario without dispersions is returned unchanged.
    """
    return dispersed_run_with_draw(scenario, seed)[0]


def _dispersed_lrf(s: Scenario, noise_factor: float) -> dict[str, float]:
    from softland.devices.lrf import LrfConfig

    lrf = dict(s.lrf)
    defaults = {f.name: f.default for f in dataclasses.fields(LrfConfig)}
    for key in ("noise_m", "noise_fraction"):
        lrf[key] = float(lrf.get(key, defaults[key])) * noise_factor
    # the acquisition range is specified at a speed that defaults to the initial sink rate:
    # pin it to the nominal one so that the sensor does not change with the dispersed state
    if "acquisition_range_m" in lrf and "acquisition_speed_mps" not in lrf:
        lrf["acquisition_speed_mps"] = abs(s.initial.velocity_mps)
    return lrf


FLIGHT_START_S = 1e-6  # where a fault window shifted before t = 0 starts: with the flight


def _shifted_faults(s: Scenario, shift_s: float) -> tuple[Any, ...]:
    """Every fault window moved by shift_s, clipped at t = 0. A window that starts at t = 0
    (a fault present from power-on) keeps starting there; one that ends at or before t = 0
    never happens and is dropped."""
    out = []
    for fault in s.faults:
        # a window shifted to before the flight starts with it (not from power-on, which is
        # what a start at 0 declares: see softland.simulation.sim's preflight)
        start = 0.0 if fault.start_s <= 0.0 else max(fault.start_s + shift_s, FLIGHT_START_S)
        if fault.end_s is None:
            out.append(dataclasses.replace(fault, start_s=start))
            continue
        end = fault.end_s + shift_s
        if end <= 0.0:
            continue
        out.append(dataclasses.replace(fault, start_s=start, end_s=end))
    return tuple(out)


def _terrain_elevations(s: Scenario) -> list[float]:
    terrain = getattr(s, "terrain", None)
    if not terrain:
        return []
    return [
        float(step.elevation_m)
        for step in terrain
        if isinstance(getattr(step, "elevation_m", None), (int, float))
        and math.isfinite(step.elevation_m)
    ]


def _scaled_terrain(terrain: Any, factor: float) -> Any:
    """Terrain steps (anything with an `elevation_m` field) with elevations times factor."""
    if not terrain or factor == 1.0:
        return terrain
    return tuple(
        dataclasses.replace(step, elevation_m=step.elevation_m * factor)
        if hasattr(step, "elevation_m")
        else step
        for step in terrain
    )
