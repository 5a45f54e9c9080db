"""The tables of docs/checker.md: every built-in scenario flown as `softland sim NAME
--runtime cpython` flies it (the scenario's seed, dispersed where it disperses), then
`softland check` against the reference; per modelled channel the largest deviation and the
largest deviation / bound, the decisions that differ, the firmware decisions the reference took
within a bound of a threshold, and the seconds the check took.

    PYTHONPATH=host python3 benchmarks/check_table.py [--seeds N] [--out DIR]

--seeds N instead flies seeds 1..N of every scenario (and the mission baselines) and prints
one row per scenario: runs, runs that broke a bound, the largest deviation / bound seen and its
channel. Exits 1 when a run breaks a bound.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from softland.analysis.bench import machine_name
from softland.analysis.check import CheckReport, check_run
from softland.analysis.report import write_outputs
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import builtin_names, load_scenario
from softland.simulation.sim import run_scenario

CHANNELS = (
    "alt_mm",
    "vel_mm_s",
    "sigma_mm",
    "hlow_mm",
    "vref_mm_s",
    "acmd_mm_s2",
    "integ_mm_s2",
    "throttle_q15",
    "amax_mm_s2",
    "mass_q14",
)
MISSION_BASELINES = [("ispace-m2", "naive"), ("ispace-m1", "latching"), ("beresheet", "volatile")]


def fly_and_check(
    name: str, out: Path, seed: int | None = None, controller: str | None = None
) -> tuple[CheckReport, float]:
    s = dispersed_run(load_scenario(name), seed)
    write_outputs(run_scenario(s, "cpython", seed=seed, controller=controller), out)
    t0 = time.perf_counter()
    report = check_run(out, "reference")
    return report, time.perf_counter() - t0


def table(out: Path) -> bool:
    print("| scenario | ticks | " + " | ".join(CHANNELS) + " | decisions | followed | s |")
    print("|---" * (len(CHANNELS) + 5) + "|")
    ok = True
    for name in builtin_names():
        report, seconds = fly_and_check(name, out / name)
        by = {c.channel: c for c in report.channels}
        cells = [f"{by[c].largest:.1f} ({by[c].worst:.2f})" for c in CHANNELS]
        diffs = ", ".join(d.decision for d in report.decisions) or "none"
        followed = ", ".join(f"{k} {v}" for k, v in sorted(report.followed.items()))
        print(
            f"| {name} | {report.flight_ticks} | "
            + " | ".join(cells)
            + f" | {diffs} | {followed} | {seconds:.1f} |"
        )
        ok = ok and report.ok
    return ok


def seeds(out: Path, n: int) -> bool:
    print("| scenario | controller | runs | runs out of bounds | largest deviation / bound |")
    print("|---|---|---|---|---|")
    ok = True
    cases = [(name, None) for name in builtin_names()] + MISSION_BASELINES
    for name, controller in cases:
        broken = 0
        worst = (0.0, "")
        for seed in range(1, n + 1):
            run = out / f"{name}-{controller or 'firmware'}-{seed}"
            report, _ = fly_and_check(name, run, seed, controller)
            broken += not report.ok
            worst = max(worst, max((c.worst, c.channel) for c in report.channels))
        print(
            f"| {name} | {controller or 'firmware'} | {n} | {broken} | "
            f"{worst[0]:.2f} ({worst[1]}) |"
        )
        ok = ok and not broken
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="check-"))
    print(f"machine: {machine_name()}")
    ok = seeds(out, args.seeds) if args.seeds else table(out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
