"""Monte Carlo campaigns: many seeded, dispersed runs of one scenario, in parallel.

Run i of a campaign with seed S flies with run seed ``S + i``: the sim's noise comes from that
seed as in `softland sim`, and the dispersions from its dispersion stream
(:func:`softland.simulation.dispersions.dispersed_run`), so
``softland sim SCENARIO --seed S+i`` reproduces the run exactly (same telemetry hash). Results
are ordered by run index and do not depend on the number of workers. Outputs:
:func:`write_campaign`.
"""

from __future__ import annotations

import csv
import inspect
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from softland.errors import UserError
from softland.simulation.dispersions import DispersionDraw, dispersed_run_with_draw
from softland.simulation.scenario import OUTCOMES, Scenario

MAX_FAILED_SEEDS = 20
ERROR_OUTCOME = "error"  # the run raised instead of flying to an outcome

# runs.csv: these columns, then the dispersion draws (DispersionDraw.row())
RUN_COLUMNS = (
    "index",
    "seed",
    "outcome",
    "passed",
    "touchdown_vertical_speed_mps",
    "delta_v_mps",
    "delta_v_optimal_variable_mass_mps",
    "delta_v_ratio",
    "delta_v_optimal_mps",  # the closed form: a cross-check
    "delta_v_ratio_closed_form",
    "propellant_used_kg",
    "flight_time_s",
    "land_detected_s",
    "final_mode",
    "telemetry_sha256",
    "error",
)
DRAW_COLUMNS = tuple(DispersionDraw().row())

ProgressFn = Callable[[int, int, dict[str, Any]], None]


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to fly one run (picklable)."""

    scenario: Scenario
    seed: int
    runtime: str
    micropython: str | None = None
    controller: str | None = None


@dataclass
class Campaign:
    """A finished campaign: one row per run (summary fields + dispersion draws), by index."""

    scenario: Scenario
    runs: list[dict[str, Any]]
    seed: int
    runtime: str
    controller: str | None
    workers: int
    wall_time_s: float
    scenario_ref: str = ""  # how the user named the scenario (for the reproduce command)
    draws: list[DispersionDraw] = field(default_factory=list)
    backend: str = "processes"  # or "dask" (softland.simulation.mc_dask)

    def summary(self) -> dict[str, Any]:
        runs = self.runs
        n = len(runs)
        outcomes = {name: 0 for name in OUTCOMES}
        for r in runs:
            outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
        touched = [
            r["touchdown_vertical_speed_mps"]
            for r in runs
            if r.get("touchdown_vertical_speed_mps") is not None
        ]
        ratios = [
            r["delta_v_ratio"]
            for r in runs
            if r["outcome"] == "landed" and r.get("delta_v_ratio") is not None
        ]
        ratios_cf = [
            r["delta_v_ratio_closed_form"]
            for r in runs
            if r["outcome"] == "landed" and r.get("delta_v_ratio_closed_form") is not None
        ]
        failed = [r["seed"] for r in runs if not r["passed"]]
        errors = [r for r in runs if r["outcome"] == ERROR_OUTCOME]
        ref = self.scenario_ref or self.scenario.name
        controller = self.controller or "firmware"
        s = self.scenario
        return {
            "scenario": s.name,
            "scenario_source": s.source,
            "runs": n,
            "seed": self.seed,
            "run_seeds": [self.seed, self.seed + n - 1] if n else [],
            "runtime": self.runtime,
            "controller": controller,
            "success_rate": _r(sum(bool(r["passed"]) for r in runs) / n) if n else None,
            "landed_rate": _r(outcomes["landed"] / n) if n else None,
            "touchdown_speed_p50": _pct(touched, 50),
            "touchdown_speed_p99": _pct(touched, 99),
            "touchdown_speed_max": _r(max(touched)) if touched else None,
            "touchdown_runs": len(touched),
            "delta_v_ratio_p50": _pct(ratios, 50),
            "delta_v_ratio_p99": _pct(ratios, 99),
            "delta_v_ratio_runs": len(ratios),
            "delta_v_ratio_closed_form_p50": _pct(ratios_cf, 50),
            "outcomes": outcomes,
            "failed_runs": len(failed),
            "failed_seeds": failed[:MAX_FAILED_SEEDS],
            "errors": len(errors),
            "first_error": (f"seed {errors[0]['seed']}: {errors[0]['error']}" if errors else None),
            "criteria": asdict(s.criteria),
            "dispersions": asdict(s.dispersions),
            "reproduce": (
                f"softland sim {ref} --seed SEED --runtime {self.runtime}"
                + (f" --controller {controller}" if controller != "firmware" else "")
            ),
            "wall_time_s": _r(self.wall_time_s, 2),
            "workers": self.workers,
            "backend": self.backend,
        }


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Fly run seed `spec.seed` of a campaign: its dispersed scenario with its noise seed.

    Returns the sim summary plus the dispersion draws; a run that raises is recorded with
    outcome "error" and the message, so one bad run does not lose the campaign.
    """
    from softland.simulation.sim import run_scenario

    scenario, draw = dispersed_run_with_draw(spec.scenario, spec.seed)
    row: dict[str, Any] = {"seed": spec.seed}
    kwargs: dict[str, Any] = {"seed": spec.seed, "micropython": spec.micropython}
    if spec.controller is not None:
        kwargs["controller"] = spec.controller
    try:
        result = run_scenario(scenario, spec.runtime, **kwargs)
    except Exception as exc:  # noqa: BLE001 - recorded per run, reported in the summary
        row.update(outcome=ERROR_OUTCOME, passed=False, error=f"{type(exc).__name__}: {exc}")
    else:
        row.update(result.summary)
        row["seed"] = spec.seed
        row["error"] = None
    row["draw"] = draw
    return row


