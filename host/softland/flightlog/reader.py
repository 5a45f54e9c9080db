"""Reading an onboard flight log (firmware/fsw/flightlog.py, docs/flightlog.md) by the layout
its own header describes, so that a log of an older firmware reads as it was written.

Every slot of the ring is checked on its own (sync, length, type, CRC-32): a good record is
kept whatever is wrong around it; a bad one is counted with its slot index and file offset;
an all-zero slot was never written. Good records are put in sequence-number order; a record
flagged F_BOOT starts a new boot, and the tick counter across it tells how many ticks went
unlogged (the RAM block a reset lost)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from softland.errors import UserError

TITLE = "softland flight log"
SUPPORTED_FORMATS = (1,)
K_TICK = 1
K_CMD = 2
F_BOOT = 1
F_FLIGHT = 2
F_BOARD = 4
F_OPEN = 8  # board mode: the arming switch was open at this tick
_UNPACK = {"i32": "<i", "u16": "<H", "u8": "B"}
_FRAME_OVERHEAD = 10
_HEADER_LEN = 5


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # i32, u16, u8 (or a byte count for the command's raw payloads)
    offset: int  # in the record payload


@dataclass(frozen=True)
class Layout:
    """What a log's header says."""

    format: int
    firmware: str
    slot: int
    payload: int
    frame_type: int
    batch: int
    capacity: int
    header_bytes: int
    fields: dict[str, Field]
    given: dict[str, Field]
    telem: dict[str, Field]
    command: dict[str, Field]


@dataclass
class Record:
    index: int  # slot index in the ring
    offset: int  # file offset of the slot
    seq: int
    kind: int
    flags: int
    given: dict[str, int] | None  # tick records whose flight ran
    telem: dict[str, int] | None  # tick records
    cmd: bytes | None  # command records: the CMD payload
    ack: bytes | None  # command records: the ACK payload


@dataclass(frozen=True)
class BadRecord:
    index: int
    offset: int
    reason: str


@dataclass(frozen=True)
class Boot:
    """A boot seen in the log: the record it starts at (position in records), and the ticks
    the firmware counted between the last record before it and the first after it that no
    record holds (None: the first boot in the log)."""

    position: int
    seq: int
    unlogged_ticks: int | None


@dataclass
class FlightLogData:
    path: str
    layout: Layout
    records: list[Record] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    unused_slots: int = 0
    truncated_bytes: int = 0  # bytes of a last slot cut short

    def ticks(self) -> list[Record]:
        return [r for r in self.records if r.kind == K_TICK]

    def commands(self) -> list[Record]:
        return [r for r in self.records if r.kind == K_CMD]

    def boots(self) -> list[Boot]:
        out: list[Boot] = []
        last_tick: int | None = None
        for i, r in enumerate(self.records):
            if r.flags & F_BOOT:
                lost = None
                if r.telem is not None and last_tick is not None:
                    lost = (r.telem["tick"] - last_tick - 1) & 0x3FFFFFFF
                out.append(Boot(i, r.seq, lost))
            if r.telem is not None:
                last_tick = r.telem["tick"]
        return out

    def seq_gaps(self) -> list[tuple[int, int]]:
        """(after seq, missing count) wherever consecutive good records skip numbers."""
        gaps = []
        for a, b in zip(self.records, self.records[1:], strict=False):
            if b.seq != a.seq + 1:
                gaps.append((a.seq, b.seq - a.seq - 1))
        return gaps

    def damage(self) -> str | None:
        """One line on what is wrong with the file (None: nothing)."""
        parts = []
        if self.bad:
            where = ", ".join(f"#{b.index} @{b.offset} ({b.reason})" for b in self.bad[:8])
            more = f" and {len(self.bad) - 8} more" if len(self.bad) > 8 else ""
            parts.append(f"{len(self.bad)} corrupted record(s) skipped: {where}{more}")
        if self.truncated_bytes:
            parts.append(f"truncated: the last slot has {self.truncated_bytes} bytes")
        if not parts:
            return None
        return f"{self.path}: " + "; ".join(parts) + f" ({len(self.records)} good records kept)"

    def summary(self) -> str:
        boots = self.boots()
        lost = [b.unlogged_ticks for b in boots if b.unlogged_ticks]
        return (
            f"{self.path}: firmware {self.layout.firmware}, {len(self.records)} records "
            f"({len(self.ticks())} ticks, {len(self.commands())} commands), "
            f"{len(boots)} boot(s), {sum(lost)} tick(s) unlogged at resets, "
            f"{len(self.bad)} corrupted, {self.unused_slots} unused slots"
        )


