"""Scenarios: TOML files describing a descent, its vehicle, sensors and pass criteria.

Every field is checked: a wrong type, an unknown field, a value out of range or a missing
section is rejected with a message naming the file and the field.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from softland.errors import UserError

BUILTIN_DIR = Path(__file__).resolve().parent / "scenarios"
BODIES = {"moon": 1.62, "earth": 9.81}
OUTCOMES = ("landed", "crashed", "aborted", "fuel_exhausted", "timeout", "arm_refused")
PREFLIGHT = ("enforce", "override")


@dataclass(frozen=True)
class Body:
    """Gravity preset or explicit value."""

    preset: str = "moon"
    gravity_mps2: float = 0.0  # 0: take the preset's value

    @property
    def g(self) -> float:
        return self.gravity_mps2 if self.gravity_mps2 > 0 else BODIES[self.preset]


@dataclass(frozen=True)
class Vehicle:
    mass_kg: float  # wet mass at the start of the scenario
    propellant_kg: float  # propellant on board at the start
    max_thrust_n: float
    isp_s: float
    throttle_min: float = 0.2
    throttle_max: float = 1.0
    engine_lag_s: float = 0.1  # first-order thrust time constant
    sensor_height_m: float = 1.0  # rangefinder height above the feet


@dataclass(frozen=True)
class Initial:
    altitude_m: float  # height of the feet above the ground
    velocity_mps: float  # vertical velocity, up positive
    altitude_error_m: float = 0.0  # error of the navigation handover given to the firmware
    velocity_error_mps: float = 0.0


RANGEFINDER_MODELS = ("simple", "lidarlite", "lrf")
FAULT_SENSORS = ("lidarlite", "lrf", "imu", "computer")
# the flight computer's faults: "reset" reboots it at start_s, booting again at end_s (the
# engine gets no command in between, so it is off)
COMPUTER_FAULTS = ("reset",)
MAX_RESET_OUTAGE_S = 10.0


@dataclass(frozen=True)
class Rangefinder:
    model: str = "simple"  # simple: range in the tick frame; lidarlite: I2C emulator; lrf: serial
    max_range_m: float = 5000.0
    min_range_m: float = 0.1
    acquisition_range_m: float = 0.0  # first valid reading only below this; 0 = max_range_m
    noise_m: float = 0.05
    noise_fraction: float = 0.0002  # noise sigma grows with range
    dropout_probability: float = 0.0


@dataclass(frozen=True)
class Fault:
    """A sensor fault switched on over [start_s, end_s) (end_s None: for good)."""

    sensor: str
    name: str
    start_s: float
    end_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TerrainStep:
    """From t_s on, the ground under the track is elevation_m above its elevation at t = 0
    (negative: a crater floor)."""

    t_s: float
    elevation_m: float


@dataclass(frozen=True)
class Imu:
    noise_mps2: float = 0.01
    bias_mps2: float = 0.0


@dataclass(frozen=True)
class Sim:
    tick_hz: int = 50
    substeps: int = 20
    max_time_s: float = 300.0
    after_touchdown_s: float = 5.0  # keep flying after contact until the firmware cuts off
    crash_speed_mps: float = 3.0  # contact faster than this is a crash
    # "enforce": the firmware's preflight sensor checks can refuse ARM (outcome arm_refused);
    # "override": ARM with the override bit (a handover with a known-bad sensor, reported)
    preflight: str = "enforce"
    # ground contact: 0 stops the vehicle at once (the default); in (0, 1) a contact rebounds
    # at this fraction of its speed (softland.simulation.dynamics: a hard contact that bounces)
    restitution: float = 0.0


@dataclass(frozen=True)
class Dispersions:
    """One-sigma (Gaussian) dispersions for Monte Carlo (softland mc); all zero for one run."""

    altitude_sigma_m: float = 0.0  # true initial altitude
    velocity_sigma_mps: float = 0.0  # true initial vertical velocity
    nav_altitude_sigma_m: float = 0.0  # extra navigation handover error (firmware's belief)
    nav_velocity_sigma_mps: float = 0.0
    mass_sigma_fraction: float = 0.0  # true wet mass vs the nominal the firmware is told
    thrust_sigma_fraction: float = 0.0  # true max thrust vs nominal (firmware not told)
    isp_sigma_fraction: float = 0.0  # true Isp vs nominal (firmware not told)
    sensor_noise_scale_sigma: float = 0.0  # multiplies rangefinder/IMU noise by 1 + N(0, s)
    imu_bias_sigma_mps2: float = 0.0  # extra accelerometer bias
    fault_time_sigma_s: float = 0.0  # shifts every fault window
    terrain_sigma_m: float = 0.0  # scales terrain steps' elevation


@dataclass(frozen=True)
class Criteria:
    outcome: str = "landed"
    max_touchdown_speed_mps: float = 1.0
    max_delta_v_ratio: float = 0.0  # 0: not checked
    # after a flight-computer reset, ticks until the firmware flies again (1: the first tick
    # after the reboot); 0: not checked
    max_resume_ticks: int = 0
    # the firmware declares LANDED within this many seconds of the first contact; 0: not checked
    max_land_detect_s: float = 0.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    vehicle: Vehicle
    initial: Initial
    criteria: Criteria
    seed: int = 1
    body: Body = field(default_factory=Body)
    rangefinder: Rangefinder = field(default_factory=Rangefinder)
    imu: Imu = field(default_factory=Imu)
    sim: Sim = field(default_factory=Sim)
    dispersions: Dispersions = field(default_factory=Dispersions)
    firmware: dict[str, int] = field(default_factory=dict)  # parameter overrides by name
    lrf: dict[str, float] = field(default_factory=dict)  # softland.devices.lrf.LrfConfig fields
    lidarlite: dict[str, Any] = field(default_factory=dict)  # emulator settings
    faults: tuple[Fault, ...] = ()
    terrain: tuple[TerrainStep, ...] = ()
    source: str = ""

    def ground_m(self, t_s: float) -> float:
        """Ground elevation under the track at time t_s (0 at t = 0)."""
        elevation = 0.0
        for step in self.terrain:
            if step.t_s <= t_s:
                elevation = step.elevation_m
        return elevation

    def imu_faults(self) -> list[Any]:
        """The accelerometer's faults, validated (softland.devices.imu_faults.FaultSpec), on
        the flight clock."""
        from softland.devices.imu_faults import parse_fault

        return [
            parse_fault(f.name, max(f.start_s, 0.0), f.end_s, **f.params)
            for f in self.faults
            if f.sensor == "imu"
        ]

    def lrf_config(self) -> Any:
        """The long-range rangefinder's softland.devices.lrf.LrfConfig for this scenario."""
        from softland.devices.lrf import LrfConfig

        values = dict(self.lrf)
        acquisition = values.pop("acquisition_range_m", None)
        speed = values.pop("acquisition_speed_mps", abs(self.initial.velocity_mps))
        cfg = LrfConfig(**values)
        if acquisition is not None:
            cfg = cfg.with_acquisition_range(acquisition, speed_mps=speed)
        return cfg


