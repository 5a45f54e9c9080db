"""Versioned flashing (docs/flashing.md) against the MicroPython unix port behind a pty: every
file hashed on the board, the switch atomic, the loader rolling back a version that does not
start, and a transfer killed anywhere leaving a board that boots one whole version.

A "boot" runs the board folder's main.py (the loader) in a fresh unix port process, as a
power-up would; the fake firmware's modules each say which version they belong to.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_flash import _micropython, unix_port_repl

from softland.boards.catalog import load_board
from softland.boards.flash import _check_mpy_target, flash
from softland.boards.slots import LOADER, BoardInfo, BoardState
from softland.errors import UserError

REPO = Path(__file__).resolve().parents[1]
UNIX = load_board("unix")

# The firmware confirms the way firmware/main.py does: once it has imported everything.
MAIN = """\
import fsw, fsw.x, hal.y
import __main__
print('main', fsw.V, fsw.x.V, hal.y.V)
c = getattr(__main__, 'softland_confirm', None)
if c is not None:
    c()
"""


RAISE = "raise RuntimeError('no start')\n"


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(pty, board folder) of a unix port REPL standing in for a board."""
    fs = tmp_path / "boardfs"
    fs.mkdir()
    with unix_port_repl(fs, tmp_path / "ttyV0", tmp_path / "socat.log") as port:
        yield port, fs


