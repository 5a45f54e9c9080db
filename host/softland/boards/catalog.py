"""Board descriptions: one TOML file per supported board in boards/.

`load_board("pico")` reads boards/pico.toml; `load_board("path/to/my.toml")` reads that file.
The directory is the checkout's boards/ unless $SOFTLAND_BOARDS names another one. Every file is
checked strictly: an unknown, missing, mistyped or out-of-range field is a `UserError` naming the
file and the field.

`mode` ("link", the default: the host is the world; "board": the flight runs standalone) and a
`[board_mode]` table (the ESC's pulse range, the arming switch and LED pins, the watchdog, the
I2C timeout, the accelerometer on the LIDAR's bus and its mounting) are optional;
`board_config()` turns a board into the `board_config.py` the firmware's main.py (MicroPython,
hal "machine": pin numbers) or code.py (CircuitPython, hal "circuitpython": the `board` module's
pin names, from the table's i2c_sda_name/i2c_scl_name/pwm_pin_name, arm_pin, led_pin) reads at
boot (`softland flash` installs it).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from softland.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

RUNTIMES = ("micropython", "circuitpython")
# The -march values mpy-cross 1.29 accepts, plus "" for arch-neutral bytecode only.
MPY_CROSS_ARCHES = (
    "",
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)
MODES = ("link", "board")
BACKUPS = ("auto", "rtc", "sleep_memory", "none")
IMUS = ("none", "lsm6dsox")
IMU_ADDRESSES = (0x6A, 0x6B)  # the LSM6DSOX's SA0 low (the Adafruit breakout's default), high
IMU_FULL_SCALES_G = (2, 4, 8, 16)
AXES = ("x", "y", "z")
LIDAR_TX = (
    4  # I2C transactions a tick at most: the LIDAR-Lite driver's (firmware/fsw/lidarlite.py)
)
IMU_TX = 3  # ... and the LSM6DSOX driver's (firmware/fsw/lsm6dsox.py)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_PIN_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a name in CircuitPython's `board`
_VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?$")

Pin = int | str


@dataclass(frozen=True)
class BoardMode:
    """The `[board_mode]` table: what board mode needs beyond the bus and the ESC pin
    (firmware/hal/machine_board.py reads the same names; docs/architecture.md, "Board mode")."""

    pwm_hz: int = 50
    pwm_min_us: int = 1000  # the ESC's pulse at throttle 0, also the safe (disarmed) pulse
    pwm_max_us: int = 2000
    arm_pin: Pin | None = None  # arming switch (absent: none fitted, never arms)
    arm_closed: int = 0  # pin level when closed: 0 switch to ground (pull-up), 1 to 3V3
    led_pin: Pin | None = None
    i2c_timeout_us: int = 2000
    wdt_ms: int = 0  # 0: no watchdog
    backup: str = "auto"
    imu: str = "none"  # "lsm6dsox": the accelerometer on the LIDAR-Lite's I2C bus
    imu_addr: int = 0x6A
    imu_fs_g: int = 16  # full scale, g (16: landing shocks)
    imu_up_axis: str = "z"  # the body axis along the thrust
    imu_up_sign: int = 1  # +1 when that axis points up
    # CircuitPython boards only: the `board` module's names of the bus and ESC pins (the
    # board file's i2c_sda/i2c_scl/pwm_pin stay the chip's numbers, for the wiring docs);
    # their arm_pin and led_pin are names too
    i2c_sda_name: str | None = None
    i2c_scl_name: str | None = None
    pwm_pin_name: str | None = None


@dataclass(frozen=True)
class Board:
    """One supported board, as described by its boards/<name>.toml file."""

    name: str
    description: str
    runtime: str
    min_version: str
    i2c_bus: int
    i2c_sda: Pin
    i2c_scl: Pin
    i2c_freq_hz: int
    pwm_pin: Pin
    loop_hz: int
    mpy_cross_arch: str
    heap_bytes: int
    mpy_version: str
    watchdog_max_ms: int
    notes: str
    mode: str = "link"
    board_mode: BoardMode | None = None
    # --- finding the board and installing its runtime (softland.boards.detect, .runtime_install)
    usb_ids: tuple[tuple[int, int], ...] = ()  # (VID, PID) its runtime enumerates with
    mpflash_board: str = ""  # MicroPython: the board id mpflash downloads/flashes (RPI_PICO)
    circuitpython_board: str = ""  # CircuitPython: circuitpython.org's board id
    path: Path | None = None  # the file it was loaded from (not a TOML field)

    @property
    def usb_ids_text(self) -> str:
        """The USB ids as lsusb prints them: "2E8A:0005, ..." ("none" without any)."""
        return ", ".join(f"{v:04X}:{p:04X}" for v, p in self.usb_ids) or "none"

    @property
    def min_version_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.min_version.split("."))

    @property
    def entry_file(self) -> str:
        """The file the runtime runs at boot: main.py (MicroPython) or code.py (CircuitPython)."""
        return "code.py" if self.runtime == "circuitpython" else "main.py"

    def summary(self) -> str:
        """One line for listings."""
        arch = self.mpy_cross_arch or "-"
        wdt = f"{self.watchdog_max_ms} ms" if self.watchdog_max_ms else "none"
        runtime = f"{self.runtime}>={self.min_version}"
        return (
            f"{self.name:<15} {runtime:<20} "
            f"I2C{self.i2c_bus} SDA={self.i2c_sda} SCL={self.i2c_scl} @{self.i2c_freq_hz} Hz  "
            f"PWM={self.pwm_pin}  {self.loop_hz} Hz  heap {self.heap_bytes} B  "
            f"arch {arch}  wdt {wdt}  {self.description}"
        )


# --- Optional fields for finding the board and installing its runtime (kept apart from the
# [board_mode] fields): usb_ids = ["2E8A:0005"] (hex VID:PID), mpflash_board = "RPI_PICO",
# circuitpython_board = "adafruit_feather_rp2040".
_INSTALL_FIELDS = ("usb_ids", "mpflash_board", "circuitpython_board")
_USB_ID_RE = re.compile(r"^([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})$")
_MPFLASH_BOARD_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]*(-[A-Z0-9_]+)?$")
_CIRCUITPYTHON_BOARD_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def _install_fields(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Pop and check the optional USB-id / runtime-install fields of a board file."""
    out: dict[str, Any] = {}
    runtime = data.get("runtime")
    ids = data.pop("usb_ids", [])
    where = f"{path}: field 'usb_ids'"
    if not isinstance(ids, list):
        raise UserError(f'{where} must be a list like ["2E8A:0005"], got {ids!r}')
    parsed: list[tuple[int, int]] = []
    for item in ids:
        match = _USB_ID_RE.match(item) if isinstance(item, str) else None
        if match is None:
            raise UserError(f'{where}: {item!r} is not a USB id like "2E8A:0005" (hex VID:PID)')
        parsed.append((int(match.group(1), 16), int(match.group(2), 16)))
    out["usb_ids"] = tuple(parsed)
    for key, pattern, wants, example in (
        ("mpflash_board", _MPFLASH_BOARD_RE, "micropython", "RPI_PICO"),
        ("circuitpython_board", _CIRCUITPYTHON_BOARD_RE, "circuitpython", "feather_m4_express"),
    ):
        value = data.pop(key, "")
        where = f"{path}: field '{key}'"
        if not isinstance(value, str) or (value and not pattern.match(value)):
            raise UserError(f"{where} = {value!r}: expected a board id like {example!r}")
        if value and runtime != wants:
            raise UserError(f"{where}: only for {wants} boards (this one runs {runtime})")
        out[key] = value
    return out


