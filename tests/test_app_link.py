"""The firmware's link application: what it does with good, bad and odd frames."""

from __future__ import annotations

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import HostLink
from softland.boards.runtimes import CPythonRuntime

app_mod = fsw_module("app")
flags = fsw_module("flags")
link = fsw_module("link")


def _exchange(rt: CPythonRuntime, host: HostLink, frame: bytes) -> list:
    rt.send(frame)
    return host.feed(rt.receive(0))


def _telemetry(frames: list, host: HostLink) -> dict[str, int]:
    tel = [f for f in frames if f.ftype == link.T_TELEM]
    assert len(tel) == 1
    return host.decode_telemetry(tel[0].payload)


def test_a_corrupted_tick_is_counted_and_not_acted_on() -> None:
    rt, host = CPythonRuntime(), HostLink()
    bad = bytearray(host.tick_frame(0, 1000, 4, 1620, True))
    bad[8] ^= 0x01
    assert _exchange(rt, host, bytes(bad)) == []
    assert rt.app.flight.ticks == 0
    tel = _telemetry(_exchange(rt, host, host.tick_frame(20000, 1000, 4, 1620, True)), host)
    assert tel["tick"] == 1
    assert tel["link_errors"] == 1
    assert tel["flags"] & flags.LINK_ERR


def test_a_tick_of_the_wrong_size_gets_telemetry_but_no_tick() -> None:
    rt, host = CPythonRuntime(), HostLink()
    short = host._frame(link.T_TICK, bytearray(3))
    tel = _telemetry(_exchange(rt, host, short), host)
    assert rt.app.flight.ticks == 0
    assert tel["link_errors"] == 1
    assert tel["flags"] & flags.LINK_ERR


def test_a_command_of_the_wrong_size_is_refused_without_echoing_junk() -> None:
    rt, host = CPythonRuntime(), HostLink()
    frames = _exchange(rt, host, host._frame(link.T_CMD, bytearray(2)))
    ack = host.decode_ack(frames[-1].payload)
    assert ack == {"code": 0, "id": 0, "result": app_mod.E_BAD_FRAME, "mode": 0, "value": 0}


def test_set_param_outside_its_range_is_refused() -> None:
    rt, host = CPythonRuntime(), HostLink()
    params = fsw_module("params")
    frames = _exchange(rt, host, host.command_frame(app_mod.C_SET_PARAM, params.PERIOD_MS, 1000))
    assert host.decode_ack(frames[-1].payload)["result"] == params.E_RANGE
    assert rt.app.params.v[params.PERIOD_MS] == 20


def test_parameters_cannot_change_in_flight() -> None:
    rt, host = CPythonRuntime(), HostLink()
    params = fsw_module("params")
    _exchange(rt, host, host.tick_frame(0, 3_000_000, 3, 0, True))  # preflight: sensors read
    _exchange(rt, host, host.command_frame(app_mod.C_ARM))
    assert rt.app.flight.mode == 1
    frames = _exchange(rt, host, host.command_frame(app_mod.C_SET_PARAM, params.KP_Q12, 100))
    assert host.decode_ack(frames[-1].payload)["result"] == params.E_MODE


def test_a_replayed_command_is_dropped() -> None:
    rt, host = CPythonRuntime(), HostLink()
    arm = host.command_frame(app_mod.C_ARM)
    _exchange(rt, host, arm)
    _exchange(rt, host, host.command_frame(app_mod.C_DISARM))
    assert _exchange(rt, host, arm) == []  # same sequence number as before: not acted on
    assert rt.app.flight.mode == 0
    assert rt.app.dec.out_of_seq == 1


def test_a_restarted_host_is_accepted_after_three_consecutive_frames() -> None:
    rt, host = CPythonRuntime(), HostLink()
    for _ in range(10):
        _exchange(rt, host, host.command_frame(app_mod.C_PING))
    restarted = HostLink()  # numbering starts at 0 again
    replies = [_exchange(rt, restarted, restarted.command_frame(app_mod.C_PING)) for _ in range(4)]
    assert [len(r) for r in replies] == [0, 0, 1, 1]
