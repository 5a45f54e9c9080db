"""Scenario files: built-ins load; bad files are rejected naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from softland.errors import UserError
from softland.simulation.scenario import builtin_names, load_scenario, load_scenario_file

GOOD = """
name = "t"
description = "test"
[vehicle]
mass_kg = 1000.0
propellant_kg = 200.0
max_thrust_n = 3240.0
isp_s = 300.0
[initial]
altitude_m = 3000.0
velocity_mps = -60.0
[criteria]
outcome = "landed"
max_touchdown_speed_mps = 1.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_every_builtin_scenario_loads() -> None:
    assert "nominal" in builtin_names()
    for name in builtin_names():
        assert load_scenario(name).name == name


def test_a_minimal_file_loads_with_defaults(tmp_path: Path) -> None:
    s = load_scenario_file(_write(tmp_path, GOOD))
    assert s.body.g == 1.62
    assert s.sim.tick_hz == 50


def test_unknown_scenario_name_lists_the_builtins() -> None:
    with pytest.raises(UserError, match="unknown scenario 'nope'.*nominal"):
        load_scenario("nope")


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_scenario(str(tmp_path / "absent.toml"))


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    with pytest.raises(UserError, match="cannot read scenario file"):
        load_scenario(str(directory))


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not valid TOML"):
        load_scenario_file(_write(tmp_path, "x = ["))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("mass_kg = 1000.0", 'mass_kg = "heavy"'), "vehicle.mass_kg"),
        (("mass_kg = 1000.0", "mass_kg = -5.0"), "vehicle.mass_kg"),
        (("isp_s = 300.0", "isp_s = 300.0\nnozzles = 2"), "vehicle.nozzles"),
        (('outcome = "landed"', 'outcome = "teleported"'), "criteria.outcome"),
        (("max_thrust_n = 3240.0", "max_thrust_n = 1000.0"), "vehicle.max_thrust_n"),
        (("propellant_kg = 200.0", "propellant_kg = 2000.0"), "vehicle.propellant_kg"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, change: tuple[str, str], field: str) -> None:
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        load_scenario_file(_write(tmp_path, GOOD.replace(*change)))


def test_missing_criteria_section_is_named(tmp_path: Path) -> None:
    text = GOOD[: GOOD.index("[criteria]")]
    with pytest.raises(UserError, match=r"missing section \[criteria\]"):
        load_scenario_file(_write(tmp_path, text))


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="initial.altitude_m"):
        load_scenario_file(_write(tmp_path, GOOD.replace("altitude_m = 3000.0", "")))


def test_unknown_top_level_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown field 'colour'"):
        load_scenario_file(_write(tmp_path, 'colour = "red"\n' + GOOD))


def test_unknown_firmware_parameter_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="firmware.warp_factor"):
        load_scenario_file(_write(tmp_path, GOOD + "[firmware]\nwarp_factor = 9\n"))


def test_firmware_override_must_be_an_integer(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="firmware.guid_k_q12"):
        load_scenario_file(_write(tmp_path, GOOD + "[firmware]\nguid_k_q12 = 0.9\n"))


def test_a_handover_sigma_of_five_km_loads(tmp_path: Path) -> None:
    s = load_scenario_file(_write(tmp_path, GOOD + "[firmware]\nsigma0_mm = 5000000\n"))
    assert s.firmware["sigma0_mm"] == 5_000_000


def test_a_handover_sigma_of_fifty_km_is_refused_saying_what_limits_it(tmp_path: Path) -> None:
    with pytest.raises(UserError) as refused:
        load_scenario_file(_write(tmp_path, GOOD + "[firmware]\nsigma0_mm = 50000000\n"))
    message = str(refused.value)
    assert "firmware.sigma0_mm = 50000000 is outside the firmware's range [0, 5000000]" in message
    assert "NSIGMA_Q4 x sigma stays below 2^30" in message


def test_unknown_lrf_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="lrf.laser_colour"):
        load_scenario_file(_write(tmp_path, GOOD + "[lrf]\nlaser_colour = 1.0\n"))


def test_invalid_lrf_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="rate_hz"):
        load_scenario_file(_write(tmp_path, GOOD + "[lrf]\nrate_hz = -5.0\n"))