# Field name -> (accepted types, description of the type for messages).
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "description": ((str,), "a string"),
    "runtime": ((str,), "a string"),
    "min_version": ((str,), 'a version string like "1.22"'),
    "i2c_bus": ((int,), "an integer"),
    "i2c_sda": ((int, str), "a pin number or name"),
    "i2c_scl": ((int, str), "a pin number or name"),
    "i2c_freq_hz": ((int,), "an integer"),
    "pwm_pin": ((int, str), "a pin number or name"),
    "loop_hz": ((int,), "an integer"),
    "mpy_cross_arch": ((str,), "a string"),
    "heap_bytes": ((int,), "an integer"),
    "mpy_version": ((str,), "a string"),
    "watchdog_max_ms": ((int,), "an integer"),
    "notes": ((str,), "a string"),
}
_OPTIONAL = ("mode", "board_mode", *_INSTALL_FIELDS)
_TOML_FIELDS = tuple(f.name for f in fields(Board) if f.name not in ("path", *_OPTIONAL))
assert set(_TYPES) == set(_TOML_FIELDS)
_BOARD_MODE_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "pwm_hz": ((int,), "an integer"),
    "pwm_min_us": ((int,), "an integer"),
    "pwm_max_us": ((int,), "an integer"),
    "arm_pin": ((int, str), "a pin number or name"),
    "arm_closed": ((int,), "0 or 1"),
    "led_pin": ((int, str), "a pin number or name"),
    "i2c_timeout_us": ((int,), "an integer"),
    "wdt_ms": ((int,), "an integer"),
    "backup": ((str,), "a string"),
    "imu": ((str,), "a string"),
    "imu_addr": ((int,), "an integer"),
    "imu_fs_g": ((int,), "an integer"),
    "imu_up_axis": ((str,), "a string"),
    "imu_up_sign": ((int,), "an integer"),
    "i2c_sda_name": ((str,), "a pin name"),
    "i2c_scl_name": ((str,), "a pin name"),
    "pwm_pin_name": ((str,), "a pin name"),
}
assert set(_BOARD_MODE_TYPES) == {f.name for f in fields(BoardMode)}
_BOARD_MODE_RANGES: dict[str, tuple[int, int]] = {
    "pwm_hz": (20, 400),
    "pwm_min_us": (500, 2500),  # what a servo-pulse ESC input accepts at all
    "pwm_max_us": (500, 2500),
    "arm_closed": (0, 1),
    "i2c_timeout_us": (100, 100_000),
    "wdt_ms": (0, 3_600_000),
}
# [board_mode] fields with a fixed set of values: field -> the values as the message lists them
_BOARD_MODE_CHOICES: dict[str, dict[Any, str]] = {
    "imu": {v: f'"{v}"' for v in IMUS},
    "imu_addr": {v: f"0x{v:02X}" for v in IMU_ADDRESSES},
    "imu_fs_g": {v: str(v) for v in IMU_FULL_SCALES_G},
    "imu_up_axis": {v: f'"{v}"' for v in AXES},
    "imu_up_sign": {1: "1", -1: "-1"},
}

