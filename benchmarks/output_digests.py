"""Digests of what `softland sim` writes, per flight: the check that a change meant to make the
loop faster (issue 13, "Speed") leaves every output byte as it was.

    PYTHONPATH=host python3 benchmarks/output_digests.py [--runtime cpython] [--all] > now.json

For each flight (scenario, seed; dispersed as `softland sim SCENARIO --seed SEED` flies it) the
SHA-256 of telemetry.csv, events.json, summary.json, inputs.bin and params.json, written by the
same functions as `softland sim` (host/softland/analysis/report.py). Run it on two checkouts
(PYTHONPATH=<checkout>/host) and diff the two JSON files: equal means byte-identical outputs.
--all flies every built-in scenario with its own seed besides the default set.
tests/golden_outputs.json pins the default set under CPython (tests/test_golden_outputs.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

# scenario, seed: the nominal descent (long-range rangefinder, serial), the LIDAR-Lite hopper on
# I2C with its faults, a bouncing contact, lossy sensors, a flight-computer reset (beresheet)
FLIGHTS: tuple[tuple[str, int], ...] = (
    ("nominal", 1),
    ("nominal", 7),
    ("earth-hopper", 3),
    ("hopper-lidar-faults", 1),
    ("bounce", 2),
    ("late-lossy", 5),
    ("imu-braking", 1),
    ("delayed", 1),
    ("beresheet", 2),
)


def digests(name: str, seed: int | None, runtime: str) -> dict[str, str]:
    from softland.analysis.report import write_telemetry_csv
    from softland.simulation.dispersions import dispersed_run
    from softland.simulation.scenario import load_scenario
    from softland.simulation.sim import run_scenario

    s = dispersed_run(load_scenario(name), seed)
    result = run_scenario(s, runtime, seed=seed, controller="firmware")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "telemetry.csv"
        write_telemetry_csv(result.telemetry, csv_path)
        files: dict[str, bytes] = {
            "telemetry.csv": csv_path.read_bytes(),
            "events.json": (json.dumps(result.events, indent=2) + "\n").encode(),
            "summary.json": (json.dumps(result.summary, indent=2) + "\n").encode(),
            "params.json": (json.dumps(result.params, indent=2) + "\n").encode(),
        }
    if result.inputs is not None:
        files["inputs.bin"] = result.inputs.to_bytes()
    return {key: hashlib.sha256(data).hexdigest() for key, data in sorted(files.items())}


def measure(runtime: str, every_builtin: bool = False) -> dict[str, Any]:
    from softland.simulation.scenario import builtin_names

    flights: list[tuple[str, int | None]] = list(FLIGHTS)
    if every_builtin:
        flights += [(name, None) for name in builtin_names()]
    return {
        f"{name}@{'own' if seed is None else seed}": digests(name, seed, runtime)
        for name, seed in flights
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtime", default="cpython")
    ap.add_argument("--all", action="store_true", help="also every built-in scenario")
    args = ap.parse_args(argv)
    json.dump(measure(args.runtime, args.all), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
