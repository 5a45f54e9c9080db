"""The IMU fault matrix: each accelerometer fault (softland.devices.imu_faults) alone, 2 s long,
at three phases of the nominal descent (engine-off coast at ~2.6 km, mid braking at ~1 km,
terminal at ~40-20 m), a Monte Carlo campaign each (nominal dispersions, fault windows moved
with them), one Markdown row each: landed %, passed %, touchdown p50 / max.

    PYTHONPATH=host python3 benchmarks/imu_matrix.py [--runs 40] [--seed 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses

from softland.devices.imu_faults import FAULT_NAMES
from softland.simulation.mc import run_campaign
from softland.simulation.scenario import Fault, Scenario, load_scenario

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
    "| fault | phase | runs | landed | passed | touchdown p50 / max (m/s) |\n"
    "|---|---|---|---|---|---|"
)


def matrix_scenario(nominal: Scenario, fault: str, start_s: float) -> Scenario:
    return dataclasses.replace(
        nominal,
        name=f"nominal+imu-{fault}@{start_s:g}s",
        faults=(Fault("imu", fault, start_s, start_s + WINDOW_S, dict(PARAMS[fault])),),
        criteria=dataclasses.replace(nominal.criteria, max_touchdown_speed_mps=2.0),
    )


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    nominal = load_scenario("nominal")
    print(HEADER, flush=True)
    for fault in FAULT_NAMES:
        params = ", ".join(f"{k} {v:g}" for k, v in PARAMS[fault].items())
        label = f"{fault} ({params})" if params else fault
        for phase, start in PHASES.items():
            c = run_campaign(
                matrix_scenario(nominal, fault, start), args.runs, args.seed, args.workers
            )
            s = c.summary()
            print(
                f"| {label} | {phase} | {s['runs']} | {100 * s['landed_rate']:.0f} % "
                f"| {100 * s['success_rate']:.0f} % | {_f(s['touchdown_speed_p50'])} / "
                f"{_f(s['touchdown_speed_max'])} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