# Field name -> (lowest, highest) accepted value for integer fields.
_RANGES: dict[str, tuple[int, int]] = {
    "i2c_bus": (0, 7),
    "i2c_freq_hz": (10_000, 1_000_000),
    "loop_hz": (1, 1000),
    "heap_bytes": (1024, 1 << 32),
    "watchdog_max_ms": (0, 3_600_000),
}


def boards_dir() -> Path:
    """The boards/ directory: $SOFTLAND_BOARDS, else the checkout this package lives in."""
    env = os.environ.get("SOFTLAND_BOARDS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "boards"


def _check_value(path: Path, key: str, value: Any) -> None:
    where = f"{path}: field '{key}'"
    types, type_text = _TYPES[key]
    # bool is an int subclass in Python; a TOML true/false is never a valid board value.
    if isinstance(value, bool) or not isinstance(value, types):
        raise UserError(f"{where} must be {type_text}, got {type(value).__name__} {value!r}")
    if isinstance(value, int) and key in _RANGES:
        low, high = _RANGES[key]
        if not low <= value <= high:
            raise UserError(f"{where} = {value} is out of range [{low}, {high}]")
    if key in ("i2c_sda", "i2c_scl", "pwm_pin"):
        if isinstance(value, int) and value < 0:
            raise UserError(f"{where} = {value}: a pin number cannot be negative")
        if isinstance(value, str) and not value.strip():
            raise UserError(f"{where} is empty: give a pin number or name")
    if key == "name" and not _NAME_RE.match(value):
        raise UserError(f"{where} = {value!r}: use lower-case letters, digits and '_'")
    if key == "name" and value != path.stem:
        raise UserError(f"{where} = {value!r} does not match the file name {path.name!r}")
    if key in ("description",) and not value.strip():
        raise UserError(f"{where} is empty")
    if key == "runtime" and value not in RUNTIMES:
        raise UserError(f"{where} = {value!r}: expected one of {', '.join(RUNTIMES)}")
    if key == "min_version" and not _VERSION_RE.match(value):
        raise UserError(f'{where} = {value!r}: expected a version like "1.22" or "1.22.2"')
    if key == "mpy_cross_arch" and value not in MPY_CROSS_ARCHES:
        choices = ", ".join(a for a in MPY_CROSS_ARCHES if a)
        raise UserError(f'{where} = {value!r}: expected "" (bytecode only) or one of {choices}')


def _board_from_file(path: Path) -> Board:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"board file {path} does not exist") from None
    except OSError as e:
        raise UserError(f"cannot read board file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a board file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML: {e}") from None
    unknown = sorted(set(data) - set(_TOML_FIELDS) - set(_OPTIONAL))
    if unknown:
        known = ", ".join((*_TOML_FIELDS, *_OPTIONAL))
        raise UserError(f"{path}: unknown field '{unknown[0]}' (board fields: {known})")
    missing = [key for key in _TOML_FIELDS if key not in data]
    if missing:
        raise UserError(f"{path}: missing field '{missing[0]}'")
    for key in _TOML_FIELDS:
        _check_value(path, key, data[key])
    install = _install_fields(path, data)
    mode = data.pop("mode", "link")
    if not isinstance(mode, str) or mode not in MODES:
        raise UserError(f"{path}: field 'mode' = {mode!r}: expected one of {', '.join(MODES)}")
    table = data.pop("board_mode", None)
    board_mode = None if table is None else _board_mode(path, table, data)
    board = Board(**data, mode=mode, board_mode=board_mode, path=path, **install)
    if mode == "board":
        check_board_mode(board)
    return board


