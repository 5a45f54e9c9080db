"""`softland flash`, `softland install-runtime` and `softland boards`: click commands,
registered in the main CLI group."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from softland.boards.catalog import Board, list_boards, load_board
from softland.boards.detect import resolve_port
from softland.boards.flash import FlashReport, firmware_dir, flash
from softland.boards.runtime_install import manual_hint, plan_install, run_plan
from softland.errors import UserError


def _print_report(report: FlashReport, verbose: bool) -> None:
    if report.dry_run:
        version = f" (version {report.version})" if report.version else ""
        click.echo(f"dry run: would install {len(report.files)} files{version} on {report.port}:")
        for name in report.files:
            state = " (up to date)" if name in report.unchanged else ""
            click.echo(f"  {name}{state}")
        for name in report.removed:
            click.echo(f"  remove {name}")
        if report.compiled:
            click.echo("  (.mpy files are compiled into a temporary directory per run)")
        if report.version:
            click.echo(
                "  then: ask the board which version it runs, upload into its inactive slot, "
                "verify every SHA-256 there, switch (docs/flashing.md)"
            )
        for argv in report.commands:
            shown = list(argv)
            for i, arg in enumerate(shown[:-1]):
                if arg == "exec":  # a board-side script
                    shown[i + 1] = "<script>"
            click.echo("  $ " + shlex.join(shown))
        return
    if verbose:
        for name in report.files:
            click.echo(f"  {'unchanged' if name in report.unchanged else 'copied   '} {name}")
        for name in report.removed:
            click.echo(f"  removed   {name}")
    what = ".mpy + .py" if report.compiled else ".py"
    if report.mpy:
        what += f", the board loads .mpy {report.mpy}"
    if report.rolled_back:
        click.echo(f"note: the board had rolled back from version {report.rolled_back}")
    if report.version is None:  # a drive: plain copies
        click.echo(
            f"flashed board '{report.board}' on {report.port}: {len(report.copied)} files "
            f"copied, {len(report.unchanged)} unchanged, {len(report.removed)} stale removed "
            f"({what})"
        )
    elif report.before == report.version:
        mended = f", {len(report.repaired)} damaged files repaired" if report.repaired else ""
        click.echo(
            f"board '{report.board}' on {report.port} already runs version {report.version} "
            f"(fw/{report.slot}){mended} ({what})"
        )
    else:
        kept = (
            f"; version {report.previous_version} kept for rollback"
            if report.previous_version
            else ""
        )
        click.echo(
            f"flashed board '{report.board}' on {report.port}: version {report.version} active "
            f"in fw/{report.slot} ({len(report.copied)} files copied, {len(report.unchanged)} "
            f"unchanged, {what}){kept}"
        )
    if report.ran:
        click.echo("board reset: the new firmware is running")


def _port(port: str | None, board: Board) -> str:
    """PORT as given, or found (no PORT or "auto"): a note on stderr says what was found."""
    if port not in (None, "", "auto"):
        assert port is not None
        if not Path(port).exists() and port in {b.name for b in list_boards()}:
            raise UserError(
                f"'{port}' is a board name, not a port: run `softland flash PORT --board {port}` "
                f"(PORT like /dev/ttyACM0, a0, or none to find it by USB id)"
            )
    found, note = resolve_port(port, board)
    if note:
        click.echo(note, err=True)
    return found


@click.command("flash")
@click.argument("port", required=False)
@click.option(
    "--board",
    "board_name",
    default="pico",
    show_default=True,
    help="Board name (see `softland boards`) or path to a board .toml file.",
)
@click.option("--mpy", is_flag=True, help="Compile fsw/ modules to .mpy with mpy-cross.")
@click.option("--no-run", is_flag=True, help="Copy only; do not reset the board afterwards.")
@click.option(
    "--resume",
    is_flag=True,
    help="Do not soft-reset on connect (mpremote `resume`): needed for the MicroPython unix "
    "port behind a pty.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be copied; touch nothing.")
@click.option(
    "--firmware",
    "firmware_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Firmware directory (default: the checkout's firmware/, or $SOFTLAND_FIRMWARE).",
)
@click.option(
    "--mode",
    type=click.Choice(["link", "board"]),
    default=None,
    help="What the board runs at boot: the host link (SIL/HIL), or the flight standalone on "
    "its own clock, bus and ESC [default: the board file's mode, link unless it says board].",
)
@click.option("-v", "--verbose", is_flag=True, help="List every file.")
def flash_command(
    port: str | None,
    board_name: str,
    mpy: bool,
    no_run: bool,
    resume: bool,
    dry_run: bool,
    firmware_path: Path | None,
    mode: str | None,
    verbose: bool,
) -> None:
    """Copy the firmware to the board on PORT and reset it.

    PORT is a serial device (/dev/ttyACM0, COM3), an mpremote shortcut (a0, u0, c0), or for
    CircuitPython boards the mounted CIRCUITPY drive. Without PORT (or with "auto") the serial
    port whose USB id is in the board file, or the mounted CIRCUITPY drive, is used.
    """
    try:
        board = load_board(board_name)
        port = _port(port, board)
        root = firmware_path if firmware_path is not None else firmware_dir()
        report = flash(
            port,
            root,
            board,
            compile_mpy=mpy,
            run=not no_run,
            dry_run=dry_run,
            soft_reset=not resume,
            mode=mode,
        )
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    _print_report(report, verbose)


@click.command("install-runtime")
@click.argument("port", required=False)
@click.option(
    "--board",
    "board_name",
    default="pico",
    show_default=True,
    help="Board name (see `softland boards`) or path to a board .toml file.",
)
@click.option(
    "--version",
    "version",
    default=None,
    help="MicroPython release to flash (1.24.1, stable, preview) [default: stable]; for "
    "CircuitPython boards the release the drive runs (else circup reads boot_out.txt).",
)
@click.option("--dry-run", is_flag=True, help="Print the commands; run nothing.")
def install_runtime_command(
    port: str | None, board_name: str, version: str | None, dry_run: bool
) -> None:
    """Install the board's runtime: MicroPython through mpflash onto the board on PORT, or
    CircuitPython's libraries through circup onto the CIRCUITPY drive PORT.

    Both tools download (micropython.org, github.com): they need the network. Without PORT
    (or with "auto") the port is found as `softland flash` finds it.
    """
    try:
        board = load_board(board_name)
        try:
            target = _port(port, board)
        except UserError as e:
            raise UserError(f"{e}; {manual_hint(board)}") from None
        plan = plan_install(board, target, version)
        if dry_run:
            click.echo(f"dry run: would install the {plan.runtime} runtime of '{plan.board}':")
            for step in plan.steps:
                network = f" (network: {step.network})" if step.network else ""
                click.echo(f"  $ {shlex.join(step.argv)}")
                click.echo(f"    {step.what}{network}")
            for note in plan.notes:
                click.echo(f"  note: {note}")
            return
        for note in plan.notes:
            click.echo(f"note: {note}", err=True)
        for step in run_plan(plan):
            click.echo(f"done: {step.what}")
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    click.echo(f"next: softland flash {shlex.quote(plan.target)} --board {board.name}")


@click.command("boards")
def boards_command() -> None:
    """List the supported boards, one per line."""
    try:
        boards = list_boards()
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    for board in boards:
        click.echo(board.summary())
