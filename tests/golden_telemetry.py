#!/usr/bin/env python3
"""The firmware's telemetry of every built-in scenario, pinned: a digest of what the firmware
put in its telemetry frames, tick by tick (the payload fields, not the frame bytes, so a
change of the link's framing does not move it), flown under CPython with the scenario's seed.

Work that must not change what the firmware computes (making the tick cheaper, say) keeps
tests/golden_telemetry.json as it is: tests/test_golden_telemetry.py checks it. Work that
changes the flight on purpose writes it anew and the diff shows which scenarios moved:

    PYTHONPATH=host python3 tests/golden_telemetry.py --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).with_name("golden_telemetry.json")
# the payload fields as the host decodes them (host/softland/boards/hostlink.py), in frame order
FIELDS = (
    "tick", "time_us", "mode", "phase", "flags", "alt_mm", "vel_mm_s", "sigma_mm",
    "vref_mm_s", "throttle_q15", "acmd_mm_s2", "integ_mm_s2", "range_mm", "amax_mm_s2",
    "mass_q14", "overruns", "link_errors", "faults", "rejects", "hlow_mm", "rf_status",
    "rf_valid", "rf_signal", "rf_tx", "rf_errors", "flags2",
)  # fmt: skip


def digest(telemetry: list[dict]) -> str:
    h = hashlib.sha256()
    for row in telemetry:
        h.update((",".join(str(row[f]) for f in FIELDS) + "\n").encode())
    return h.hexdigest()


def fly(name: str) -> dict:
    from softland.simulation.scenario import load_scenario
    from softland.simulation.sim import run_scenario

    result = run_scenario(load_scenario(name), "cpython")
    return {"ticks": len(result.telemetry), "sha256": digest(result.telemetry)}


def measure() -> dict:
    from softland.simulation.scenario import builtin_names

    return {name: fly(name) for name in builtin_names()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="write golden_telemetry.json anew")
    args = ap.parse_args(argv)
    now = measure()
    if args.write:
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    old = json.loads(GOLDEN.read_text())
    moved = sorted(n for n in set(old) | set(now) if old.get(n) != now.get(n))
    print("moved: " + (", ".join(moved) if moved else "none"))
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