def _write_version(root: Path, tag: str, *, broken: bool = False, filler: int = 0) -> None:
    """A fake firmware whose every module says `tag` (`broken`: raises at import)."""
    if root.exists():
        shutil.rmtree(root)
    files = {
        "fsw/__init__.py": f"V = {tag!r}\n"
        + ("raise RuntimeError('no start')\n" if broken else ""),
        "fsw/x.py": f"V = {tag!r}\n" + f"# {tag * filler}\n",
        "hal/__init__.py": "",
        "hal/y.py": f"V = {tag!r}\n" + f"# {tag * filler}\n",
        "main.py": MAIN,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _boot(fs: Path) -> subprocess.CompletedProcess[str]:
    micropython = _micropython()
    assert micropython is not None
    return subprocess.run(
        [micropython, "main.py"], cwd=fs, capture_output=True, text=True, timeout=20
    )


def _answer(fs: Path) -> str:
    """Which version a boot runs: the tag all its modules agree on ('mix' if they do not)."""
    out = _boot(fs)
    lines = [line.split() for line in out.stdout.splitlines() if line.startswith("main ")]
    assert lines, out.stdout + out.stderr
    tags = set(lines[-1][1:])
    return tags.pop() if len(tags) == 1 else "mix"


def _state(fs: Path) -> BoardState:
    state = BoardState.parse((fs / "fw/state").read_text())
    assert state is not None
    return state


def _flash(port: str, firmware: Path, **kw: object) -> object:
    return flash(port, firmware, UNIX, run=False, soft_reset=False, **kw)  # type: ignore[arg-type]


def test_a_second_flash_copies_nothing_and_changes_nothing(
    board: tuple[str, Path], tmp_path: Path
) -> None:
    port, fs = board
    _write_version(tmp_path / "v1", "v1")
    first = _flash(port, tmp_path / "v1")
    assert _answer(fs) == "v1" and _state(fs).confirmed
    before = {p: p.stat().st_mtime_ns for p in fs.rglob("*") if p.is_file()}
    second = _flash(port, tmp_path / "v1")
    assert second.copied == [] and second.repaired == [] and second.removed == []  # type: ignore[attr-defined]
    assert second.version == second.before == first.version  # type: ignore[attr-defined]
    assert {p: p.stat().st_mtime_ns for p in fs.rglob("*") if p.is_file()} == before


def test_a_corrupted_file_on_the_board_is_found_by_hash_and_repaired(
    board: tuple[str, Path], tmp_path: Path
) -> None:
    port, fs = board
    _write_version(tmp_path / "v0", "v0")
    _write_version(tmp_path / "v1", "v1")
    _flash(port, tmp_path / "v0")
    report = _flash(port, tmp_path / "v1")
    good = (fs / "fw/b/fsw/x.py").read_bytes()
    (fs / "fw/b/fsw/x.py").write_bytes(good[:5])  # a write cut short, same size class
    (fs / "fw/b/fsw/stray.py").write_text("V = 'stray'\n")
    mended = _flash(port, tmp_path / "v1")
    assert mended.repaired == ["fsw/x.py"]  # type: ignore[attr-defined]
    assert mended.copied == ["fsw/x.py"] and mended.removed == ["fsw/stray.py"]  # type: ignore[attr-defined]
    assert (fs / "fw/b/fsw/x.py").read_bytes() == good
    assert not (fs / "fw/b/fsw/x.py.new").exists()
    # mended in place: the same version, the previous one still there to go back to
    state = _state(fs)
    assert (state.active, state.version) == ("b", report.version)  # type: ignore[attr-defined]
    assert state.previous == "a" and state.previous_version == report.before  # type: ignore[attr-defined]
    assert _answer(fs) == "v1"


def test_a_version_that_fails_to_start_is_rolled_back_after_three_boots(
    board: tuple[str, Path], tmp_path: Path
) -> None:
    port, fs = board
    _write_version(tmp_path / "good", "good")
    _write_version(tmp_path / "bad", "bad", broken=True)
    good = _flash(port, tmp_path / "good")
    assert _answer(fs) == "good"  # confirmed
    bad = _flash(port, tmp_path / "bad")
    assert bad.previous_version == good.version  # type: ignore[attr-defined]
    for boot in (1, 2, 3):
        out = _boot(fs)
        assert out.returncode != 0 and "RuntimeError: no start" in out.stdout + out.stderr
        assert f"failed to start (boot {boot} of 3); resetting" in out.stdout
        assert _state(fs).tries == boot
    out = _boot(fs)
    assert (
        f"softland loader: version {bad.version} failed to start 3 times; "  # type: ignore[attr-defined]
        f"rolled back to {good.version}"  # type: ignore[attr-defined]
    ) in out.stdout
    assert out.stdout.splitlines()[-1] == "main good good good"
    state = _state(fs)
    assert (state.version, state.confirmed, state.rolled_back) == (
        good.version,  # type: ignore[attr-defined]
        True,
        bad.version,  # type: ignore[attr-defined]
    )
    # softland flash says which version is on the board and that it rolled back
    cli = subprocess.run(
        [sys.executable, "-m", "softland.cli", "flash", port, "--board", "unix", "--resume",
         "--no-run", "--firmware", str(tmp_path / "good")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "host")},
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert f"the board had rolled back from version {bad.version}" in cli.stdout  # type: ignore[attr-defined]
    assert f"already runs version {good.version} (fw/a)" in cli.stdout  # type: ignore[attr-defined]


def test_a_first_version_that_fails_has_nothing_to_go_back_to_and_is_not_reset_forever(
    board: tuple[str, Path], tmp_path: Path
) -> None:
    port, fs = board
    _write_version(tmp_path / "bad", "bad", broken=True)
    _flash(port, tmp_path / "bad")
    for _ in range(5):
        out = _boot(fs)
        # the exception goes on to the REPL, as without the loader (the unix port exits 1)
        assert out.returncode == 1 and "RuntimeError: no start" in out.stdout + out.stderr
        assert "resetting" not in out.stdout and "rolled back" not in out.stdout
    assert _state(fs).tries == 3  # counted up to MAX_TRIES, then no more writes


def test_the_loader_reads_a_complete_state_new_when_the_rename_did_not_finish(
    board: tuple[str, Path], tmp_path: Path
) -> None:
    """On FAT, MicroPython's rename removes the target first: a reset between the two leaves
    only fw/state.new, complete; one cut short is no state at all."""
    port, fs = board
    _write_version(tmp_path / "v1", "v1")
    _write_version(tmp_path / "v2", "v2")
    _flash(port, tmp_path / "v1")
    _flash(port, tmp_path / "v2")
    (fs / "fw/state").rename(fs / "fw/state.new")
    assert _answer(fs) == "v2"
    assert not (fs / "fw/state.new").exists()  # the boot count went back into fw/state
    text = (fs / "fw/state").read_text()
    (fs / "fw/state").write_text(text.replace("end ok\n", ""))  # cut short
    (fs / "fw/state.new").write_text(text.replace("active b", "active a"))
    assert _answer(fs) == "v1"  # the complete one wins


def test_the_loader_is_replaced_by_renaming_a_complete_copy(
    board: tuple[str, Path], tmp_path: Path
) -> None:
    port, fs = board
    _write_version(tmp_path / "v1", "v1")
    (fs / "main.py").write_text("print('main old-style firmware')\n")  # flashed before slots
    report = _flash(port, tmp_path / "v1")
    argv = [arg for command in report.commands for arg in command]  # type: ignore[attr-defined]
    assert ":main.py" not in argv  # never written in place
    copy = argv.index(":fw/main.new")
    assert any("os.rename('fw/main.new', 'main.py')" in arg for arg in argv[copy:])
    assert (fs / "main.py").read_bytes() == LOADER.read_bytes()
    assert not (fs / "fw/main.new").exists()
    # and the switch comes first: the old main.py keeps booting the old firmware until then
    switch = next(i for i, arg in enumerate(argv) if "softland-switched" in arg)
    assert switch < copy


def test_mpy_is_refused_in_one_line_when_the_board_loads_another_format() -> None:
    old_board = BoardInfo(mpy=0x0005 | (4 << 10), state=None)  # .mpy v5 (MicroPython 1.12-1.18)
    with pytest.raises(UserError) as info:
        _check_mpy_target("a0", old_board, timeout=30)
    assert "loads .mpy v5.0 but this mpy-cross emits v6." in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="no .mpy support"):
        _check_mpy_target("a0", BoardInfo(mpy=None, state=None), timeout=30)
    rp2040 = BoardInfo(mpy=0x06 | (2 << 8) | (4 << 10), state=None)  # MicroPython 1.22 on RP2040
    assert _check_mpy_target("a0", rp2040, timeout=30) == "armv6m"


