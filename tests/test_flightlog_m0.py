"""The flight log on the emulated Cortex-M0 (QEMU, MicroPython 1.28, 16 MHz, heap locked): a
reset mid-descent keeps every record written before it, and the next boot appends after them
(softland.flightlog.emulated; boards/mpside/flightlog_m0.py is the board's side). Slow: the
board runs each tick in emulated instruction time."""

from __future__ import annotations

import pytest

from softland.boards.emuboard import find_image, find_qemu
from softland.errors import UserError
from softland.flightlog.emulated import run_on_m0
from softland.flightlog.reader import F_BOOT

pytestmark = pytest.mark.slow


def test_a_reset_on_the_m0_keeps_the_records_and_the_next_boot_appends() -> None:
    try:
        find_image()
        find_qemu()
    except UserError as e:
        pytest.skip(f"no emulated board here: {e}")
    ticks, after = 30, 12
    r = run_on_m0(ticks, after, capacity=64)
    assert r.faults == 0 and r.log_errors == 0
    assert r.resumed
    log = r.log
    assert log.bad == []
    # before the reset: the preflight tick, ARM, START and 30 ticks = 33 records, 32 of them
    # written in whole blocks, 1 in RAM when the reset came, taken back from its copy in
    # battery-backed RAM by the next boot
    assert r.found_seq == 31 and r.recovered == 1
    seqs = [x.seq for x in log.records]
    assert seqs == list(range(33 + after))
    boots = log.boots()
    assert [b.seq for b in boots] == [0, 33]
    assert log.records[boots[1].position].flags & F_BOOT
    assert boots[1].unlogged_ticks == 0
