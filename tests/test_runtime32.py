"""`--runtime micropython32`: the 32-bit MicroPython unix port hosts the firmware through the
same runtime as the 64-bit one, and a missing binary is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import run_softland

from softland.analysis.bench import default_runtimes
from softland.boards import emuboard
from softland.boards.runtimes import MicroPythonRuntime, open_runtime, resolve_runtime
from softland.errors import UserError

_softland = run_softland


@pytest.fixture
def no_shared_pil(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No 32-bit binary anywhere: no variable, and shared/pil/ looked for in an empty place."""
    monkeypatch.delenv("SOFTLAND_MICROPYTHON32", raising=False)
    empty = tmp_path / "shared" / "pil"
    monkeypatch.setattr(emuboard, "shared_pil_dirs", lambda: [empty])
    return empty


def test_micropython32_resolves_to_the_binary_in_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = tmp_path / emuboard.UNIX32_NAME
    binary.write_bytes(b"")
    monkeypatch.setenv("SOFTLAND_MICROPYTHON32", str(binary))
    assert resolve_runtime("micropython32") == ("micropython32", str(binary))


def test_micropython32_takes_an_explicit_binary_before_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    explicit = tmp_path / "mp32"
    explicit.write_bytes(b"")
    monkeypatch.setenv("SOFTLAND_MICROPYTHON32", str(tmp_path / "absent"))
    assert resolve_runtime("micropython32", str(explicit)) == ("micropython32", str(explicit))


def test_missing_32bit_binary_names_where_it_looked_and_the_variable(
    no_shared_pil: Path,
) -> None:
    with pytest.raises(UserError) as err:
        resolve_runtime("micropython32")
    message = str(err.value)
    assert str(no_shared_pil) in message
    assert emuboard.UNIX32_NAME in message
    assert "SOFTLAND_MICROPYTHON32" in message


def test_a_variable_naming_no_file_is_reported_as_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SOFTLAND_MICROPYTHON32", str(tmp_path / "absent"))
    with pytest.raises(UserError, match=r"SOFTLAND_MICROPYTHON32='.*absent' is not a file"):
        resolve_runtime("micropython32")


def test_the_32bit_runtime_is_the_micropython_runtime_under_its_own_name(
    micropython32_bin: str,
) -> None:
    rt = open_runtime("micropython32", micropython32_bin)
    try:
        assert isinstance(rt, MicroPythonRuntime)
        assert rt.name == "micropython32"
    finally:
        rt.close()


def test_sim_on_micropython32_names_the_runtime_in_its_summary(
    tmp_path: Path, micropython32_bin: str
) -> None:
    proc = _softland(
        "sim",
        "earth-hopper",
        "--runtime",
        "micropython32",
        "--out",
        str(tmp_path),
        "--quiet",
        env={"SOFTLAND_MICROPYTHON32": micropython32_bin},
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["runtime"] == "micropython32"
    assert summary["faults"] == 0


@pytest.mark.parametrize(
    "args",
    [["sim", "--out", "OUT"], ["mc", "nominal", "--out", "OUT"], ["bench", "--repeats", "1"]],
)
def test_missing_32bit_binary_is_one_clear_error(args: list[str], tmp_path: Path) -> None:
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    proc = _softland(
        *args,
        "--runtime",
        "micropython32",
        env={"SOFTLAND_MICROPYTHON32": str(tmp_path / "no-micropython32")},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: 32-bit MicroPython unix port not found")
    assert "SOFTLAND_MICROPYTHON32" in lines[0]


def test_bench_measures_the_32bit_port_beside_the_others_where_it_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = tmp_path / emuboard.UNIX32_NAME
    binary.write_bytes(b"")
    monkeypatch.setenv("SOFTLAND_MICROPYTHON32", str(binary))
    assert default_runtimes() == (("micropython", "micropython32", "cpython"), "")


def test_bench_says_why_it_leaves_the_32bit_port_out(no_shared_pil: Path) -> None:
    runtimes, note = default_runtimes()
    assert runtimes == ("micropython", "cpython")
    assert "micropython32" in note and "SOFTLAND_MICROPYTHON32" in note
