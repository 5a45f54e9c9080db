"""`softland mc`: a seeded Monte Carlo campaign over one scenario, in a local process pool or
on Dask, and `softland mc rerun DIR --failed` (registered in softland.cli)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from softland.errors import UserError
from softland.simulation.scenario import load_scenario

if TYPE_CHECKING:
    from softland.simulation.mc import ProgressFn

CONTROLLER_NAMES = ("firmware", "naive", "latching", "volatile")


MAX_RUNS = 10_000_000


def _int_option(name: str, text: str, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{name} must be an integer, got {text!r}") from None
    if value < minimum:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise UserError(f"{name} must be {what}, got {value}")
    if maximum is not None and value > maximum:
        raise UserError(f"{name} must be at most {maximum:,}, got {value:,}")
    return value


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is not None and value not in choices:
        raise UserError(f"unknown {name} '{value}' (use one of: {', '.join(choices)})")
    return value


class _CampaignGroup(click.Group):
    """`softland mc SCENARIO ...` flies a campaign (the `run` command); `softland mc rerun DIR
    --failed` flies an earlier campaign's failed runs again."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


class _RunCommand(click.Command):
    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        parent = ctx.parent.command_path if ctx.parent is not None else "softland mc"
        formatter.write_usage(parent, "SCENARIO [OPTIONS]")
        formatter.write_usage(parent, "rerun DIR --failed [OPTIONS]", prefix="       ")


@click.group("mc", cls=_CampaignGroup)
def mc_command() -> None:
    """Run a Monte Carlo campaign of SCENARIO, or rerun an earlier campaign's failed runs."""