def resolve_workers(workers: int, runs: int) -> int:
    """Worker processes to use: 0 means one per CPU; never more than the runs."""
    if workers < 0:
        raise UserError(f"--workers must be 0 (one per CPU) or more, got {workers}")
    if workers == 0:
        workers = os.cpu_count() or 1
    return max(1, min(workers, runs))


def _accepts_controller() -> bool:
    from softland.simulation.sim import run_scenario

    return "controller" in inspect.signature(run_scenario).parameters


def _check_controller(controller: str | None) -> str | None:
    """The controller to pass to run_scenario. None becomes "firmware" where run_scenario
    takes a controller, as `softland sim` passes it: the parameter upload is part of the
    telemetry hash, so a run and its `softland sim --seed` replay must upload the same."""
    if controller is None:
        return "firmware" if _accepts_controller() else None
    if not _accepts_controller():
        raise UserError(
            f"controller '{controller}' asked for, but this softland's run_scenario has no "
            "controller argument yet: run without --controller"
        )
    from softland.simulation import sim

    known = getattr(sim, "CONTROLLERS", None)
    if known is not None and controller not in known:
        raise UserError(f"unknown controller '{controller}' (use one of: {', '.join(known)})")
    return controller


def check_campaign_args(
    runs: int, seed: int, runtime: str, micropython: str | None, controller: str | None
) -> tuple[str, str | None, str | None]:
    """Validate a campaign's arguments before anything flies: (runtime, MicroPython binary,
    controller to pass to run_scenario), or a UserError."""
    from softland.boards.runtimes import resolve_runtime

    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise UserError(f"--runs must be a positive integer, got {runs!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {seed!r}")
    runtime_name, binary = resolve_runtime(runtime, micropython)
    return runtime_name, binary, _check_controller(controller)


def run_campaign(
    scenario: Scenario,
    runs: int,
    seed: int,
    workers: int = 1,
    runtime: str = "cpython",
    controller: str | None = None,
    progress: ProgressFn | None = None,
    micropython: str | None = None,
    scenario_ref: str = "",
) -> Campaign:
    """Fly `runs` dispersed runs of `scenario` with run seeds seed, seed + 1, ...

    workers: processes (1: in this process; 0: one per CPU). controller: passed to
    run_scenario when not None. progress(done, total, row) is called as runs finish (in
    completion order); the campaign's rows are in run order whatever the workers.
    """
    runtime_name, binary, controller = check_campaign_args(
        runs, seed, runtime, micropython, controller
    )
    workers = resolve_workers(workers, runs)
    specs = [RunSpec(scenario, seed + i, runtime_name, binary, controller) for i in range(runs)]
    t0 = time.perf_counter()
    rows = fly_local(specs, workers, progress)
    return assemble_campaign(
        scenario,
        rows,
        seed,
        runtime_name,
        controller,
        workers,
        time.perf_counter() - t0,
        scenario_ref,
    )


