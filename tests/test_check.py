"""`softland check`: a run's telemetry against the float64 reference (within the declared
bounds) and against the firmware under CPython (bit-exact), on the inputs the run recorded."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from cli_run import run_softland

from softland.analysis.bounds import BOUNDS
from softland.analysis.check import check_run
from softland.analysis.report import write_outputs
from softland.boards.firmware import fsw_module
from softland.boards.linklog import read_link_log
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import builtin_names, load_scenario
from softland.simulation.sim import run_scenario


def _fly(name: str, out: Path) -> Path:
    s = dispersed_run(load_scenario(name), None)
    write_outputs(run_scenario(s, "cpython"), out)
    return out


@pytest.fixture(scope="module")
def nominal_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fly("nominal", tmp_path_factory.mktemp("nominal"))


_softland = run_softland


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_sim_records_the_inputs_and_the_uploaded_parameters(nominal_run: Path) -> None:
    log = read_link_log(nominal_run / "inputs.bin")
    assert len(log.records) > 3000  # parameters, commands and every tick
    assert '"init_alt_mm"' in (nominal_run / "params.json").read_text()


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_scenario_is_within_the_reference_bounds(name: str, tmp_path: Path) -> None:
    report = check_run(_fly(name, tmp_path), "reference")
    assert report.flight_ticks > 0
    broken = [(c.channel, c.largest, c.first_break_tick) for c in report.channels if not c.ok]
    assert not broken
    assert not report.decisions, report.decisions[:3]


def test_an_untouched_run_is_bit_exact_against_the_firmware_under_cpython(
    nominal_run: Path,
) -> None:
    report = check_run(nominal_run, "cpython")
    assert report.ok
    assert all(c.largest == 0 for c in report.channels)


def test_every_telemetry_channel_has_a_declared_bound_with_a_reason() -> None:
    from softland.boards.hostlink import TELEMETRY_FIELDS

    numeric = [n for n, _ in TELEMETRY_FIELDS if n not in ("mode", "phase", "flags", "flags2")]
    assert sorted(BOUNDS) == sorted(numeric)
    assert all(b.reason for b in BOUNDS.values())


def test_a_perturbed_estimator_gain_breaks_at_the_first_range_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the firmware flies with an altitude gain 25 % above the one uploaded (inputs.bin says
    # the default): the first range it uses moves its altitude by 25 % more of the innovation
    flight = fsw_module("flight")
    params = fsw_module("params")
    start = flight.Flight.start

    def start_with_a_wrong_gain(self):  # noqa: ANN001, ANN202
        self.p[params.EST_ALPHA_Q12] = self.p[params.EST_ALPHA_Q12] * 5 // 4
        return start(self)

    with monkeypatch.context() as m:
        m.setattr(flight.Flight, "start", start_with_a_wrong_gain)
        run = _fly("nominal", tmp_path)
    report = check_run(run, "reference")
    assert not report.ok
    rows = list(csv.DictReader((run / "telemetry.csv").open()))
    used = fsw_module("flags").RANGE_USED
    first_used = next(int(r["tick"]) for r in rows if int(r["flags"]) & used)
    assert report.first_break() == (first_used, "alt_mm")


def test_the_same_run_without_the_perturbation_has_no_break(nominal_run: Path) -> None:
    assert check_run(nominal_run, "reference").first_break() is None


def test_a_run_directory_that_does_not_exist_is_one_clear_error(tmp_path: Path) -> None:
    line = _one_error_line(_softland("check", str(tmp_path / "nowhere")))
    assert "does not exist" in line


def test_a_run_without_recorded_inputs_is_one_clear_error(
    nominal_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "telemetry.csv").write_text((nominal_run / "telemetry.csv").read_text())
    line = _one_error_line(_softland("check", str(run)))
    assert "inputs.bin not found" in line


def test_a_truncated_telemetry_file_is_one_clear_error(nominal_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "inputs.bin").write_bytes((nominal_run / "inputs.bin").read_bytes())
    text = (nominal_run / "telemetry.csv").read_text()
    (run / "telemetry.csv").write_text(text[: len(text) // 2])
    line = _one_error_line(_softland("check", str(run)))
    assert "telemetry.csv is truncated" in line


def test_a_telemetry_file_cut_at_a_line_end_is_one_clear_error(
    nominal_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "inputs.bin").write_bytes((nominal_run / "inputs.bin").read_bytes())
    lines = (nominal_run / "telemetry.csv").read_text().splitlines(keepends=True)
    (run / "telemetry.csv").write_text("".join(lines[:100]))
    line = _one_error_line(_softland("check", str(run)))
    assert "99 flight rows" in line


def test_check_exits_0_on_a_good_run_and_1_on_a_broken_one(
    nominal_run: Path, tmp_path: Path
) -> None:
    assert _softland("check", str(nominal_run), "--against", "cpython").returncode == 0
    run = tmp_path / "run"
    run.mkdir()
    (run / "inputs.bin").write_bytes((nominal_run / "inputs.bin").read_bytes())
    lines = (nominal_run / "telemetry.csv").read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    alt = header.index("alt_mm")
    row = lines[500].rstrip("\n").split(",")
    row[alt] = str(int(row[alt]) + 5000)  # a board that put out a wrong altitude
    lines[500] = ",".join(row) + "\n"
    (run / "telemetry.csv").write_text("".join(lines))
    proc = _softland("check", str(run))
    assert proc.returncode == 1
    assert "FAIL: first break at tick" in proc.stdout


def test_a_decision_that_differs_is_reported_with_its_tick(
    nominal_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "inputs.bin").write_bytes((nominal_run / "inputs.bin").read_bytes())
    lines = (nominal_run / "telemetry.csv").read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[300].rstrip("\n").split(",")
    row[header.index("flags")] = str(int(row[header.index("flags")]) ^ 0x0010)  # imu_used
    lines[300] = ",".join(row) + "\n"
    (run / "telemetry.csv").write_text("".join(lines))
    report = check_run(run, "reference")
    [diff] = report.decisions
    assert (diff.decision, diff.first_tick, diff.ticks) == (
        "flags.imu_used",
        int(row[header.index("tick")]),
        1,
    )


def test_a_lidar_lite_run_replays_bit_exact_from_its_recorded_i2c_answers(
    tmp_path: Path,
) -> None:
    report = check_run(_fly("earth-hopper", tmp_path), "cpython")
    assert report.ok
    assert all(c.largest == 0 for c in report.channels)


def test_sim_check_runs_the_checker_after_the_flight(tmp_path: Path) -> None:
    proc = _softland("sim", "--runtime", "cpython", "--quiet", "--check", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "OK: every channel within its bound" in proc.stdout


def test_a_corrupted_frame_in_the_recorded_inputs_is_one_clear_error(
    nominal_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "telemetry.csv").write_text((nominal_run / "telemetry.csv").read_text())
    data = bytearray((nominal_run / "inputs.bin").read_bytes())
    data[20] ^= 0xFF  # inside the first frame (a SET_PARAM): its CRC no longer matches
    (run / "inputs.bin").write_bytes(bytes(data))
    line = _one_error_line(_softland("check", str(run)))
    assert "inputs.bin: record 0 is not one good frame" in line


def test_the_cli_offers_what_the_checker_checks_against() -> None:
    from softland.analysis.check import AGAINST
    from softland.cli.check import AGAINST as CLI_AGAINST

    assert CLI_AGAINST == AGAINST
