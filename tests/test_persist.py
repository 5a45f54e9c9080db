"""State persistence across a flight-computer reset (fsw.persist, the app's backup store):
a reset mid-burn resumes the descent on the first tick after the boot, and nothing that is
not a whole record of a descent in progress is ever resumed from."""

from __future__ import annotations

from typing import Any

import pytest

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import HostLink
from softland.boards.runtimes import CPythonRuntime, MemoryBackup

app_mod = fsw_module("app")
flight_mod = fsw_module("flight")
params_mod = fsw_module("params")

# per-tick outputs, recomputed by every tick; everything else a component holds is state
PER_TICK = {"flags", "flags2", "range_mm", "acc_ok_in", "rf_status_in"}
REFERENCES = {"params", "p", "est", "guid", "ctrl", "land", "_event", "resuming"}
# not persisted on purpose: the accelerometer monitor starts over after a reset (its steps
# and levels against an engine the reset cut mean nothing; docs/imu.md)
RESTARTED = {"acc"}
# fsw.persist's bookkeeping, not flight state: the estimator's counters of changes to its
# STATE_COLD and STATE_RARE values (a booted estimator counts from zero)
BOOKKEEPING = {"cold_ver", "rare_ver"}


def _fly(rt: CPythonRuntime, host: HostLink, ticks: int, start_tick: int = 0) -> list[dict]:
    """Ticks of a lunar descent with a falling vehicle (range good, engine as commanded)."""
    out = []
    alt_mm, vel_mm_s = 3_000_000, -60_000
    for k in range(start_tick, start_tick + ticks):
        frames = _exchange(rt, host, host.tick_frame(k * 20_000, alt_mm + 1000, 0, 0, True))
        out.extend(frames)
        alt_mm += vel_mm_s // 50
        vel_mm_s -= 1620 // 50
    return out


def _exchange(rt: CPythonRuntime, host: HostLink, frame: bytes) -> list:
    frames: list = []
    rt.attach(lambda chunk: frames.extend(host.feed(chunk)))
    rt.send(frame)
    return frames


def _started(backup: MemoryBackup | None = None) -> tuple[CPythonRuntime, HostLink]:
    rt = CPythonRuntime()
    if backup is not None:
        rt.backup = backup
        rt.restart()
    host = HostLink()
    _preflight_tick(rt, host)
    for code in (app_mod.C_ARM, app_mod.C_START):
        _exchange(rt, host, host.command_frame(code))
    assert rt.app.flight.mode == flight_mod.DESCENT
    return rt, host


def _preflight_tick(rt: CPythonRuntime, host: HostLink) -> None:
    # the sensors read once in SAFE (rangefinder answering, out of range), as ARM requires
    _exchange(rt, host, host.tick_frame((1 << 30) - 20_000, 3_001_000, 3, 0, True))


def _state(app: Any) -> dict[str, dict[str, Any]]:
    fl = app.flight
    parts = {"flight": fl, "est": fl.est, "guid": fl.guid, "ctrl": fl.ctrl, "land": fl.land}
    return {
        # (callables: the bound methods a component holds of another, references too)
        name: {
            k: v
            for k, v in vars(part).items()
            if k not in PER_TICK | REFERENCES | RESTARTED | BOOKKEEPING and not callable(v)
        }
        for name, part in parts.items()
    } | {"params": {"v": list(fl.params.v)}}


def test_every_state_attribute_of_the_flight_survives_a_reset() -> None:
    rt, host = _started()
    _fly(rt, host, 200)
    before = _state(rt.app)
    rt.restart()
    assert rt.app.resumed
    assert _state(rt.app) == before


def test_the_first_tick_after_the_boot_flies_with_the_engine_lit() -> None:
    rt, host = _started()
    _fly(rt, host, 700)  # past the engine check, braking
    assert rt.app.flight.ctrl.engine_on
    rt.restart()
    host = HostLink()  # the link starts over with the board
    frames = _fly(rt, host, 1, start_tick=760)  # 1.2 s later
    telemetry = [host.decode_telemetry(f.payload) for f in frames if f.ftype == host.link.T_TELEM]
    assert telemetry[0]["mode"] == flight_mod.DESCENT
    assert telemetry[0]["throttle_q15"] > 0


