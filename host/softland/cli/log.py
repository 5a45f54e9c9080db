"""`softland log pull|show|export|plot` and `softland replay` (docs/flightlog.md; registered in
softland.cli). A log with corrupted records: the good ones are used, one line on stderr names
the bad ones (slot index and file offset), and the exit code is 1."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from softland.flightlog.reader import FlightLogData

FORMATS = ("ulog", "csv", "parquet")
SUFFIX = {"ulog": ".ulg", "csv": ".csv", "parquet": ".parquet"}


def _read(path: Path) -> FlightLogData:
    from softland.flightlog.reader import read_flight_log

    return read_flight_log(path)


def _damage_exit(log: FlightLogData) -> None:
    damage = log.damage()
    if damage is not None:
        click.echo(f"warning: {damage}", err=True)
        sys.exit(1)


@click.group("log")
def log_group() -> None:
    """The onboard flight log: pull it off a board, summarise, export, plot."""


@log_group.command("pull")
@click.option("--port", required=True, help="The board's serial port (as mpremote takes it).")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("flight.log"), show_default=True
)
@click.option("--path", "board_path", default="/flight.log", show_default=True,
              help="The log's path on the board.")  # fmt: skip
def pull_command(port: str, out: Path, board_path: str) -> None:
    """Copy the flight log off the board on PORT (over mpremote) and summarise it."""
    from softland.flightlog.pull import pull_log

    size = pull_log(port, out, board_path)
    log = _read(out)
    click.echo(f"pulled {size} bytes to {out}")
    click.echo(log.summary())
    _damage_exit(log)


@log_group.command("show")
@click.argument("log_file", type=click.Path(path_type=Path))
def show_command(log_file: Path) -> None:
    """Summarise LOG_FILE: records, boots, ticks a reset left unlogged, corrupted slots."""
    log = _read(log_file)
    click.echo(log.summary())
    for b in log.boots():
        lost = "" if b.unlogged_ticks is None else f", {b.unlogged_ticks} tick(s) unlogged before"
        click.echo(f"  boot at record {b.seq}{lost}")
    _damage_exit(log)


@log_group.command("export")
@click.argument("log_file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="ulog", show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Default: LOG with the format's suffix."
)
def export_command(log_file: Path, fmt: str, out: Path | None) -> None:
    """Export LOG_FILE as ULog (PlotJuggler, Foxglove, pyulog), CSV or Parquet."""
    from softland.flightlog.export import export

    log = _read(log_file)
    out = out or log_file.with_suffix(SUFFIX[fmt])
    export(log, fmt, out)
    click.echo(f"wrote {out} ({len(log.records)} records, {fmt})")
    _damage_exit(log)


@log_group.command("plot")
@click.argument("log_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Default: LOG with suffix .png.")
def plot_command(log_file: Path, out: Path | None) -> None:
    """Draw LOG_FILE: altitude, velocity, throttle and mode, boots and gaps marked."""
    from softland.flightlog.plot import plot_log

    log = _read(log_file)
    out = out or log_file.with_suffix(".png")
    plot_log(log, out)
    click.echo(f"wrote {out}")
    _damage_exit(log)


@click.command("replay")
@click.argument("log_file", type=click.Path(path_type=Path))
@click.option(
    "--runtime", type=click.Choice(("cpython", "micropython")), default="cpython",
    show_default=True, help="Where the firmware re-runs.",
)  # fmt: skip
@click.option("--micropython", "micropython_bin", help="The MicroPython unix-port binary.")
def replay_command(log_file: Path, runtime: str, micropython_bin: str | None) -> None:
    """Re-run the firmware on the inputs LOG_FILE recorded and compare, tick by tick, with
    what the board logged: exit 0 with no divergence, 1 at the first one (tick, channel,
    logged vs replayed), 2 on a log that cannot be replayed."""
    from softland.flightlog.replay import replay_file

    log = _read(log_file)
    damage = log.damage()
    if damage is not None:
        click.echo(f"warning: {damage}", err=True)
    line = replay_file(log_file, log, runtime, micropython_bin)
    click.echo(line)
    if not line.startswith("no divergence"):
        sys.exit(1)
