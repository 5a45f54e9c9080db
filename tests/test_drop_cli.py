"""`softland drop capture` and `softland drop analyze` as a user runs them: an emulated capture
analyzed end to end, and bad input (a truncated capture, a port that does not exist, no
adapter, no source) each refused with one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import one_error_line, run_softland

_softland = run_softland


_one_error_line = one_error_line


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("drop") / "cap.csv"
    proc = _softland("drop", "capture", "--emulate", "--samples", "400", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "400 samples at 25" in proc.stdout
    return out


def test_emulated_capture_then_analyze_writes_the_report(capture: Path, tmp_path: Path) -> None:
    proc = _softland("drop", "analyze", str(capture), "--out", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("g ") and "impact 6.2" in proc.stdout
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert abs(summary["impact_speed_m_s"] - 6.263) < 0.03
    assert (tmp_path / "rep" / "drop.png").is_file()
    assert (tmp_path / "rep" / "report.html").is_file()


def test_analyze_of_a_truncated_capture_says_so(capture: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.csv"
    cut.write_text(capture.read_text()[:5000])
    line = _one_error_line(_softland("drop", "analyze", str(cut)))
    assert "truncated capture: the header says 400 samples" in line


def test_analyze_of_a_missing_capture_says_so(tmp_path: Path) -> None:
    assert "does not exist" in _one_error_line(_softland("drop", "analyze", str(tmp_path / "x")))


def test_capture_from_a_port_that_does_not_exist_says_so(tmp_path: Path) -> None:
    line = _one_error_line(
        _softland("drop", "capture", "--port", "/dev/softland-none", "--out", str(tmp_path / "c"))
    )
    assert "serial port /dev/softland-none cannot be opened" in line


def test_capture_through_blinka_without_an_adapter_says_so(tmp_path: Path) -> None:
    proc = _softland("drop", "capture", "--blinka", "mcp2221", "--out", str(tmp_path / "c"))
    line = _one_error_line(proc)
    assert "MCP2221" in line and ("no MCP2221 adapter found" in line or "not installed" in line)


def test_capture_needs_exactly_one_source(tmp_path: Path) -> None:
    line = _one_error_line(_softland("drop", "capture", "--out", str(tmp_path / "c")))
    assert "exactly one of --port" in line