def parse_header(data: bytes, name: str) -> Layout:
    end = data.find(b"\nend\n")
    if not data.startswith(TITLE.encode()) or end < 0:
        raise UserError(f"{name} is not a softland flight log (no '{TITLE}' header)")
    lines = data[: end + 1].decode("ascii", errors="replace").splitlines()
    kv: dict[str, str] = {}
    groups: dict[str, dict[str, Field]] = {"field": {}, "given": {}, "telem": {}, "command": {}}
    try:
        for line in lines[1:]:
            words = line.split()
            if not words:
                continue
            if words[0] in groups:
                groups[words[0]][words[1]] = Field(words[1], words[2], int(words[3]))
            elif words[0] == "slot":
                kv.update(zip(words[0::2], words[1::2], strict=False))
            else:
                kv[words[0]] = " ".join(words[1:])
        layout = Layout(
            format=int(kv["format"]),
            firmware=kv.get("firmware", "?"),
            slot=int(kv["slot"]),
            payload=int(kv["payload"]),
            frame_type=int(kv["type"]),
            batch=int(kv["batch"]),
            capacity=int(kv["capacity"]),
            header_bytes=int(kv["header"]),
            fields=groups["field"],
            given=groups["given"],
            telem=groups["telem"],
            command=groups["command"],
        )
    except (KeyError, ValueError, IndexError):
        raise UserError(f"{name}: flight log header is malformed") from None
    if layout.format not in SUPPORTED_FORMATS:
        raise UserError(f"{name}: flight log format {layout.format} is not one this tool reads")
    if layout.slot < layout.payload + _FRAME_OVERHEAD or layout.header_bytes < end:
        raise UserError(f"{name}: flight log header is malformed (slot or header size)")
    return layout


def _values(payload: bytes, fields: dict[str, Field]) -> dict[str, int]:
    return {
        f.name: struct.unpack_from(_UNPACK[f.kind], payload, f.offset)[0] for f in fields.values()
    }


def _check_slot(raw: bytes, layout: Layout) -> str | None:
    n = layout.payload
    if raw[0] != 0xA5 or raw[1] != 0x5A:
        return "no record start"
    if raw[2] != n or raw[3] != layout.frame_type:
        return "wrong length or type"
    end = _HEADER_LEN + n + 1
    crc = struct.unpack_from("<I", raw, end)[0]
    if zlib.crc32(raw[2:end]) != crc:
        return "CRC mismatch"
    return None


def parse_flight_log(data: bytes, name: str = "flight log") -> FlightLogData:
    layout = parse_header(data, name)
    out = FlightLogData(name, layout)
    pos = layout.header_bytes
    index = 0
    seen: set[int] = set()
    while pos < len(data) and index < layout.capacity:
        raw = data[pos : pos + layout.slot]
        if len(raw) < layout.slot:
            out.truncated_bytes = len(raw)
            if any(raw):
                out.bad.append(BadRecord(index, pos, f"cut short at {len(raw)} bytes"))
            break
        if not any(raw):
            out.unused_slots += 1
        else:
            problem = _check_slot(raw, layout)
            if problem is None:
                payload = raw[_HEADER_LEN : _HEADER_LEN + layout.payload]
                head = _values(payload, layout.fields)
                if head["seq"] in seen:
                    problem = f"sequence number {head['seq']} repeated"
                else:
                    seen.add(head["seq"])
                    out.records.append(_record(index, pos, head, payload, layout))
            if problem is not None:
                out.bad.append(BadRecord(index, pos, problem))
        pos += layout.slot
        index += 1
    out.records.sort(key=lambda r: r.seq)
    return out


def _record(index: int, pos: int, head: dict[str, int], payload: bytes, layout: Layout) -> Record:
    kind, flags = head["kind"], head["flags"]
    given = telem = None
    cmd = ack = None
    if kind == K_TICK:
        telem = _values(payload, layout.telem)
        if flags & F_FLIGHT:
            given = _values(payload, layout.given)
    elif kind == K_CMD:
        c, a = layout.command["cmd"], layout.command["ack"]
        cmd = bytes(payload[c.offset : c.offset + int(c.kind)])
        ack = bytes(payload[a.offset : a.offset + int(a.kind)])
    return Record(index, pos, head["seq"], kind, flags, given, telem, cmd, ack)


def read_flight_log(path: Path) -> FlightLogData:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"flight log {path} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"flight log {path} is a directory, not a file") from None
    except OSError as exc:
        raise UserError(f"cannot read flight log {path}: {exc.strerror}") from None
    return parse_flight_log(data, str(path))
