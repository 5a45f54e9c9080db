"""softland pil: the firmware's per-tick components on the emulated Cortex-M0, heap locked,
checked bit for bit against CPython. These tests check what the tool reports, not how fast the
firmware is (figures are benchmarks: docs/benchmarks.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from softland.analysis.pil import MPSIDE_DIR, record_inputs, run_cpython, run_pil
from softland.boards.emuboard import find_image, find_qemu, find_unix32
from softland.boards.firmware import firmware_dir
from softland.errors import UserError


def _emulated_board_or_skip() -> None:
    try:
        find_qemu()
        find_image()
    except UserError as exc:
        pytest.skip(f"emulated board not available: {exc} (CI installs qemu-system-arm)")


@pytest.fixture(scope="module")
def hopper_pil():
    _emulated_board_or_skip()
    return run_pil(16, ("earth-hopper",), ticks=40)


def test_every_component_of_the_pil_run_is_bit_exact_with_cpython(hopper_pil) -> None:
    (scenario,) = hopper_pil.scenarios
    measured = [c for c in scenario.components if c.us_per_call is not None]
    assert {c.name for c in measured} >= {
        "decode", "lidarlite_bus", "lidarlite", "estimator", "guidance", "controller",
        "flight", "persist", "telemetry", "app_tick",
    }  # fmt: skip
    assert all(c.bit_exact for c in measured), [c.name for c in measured if not c.bit_exact]
    assert scenario.output_bit_exact


def test_the_pil_run_allocates_nothing_with_the_heap_locked(hopper_pil) -> None:
    assert hopper_pil.allocations == 0
    assert hopper_pil.scenarios[0].faults == 0
    assert 0 < hopper_pil.heap_after_import < hopper_pil.heap_after_app


def test_the_pil_app_tick_is_timed_on_the_board_clock(hopper_pil) -> None:
    (scenario,) = hopper_pil.scenarios
    app = next(c for c in scenario.components if c.name == "app_tick")
    flight = next(c for c in scenario.components if c.name == "flight")
    assert scenario.ticks == 40
    assert app.calls_per_tick == 1
    # the tick holds the flight, and a 16 MHz Cortex-M0 takes milliseconds for it
    assert app.us_per_call > flight.us_per_call > 500


def test_pil_json_carries_the_figures_the_table_shows() -> None:
    _emulated_board_or_skip()
    proc = subprocess.run(
        [sys.executable, "-m", "softland.cli", "pil", "--json", "--ticks", "15",
         "--scenario", "nominal", "--clock-mhz", "125"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["clock_mhz"] == 125
    assert result["allocations"] == 0
    (scenario,) = result["scenarios"]
    names = {c["name"]: c for c in scenario["components"]}
    assert names["lrf_uart"]["bit_exact"] is True
    assert names["app_tick"]["us_per_call"] > 0


def test_a_missing_board_image_is_one_clear_error(tmp_path: Path) -> None:
    env_missing = {"SOFTLAND_PIL_FIRMWARE": str(tmp_path / "nope.elf")}
    proc = subprocess.run(
        [sys.executable, "-m", "softland.cli", "pil"],
        capture_output=True, text=True, timeout=60,
        env={**__import__("os").environ, **env_missing},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "emulated-board image not found" in proc.stderr
    assert "SOFTLAND_PIL_FIRMWARE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_recorded_inputs_replay_to_the_same_outputs_twice(tmp_path: Path) -> None:
    inputs = tmp_path / "hopper.bin"
    inputs.write_bytes(record_inputs("earth-hopper", 30))
    first = run_cpython(inputs)
    second = run_cpython(inputs)
    assert first["clean"]["digests"] == second["clean"]["digests"]
    assert first["drivers"]["digests"]["lidarlite_replay_ok"] is True
    assert first["clean"]["ticks"] == 30


def test_the_harness_catches_an_allocating_tick_on_32_bits(tmp_path: Path) -> None:
    # proves "allocations 0" can fail: a telemetry pack that builds a list, under the heap
    # lock of the 32-bit runtime, raises MemoryError, which the App counts as a fault
    binary = find_unix32()
    if binary is None:
        pytest.skip(
            "32-bit MicroPython unix port not found (shared/pil/ or SOFTLAND_MICROPYTHON32)"
        )
    fw = tmp_path / "fw"
    shutil.copytree(firmware_dir() / "fsw", fw / "fsw")
    app = fw / "fsw" / "app.py"  # App._send_telemetry packs the telemetry
    text = app.read_text()
    assert text.count("        est = fl.est\n") == 1
    app.write_text(text.replace("        est = fl.est\n", "        est = [fl.est][0]\n", 1))
    inputs = tmp_path / "hopper.bin"
    inputs.write_bytes(record_inputs("earth-hopper", 12))
    code = (
        "import json, pil_harness\n"
        f"r = pil_harness.run({str(inputs)!r}, ('clean',))\n"
        "print('FAULTS', r['clean']['faults'], r['clean']['ticks'])\n"
    )
    proc = subprocess.run(
        [str(binary), "-X", "heapsize=1M", "-c", code],
        capture_output=True, text=True, timeout=120,
        env={"MICROPYPATH": f"{fw}:{MPSIDE_DIR}"},
    )  # fmt: skip
    line = next(x for x in proc.stdout.splitlines() if x.startswith("FAULTS"))
    faults, ticks = (int(v) for v in line.split()[1:])
    assert ticks == 12
    assert faults >= ticks  # every tick's telemetry allocated, every one was caught