def _board_mode(path: Path, table: Any, board: dict[str, Any]) -> BoardMode:
    if not isinstance(table, dict):
        raise UserError(f"{path}: 'board_mode' must be a table ([board_mode])")
    unknown = sorted(set(table) - set(_BOARD_MODE_TYPES))
    if unknown:
        raise UserError(
            f"{path}: unknown field 'board_mode.{unknown[0]}' "
            f"(board_mode fields: {', '.join(_BOARD_MODE_TYPES)})"
        )
    for key, value in table.items():
        where = f"{path}: field 'board_mode.{key}'"
        types, type_text = _BOARD_MODE_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise UserError(f"{where} must be {type_text}, got {type(value).__name__} {value!r}")
        if isinstance(value, int) and key in _BOARD_MODE_RANGES:
            low, high = _BOARD_MODE_RANGES[key]
            if not low <= value <= high:
                raise UserError(f"{where} = {value} is out of range [{low}, {high}]")
        if key in ("arm_pin", "led_pin") and isinstance(value, int) and value < 0:
            raise UserError(f"{where} = {value}: a pin number cannot be negative")
        if key == "backup" and value not in BACKUPS:
            raise UserError(f"{where} = {value!r}: expected one of {', '.join(BACKUPS)}")
        if key.endswith("_name") and not _PIN_NAME_RE.match(value):
            raise UserError(
                f"{where} = {value!r}: the name of a pin in CircuitPython's board module, "
                'as "D5" or "SDA" (without "board.")'
            )
        choices = _BOARD_MODE_CHOICES.get(key)
        if choices is not None and value not in choices:
            raise UserError(f"{where} = {value!r}: expected one of {', '.join(choices.values())}")
    bm = BoardMode(**table)
    where = f"{path}: field 'board_mode"
    if bm.pwm_min_us >= bm.pwm_max_us:
        raise UserError(f"{where}.pwm_min_us' = {bm.pwm_min_us}: must be below pwm_max_us")
    if bm.pwm_max_us * bm.pwm_hz >= 1_000_000:
        raise UserError(f"{where}.pwm_hz' = {bm.pwm_hz}: leaves no room for pwm_max_us")
    cap = board["watchdog_max_ms"]
    if bm.wdt_ms and cap and bm.wdt_ms > cap:
        raise UserError(f"{where}.wdt_ms' = {bm.wdt_ms}: above this board's {cap} ms")
    if bm.wdt_ms and bm.wdt_ms < 3 * 1000 // board["loop_hz"]:
        raise UserError(f"{where}.wdt_ms' = {bm.wdt_ms}: 0 (none) or at least 3 loop periods")
    tx = LIDAR_TX + (IMU_TX if bm.imu != "none" else 0)
    if tx * bm.i2c_timeout_us >= 1_000_000 // board["loop_hz"]:
        raise UserError(
            f"{where}.i2c_timeout_us' = {bm.i2c_timeout_us}: {tx} transactions a tick "
            f"(LIDAR-Lite {LIDAR_TX}{f', IMU {IMU_TX}' if tx > LIDAR_TX else ''}) timing out "
            f"must fit in a loop period ({1_000_000 // board['loop_hz']} us)"
        )
    _check_board_mode_runtime(str(path), board["runtime"], board["name"], bm)
    return bm


