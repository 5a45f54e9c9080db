"""The flight log in board mode (hal/board_loop.py on the `machine` stand-in of
tests/board_stand_in.py): a record per tick on the board's clock, flagged board mode, holding
what the LIDAR-Lite driver gave the flight and the telemetry the board sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from board_stand_in import BoardRig, hal_module

from softland.boards.firmware import fsw_module
from softland.errors import UserError
from softland.flightlog.reader import F_BOARD, F_FLIGHT, K_TICK, read_flight_log
from softland.flightlog.replay import replay_log


def test_board_mode_logs_every_tick_with_what_the_driver_gave(tmp_path: Path) -> None:
    path = tmp_path / "flight.log"
    rig = BoardRig()
    log = fsw_module("flightlog").open_log(str(path), 256)
    rig.app = fsw_module("app").App(rig.out, None, rig.board.backup, rig.board.i2c, log=log)
    rig.loop = hal_module("board_loop").BoardLoop(rig.board, rig.app, rig.inp)
    rig.flying()
    sent = rig.telemetry(rig.run(40))
    log.close()
    got = read_flight_log(path)
    assert got.bad == []
    ticks = [r for r in got.records if r.kind == K_TICK]
    assert all(r.flags & F_BOARD and r.flags & F_FLIGHT for r in ticks)
    by_tick = {r.telem["tick"]: r for r in ticks}
    for t in sent:
        r = by_tick[t["tick"]]
        assert r.telem == t
        # the range the flight was given is the driver's, as the telemetry reports it
        assert (r.given["range_mm"], r.given["range_status"]) == (t["range_mm"], t["rf_status"])


def test_replay_refuses_a_board_mode_log_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "flight.log"
    rig = BoardRig()
    log = fsw_module("flightlog").open_log(str(path), 64)
    rig.app = fsw_module("app").App(rig.out, None, rig.board.backup, rig.board.i2c, log=log)
    rig.loop = hal_module("board_loop").BoardLoop(rig.board, rig.app, rig.inp)
    rig.run(5)
    log.close()
    with pytest.raises(UserError, match="is a board-mode log: replay re-runs link-mode logs only"):
        replay_log(read_flight_log(path))
