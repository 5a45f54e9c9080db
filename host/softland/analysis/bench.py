"""SIL benchmark: closed-loop ticks per second, and the firmware's own cost per tick inside
each interpreter; Monte Carlo runs per second on one core. Figures depend on the machine:
report them with its name."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from softland.boards.emuboard import find_unix32
from softland.boards.firmware import fsw_module
from softland.boards.runtimes import micropython_env, resolve_runtime
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

# Runs inside the interpreter under test: feeds N tick frames to a flying App; best of 5
# batches, since a shared machine only ever adds time.
_TICK_COST = """
import time
from sil_frames import Sink, descent_ticks, flying_app
def now_us():
    return time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1e6)
def elapsed_us(t1, t0):
    return time.ticks_diff(t1, t0) if hasattr(time, "ticks_diff") else t1 - t0
def run(n, batches):
    best = None
    for _ in range(batches):
        app, enc = flying_app(Sink())
        ticks = descent_ticks(enc, n)
        t0 = now_us()
        for f in ticks:
            app.feed_into(f, len(f))
        dt = elapsed_us(now_us(), t0)
        if best is None or dt < best:
            best = dt
    print("TICK_US", best / n)
run(N_TICKS, 5)
"""
MPSIDE_DIR = Path(__file__).resolve().parents[1] / "boards" / "mpside"


@dataclass(frozen=True)
class BenchResult:
    runtime: str
    closed_loop_ticks_per_s: float
    firmware_tick_us: float
    ticks: int


def machine_name() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def firmware_tick_us(runtime: str, n_ticks: int = 2000, micropython: str | None = None) -> float:
    script = _TICK_COST.replace("N_TICKS", str(n_ticks))
    if runtime == "cpython":
        fsw_module("app")  # puts the firmware on sys.path
        if str(MPSIDE_DIR) not in sys.path:
            sys.path.insert(0, str(MPSIDE_DIR))
        out: dict[str, float] = {}

        def capture(*args: object) -> None:
            out["us"] = float(args[1])  # type: ignore[arg-type]

        exec(compile(script, "<tick-cost>", "exec"), {"print": capture, "__name__": "bench"})
        return out["us"]
    _, binary = resolve_runtime(runtime, micropython)
    assert binary is not None  # cpython is measured in-process above
    proc = subprocess.run(
        [binary, "-X", "heapsize=4M", "-c", script],
        capture_output=True,
        text=True,
        env=micropython_env(MPSIDE_DIR),
        timeout=300,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("TICK_US"):
            return float(line.split()[1])
    raise RuntimeError(f"tick-cost benchmark failed under {runtime}: {proc.stderr.strip()}")


def closed_loop(runtime: str, scenario: str = "nominal", repeats: int = 1) -> tuple[float, int]:
    s = load_scenario(scenario)
    best = 0.0
    ticks = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = run_scenario(s, runtime)
        elapsed = time.perf_counter() - t0
        ticks = result.summary["ticks"]
        best = max(best, ticks / elapsed)
    return best, ticks


@dataclass(frozen=True)
class McResult:
    runtime: str
    runs_per_s: float  # on one core: the campaign flown in this process (workers 1)
    runs: int
    scenario: str


def monte_carlo(
    runtime: str = "cpython", runs: int = 10, repeats: int = 1, scenario: str = "nominal"
) -> McResult:
    """Runs per second of a campaign of `runs` dispersed runs (seeds 1..runs) flown in this
    process, as `softland mc SCENARIO --runs N --workers 1` flies them; best of `repeats`."""
    from softland.simulation.mc import run_campaign

    s = load_scenario(scenario)
    best = 0.0
    for _ in range(repeats):
        campaign = run_campaign(s, runs, seed=1, workers=1, runtime=runtime)
        best = max(best, runs / campaign.wall_time_s)
    return McResult(runtime, best, runs, scenario)


def format_mc(r: McResult) -> str:
    return (
        f"{r.runtime:13s} Monte Carlo {r.runs_per_s:8.2f} runs/s/core ({r.runs} dispersed runs "
        f"of {r.scenario}, 1 worker)"
    )


def default_runtimes() -> tuple[tuple[str, ...], str]:
    """The runtimes `softland bench` measures by default, and a note when the 32-bit port is
    left out because its binary is not found."""
    if find_unix32() is None:
        note = "micropython32 not measured: its binary is not found (set SOFTLAND_MICROPYTHON32)"
        return ("micropython", "cpython"), note
    return ("micropython", "micropython32", "cpython"), ""


def run_bench(
    runtimes: tuple[str, ...] = ("micropython", "cpython"), repeats: int = 3
) -> list[BenchResult]:
    results = []
    for rt in runtimes:
        rate, ticks = closed_loop(rt, repeats=repeats)
        results.append(BenchResult(rt, rate, firmware_tick_us(rt), ticks))
    return results


def format_result(r: BenchResult) -> str:
    return (
        f"{r.runtime:13s} closed-loop SIL {r.closed_loop_ticks_per_s:8.0f} ticks/s "
        f"({r.ticks} ticks of the nominal descent); firmware alone {r.firmware_tick_us:7.1f} "
        "us/tick"
    )


def main() -> None:
    print(f"machine: {machine_name()}")
    runtimes, note = default_runtimes()
    if note:
        print(note)
    for r in run_bench(runtimes):
        print(format_result(r))
    print(format_mc(monte_carlo()))


if __name__ == "__main__":
    main()