_SECTIONS: dict[str, type] = {
    "body": Body,
    "vehicle": Vehicle,
    "initial": Initial,
    "rangefinder": Rangefinder,
    "imu": Imu,
    "sim": Sim,
    "criteria": Criteria,
    "dispersions": Dispersions,
}
_REQUIRED_SECTIONS = ("vehicle", "initial", "criteria")
_TOP_FIELDS = {"name": str, "description": str, "seed": int}


def _type_name(t: Any) -> str:
    return {float: "a number", int: "an integer", str: "a string"}.get(t, str(t))


def _check_value(where: str, key: str, value: Any, expected: Any) -> Any:
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where}: field '{key}' must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise UserError(f"{where}: field '{key}' must be finite, got {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: field '{key}' must be an integer, got {value!r}")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise UserError(f"{where}: field '{key}' must be a string, got {value!r}")
        return value
    raise AssertionError(expected)


def _section(where: str, name: str, raw: Any, cls: type) -> Any:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: [{name}] must be a table, got {raw!r}")
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    resolved = {"float": float, "int": int, "str": str}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in types:
            known = ", ".join(sorted(types))
            raise UserError(f"{where}: unknown field '{name}.{key}' (known: {known})")
        values[key] = _check_value(where, f"{name}.{key}", value, resolved[str(types[key])])
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise UserError(f"{where}: missing field '{name}.{missing[0]}'")
    return cls(**values)


