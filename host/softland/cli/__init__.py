"""The `softland` command line: the click group `cli` and `main` (the console script and
`python -m softland.cli`), one module per command family (sim: sim, scenarios, bench; mc;
campaign; flash: flash, install-runtime, boards; pil; listen; drop: capture, analyze; check;
hil: hil, proxy; log: show, export, plot, pull, and replay)."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape

from softland.cli.campaign import campaign_command
from softland.cli.check import check_command
from softland.cli.drop import drop_group
from softland.cli.flash import boards_command, flash_command, install_runtime_command
from softland.cli.hil import hil_command, proxy_command
from softland.cli.listen import listen_command
from softland.cli.log import log_group, replay_command
from softland.cli.mc import mc_command
from softland.cli.pil import pil_command
from softland.cli.sim import bench_command, scenarios_command, sim_command
from softland.errors import UserError

console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    # the message is text, not markup: "missing section [vehicle]" keeps its brackets
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="softland")
def cli() -> None:
    """softland: LIDAR-guided soft-landing flight software, and the rig that proves it."""


cli.add_command(sim_command)
cli.add_command(scenarios_command)
cli.add_command(bench_command)
cli.add_command(flash_command)
cli.add_command(install_runtime_command)
cli.add_command(boards_command)
cli.add_command(mc_command)
cli.add_command(campaign_command)
cli.add_command(pil_command)
cli.add_command(listen_command)
cli.add_command(drop_group)
cli.add_command(check_command)
cli.add_command(hil_command)
cli.add_command(proxy_command)
cli.add_command(log_group)
cli.add_command(replay_command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UserError as exc:
        _fail(str(exc))
    except RuntimeError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
