"""Where the firmware stands on issue 12's scenarios: a Monte Carlo campaign per scenario
(softland.simulation.mc.run_campaign, CPython runtime) and one Markdown row each: runs,
landed %, pass %, touchdown p50 / max, delta-v ratio p50 (against the variable-mass optimum)
and the typical failure mode, with the firmware's own events of the first failing seed
(flown again to read them).

    PYTHONPATH=host python3 benchmarks/robust_baseline.py [--runs 40] [--seed 1] [--workers 2]
        [--out DIR] [SCENARIO ...]

--out writes each campaign's summary.json and runs.csv under DIR/SCENARIO (mc's files).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from softland.boards.hostlink import MODES
from softland.simulation.dispersions import dispersed_run
from softland.simulation.mc import Campaign, run_campaign, write_runs_csv
from softland.simulation.scenario import Scenario, load_scenario
from softland.simulation.sim import run_scenario

SCENARIOS = (
    "false-return-long",
    "false-return-short",
    "late-lossy",
    "handover-large",
    "bounce",
    "imu-high",
    "imu-braking",
    "imu-terminal",
)
# the events that are part of every descent (not evidence of a failure mode)
ROUTINE_EVENTS = {"mode", "ignition", "cutoff", "engine_checked", "acc_calibrated"}

HEADER = (
    "| scenario | runs | landed | passed | touchdown p50 / max (m/s) | delta-v ratio p50 "
    "| typical failure mode |\n|---|---|---|---|---|---|---|"
)


def failure_kind(run: dict[str, Any], s: Scenario) -> str:
    """Why one run did not pass its scenario's criteria, in a few words."""
    c = s.criteria
    outcome = run["outcome"]
    td = run.get("touchdown_vertical_speed_mps")
    if outcome != c.outcome:
        return outcome
    if outcome == "landed" and td is not None and td > c.max_touchdown_speed_mps:
        return f"landed above {c.max_touchdown_speed_mps:g} m/s"
    if c.max_land_detect_s > 0 and run.get("land_detected_s") is None:
        return "LANDED never declared"
    if c.max_land_detect_s > 0:
        return f"LANDED declared later than {c.max_land_detect_s:g} s"
    return "criteria (other)"


def _evidence(s: Scenario, seed: int) -> str:
    """The dispersed run of this seed flown again: the firmware's notable events (name@t_s)
    and its estimate against the truth on the last tick before the first contact."""
    flown = run_scenario(dispersed_run(s, seed), "cpython", seed=seed)
    events = [
        f"{e['name']}@{e['t_s']:.0f}s" for e in flown.events if e["name"] not in ROUTINE_EVENTS
    ][:4]
    text = ", ".join(events) if events else "no notable event"
    contact = flown.summary.get("flight_time_s")
    before = [r for r in flown.telemetry if contact is None or r["t_s"] <= contact]
    if before:
        dv = max(before, key=lambda r: abs(r["vel_mm_s"] / 1000 - r["true_vel_mps"]))
        dh = max(before, key=lambda r: abs(r["alt_mm"] / 1000 - r["true_alt_m"]))
        last = before[-1]
        text += (
            f"; largest estimate errors: velocity "
            f"{dv['vel_mm_s'] / 1000 - dv['true_vel_mps']:+.1f} m/s at {dv['t_s']:.0f} s, "
            f"altitude {dh['alt_mm'] / 1000 - dh['true_alt_m']:+.0f} m at {dh['t_s']:.0f} s; "
            f"contact in {MODES[last['mode']]}"
        )
    return text


def failure_mode(c: Campaign) -> str:
    failed = [r for r in c.runs if not r["passed"]]
    if not failed:
        return "-"
    kinds = Counter(failure_kind(r, c.scenario) for r in failed)
    kind, n = kinds.most_common(1)[0]
    of_kind = [r for r in failed if failure_kind(r, c.scenario) == kind]
    speeds = [
        r["touchdown_vertical_speed_mps"]
        for r in of_kind
        if r.get("touchdown_vertical_speed_mps") is not None
    ]
    text = f"{kind} ({n} of {len(failed)} failed)"
    if speeds:
        text += f" at {min(speeds):.1f}-{max(speeds):.1f} m/s"
    seed = of_kind[0]["seed"]
    return text + f"; seed {seed}: " + _evidence(c.scenario, seed)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def row(name: str, c: Campaign) -> str:
    s = c.summary()
    return (
        f"| {name} | {s['runs']} | {_pct(s['landed_rate'])} | {_pct(s['success_rate'])} "
        f"| {_f(s['touchdown_speed_p50'])} / {_f(s['touchdown_speed_max'])} "
        f"| {_f(s['delta_v_ratio_p50'])} | {failure_mode(c)} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    print(HEADER, flush=True)
    for name in args.scenarios:
        c = run_campaign(
            load_scenario(name),
            args.runs,
            args.seed,
            workers=args.workers,
            runtime="cpython",
            scenario_ref=name,
        )
        if args.out is not None:
            d = args.out / name
            d.mkdir(parents=True, exist_ok=True)
            (d / "summary.json").write_text(json.dumps(c.summary(), indent=2) + "\n")
            write_runs_csv(c.runs, d / "runs.csv")
        print(row(name, c), flush=True)


if __name__ == "__main__":
    main()
