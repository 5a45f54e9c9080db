"""`softland pil`: the firmware's per-tick cost on the emulated Cortex-M0."""

from __future__ import annotations

import click

from softland.errors import UserError


@click.command("pil")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--clock-mhz",
    type=click.Choice(["16", "125"]),
    default="16",
    show_default=True,
    help="Emulated core clock: instruction time of a 16 MHz Cortex-M0 or a 125 MHz one.",
)
@click.option(
    "--ticks",
    type=int,
    default=400,
    show_default=True,
    help="Ticks of each recorded SIL run replayed on the board (from boot, ARM and START).",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Scenarios to record [default: earth-hopper (LIDAR-Lite) and nominal (LRF)].",
)
@click.option(
    "--image",
    default=None,
    help="The board's MicroPython ELF [default: $SOFTLAND_PIL_FIRMWARE, else shared/pil/].",
)
def pil_command(
    as_json: bool, clock_mhz: str, ticks: int, scenarios: tuple[str, ...], image: str | None
) -> None:
    """Measure each per-tick component on the emulated Cortex-M0 (QEMU), heap locked, and
    check its outputs bit for bit against CPython (not a test: a benchmark)."""
    from softland.analysis.pil import (
        DEFAULT_SCENARIOS,
        format_summary,
        format_table,
        run_pil,
        to_json,
    )

    try:
        result = run_pil(int(clock_mhz), scenarios or DEFAULT_SCENARIOS, ticks, image)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(to_json(result))
        return
    click.echo(format_summary(result))
    click.echo()
    click.echo(format_table(result))
