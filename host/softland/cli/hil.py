"""`softland hil` (fly a scenario against a board on a serial port) and `softland proxy` (a
fault proxy between host and board), registered in softland.cli."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from softland.boards.faultproxy import UNITS, FaultProxy, FaultRates
from softland.boards.hil import (
    DEFAULT_REPLY_TIMEOUT_S,
    DEFAULT_RETRIES,
    EMULATED_HIL_WAIT_MS,
    LinkSettings,
)
from softland.boards.serialport import DEFAULT_BAUD, SerialRuntime, open_port
from softland.cli.check import AGAINST as CHECK_AGAINST
from softland.cli.sim import exit_on_verdict, print_written
from softland.errors import UserError

console = Console(stderr=True)
EMULATED = "emulated"
EMULATED_BOARDS = ("unix", "qemu_m0")


@contextlib.contextmanager
def _board_runtime(
    port: str, board: str | None, baud: int, clock_mhz: int, micropython: str | None
) -> Iterator[SerialRuntime]:
    """The serial runtime of --port: a device, or with `emulated` the emulator of --board
    started here (the unix port behind a pty, or the emulated Cortex-M0's UART)."""
    if port != EMULATED:
        if board is not None:
            from softland.boards.catalog import load_board

            load_board(board)  # an unknown board is a clear error before the port is opened
        rt = SerialRuntime(open_port(port, baud), f"hil:{board or 'board'}")
        try:
            yield rt
        finally:
            rt.close()
        return
    name = board or "unix"
    if name == "unix":
        from softland.boards.ptyboard import UnixPtyBoard

        with UnixPtyBoard(micropython) as pty:
            rt = SerialRuntime(open_port(pty.path or "", baud), "hil:unix")
            try:
                yield rt
            finally:
                rt.close()
        return
    if name == "qemu_m0":
        from softland.boards.emuboard import EmulatedBoard

        with EmulatedBoard(clock_mhz=clock_mhz) as emu:
            try:
                serial_port = emu.start_link(wait_ms=EMULATED_HIL_WAIT_MS)
            except RuntimeError as exc:
                raise UserError(f"the emulated Cortex-M0 did not start the link: {exc}") from None
            rt = SerialRuntime(serial_port, f"hil:qemu_m0@{clock_mhz}MHz")
            try:
                yield rt
            finally:
                rt.close()
        return
    raise UserError(
        f"--port {EMULATED}: no emulator for board '{name}' (use --board "
        f"{' or '.join(EMULATED_BOARDS)})"
    )


@click.command("hil")
@click.argument("scenario", default="nominal")
@click.option(
    "--port",
    required=True,
    help="The board's serial port (/dev/ttyACM0, COM3, a pty), or `emulated`: start the "
    "emulator of --board here (unix: the MicroPython unix port behind a pty; qemu_m0: the "
    "emulated Cortex-M0, its UART).",
)
@click.option(
    "--board",
    default=None,
    help="The board (boards/NAME.toml); with --port emulated: unix [default] or qemu_m0.",
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
    help="Directory for the run's outputs, as `softland sim` (docs/outputs.md).",
)
@click.option(
    "--realtime",
    is_flag=True,
    help="Pace the ticks at the scenario's rate by the wall clock and report whether the "
    "board kept up (late ticks, worst lateness) [default: lockstep, as fast as it answers].",
)
@click.option(
    "--nominal",
    "undispersed",
    is_flag=True,
    help="Fly the scenario's nominal values, not the dispersed run of this seed.",
)
@click.option(
    "--controller",
    type=click.Choice(["firmware", "naive", "latching", "volatile"]),
    default="firmware",
    show_default=True,
    help="softland's flight logic, or a mission baseline (as `softland sim`).",
)
@click.option(
    "--reply-timeout",
    type=float,
    default=DEFAULT_REPLY_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for each expected frame before sending the last frame again.",
)
@click.option(
    "--retries",
    type=int,
    default=DEFAULT_RETRIES,
    show_default=True,
    help="Retransmissions per expected frame. A board silent for (retries + 1) x "
    "reply-timeout (4 s by default) ends the run with the outcome link_lost.",
)
@click.option("--baud", type=int, default=DEFAULT_BAUD, show_default=True)
@click.option(
    "--clock-mhz",
    type=click.Choice(["16", "125"]),
    default="16",
    show_default=True,
    help="--board qemu_m0 --port emulated: the emulated core's clock.",
)
@click.option("--micropython", "micropython_bin", default=None, help="Unix-port binary.")
@click.option(
    "--live",
    "live_url",
    default=None,
    metavar="udp://HOST:PORT",
    help="Stream each telemetry frame and event as JSON over UDP (docs/live.md).",
)
@click.option(
    "--mavlink",
    "mavlink_url",
    default=None,
    metavar="udp://HOST:PORT",
    help="Stream the run as MAVLink 2 over UDP (pip install 'softland[live]').",
)
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
@click.option("--quiet", is_flag=True, help="No progress line.")
def hil_command(
    scenario: str,
    port: str,
    board: str | None,
    seed: int | None,
    out: Path,
    realtime: bool,
    undispersed: bool,
    controller: str,
    reply_timeout: float,
    retries: int,
    baud: int,
    clock_mhz: str,
    micropython_bin: str | None,
    live_url: str | None,
    mavlink_url: str | None,
    check_run: bool,
    check_against: str,
    quiet: bool,
) -> None:
    """Fly SCENARIO against the firmware on a board over a serial port (hardware in the loop):
    the host's dynamics and sensor models (the LIDAR-Lite answering the board's driver over the
    link) against the board, each frame guarded by SEQ and CRC, lost frames retried. The same
    outputs as `softland sim`, plus link statistics in summary.json ("link")."""
    from softland.analysis.live import open_live_view, scenario_live_config
    from softland.analysis.report import prepare_out_dir, write_outputs
    from softland.boards.hil import check_hil_scenario, run_hil
    from softland.simulation.dispersions import dispersed_run
    from softland.simulation.scenario import load_scenario

    s = load_scenario(scenario)
    if not undispersed:
        s = dispersed_run(s, seed)
    check_hil_scenario(s)
    settings = LinkSettings(reply_timeout_s=reply_timeout, retries=retries, realtime=realtime)
    prepare_out_dir(out)
    live = open_live_view(live_url, mavlink_url, scenario_live_config(s))
    started = time.monotonic()
    last_print = [0.0]

    def on_tick(t_s: float, altitude_m: float) -> None:
        now = time.monotonic()
        if not quiet and now - last_print[0] >= 1.0:
            last_print[0] = now
            console.print(f"{s.name}: t {t_s:7.2f} s, altitude {altitude_m:9.1f} m", end="\r")

    try:
        with _board_runtime(port, board, baud, int(clock_mhz), micropython_bin) as rt:
            result = run_hil(
                s,
                rt,
                seed=seed,
                controller=controller,
                settings=settings,
                on_tick=on_tick,
                board=board or ("unix" if port == EMULATED else ""),
                live=live,
            )
    finally:
        if live is not None:
            live.close()
    result.summary["wall_time_s"] = round(time.monotonic() - started, 3)
    paths = write_outputs(result, out)
    _print_summary(result.summary)
    print_written(paths, live)
    if result.summary["outcome"] == "link_lost":
        reason = result.summary["link"].get("lost_reason", "")
        raise RuntimeError(f"link lost: {reason}; everything up to then is in {out}")
    exit_on_verdict(out, result.summary["passed"], check_run, check_against)


def _print_summary(summary: dict) -> None:
    table = Table(title="softland hil", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):
            continue
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        table.add_row(key, text)
    link = summary.get("link", {})
    for key, value in link.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        table.add_row(f"link.{key}", str(value))
    Console().print(table)


@click.command("proxy")
@click.option("--port", required=True, help="The board's serial port (or pty).")
@click.option("--drop", type=float, default=0.0, show_default=True, help="Drop rate per unit.")
@click.option("--corrupt", type=float, default=0.0, show_default=True, help="Bit-flip rate.")
@click.option("--dup", type=float, default=0.0, show_default=True, help="Duplication rate.")
@click.option("--delay", type=float, default=0.0, show_default=True, help="Delay rate.")
@click.option("--delay-ms", type=float, default=0.0, show_default=True, help="Delay length.")
@click.option("--unit", type=click.Choice(UNITS), default="frame", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--baud", type=int, default=DEFAULT_BAUD, show_default=True)
@click.option("--seconds", type=float, default=0.0, help="Stop after this long [default: ^C].")
def proxy_command(
    port: str,
    drop: float,
    corrupt: float,
    dup: float,
    delay: float,
    delay_ms: float,
    unit: str,
    seed: int,
    baud: int,
    seconds: float,
) -> None:
    """Relay the link between a new pty and the board's PORT, dropping, corrupting, delaying
    and duplicating frames (or bytes) at set rates, seeded; prints the pty to give
    `softland hil --port`, and on exit (^C) what it did to each direction."""
    rates = FaultRates(
        drop=drop, corrupt=corrupt, dup=dup, delay=delay, delay_ms=delay_ms, unit=unit
    )
    proxy = FaultProxy(port, rates, seed=seed, baud=baud)
    path = proxy.start()
    click.echo(path, nl=True)
    sys.stdout.flush()
    try:
        deadline = time.monotonic() + seconds if seconds > 0 else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        for direction, counts in proxy.counters().items():
            text = ", ".join(f"{k} {v}" for k, v in counts.items())
            click.echo(f"{direction}: {text}", err=True)
