"""The protocol document says what the firmware does: its parameter and event tables are
checked against fsw/params.py and fsw/flight.py."""

from __future__ import annotations

import re
from pathlib import Path

from board_stand_in import hal_module

from softland.boards.firmware import fsw_module

PROTOCOL = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def _table_rows(pattern: str) -> list[tuple[str, ...]]:
    return [m.groups() for m in re.finditer(pattern, PROTOCOL.read_text(), re.MULTILINE)]


def test_the_parameter_table_matches_the_firmware() -> None:
    params = fsw_module("params")
    rows = _table_rows(r"^\| (\d+) \| ([A-Z0-9_]+) \| (-?\d+) \| (-?\d+) \| (-?\d+) \|$")
    documented = {int(i): (name, int(d), int(lo), int(hi)) for i, name, d, lo, hi in rows}
    ids = {
        getattr(params, n): n
        for n in dir(params)
        if n.isupper() and n not in ("OK", "COUNT") and not n.startswith("E_")
    }
    firmware = {
        i: (ids[i], params.default(i), params.bounds_min(i), params.bounds_max(i))
        for i in range(params.COUNT)
    }
    assert documented == firmware


def test_every_event_code_is_documented() -> None:
    flight = fsw_module("flight")
    board = hal_module("board_loop")
    codes = {getattr(m, n): n for m in (flight, board) for n in dir(m) if n.startswith("EV_")}
    rows = _table_rows(r"^\| (\d+)\s+\| `(EV_[A-Z_]+)`")
    assert {int(code): name for code, name in rows} == codes
