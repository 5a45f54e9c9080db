"""The `softland` command as a user runs it: outputs, and one clear line for bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_run import one_error_line, run_softland

_softland = run_softland


_one_error_line = one_error_line


def test_sim_writes_summary_telemetry_and_plot(tmp_path: Path) -> None:
    proc = _softland("sim", "--runtime", "cpython", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["outcome"] == "landed"
    assert summary["runtime"] == "cpython"
    header = (tmp_path / "telemetry.csv").read_text().splitlines()[0].split(",")
    assert {"t_s", "mode", "alt_mm", "throttle_q15", "true_alt_m"} <= set(header)
    assert (tmp_path / "descent.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "delta_v_optimal_mps" in proc.stdout


def test_sim_defaults_to_micropython(tmp_path: Path, micropython_bin: str) -> None:
    proc = _softland("sim", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["runtime"] == "micropython"


def test_unknown_scenario_is_one_clear_error(tmp_path: Path) -> None:
    line = _one_error_line(_softland("sim", "no-such-scenario", "--out", str(tmp_path)))
    assert "unknown scenario 'no-such-scenario'" in line


def test_unreadable_scenario_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe not text")
    line = _one_error_line(_softland("sim", str(bad), "--out", str(tmp_path / "o")))
    assert "bad.toml" in line


def test_invalid_scenario_field_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "neg.toml"
    nominal = Path(__file__).parents[1] / "host/softland/simulation/scenarios/nominal.toml"
    text = nominal.read_text()
    bad.write_text(text.replace("mass_kg = 1000.0", "mass_kg = -1000.0"))
    line = _one_error_line(_softland("sim", str(bad), "--out", str(tmp_path / "o")))
    assert "vehicle.mass_kg" in line


def test_missing_micropython_binary_is_one_clear_error(tmp_path: Path) -> None:
    proc = _softland(
        "sim",
        "--runtime",
        "micropython",
        "--out",
        str(tmp_path),
        env={"SOFTLAND_MICROPYTHON": str(tmp_path / "no-micropython")},
    )
    line = _one_error_line(proc)
    assert "MicroPython unix port not found" in line


def test_scenarios_lists_one_line_each() -> None:
    proc = _softland("scenarios")
    assert proc.returncode == 0
    assert any(line.startswith("nominal ") for line in proc.stdout.splitlines())


@pytest.mark.parametrize("args", [["sim", "--runtime", "jvm"], ["sim", "--seed", "many"]])
def test_bad_options_exit_non_zero_without_traceback(args: list[str]) -> None:
    proc = _softland(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_negative_seed_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    proc = _softland("sim", "--seed", "-5", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--seed" in proc.stderr


def _unwritable_dir(tmp_path: Path) -> Path:
    # a directory the process cannot create files in: its mode for a normal user; root
    # writes anywhere it owns, so for root a read-only kernel directory
    if os.geteuid() != 0:
        d = tmp_path / "read-only"
        d.mkdir()
        d.chmod(0o500)
        return d
    return Path("/sys")


def test_unwritable_output_directory_fails_before_flying(tmp_path: Path) -> None:
    out = _unwritable_dir(tmp_path)
    proc = _softland("sim", "--runtime", "cpython", "--out", str(out), "--quiet")
    line = _one_error_line(proc)
    assert f"cannot write in output directory {out}" in line
    assert "softland sim" not in proc.stdout  # no summary table: nothing was flown


def test_error_message_keeps_square_brackets(tmp_path: Path) -> None:
    # rich markup must not eat "[vehicle]" (or crash on a path holding "[/]")
    odd = tmp_path / "odd[/]dir"
    odd.mkdir(parents=True)
    bad = odd / "name.toml"
    bad.write_text('name = "x"\ndescription = "no sections"\n')
    line = _one_error_line(_softland("sim", str(bad), "--out", str(tmp_path / "o")))
    assert "odd[/]dir/name.toml" in line
    assert "missing section [vehicle]" in line