def run_seeds(
    scenario: Scenario,
    runs: list[tuple[int, int]],
    runtime: str = "cpython",
    micropython: str | None = None,
    controller: str | None = None,
    workers: int = 1,
    progress: ProgressFn | None = None,
) -> Campaign:
    """Fly chosen runs of a campaign, (campaign index, run seed) each, in a process pool:
    a Campaign whose rows keep those indices (softland mc rerun)."""
    runtime_name, binary, controller = check_campaign_args(
        len(runs), 0, runtime, micropython, controller
    )
    workers = resolve_workers(workers, len(runs))
    specs = [RunSpec(scenario, seed, runtime_name, binary, controller) for _, seed in runs]
    t0 = time.perf_counter()
    rows = fly_local(specs, workers, progress)
    for (index, _), row in zip(runs, rows, strict=True):
        row["index"] = index
    return assemble_campaign(
        scenario,
        rows,
        runs[0][1] - runs[0][0],
        runtime_name,
        controller,
        workers,
        time.perf_counter() - t0,
    )


def fly_local(
    specs: list[RunSpec], workers: int, progress: ProgressFn | None = None
) -> list[dict[str, Any]]:
    """run_one for every spec, in this process (workers 1) or a process pool; rows in spec
    order, each with its "draw"."""
    rows: list[dict[str, Any] | None] = [None] * len(specs)
    if workers == 1:
        for i, spec in enumerate(specs):
            rows[i] = run_one(spec)
            if progress is not None:
                progress(i + 1, len(specs), rows[i])
    else:
        _run_parallel(specs, rows, workers, progress)
    assert all(row is not None for row in rows)
    return rows  # type: ignore[return-value]


def assemble_campaign(
    scenario: Scenario,
    rows: list[dict[str, Any]],
    seed: int,
    runtime: str,
    controller: str | None,
    workers: int,
    wall_time_s: float,
    scenario_ref: str = "",
    backend: str = "processes",
) -> Campaign:
    """A Campaign from run_one rows in run order, whatever flew them: row i is campaign index
    i (run seed `seed + i`) unless it carries its own "index"; each row's draw becomes its
    runs.csv columns."""
    done: list[dict[str, Any]] = []
    draws: list[DispersionDraw] = []
    for i, row in enumerate(rows):
        row = dict(row)
        index = row.pop("index", i)
        draw = row.pop("draw")
        draws.append(draw)
        done.append({"index": index, **row, **draw.row()})
    return Campaign(
        scenario=scenario,
        runs=done,
        seed=seed,
        runtime=runtime,
        controller=controller,
        workers=workers,
        wall_time_s=wall_time_s,
        scenario_ref=scenario_ref,
        draws=draws,
        backend=backend,
    )


def _run_parallel(
    specs: list[RunSpec],
    rows: list[dict[str, Any] | None],
    workers: int,
    progress: ProgressFn | None,
) -> None:
    # spawn: a clean interpreter per worker on every platform (no forked threads or state)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        pending: dict[Future[dict[str, Any]], int] = {
            pool.submit(run_one, spec): i for i, spec in enumerate(specs)
        }
        finished = 0
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                rows[i] = fut.result()
                finished += 1
                if progress is not None:
                    progress(finished, len(specs), rows[i])
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# ---------------------------------------------------------------- outputs


def write_campaign(c: Campaign, out_dir: Path) -> dict[str, Path]:
    """DIR/summary.json, DIR/runs.csv, DIR/dispersion.png and DIR/report.html; returns their
    paths."""
    from softland.analysis.campaign_report import plot_campaign, write_campaign_html
    from softland.analysis.report import prepare_out_dir

    out = prepare_out_dir(Path(out_dir))
    paths = {
        "summary": out / "summary.json",
        "runs": out / "runs.csv",
        "plot": out / "dispersion.png",
        "report": out / "report.html",
    }
    paths["summary"].write_text(json.dumps(c.summary(), indent=2) + "\n")
    write_runs_csv(c.runs, paths["runs"])
    plot_campaign(c, paths["plot"])
    write_campaign_html(c, paths["report"])
    return paths


def write_runs_csv(runs: list[dict[str, Any]], path: Path) -> None:
    columns = [*RUN_COLUMNS, *DRAW_COLUMNS]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in runs:
            writer.writerow({k: "" if r.get(k) is None else r.get(k) for k in columns})


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return _r(float(np.percentile(np.asarray(values, dtype=float), q)))


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)
