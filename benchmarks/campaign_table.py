"""The campaign table of docs/scenarios.md from the summary.json files of a campaigns directory
(benchmarks/campaigns.sh): one Markdown row per campaign, firmware runs first."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HEADER = (
    "| scenario | controller | runs | success rate | outcomes | touchdown p50 / p99 / max (m/s) "
    "| delta-v ratio p50 / p99 (variable-mass optimum) | criteria | wall time (s) |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def row(d: dict[str, Any]) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in d["outcomes"].items() if v)
    crit = d["criteria"]
    criteria = f"{crit['outcome']}, <= {crit['max_touchdown_speed_mps']} m/s"
    if crit.get("max_resume_ticks"):
        criteria += f", resumed within {crit['max_resume_ticks']} tick"
    if crit.get("max_land_detect_s"):
        criteria += f", LANDED within {crit['max_land_detect_s']:g} s of contact"
    return (
        f"| {d['scenario']} | {d['controller']} | {d['runs']} | {100 * d['success_rate']:.1f} % "
        f"| {outcomes} | {_f(d['touchdown_speed_p50'])} / {_f(d['touchdown_speed_p99'])} / "
        f"{_f(d['touchdown_speed_max'])} | {_f(d['delta_v_ratio_p50'])} / "
        f"{_f(d['delta_v_ratio_p99'])} | {criteria} | {d['wall_time_s']:.0f} |"
    )


def main(directory: str) -> None:
    summaries = [json.loads(p.read_text()) for p in sorted(Path(directory).glob("*/summary.json"))]
    summaries.sort(key=lambda d: (d["scenario"], d["controller"] != "firmware"))
    print(HEADER)
    for d in summaries:
        print(row(d))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "campaigns")
