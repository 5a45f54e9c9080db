"""The IMU fault matrix: each accelerometer fault (softland.devices.imu_faults) alone, 2 s long,
at three phases of the nominal descent (engine-off coast at ~2.6 km, mid braking at ~1 km,
terminal at ~40-20 m), a Monte Carlo campaign each (nominal dispersions, fault windows moved
with them), one Markdown row each: landed %, passed %, touchdown p50 / max, and what the
firmware reported: in how many runs its accelerometer monitor distrusted the accelerometer
(event acc_bad), the reasons it gave (fsw/flight.py ACC_*: dropout, frozen, step, level,
noise) and the longest time it flew on the thrust model instead (event acc_good's arg).

    PYTHONPATH=host python3 benchmarks/imu_matrix.py [--runs 40] [--seed 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from softland.devices.imu_faults import FAULT_NAMES
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import Fault, Scenario, load_scenario
from softland.simulation.sim import run_scenario

# phase -> fault window start on the flight clock of the nominal descent (s)
PHASES = {"coast (~2.6 km)": 5.0, "braking (~1 km)": 30.0, "terminal (~40-20 m)": 57.0}
WINDOW_S = 2.0
PARAMS = {
    "stuck": {"mps2": 0.0},
    "bias_jump": {"mps2": 0.5},
    "saturation": {"limit_mps2": 2.0},
    "dropout": {"probability": 1.0},
    "noise_burst": {"sigma_mps2": 3.0},
    "frozen": {},
}
HEADER = (
    "| fault | phase | runs | landed | passed | touchdown p50 / max (m/s) "
    "| firmware reported: runs distrusting / reasons / longest on the thrust model (s) |\n"
    "|---|---|---|---|---|---|---|"
)
REASONS = ((1, "dropout"), (2, "frozen"), (4, "step"), (8, "level"), (16, "noise"))
PERIOD_S = 0.02  # the nominal tick (acc_good's arg counts ticks)


def matrix_scenario(nominal: Scenario, fault: str, start_s: float) -> Scenario:
    return dataclasses.replace(
        nominal,
        name=f"nominal+imu-{fault}@{start_s:g}s",
        faults=(Fault("imu", fault, start_s, start_s + WINDOW_S, dict(PARAMS[fault])),),
        criteria=dataclasses.replace(nominal.criteria, max_touchdown_speed_mps=2.0),
    )


@dataclasses.dataclass(frozen=True)
class Run:
    landed: bool
    passed: bool
    touchdown: float | None
    reasons: int  # ACC_* bits of every acc_bad event
    distrusted_ticks: int  # the longest acc_good arg (or to the end when never trusted again)
    distrusted: bool


def fly(job: tuple[Scenario, int]) -> Run:
    scenario, seed = job
    r = run_scenario(dispersed_run(scenario, seed), "cpython", seed=seed)
    bad = [e for e in r.events if e["name"] == "acc_bad"]
    good = [int(e["arg"]) for e in r.events if e["name"] == "acc_good"]
    reasons = 0
    for e in bad:
        reasons |= int(e["arg"])
    s: dict[str, Any] = r.summary
    return Run(
        landed=s["outcome"] == "landed",
        passed=bool(s["passed"]),
        touchdown=s.get("touchdown_vertical_speed_mps"),
        reasons=reasons,
        distrusted_ticks=max(good, default=0),
        distrusted=bool(bad),
    )


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def row(label: str, phase: str, runs: list[Run]) -> str:
    n = len(runs)
    speeds = [r.touchdown for r in runs if r.touchdown is not None]
    p50 = statistics.median(speeds) if speeds else None
    reasons = 0
    for r in runs:
        reasons |= r.reasons
    names = ", ".join(name for bit, name in REASONS if reasons & bit) or "-"
    longest = max((r.distrusted_ticks for r in runs), default=0) * PERIOD_S
    return (
        f"| {label} | {phase} | {n} | {100 * sum(r.landed for r in runs) / n:.0f} % "
        f"| {100 * sum(r.passed for r in runs) / n:.0f} % | {_f(p50)} / "
        f"{_f(max(speeds) if speeds else None)} | {sum(r.distrusted for r in runs)} / "
        f"{names} / {longest:.1f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    nominal = load_scenario("nominal")
    print(HEADER, flush=True)
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for fault in FAULT_NAMES:
            params = ", ".join(f"{k} {v:g}" for k, v in PARAMS[fault].items())
            label = f"{fault} ({params})" if params else fault
            for phase, start in PHASES.items():
                sc = matrix_scenario(nominal, fault, start)
                jobs = [(sc, args.seed + i) for i in range(args.runs)]
                print(row(label, phase, list(pool.map(fly, jobs))), flush=True)


if __name__ == "__main__":
    main()
