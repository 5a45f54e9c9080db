"""Finding a board with no PORT given (USB VID:PID, the CIRCUITPY drive) and installing its
runtime (mpflash, circup): the command lines built, the tools' failures, a missing tool.

The serial ports are pyserial ListPortInfo objects made up here; the drives temporary
directories; the tools a recording runner, except the last tests, which run mpflash and circup
for real when they are installed (no network here: they fail, in one line)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from serial.tools.list_ports_common import ListPortInfo

from softland.boards import detect, runtime_install
from softland.boards.catalog import load_board
from softland.boards.detect import (
    circuitpy_mount_points,
    find_circuitpy_drive,
    find_serial_port,
    resolve_port,
)
from softland.boards.runtime_install import (
    CIRCUITPYTHON_LIBRARIES,
    plan_install,
    run_plan,
    tool_error,
)
from softland.cli import cli
from softland.errors import UserError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _bundled_boards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOFTLAND_BOARDS", raising=False)


def usb_port(device: str, vid: int | None = None, pid: int | None = None, what: str = "") -> Any:
    """A port as pyserial's list_ports.comports() gives it."""
    port = ListPortInfo(device, skip_link_detection=True)
    port.vid, port.pid = vid, pid
    port.description = what or "n/a"
    return port


PICO = usb_port("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode")
CP2102 = usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART Bridge Controller")
BUILTIN = usb_port("/dev/ttyS0")


# --- the board files' USB ids ------------------------------------------------------------


def test_the_real_boards_carry_the_usb_ids_their_runtime_enumerates_with() -> None:
    ids = {name: load_board(name).usb_ids_text for name in ("pico", "pico2", "esp32s3")}
    assert ids == {"pico": "2E8A:0005", "pico2": "2E8A:0005", "esp32s3": "303A:1001"}
    assert load_board("feather_rp2040").usb_ids == ((0x239A, 0x80F2),)
    assert load_board("feather_m4").usb_ids == ((0x239A, 0x8026),)
    assert load_board("unix").usb_ids == () and load_board("qemu_m0").usb_ids == ()


def test_every_usb_id_in_a_board_file_names_its_source() -> None:
    for path in sorted((REPO / "boards").glob("*.toml")):
        text = path.read_text()
        if "usb_ids" in text:
            assert re.search(r"mpconfig(board|port)\.(h|mk)|issue #\d+", text), path.name


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('usb_ids = ["2E8A-0005"]', "usb_ids"),
        ('usb_ids = "2E8A:0005"', "usb_ids"),
        ("usb_ids = [0x2E8A]", "usb_ids"),
        ('mpflash_board = "rpi pico"', "mpflash_board"),
        ('circuitpython_board = "feather_m4_express"', "circuitpython_board"),  # not CP
    ],
)
def test_a_bad_usb_or_install_field_names_file_and_field(
    tmp_path: Path, line: str, field: str
) -> None:
    text = (REPO / "boards" / "pico.toml").read_text()
    key = field if re.search(rf"^{field} = ", text, re.MULTILINE) else "usb_ids"
    text, count = re.subn(rf"^{key} = .*$", line, text, count=1, flags=re.MULTILINE)
    assert count == 1
    path = tmp_path / "pico.toml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_board(path)
    message = str(info.value)
    assert f"'{field}'" in message and str(path) in message and "\n" not in message


# --- the serial port from the USB id -----------------------------------------------------


def test_the_port_is_the_one_whose_usb_id_the_board_file_lists() -> None:
    found = find_serial_port(load_board("pico"), lambda: [BUILTIN, CP2102, PICO])
    assert found.device == "/dev/ttyACM0"
    assert resolve_port(None, load_board("pico"), lambda: [CP2102, PICO]) == (
        "/dev/ttyACM0",
        "found board 'pico' on /dev/ttyACM0 (2E8A:0005, Board in FS mode)",
    )
    assert resolve_port("auto", load_board("pico2"), lambda: [PICO])[0] == "/dev/ttyACM0"


def test_a_port_given_is_used_as_is_without_listing_ports() -> None:
    def no_listing() -> list[Any]:
        raise AssertionError("ports were listed")

    assert resolve_port("/dev/ttyACM3", load_board("pico"), no_listing) == ("/dev/ttyACM3", None)
    assert resolve_port("a1", load_board("pico"), no_listing)[0] == "a1"


def test_no_matching_port_is_one_line_listing_what_was_seen() -> None:
    with pytest.raises(UserError) as info:
        find_serial_port(load_board("esp32s3"), lambda: [PICO, CP2102, BUILTIN])
    message = str(info.value)
    assert "303A:1001" in message and "'esp32s3'" in message
    assert "/dev/ttyACM0 (2E8A:0005, Board in FS mode)" in message
    assert "/dev/ttyUSB0 (10C4:EA60, CP2102 USB to UART Bridge Controller)" in message
    assert "/dev/ttyS0 (no USB id)" in message
    assert "give PORT" in message and "\n" not in message
    with pytest.raises(UserError, match="no serial ports at all"):
        find_serial_port(load_board("pico"), lambda: [])