def check_board_mode(board: Board) -> None:
    """Can this board fly in board mode? A UserError naming what stops it."""
    where = f"{board.path or board.name}"
    for key in ("i2c_sda", "i2c_scl", "pwm_pin"):
        if getattr(board, key) == "link":
            raise UserError(
                f"{where}: field '{key}' is \"link\": board '{board.name}' has no pins of its "
                "own, it flies in link mode only"
            )
    if board.board_mode is None:
        raise UserError(f'{where}: mode "board" needs a [board_mode] table (ESC pulse, pins)')
    if not 40 <= board.loop_hz <= 200:
        raise UserError(f"{where}: field 'loop_hz' = {board.loop_hz}: board mode runs 40..200")
    _check_board_mode_runtime(where, board.runtime, board.name, board.board_mode)


# ---- board mode on CircuitPython (firmware/hal/cp_board.py): pins by name, sleep memory


def _check_board_mode_runtime(where: str, runtime: str, name: str, bm: BoardMode) -> None:
    """The [board_mode] fields that depend on the runtime: a CircuitPython board names its
    pins (board.D5 is "D5") and keeps its state in alarm.sleep_memory; a MicroPython board
    takes pin numbers (or its port's names) and keeps it in RTC memory."""
    names = ("i2c_sda_name", "i2c_scl_name", "pwm_pin_name")
    if runtime == "circuitpython":
        for key in names:
            if getattr(bm, key) is None:
                raise UserError(
                    f"{where}: field 'board_mode.{key}' is missing: board mode on "
                    "CircuitPython needs the board module's name of each pin "
                    f'({key.removesuffix("_name")}), e.g. {key} = "{_EXAMPLE_NAMES[key]}"'
                )
        for key in ("arm_pin", "led_pin"):
            value = getattr(bm, key)
            if value is not None and not (isinstance(value, str) and _PIN_NAME_RE.match(value)):
                raise UserError(
                    f"{where}: field 'board_mode.{key}' = {value!r}: a CircuitPython board "
                    'names its pins, as "D6" for board.D6'
                )
        if bm.backup == "rtc":
            raise UserError(
                f"{where}: field 'board_mode.backup' = \"rtc\": MicroPython's RTC memory; on "
                'CircuitPython: "sleep_memory", "auto" or "none"'
            )
    else:
        for key in names:
            if getattr(bm, key) is not None:
                raise UserError(
                    f"{where}: field 'board_mode.{key}': for CircuitPython boards only; "
                    f"board '{name}' runs {runtime}, whose pins are {key[:-5]}"
                )
        if bm.backup == "sleep_memory":
            raise UserError(
                f"{where}: field 'board_mode.backup' = \"sleep_memory\": CircuitPython's "
                f'alarm.sleep_memory; on {runtime}: "rtc", "auto" or "none"'
            )


