"""`softland campaign`: the scenario table of docs/scenarios.md, flown and written in one
command (every built-in scenario with the firmware, each baseline on its mission)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from softland.cli.mc import MAX_RUNS, _flying, _int_option, _progress


@click.command("campaign")
@click.argument("names", nargs=-1, metavar="[NAME ...]")
@click.option(
    "--runs", "runs_text", default="200", metavar="N", show_default=True,
    help="Runs per campaign.",
)  # fmt: skip
@click.option(
    "--seed", "seed_text", default="1", metavar="S", show_default=True,
    help="Campaign seed: run i of every campaign flies with seed S + i.",
)  # fmt: skip
@click.option(
    "--workers",
    "workers_text",
    default="1",
    metavar="K",
    show_default=True,
    help="Local worker processes per campaign (0: one per CPU). Results do not depend on it.",
)
@click.option(
    "--runtime",
    default="cpython",
    metavar="[cpython|micropython|micropython32]",
    show_default=True,
    help="Interpreter hosting the firmware.",
)
@click.option(
    "--micropython",
    "micropython_bin",
    default=None,
    help="MicroPython unix-port binary, for the MicroPython runtimes.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("campaigns"),
    show_default=True,
    help="Directory: one sub-directory per campaign (mc's outputs), campaign.md, campaign.json.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAME",
    help="Fly only these: a scenario (its firmware row and baselines) or a campaign such as "
    "ispace-m2-naive. Names after the options count too: --only nominal earth-hopper.",
)
@click.option(
    "--write-docs",
    "docs",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE",
    help="Replace the table between the softland-campaign marker comments of FILE "
    "(docs/scenarios.md).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def campaign_command(
    names: tuple[str, ...],
    runs_text: str,
    seed_text: str,
    workers_text: str,
    runtime: str,
    micropython_bin: str | None,
    out: Path,
    only: tuple[str, ...],
    docs: Path | None,
    quiet: bool,
) -> None:
    """Fly the scenario table: every built-in scenario with the firmware controller, and the
    baselines on the missions they reproduce (ispace-m2 naive, ispace-m1 latching, beresheet
    volatile); write OUT/campaign.md (the Markdown table), OUT/campaign.json and, with
    --write-docs, the table into the docs.

    Each campaign is `softland mc NAME --runs N --seed S` into OUT/NAME. A campaign already
    there with the same runs, seed, runtime and code (the fingerprint of the firmware, the host
    sources, numpy and the MicroPython binary) is not flown again: an interrupted table
    resumes, and a commit that changes neither firmware/ nor host/ keeps the rows. Exits 0
    when the table was written, whatever the success rates.
    """
    from softland.analysis.campaign_table import (
        check_docs,
        render_block,
        render_markdown,
        write_docs,
        write_table,
    )
    from softland.analysis.report import prepare_out_dir
    from softland.boards.runtimes import resolve_runtime
    from softland.simulation.campaigns import (
        Entry,
        Row,
        current_code,
        fly_table,
        select_entries,
        table_entries,
    )
    from softland.simulation.mc import ProgressFn

    # every input checked before the first run flies
    runs = _int_option("--runs", runs_text, 1, MAX_RUNS)
    seed = _int_option("--seed", seed_text, 0)
    workers = _int_option("--workers", workers_text, 0)
    entries = table_entries()
    selected = select_entries(entries, [*only, *names])
    runtime, micropython_bin = resolve_runtime(runtime, micropython_bin)
    if docs is not None:
        check_docs(docs)
    prepare_out_dir(out)
    code = current_code(runtime, micropython_bin)

    console = Console(stderr=True)
    if code.code_changes:
        console.print(
            "[yellow]warning:[/] "
            + escape(
                f"firmware/ or host/ differ from commit {code.short_commit}: the table says so"
            ),
            highlight=False,
            soft_wrap=True,
        )
    with _progress(quiet) as progress:

        def on_start(entry: Entry, index: int, count: int) -> ProgressFn:
            label = f"[{index + 1}/{count}] {entry.name} x{runs}"
            return _flying(progress, label, runs)

        def on_done(r: Row) -> None:
            s = r.summary
            rate = "-" if s["success_rate"] is None else f"{100 * s['success_rate']:.1f} %"
            how = f"flown in {s['wall_time_s']:.0f} s" if r.flown_now else "done already, kept"
            progress.console.print(
                escape(f"{r.entry.name}: success {rate} ({how})"), highlight=False
            )
            if s.get("errors"):
                progress.console.print(
                    "[yellow]warning:[/] "
                    + escape(f"{r.entry.name}: {s['errors']} run(s) raised: {s['first_error']}"),
                    highlight=False,
                    soft_wrap=True,
                )

        try:
            table = fly_table(
                selected,
                out,
                runs,
                seed,
                runtime,
                micropython_bin,
                workers,
                code,
                on_start,
                on_done,
            )
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                escape(
                    f"the campaigns finished are kept in {out}: the same command flies only "
                    "the rest"
                ),
                highlight=False,
                soft_wrap=True,
            )
            raise
    paths = write_table(table, out)
    if docs is not None:
        write_docs(docs, render_block(table))
        paths["docs"] = docs
    click.echo(render_markdown(table), nl=False)
    if table.missing:
        console.print(
            "[yellow]warning:[/] "
            + escape(
                f"{len(table.missing)} of {table.total_entries} campaigns of the table not "
                f"flown with this code yet: {', '.join(e.name for e in table.missing)}"
            ),
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        escape("wrote " + ", ".join(str(p) for p in paths.values())),
        highlight=False,
        soft_wrap=True,
    )
