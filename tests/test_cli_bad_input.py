"""Every `softland` command fed bad arguments, bad files and unwritable places: a non-zero
exit, one `error:` line and never a traceback (issue 13, item 4).

The commands run in-process through softland.cli.main, the console script's entry point, so
UserError and OSError handling is the one a user sees. Option parsing errors are click's usage
errors: exit 2 with click's usual short form ("Usage: ...", "Try ... for help.", "Error: ...";
`mc` shows two usage lines, run and rerun), accepted here as the one-error-line form for a
mistyped option. Every input fails before anything is flown, captured or flashed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from softland.cli import main

USAGE = "usage"  # click's Usage/Try/Error block
ERROR = "error"  # softland's one `error:` line


def make_places(d: Path) -> dict[str, str]:
    """Bad files and places in directory d, by name: {missing}, {dir}, {garbage}, {empty}, ...
    (benchmarks/bad_input_list.py makes the same)."""
    (d / "dir").mkdir()
    (d / "garbage.bin").write_bytes(bytes(range(256))[::-1] * 2)
    (d / "empty").write_bytes(b"")
    (d / "trunc.toml").write_text('name = "cut"\n[vehicle]\nmass_kg = ')
    run = d / "run"
    run.mkdir()
    (run / "inputs.bin").write_bytes(b"\x00\xff" * 50)
    mc = d / "campaign"
    mc.mkdir()
    (mc / "summary.json").write_bytes(b"{ not json")
    (mc / "runs.csv").write_bytes(b"\xff\xfe\x00garbage")
    if os.geteuid() != 0:
        locked = d / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        unwritable = str(locked)
    else:
        unwritable = "/sys"  # root writes anywhere it owns: a read-only kernel directory
    return {
        "missing": str(d / "missing"),
        "dir": str(d / "dir"),
        "garbage": str(d / "garbage.bin"),
        "empty": str(d / "empty"),
        "trunc": str(d / "trunc.toml"),
        "run": str(run),
        "campaign": str(mc),
        "unwritable": unwritable,
        "out": str(d / "out"),
    }


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_places(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def flight_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real flight log (one short SIL flight) to export or plot into an unwritable place."""
    from softland.simulation.scenario import load_scenario
    from softland.simulation.sim import run_scenario

    path = tmp_path_factory.mktemp("log") / "flight.log"
    run_scenario(load_scenario("nominal"), "cpython", flightlog=path)
    return path


def _run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    monkeypatch.setattr(sys, "argv", ["softland", *args])
    monkeypatch.setenv("COLUMNS", "400")  # one error line, not wrapped by rich
    with pytest.raises(SystemExit) as exit_info:  # any other exception is a traceback
        main()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), [ln for ln in err.splitlines() if ln.strip()]


def _assert_fails_cleanly(kind: str, code: int, lines: list[str], expect: str) -> None:
    assert code != 0, lines
    if kind == USAGE:
        assert code == 2, lines
        assert lines[0].startswith("Usage:"), lines
        # the usage (two lines for `mc`: run and rerun), the help hint, then one Error line
        *head, line = lines
        assert line.startswith("Error:"), lines
        assert all(ln.startswith(("Usage:", "       ", "Try ")) for ln in head), lines
    else:
        assert len(lines) == 1, lines
        line = lines[0]
        assert line.startswith("error:"), line
    assert expect in line, line


