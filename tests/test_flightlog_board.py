"""The flight log in board mode (hal/board_loop.py on the `machine` stand-in of
tests/board_stand_in.py): a record per tick on the board's clock, flagged board mode, holding
what the LIDAR-Lite driver gave the flight and the telemetry the board sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from board_stand_in import BoardRig, hal_module

from softland.boards.firmware import fsw_module
from softland.boards.runtimes import find_micropython
from softland.flightlog.reader import F_BOARD, F_FLIGHT, F_OPEN, K_TICK, read_flight_log
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


def _board_log(tmp_path: Path, fly) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "flight.log"
    rig = BoardRig()
    log = fsw_module("flightlog").open_log(str(path), 1024)
    rig.app = fsw_module("app").App(rig.out, None, rig.board.backup, rig.board.i2c, log=log)
    rig.loop = hal_module("board_loop").BoardLoop(rig.board, rig.app, rig.inp)
    fly(rig)
    log.close()
    return path


def _arm_refused_then_flown_then_switch_opened(rig) -> None:  # type: ignore[no-untyped-def]
    app = fsw_module("app")
    rig.run(5)  # the switch open: an ARM is refused
    rig.send(app.C_ARM, 0, app.ARM_OVERRIDE)
    rig.run(1)
    assert rig.acks()[-1]["value"] == app.AR_ARM_SWITCH
    rig.flying()
    rig.run(60)
    rig.open_switch()  # mid-descent: the board loop aborts
    rig.run(10)
    assert rig.app.flight.mode == fsw_module("flight").ABORT


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_board_mode_log_replays_without_divergence(tmp_path: Path, runtime: str) -> None:
    if runtime == "micropython" and find_micropython(None) is None:
        pytest.skip("no MicroPython unix port here")
    log = read_flight_log(_board_log(tmp_path, _arm_refused_then_flown_then_switch_opened))
    assert any(r.flags & F_OPEN for r in log.records)
    res = replay_log(log, runtime)
    assert res.divergence is None and res.stopped is None
    assert res.compared_ticks == len(log.ticks()) and res.compared_commands == 3


def test_a_board_mode_replay_needs_the_logged_arming_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a log whose switch flags were lost: the replay keeps the switch closed, so the refused
    # ARM is accepted and the replay diverges at that ACK
    log = read_flight_log(_board_log(tmp_path, _arm_refused_then_flown_then_switch_opened))
    for r in log.records:
        object.__setattr__(r, "flags", r.flags & ~F_OPEN)
    monkeypatch.setattr("softland.flightlog.replay._switch_at", lambda log, i: 2)
    res = replay_log(log)
    assert res.divergence is not None and res.divergence.channel.startswith("ack.")