def _positive(where: str, key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        rule = "must not be negative" if allow_zero else "must be positive"
        raise UserError(f"{where}: field '{key}' {rule}, got {value}")


def _validate(where: str, s: Scenario) -> None:
    v = s.vehicle
    for key in ("mass_kg", "max_thrust_n", "isp_s"):
        _positive(where, f"vehicle.{key}", getattr(v, key))
    for key in ("propellant_kg", "engine_lag_s", "sensor_height_m"):
        _positive(where, f"vehicle.{key}", getattr(v, key), allow_zero=True)
    if v.propellant_kg >= v.mass_kg:
        raise UserError(f"{where}: field 'vehicle.propellant_kg' must be below vehicle.mass_kg")
    if not 0 <= v.throttle_min < v.throttle_max <= 1:
        raise UserError(
            f"{where}: fields 'vehicle.throttle_min'/'vehicle.throttle_max' need "
            f"0 <= min < max <= 1, got {v.throttle_min}, {v.throttle_max}"
        )
    if s.body.preset not in BODIES:
        raise UserError(
            f"{where}: field 'body.preset' must be one of {', '.join(BODIES)}, "
            f"got {s.body.preset!r}"
        )
    _positive(where, "body.gravity_mps2", s.body.gravity_mps2, allow_zero=True)
    if v.max_thrust_n * v.throttle_max <= v.mass_kg * s.body.g:
        raise UserError(
            f"{where}: field 'vehicle.max_thrust_n' cannot hold the vehicle up "
            f"(T/W = {v.max_thrust_n / (v.mass_kg * s.body.g):.2f} < 1)"
        )
    _positive(where, "initial.altitude_m", s.initial.altitude_m)
    r = s.rangefinder
    for key in ("max_range_m", "noise_m", "noise_fraction", "min_range_m"):
        _positive(where, f"rangefinder.{key}", getattr(r, key), allow_zero=key != "max_range_m")
    _positive(where, "rangefinder.acquisition_range_m", r.acquisition_range_m, allow_zero=True)
    if not 0 <= r.dropout_probability <= 1:
        raise UserError(f"{where}: field 'rangefinder.dropout_probability' must be in [0, 1]")
    _positive(where, "imu.noise_mps2", s.imu.noise_mps2, allow_zero=True)
    if s.sim.tick_hz not in (40, 50):
        raise UserError(f"{where}: field 'sim.tick_hz' must be 40 or 50 (whole ms periods)")
    if not 1 <= s.sim.substeps <= 1000:
        raise UserError(f"{where}: field 'sim.substeps' must be in [1, 1000]")
    for key in ("max_time_s", "crash_speed_mps"):
        _positive(where, f"sim.{key}", getattr(s.sim, key))
    if not 0.0 <= s.sim.restitution < 1.0:
        raise UserError(
            f"{where}: field 'sim.restitution' must be in [0, 1), got {s.sim.restitution}"
        )
    if s.sim.preflight not in PREFLIGHT:
        raise UserError(
            f"{where}: field 'sim.preflight' must be one of {', '.join(PREFLIGHT)}, "
            f"got {s.sim.preflight!r}"
        )
    if s.criteria.outcome not in OUTCOMES:
        raise UserError(
            f"{where}: field 'criteria.outcome' must be one of {', '.join(OUTCOMES)}, "
            f"got {s.criteria.outcome!r}"
        )
    _positive(where, "criteria.max_touchdown_speed_mps", s.criteria.max_touchdown_speed_mps)
    _positive(where, "criteria.max_resume_ticks", s.criteria.max_resume_ticks, allow_zero=True)
    _positive(where, "criteria.max_land_detect_s", s.criteria.max_land_detect_s, allow_zero=True)
    if 0 < s.criteria.max_land_detect_s >= s.sim.after_touchdown_s:
        raise UserError(
            f"{where}: field 'criteria.max_land_detect_s' must be below sim.after_touchdown_s "
            f"({s.sim.after_touchdown_s} s: the run ends then), got {s.criteria.max_land_detect_s}"
        )
    if s.seed < 0:
        raise UserError(f"{where}: field 'seed' must not be negative")
    for f in dataclasses.fields(Dispersions):
        _positive(where, f"dispersions.{f.name}", getattr(s.dispersions, f.name), allow_zero=True)


def _firmware_overrides(where: str, raw: Any) -> dict[str, int]:
    from softland.boards.firmware import param_ids, param_range_error

    if not isinstance(raw, dict):
        raise UserError(f"{where}: [firmware] must be a table of parameter = integer")
    ids = param_ids()
    out: dict[str, int] = {}
    for key, value in raw.items():
        if key not in ids:
            raise UserError(f"{where}: unknown firmware parameter 'firmware.{key}'")
        out[key] = _check_value(where, f"firmware.{key}", value, int)
        refused = param_range_error(key, out[key])
        if refused is not None:
            raise UserError(f"{where}: firmware.{refused}")
    return out


def _lrf_overrides(where: str, raw: Any) -> dict[str, float]:
    from softland.devices.lrf import LrfConfig

    if not isinstance(raw, dict):
        raise UserError(f"{where}: [lrf] must be a table of LrfConfig fields")
    known = {f.name for f in dataclasses.fields(LrfConfig)}
    known |= {"acquisition_range_m", "acquisition_speed_mps"}
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in known:
            raise UserError(
                f"{where}: unknown field 'lrf.{key}' (known: {', '.join(sorted(known))})"
            )
        out[key] = _check_value(where, f"lrf.{key}", value, float)
    return out


def _faults(where: str, raw: Any) -> tuple[Fault, ...]:
    if not isinstance(raw, list):
        raise UserError(f"{where}: 'faults' must be an array of tables ([[faults]])")
    faults = []
    allowed = {"sensor", "name", "start_s", "end_s", "params"}
    for i, entry in enumerate(raw):
        at = f"faults[{i}]"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: {at} must be a table")
        for key in entry:
            if key not in allowed:
                raise UserError(f"{where}: unknown field '{at}.{key}'")
        for key in ("sensor", "name", "start_s"):
            if key not in entry:
                raise UserError(f"{where}: missing field '{at}.{key}'")
        sensor = _check_value(where, f"{at}.sensor", entry["sensor"], str)
        if sensor not in FAULT_SENSORS:
            raise UserError(
                f"{where}: field '{at}.sensor' must be one of {', '.join(FAULT_SENSORS)}, "
                f"got {sensor!r}"
            )
        end = entry.get("end_s")
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise UserError(f"{where}: field '{at}.params' must be a table")
        if sensor == "computer":
            _computer_fault(where, at, entry)
        faults.append(
            Fault(
                sensor=sensor,
                name=_check_value(where, f"{at}.name", entry["name"], str),
                start_s=_check_value(where, f"{at}.start_s", entry["start_s"], float),
                end_s=None if end is None else _check_value(where, f"{at}.end_s", end, float),
                params=params,
            )
        )
    return tuple(faults)


def _computer_fault(where: str, at: str, entry: dict[str, Any]) -> None:
    name = entry["name"]
    if name not in COMPUTER_FAULTS:
        raise UserError(
            f"{where}: field '{at}.name' must be one of {', '.join(COMPUTER_FAULTS)} for "
            f"sensor 'computer', got {name!r}"
        )
    if "end_s" not in entry:
        raise UserError(f"{where}: missing field '{at}.end_s' (when the computer boots again)")
    start = _check_value(where, f"{at}.start_s", entry["start_s"], float)
    end = _check_value(where, f"{at}.end_s", entry["end_s"], float)
    if not start < end <= start + MAX_RESET_OUTAGE_S:
        raise UserError(
            f"{where}: field '{at}.end_s' must be after start_s and at most "
            f"{MAX_RESET_OUTAGE_S:.0f} s later, got {end} (start_s {start})"
        )


LIDARLITE_FIELDS = {"variant": str, "reflectance": float, "bus_hz": int}


def _lidarlite_settings(where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: [lidarlite] must be a table")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in LIDARLITE_FIELDS:
            names = ", ".join(LIDARLITE_FIELDS)
            raise UserError(f"{where}: unknown field 'lidarlite.{key}' (known: {names})")
        out[key] = _check_value(where, f"lidarlite.{key}", value, LIDARLITE_FIELDS[key])
    from softland.devices.lidarlite import VARIANTS

    if out.get("variant", "v3") not in VARIANTS:
        raise UserError(
            f"{where}: field 'lidarlite.variant' must be one of {', '.join(VARIANTS)}, "
            f"got {out['variant']!r}"
        )
    if not 0.0 <= out.get("reflectance", 0.7) <= 1.0:
        raise UserError(f"{where}: field 'lidarlite.reflectance' must be in [0, 1]")
    if out.get("bus_hz", 100_000) not in (100_000, 400_000):
        raise UserError(f"{where}: field 'lidarlite.bus_hz' must be 100000 or 400000")
    return out


def _terrain(where: str, raw: Any) -> tuple[TerrainStep, ...]:
    if not isinstance(raw, list):
        raise UserError(f"{where}: 'terrain' must be an array of tables ([[terrain]])")
    steps = []
    for i, entry in enumerate(raw):
        at = f"terrain[{i}]"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: {at} must be a table")
        for key in entry:
            if key not in ("t_s", "elevation_m"):
                raise UserError(f"{where}: unknown field '{at}.{key}'")
        for key in ("t_s", "elevation_m"):
            if key not in entry:
                raise UserError(f"{where}: missing field '{at}.{key}'")
        t = _check_value(where, f"{at}.t_s", entry["t_s"], float)
        if t < 0 or (steps and t <= steps[-1].t_s):
            raise UserError(f"{where}: field '{at}.t_s' must be >= 0 and increasing")
        steps.append(
            TerrainStep(t, _check_value(where, f"{at}.elevation_m", entry["elevation_m"], float))
        )
    return tuple(steps)


def _validate_sensors(where: str, s: Scenario) -> None:
    """Build the sensor models once so that their own checks run at load time."""
    import numpy as np

    if s.rangefinder.model not in RANGEFINDER_MODELS:
        raise UserError(
            f"{where}: field 'rangefinder.model' must be one of "
            f"{', '.join(RANGEFINDER_MODELS)}, got {s.rangefinder.model!r}"
        )
    try:
        cfg = s.lrf_config()
    except (ValueError, TypeError) as exc:
        raise UserError(f"{where}: [lrf]: {exc}") from None
    from softland.devices.lrf import LrfModel

    lrf = LrfModel(cfg, np.random.default_rng(0))
    from softland.devices.imu_faults import parse_fault as parse_imu_fault
    from softland.devices.lidarlite import parse_fault

    for i, fault in enumerate(s.faults):
        try:
            if fault.sensor == "lrf":
                lrf.inject(fault.name, fault.start_s, fault.end_s, **fault.params)
            elif fault.sensor == "lidarlite":
                parse_fault(fault.name, fault.start_s, fault.end_s, **fault.params)
            elif fault.sensor == "imu":
                parse_imu_fault(fault.name, max(fault.start_s, 0.0), fault.end_s, **fault.params)
        except (ValueError, TypeError) as exc:
            raise UserError(f"{where}: faults[{i}]: {exc}") from None


def parse_scenario(raw: dict[str, Any], where: str) -> Scenario:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TOP_FIELDS:
            values[key] = _check_value(where, key, value, _TOP_FIELDS[key])
        elif key in _SECTIONS:
            values[key] = _section(where, key, value, _SECTIONS[key])
        elif key == "firmware":
            values[key] = _firmware_overrides(where, value)
        elif key == "lrf":
            values[key] = _lrf_overrides(where, value)
        elif key == "faults":
            values[key] = _faults(where, value)
        elif key == "lidarlite":
            values[key] = _lidarlite_settings(where, value)
        elif key == "terrain":
            values[key] = _terrain(where, value)
        else:
            extra = ("firmware", "lrf", "lidarlite", "faults", "terrain")
            known = ", ".join([*_TOP_FIELDS, *_SECTIONS, *extra])
            raise UserError(f"{where}: unknown field '{key}' (known: {known})")
    for key in ("name", "description", *_REQUIRED_SECTIONS):
        if key not in values:
            what = f"section [{key}]" if key in _SECTIONS else f"field '{key}'"
            raise UserError(f"{where}: missing {what}")
    scenario = Scenario(**values, source=where)
    _validate(where, scenario)
    _validate_sensors(where, scenario)
    return scenario


def load_scenario_file(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"scenario file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read scenario file {path}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(raw, str(path))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or path.exists() or "/" in name_or_path:
        return load_scenario_file(path)
    builtin = BUILTIN_DIR / f"{name_or_path}.toml"
    if not builtin.is_file():
        known = ", ".join(builtin_names())
        raise UserError(f"unknown scenario '{name_or_path}' (built-in: {known}; or a .toml path)")
    return load_scenario_file(builtin)