def test_the_resume_tick_reports_the_outage_and_propagates_across_it() -> None:
    rt, host = _started()
    _fly(rt, host, 700)
    alt_before = rt.app.flight.est.alt_mm
    vel_before = rt.app.flight.est.vel_mm_s()
    rt.restart()
    host = HostLink()
    frames = _fly(rt, host, 1, start_tick=749)  # 50 periods after the last saved tick
    events = [host.decode_event(f.payload) for f in frames if f.ftype == host.link.T_EVENT]
    resumed = [e for e in events if e["name"] == "resumed"]
    assert [e["arg"] for e in resumed] == [1000]
    # a second of sinking at ~vel: the estimate moved down by about that much
    moved = alt_before - rt.app.flight.est.alt_mm
    assert moved == pytest.approx(-vel_before, rel=0.1)


def test_a_torn_write_resumes_from_the_previous_tick() -> None:
    rt, host = _started()
    _fly(rt, host, 300)
    tick_before = rt.app.flight.ticks
    record = rt.backup.data
    newest = rt.app.persist._slot * rt.app.persist.slot_size
    record[newest + 40] ^= 0xFF  # the reset hit while this slot was being written
    rt.restart()
    assert rt.app.resumed
    assert rt.app.flight.ticks == tick_before - 1


def test_a_parameter_changed_in_safe_is_in_the_record_a_reset_resumes_from() -> None:
    # parameters are repacked into a slot only when they changed since that slot was written
    rt = CPythonRuntime()
    host = HostLink()
    for _ in range(2):
        _preflight_tick(rt, host)  # both slots written with the default parameters
    gate = params_mod.default(params_mod.GATE_MM) + 1234
    _exchange(rt, host, host.command_frame(app_mod.C_SET_PARAM, params_mod.GATE_MM, gate))
    for code in (app_mod.C_ARM, app_mod.C_START):
        _exchange(rt, host, host.command_frame(code))
    for ticks in (1, 2):  # the newest slot, then the other one, as the newest
        _fly(rt, host, ticks, start_tick=10 * ticks)
        rt.restart()
        assert rt.app.resumed
        assert rt.app.params.v[params_mod.GATE_MM] == gate


def test_a_write_torn_inside_the_state_resumes_from_the_previous_tick() -> None:
    # the reset hit after the slot's head (new sequence number) and part of its state were
    # written: its tail still holds the old sequence number
    rt, host = _started()
    _fly(rt, host, 300)
    tick_before = rt.app.flight.ticks
    pe = rt.app.persist
    record = rt.backup.data
    newest = pe._slot * pe.slot_size
    tail = newest + pe.slot_size - 4
    record[tail] ^= 0x01
    rt.restart()
    assert rt.app.resumed
    assert rt.app.flight.ticks == tick_before - 1


def test_a_record_with_both_slots_damaged_boots_into_safe() -> None:
    rt, host = _started()
    _fly(rt, host, 50)
    size = rt.app.persist.slot_size
    rt.backup.data[40] ^= 0x01
    rt.backup.data[size + 40] ^= 0x01
    rt.restart()
    assert not rt.app.resumed
    assert rt.app.flight.mode == flight_mod.SAFE
    assert rt.app.params.v == params_mod.Params().v


def test_a_short_or_empty_store_boots_into_safe() -> None:
    for data in (b"", b"\x53\x4c\x01", bytes(10_000)):
        backup = MemoryBackup()
        backup.data[:] = data
        app = app_mod.App(CPythonRuntime(), None, backup)
        assert not app.resumed
        assert app.flight.mode == flight_mod.SAFE


