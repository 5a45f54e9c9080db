"""The earth-hopper in board mode inside MicroPython, against SIL: the table of
docs/architecture.md, "Board mode" ("The hopper in board mode on the unix port and the
emulated Cortex-M0").

    PYTHONPATH=host python3 benchmarks/board_hopper.py [--runs N]

Rows: SIL (`softland sim earth-hopper`: link mode, the unix port, the host's TICK frames);
board mode on the unix port, the host's clock alone (the board's compute takes no time), and
with the PC's own clock as the board's compute time; board mode on the emulated Cortex-M0 at
125 MHz (-icount shift=3) and 16 MHz (shift=6), its instruction time as compute time. The
board-mode runs use tests/board_remote_host.py (the protocol: tests/board_remote/
remote_machine.py). With --runs N each emulated row is flown N times (instruction time is
repeatable, the emulator's idle time is not quite: the 16 MHz figures move a little) and the
rows show every run's outcome and touchdown speed (the other columns: the first run's).
Overruns, skipped deadlines and watchdog feeds are the board loop's counts from boot to the
end (5 s after the first contact), over every tick it ran (TELEM frames); "ticks to LANDED"
and the times (s, dynamics time from START) count from START."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from board_remote_host import HopResult, fly_emulated, fly_unix  # noqa: E402

from softland.boards.firmware import fsw_module  # noqa: E402
from softland.boards.runtimes import find_micropython  # noqa: E402
from softland.simulation.scenario import load_scenario  # noqa: E402
from softland.simulation.sim import run_scenario  # noqa: E402

HEAD = (
    "| run | outcome | touchdown m/s | contact s | TERMINAL s | LANDED s | ticks to LANDED "
    "| overruns / ticks | skipped | WDT feeds / bites | compute ms a tick (mean, p95) | wall s |"
)


def _f(x: float | None, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def sil_row() -> str:
    t0 = time.monotonic()
    r = run_scenario(load_scenario("earth-hopper"), runtime="micropython")
    wall = time.monotonic() - t0
    s = r.summary
    flight = fsw_module("flight")
    terminal = next(t["t_s"] for t in r.telemetry if t["mode"] == flight.TERMINAL)
    return (
        f"| SIL (`softland sim earth-hopper`, unix port) | {s['outcome']} "
        f"| {s['touchdown_vertical_speed_mps']:.2f} | {s['flight_time_s']:.2f} | {terminal:.2f} "
        f"| {s['land_detected_s']:.2f} | {s['ticks']} | {s['tick_overruns']} / {s['ticks']} "
        f"| - | - | - | {wall:.1f} |"
    )


def board_row(name: str, runs: list[HopResult]) -> str:
    r = runs[0]
    outcomes = ", ".join(x.outcome for x in runs)
    tds = ", ".join(_f(x.touchdown_mps) for x in runs)
    c = sorted(r.compute_us[1:]) or [0]
    p95 = c[int(0.95 * (len(c) - 1))]
    return (
        f"| {name} | {outcomes} | {tds} | {_f(r.contact_t_s)} | {_f(r.terminal_t_s)} "
        f"| {_f(r.landed_t_s)} | {r.ticks_to_landed if r.ticks_to_landed is not None else '-'} "
        f"| {r.overruns} / {len(r.telemetry)} | {r.skipped} | {r.feeds} / {r.wdt_bites} "
        f"| {statistics.mean(c) / 1000:.1f}, {p95 / 1000:.1f} | {r.wall_s:.1f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    binary = find_micropython()
    if binary is None:
        sys.exit("no MicroPython unix port")
    print(HEAD)
    print("|" + "---|" * HEAD.count(" | ") + "---|")
    print(sil_row(), flush=True)
    print(board_row("board mode, unix port, host clock", [fly_unix(binary)]), flush=True)
    print(board_row("board mode, unix port, PC clock", [fly_unix(binary, True)]), flush=True)
    for mhz in (125, 16):
        runs = [fly_emulated(mhz) for _ in range(args.runs)]
        print(board_row(f"board mode, emulated Cortex-M0, {mhz} MHz", runs), flush=True)


if __name__ == "__main__":
    main()
