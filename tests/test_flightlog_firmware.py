"""The onboard flight log (firmware/fsw/flightlog.py): records written without allocation, a
header that describes them, and a log that survives a reset of the flight computer."""

from __future__ import annotations

import subprocess
from pathlib import Path

from softland.analysis.bench import MPSIDE_DIR
from softland.boards.firmware import fsw_module
from softland.boards.runtimes import micropython_env
from softland.flightlog.reader import F_BOOT, K_CMD, K_TICK, read_flight_log
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

# A flying App with a log, N tick frames fed with the heap locked (sil_frames.py)
_SCRIPT = """
import micropython
from sil_frames import Sink, descent_ticks, flying_app
from fsw.flightlog import open_log
from fsw.app import App
from hal.backup import FileBackup
import sil_frames

def main():
    log = open_log("LOGPATH", 1024, tail=FileBackup("LOGPATH.tail"))
    orig = sil_frames.App
    sil_frames.App = lambda out, r, b: orig(out, r, b, log=log)
    app, enc = flying_app(Sink())
    frames = descent_ticks(enc, N_TICKS)
    micropython.heap_lock()
    try:
        for i in range(N_TICKS):
            f = frames[i]
            app.feed_into(f, len(f))
    finally:
        micropython.heap_unlock()
    print("ticks", app.flight.ticks, "faults", app.faults, "errors", log.errors,
          "written", log.written)
    log.close()

main()
"""


def _field(out: str, name: str) -> int:
    words = out.split()
    return int(words[words.index(name) + 1])


