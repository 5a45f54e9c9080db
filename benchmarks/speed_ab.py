"""Before/after speed on one machine: `softland bench` of two checkouts, run back to back in
alternating rounds (a shared machine's load drifts: alternating spreads it over both).

    python3 benchmarks/speed_ab.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 5] [--mc-runs 10]

Each round runs, for BEFORE then AFTER, `python3 -m softland.cli bench --repeats 3 --runtime
micropython --runtime cpython --mc-runs 0` with PYTHONPATH=<checkout>/host (closed-loop ticks
per second: best of 3 runs) and a Monte Carlo campaign of --mc-runs dispersed runs of nominal on
one core under CPython (the same code for both checkouts: run_campaign, workers 1; runs per
second). A checkout whose bench has no --mc-runs is run without it. Prints one Markdown row per
figure: best and median over the rounds for each checkout, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

MC_SNIPPET = """
import sys
from softland.simulation.mc import run_campaign
from softland.simulation.scenario import load_scenario
runs = int(sys.argv[1])
c = run_campaign(load_scenario("nominal"), runs, seed=1, workers=1, runtime="cpython")
print("MC", runs / c.wall_time_s)
"""
TICKS = re.compile(r"^(\S+)\s+closed-loop SIL\s+(\d+) ticks/s", re.M)


def _env(checkout: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout / "host")}


def bench(checkout: Path) -> dict[str, float]:
    """Closed-loop ticks/s by runtime, from the checkout's `softland bench`."""
    args = [sys.executable, "-m", "softland.cli", "bench", "--repeats", "3"]
    args += ["--runtime", "micropython", "--runtime", "cpython"]
    helptext = subprocess.run(
        [*args[:4], "--help"], capture_output=True, text=True, env=_env(checkout), check=True
    ).stdout
    if "--mc-runs" in helptext:
        args += ["--mc-runs", "0"]
    out = subprocess.run(
        args, capture_output=True, text=True, env=_env(checkout), check=True, cwd=checkout
    ).stdout
    return {rt: float(rate) for rt, rate in TICKS.findall(out)}


def monte_carlo(checkout: Path, runs: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", MC_SNIPPET, str(runs)],
        capture_output=True,
        text=True,
        env=_env(checkout),
        check=True,
        cwd=checkout,
    ).stdout
    return float(out.split()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mc-runs", type=int, default=10)
    args = ap.parse_args(argv)
    figures: dict[tuple[str, str], list[float]] = {}
    for k in range(args.rounds):
        for label, checkout in (("before", args.before), ("after", args.after)):
            rates = bench(checkout.resolve())
            rates["mc"] = monte_carlo(checkout.resolve(), args.mc_runs)
            for name, value in rates.items():
                figures.setdefault((name, label), []).append(value)
            shown = ", ".join(f"{n} {v:.1f}" for n, v in rates.items())
            print(f"round {k + 1} {label}: {shown}", file=sys.stderr, flush=True)
    print("| figure | before: best / median | after: best / median | after / before (medians) |")
    print("|---|---|---|---|")
    names = {
        "micropython": "MicroPython SIL, ticks/s",
        "cpython": "CPython SIL, ticks/s",
        "mc": f"Monte Carlo (nominal, {args.mc_runs} runs, CPython), runs/s/core",
    }
    for name, title in names.items():
        before, after = figures[(name, "before")], figures[(name, "after")]
        fmt = "{:.2f}" if name == "mc" else "{:.0f}"
        b = f"{fmt.format(max(before))} / {fmt.format(statistics.median(before))}"
        a = f"{fmt.format(max(after))} / {fmt.format(statistics.median(after))}"
        ratio = statistics.median(after) / statistics.median(before)
        print(f"| {title} | {b} | {a} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