def test_several_matching_ports_is_one_line_naming_them() -> None:
    second = usb_port("/dev/ttyACM1", 0x2E8A, 0x0005, "Board in FS mode")
    with pytest.raises(UserError) as info:
        find_serial_port(load_board("pico"), lambda: [second, CP2102, PICO])
    message = str(info.value)
    assert message.startswith("2 serial ports have the USB id 2E8A:0005 of board 'pico'")
    assert "/dev/ttyACM0" in message and "/dev/ttyACM1" in message
    assert "ttyUSB0" not in message and "give PORT" in message and "\n" not in message


def test_a_board_without_usb_ids_asks_for_the_port() -> None:
    with pytest.raises(UserError, match="'unix' lists no usb_ids.*give PORT"):
        resolve_port(None, load_board("unix"), lambda: [PICO])


# --- the CIRCUITPY drive ------------------------------------------------------------------


def test_the_circuitpy_drive_is_found_where_it_is_mounted(tmp_path: Path) -> None:
    media, run_media = tmp_path / "media" / "ann" / "CIRCUITPY", tmp_path / "run" / "CIRCUITPY"
    media.mkdir(parents=True)
    assert find_circuitpy_drive([media, run_media]) == media
    board = load_board("feather_m4")
    assert resolve_port(None, board, drives=[run_media, media]) == (
        str(media),
        f"found the CIRCUITPY drive at {media}",
    )
    assert resolve_port(str(run_media), board, drives=[media]) == (str(run_media), None)


def test_no_or_several_circuitpy_drives_is_one_line(tmp_path: Path) -> None:
    one, two = tmp_path / "a" / "CIRCUITPY", tmp_path / "b" / "CIRCUITPY"
    with pytest.raises(UserError) as info:
        find_circuitpy_drive([one, two])
    message = str(info.value)
    assert message.startswith("no mounted CIRCUITPY drive (looked at ")
    assert str(one) in message and str(two) in message and "\n" not in message
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    with pytest.raises(UserError, match="several CIRCUITPY drives are mounted"):
        find_circuitpy_drive([one, two])


def test_the_mount_points_looked_at() -> None:
    assert circuitpy_mount_points("ann", "linux") == [
        Path("/media/ann/CIRCUITPY"),
        Path("/run/media/ann/CIRCUITPY"),
    ]
    assert circuitpy_mount_points("ann", "darwin") == [Path("/Volumes/CIRCUITPY")]
    assert circuitpy_mount_points("ann", "win32") == []  # a drive letter: given by the user


# --- softland flash with no PORT ----------------------------------------------------------