def test_unknown_rangefinder_model_is_named(tmp_path: Path) -> None:
    text = GOOD + '[rangefinder]\nmodel = "radar"\n'
    with pytest.raises(UserError, match="rangefinder.model"):
        load_scenario_file(_write(tmp_path, text))


def test_unknown_fault_name_is_reported(tmp_path: Path) -> None:
    text = GOOD + '[[faults]]\nsensor = "lrf"\nname = "gremlins"\nstart_s = 1.0\n'
    with pytest.raises(UserError, match=r"faults\[0\].*gremlins"):
        load_scenario_file(_write(tmp_path, text))


def test_fault_without_a_start_time_is_named(tmp_path: Path) -> None:
    text = GOOD + '[[faults]]\nsensor = "lrf"\nname = "stuck"\n'
    with pytest.raises(UserError, match=r"faults\[0\]\.start_s"):
        load_scenario_file(_write(tmp_path, text))


def test_lrf_faults_load(tmp_path: Path) -> None:
    text = GOOD + (
        '[rangefinder]\nmodel = "lrf"\n'
        '[[faults]]\nsensor = "lrf"\nname = "delay"\nstart_s = 1.0\nend_s = 2.0\n'
        "params = { latency_ms = 40.0 }\n"
    )
    s = load_scenario_file(_write(tmp_path, text))
    assert s.faults[0].params == {"latency_ms": 40.0}


def test_a_computer_reset_needs_the_time_it_boots_again(tmp_path: Path) -> None:
    text = GOOD + '[[faults]]\nsensor = "computer"\nname = "reset"\nstart_s = 20.0\n'
    with pytest.raises(UserError, match=r"faults\[0\]\.end_s"):
        load_scenario_file(_write(tmp_path, text))


def test_a_computer_fault_other_than_reset_is_named(tmp_path: Path) -> None:
    text = GOOD + '[[faults]]\nsensor = "computer"\nname = "melt"\nstart_s = 1.0\nend_s = 2.0\n'
    with pytest.raises(UserError, match=r"faults\[0\]\.name.*melt"):
        load_scenario_file(_write(tmp_path, text))


def test_a_reset_outage_beyond_ten_seconds_is_refused(tmp_path: Path) -> None:
    text = GOOD + '[[faults]]\nsensor = "computer"\nname = "reset"\nstart_s = 1.0\nend_s = 20.0\n'
    with pytest.raises(UserError, match=r"faults\[0\]\.end_s.*10 s"):
        load_scenario_file(_write(tmp_path, text))


def test_a_negative_resume_bound_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("max_touchdown_speed_mps = 1.0", "max_resume_ticks = -1")
    with pytest.raises(UserError, match=r"criteria\.max_resume_ticks"):
        load_scenario_file(_write(tmp_path, text))


def test_restitution_outside_zero_to_one_is_refused_naming_the_field() -> None:
    import tomllib

    from softland.simulation.scenario import BUILTIN_DIR, parse_scenario

    raw = tomllib.loads((BUILTIN_DIR / "nominal.toml").read_text())
    raw["sim"]["restitution"] = 1.0
    with pytest.raises(UserError, match=r"'sim.restitution' must be in \[0, 1\)"):
        parse_scenario(raw, "x.toml")


def test_a_land_detect_limit_beyond_the_run_after_contact_is_refused() -> None:
    import tomllib

    from softland.simulation.scenario import BUILTIN_DIR, parse_scenario

    raw = tomllib.loads((BUILTIN_DIR / "nominal.toml").read_text())
    raw["criteria"]["max_land_detect_s"] = 9.0
    with pytest.raises(UserError, match="'criteria.max_land_detect_s' must be below"):
        parse_scenario(raw, "x.toml")


def test_a_false_return_without_its_offset_is_refused_naming_the_fault() -> None:
    import tomllib

    from softland.simulation.scenario import BUILTIN_DIR, parse_scenario

    raw = tomllib.loads((BUILTIN_DIR / "false-return-long.toml").read_text())
    del raw["faults"][0]["params"]
    with pytest.raises(UserError, match=r"faults\[0\]: LRF fault 'false_return' needs .*offset_m"):
        parse_scenario(raw, "x.toml")