def test_the_real_firmware_confirms_under_the_loader(
    board: tuple[str, Path], tmp_path: Path
) -> None:
    port, fs = board
    report = flash(port, REPO / "firmware", UNIX, run=False, soft_reset=False)
    assert not _state(fs).confirmed
    micropython = _micropython()
    assert micropython is not None
    # no host on the link: serve() reads end of input and main.py exits
    out = subprocess.run(
        [micropython, "-X", f"heapsize={UNIX.heap_bytes}", "main.py"],
        cwd=fs,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    state = _state(fs)
    assert (state.version, state.confirmed, state.tries) == (report.version, True, 0)


def _restore(fs: Path, snapshot: dict[str, bytes]) -> None:
    """Put the board folder back as it was (in place: the REPL's cwd must stay)."""
    for child in fs.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    for rel, data in snapshot.items():
        path = fs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _slot_whole(fs: Path, slot: str, version: str) -> bool:
    """fw/<slot> holds `version`: every file its manifest lists, each with its hash."""
    lines = (fs / "fw" / slot / "manifest").read_text().splitlines()
    if lines[1] != f"version {version}":
        return False
    for line in lines[2:]:
        digest, rel = line.split(" ", 1)
        if hashlib.sha256((fs / "fw" / slot / rel).read_bytes()).hexdigest() != digest:
            return False
    return True


def _board_state(fs: Path) -> BoardState:
    """fw/state as the loader reads it (fw/state.new when only that is complete)."""
    for name in ("state", "state.new"):
        path = fs / "fw" / name
        state = BoardState.parse(path.read_text()) if path.exists() else None
        if state is not None:
            return state
    raise AssertionError("no complete fw/state")


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


KILLS = 20


def test_a_transfer_killed_at_20_random_points_leaves_a_board_that_boots(
    tmp_path: Path,
) -> None:
    """The board runs v1 from fw/b with v0 kept in fw/a for rollback; `softland flash` of v2
    (into fw/a) is SIGKILLed, it and its mpremote, at a seeded random moment while it talks to
    the board. Each time the active slot and any rollback target are whole versions, and the
    board boots v1 or v2, never a mix."""
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("needs Linux /proc to see when mpremote starts")
    fs = tmp_path / "boardfs"
    fs.mkdir()
    link, log = tmp_path / "ttyV0", tmp_path / "socat.log"
    for tag in ("v0", "v1", "v2"):  # some kB each: many mpremote chunks per file
        _write_version(tmp_path / tag, tag, filler=3000)
    with unix_port_repl(fs, link, log) as port:
        _flash(port, tmp_path / "v0")
        assert _answer(fs) == "v0"
        _flash(port, tmp_path / "v1")
    assert _answer(fs) == "v1"
    assert (_board_state(fs).active, _board_state(fs).previous) == ("b", "a")
    snapshot = {p.relative_to(fs).as_posix(): p.read_bytes() for p in fs.rglob("*") if p.is_file()}
    argv = [
        sys.executable, "-m", "softland.cli", "flash", str(link), "--board", "unix",
        "--resume", "--no-run", "--firmware", str(tmp_path / "v2"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "host")}

    def start() -> tuple[subprocess.Popen[bytes], float]:
        """The flash, and the moment its first mpremote started (time.monotonic())."""
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        while not _children(proc.pid) and proc.poll() is None:
            time.sleep(0.002)
        return proc, time.monotonic()

    with unix_port_repl(fs, link, log):  # a whole flash of v2, timed from mpremote's start
        whole, t0 = start()
        out, err = whole.communicate(timeout=60)
        duration = time.monotonic() - t0
        assert whole.returncode == 0, err
    said = out.decode()
    assert "version" in said and "active in fw/a" in said and "kept for rollback" in said, said
    assert _answer(fs) == "v2"

    rng = random.Random(20261130)
    seen: list[tuple[float, str, str]] = []  # (kill time, version booted, rollback target)
    for _ in range(KILLS):
        _restore(fs, snapshot)
        at = rng.uniform(0.0, duration)
        with unix_port_repl(fs, link, log):  # a fresh board REPL each time
            proc, t0 = start()
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
        state = _board_state(fs)
        where = f"killed {at:.3f} s into the transfer"
        assert _slot_whole(fs, state.active, state.version), f"{where}: active slot not whole"
        if state.previous != "-":
            whole_previous = _slot_whole(fs, state.previous, state.previous_version)
            assert whole_previous, f"{where}: the rollback target is not whole"
        booted = _answer(fs)
        seen.append((round(at, 3), booted, state.previous_version))
        assert booted in ("v1", "v2"), f"{where}: booted {booted}"
    print(f"\ntransfer {duration:.2f} s; killed at (s, booted, rollback target):")
    print("\n".join(f"  {at:.3f} {booted} {kept}" for at, booted, kept in seen))
    # After the last kill, flashing again finishes the job.
    with unix_port_repl(fs, link, log) as port:
        _flash(port, tmp_path / "v2")
    assert _answer(fs) == "v2"
