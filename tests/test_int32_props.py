"""Integer discipline proven on 32 bits: the firmware's per-tick paths, driven over extreme but
legal inputs on the 32-bit MicroPython runtime with the heap locked, never fault (no
intermediate leaves -2^30..2^30-1, nothing allocates), and give bit-identical outputs in CPython.

Cases are drawn by hypothesis on the host (derandomized: CI sees the same cases every run) and
run in one 32-bit process per batch (tests/int32_rig.py). SOFTLAND_PROP_EXAMPLES=N draws N
cases per property instead of the CI default, for a larger run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from int32_rig import (
    APP_KIND,
    APP_SETUP,
    COUNT_WRAP,
    REGRESSIONS,
    SEL_COMMAND,
    SEL_TICK,
    Batch,
    Case,
    app_cases,
    app_setup,
    draw_cases,
    examples,
    firmware_copy,
    flight_cases,
    overflow_sites,
    params_with,
    run_32bit,
    run_batch,
)

from softland.boards.emuboard import find_unix32
from softland.boards.firmware import firmware_dir

BINARY = find_unix32()
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="32-bit MicroPython not found: set SOFTLAND_MICROPYTHON32 or put "
    "micropython-1.28.0-unix-x86-32bit in shared/pil/ beside the checkout",
)


def _binary() -> Path:
    assert BINARY is not None
    return BINARY


def _report(batch: Batch) -> str:
    # the first faulting cases, and where they overflow (re-run under softland.analysis.intcheck)
    sites = overflow_sites(batch.cases, batch.fault_ids()[:20])
    return "\n".join(batch.faults()[:5] + ["overflow sites (CPython trace):", *sites])


@pytest.fixture(scope="module")
def flight_batch() -> Batch:
    return run_batch(_binary(), draw_cases(flight_cases(), examples(300)))


@pytest.fixture(scope="module")
def app_batch() -> Batch:
    return run_batch(_binary(), draw_cases(app_cases(), examples(120)))


@pytest.fixture(scope="module")
def regression_batch() -> Batch:
    return run_batch(_binary(), list(REGRESSIONS.values()))


def test_flight_ticks_on_extreme_inputs_never_fault_on_32_bits(flight_batch: Batch) -> None:
    assert flight_batch.fault_ids() == [], _report(flight_batch)
    assert len(flight_batch.cases) == examples(300)


def test_flight_ticks_give_the_same_outputs_on_32_bits_and_cpython(flight_batch: Batch) -> None:
    assert flight_batch.mismatches() == []


def test_app_frames_with_counters_near_their_wrap_never_fault_on_32_bits(
    app_batch: Batch,
) -> None:
    # an exception inside the App is caught and counted: a fault shows as a changed count
    assert app_batch.fault_ids() == [], _report(app_batch)


def test_app_frames_give_the_same_outputs_on_32_bits_and_cpython(app_batch: Batch) -> None:
    assert app_batch.mismatches() == []


@pytest.mark.parametrize("name", list(REGRESSIONS))
def test_an_overflow_found_in_review_no_longer_faults(regression_batch: Batch, name: str) -> None:
    i = list(REGRESSIONS).index(name)
    case = regression_batch.cases[i]
    got = regression_batch.mp32[i]
    assert got.fault == "-" and got.steps == len(case.steps), got
    assert case.kind != APP_KIND or got.app_faults == case.setup[APP_SETUP.index("faults")]
    assert got == regression_batch.cpython[i]


def _failing_output_case(faults_before: int) -> Case:
    # every write of the App's output fails (a serial port gone): ticks and commands arrive
    steps = tuple(
        (SEL_TICK if k % 3 else SEL_COMMAND, k * 20_000, 1000, 4, 1620, 1) for k in range(9)
    )
    setup = app_setup(fail_every=1, faults=faults_before)
    return Case(APP_KIND, params_with(), setup, steps)


def test_the_app_counts_a_fault_and_goes_on_when_its_output_fails() -> None:
    # the fault handler's own event and telemetry writes fail too: nothing escapes the loop,
    # and each frame is counted once (its answer, TELEM or ACK, fails; so does the EVENT
    # reporting that, and the handler's second try at the telemetry)
    case = _failing_output_case(faults_before=COUNT_WRAP - 2)
    got = run_32bit(_binary(), [case])[0]
    assert got.fault == "-"
    assert got.steps == len(case.steps)
    assert got.app_faults == (COUNT_WRAP - 2 + len(case.steps)) % COUNT_WRAP  # wraps at 2^29


def test_the_app_gives_the_same_outputs_on_both_runtimes_when_its_output_fails() -> None:
    case = _failing_output_case(faults_before=0)
    batch = run_batch(_binary(), [case])
    assert batch.mismatches() == []


def test_a_planted_overflow_is_caught_as_a_fault_on_32_bits(tmp_path: Path) -> None:
    # proves the check can fail: a copy of the firmware whose tick forms acc << 12 (beyond
    # 2^30 once |acc| >= 2^18) faults on 32 bits where CPython, with its big ints, does not
    fw = firmware_copy(tmp_path, firmware_dir())
    flight = fw / "fsw" / "flight.py"
    src = flight.read_text()
    anchor = "        self.now_us = now_us\n"
    assert anchor in src
    flight.write_text(src.replace(anchor, anchor + "        self._planted = acc_mm_s2 << 12\n"))
    case = REGRESSIONS["accel_at_the_link_limits"]
    quiet = REGRESSIONS["tick_counter_at_its_wrap"]  # accelerometer 0: nothing planted trips
    got = run_32bit(_binary(), [case, quiet], firmware=fw)
    assert got[0].fault == "MemoryError"
    assert got[0].steps == 0
    assert got[1].fault == "-"
