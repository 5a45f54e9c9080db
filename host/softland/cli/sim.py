"""`softland sim`, `softland scenarios` and `softland bench`: fly one scenario, list the
built-in ones, measure SIL speed (registered in softland.cli)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from softland.boards.runtimes import RUNTIME_NAMES
from softland.cli.check import AGAINST as CHECK_AGAINST
from softland.simulation.scenario import builtin_names, load_scenario

console = Console(stderr=True)


@click.command("sim")
@click.argument("scenario", default="nominal")
@click.option(
    "--runtime",
    type=click.Choice(RUNTIME_NAMES),
    default=None,
    help="Interpreter hosting the firmware [default: micropython; cpython, with a warning, "
    "where the MicroPython unix port is not installed]; micropython32 is the 32-bit unix port "
    "(31-bit small ints, as on a board).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Random seed, 0 or more [default: the scenario's].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Directory for summary.json, telemetry.csv, events.json, descent.png, report.html "
    "(docs/outputs.md).",
)
@click.option(
    "--micropython",
    "micropython_bin",
    default=None,
    help="MicroPython unix-port binary [default: $SOFTLAND_MICROPYTHON or `micropython`; "
    "with --runtime micropython32: $SOFTLAND_MICROPYTHON32 or shared/pil/].",
)
@click.option(
    "--controller",
    type=click.Choice(["firmware", "naive", "latching", "volatile"]),
    default="firmware",
    show_default=True,
    help="softland's flight logic, or a baseline with a mission's flawed logic: naive brakes "
    "only on a valid range (Mission 2), latching excludes the rangefinder for good (Mission 1), "
    "volatile keeps no state across a reset (Beresheet).",
)
@click.option(
    "--nominal",
    "undispersed",
    is_flag=True,
    help="Fly the scenario's nominal values; without it a scenario with [dispersions] flies "
    "the dispersed run of this seed (the same run as `softland mc` row with that seed).",
)
@click.option(
    "--live",
    "live_url",
    metavar="udp://HOST:PORT",
    default=None,
    help="Stream every telemetry frame and event as JSON over UDP as it flies "
    "(PlotJuggler's UDP server; docs/live.md).",
)
@click.option(
    "--mavlink",
    "mavlink_url",
    metavar="udp://HOST:PORT",
    default=None,
    help="Stream the run as MAVLink 2 over UDP (QGroundControl; needs pymavlink: "
    "pip install 'softland[live]').",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--check",
    "check_run",
    is_flag=True,
    help="After the flight, `softland check` the run directory (exit 1 when a bound breaks).",
)
@click.option(
    "--check-against",
    type=click.Choice(CHECK_AGAINST),
    default="reference",
    show_default=True,
    help="What --check compares the telemetry with.",
)
def sim_command(
    scenario: str,
    runtime: str | None,
    seed: int | None,
    out: Path,
    micropython_bin: str | None,
    controller: str,
    undispersed: bool,
    live_url: str | None,
    mavlink_url: str | None,
    quiet: bool,
    check_run: bool,
    check_against: str,
) -> None:
    """Fly SCENARIO (a built-in name or a .toml file) with the firmware in the loop."""
    from softland.analysis.live import open_live_view, scenario_live_config
    from softland.analysis.report import prepare_out_dir, write_outputs
    from softland.boards.runtimes import resolve_runtime
    from softland.simulation.dispersions import dispersed_run
    from softland.simulation.sim import run_scenario

    s = load_scenario(scenario)
    if not undispersed:
        s = dispersed_run(s, seed)
    prepare_out_dir(out)
    # a fresh flight log per run (a board's log would append; a run directory holds one flight)
    (out / "flight.log").unlink(missing_ok=True)
    live = open_live_view(live_url, mavlink_url, scenario_live_config(s))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        runtime, binary = resolve_runtime(runtime, micropython_bin)
        micropython_bin = binary
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[alt]:>8.1f} m"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
        )
        with progress:
            task = progress.add_task(f"{s.name}", total=s.initial.altitude_m, alt=0.0)

            def on_tick(t_s: float, altitude_m: float) -> None:
                done = max(s.initial.altitude_m - altitude_m, 0.0)
                progress.update(task, completed=done, alt=altitude_m)

            try:
                result = run_scenario(
                    s,
                    runtime,
                    seed=seed,
                    micropython=micropython_bin,
                    on_tick=on_tick,
                    controller=controller,
                    live=live,
                    flightlog=out / "flight.log",
                )
            finally:
                if live is not None:
                    live.close()
        for w in caught:
            console.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)
    paths = write_outputs(result, out)
    if (out / "flight.log").is_file():
        paths["flightlog"] = out / "flight.log"  # written by the firmware itself during the run
    _print_summary(result.summary)
    print_written(paths, live)
    exit_on_verdict(out, result.summary["passed"], check_run, check_against)


def print_written(paths: dict[str, Path], live: Any) -> None:
    """The files a run wrote, and the live view's counters (sim and hil alike)."""
    console.print(escape("wrote " + ", ".join(str(p) for p in paths.values())), highlight=False)
    if live is not None:
        console.print(escape(live.stats()), highlight=False, soft_wrap=True)


def exit_on_verdict(out: Path, passed: bool, check_run: bool, check_against: str) -> None:
    """With --check, `softland check` the run directory; exit 1 when the run failed its
    criteria or a bound broke (sim and hil alike)."""
    checked_ok = True
    if check_run:
        from softland.cli.check import run_check

        checked_ok = run_check(out, check_against).ok
    if not passed or not checked_ok:
        sys.exit(1)


def _print_summary(summary: dict) -> None:
    from softland.analysis.html_report import quantity_label

    table = Table(title="softland sim", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, float):
            text = f"{value:.4f}"
        else:
            text = str(value)
        if key == "outcome":
            text = f"[bold {'green' if value == 'landed' else 'red'}]{text}[/]"
        table.add_row(escape(quantity_label(key)), text)
    Console().print(table)


@click.command("scenarios")
def scenarios_command() -> None:
    """List the built-in scenarios, one line each."""
    for name in builtin_names():
        s = load_scenario(name)
        click.echo(f"{name:20s} {s.description}")


@click.command("bench")
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Closed-loop runs per runtime.",
)
@click.option(
    "--runtime",
    "runtimes",
    multiple=True,
    type=click.Choice(RUNTIME_NAMES),
    help="Runtimes to measure [default: all; micropython32 where its binary is found].",
)
@click.option(
    "--mc-runs",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Dispersed runs of the nominal Monte Carlo campaign flown on one core under CPython "
    "(runs/s/core, best of --repeats); 0 leaves it out.",
)
def bench_command(repeats: int, runtimes: tuple[str, ...], mc_runs: int) -> None:
    """Measure SIL ticks per second under each runtime and Monte Carlo runs per second on one
    core (not a test: figures vary by machine)."""
    from softland.analysis.bench import (
        default_runtimes,
        format_mc,
        format_result,
        machine_name,
        monte_carlo,
        run_bench,
    )

    click.echo(f"machine: {machine_name()}")
    if not runtimes:
        runtimes, note = default_runtimes()
        if note:
            click.echo(note)
    for r in run_bench(runtimes, repeats=repeats):
        click.echo(format_result(r))
    if mc_runs:
        click.echo(format_mc(monte_carlo("cpython", mc_runs, repeats=repeats)))
