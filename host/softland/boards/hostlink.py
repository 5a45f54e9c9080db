"""The host end of the link: builds tick and command frames and decodes what the firmware
sends, with the firmware's own codec (firmware/fsw/link.py) imported unchanged."""

from __future__ import annotations

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
    # the accelerometer monitor (fsw/flight.py)
    20: "acc_bad",
    21: "acc_good",
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
        a, lk = self.app, self.link
        p = bytearray(a.TICK_LEN)
        lk.put_i32(p, a.TICK_TIME_US, time_us & 0x3FFFFFFF)
        lk.put_i32(p, a.TICK_RANGE_MM, range_mm)
        lk.put_u8(p, a.TICK_RANGE_STATUS, range_status)
        lk.put_i32(p, a.TICK_ACC_MM_S2, acc_mm_s2)
        lk.put_u8(p, a.TICK_ACC_OK, 1 if acc_ok else 0)
        return self._frame(lk.T_TICK, p)

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
        for b in data:
            self._dec.feed(b)
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