# (id, kind, args, what the line must say); {name} is a path from the `places` fixture
CASES = [
    # sim
    ("sim-seed-text", USAGE, "sim --seed many", "--seed"),
    ("sim-seed-negative", USAGE, "sim --seed -5", "--seed"),
    ("sim-runtime-unknown", USAGE, "sim --runtime jvm", "--runtime"),
    ("sim-controller-unknown", USAGE, "sim --controller x", "--controller"),
    ("sim-scenario-unknown", ERROR, "sim no-such-scenario --out {out}", "unknown scenario"),
    ("sim-scenario-missing", ERROR, "sim {missing}.toml --out {out}", "not found"),
    ("sim-scenario-dir", ERROR, "sim {dir} --out {out}", "cannot read scenario file"),
    ("sim-scenario-garbage", ERROR, "sim {garbage} --out {out}", "cannot read scenario file"),
    ("sim-scenario-empty", ERROR, "sim {empty} --out {out}", "missing field 'name'"),
    ("sim-scenario-truncated", ERROR, "sim {trunc} --out {out}", "not valid TOML"),
    ("sim-out-unwritable", ERROR, "sim --runtime cpython --out {unwritable}", "cannot write"),
    ("sim-out-is-file", ERROR, "sim --runtime cpython --out {garbage}", "output directory"),
    ("sim-live-bad-url", ERROR, "sim --runtime cpython --live x --out {out}", "--live"),
    ("sim-mavlink-bad-port", ERROR, "sim --mavlink udp://:x --out {out}", "--mavlink"),
    ("sim-micropython-garbage", ERROR,
     "sim --runtime micropython --micropython {garbage} --out {out}", "MicroPython"),
    # scenarios, boards, bench
    ("scenarios-extra-argument", USAGE, "scenarios extra", "extra argument"),
    ("boards-extra-argument", USAGE, "boards extra", "extra argument"),
    ("bench-repeats-zero", USAGE, "bench --repeats 0", "--repeats"),
    ("bench-repeats-negative", USAGE, "bench --repeats -1", "--repeats"),
    ("bench-repeats-text", USAGE, "bench --repeats x", "--repeats"),
    ("bench-runtime-unknown", USAGE, "bench --runtime jvm", "--runtime"),
    ("bench-mc-runs-negative", USAGE, "bench --mc-runs -1", "--mc-runs"),
    ("bench-mc-runs-text", USAGE, "bench --mc-runs x", "--mc-runs"),
    # mc, mc rerun
    ("mc-no-scenario", USAGE, "mc", "SCENARIO"),
    ("mc-runs-negative", ERROR, "mc nominal --runs -3 --out {out}", "--runs"),
    ("mc-runs-zero", ERROR, "mc nominal --runs 0 --out {out}", "--runs"),
    ("mc-runs-huge", ERROR, "mc nominal --runs 99999999999999999999 --out {out}", "at most"),
    ("mc-runs-text", ERROR, "mc nominal --runs x --out {out}", "--runs"),
    ("mc-seed-negative", ERROR, "mc nominal --seed -1 --out {out}", "--seed"),
    ("mc-workers-negative", ERROR, "mc nominal --workers -1 --out {out}", "--workers"),
    ("mc-dask-workers-negative", ERROR, "mc nominal --dask-workers -2 --out {out}",
     "--dask-workers"),
    ("mc-batch-without-dask", ERROR, "mc nominal --batch 0 --out {out}", "--batch"),
    ("mc-scenario-missing", ERROR, "mc {missing}.toml --runs 2 --out {out}", "not found"),
    ("mc-scenario-garbage", ERROR, "mc {garbage} --runs 2 --out {out}", "scenario file"),
    ("mc-scenario-dir", ERROR, "mc {dir} --runs 2 --out {out}", "scenario file"),
    ("mc-out-unwritable", ERROR, "mc nominal --runs 2 --quiet --out {unwritable}",
     "cannot write"),
    ("mc-out-is-file", ERROR, "mc nominal --runs 2 --quiet --out {garbage}", "output directory"),
    ("mc-rerun-missing-dir", ERROR, "mc rerun {missing} --failed", "summary.json not found"),
    ("mc-rerun-not-a-campaign", ERROR, "mc rerun {dir} --failed", "summary.json not found"),
    ("mc-rerun-a-file", ERROR, "mc rerun {garbage} --failed", "not found"),
    ("mc-rerun-garbage-campaign", ERROR, "mc rerun {campaign} --failed --out {out}",
     "{campaign}"),
    ("mc-rerun-without-failed", ERROR, "mc rerun {dir}", "--failed"),
    # campaign
    ("campaign-only-unknown", ERROR, "campaign --only nosuch --out {out}", "unknown scenario"),
    ("campaign-name-unknown", ERROR, "campaign nominal nosuch --out {out}", "'nosuch'"),
    ("campaign-runs-zero", ERROR, "campaign --runs 0 --out {out}", "--runs"),
    ("campaign-seed-negative", ERROR, "campaign --seed -1 --out {out}", "--seed"),
    ("campaign-runtime-unknown", ERROR, "campaign --runtime jvm --out {out}", "runtime"),
    ("campaign-out-unwritable", ERROR, "campaign --only nominal --out {unwritable}",
     "cannot write"),
    ("campaign-out-is-file", ERROR, "campaign --only nominal --out {garbage}",
     "output directory"),
    ("campaign-docs-without-markers", ERROR,
     "campaign --only nominal --out {out} --write-docs {empty}", "softland-campaign:begin"),
    ("campaign-docs-missing", ERROR,
     "campaign --only nominal --out {out} --write-docs {missing}.md", "not found"),
    ("campaign-docs-garbage", ERROR,
     "campaign --only nominal --out {out} --write-docs {garbage}", "cannot read"),
    # flash, install-runtime
    ("flash-board-unknown", ERROR, "flash --board nosuch --dry-run", "unknown board"),
    ("flash-board-garbage", ERROR, "flash --board {garbage} --dry-run", "not a board file"),
    ("flash-board-dir", ERROR, "flash --board {dir} --dry-run", "cannot read board file"),
    ("flash-board-empty", ERROR, "flash --board {empty} --dry-run", "missing field"),
    ("flash-board-truncated", ERROR, "flash --board {trunc} --dry-run", "not valid TOML"),
    ("flash-mode-unknown", USAGE, "flash --mode x", "--mode"),
    ("flash-firmware-a-file", USAGE, "flash --firmware {garbage} --dry-run", "--firmware"),
    ("flash-firmware-empty-dir", ERROR, "flash --firmware {dir} --dry-run {missing}",
     "firmware directory"),
    ("install-runtime-board-unknown", ERROR, "install-runtime --board nosuch --dry-run",
     "unknown board"),
    ("install-runtime-board-garbage", ERROR, "install-runtime --board {garbage} --dry-run",
     "not a board file"),
    ("install-runtime-board-empty", ERROR, "install-runtime --board {empty} --dry-run",
     "missing field"),
    # pil (no QEMU: every input fails before the board starts)
    ("pil-clock-unknown", USAGE, "pil --clock-mhz 3", "--clock-mhz"),
    ("pil-ticks-negative", ERROR, "pil --ticks -5", "--ticks"),
    ("pil-ticks-text", USAGE, "pil --ticks x", "--ticks"),
    ("pil-scenario-unknown", ERROR, "pil --scenario nosuch --image {missing}",
     "unknown scenario"),
    ("pil-image-missing", ERROR, "pil --image {missing}", "image not found"),
    # listen
    ("listen-baud-text", USAGE, "listen --baud x", "--baud"),
    ("listen-duration-negative", USAGE, "listen --duration -1", "--duration"),
    ("listen-frames-zero", USAGE, "listen --frames 0", "--frames"),
    ("listen-port-missing", ERROR, "listen --port {missing} --frames 1", "serial port"),
    ("listen-port-a-dir", ERROR, "listen --port {dir} --frames 1", "serial port"),
    ("listen-out-unwritable", ERROR, "listen --port {missing} --out {unwritable} --frames 1",
     "cannot write"),
    # check
    ("check-no-run-dir", USAGE, "check", "RUN_DIR"),
    ("check-run-dir-missing", ERROR, "check {missing}", "does not exist"),
    ("check-run-dir-empty", ERROR, "check {dir}", "inputs.bin not found"),
    ("check-run-dir-a-file", ERROR, "check {garbage}", "not a directory"),
    ("check-inputs-garbage", ERROR, "check {run}", "not a softland link log"),
    ("check-against-unknown", USAGE, "check {dir} --against x", "--against"),
    # hil, proxy
    ("hil-seed-negative", USAGE, "hil --seed -1", "--seed"),
    ("hil-reply-timeout-text", USAGE, "hil --reply-timeout x", "--reply-timeout"),
    ("hil-no-port", USAGE, "hil --board unix --out {out}", "--port"),
    ("hil-board-unknown", ERROR, "hil --board nosuch --port {missing} --out {out}",
     "unknown board"),
    ("hil-board-garbage", ERROR, "hil --board {garbage} --port {missing} --out {out}",
     "not a board file"),
    ("hil-scenario-unknown", ERROR, "hil nosuch --board unix --port {missing} --out {out}",
     "unknown scenario"),
    ("hil-scenario-garbage", ERROR, "hil {garbage} --board unix --port {missing} --out {out}",
     "scenario file"),
    ("hil-port-missing", ERROR, "hil --board unix --port {missing} --out {out}", "serial port"),
    ("hil-out-unwritable", ERROR, "hil --board unix --port {missing} --out {unwritable}",
     "cannot write"),
    ("proxy-no-port", USAGE, "proxy", "--port"),
    ("proxy-rate-above-one", ERROR, "proxy --port {missing} --drop 2", "--drop"),
    ("proxy-rate-negative", ERROR, "proxy --port {missing} --corrupt -1", "--corrupt"),
    ("proxy-unit-unknown", USAGE, "proxy --port {missing} --unit x", "--unit"),
    ("proxy-port-missing", ERROR, "proxy --port {missing} --seconds 0.1", "serial port"),
    # drop capture, drop analyze
    ("drop-capture-samples-few", USAGE, "drop capture --samples 5", "--samples"),
    ("drop-capture-variant-unknown", USAGE, "drop capture --variant x", "--variant"),
    ("drop-capture-no-source", ERROR, "drop capture", "exactly one of"),
    ("drop-capture-out-unwritable", ERROR,
     "drop capture --emulate --samples 20 --out {unwritable}/drop.csv", "cannot write"),
    ("drop-capture-out-a-dir", USAGE, "drop capture --emulate --out {dir}", "--out"),
    ("drop-capture-port-missing", ERROR,
     "drop capture --port {missing} --samples 20 --out {out}.csv", "serial port"),
    ("drop-analyze-missing", ERROR, "drop analyze {missing}", "does not exist"),
    ("drop-analyze-a-dir", USAGE, "drop analyze {dir}", "CAPTURE"),
    ("drop-analyze-garbage", ERROR, "drop analyze {garbage}", "cannot be read"),
    ("drop-analyze-empty", ERROR, "drop analyze {empty}", "not a softland drop capture"),
    ("drop-analyze-truncated", ERROR, "drop analyze {trunc}", "not a softland drop capture"),
    ("drop-analyze-g-text", USAGE, "drop analyze {garbage} --g x", "--g"),
    # log show/export/plot/pull, replay
    ("log-show-missing", ERROR, "log show {missing}", "does not exist"),
    ("log-show-a-dir", ERROR, "log show {dir}", "is a directory"),
    ("log-show-garbage", ERROR, "log show {garbage}", "not a softland flight log"),
    ("log-show-empty", ERROR, "log show {empty}", "not a softland flight log"),
    ("log-export-format-unknown", USAGE, "log export {garbage} --format x", "--format"),
    ("log-export-missing", ERROR, "log export {missing}", "does not exist"),
    ("log-export-garbage", ERROR, "log export {garbage}", "not a softland flight log"),
    ("log-plot-missing", ERROR, "log plot {missing}", "does not exist"),
    ("log-plot-a-dir", ERROR, "log plot {dir}", "is a directory"),
    ("log-plot-empty", ERROR, "log plot {empty}", "not a softland flight log"),
    ("log-pull-no-port", USAGE, "log pull", "--port"),
    ("replay-missing", ERROR, "replay {missing}", "does not exist"),
    ("replay-a-dir", ERROR, "replay {dir}", "is a directory"),
    ("replay-garbage", ERROR, "replay {garbage}", "not a softland flight log"),
    ("replay-empty", ERROR, "replay {empty}", "not a softland flight log"),
    ("replay-runtime-unknown", USAGE, "replay {empty} --runtime jvm", "--runtime"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "args", "expect"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_input_is_one_line_and_a_non_zero_exit(
    kind: str,
    args: str,
    expect: str,
    places: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = _run(args.format(**places).split(), monkeypatch, capsys)
    _assert_fails_cleanly(kind, code, lines, expect.format(**places))


@pytest.mark.parametrize(
    "args",
    [
        "log export {log} --out {unwritable}/flight.ulg",
        "log export {log} --format csv --out {unwritable}/flight.csv",
        "log export {log} --out {dir}",
        "log plot {log} --out {unwritable}/flight.png",
    ],
    ids=["export-ulog", "export-csv", "export-into-a-dir", "plot"],
)
def test_log_written_to_an_unwritable_place_is_one_line(
    args: str,
    flight_log: Path,
    places: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = _run(args.format(log=flight_log, **places).split(), monkeypatch, capsys)
    _assert_fails_cleanly(ERROR, code, lines, "cannot write")


def test_drop_report_into_an_unwritable_place_is_one_line(
    places: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from softland.drop.capture import write_capture
    from softland.drop.emulate import DropRig, emulated_capture

    capture = tmp_path / "drop.csv"
    write_capture(capture, emulated_capture(DropRig(samples=200), 1))
    args = ["drop", "analyze", str(capture), "--out", places["unwritable"] + "/report"]
    code, lines = _run(args, monkeypatch, capsys)
    _assert_fails_cleanly(ERROR, code, lines, "output directory")
