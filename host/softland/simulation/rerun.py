"""Fly the failed runs of an earlier campaign again, from its directory, and compare.

`softland mc rerun DIR --failed` reads DIR/summary.json (scenario, runtime, controller) and
DIR/runs.csv (every run that did not pass, with its seed and telemetry hash), flies those
seeds again on any backend, and says for each whether it came out the same: a run that fails
the same way with the same telemetry hash is a reproducible failure to look into (`softland
sim SCENARIO --seed S`); a run that raised before (a batch lost on a cluster, a worker out of
memory) and flies now was a failure of the machinery, not of the descent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from softland.errors import UserError
from softland.simulation.mc import Campaign, write_runs_csv
from softland.simulation.scenario import Scenario, load_scenario

Fly = Callable[[Scenario, list[tuple[int, int]], str, str | None], Campaign]


@dataclass(frozen=True)
class EarlierCampaign:
    """A campaign's directory as written by write_campaign: its summary and runs.csv rows."""

    directory: Path
    summary: dict[str, Any]
    rows: list[dict[str, str]]
    scenario: Scenario

    @property
    def failed(self) -> list[dict[str, str]]:
        """The rows that did not pass (any outcome, errors included), in run order."""
        return [r for r in self.rows if r.get("passed") != "True"]


def load_campaign_dir(directory: Path) -> EarlierCampaign:
    """Read DIR/summary.json and DIR/runs.csv, and load the campaign's scenario (from the file
    it was read from, else by its name). One UserError for whatever is missing or malformed."""
    directory = Path(directory)
    summary_path, runs_path = directory / "summary.json", directory / "runs.csv"
    for path in (summary_path, runs_path):
        if not path.is_file():
            raise UserError(f"{path} not found: is {directory} a `softland mc` output directory?")
    try:
        summary = json.loads(summary_path.read_text())
        with runs_path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, ValueError, csv.Error) as exc:
        raise UserError(f"cannot read the campaign in {directory}: {exc}") from None
    needed = ("scenario", "runtime", "controller")
    if not isinstance(summary, dict) or any(k not in summary for k in needed):
        raise UserError(f"{summary_path} is not a campaign summary (needs {', '.join(needed)})")
    if rows and any(k not in rows[0] for k in ("index", "seed", "passed", "outcome")):
        raise UserError(f"{runs_path} lacks the index, seed, passed or outcome column")
    source = summary.get("scenario_source")
    ref = source if source and Path(source).is_file() else summary["scenario"]
    scenario = load_scenario(str(ref))
    return EarlierCampaign(directory, summary, rows, scenario)


@dataclass
class Rerun:
    """The failed runs of `earlier` flown again (`campaign`, rows with their old index)."""

    earlier: EarlierCampaign
    before: list[dict[str, str]]
    campaign: Campaign

    def comparison(self) -> list[dict[str, Any]]:
        """One entry per run: index, seed, outcome before and now, passed now, and whether the
        telemetry hash is the same (None when either run has none)."""
        now = {r["index"]: r for r in self.campaign.runs}
        out = []
        for old in self.before:
            new = now[int(old["index"])]
            old_hash, new_hash = old.get("telemetry_sha256") or None, new.get("telemetry_sha256")
            out.append(
                {
                    "index": int(old["index"]),
                    "seed": int(old["seed"]),
                    "outcome_before": old["outcome"],
                    "outcome_now": new["outcome"],
                    "passed_now": bool(new["passed"]),
                    "same_telemetry": (
                        None if not (old_hash and new_hash) else old_hash == new_hash
                    ),
                    "error_now": new.get("error"),
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        rows = self.comparison()
        s = self.earlier.summary
        return {
            "rerun_of": str(self.earlier.directory),
            "scenario": s["scenario"],
            "runtime": self.campaign.runtime,
            "controller": self.campaign.controller or "firmware",
            "runs": len(rows),
            "seeds": [r["seed"] for r in rows],
            "passed_now": sum(r["passed_now"] for r in rows),
            "same_outcome": sum(r["outcome_before"] == r["outcome_now"] for r in rows),
            "same_telemetry": sum(r["same_telemetry"] is True for r in rows),
            "runs_compared": rows,
            "backend": self.campaign.backend,
            "workers": self.campaign.workers,
            "wall_time_s": round(self.campaign.wall_time_s, 2),
        }


def rerun_failed(earlier: EarlierCampaign, fly: Fly, micropython: str | None = None) -> Rerun:
    """Fly earlier's failed runs again with fly(scenario, [(index, seed)], runtime,
    micropython) (any backend); a campaign without failures is a UserError."""
    before = earlier.failed
    if not before:
        raise UserError(f"no failed runs in {earlier.directory / 'runs.csv'}: nothing to rerun")
    pairs = [(int(r["index"]), int(r["seed"])) for r in before]
    campaign = fly(earlier.scenario, pairs, earlier.summary["runtime"], micropython)
    return Rerun(earlier, before, campaign)


def write_rerun(rerun: Rerun, out: Path) -> dict[str, Path]:
    """out/summary.json (the comparison) and out/runs.csv (the new rows, runs.csv columns)."""
    from softland.analysis.report import prepare_out_dir

    out = prepare_out_dir(Path(out))
    paths = {"summary": out / "summary.json", "runs": out / "runs.csv"}
    paths["summary"].write_text(json.dumps(rerun.summary(), indent=2) + "\n")
    write_runs_csv(rerun.campaign.runs, paths["runs"])
    return paths
