"""The tables of docs/checker.md: every built-in scenario flown as `softland sim NAME
--runtime cpython` flies it (the scenario's seed, dispersed where it disperses), then
`softland check` against the reference; per modelled channel the largest deviation and the
largest deviation / bound, the decisions that differ, the firmware decisions the reference took
within a bound of a threshold, and the seconds the check took.

    PYTHONPATH=host python3 benchmarks/check_table.py [OUT_DIR]

Exits 1 when a scenario breaks a bound.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from softland.analysis.bench import machine_name
from softland.analysis.check import check_run
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


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="check-"))
    print(f"machine: {machine_name()}")
    print("| scenario | ticks | " + " | ".join(CHANNELS) + " | decisions | followed | s |")
    print("|---" * (len(CHANNELS) + 5) + "|")
    failed = False
    for name in builtin_names():
        run = out / name
        write_outputs(run_scenario(dispersed_run(load_scenario(name), None), "cpython"), run)
        t0 = time.perf_counter()
        report = check_run(run, "reference")
        seconds = time.perf_counter() - t0
        by = {c.channel: c for c in report.channels}
        cells = [f"{by[c].largest:.1f} ({by[c].worst:.2f})" for c in CHANNELS]
        diffs = ", ".join(d.decision for d in report.decisions) or "none"
        followed = ", ".join(f"{k} {v}" for k, v in sorted(report.followed.items()))
        print(
            f"| {name} | {report.flight_ticks} | "
            + " | ".join(cells)
            + f" | {diffs} | {followed} | {seconds:.1f} |"
        )
        failed = failed or not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
