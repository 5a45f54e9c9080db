"""The board's drop dump on the wire (firmware/drop.py: HEAD, DATA, END frames in the link's
frame format) turned into a DropCapture. The frames are found by their sync bytes and CRC only
(``split_frames``): the console also carries the raw REPL's text, and in the tests the
stand-in board's own request frames."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from softland.drop.capture import DropCapture, unwrap_ticks
from softland.errors import UserError

T_DROP_HEAD = 0xA0
T_DROP_DATA = 0xA1
T_DROP_END = 0xA2
REC_LEN = 10
VARIANTS = {0: "none", 1: "v3", 2: "v3hp"}
_MAX_PAYLOAD = 120


def split_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Complete, CRC-good frames at the front of ``buf`` (removed from it) as (type,
    payload); bytes that belong to no frame are dropped."""
    out: list[tuple[int, bytes]] = []
    while True:
        i = buf.find(b"\xa5\x5a")
        if i < 0:
            del buf[: max(0, len(buf) - 1)]
            return out
        del buf[:i]
        if len(buf) < 5:
            return out
        n = buf[2]
        if n > _MAX_PAYLOAD:
            del buf[:1]
            continue
        end = 5 + n + 5
        if len(buf) < end:
            return out
        crc = int.from_bytes(buf[end - 4 : end], "little")
        if zlib.crc32(bytes(buf[2 : end - 4])) != crc:
            del buf[:1]
            continue
        out.append((buf[3], bytes(buf[5 : 5 + n])))
        del buf[:end]


def _i32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 4], "little", signed=True)


def _u16(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 2], "little")


@dataclass
class DropAssembler:
    """Collects HEAD / DATA / END frames; ``done`` once END is in, ``capture()`` then."""

    source: str
    head: bytes | None = None
    end: bytes | None = None
    records: dict[int, bytes] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.end is not None

    def feed(self, ftype: int, payload: bytes) -> None:
        if ftype == T_DROP_HEAD:
            self.head = payload
            self.records.clear()
            self.end = None
        elif ftype == T_DROP_DATA and self.head is not None and len(payload) >= 2:
            first = _u16(payload, 0)
            body = payload[2:]
            for k in range(len(body) // REC_LEN):
                self.records[first + k] = body[k * REC_LEN : (k + 1) * REC_LEN]
        elif ftype == T_DROP_END and self.head is not None:
            self.end = payload

    def capture(self) -> DropCapture:
        if self.head is None or self.end is None:
            raise UserError(f"{self.source}: the drop dump is incomplete (no HEAD or END frame)")
        head, end = self.head, self.end
        if head[0] != 1 or head[4] != REC_LEN:
            raise UserError(
                f"{self.source}: drop dump version {head[0]} with {head[4]}-byte records is not "
                "understood (this softland reads version 1, 10-byte records)"
            )
        n = _u16(head, 2)
        missing = [i for i in range(n) if i not in self.records]
        if missing:
            raise UserError(
                f"{self.source}: {len(missing)} of {n} samples lost on the wire "
                f"(first missing: {missing[0]}); capture again"
            )
        raw = b"".join(self.records[i] for i in range(n))
        rec = np.frombuffer(raw, dtype=np.uint8).reshape(n, REC_LEN).astype(np.int64)
        ticks = rec[:, 0] | rec[:, 1] << 8 | rec[:, 2] << 16 | rec[:, 3] << 24
        t = unwrap_ticks(ticks)
        release = _i32(head, 10)
        release_end = _i32(end, 6)
        if release < 0:
            release = release_end
        release_us = None
        if release >= 0 and n:
            release_us = int((release - int(ticks[0])) % (1 << 30))
            if release_us > (1 << 29):  # before the first trigger: negative
                release_us -= 1 << 30
        extra = {}
        if len(head) > 14 and head[14]:
            extra["sig_count_val"] = f"0x{head[14]:02x}"
        return DropCapture(
            extra=extra,
            variant=VARIANTS.get(head[1], "unknown"),
            source=self.source,
            t_us=t,
            dt_us=rec[:, 4] | rec[:, 5] << 8,
            distance_cm=rec[:, 6] | rec[:, 7] << 8,
            status=rec[:, 8],
            flags=rec[:, 9],
            i2c_hz=_i32(head, 6),
            release_us=release_us,
            bus_errors=_u16(end, 2),
            timeouts=_u16(end, 4),
        )


def capture_from_bytes(data: bytes, source: str) -> DropCapture:
    """A whole console stream (anything around the frames is ignored) as a capture."""
    asm = DropAssembler(source)
    buf = bytearray(data)
    for ftype, payload in split_frames(buf):
        asm.feed(ftype, payload)
    return asm.capture()
