"""The host names every event the firmware can send: an event code the host does not know
would show as "eventN" in summaries and reports."""

from __future__ import annotations

import re

from softland.boards.firmware import firmware_dir
from softland.boards.hostlink import EVENTS

# event codes are declared as EV_NAME = const(N) in the flight and in the board loop (fsw/app.py's
# EV_CODE/EV_MODE/EV_ARG/EV_LEN are the event payload's layout, not codes)
SOURCES = ("fsw/flight.py", "hal/board_loop.py")
DECL = re.compile(r"^(EV_[A-Z_]+) = const\((\d+)\)", re.M)


def test_every_firmware_event_code_has_a_host_name() -> None:
    codes = {}
    for rel in SOURCES:
        for name, value in DECL.findall((firmware_dir() / rel).read_text()):
            codes[int(value)] = name
    assert codes, "no event codes found"
    missing = {code: name for code, name in codes.items() if code not in EVENTS}
    assert not missing


def test_event_codes_are_unique_across_the_flight_and_the_board_loop() -> None:
    seen: dict[int, str] = {}
    for rel in SOURCES:
        for name, value in DECL.findall((firmware_dir() / rel).read_text()):
            assert int(value) not in seen, (name, seen.get(int(value)))
            seen[int(value)] = name
