"""`softland log show/export/plot/pull` and `softland replay` on flight logs written by the
firmware in SIL (docs/flightlog.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from softland.boards.firmware import firmware_dir, fsw_module
from softland.cli import cli
from softland.errors import UserError
from softland.flightlog.export import export, parameters, to_csv
from softland.flightlog.reader import K_CMD, read_flight_log
from softland.flightlog.replay import replay_log
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sim_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("log") / "flight.log"
    run_scenario(load_scenario("nominal"), "cpython", flightlog=path)
    return path


def _corrupt(src: Path, dst: Path, slots: list[int]) -> list[int]:
    data = bytearray(src.read_bytes())
    layout = read_flight_log(src).layout
    offsets = []
    for i in slots:
        off = layout.header_bytes + i * layout.slot
        data[off + 40] ^= 0x5A  # a byte inside the record's payload
        offsets.append(off)
    dst.write_bytes(bytes(data))
    return offsets


def test_ulog_export_reads_back_in_pyulog_with_every_field(sim_log: Path, tmp_path: Path):
    pyulog = pytest.importorskip("pyulog", reason="pyulog not installed (the test extra has it)")
    log = read_flight_log(sim_log)
    out = tmp_path / "flight.ulg"
    export(log, "ulog", out)
    u = pyulog.ULog(str(out))
    topics = {d.name: d.data for d in u.data_list}
    telem = topics["softland_telemetry"]
    ticks = log.ticks()
    assert len(telem["timestamp"]) == len(ticks)
    for name in log.layout.telem:
        assert list(telem[name]) == [r.telem[name] for r in ticks], name
    given = topics["softland_flight_input"]
    flying = [r for r in ticks if r.given is not None]
    for name in log.layout.given:
        assert list(given[name]) == [r.given[name] for r in flying], name
    assert len(topics["softland_command"]["code"]) == len(log.commands())
    assert all(a < b for a, b in zip(telem["timestamp"], telem["timestamp"][1:], strict=False))
    assert u.initial_parameters == parameters(log)
    assert u.msg_info_dict["ver_sw"] == log.layout.firmware
    texts = [m.message for m in u.logged_messages]
    assert texts[0] == "boot at record 0"
    assert "mode DESCENT -> TERMINAL" in texts and "START id 0 value 0: ok" in texts


def test_csv_export_has_one_row_per_record(sim_log: Path) -> None:
    log = read_flight_log(sim_log)
    lines = to_csv(log).decode().splitlines()
    assert len(lines) == 1 + len(log.records)
    assert lines[0].split(",")[:3] == ["record", "offset", "seq"]


def test_parquet_export_holds_every_record(sim_log: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow not installed")
    log = read_flight_log(sim_log)
    export(log, "parquet", tmp_path / "f.parquet")
    table = pq.read_table(tmp_path / "f.parquet")
    assert table.num_rows == len(log.records)
    assert table.column("alt_mm").to_pylist()[-1] == log.ticks()[-1].telem["alt_mm"]


def test_parquet_without_pyarrow_is_one_clear_message(
    sim_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(UserError, match="parquet export needs pyarrow"):
        export(read_flight_log(sim_log), "parquet", tmp_path / "f.parquet")


def test_corrupted_records_are_located_and_every_good_one_kept(sim_log: Path, tmp_path: Path):
    bad = tmp_path / "bad.log"
    offsets = _corrupt(sim_log, bad, [5, 700, 701])
    good = read_flight_log(sim_log)
    log = read_flight_log(bad)
    assert [(b.index, b.offset) for b in log.bad] == list(zip([5, 700, 701], offsets, strict=True))
    assert len(log.records) == len(good.records) - 3
    assert {r.seq for r in good.records} - {r.seq for r in log.records} == {5, 700, 701}


def test_export_of_a_corrupted_log_writes_the_good_records_and_exits_1(
    sim_log: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.log"
    _corrupt(sim_log, bad, [9])
    res = CliRunner().invoke(cli, ["log", "export", str(bad), "--format", "csv"])
    assert res.exit_code == 1
    assert "1 corrupted record(s) skipped: #9 @2176 (CRC mismatch)" in res.output
    rows = (tmp_path / "bad.csv").read_text().splitlines()
    assert len(rows) == 1 + len(read_flight_log(sim_log).records) - 1


def test_a_truncated_log_keeps_the_records_before_the_cut(sim_log: Path, tmp_path: Path):
    cut = tmp_path / "cut.log"
    cut.write_bytes(sim_log.read_bytes()[: 1024 + 128 * 100 + 50])
    res = CliRunner().invoke(cli, ["log", "show", str(cut)])
    assert res.exit_code == 1
    assert "truncated: the last slot has 50 bytes (100 good records kept)" in res.output


def test_a_file_that_is_not_a_log_is_one_line_and_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "x.log"
    f.write_bytes(b"hello\n")
    proc = _softland("log", "export", str(f))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {f} is not a softland flight log (no 'softland " \
        "flight log' header)"  # fmt: skip


def _softland(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(REPO / "host"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "softland.cli", *args],
        capture_output=True,
        text=True,
        env=e,
        timeout=300,
    )


def test_pull_from_a_port_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    proc = _softland("log", "pull", "--port", "/dev/ttyNOSUCH", "--out", str(tmp_path / "f"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: port /dev/ttyNOSUCH does not exist (is the board " \
        "plugged in?)"  # fmt: skip


def _fake_mpremote(tmp_path: Path, body: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "mpremote"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_pull_from_a_board_without_a_log_says_so(tmp_path: Path) -> None:
    env = _fake_mpremote(tmp_path, 'echo "cp: :/flight.log: No such file or directory"; exit 1')
    proc = _softland("log", "pull", "--port", "fake", "--out", str(tmp_path / "f"), env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: the board on fake has no flight log at :/flight.log"


def test_pull_copies_the_log_and_summarises_it(sim_log: Path, tmp_path: Path) -> None:
    # the fake mpremote copies the file named as the board's path: `fs cp :SRC DST`
    env = _fake_mpremote(tmp_path, 'src="${5#:}"; cp "$src" "$6"')
    out = tmp_path / "pulled.log"
    proc = _softland(
        "log", "pull", "--port", "fake", "--path", str(sim_log), "--out", str(out), env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == sim_log.read_bytes()
    assert "0 corrupted" in proc.stdout


def test_plot_writes_a_png(sim_log: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["log", "plot", str(sim_log), "--out", str(tmp_path / "p.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replay_of_a_sim_log_finds_no_divergence(sim_log: Path) -> None:
    # a process of its own: the replay imports the firmware's packages itself
    proc = _softland("replay", str(sim_log))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    n = len(read_flight_log(sim_log).ticks())
    assert proc.stdout.startswith(f"no divergence ({n} ticks and ")


def test_replay_under_micropython_finds_no_divergence(micropython_bin: str, sim_log: Path):
    result = replay_log(read_flight_log(sim_log), "micropython", micropython_bin)
    assert result.divergence is None and result.stopped is None
    assert result.compared_ticks == len(read_flight_log(sim_log).ticks())


def _perturbed_firmware(tmp_path: Path) -> Path:
    # the firmware with its proportional gain changed: the controller's command differs once
    # the velocity error is not zero
    fw = tmp_path / "firmware"
    shutil.copytree(firmware_dir(), fw, ignore=shutil.ignore_patterns("__pycache__"))
    control = fw / "fsw" / "control.py"
    text = control.read_text()
    old = "((p[_KP_Q12] * err) >> 12)"
    assert old in text
    control.write_text(text.replace(old, "(((p[_KP_Q12] + 256) * err) >> 12)"))
    return fw


def _sim_cli(out: Path, firmware: Path | None = None) -> Path:
    env = {"SOFTLAND_FIRMWARE": str(firmware)} if firmware else None
    proc = _softland(
        "sim", "nominal", "--runtime", "cpython", "--quiet", "--out", str(out), env=env
    )
    assert (out / "flight.log").is_file(), proc.stderr
    return out / "flight.log"


def test_replay_of_a_perturbed_firmware_log_finds_the_first_divergence(tmp_path: Path) -> None:
    run = _sim_cli(tmp_path / "run", _perturbed_firmware(tmp_path))
    perturbed = read_flight_log(run)
    # where the perturbed flight first differs from the real one (same scenario and seed)
    real_log = read_flight_log(_sim_cli(tmp_path / "real"))
    real = {r.telem["tick"]: r.telem for r in real_log.ticks()}
    first = next(r for r in perturbed.ticks() if r.telem != real[r.telem["tick"]])
    channel = next(k for k, v in first.telem.items() if real[first.telem["tick"]][k] != v)
    result = replay_log(perturbed, "cpython")
    d = result.divergence
    assert d is not None
    assert (d.tick, d.channel) == (first.telem["tick"], channel)
    assert (d.logged, d.replayed) == (first.telem[channel], real[d.tick][channel])
    res = CliRunner().invoke(cli, ["replay", str(run)])
    assert res.exit_code == 1
    assert res.output.startswith(f"first divergence at record {d.seq} (tick {d.tick}), channel")


def test_replay_stops_at_a_gap_of_corrupted_records(sim_log: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.log"
    _corrupt(sim_log, bad, [500])
    result = replay_log(read_flight_log(bad), "cpython")
    assert result.divergence is None
    assert result.stopped == "records 500..500 are missing (corrupted or overwritten)"


def test_replay_goes_on_across_a_reset_that_lost_no_record(tmp_path: Path) -> None:
    # seed 2 of beresheet: the reset comes with 3 records in the log's RAM block, taken back
    # from the tail store at boot
    path = tmp_path / "b.log"
    run_scenario(dispersed_run(load_scenario("beresheet"), 2), "cpython", seed=2, flightlog=path)
    log = read_flight_log(path)
    assert [b.unlogged_ticks for b in log.boots()] == [None, 0]
    result = replay_log(log, "cpython")
    assert result.divergence is None and result.stopped is None
    assert result.compared_ticks == sum(1 for r in log.records if r.kind != K_CMD)


def test_replay_stops_at_a_reset_that_lost_unwritten_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a board without a tail store: the 3 records in the RAM block at seed 2's reset are lost
    monkeypatch.setattr(fsw_module("flightlog").FlightLog, "_recover", lambda self: None)
    path = tmp_path / "b.log"
    run_scenario(dispersed_run(load_scenario("beresheet"), 2), "cpython", seed=2, flightlog=path)
    log = read_flight_log(path)
    assert [b.unlogged_ticks for b in log.boots()] == [None, 3]
    result = replay_log(log, "cpython")
    assert result.divergence is None
    assert result.stopped is not None and "lost 3 tick(s)" in result.stopped
    assert result.compared_ticks == sum(
        1 for r in log.records[: log.boots()[1].position] if r.kind != K_CMD
    )
