"""`softland mc`: a seeded Monte Carlo campaign over one scenario (registered in softland.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

CONTROLLER_NAMES = ("firmware", "naive", "latching", "volatile")


def _int_option(name: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{name} must be an integer, got {text!r}") from None
    if value < minimum:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise UserError(f"{name} must be {what}, got {value}")
    return value


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is not None and value not in choices:
        raise UserError(f"unknown {name} '{value}' (use one of: {', '.join(choices)})")
    return value


@click.command("mc")
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
    "--workers",
    "workers_text",
    default="1",
    metavar="K",
    show_default=True,
    help="Worker processes (0: one per CPU). Results do not depend on it.",
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
@click.option("--quiet", is_flag=True, help="No progress bar.")
def mc_command(
    scenario: str,
    runs_text: str,
    seed_text: str | None,
    workers_text: str,
    controller: str | None,
    runtime: str,
    micropython_bin: str | None,
    out: Path | None,
    quiet: bool,
) -> None:
    """Run a Monte Carlo campaign of SCENARIO (a built-in name or a .toml file).

    Every run is reproducible alone: `softland sim SCENARIO --seed S` with the seed of its row
    in runs.csv flies the same dispersed descent. Exits 0 when the campaign ran, whatever its
    success rate (read summary.json).
    """
    from softland.analysis.campaign_report import percentile_warning
    from softland.analysis.report import prepare_out_dir
    from softland.boards.runtimes import resolve_runtime
    from softland.simulation.mc import resolve_workers, run_campaign, write_campaign

    runs = _int_option("--runs", runs_text, 1)
    workers_req = _int_option("--workers", workers_text, 0)
    controller = _choice("controller", controller, CONTROLLER_NAMES)
    # an unknown runtime or a missing MicroPython binary: one error line before the progress
    runtime, micropython_bin = resolve_runtime(runtime, micropython_bin)
    s = load_scenario(scenario)
    seed = s.seed if seed_text is None else _int_option("--seed", seed_text, 0)
    out = out if out is not None else Path("out") / f"mc-{s.name}"
    prepare_out_dir(out)  # fail on a bad --out before flying anything
    workers = resolve_workers(workers_req, runs)

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[passed]} passed[/] [red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
    counts = {"passed": 0, "failed": 0}
    with progress:
        task = progress.add_task(
            f"{s.name} x{runs} ({workers} worker{'s' if workers > 1 else ''})",
            total=runs,
            passed=0,
            failed=0,
        )

        def on_run(done: int, total: int, row: dict[str, Any]) -> None:
            counts["passed" if row.get("passed") else "failed"] += 1
            progress.update(task, completed=done, **counts)

        campaign = run_campaign(
            s,
            runs,
            seed,
            workers=workers,
            runtime=runtime,
            controller=controller,
            progress=on_run,
            micropython=micropython_bin,
            scenario_ref=scenario,
        )
    paths = write_campaign(campaign, out)
    summary = campaign.summary()
    _print_summary(summary)
    counted = (("touchdown speed", "touchdown_runs"), ("delta-v ratio", "delta_v_ratio_runs"))
    for what, n in counted:
        too_few = percentile_warning(summary[n])
        if too_few and summary[n]:
            console.print(f"[yellow]warning:[/] {escape(f'{what}: {too_few}')}", highlight=False)
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
