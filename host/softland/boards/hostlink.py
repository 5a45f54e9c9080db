"""The host end of the link: builds tick and command frames and decodes what the firmware
sends, with the firmware's own codec (firmware/fsw/link.py) imported unchanged."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from softland.boards.firmware import fsw_module

# telemetry payload fields: name -> wire type; offsets come from fsw/telemetry.py
TELEMETRY_FIELDS: tuple[tuple[str, str], ...] = (
    ("tick", "i32"),
    ("time_us", "i32"),
    ("mode", "u8"),
    ("phase", "u8"),
    ("flags", "u16"),
    ("alt_mm", "i32"),
    ("vel_mm_s", "i32"),
    ("sigma_mm", "i32"),
    ("vref_mm_s", "i32"),
    ("throttle_q15", "u16"),
    ("acmd_mm_s2", "i32"),
    ("integ_mm_s2", "i32"),
    ("range_mm", "i32"),
    ("amax_mm_s2", "i32"),
    ("mass_q14", "u16"),
    ("overruns", "u16"),
    ("link_errors", "u16"),
    ("faults", "u16"),
    ("rejects", "u16"),
    ("hlow_mm", "i32"),
    ("rf_status", "u8"),
    ("rf_valid", "u8"),
    ("rf_signal", "u8"),
    ("rf_tx", "u8"),
    ("rf_errors", "u16"),
    ("flags2", "u16"),
)
MODES = ("SAFE", "ARMED", "DESCENT", "TERMINAL", "LANDED", "ABORT")
PHASES = (
    "COAST",
    "BRAKE",
    "TERMINAL",
    "HOVER",
    "IDLE",
    "TOUCHDOWN",
    "HOLD",
    "CHECK",
    "BLIND",
)
EVENTS = {
    1: "mode",
    2: "ignition",
    3: "cutoff",
    4: "fault",
    5: "arm_refused",
    6: "rebase",
    7: "exclude",
    8: "trust",
    9: "engine_checked",
    10: "blind",
    11: "band_short",
    12: "reserve",
    13: "acc_calibrated",
    14: "resumed",
    15: "arm_override",
    # board mode's loop (firmware/hal/board_loop.py)
    16: "late_tick",
    17: "skipped_ticks",
    18: "interlock",
    19: "imu",
    20: "revert",
    21: "impact",
    22: "hold",
    23: "sighted",  # fsw/flight.py: the blind descent ended, the altitude known again
    # the accelerometer monitor (fsw/flight.py)
    24: "acc_bad",
    25: "acc_good",
}


@dataclass(frozen=True)
class I2cRequest:
    op: int  # fsw.linkdev OP_*
    addr: int
    reg: int
    read_len: int
    write: bytes


@dataclass(frozen=True)
class Frame:
    ftype: int
    seq: int
    payload: bytes
    raw: bytes


_I32_MAX = 0x3FFFFFFF  # fsw.link.I32_MAX, I32_MIN
_I32_MIN = -0x3FFFFFFF - 1
_STRUCT_CODES = {"i32": ("i", 4), "u16": ("H", 2), "u8": ("B", 1)}


def _payload_layout(
    fields: list[tuple[str, int, str]], length: int
) -> tuple[struct.Struct, tuple[int, ...]]:
    """A payload of `length` bytes as one struct (fields in wire order, gaps padded), and which
    of its values are i32 (saturated at +/-2^30 by fsw.link's get_i32 and put_i32)."""
    fmt = "<"
    pos = 0
    i32: list[int] = []
    for k, (name, off, kind) in enumerate(fields):
        if off < pos:
            raise ValueError(f"payload field {name} out of wire order (offset {off})")
        code, size = _STRUCT_CODES[kind]
        fmt += "x" * (off - pos) + code
        pos = off + size
        if kind == "i32":
            i32.append(k)
    if pos > length:
        raise ValueError(f"payload fields end at byte {pos}, beyond its {length} bytes")
    return struct.Struct(fmt + "x" * (length - pos)), tuple(i32)


def deliver(
    needed: Callable[[], int],
    rx_view: Callable[[], Any],
    received: Callable[[int], None],
    data: bytes,
) -> None:
    """Hand data to a fsw.link.Decoder (or a fsw.app.App, which serves its decoder's
    methods) as firmware/hal/stdio_link.py's serving loop reads a stream: at most needed()
    bytes at a time, straight into rx_view(), then received(n). A frame arrives as its header
    and its body in bulk (its CRC checked once, in C); anything else is parsed one byte at a
    time where it landed. Decodes exactly as feeding the bytes one at a time does (the
    decoder works over any chunking), with two calls a frame instead of two a byte."""
    n = len(data)
    i = 0
    while i < n:
        k = needed()
        if k > n - i:
            k = n - i
        rx_view()[:k] = data[i : i + k]
        received(k)
        i += k


class HostLink:
    """Encodes frames to the firmware and decodes frames from it."""

    def __init__(self) -> None:
        self.link = fsw_module("link")
        self.app = fsw_module("app")
        self.dev = fsw_module("linkdev")
        telemetry = fsw_module("telemetry")
        self.telemetry_offsets = [
            (name, getattr(telemetry, name.upper()), kind) for name, kind in TELEMETRY_FIELDS
        ]
        self.telemetry_len: int = telemetry.LENGTH
        self._telemetry_struct, self._telemetry_i32 = _payload_layout(
            self.telemetry_offsets, self.telemetry_len
        )
        self._telemetry_names = tuple(name for name, _, _ in self.telemetry_offsets)
        a = self.app
        tick_fields = [
            ("time_us", a.TICK_TIME_US, "i32"),
            ("range_mm", a.TICK_RANGE_MM, "i32"),
            ("range_status", a.TICK_RANGE_STATUS, "u8"),
            ("acc_mm_s2", a.TICK_ACC_MM_S2, "i32"),
            ("acc_ok", a.TICK_ACC_OK, "u8"),
        ]
        self._tick_struct = _payload_layout(tick_fields, a.TICK_LEN)[0]
        self._tick_len: int = a.TICK_LEN
        self._tick_frame_len: int = a.TICK_LEN + self.link.OVERHEAD
        self._header_len: int = self.link.HEADER_LEN
        self._t_tick: int = self.link.T_TICK
        self._enc = self.link.Encoder()
        self._received: list[Frame] = []
        self._dec = self.link.Decoder(self._on_frame)
        self._errors_before = 0

    # ---- host -> firmware
    def _frame(self, ftype: int, payload: bytearray) -> bytes:
        frame = bytearray(len(payload) + self.link.OVERHEAD)
        frame[self.link.HEADER_LEN : self.link.HEADER_LEN + len(payload)] = payload
        n = self._enc.finish(frame, ftype, len(payload))
        return bytes(frame[:n])

    def tick_frame(
        self, time_us: int, range_mm: int, range_status: int, acc_mm_s2: int, acc_ok: bool
    ) -> bytes:
        # the payload packed in one call, each field as fsw.link's put_i32 / put_u8 writes it
        # (i32 saturated at +/-2^30, u8 masked), straight into the frame
        frame = bytearray(self._tick_frame_len)
        self._tick_struct.pack_into(
            frame,
            self._header_len,
            time_us & 0x3FFFFFFF,
            _I32_MAX if range_mm > _I32_MAX else _I32_MIN if range_mm < _I32_MIN else range_mm,
            range_status & 0xFF,
            _I32_MAX if acc_mm_s2 > _I32_MAX else _I32_MIN if acc_mm_s2 < _I32_MIN else acc_mm_s2,
            1 if acc_ok else 0,
        )
        self._enc.finish(frame, self._t_tick, self._tick_len)
        return bytes(frame)

    def command_frame(self, code: int, param_id: int = 0, value: int = 0) -> bytes:
        a, lk = self.app, self.link
        p = bytearray(a.CMD_LEN)
        lk.put_u8(p, a.CMD_CODE, code)
        lk.put_u8(p, a.CMD_ID, param_id)
        lk.put_i32(p, a.CMD_VALUE, value)
        return self._frame(lk.T_CMD, p)

    def i2c_response_frame(self, status: int, data: bytes = b"") -> bytes:
        d, lk = self.dev, self.link
        if len(data) > d.RMAX:
            raise ValueError(f"I2C response of {len(data)} bytes exceeds {d.RMAX}")
        p = bytearray(d.RESP_LEN)
        lk.put_u8(p, d.RESP_STATUS, status)
        lk.put_u8(p, d.RESP_N, len(data))
        p[d.RESP_DATA : d.RESP_DATA + len(data)] = data
        return self._frame(lk.T_I2C_RESP, p)

    def serial_frame(self, data: bytes, port: int = 0) -> bytes:
        lk = self.link
        if len(data) > lk.MAX_PAYLOAD - 1:
            raise ValueError(f"serial chunk of {len(data)} bytes exceeds {lk.MAX_PAYLOAD - 1}")
        return self._frame(lk.T_SERIAL, bytearray([port]) + data)

    # ---- firmware -> host
    def decode_i2c_request(self, payload: bytes) -> I2cRequest:
        d = self.dev
        wlen = min(payload[d.REQ_WLEN], d.WMAX)
        return I2cRequest(
            op=payload[d.REQ_OP],
            addr=payload[d.REQ_ADDR],
            reg=payload[d.REQ_REG],
            read_len=payload[d.REQ_RLEN],
            write=bytes(payload[d.REQ_DATA : d.REQ_DATA + wlen]),
        )

    def _on_frame(self, ftype: int, buf: bytearray, length: int) -> None:
        hl = self.link.HEADER_LEN
        self._received.append(
            Frame(
                ftype,
                buf[4],
                bytes(buf[hl : hl + length]),
                bytes(buf[: length + self.link.OVERHEAD]),
            )
        )

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by data (any chunking of the stream; see deliver)."""
        dec = self._dec
        deliver(dec.needed, dec.rx_view, dec.received, data)
        out, self._received = self._received, []
        return out

    def decoder_errors(self) -> int:
        return self._errors_before + int(self._dec.errors())

    def reconnect(self) -> None:
        """The firmware rebooted (its sequence numbers start again): a fresh decoder."""
        self._errors_before += int(self._dec.errors())
        self._received = []
        self._dec = self.link.Decoder(self._on_frame)

    def decode_telemetry(self, payload: bytes) -> dict[str, int]:
        if len(payload) >= self._telemetry_struct.size:
            values = self._telemetry_struct.unpack_from(payload)
            if max(values) > _I32_MAX or min(values) < _I32_MIN:  # (u8 and u16 never are)
                clamped = list(values)
                for k in self._telemetry_i32:  # as link.get_i32: saturated at +/-2^30
                    v = clamped[k]
                    if v > _I32_MAX:
                        clamped[k] = _I32_MAX
                    elif v < _I32_MIN:
                        clamped[k] = _I32_MIN
                values = tuple(clamped)
            return dict(zip(self._telemetry_names, values, strict=True))
        lk = self.link
        getters = {"i32": lk.get_i32, "u16": lk.get_u16, "u8": lk.get_u8}
        return {name: getters[kind](payload, off) for name, off, kind in self.telemetry_offsets}

    def decode_ack(self, payload: bytes) -> dict[str, int]:
        a, lk = self.app, self.link
        return {
            "code": lk.get_u8(payload, a.ACK_CODE),
            "id": lk.get_u8(payload, a.ACK_ID),
            "result": lk.get_u8(payload, a.ACK_RESULT),
            "mode": lk.get_u8(payload, a.ACK_MODE),
            "value": lk.get_i32(payload, a.ACK_VALUE),
        }

    def decode_event(self, payload: bytes) -> dict[str, Any]:
        a, lk = self.app, self.link
        code = lk.get_u8(payload, a.EV_CODE)
        return {
            "code": code,
            "name": EVENTS.get(code, f"event{code}"),
            "mode": lk.get_u8(payload, a.EV_MODE),
            "arg": lk.get_i32(payload, a.EV_ARG),
        }