def test_flash_without_port_uses_the_port_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "list_serial_ports", lambda: [CP2102, PICO])
    result = CliRunner().invoke(cli, ["flash", "--board", "pico", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "found board 'pico' on /dev/ttyACM0 (2E8A:0005" in result.output
    assert "would install" in result.output and "on /dev/ttyACM0:" in result.output


def test_flash_without_port_and_no_board_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(detect, "list_serial_ports", lambda: [CP2102])
    result = CliRunner().invoke(cli, ["flash", "--board", "pico2", "--dry-run"])
    assert result.exit_code == 2
    assert result.output.startswith("error: no serial port has the USB id 2E8A:0005")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    monkeypatch.setattr(detect, "circuitpy_mount_points", lambda: [tmp_path / "CIRCUITPY"])
    result = CliRunner().invoke(cli, ["flash", "--board", "feather_rp2040"])
    assert result.exit_code == 2
    assert result.output.startswith("error: no mounted CIRCUITPY drive")


def test_flash_without_drive_writes_the_drive_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    drive = tmp_path / "CIRCUITPY"
    drive.mkdir()
    monkeypatch.setattr(detect, "circuitpy_mount_points", lambda: [drive])
    result = CliRunner().invoke(cli, ["flash", "--board", "feather_m4"])
    assert result.exit_code == 0, result.output
    assert (drive / "code.py").read_bytes() == (REPO / "firmware" / "code.py").read_bytes()


# --- installing the runtime: the command lines --------------------------------------------


@pytest.mark.parametrize(
    ("name", "mpflash_board"),
    [("pico", "RPI_PICO"), ("pico2", "RPI_PICO2"), ("esp32s3", "ESP32_GENERIC_S3")],
)
def test_micropython_is_downloaded_then_flashed_by_mpflash(name: str, mpflash_board: str) -> None:
    plan = plan_install(load_board(name), "/dev/ttyACM0", "1.24.1")
    which = ["--board", mpflash_board, "--version", "1.24.1"]
    assert [list(step.argv) for step in plan.steps] == [
        ["mpflash", "--no-interactive", "download", *which],
        ["mpflash", "--no-interactive", "flash", *which, "--serial", "/dev/ttyACM0"],
    ]
    assert [step.network for step in plan.steps] == ["micropython.org", ""]
    (note,) = plan.notes
    assert f"https://micropython.org/download/{mpflash_board}/" in note


def test_micropython_defaults_to_the_stable_release() -> None:
    plan = plan_install(load_board("pico"), "/dev/ttyACM0")
    assert plan.steps[0].argv[-2:] == ("--version", "stable")


@pytest.mark.parametrize(("name", "cp_board"), [
    ("feather_rp2040", "adafruit_feather_rp2040"), ("feather_m4", "feather_m4_express"),
])  # fmt: skip
def test_circuitpython_libraries_go_onto_the_drive_through_circup(
    tmp_path: Path, name: str, cp_board: str
) -> None:
    (tmp_path / "boot_out.txt").write_text("Adafruit CircuitPython 9.2.1 on 2024-11-20\n")
    plan = plan_install(load_board(name), str(tmp_path))
    (step,) = plan.steps
    assert list(step.argv) == ["circup", "--path", str(tmp_path), "install",
                               "adafruit_lidarlite", "adafruit_bus_device"]  # fmt: skip
    assert step.network.startswith("github.com")
    (note,) = plan.notes  # CircuitPython itself: a UF2 the user copies
    assert f"https://circuitpython.org/board/{cp_board}/" in note and ".uf2" in note
    pinned = plan_install(load_board(name), str(tmp_path), "9.2.1")
    assert list(pinned.steps[0].argv[:7]) == [
        "circup", "--path", str(tmp_path), "--board-id", cp_board, "--cpy-version", "9.2.1",
    ]  # fmt: skip
    assert CIRCUITPYTHON_LIBRARIES == ("adafruit_lidarlite", "adafruit_bus_device")


def test_what_cannot_be_installed_is_one_clear_line(tmp_path: Path) -> None:
    cases = [
        (lambda: plan_install(load_board("unix"), "a0"), "no mpflash_board"),
        (lambda: plan_install(load_board("pico2"), "a0", "1.23"), "needs micropython >= 1.24"),
        (lambda: plan_install(load_board("pico"), "a0", "latest"), "expected a release"),
        (lambda: plan_install(load_board("feather_m4"), str(tmp_path)), "no boot_out.txt"),
        (lambda: plan_install(load_board("feather_m4"), str(tmp_path / "x")), "not a directory"),
    ]
    for call, expected in cases:
        with pytest.raises(UserError) as info:
            call()
        assert expected in str(info.value) and "\n" not in str(info.value)


def test_install_runtime_dry_run_prints_the_commands(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["install-runtime", "/dev/ttyACM0", "--board", "pico", "--version", "1.24.1",
              "--dry-run"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  $ mpflash --no-interactive download --board RPI_PICO --version 1.24.1" in lines
    assert (
        "  $ mpflash --no-interactive flash --board RPI_PICO --version 1.24.1 "
        "--serial /dev/ttyACM0" in lines
    )
    assert "(network: micropython.org)" in result.output


# --- running the tools ---------------------------------------------------------------------


class Recorder:
    """Stands in for the subprocess runner: records each argv, answers from a script."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.argvs: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.argvs.append(list(argv))
        code, out = self.answers.pop(0)
        return subprocess.CompletedProcess(list(argv), code, out, "")


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mpflash and circup as executables on PATH (never run: the Recorder answers)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("mpflash", "circup"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 99\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    return bin_dir


def test_the_tools_run_in_order_from_where_they_are_installed(fake_tools: Path) -> None:
    plan = plan_install(load_board("pico"), "/dev/ttyACM0", "1.24.1")
    runner = Recorder((0, "Downloaded 1 firmware\n"), (0, "Flashed 1 board\n"))
    assert run_plan(plan, runner) == plan.steps
    assert [argv[0] for argv in runner.argvs] == [str(fake_tools / "mpflash")] * 2
    assert [argv[1:] for argv in runner.argvs] == [list(s.argv[1:]) for s in plan.steps]


def test_mpflash_reporting_an_error_with_exit_0_is_a_failure(fake_tools: Path) -> None:
    # what mpflash 1.29.0 prints without a network, exiting 0
    out = (
        "15:00:46 | ℹ️ Interactive mode disabled. Skipping ask for user input.\n"
        "15:00:46 | ❌ Could not connect to micropython.org\n"
    )
    runner = Recorder((0, out))
    with pytest.raises(UserError) as info:
        run_plan(plan_install(load_board("pico"), "/dev/ttyACM0", "1.24.1"), runner)
    assert str(info.value) == (
        "mpflash failed to download MicroPython 1.24.1 for RPI_PICO (exit 0): Could not "
        "connect to micropython.org; it needs the network (micropython.org)"
    )
    assert len(runner.argvs) == 1  # flash never ran


def test_a_failing_flash_is_one_line_with_the_tools_message(fake_tools: Path) -> None:
    box = (
        " Usage: mpflash flash [OPTIONS]\n"
        "╭─ Error ────────────────────────────────────────╮\n"
        "│ No serial ports matched: /dev/ttyACM0. Check the port name, or use '--serial │\n"
        "│ *' to auto-detect.                              │\n"
        "╰────────────────────────────────────────────────╯\n"
    )
    runner = Recorder((0, "ok\n"), (2, box))
    with pytest.raises(UserError) as info:
        run_plan(plan_install(load_board("pico"), "/dev/ttyACM0", "1.24.1"), runner)
    message = str(info.value)
    assert message.startswith("mpflash failed to flash it onto the board on /dev/ttyACM0 (exit 2)")
    assert "No serial ports matched: /dev/ttyACM0" in message and "auto-detect." in message
    assert "network" not in message and "\n" not in message


def test_circup_failing_is_one_line_naming_the_network(fake_tools: Path, tmp_path: Path) -> None:
    (tmp_path / "boot_out.txt").write_text("Adafruit CircuitPython 9.2.1\n")
    trace = (
        "Traceback (most recent call last):\n  ...\n"
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='github.com', port=443)\n"
    )
    with pytest.raises(UserError) as info:
        run_plan(plan_install(load_board("feather_rp2040"), str(tmp_path)), Recorder((1, trace)))
    message = str(info.value)
    assert message.startswith("circup failed to install adafruit_lidarlite, adafruit_bus_device")
    assert "ConnectionError" in message and "it needs the network (github.com" in message


@pytest.mark.parametrize(("board", "tool"), [("pico", "mpflash"), ("feather_m4", "circup")])
def test_a_missing_tool_is_one_line_saying_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: str, tool: str
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    (tmp_path / "boot_out.txt").write_text("Adafruit CircuitPython 9.2.1\n")
    target = "/dev/ttyACM0" if board == "pico" else str(tmp_path)
    runner = Recorder()
    with pytest.raises(UserError) as info:
        run_plan(plan_install(load_board(board), target), runner)
    message = str(info.value)
    assert message.startswith(f"{tool} is not installed") and f"pip install {tool}" in message
    assert "\n" not in message and runner.argvs == []
    result = CliRunner().invoke(cli, ["install-runtime", target, "--board", board])
    assert result.exit_code == 2 and f"error: {tool} is not installed" in result.output


def test_tool_error_reads_mpflash_and_click_errors() -> None:
    assert tool_error("all good\n") is None
    assert tool_error("12:00:00 | ❌ first\n12:00:01 | ❌ second\n") == "second"


# --- the real tools, when installed (they need the network; here it fails in one line) -----

_EXTRA = "pip install -e '.[runtime]'"


@pytest.mark.skipif(
    shutil.which("mpflash") is None,
    reason=f"mpflash not installed: it is the optional runtime extra ({_EXTRA}); "
    "the command lines are tested above without it",
)
def test_mpflash_for_real_fails_in_one_line_without_a_board(tmp_path: Path) -> None:
    plan = plan_install(load_board("pico"), str(tmp_path / "ttyNOPE"), "1.24.1")
    with pytest.raises(UserError) as info:
        run_plan(plan)
    # offline: the download fails; online: the download works and the flash finds no port
    assert str(info.value).startswith("mpflash failed to ")
    assert "\n" not in str(info.value)


@pytest.mark.skipif(
    shutil.which("circup") is None,
    reason=f"circup not installed: it is the optional runtime extra ({_EXTRA}); "
    "the command lines are tested above without it",
)
def test_circup_for_real_installs_or_says_it_needs_the_network(tmp_path: Path) -> None:
    (tmp_path / "boot_out.txt").write_text(
        "Adafruit CircuitPython 9.2.1 on 2024-11-20; Adafruit Feather RP2040 with rp2040\n"
        "Board ID:adafruit_feather_rp2040\n"
    )
    plan = plan_install(load_board("feather_rp2040"), str(tmp_path))
    try:
        run_plan(plan)
    except UserError as e:
        assert "it needs the network (github.com" in str(e) and "\n" not in str(e)
    else:
        assert (tmp_path / "lib").is_dir()


def test_runtime_install_uses_the_real_runner_by_default() -> None:
    assert run_plan.__defaults__ == (runtime_install.run_tool,)
