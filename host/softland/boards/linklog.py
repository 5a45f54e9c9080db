"""The firmware's inputs of a run, as they reached it: every frame the host sent (parameters,
commands, TICK frames, the long-range rangefinder's SERIAL frames), every answer to a request
the firmware made mid-tick (the LIDAR-Lite's I2C_RESP frames) and every reset of the flight
computer, in order. `softland sim` (and `softland hil`) write it as inputs.bin; `softland
check` replays it, tick by tick, through the reference model or the firmware under CPython.

File layout (little-endian): the magic b"SLIN", a format version byte, then records of
kind (u8), length (u32), bytes. Kinds: SENT (a frame the host sent, raw, CRC included), REPLY
(an answer to a firmware request, raw frame), RESET (the flight computer restarted; no
bytes). A link that retries records a frame once, as the firmware acted on it."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from softland.errors import UserError

MAGIC = b"SLIN"
VERSION = 1
SENT = ord("S")
REPLY = ord("R")
RESET = ord("B")
KINDS = (SENT, REPLY, RESET)
_RECORD = struct.Struct("<BI")
_MAX_RECORD = 4096  # a frame is at most 128 bytes: anything longer is corruption


@dataclass
class LinkLog:
    """Records appended as the run goes; to_bytes() / read_link_log() for the file."""

    records: list[tuple[int, bytes]] = field(default_factory=list)

    def sent(self, frame: bytes) -> None:
        self.records.append((SENT, bytes(frame)))

    def reply(self, frame: bytes) -> None:
        self.records.append((REPLY, bytes(frame)))

    def reset(self) -> None:
        self.records.append((RESET, b""))

    def to_bytes(self) -> bytes:
        out = bytearray(MAGIC)
        out.append(VERSION)
        for kind, data in self.records:
            out += _RECORD.pack(kind, len(data))
            out += data
        return bytes(out)


def parse_link_log(data: bytes, name: str = "inputs.bin") -> LinkLog:
    """The records of a link log; a UserError naming the offset of what is wrong."""
    if data[: len(MAGIC)] != MAGIC:
        raise UserError(f"{name} is not a softland link log (no {MAGIC.decode()} header)")
    if len(data) < len(MAGIC) + 1 or data[len(MAGIC)] != VERSION:
        got = data[len(MAGIC)] if len(data) > len(MAGIC) else "none"
        raise UserError(f"{name}: link log format version {got}, expected {VERSION}")
    pos = len(MAGIC) + 1
    log = LinkLog()
    while pos < len(data):
        if pos + _RECORD.size > len(data):
            raise UserError(f"{name} is truncated at byte {pos} (a record header cut short)")
        kind, length = _RECORD.unpack_from(data, pos)
        if kind not in KINDS or length > _MAX_RECORD:
            raise UserError(f"{name}: corrupt record at byte {pos} (kind {kind}, {length} bytes)")
        pos += _RECORD.size
        if pos + length > len(data):
            raise UserError(f"{name} is truncated at byte {pos} (a record of {length} bytes)")
        log.records.append((kind, bytes(data[pos : pos + length])))
        pos += length
    return log


def read_link_log(path: Path) -> LinkLog:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(
            f"{path} not found: the run directory has no recorded inputs (written by "
            "`softland sim` and `softland hil` since issue 10)"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return parse_link_log(data, str(path))
