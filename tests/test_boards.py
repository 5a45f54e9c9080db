"""Board files: every bundled board loads, and bad files are rejected naming file and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from softland.boards.catalog import Board, board_config, boards_dir, list_boards, load_board
from softland.errors import UserError

BUNDLED = ("esp32s3", "feather_m4", "feather_rp2040", "pico", "pico2", "qemu_m0", "unix")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _bundled_boards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOFTLAND_BOARDS", raising=False)


def test_boards_dir_is_the_checkout_boards() -> None:
    assert boards_dir() == REPO / "boards"


@pytest.mark.parametrize("name", BUNDLED)
def test_each_bundled_board_loads(name: str) -> None:
    board = load_board(name)
    assert isinstance(board, Board)
    assert board.name == name
    assert board.loop_hz == 50
    assert board.heap_bytes > 0
    assert board.runtime in ("micropython", "circuitpython")
    assert board.path == REPO / "boards" / f"{name}.toml"


def test_list_boards_lists_every_file_sorted() -> None:
    assert tuple(b.name for b in list_boards()) == BUNDLED


def test_pins_and_budgets_match_the_toolchain_notes() -> None:
    pico, feather, esp, unix = (
        load_board(n) for n in ("pico", "feather_rp2040", "esp32s3", "unix")
    )
    assert (pico.i2c_bus, pico.i2c_sda, pico.i2c_scl) == (0, 4, 5)
    assert (feather.runtime, feather.i2c_bus, feather.i2c_sda, feather.i2c_scl) == (
        "circuitpython",
        1,
        2,
        3,
    )
    assert (esp.i2c_sda, esp.i2c_scl, esp.mpy_cross_arch) == (8, 9, "xtensawin")
    assert pico.mpy_cross_arch == "armv6m"
    assert pico.watchdog_max_ms == 8388
    assert unix.heap_bytes == pico.heap_bytes  # SIL runs with the Pico's heap budget


def test_the_emulated_board_is_the_cortex_m0_of_shared_pil() -> None:
    qemu, pico = load_board("qemu_m0"), load_board("pico")
    assert (qemu.runtime, qemu.min_version) == ("micropython", "1.28")
    assert qemu.heap_bytes < 139_000  # free after boot, with a margin
    assert qemu.i2c_sda == qemu.i2c_scl == qemu.pwm_pin == "link"  # no machine.I2C
    assert qemu.mpy_cross_arch == pico.mpy_cross_arch == "armv6m"  # the same core family


def test_real_boards_need_the_micropython_they_ship_with() -> None:
    # the floor for real boards is the release each one is supported from, never older
    floors = {b.name: b.min_version_tuple for b in list_boards() if b.runtime == "micropython"}
    assert floors["pico"] == floors["esp32s3"] == (1, 22)
    assert floors["pico2"] == (1, 24)  # the first release with RP2350 support
    assert min(floors.values()) == (1, 22)


def test_load_by_path(tmp_path: Path) -> None:
    assert load_board(REPO / "boards" / "pico.toml").name == "pico"
    assert load_board(str(REPO / "boards" / "pico.toml")).name == "pico"


def test_unknown_board_name_lists_known_ones() -> None:
    with pytest.raises(UserError, match=r"unknown board 'nope'.*pico2"):
        load_board("nope")


def _write_variant(tmp_path: Path, edit: str, replacement: str) -> Path:
    """pico.toml copied to tmp_path with the line matching regex `edit` replaced."""
    text = (REPO / "boards" / "pico.toml").read_text()
    new, count = re.subn(edit, replacement, text, count=1, flags=re.MULTILINE)
    assert count == 1, edit
    path = tmp_path / "pico.toml"
    path.write_text(new)
    return path


@pytest.mark.parametrize(
    ("edit", "replacement", "field"),
    [
        (r"^loop_hz = .*$", 'loop_hz = 50\ncolour = "red"', "colour"),  # unknown field
        (r"^loop_hz = .*$", "", "loop_hz"),  # missing field
        (r"^loop_hz = .*$", 'loop_hz = "50"', "loop_hz"),  # wrong type
        (r"^i2c_bus = .*$", "i2c_bus = true", "i2c_bus"),  # bool is not an int here
        (r"^i2c_sda = .*$", "i2c_sda = 4.0", "i2c_sda"),  # float pin
        (r"^heap_bytes = .*$", "heap_bytes = -5", "heap_bytes"),  # out of range
        (r"^runtime = .*$", 'runtime = "arduino"', "runtime"),  # bad value
        (r"^mpy_cross_arch = .*$", 'mpy_cross_arch = "armv8m"', "mpy_cross_arch"),
        (r"^min_version = .*$", 'min_version = "latest"', "min_version"),
        (r"^name = .*$", 'name = "pico3"', "name"),  # does not match the file name
        (r"^pwm_pin = .*$", 'pwm_pin = ""', "pwm_pin"),
        (r"^name = .*$", 'name = "pico"\nmode = "standalone"', "mode"),
        (r"^pwm_min_us = .*$", "pwm_min_us = 300", "board_mode.pwm_min_us"),  # below 500 us
        (r"^pwm_min_us = .*$", "pwm_min_us = 2000", "board_mode.pwm_min_us"),  # not below max
        (r"^pwm_hz = .*$", "pwm_hz = 1000", "board_mode.pwm_hz"),  # servo pulses: <= 400 Hz
        (r"^wdt_ms = .*$", "wdt_ms = 9000", "board_mode.wdt_ms"),  # above the RP2040's 8388
        (r"^wdt_ms = .*$", "wdt_ms = 20", "board_mode.wdt_ms"),  # under 3 loop periods
        (r"^arm_closed = .*$", "arm_closed = 2", "board_mode.arm_closed"),
        (r"^arm_pin = .*$", "arm_pin = -1", "board_mode.arm_pin"),
        (r"^backup = .*$", 'backup = "sdcard"', "board_mode.backup"),
        (r"^backup = .*$", 'backup = "none"\nesc = "yes"', "board_mode.esc"),  # unknown key
        (r"^imu = .*$", 'imu = "mpu6050"', "board_mode.imu"),  # no driver for it
        (r"^imu_addr = .*$", "imu_addr = 0x62", "board_mode.imu_addr"),  # the LIDAR-Lite's
        (r"^imu_fs_g = .*$", "imu_fs_g = 3", "board_mode.imu_fs_g"),
        (r"^imu_up_axis = .*$", 'imu_up_axis = "up"', "board_mode.imu_up_axis"),
        (r"^imu_up_axis = .*$", "imu_up_axis = 2", "board_mode.imu_up_axis"),  # a letter
        (r"^imu_up_sign = .*$", "imu_up_sign = 0", "board_mode.imu_up_sign"),
        # 7 transactions a tick (LIDAR-Lite 4, IMU 3) x 3 ms: beyond the 20 ms period
        (r"^i2c_timeout_us = .*$", "i2c_timeout_us = 3000", "board_mode.i2c_timeout_us"),
    ],
)
def test_bad_board_file_names_file_and_field(
    tmp_path: Path, edit: str, replacement: str, field: str
) -> None:
    path = _write_variant(tmp_path, edit, replacement)
    with pytest.raises(UserError) as info:
        load_board(path)
    message = str(info.value)
    assert f"'{field}'" in message
    assert str(path) in message
    assert "\n" not in message


def test_mode_board_needs_the_board_mode_table(tmp_path: Path) -> None:
    text = (REPO / "boards" / "pico.toml").read_text().split("[board_mode]")[0]
    path = tmp_path / "pico.toml"
    path.write_text('mode = "board"\n' + text)
    with pytest.raises(UserError, match=r"needs a \[board_mode\] table"):
        load_board(path)


def test_a_board_file_in_board_mode_loads_with_its_table(tmp_path: Path) -> None:
    path = tmp_path / "pico.toml"
    path.write_text('mode = "board"\n' + (REPO / "boards" / "pico.toml").read_text())
    board = load_board(path)
    assert board.mode == "board"
    assert board.board_mode is not None and board.board_mode.pwm_min_us == 1000


@pytest.mark.parametrize("name", ["pico", "pico2", "esp32s3"])
def test_the_board_mode_boards_carry_the_lsm6dsox_on_the_lidar_bus(name: str) -> None:
    from board_stand_in import hal_module

    text = board_config(load_board(name), "board")
    scope: dict = {}
    exec(text, scope)
    config = scope["CONFIG"]
    assert config["imu"] == "lsm6dsox"
    assert "'imu_addr': 0x6A," in text  # the Adafruit breakout's default, spelt as in its docs
    assert (config["imu_fs_g"], config["imu_up_axis"], config["imu_up_sign"]) == (16, "z", 1)
    assert hal_module("machine_board").config(config)["imu_addr"] == 0x6A


def test_a_board_mode_table_without_an_imu_flies_on_the_thrust_model(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, r"^imu = .*$", 'imu = "none"')
    board = load_board(path)
    assert board.board_mode is not None and board.board_mode.imu == "none"
    scope: dict = {}
    exec(board_config(board, "board"), scope)
    assert scope["CONFIG"]["imu"] == "none"
    # 4 LIDAR-Lite transactions x 4 ms fit in 20 ms without the IMU (not with it: 7 x 4 ms)
    text = path.read_text().replace("i2c_timeout_us = 2000", "i2c_timeout_us = 4000")
    path.write_text(text)
    assert load_board(path).board_mode.i2c_timeout_us == 4000


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\nloop_hz = \n')
    with pytest.raises(UserError, match=re.escape(str(path))):
        load_board(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_board(tmp_path / "absent.toml")


def test_env_var_overrides_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "boards" / "pico.toml").read_text().replace('name = "pico"', 'name = "mine"')
    (tmp_path / "mine.toml").write_text(text)
    monkeypatch.setenv("SOFTLAND_BOARDS", str(tmp_path))
    assert [b.name for b in list_boards()] == ["mine"]
    assert load_board("mine").i2c_sda == 4
    with pytest.raises(UserError, match="known boards: mine"):
        load_board("pico")


def test_a_bad_file_in_the_directory_fails_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.toml").write_text('name = "bad"\n')
    monkeypatch.setenv("SOFTLAND_BOARDS", str(tmp_path))
    with pytest.raises(UserError, match=r"bad\.toml: missing field"):
        list_boards()


# ---- board mode on CircuitPython: the [board_mode] table names the pins


def _feather_variant(tmp_path: Path, edit: str, replacement: str) -> Path:
    """feather_rp2040.toml in board mode, copied to tmp_path with one line replaced."""
    text = 'mode = "board"\n' + (REPO / "boards" / "feather_rp2040.toml").read_text()
    new, count = re.subn(edit, replacement, text, count=1, flags=re.MULTILINE)
    assert count == 1, edit
    path = tmp_path / "feather_rp2040.toml"
    path.write_text(new)
    return path


@pytest.mark.parametrize("name", ["feather_rp2040", "feather_m4"])
def test_the_feathers_fly_board_mode_on_circuitpython_by_pin_names(name: str) -> None:
    board = load_board(name)
    assert board.mode == "link"  # the default stays the link
    scope: dict = {}
    exec(board_config(board, "board"), scope)
    config = scope["CONFIG"]
    assert config["hal"] == "circuitpython"
    assert "i2c_id" not in config  # busio.I2C takes pins, no bus number
    assert (config["i2c_sda"], config["i2c_scl"], config["pwm_pin"]) == ("SDA", "SCL", "D5")
    assert (config["arm_pin"], config["arm_closed"], config["led_pin"]) == ("D6", 0, "LED")
    assert config["imu"] == "lsm6dsox" and config["imu_addr"] == 0x6A
    assert 0 < config["wdt_ms"] <= board.watchdog_max_ms
    # the board file's numbers stay, for the wiring docs
    assert isinstance(board.pwm_pin, int)


@pytest.mark.parametrize(
    ("edit", "replacement", "field"),
    [
        (r"^pwm_pin_name = .*\n", "", "board_mode.pwm_pin_name"),  # missing
        (r"^i2c_sda_name = .*\n", "", "board_mode.i2c_sda_name"),
        (r"^pwm_pin_name = .*$", 'pwm_pin_name = "board.D5"', "board_mode.pwm_pin_name"),
        (r"^pwm_pin_name = .*$", "pwm_pin_name = 7", "board_mode.pwm_pin_name"),  # a number
        (r"^arm_pin = .*$", "arm_pin = 8", "board_mode.arm_pin"),  # a GPIO number, not a name
        (r"^led_pin = .*$", "led_pin = 13", "board_mode.led_pin"),
        (r"^backup = .*$", 'backup = "rtc"', "board_mode.backup"),  # MicroPython's store
        (r"^wdt_ms = .*$", "wdt_ms = 9000", "board_mode.wdt_ms"),  # above the RP2040's cap
    ],
)
def test_a_bad_circuitpython_board_mode_table_is_one_message_naming_the_field(
    tmp_path: Path, edit: str, replacement: str, field: str
) -> None:
    path = _feather_variant(tmp_path, edit, replacement)
    with pytest.raises(UserError) as info:
        load_board(path)
    message = str(info.value)
    assert f"'{field}'" in message
    assert str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("replacement", "field"),
    [
        ('imu_up_sign = 1\npwm_pin_name = "GP15"', "board_mode.pwm_pin_name"),
        ('imu_up_sign = 1\nbackup = "sleep_memory"', "board_mode.backup"),
    ],
)
def test_a_micropython_board_refuses_the_circuitpython_fields(
    tmp_path: Path, replacement: str, field: str
) -> None:
    text = (REPO / "boards" / "pico.toml").read_text()
    text = re.sub(r"^backup = .*\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^imu_up_sign = .*$", replacement, text, flags=re.MULTILINE)
    path = tmp_path / "pico.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=f"'{field}'"):
        load_board(path)