def _backend_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--workers (the local process pool) and the Dask options, shared by run and rerun."""
    options = [
        click.option(
            "--workers",
            "workers_text",
            default=None,
            metavar="K",
            help="Local worker processes (0: one per CPU) [default: 1]. Results do not "
            "depend on it.",
        ),
        click.option(
            "--scheduler",
            default=None,
            metavar="tcp://HOST:8786",
            help="Fly on this running Dask cluster (pip install softland[dask]).",
        ),
        click.option(
            "--dask-workers",
            "dask_workers_text",
            default=None,
            metavar="N",
            help="Fly on a Dask cluster of N worker processes started here (0: one per CPU).",
        ),
        click.option(
            "--batch",
            "batch_text",
            default=None,
            metavar="B",
            help=f"Dask: runs per task [default: {DEFAULT_BATCH_TEXT}].",
        ),
        click.option(
            "--connect-timeout",
            "timeout_text",
            default=None,
            metavar="S",
            help=f"Dask: seconds to wait for the scheduler [default: {DEFAULT_TIMEOUT_TEXT}].",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


DEFAULT_BATCH_TEXT = "200 at most, shrinking towards the end"
DEFAULT_TIMEOUT_TEXT = "10"


@dataclass(frozen=True)
class _Backend:
    workers: int  # local processes (when dask is None)
    dask: Any  # softland.simulation.mc_dask.DaskOptions, or None for the process pool

    def describe(self) -> str:
        if self.dask is not None:
            return str(self.dask.describe())
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}"


def _backend(
    runs: int,
    workers_text: str | None,
    scheduler: str | None,
    dask_workers_text: str | None,
    batch_text: str | None,
    timeout_text: str | None,
    resume: bool = False,
) -> _Backend:
    from softland.simulation.mc import resolve_workers

    dask = scheduler is not None or dask_workers_text is not None
    if not dask:
        given = [
            name
            for name, value in (
                ("--batch", batch_text),
                ("--connect-timeout", timeout_text),
                ("--resume", resume or None),
            )
            if value is not None
        ]
        if given:
            raise UserError(f"{', '.join(given)}: only with Dask (--scheduler or --dask-workers)")
        workers = _int_option("--workers", workers_text or "1", 0)
        return _Backend(resolve_workers(workers, runs), None)
    if scheduler is not None and dask_workers_text is not None:
        raise UserError("use --scheduler or --dask-workers, not both")
    if workers_text is not None:
        raise UserError(
            "--workers sizes the local process pool; on Dask the cluster's workers fly the "
            "runs (--dask-workers N starts N here)"
        )
    from softland.simulation.mc_dask import DaskOptions, require_dask

    local_workers = None
    if dask_workers_text is not None:
        local_workers = _int_option("--dask-workers", dask_workers_text, 0) or os.cpu_count() or 1
    batch = None if batch_text is None else _int_option("--batch", batch_text, 1)
    timeout = _float_option("--connect-timeout", timeout_text or DEFAULT_TIMEOUT_TEXT)
    require_dask("--scheduler" if scheduler is not None else "--dask-workers")
    options = DaskOptions(
        scheduler=scheduler,
        local_workers=local_workers,
        batch=batch,
        connect_timeout_s=timeout,
        resume=resume,
    )
    return _Backend(local_workers or 0, options)


def _float_option(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name} must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise UserError(f"{name} must be positive, got {text}")
    return value


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[passed]} passed[/] [red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )


def _flying(progress: Progress, description: str, total: int) -> ProgressFn:
    """A progress(done, total, row) callback that moves a bar of `progress`."""
    counts = {"passed": 0, "failed": 0}
    task = progress.add_task(escape(description), total=total, passed=0, failed=0)

    def on_run(done: int, total: int, row: dict[str, Any]) -> None:
        counts["passed" if row.get("passed") else "failed"] += 1
        progress.update(task, completed=done, **counts)

    return on_run


@mc_command.command("run", cls=_RunCommand)
@click.argument("scenario")
@click.option(
    "--runs", "runs_text", default="100", metavar="N", show_default=True, help="Number of runs."
)
@click.option(
    "--seed",
    "seed_text",
    default=None,
    metavar="S",
    help="Campaign seed; run i flies with seed SEED + i [default: the scenario's seed].",
)
@click.option(
    "--controller",
    default=None,
    metavar="[firmware|naive|latching|volatile]",
    help="firmware (default), or a baseline with a mission's flawed logic: naive, latching, "
    "volatile.",
)
@click.option(
    "--runtime",
    default="cpython",
    metavar="[cpython|micropython|micropython32]",
    show_default=True,
    help="Interpreter hosting the firmware: cpython (fast), micropython (unix port) or "
    "micropython32 (the 32-bit unix port: 31-bit small ints, as on a board).",
)
@click.option(
    "--micropython",
    "micropython_bin",
    default=None,
    help="MicroPython unix-port binary [default: $SOFTLAND_MICROPYTHON or `micropython`; "
    "with --runtime micropython32: $SOFTLAND_MICROPYTHON32 or shared/pil/].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for summary.json, runs.csv, dispersion.png [default: out/mc-SCENARIO].",
)
@_backend_options
@click.option(
    "--resume",
    is_flag=True,
    help="Dask: keep the shards an interrupted campaign left in OUT/shards and fly only the "
    "runs they lack.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run_command(
    scenario: str,
    runs_text: str,
    seed_text: str | None,
    controller: str | None,
    runtime: str,
    micropython_bin: str | None,
    out: Path | None,
    workers_text: str | None,
    scheduler: str | None,
    dask_workers_text: str | None,
    batch_text: str | None,
    timeout_text: str | None,
    resume: bool,
    quiet: bool,
) -> None:
    """Run a Monte Carlo campaign of SCENARIO (a built-in name or a .toml file).

    Every run is reproducible alone: `softland sim SCENARIO --seed S` with the seed of its row
    in runs.csv flies the same dispersed descent. Exits 0 when the campaign ran, whatever its
    success rate (read summary.json). The runs fly in a local process pool (--workers), or
    on Dask (--scheduler, --dask-workers): the same runs.csv either way.
    `softland mc rerun DIR --failed` flies an earlier campaign's failed runs again.
    """
    from softland.analysis.campaign_report import percentile_warning
    from softland.analysis.report import prepare_out_dir
    from softland.boards.runtimes import resolve_runtime
    from softland.simulation.mc import run_campaign, write_campaign

    # a campaign's seeds and rows are held in memory: a mistyped count is an error, not an OOM
    runs = _int_option("--runs", runs_text, 1, MAX_RUNS)
    backend = _backend(
        runs, workers_text, scheduler, dask_workers_text, batch_text, timeout_text, resume
    )
    controller = _choice("controller", controller, CONTROLLER_NAMES)
    # an unknown runtime or a missing MicroPython binary: one error line before the progress
    runtime, micropython_bin = resolve_runtime(runtime, micropython_bin)
    s = load_scenario(scenario)
    seed = s.seed if seed_text is None else _int_option("--seed", seed_text, 0)
    out = out if out is not None else Path("out") / f"mc-{s.name}"
    prepare_out_dir(out)  # fail on a bad --out before flying anything

    console = Console(stderr=True)
    flight = None
    with contextlib.ExitStack() as stack:
        client = None
        if backend.dask is not None:
            from softland.simulation.mc_dask import checked_client, run_campaign_dask

            # connected and every worker checked before the progress bar shows
            client = stack.enter_context(checked_client(backend.dask, runtime, micropython_bin))
        progress = stack.enter_context(_progress(quiet))
        on_run = _flying(progress, f"{s.name} x{runs} ({backend.describe()})", runs)
        if client is None:
            campaign = run_campaign(
                s,
                runs,
                seed,
                workers=backend.workers,
                runtime=runtime,
                controller=controller,
                progress=on_run,
                micropython=micropython_bin,
                scenario_ref=scenario,
            )
        else:
            try:
                campaign, flight = run_campaign_dask(
                    s,
                    runs,
                    seed,
                    backend.dask,
                    out,
                    runtime=runtime,
                    controller=controller,
                    progress=on_run,
                    micropython=micropython_bin,
                    scenario_ref=scenario,
                    client=client,
                )
            except KeyboardInterrupt:
                progress.stop()
                console.print(
                    escape(
                        f"the finished batches are kept in {out / 'shards'}: add --resume to "
                        "fly only the rest"
                    ),
                    highlight=False,
                    soft_wrap=True,
                )
                raise
    paths = write_campaign(campaign, out)
    if flight is not None:
        from softland.simulation.shards import BATCHES

        paths["dask"] = _write_dask_record(flight, out / "shards" / BATCHES)
    summary = campaign.summary()
    _print_summary(summary)
    counted = (("touchdown speed", "touchdown_runs"), ("delta-v ratio", "delta_v_ratio_runs"))
    for what, n in counted:
        too_few = percentile_warning(summary[n])
        if too_few and summary[n]:
            console.print(f"[yellow]warning:[/] {escape(f'{what}: {too_few}')}", highlight=False)
    if flight is not None:
        _print_flight(console, flight, out)
    if summary["errors"]:
        console.print(
            "[yellow]warning:[/] "
            + escape(
                f"{summary['errors']} run(s) raised instead of flying; first: "
                f"{summary['first_error']}"
            ),
            highlight=False,
        )
        if summary["errors"] == summary["runs"]:
            raise RuntimeError(f"every run failed to fly; first: {summary['first_error']}")
    console.print(
        escape("wrote " + ", ".join(str(p) for p in paths.values())),
        highlight=False,
        soft_wrap=True,
    )


def _write_dask_record(flight: Any, path: Path) -> Path:
    """_batches.json beside the shards: where each batch flew and how long it took there."""
    record = {
        "workers": flight.workers,
        "wall_time_s": round(flight.wall_time_s, 3),
        "resumed_runs": flight.resumed_runs,
        "batches": [dataclasses.asdict(b) for b in flight.batches],
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def _print_flight(console: Console, flight: Any, out: Path) -> None:
    lost = [b for b in flight.batches if b.error]
    sizes = {b.runs for b in flight.batches}
    text = (
        f"dask: {len(flight.batches)} batch(es) of up to {max(sizes, default=0)} runs on "
        f"{flight.workers} worker(s), shards in {out / 'shards'}"
    )
    if flight.resumed_runs:
        text += f"; {flight.resumed_runs} run(s) resumed from earlier shards"
    console.print(escape(text), highlight=False, soft_wrap=True)
    if lost:
        console.print(
            "[yellow]warning:[/] "
            + escape(
                f"{len(lost)} batch(es) lost on the cluster ({lost[0].error}); their runs are "
                f"recorded as errors: softland mc rerun {out} --failed flies them again"
            ),
            highlight=False,
            soft_wrap=True,
        )


@mc_command.command("rerun")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--failed", is_flag=True, help="Fly every run that did not pass (required).")
@click.option(
    "--micropython",
    "micropython_bin",
    default=None,
    help="MicroPython unix-port binary, for a campaign flown under a MicroPython runtime.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for the rerun's summary.json and runs.csv [default: DIR/rerun-failed].",
)
@_backend_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def rerun_command(
    directory: Path,
    failed: bool,
    micropython_bin: str | None,
    out: Path | None,
    workers_text: str | None,
    scheduler: str | None,
    dask_workers_text: str | None,
    batch_text: str | None,
    timeout_text: str | None,
    quiet: bool,
) -> None:
    """Fly the failed runs of the campaign in DIR again (its scenario, runtime and controller,
    each run with its seed) and say which came out the same.

    A run that fails again with the same telemetry hash is a real failure: reproduce it with
    `softland sim SCENARIO --seed S`. A run that raised before and flies now failed for
    another reason (a lost cluster worker, memory).
    """
    from softland.analysis.report import prepare_out_dir
    from softland.simulation.mc import run_seeds
    from softland.simulation.rerun import load_campaign_dir, rerun_failed, write_rerun

    if not failed:
        raise UserError("say which runs to fly again: softland mc rerun DIR --failed")
    earlier = load_campaign_dir(directory)
    count = len(earlier.failed)
    backend = _backend(
        max(1, count), workers_text, scheduler, dask_workers_text, batch_text, timeout_text
    )
    out = out if out is not None else Path(directory) / "rerun-failed"
    if not count:
        Console(stderr=True).print(
            escape(f"no failed runs in {directory / 'runs.csv'}: nothing to fly again"),
            highlight=False,
            soft_wrap=True,
        )
        return
    prepare_out_dir(out)
    controller = earlier.summary.get("controller")

    runtime = str(earlier.summary["runtime"])
    with contextlib.ExitStack() as stack:
        client = None
        if backend.dask is not None:
            from softland.boards.runtimes import resolve_runtime
            from softland.simulation.mc_dask import checked_client, run_seeds_dask

            binary = resolve_runtime(runtime, micropython_bin)[1]
            client = stack.enter_context(checked_client(backend.dask, runtime, binary))
        progress = stack.enter_context(_progress(quiet))
        on_run = _flying(
            progress, f"{earlier.scenario.name}: {count} failed ({backend.describe()})", count
        )

        def fly(scenario: Any, pairs: Any, runtime: str, micropython: str | None) -> Any:
            if client is None:
                return run_seeds(
                    scenario, pairs, runtime, micropython, controller, backend.workers, on_run
                )
            campaign, _ = run_seeds_dask(
                scenario,
                pairs,
                backend.dask,
                out / "shards",
                runtime=runtime,
                micropython=micropython,
                controller=controller,
                progress=on_run,
                client=client,
            )
            return campaign

        rerun = rerun_failed(earlier, fly, micropython_bin)
    paths = write_rerun(rerun, out)
    _print_rerun(rerun.summary())
    Console(stderr=True).print(
        escape("wrote " + ", ".join(str(p) for p in paths.values())),
        highlight=False,
        soft_wrap=True,
    )


def _print_rerun(summary: dict[str, Any]) -> None:
    table = Table(
        title=f"softland mc rerun: {summary['runs']} failed run(s) of {summary['scenario']}"
    )
    for column in ("index", "seed", "before", "now", "same telemetry"):
        table.add_column(column, justify="right" if column in ("index", "seed") else "left")
    for r in summary["runs_compared"]:
        same = {True: "yes", False: "[yellow]no[/]", None: "-"}[r["same_telemetry"]]
        now = escape(r["outcome_now"])
        now = f"[green]{now}[/]" if r["passed_now"] else f"[red]{now}[/]"
        table.add_row(str(r["index"]), str(r["seed"]), escape(r["outcome_before"]), now, same)
    Console().print(table)
    Console().print(
        escape(
            f"{summary['passed_now']} of {summary['runs']} pass now; "
            f"{summary['same_outcome']} have the same outcome, "
            f"{summary['same_telemetry']} the same telemetry hash"
        ),
        highlight=False,
    )


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}{unit}"
    return f"{value}{unit}"


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"softland mc: {summary['scenario']}", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rate = summary["success_rate"]
    colour = "green" if rate == 1.0 else ("yellow" if rate >= 0.99 else "red")
    rows = [
        (
            "runs",
            f"{summary['runs']} (seeds {summary['run_seeds'][0]}..{summary['run_seeds'][1]})",
        ),
        ("controller / runtime", f"{summary['controller']} / {summary['runtime']}"),
        ("success rate", f"[bold {colour}]{100 * rate:.1f} %[/]"),
        ("landed rate", f"{100 * summary['landed_rate']:.1f} %"),
        ("touchdown speed p50", _fmt(summary["touchdown_speed_p50"], " m/s")),
        ("touchdown speed p99", _fmt(summary["touchdown_speed_p99"], " m/s")),
        ("touchdown speed max", _fmt(summary["touchdown_speed_max"], " m/s")),
        ("delta-v ratio p50 (true optimum)", _fmt(summary["delta_v_ratio_p50"])),
        ("delta-v ratio p99 (true optimum)", _fmt(summary["delta_v_ratio_p99"])),
        ("delta-v ratio p50 (closed form)", _fmt(summary["delta_v_ratio_closed_form_p50"])),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items() if v)),
        ("failed seeds", " ".join(map(str, summary["failed_seeds"])) or "-"),
        ("wall time", f"{summary['wall_time_s']:.1f} s on {summary['workers']} worker(s)"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)
