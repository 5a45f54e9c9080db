"""A small ULog writer (PX4's log format, https://docs.px4.io/main/en/dev_log/ulog_file_format):
file header, flag bits, formats, info and parameter messages, then subscriptions, data and
logged strings. What PlotJuggler, Foxglove and pyulog open."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAGIC = b"ULog\x01\x12\x35"
VERSION = 1
_TYPES = {
    "int8_t": "b",
    "uint8_t": "B",
    "int16_t": "h",
    "uint16_t": "H",
    "int32_t": "i",
    "uint32_t": "I",
    "int64_t": "q",
    "uint64_t": "Q",
    "float": "f",
    "double": "d",
}
LOG_INFO = ord("6")
LOG_WARNING = ord("4")


@dataclass
class Topic:
    """A message format: its fields (type, name) after the uint64_t timestamp every ULog
    message begins with; msg_id once subscribed."""

    name: str
    fields: list[tuple[str, str]]
    msg_id: int = -1
    _struct: struct.Struct = field(init=False)

    def __post_init__(self) -> None:
        codes = "".join(_TYPES[t] for t, _ in self.fields)
        self._struct = struct.Struct("<Q" + codes)

    def format_text(self) -> str:
        body = "".join(f"{t} {n};" for t, n in [("uint64_t", "timestamp"), *self.fields])
        return f"{self.name}:{body}"


class ULogWriter:
    """Definitions first (add_topic, info, parameter), then start_data(), then data() and
    log() in time order; to_bytes() for the file."""

    def __init__(self, start_timestamp_us: int = 0) -> None:
        self._out = bytearray(MAGIC)
        self._out += struct.pack("<BQ", VERSION, start_timestamp_us)
        # flag bits: no compat or incompat flags, no appended data
        self._message(b"B", bytes(16) + struct.pack("<3Q", 0, 0, 0))
        self._topics: list[Topic] = []
        self._data = False

    def _message(self, kind: bytes, body: bytes) -> None:
        if len(body) > 0xFFFF:
            raise ValueError("ULog message longer than 65535 bytes")
        self._out += struct.pack("<HB", len(body), kind[0]) + body

    def add_topic(self, topic: Topic) -> Topic:
        assert not self._data, "formats go before the data"
        self._message(b"F", topic.format_text().encode())
        self._topics.append(topic)
        return topic

    def info(self, key: str, value: str) -> None:
        raw = value.encode()
        k = f"char[{len(raw)}] {key}".encode()
        self._message(b"I", bytes([len(k)]) + k + raw)

    def parameter(self, name: str, value: int | float) -> None:
        if isinstance(value, int):
            k, raw = f"int32_t {name}".encode(), struct.pack("<i", value)
        else:
            k, raw = f"float {name}".encode(), struct.pack("<f", value)
        self._message(b"P", bytes([len(k)]) + k + raw)

    def start_data(self) -> None:
        self._data = True
        for i, t in enumerate(self._topics):
            t.msg_id = i
            self._message(b"A", struct.pack("<BH", 0, i) + t.name.encode())

    def data(self, topic: Topic, timestamp_us: int, values: list[int] | tuple[int, ...]) -> None:
        body = struct.pack("<H", topic.msg_id) + topic._struct.pack(timestamp_us, *values)
        self._message(b"D", body)

    def log(self, timestamp_us: int, text: str, level: int = LOG_INFO) -> None:
        self._message(b"L", struct.pack("<BQ", level, timestamp_us) + text.encode())

    def to_bytes(self) -> bytes:
        return bytes(self._out)
