"""Replaying a run's recorded inputs (inputs.bin, softland.boards.linklog) into the firmware
under CPython, byte for byte: the firmware's telemetry for every TICK frame (`softland check
--against cpython`) and what its flight was given on each tick (fsw.flight.Flight.tick's
arguments: the range as the firmware's own range driver delivered it from the recorded I2C
answers or serial bytes, and its age), which the reference model is fed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from softland.analysis.reference import TickInput
from softland.boards.firmware import fsw_module
from softland.boards.hostlink import HostLink
from softland.boards.linklog import REPLY, RESET, LinkLog
from softland.boards.runtimes import MemoryBackup
from softland.errors import UserError


@dataclass(frozen=True)
class Command:
    code: int
    param_id: int
    value: int


@dataclass(frozen=True)
class Reset:
    pass


@dataclass
class Tick:
    """One TICK frame: its number among the TICK frames, whether it came after START (a flight
    tick: telemetry.csv has a row for it), what the flight was given, the firmware's
    telemetry under CPython."""

    index: int
    flight: bool
    given: TickInput | None
    telemetry: dict[str, int] | None


@dataclass
class Replay:
    steps: list[Command | Reset | Tick] = field(default_factory=list)

    def flight_ticks(self) -> list[Tick]:
        return [s for s in self.steps if isinstance(s, Tick) and s.flight]


class _ReplayBoard:
    """The firmware's App in this process, fed the recorded bytes; answers to its requests
    come from the log, queued before the frame that makes it ask."""

    def __init__(self) -> None:
        self.backup = MemoryBackup()
        self.host = HostLink()
        self._input = bytearray()
        self.out: list[Any] = []
        self.given: list[TickInput] = []
        self.app: Any = None
        self.boot()

    def boot(self) -> None:
        self._input.clear()
        self.host.reconnect()
        self.app = fsw_module("app").App(self, self._read_into, self.backup)
        flight = self.app.flight
        tick = flight.tick

        def recording_tick(
            now_us: int,
            range_mm: int,
            range_status: int,
            acc: int,
            acc_ok: int,
            range_age_ms: int = 0,
        ) -> None:
            self.given.append(
                TickInput(now_us, range_mm, range_status, acc, bool(acc_ok), range_age_ms)
            )
            return tick(now_us, range_mm, range_status, acc, acc_ok, range_age_ms)

        flight.tick = recording_tick  # the instance's own, so that the App's calls go through it

    def write(self, buf: bytearray) -> int:
        self.out.extend(self.host.feed(bytes(buf)))
        return len(buf)

    def _read_into(self, buf: bytearray, n: int) -> int:
        m = min(n, len(buf), len(self._input))
        buf[:m] = self._input[:m]
        del self._input[:m]
        return m

    def feed(self, frame: bytes, replies: list[bytes]) -> list[Any]:
        self.out = []
        for r in replies:
            self._input += r
        self.app.feed_into(frame, len(frame))
        return self.out


def _decode_sent(raw: bytes, offset: int) -> tuple[int, bytes]:
    lk = fsw_module("link")
    got: list[tuple[int, bytes]] = []
    dec = lk.Decoder(
        lambda ftype, buf, n: got.append((ftype, bytes(buf[lk.HEADER_LEN : lk.HEADER_LEN + n])))
    )
    for b in raw:
        dec.feed(b)
    if len(got) != 1:
        raise UserError(f"inputs.bin: record {offset} is not one good frame (CRC or length)")
    return got[0]


def replay(log: LinkLog) -> Replay:
    """Every recorded frame into the firmware under CPython, in order."""
    lk = fsw_module("link")
    app_mod = fsw_module("app")
    board = _ReplayBoard()
    out = Replay()
    started = False
    ticks = 0
    records = log.records
    i = 0
    while i < len(records):
        kind, data = records[i]
        if kind == RESET:
            board.boot()
            out.steps.append(Reset())
            i += 1
            continue
        if kind == REPLY:
            raise UserError(f"inputs.bin: record {i} is an answer with no request before it")
        j = i + 1
        replies = []
        while j < len(records) and records[j][0] == REPLY:
            replies.append(records[j][1])
            j += 1
        ftype, payload = _decode_sent(data, i)
        given_before = len(board.given)
        frames = board.feed(data, replies)
        if ftype == lk.T_CMD and len(payload) == app_mod.CMD_LEN:
            cmd = Command(payload[0], payload[1], lk.get_i32(payload, 2))
            out.steps.append(cmd)
            started = started or cmd.code == app_mod.C_START
        elif ftype == lk.T_TICK:
            telem = [f for f in frames if f.ftype == lk.T_TELEM]
            given = board.given[given_before:]
            out.steps.append(
                Tick(
                    index=ticks,
                    flight=started,
                    given=given[-1] if given else None,
                    telemetry=board.host.decode_telemetry(telem[-1].payload) if telem else None,
                )
            )
            ticks += 1
        i = j
    return out
