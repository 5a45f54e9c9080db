"""`softland check RUN_DIR`: replay a run's recorded inputs through the reference model (or
the firmware under CPython) and compare every telemetry value (registered in softland.cli)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from softland.analysis.check import CheckReport

# what a run is checked against (softland.analysis.check.AGAINST; not imported here so that
# the CLI starts without loading the replay)
AGAINST = ("reference", "cpython")


@click.command("check")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--against",
    type=click.Choice(AGAINST),
    default="reference",
    show_default=True,
    help="reference: the float64 model within the declared bounds; cpython: the firmware "
    "itself under CPython, bit-exact.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON on stdout.")
def check_command(run_dir: Path, against: str, as_json: bool) -> None:
    """Check every telemetry value of RUN_DIR (written by `softland sim` or `softland hil`):
    exit 0 when all are within their bounds and every decision agrees, 1 when not."""
    report = run_check(run_dir, against, as_json)
    if not report.ok:
        sys.exit(1)


def run_check(run_dir: Path, against: str, as_json: bool = False) -> CheckReport:
    """Check and print; the report (for `sim --check` and `hil --check`)."""
    from softland.analysis.check import check_run, format_report, report_json

    report = check_run(run_dir, against)
    click.echo(report_json(report) if as_json else format_report(report))
    return report
