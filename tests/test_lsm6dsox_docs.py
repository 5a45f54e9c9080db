"""docs/imu.md, the table at the top of fsw/lsm6dsox.py and the driver's constants agree."""

from __future__ import annotations

import re

from softland.boards.firmware import firmware_dir, fsw_module

IMU = fsw_module("lsm6dsox")
NAMES = [
    "RESET_ERRORS",
    "RESET_WAIT_US",
    "STALE_US",
    "STALE_RESET_US",
    "STUCK_N",
    "CHECK_EVERY",
    "MAX_TX",
]


def _table(text: str) -> dict[str, int]:
    rows = re.findall(r"^[#|]? *`?([A-Z_]+)`? *\|? *(0x[0-9A-F]+|\d+) ", text, re.MULTILINE)
    return {name: int(value, 0) for name, value in rows}


def test_the_driver_header_lists_every_threshold_with_its_value() -> None:
    table = _table((firmware_dir() / "fsw" / "lsm6dsox.py").read_text())
    assert {name: table.get(name) for name in NAMES} == {n: getattr(IMU, n) for n in NAMES}


def test_the_doc_lists_every_threshold_with_its_value() -> None:
    table = _table((firmware_dir().parent / "docs" / "imu.md").read_text())
    assert {name: table.get(name) for name in NAMES} == {n: getattr(IMU, n) for n in NAMES}