def test_a_finished_flight_is_not_resumed() -> None:
    rt, host = _started()
    _fly(rt, host, 10)
    _exchange(rt, host, host.command_frame(app_mod.C_ABORT))
    rt.app.flight.set_mode(flight_mod.LANDED)
    _fly(rt, host, 1, start_tick=10)  # the landed state is saved
    rt.restart()
    assert rt.app.flight.mode == flight_mod.SAFE


def test_a_record_of_another_firmware_layout_is_not_resumed() -> None:
    rt, host = _started()
    _fly(rt, host, 10)
    for base in (0, rt.app.persist.slot_size):
        rt.backup.data[base + 4] += 1  # a different state count
    rt.restart()
    assert not rt.app.resumed


def test_the_volatile_baseline_keeps_nothing_across_a_reset() -> None:
    rt = CPythonRuntime()
    host = HostLink()
    _exchange(rt, host, host.command_frame(app_mod.C_SET_PARAM, params_mod.BASELINE, 3))
    _preflight_tick(rt, host)
    for code in (app_mod.C_ARM, app_mod.C_START):
        _exchange(rt, host, host.command_frame(code))
    assert rt.app.flight.mode == flight_mod.DESCENT
    _fly(rt, host, 100)
    assert rt.backup.data == bytearray()
    rt.restart()
    assert rt.app.flight.mode == flight_mod.SAFE


def test_a_failing_store_costs_a_fault_not_the_answer() -> None:
    class Broken(MemoryBackup):
        def write(self, buf: bytearray) -> None:
            raise OSError(5, "EIO")

    rt = CPythonRuntime()
    rt.backup = Broken()
    rt.restart()
    host = HostLink()
    frames = _exchange(rt, host, host.command_frame(app_mod.C_ARM))
    assert any(f.ftype == host.link.T_ACK for f in frames)
    assert rt.app.faults == 1


def test_the_resume_tick_sets_the_resumed_decision_bit() -> None:
    flags = fsw_module("flags")
    rt, host = _started()
    _fly(rt, host, 100)
    rt.restart()
    host = HostLink()
    frames = _fly(rt, host, 2, start_tick=110)
    telemetry = [host.decode_telemetry(f.payload) for f in frames if f.ftype == host.link.T_TELEM]
    assert [bool(t["flags2"] & flags.RESUMED) for t in telemetry] == [True, False]


def test_the_accelerometer_monitor_starts_over_after_a_reset() -> None:
    rt, host = _started()
    _fly(rt, host, 200)
    rt.app.flight.acc[flight_mod._A_GOOD] = 0  # distrusted before the reset
    rt.restart()
    assert rt.app.flight.acc[flight_mod._A_GOOD] == 1
    assert rt.app.flight.acc[flight_mod._A_SAME] == -1  # the next sample is its first


class _CheckingRuntime(CPythonRuntime):
    """After every frame the host sends: the slot the firmware wrote last holds the whole
    state as it is now (the cold values, repacked only when the estimator's cold_ver moved,
    included)."""

    checked = 0

    def send(self, data: bytes) -> None:
        super().send(data)
        pe = self.app.persist
        base = pe._slot * pe.slot_size
        want = []
        for k, name, i in pe._fields:
            x = getattr(pe.parts[k], name)
            want.append(x[i] if i >= 0 else int(x))
        got = [
            int.from_bytes(pe.record[o : o + 4], "little", signed=True)
            for o in range(base + pe._state, base + pe._tail, 4)
        ]
        assert got == want, f"tick {self.app.flight.ticks}: the record is not the state"
        self.checked += 1


@pytest.mark.parametrize(
    "scenario", ["nominal", "false-return-long", "false-return-short", "ispace-m1", "im1"]
)
def test_every_saved_record_holds_the_whole_state_of_its_tick(scenario: str) -> None:
    # re-bases, reverts, candidates, exclusion and the blind descent change the estimator's
    # cold values: each change reaches both slots
    from softland.simulation.scenario import load_scenario
    from softland.simulation.sim import fly

    s = load_scenario(scenario)
    rt = _CheckingRuntime()
    try:
        fly(s, rt, s.seed)
    finally:
        rt.close()
    assert rt.checked > 1000
