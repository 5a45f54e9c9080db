"""Installing a board's runtime: MicroPython through mpflash, CircuitPython's libraries through
circup (`softland install-runtime`).

MicroPython (a board file with ``mpflash_board``): ``mpflash download`` fetches the firmware
image from micropython.org (the network), then ``mpflash flash`` writes it to the board on the
serial port, which must already run a MicroPython (a blank board gets its first image by hand:
`manual_hint`). CircuitPython (``circuitpython_board``): installing CircuitPython itself is a
UF2 copy the user does; ``circup --path DRIVE install`` puts the libraries the firmware's
LIDAR-Lite tools use onto the CIRCUITPY drive, from the Adafruit bundle on GitHub (the
network).

The tools run for real, as subprocesses found beside this Python or on PATH. What was found
trying them (mpflash 1.29.0, circup 3.1.0) without a network: ``mpflash download`` prints
"Could not connect to micropython.org" and still exits 0, so its output is read for its error
marker; ``circup install`` exits 1 with requests' ConnectionError for github.com.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from softland.boards.catalog import Board
from softland.errors import UserError

# What the firmware's LIDAR-Lite bring-up tools import on CircuitPython (docs/board-feather.md)
CIRCUITPYTHON_LIBRARIES = ("adafruit_lidarlite", "adafruit_bus_device")
MICROPYTHON_DOWNLOADS = "https://micropython.org/download/{board}/"
CIRCUITPYTHON_DOWNLOADS = "https://circuitpython.org/board/{board}/"
TOOL_TIMEOUT_S = 600.0
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")
_BOX = "│╭╮╰╯─ "
_INSTALL_HINTS = {
    "mpflash": "pip install mpflash (or pip install -e '.[runtime]' in the softland checkout)",
    "circup": "pip install circup (or pip install -e '.[runtime]' in the softland checkout)",
}

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Step:
    """One tool run: its command line (argv[0] the tool's name) and what it does."""

    argv: tuple[str, ...]
    what: str
    network: str = ""  # the host it downloads from ("" when it needs no network)


@dataclass
class InstallPlan:
    """What `softland install-runtime` runs for a board, in order, and what it cannot do."""

    board: str
    runtime: str
    target: str  # the serial port or CIRCUITPY drive
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user does by hand


def manual_hint(board: Board) -> str:
    """One line on installing the runtime itself by hand."""
    if board.runtime == "circuitpython":
        url = CIRCUITPYTHON_DOWNLOADS.format(board=board.circuitpython_board or "BOARD_ID")
        return (
            f"CircuitPython itself is installed by hand: double-tap RESET and copy the .uf2 "
            f"from {url} onto the boot drive"
        )
    url = MICROPYTHON_DOWNLOADS.format(board=board.mpflash_board or "BOARD_ID")
    how = (
        "hold BOOTSEL while plugging in and copy the .uf2 onto the RPI-RP2 drive"
        if board.mpflash_board.startswith("RPI_PICO")
        else "follow the instructions there"
    )
    return f"a board without MicroPython yet gets its first image by hand: {url} ({how})"


def _check_version(board: Board, version: str | None) -> str | None:
    """The version asked for, checked against the board file's min_version (None: latest)."""
    if version is None or version in ("stable", "preview"):
        return version
    match = _VERSION_RE.match(version)
    if match is None:
        raise UserError(
            f"--version {version!r}: expected a release like 1.24 or 1.24.1, or stable/preview"
        )
    asked = tuple(int(part) for part in match.groups() if part is not None)
    if asked < board.min_version_tuple:
        raise UserError(
            f"--version {version}: board '{board.name}' needs {board.runtime} "
            f">= {board.min_version}"
        )
    return version.removeprefix("v")


def plan_install(board: Board, target: str, version: str | None = None) -> InstallPlan:
    """The tool runs that install `board`'s runtime on `target` (serial port or drive)."""
    version = _check_version(board, version)
    plan = InstallPlan(board=board.name, runtime=board.runtime, target=target)
    if board.runtime == "micropython":
        if not board.mpflash_board:
            raise UserError(
                f"board '{board.name}' has no mpflash_board in its board file "
                f"({board.path or board.name}): softland cannot install its MicroPython"
            )
        mp_version = version or "stable"
        which = ["--board", board.mpflash_board, "--version", mp_version]
        plan.steps.append(
            Step(
                ("mpflash", "--no-interactive", "download", *which),
                f"download MicroPython {mp_version} for {board.mpflash_board}",
                network="micropython.org",
            )
        )
        plan.steps.append(
            Step(
                ("mpflash", "--no-interactive", "flash", *which, "--serial", target),
                f"flash it onto the board on {target}",
            )
        )
        plan.notes.append(manual_hint(board))
        return plan
    drive = Path(target)
    if not drive.is_dir():
        raise UserError(f"{target} is not a directory: give the mounted CIRCUITPY drive")
    argv = ["circup", "--path", str(drive)]
    if version is not None:
        if not board.circuitpython_board:
            raise UserError(
                f"--version: board '{board.name}' has no circuitpython_board in its board file, "
                "which circup needs with a version"
            )
        argv += ["--board-id", board.circuitpython_board, "--cpy-version", version]
    elif not (drive / "boot_out.txt").is_file():
        raise UserError(
            f"{drive} has no boot_out.txt, which circup reads the CircuitPython version from: "
            "is CircuitPython running there? (or give --version)"
        )
    plan.steps.append(
        Step(
            (*argv, "install", *CIRCUITPYTHON_LIBRARIES),
            f"install {', '.join(CIRCUITPYTHON_LIBRARIES)} onto {drive}",
            network="github.com, the Adafruit library bundle",
        )
    )
    plan.notes.append(manual_hint(board))
    return plan


def tool_path(name: str) -> str:
    """The tool's executable: beside this Python first (its virtualenv), then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise UserError(
            f"{name} is not installed (not beside {sys.executable} nor on PATH): "
            f"{_INSTALL_HINTS.get(name, 'pip install ' + name)}"
        )
    return found


def run_tool(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a tool to the end, its output captured (wide, so rich does not wrap lines)."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=TOOL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise UserError(f"{argv[0]}: no end within {TOOL_TIMEOUT_S:g} s") from None
    except OSError as e:
        raise UserError(f"cannot run {argv[0]}: {e.strerror or e}") from None


def tool_error(output: str) -> str | None:
    """The error a tool reported in its output, as one line (None: it reported none).

    mpflash logs errors as ``HH:MM:SS | ❌ message`` (and may exit 0 anyway); click/rich usage
    errors come in a box headed ``Error``."""
    lines = [line.strip().strip("│").strip() for line in output.splitlines()]
    marked = [line.split("❌", 1)[1].strip() for line in lines if "❌" in line]
    if marked:
        return marked[-1]
    for i, line in enumerate(lines):
        if line.startswith("╭─ Error"):
            body: list[str] = []
            for inner in lines[i + 1 :]:
                if inner.startswith("╰"):
                    break
                body.append(inner)
            return " ".join(part for part in body if part) or None
    return None


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip(_BOX + "\t")]
    return lines[-1] if lines else "no message"


def run_plan(plan: InstallPlan, runner: Runner = run_tool) -> list[Step]:
    """Run the plan's steps in order; the first that fails is one UserError. Returns the
    steps run."""
    tools = {step.argv[0]: tool_path(step.argv[0]) for step in plan.steps}  # all, up front
    done: list[Step] = []
    for step in plan.steps:
        argv = [tools[step.argv[0]], *step.argv[1:]]
        result = runner(argv)
        output = f"{result.stdout or ''}\n{result.stderr or ''}"
        reported = tool_error(output)
        if result.returncode != 0 or reported is not None:
            message = reported or _last_line(output)
            network = f"; it needs the network ({step.network})" if step.network else ""
            raise UserError(
                f"{step.argv[0]} failed to {step.what} (exit {result.returncode}): "
                f"{message}{network}"
            )
        done.append(step)
    return done