_EXAMPLE_NAMES = {"i2c_sda_name": "SDA", "i2c_scl_name": "SCL", "pwm_pin_name": "D5"}


def _board_mode_config(board: Board, bm: BoardMode) -> dict[str, Any]:
    """The hal and pins of board_config.py: numbers for MicroPython's machine module, the
    board module's names for CircuitPython."""
    if board.runtime == "circuitpython":
        return {
            "hal": "circuitpython",
            "i2c_sda": bm.i2c_sda_name,
            "i2c_scl": bm.i2c_scl_name,
            "pwm_pin": bm.pwm_pin_name,
        }
    return {
        "hal": "machine",
        "i2c_id": board.i2c_bus,
        "i2c_sda": board.i2c_sda,
        "i2c_scl": board.i2c_scl,
        "pwm_pin": board.pwm_pin,
    }


def board_config(board: Board, mode: str | None = None) -> str:
    """The board_config.py the firmware's main.py reads at boot, for `mode` (default: the
    board file's). Link mode needs nothing else; board mode the bus, pins, ESC and watchdog."""
    mode = mode or board.mode
    if mode not in MODES:
        raise UserError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    values: dict[str, Any] = {"mode": mode}
    if mode == "board":
        checked = Board(**{**_as_dict(board), "mode": "board"})
        check_board_mode(checked)
        bm = board.board_mode
        assert bm is not None
        values.update(_board_mode_config(board, bm))
        values.update(
            i2c_freq=board.i2c_freq_hz,
            i2c_timeout_us=bm.i2c_timeout_us,
            loop_hz=board.loop_hz,
            pwm_hz=bm.pwm_hz,
            pwm_min_us=bm.pwm_min_us,
            pwm_max_us=bm.pwm_max_us,
            arm_pin=bm.arm_pin,
            arm_closed=bm.arm_closed,
            led_pin=bm.led_pin,
            wdt_ms=bm.wdt_ms,
            backup=bm.backup,
            imu=bm.imu,
            imu_addr=bm.imu_addr,
            imu_fs_g=bm.imu_fs_g,
            imu_up_axis=bm.imu_up_axis,
            imu_up_sign=bm.imu_up_sign,
        )
    source = board.path.name if board.path else f"{board.name}.toml"
    lines = [
        f"# board_config.py for '{board.name}' (from {source}), written by softland flash:",
        f"# {board.entry_file} reads it at boot (link: serve the host link; board: fly "
        "standalone).",
        "CONFIG = {",
        *(f"    {key!r}: {_literal(key, value)}," for key, value in values.items()),
        "}",
    ]
    return "\n".join(lines) + "\n"


def _literal(key: str, value: Any) -> str:
    """A value as board_config.py spells it (an I2C address in hex, as datasheets do)."""
    return f"0x{value:02X}" if key == "imu_addr" else repr(value)


def _as_dict(board: Board) -> dict[str, Any]:
    return {f.name: getattr(board, f.name) for f in fields(Board)}


def _looks_like_path(name_or_path: str | Path) -> bool:
    if isinstance(name_or_path, Path):
        return True
    return name_or_path.endswith(".toml") or "/" in name_or_path or os.sep in name_or_path


def load_board(name_or_path: str | Path) -> Board:
    """Load a board by name (boards/<name>.toml) or from a TOML file path."""
    if _looks_like_path(name_or_path):
        return _board_from_file(Path(name_or_path))
    directory = boards_dir()
    path = directory / f"{name_or_path}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.toml"))
        listing = ", ".join(known) if known else f"none found in {directory}"
        raise UserError(f"unknown board '{name_or_path}' (known boards: {listing})")
    return _board_from_file(path)


def list_boards() -> list[Board]:
    """Every board in the boards directory, sorted by name; any bad file is a UserError."""
    directory = boards_dir()
    if not directory.is_dir():
        raise UserError(f"boards directory {directory} does not exist (set SOFTLAND_BOARDS)")
    return [_board_from_file(p) for p in sorted(directory.glob("*.toml"))]