def test_log_records_every_tick_without_allocating(any_micropython_bin: str, tmp_path: Path):
    # with its RAM block copied to a tail store every record, as the SIL runner's
    path = tmp_path / "flight.log"
    n = 1000
    script = _SCRIPT.replace("LOGPATH", str(path)).replace("N_TICKS", str(n))
    proc = subprocess.run(
        [any_micropython_bin, "-X", "heapsize=1M", "-c", script],
        capture_output=True,
        text=True,
        env=micropython_env(MPSIDE_DIR),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.strip()
    assert _field(out, "faults") == 0
    assert _field(out, "errors") == 0
    # preflight tick, ARM, START before the lock, then n ticks: 3 + n records, whole blocks
    # written under the lock (the rest by close())
    assert _field(out, "written") == (3 + n) // 4 * 4
    log = read_flight_log(path)
    assert log.bad == []
    assert [r.seq for r in log.records] == list(range(3 + n))
    assert len(log.ticks()) == 1 + n and len(log.commands()) == 2


def _tick_frame(enc, k: int):
    sil = _sil_frames()
    return sil.tick(enc, k, 3_000_000 - 1200 * k, 1620)


def _sil_frames():
    import importlib
    import sys

    if str(MPSIDE_DIR) not in sys.path:
        sys.path.insert(0, str(MPSIDE_DIR))
    fsw_module("app")  # firmware/ on the path first
    return importlib.import_module("sil_frames")


def _app(path: Path, backup, tail=None):
    fl = fsw_module("flightlog")
    log = fl.open_log(str(path), 64, tail=tail)
    return fsw_module("app").App(_sil_frames().Sink(), None, backup, log=log)


def _fly_then_reset(path: Path, backup, tail, ticks: int = 30):
    # preflight tick, ARM, START and `ticks` ticks, then a reset (the RAM block is lost)
    sil = _sil_frames()
    app = _app(path, backup, tail)
    enc = sil.link.Encoder()
    for f in (sil.tick(enc, -1, 3001000, 0), sil.command(enc, 3), sil.command(enc, 5)):
        app.feed_into(f, len(f))
    for k in range(ticks):
        f = _tick_frame(enc, k)
        app.feed_into(f, len(f))
    app.log._f.close()


def _fly_on(app, first: int, n: int) -> None:
    enc = _sil_frames().link.Encoder()
    for k in range(first, first + n):
        f = _tick_frame(enc, k)
        app.feed_into(f, len(f))
    app.log.close()


def test_without_a_tail_store_a_reset_loses_the_records_in_ram(tmp_path: Path):
    from softland.boards.runtimes import MemoryBackup

    path = tmp_path / "flight.log"
    backup = MemoryBackup()
    _fly_then_reset(path, backup, None)  # 33 records: 32 written, 1 in RAM at the reset
    app = _app(path, backup)
    assert app.resumed and app.log.found == 31 and app.log.recovered == 0
    _fly_on(app, 31, 8)
    log = read_flight_log(path)
    assert [r.seq for r in log.records] == list(range(32 + 8))
    assert log.boots()[-1].unlogged_ticks == 1


def test_with_a_tail_store_a_reset_loses_no_record(tmp_path: Path):
    from softland.boards.runtimes import MemoryBackup

    path = tmp_path / "flight.log"
    backup, tail = MemoryBackup(), MemoryBackup()
    _fly_then_reset(path, backup, tail, ticks=31)  # 34 records: 32 written, 2 in RAM
    app = _app(path, backup, tail)
    assert app.resumed and app.log.found == 31 and app.log.recovered == 2
    _fly_on(app, 32, 8)
    log = read_flight_log(path)
    assert log.bad == []
    assert [r.seq for r in log.records] == list(range(34 + 8))
    boot = log.boots()[-1]
    assert log.records[boot.position].seq == 34
    assert boot.unlogged_ticks == 0


def test_a_reset_during_a_block_write_takes_the_whole_block_from_the_tail(tmp_path: Path):
    from softland.boards.runtimes import MemoryBackup

    fl = fsw_module("flightlog")
    path = tmp_path / "flight.log"
    backup, tail = MemoryBackup(), MemoryBackup()
    _fly_then_reset(path, backup, tail, ticks=33)  # 36 records, all 9 blocks written
    # the last block's write torn by the reset: its bytes in the file are garbage
    data = bytearray(path.read_bytes())
    at = fl.HEADER_BYTES + 32 * fl.SLOT
    data[at : at + 4 * fl.SLOT] = bytes(range(256)) * 2
    path.write_bytes(data)
    app = _app(path, backup, tail)
    assert app.log.found == 31 and app.log.recovered == 4
    _fly_on(app, 34, 4)
    log = read_flight_log(path)
    assert log.bad == []
    assert [r.seq for r in log.records] == list(range(36 + 4))


def test_a_stale_tail_store_adds_nothing(tmp_path: Path):
    from softland.boards.runtimes import MemoryBackup

    path = tmp_path / "flight.log"
    backup, tail = MemoryBackup(), MemoryBackup()
    _fly_then_reset(path, backup, tail, ticks=29)  # 32 records: the tail's block is written
    app = _app(path, backup, tail)
    assert app.log.found == 31 and app.log.recovered == 0


def test_a_reset_keeps_the_written_records_and_the_next_boot_appends(tmp_path: Path):
    from softland.boards.runtimes import MemoryBackup

    sil = _sil_frames()
    path = tmp_path / "flight.log"
    backup = MemoryBackup()
    _fly_then_reset(path, backup, None)  # 33 records: 32 written, 1 in RAM at the reset
    app = _app(path, backup)
    assert app.resumed and app.log.found == 31
    enc = sil.link.Encoder()
    for k in range(31, 31 + 40):  # wraps the 64-slot ring: 32 + 40 > 64
        f = _tick_frame(enc, k)
        app.feed_into(f, len(f))
    app.log.close()
    log = read_flight_log(path)
    assert log.bad == []
    seqs = [r.seq for r in log.records]
    assert seqs == list(range(72 - 64, 72))  # the ring keeps the newest 64
    boot = log.boots()[-1]
    assert log.records[boot.position].seq == 32 and log.records[boot.position].flags & F_BOOT
    assert boot.unlogged_ticks == 1  # the tick in RAM at the reset


def test_the_header_names_the_telemetry_fields_at_their_offsets(tmp_path: Path):
    fl = fsw_module("flightlog")
    tm = fsw_module("telemetry")
    log = fl.open_log(str(tmp_path / "x.log"), 8)
    log._f.close()
    layout = read_flight_log(tmp_path / "x.log").layout
    assert len(layout.telem) == len(fl.TELEM_NAMES.split())
    for name, f in layout.telem.items():
        assert getattr(tm, name.upper()) == f.offset - fl.TELEM, name
    import fsw

    assert layout.firmware == fsw.VERSION


def _sim(tmp_path: Path, scenario: str, runtime: str):
    path = tmp_path / f"{scenario}-{runtime}.log"
    s = load_scenario(scenario)
    result = run_scenario(s, runtime, flightlog=path)
    return result, read_flight_log(path)


def _check_against_telemetry(result, log) -> tuple[int, int]:
    # every logged tick equals the telemetry the host received for that tick; returns the
    # tick records before and after the reset
    by_tick = {}
    for row in result.telemetry:
        by_tick.setdefault(row["tick"], row)
    assert log.bad == []
    for r in log.ticks():
        row = by_tick.get(r.telem["tick"])
        if row is None:
            continue  # a tick whose telemetry the rig did not record (preflight)
        for name, value in r.telem.items():
            assert row[name] == value, (r.seq, name)
    boots = log.boots()
    assert len(boots) == 2
    reset_at = boots[1].position
    before = sum(1 for r in log.records[:reset_at] if r.kind == K_TICK)
    after = sum(1 for r in log.records[reset_at:] if r.kind == K_TICK)
    return before, after


def test_sim_log_across_a_reset_holds_every_written_record_cpython(tmp_path: Path) -> None:
    result, log = _sim(tmp_path, "beresheet", "cpython")
    before, after = _check_against_telemetry(result, log)
    assert result.summary["computer_resets"] == 1
    assert [r.seq for r in log.records] == list(range(len(log.records)))
    assert log.boots()[1].unlogged_ticks == 0  # the RAM block taken back from the tail
    assert before > 1000 and after > 1000
    assert sum(1 for r in log.records if r.kind == K_CMD) == len(log.commands())


def test_sim_log_across_a_reset_mid_block_loses_no_record(tmp_path: Path) -> None:
    # seed 2's reset comes with 3 records in the RAM block
    path = tmp_path / "b2.log"
    result = run_scenario(load_scenario("beresheet"), "cpython", seed=2, flightlog=path)
    log = read_flight_log(path)
    _check_against_telemetry(result, log)
    assert [r.seq for r in log.records] == list(range(len(log.records)))
    assert log.boots()[1].unlogged_ticks == 0


def test_sim_log_is_the_same_file_under_micropython(micropython_bin: str, tmp_path: Path):
    result, log = _sim(tmp_path, "beresheet", "micropython")
    _check_against_telemetry(result, log)
    cp = tmp_path / "beresheet-cpython.log"
    run_scenario(load_scenario("beresheet"), "cpython", flightlog=cp)
    assert (tmp_path / "beresheet-micropython.log").read_bytes() == cp.read_bytes()


def test_the_log_leaves_every_telemetry_byte_as_it_was(tmp_path: Path) -> None:
    s = load_scenario("nominal")
    with_log = run_scenario(s, "cpython", flightlog=tmp_path / "n.log")
    without = run_scenario(s, "cpython")
    assert with_log.summary["telemetry_sha256"] == without.summary["telemetry_sha256"]


def test_sim_log_is_the_same_file_under_the_32_bit_port(micropython32_bin: str, tmp_path: Path):
    result, log = _sim(tmp_path, "beresheet", "micropython32")
    _check_against_telemetry(result, log)
    cp = tmp_path / "beresheet-cpython.log"
    run_scenario(load_scenario("beresheet"), "cpython", flightlog=cp)
    assert (tmp_path / "beresheet-micropython32.log").read_bytes() == cp.read_bytes()
