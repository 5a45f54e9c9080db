#!/usr/bin/env python3
"""Generate tests/vectors/link_vectors.json: test vectors that pin the softland link format.

Every vector is specified by hand here: the frame bytes are assembled byte by byte, the CRC is
a plain bitwise CRC-32 (IEEE 802.3) written out below, the PAD byte is chosen by trying 0, 1, 2
and 3 in turn, and the expected decoder outcome of each
stream (counters and delivered frames) is written down by hand from the protocol rules in
docs/protocol.md. Nothing is imported from the firmware, so the vectors are an independent
statement of the format that the codec (firmware/fsw/link.py) is tested against.

    python tests/vectors/make_link_vectors.py          # (re)write link_vectors.json
    python tests/vectors/make_link_vectors.py --check  # exit 1 if the file is out of date

The output is deterministic (sorted keys, cases in the order written here).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("link_vectors.json")

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 120
OVERHEAD = 10  # A5 5A LEN TYPE SEQ ... PAD CRC0 CRC1 CRC2 CRC3
CRC_LIMIT = 1 << 30  # a frame's CRC is below 2^30: a small int on 32-bit MicroPython
I32_MAX = (1 << 30) - 1  # wire i32 fields carry -2^30 .. 2^30-1 (small ints on 32-bit ports)
I32_MIN = -(1 << 30)

TYPES = {"TICK": 0x01, "CMD": 0x02, "TELEM": 0x81, "ACK": 0x82, "EVENT": 0x83}

# Payload layouts: (field, byte offset, wire kind). Little-endian. Written out from the
# protocol description; tests/test_link_codec.py checks them against the firmware constants.
LAYOUTS: dict[str, dict] = {
    "tick": {
        "type": TYPES["TICK"],
        "length": 14,
        "fields": [
            ("time_us", 0, "i32"),
            ("range_mm", 4, "i32"),
            ("range_status", 8, "u8"),
            ("acc_mm_s2", 9, "i32"),
            ("acc_ok", 13, "u8"),
        ],
    },
    "cmd": {
        "type": TYPES["CMD"],
        "length": 6,
        "fields": [("code", 0, "u8"), ("id", 1, "u8"), ("value", 2, "i32")],
    },
    "ack": {
        "type": TYPES["ACK"],
        "length": 8,
        "fields": [
            ("code", 0, "u8"),
            ("id", 1, "u8"),
            ("result", 2, "u8"),
            ("mode", 3, "u8"),
            ("value", 4, "i32"),
        ],
    },
    "event": {
        "type": TYPES["EVENT"],
        "length": 6,
        "fields": [("code", 0, "u8"), ("mode", 1, "u8"), ("arg", 2, "i32")],
    },
    "telem": {
        "type": TYPES["TELEM"],
        "length": 68,
        "fields": [
            ("tick", 0, "i32"),
            ("time_us", 4, "i32"),
            ("mode", 8, "u8"),
            ("phase", 9, "u8"),
            ("flags", 10, "u16"),
            ("alt_mm", 12, "i32"),
            ("vel_mm_s", 16, "i32"),
            ("sigma_mm", 20, "i32"),
            ("vref_mm_s", 24, "i32"),
            ("throttle_q15", 28, "u16"),
            ("acmd_mm_s2", 30, "i32"),
            ("integ_mm_s2", 34, "i32"),
            ("range_mm", 38, "i32"),
            ("amax_mm_s2", 42, "i32"),
            ("mass_q14", 46, "u16"),
            ("overruns", 48, "u16"),
            ("link_errors", 50, "u16"),
            ("faults", 52, "u16"),
            ("rejects", 54, "u16"),
            ("hlow_mm", 56, "i32"),
            ("rf_status", 60, "u8"),
            ("rf_valid", 61, "u8"),
            ("rf_signal", 62, "u8"),
            ("rf_tx", 63, "u8"),
            ("rf_errors", 64, "u16"),
            ("flags2", 66, "u16"),
        ],
    },
}

COUNTERS = ("good", "crc_errors", "truncated", "oversized", "out_of_seq", "lost", "repeats")


# ---------------------------------------------------------------- independent reference codec
def crc32_ieee(data: bytes) -> int:
    """CRC-32 (IEEE 802.3, as zlib), bit by bit: reflected poly 0xEDB88320, init 0xFFFFFFFF,
    xorout 0xFFFFFFFF."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xEDB88320
            else:
                crc >>= 1
    return crc ^ 0xFFFFFFFF


def pad_and_crc(covered: bytes) -> tuple[int, int]:
    """The PAD byte that follows LEN..PAYLOAD and the frame's CRC: the first PAD of 0, 1, 2, 3
    for which the CRC-32 of LEN..PAD is below 2^30 (exactly one of the four is)."""
    for pad in range(4):
        crc = crc32_ieee(covered + bytes([pad]))
        if crc < CRC_LIMIT:
            return pad, crc
    raise AssertionError("no PAD gives a CRC below 2^30")


def trailer_crc(raw: bytes) -> int:
    """The CRC a frame carries: its last four bytes, little-endian."""
    return raw[-4] | (raw[-3] << 8) | (raw[-2] << 16) | (raw[-1] << 24)


def saturate(v: int) -> int:
    return max(I32_MIN, min(I32_MAX, v))


def pack_field(kind: str, value: int) -> bytes:
    if kind == "u8":
        assert 0 <= value <= 0xFF, value
        return bytes([value])
    if kind == "u16":
        assert 0 <= value <= 0xFFFF, value
        return bytes([value & 0xFF, value >> 8])
    assert kind == "i32", kind
    v = saturate(value) & 0xFFFFFFFF  # two's complement
    return bytes([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, v >> 24])


def pack_payload(layout: str, values: dict[str, int]) -> bytes:
    spec = LAYOUTS[layout]
    out = bytearray(spec["length"])
    assert set(values) == {f for f, _, _ in spec["fields"]}, (layout, sorted(values))
    for field, off, kind in spec["fields"]:
        raw = pack_field(kind, values[field])
        out[off : off + len(raw)] = raw
    return bytes(out)


def frame(ftype: int, seq: int, payload: bytes) -> bytes:
    """A5 5A | LEN | TYPE | SEQ | PAYLOAD | PAD | CRC32 (little-endian), CRC over LEN..PAD."""
    assert len(payload) <= MAX_PAYLOAD
    body = bytes([len(payload), ftype, seq]) + payload
    pad, crc = pad_and_crc(body)
    crc_bytes = bytes([crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, crc >> 24])
    return SYNC + body + bytes([pad]) + crc_bytes


# ---------------------------------------------------------------- single frames
def _frame_case(
    name: str,
    description: str,
    layout: str | None,
    seq: int,
    fields: dict[str, int] | None = None,
    *,
    encode_with: dict[str, int] | None = None,
    ftype: int | None = None,
    payload: bytes | None = None,
    pad: int | None = None,
) -> dict:
    """One frame. fields: the values decoded from the wire; encode_with: values handed to the
    encoder instead (where they saturate on the way); pad: the PAD byte the frame must get."""
    if layout is not None:
        ftype = LAYOUTS[layout]["type"]
        payload = pack_payload(layout, {**(fields or {}), **(encode_with or {})})
        assert payload == pack_payload(layout, fields or {}), "fields must be the wire values"
    assert ftype is not None and payload is not None
    raw = frame(ftype, seq, payload)
    assert pad is None or raw[-5] == pad, (name, raw[-5])
    case = {
        "name": name,
        "description": description,
        "hex": raw.hex(),
        "type": ftype,
        "seq": seq,
        "len": len(payload),
        "pad": raw[-5],
        "crc": trailer_crc(raw),
        "payload_hex": payload.hex(),
        "layout": layout,
        "fields": dict(fields or {}),
    }
    if encode_with:
        case["encode_with"] = dict(encode_with)
    return case


def _max_payload() -> bytes:
    p = bytearray((i * 7 + 3) & 0xFF for i in range(MAX_PAYLOAD))
    p[60:63] = b"\xa5\x5a\x78"  # a sync pair and a length inside a payload are just data
    return bytes(p)


TELEM_DESCENT = {
    "tick": 1234,
    "time_us": 24_680_000,
    "mode": 2,  # DESCENT
    "phase": 1,  # BRAKE
    "flags": 0x0033,  # RANGE_GOOD | RANGE_USED | IMU_USED | ENGINE_ON
    "alt_mm": 1_523_400,
    "vel_mm_s": -41_250,
    "sigma_mm": 850,
    "vref_mm_s": -40_000,
    "throttle_q15": 21_000,
    "acmd_mm_s2": 2_480,
    "integ_mm_s2": -35,
    "range_mm": 1_524_100,
    "amax_mm_s2": 3_390,
    "mass_q14": 15_672,
    "overruns": 0,
    "link_errors": 2,
    "faults": 0,
    "rejects": 0,
    "hlow_mm": 1_496_200,
    "rf_status": 4,  # RF_GOOD
    "rf_valid": 10,
    "rf_signal": 87,
    "rf_tx": 3,
    "rf_errors": 1,
    "flags2": 0x0004,  # RANGE_UNCHECKED
}


def frame_cases() -> list[dict]:
    # the four candidate CRCs written in the description of cmd_get_param_pad_3
    body = bytes([6, TYPES["CMD"], 0x0E, 2, 1, 0, 0, 0, 0])
    assert [crc32_ieee(body + bytes([p])) for p in range(4)] == [
        0x892BE009,
        0xFE2CD09F,
        0x67258125,
        0x1022B1B3,
    ]
    return [
        _frame_case(
            "tick_descent",
            "TICK during the braking burn: host time 12.34 s, LIDAR range 1524.1 m (status 4 "
            "= RF_GOOD), IMU specific force 2.48 m/s^2 up, sample good",
            "tick",
            0x00,
            {
                "time_us": 12_340_000,
                "range_mm": 1_524_100,
                "range_status": 4,
                "acc_mm_s2": 2_480,
                "acc_ok": 1,
            },
        ),
        _frame_case(
            "cmd_set_param",
            "CMD SET_PARAM (1): parameter 8 (VTD_MM_S, terminal sink rate) = 650 mm/s",
            "cmd",
            0x01,
            {"code": 1, "id": 8, "value": 650},
        ),
        _frame_case(
            "cmd_arm",
            "CMD ARM (3); id and value unused (0)",
            "cmd",
            0x02,
            {"code": 3, "id": 0, "value": 0},
        ),
        _frame_case(
            "ack_arm_ok",
            "ACK of ARM: result 0 (OK), mode now 1 (ARMED), value = arm reason 0",
            "ack",
            0x05,
            {"code": 3, "id": 0, "result": 0, "mode": 1, "value": 0},
        ),
        _frame_case(
            "ack_set_param_e_range",
            "ACK of SET_PARAM id 8 = 20000: result 2 (E_RANGE, outside 0..10000), mode 0 "
            "(SAFE), value echoes the refused value",
            "ack",
            0x06,
            {"code": 1, "id": 8, "result": 2, "mode": 0, "value": 20_000},
        ),
        _frame_case(
            "event_ignition",
            "EVENT IGNITION (2) in mode 2 (DESCENT); arg = altitude estimate 1840.5 m",
            "event",
            0x07,
            {"code": 2, "mode": 2, "arg": 1_840_500},
        ),
        _frame_case(
            "telem_descent",
            "TELEM with every field set: tick 1234 in DESCENT/BRAKE at 1523.4 m, sinking "
            "41.25 m/s, throttle 21000/32768",
            "telem",
            0x08,
            TELEM_DESCENT,
        ),
        _frame_case(
            "cmd_empty_payload",
            "CMD with an empty payload (LEN 0): a valid frame at the link level; the firmware "
            "answers ACK result 5 (E_BAD_FRAME) because a CMD payload must be 6 bytes",
            None,
            0x09,
            ftype=TYPES["CMD"],
            payload=b"",
        ),
        _frame_case(
            "max_payload_120",
            "the longest frame: 120-byte payload (130 bytes on the wire), unassigned type 0x40 "
            "(the codec delivers any type; the application ignores it), SEQ 255; the payload "
            "holds A5 5A 78 at offset 60, which is data, not a frame start",
            None,
            0xFF,
            ftype=0x40,
            payload=_max_payload(),
        ),
        _frame_case(
            "tick_i32_limits",
            "TICK carrying the i32 wire limits: time_us = 2^30-1, range_mm = -2^30, "
            "acc_mm_s2 = -1; range status 0 (RF_NOT_CONNECTED), accelerometer sample bad",
            "tick",
            0x0A,
            {
                "time_us": I32_MAX,
                "range_mm": I32_MIN,
                "range_status": 0,
                "acc_mm_s2": -1,
                "acc_ok": 0,
            },
        ),
        _frame_case(
            "cmd_set_param_negative",
            "CMD SET_PARAM: parameter 24 (INIT_VEL_MM_S) = -60000 mm/s (two's complement)",
            "cmd",
            0x0B,
            {"code": 1, "id": 24, "value": -60_000},
        ),
        _frame_case(
            "cmd_value_saturates_high",
            "CMD SET_PARAM id 23 with value 2^31 handed to the encoder: put_i32 saturates it "
            "to 2^30-1 on the wire",
            "cmd",
            0x0C,
            {"code": 1, "id": 23, "value": I32_MAX},
            encode_with={"value": 1 << 31},
        ),
        _frame_case(
            "cmd_value_saturates_low",
            "CMD SET_PARAM id 24 with value -5e9 handed to the encoder: put_i32 saturates it "
            "to -2^30 on the wire",
            "cmd",
            0x0D,
            {"code": 1, "id": 24, "value": I32_MIN},
            encode_with={"value": -5_000_000_000},
        ),
        _frame_case(
            "cmd_get_param_pad_3",
            "CMD GET_PARAM (2) of parameter 1 (GRAVITY_MM_S2), SEQ 14: over LEN..PAD the "
            "CRC-32 is 0x892BE009 with PAD 0, 0xFE2CD09F with PAD 1, 0x67258125 with PAD 2 and "
            "0x1022B1B3 with PAD 3 (top two bits 10, 11, 01, 00): PAD 3 is the one whose CRC "
            "is below 2^30, sent as B3 B1 22 10",
            "cmd",
            0x0E,
            {"code": 2, "id": 1, "value": 0},
            pad=3,
        ),
    ]


# ---------------------------------------------------------------- streams
def tick(seq: int) -> bytes:
    """A TICK frame of a 20 ms descent sequence; seq doubles as the tick index."""
    return frame(
        TYPES["TICK"],
        seq,
        pack_payload(
            "tick",
            {
                "time_us": 20_000 * seq,
                "range_mm": 2_000_000 - 1_100 * seq,
                "range_status": 4,
                "acc_mm_s2": 2_400 + seq,
                "acc_ok": 1,
            },
        ),
    )


def telem(seq: int) -> bytes:
    return frame(TYPES["TELEM"], seq, pack_payload("telem", {**TELEM_DESCENT, "tick": seq}))


def flip(raw: bytes, index: int, mask: int) -> bytes:
    b = bytearray(raw)
    b[index] ^= mask
    return bytes(b)


def set_byte(raw: bytes, index: int, value: int) -> bytes:
    b = bytearray(raw)
    b[index] = value
    return bytes(b)


def no_sync_after_start(raw: bytes) -> bool:
    """True when the only A5 in raw is its first byte: once the decoder drops this frame it
    finds no further frame start inside it (the hand-written expectations rely on that)."""
    return 0xA5 not in raw[1:]


def crc_passes(taken: bytes) -> bool:
    """The receiver's check of the LEN + 10 bytes it took as a frame: the CRC field's top byte
    is at most 0x3F (a CRC at or above 2^30 is never sent) and equals the CRC-32 of LEN..PAD."""
    assert len(taken) == taken[2] + OVERHEAD
    return taken[-1] <= 0x3F and crc32_ieee(taken[2:-4]) == trailer_crc(taken)


def delivered(raw: bytes) -> dict:
    assert len(raw) >= OVERHEAD and raw[:2] == SYNC and crc_passes(raw)
    return {"type": raw[3], "seq": raw[4], "payload_hex": raw[5:-5].hex()}


def _stream(
    name: str,
    description: str,
    parts: list[tuple[str, bytes]],
    frames: list[bytes],
    end: bool = True,
    **counters: int,
) -> dict:
    expected = dict.fromkeys(COUNTERS, 0)
    expected["good"] = len(frames)
    for k, v in counters.items():
        assert k in COUNTERS and k != "good", k
        expected[k] = v
    return {
        "name": name,
        "description": description,
        "hex": b"".join(raw for _, raw in parts).hex(),
        "parts": [[label, raw.hex()] for label, raw in parts],
        "end": end,
        "expected": {"counters": expected, "delivered": [delivered(f) for f in frames]},
    }


def stream_cases() -> list[dict]:
    t = {s: tick(s) for s in (0, 1, 2, 3, 4, 5, 6, 254, 255)}
    for s in (1, 2, 3):
        assert no_sync_after_start(t[s]), s

    assert len(t[1]) == 24 and len(telem(1)) == 78  # LEN + 10
    # TICK 1's CRC is 0x1B4028CF (PAD 1): its top byte, the frame's last, is 0x1B
    assert trailer_crc(t[1]) == 0x1B4028CF and t[1][-5] == 1
    crc_bad = flip(t[1], 23, 0x01)  # CRC top byte 0x1B -> 0x1A: checked, does not match
    crc_top_high = flip(t[1], 23, 0x80)  # CRC top byte 0x1B -> 0x9B: above 0x3F
    payload_bad = flip(t[1], 5 + 4, 0x08)  # bit 3 of range_mm's low byte
    len_short = set_byte(t[1], 2, 0x06)  # LEN 14 -> 6: bit 3 flipped
    len_long = set_byte(t[1], 2, 0x2E)  # LEN 14 -> 46: bit 5 flipped
    for raw in (crc_bad, crc_top_high, payload_bad, len_short):
        assert no_sync_after_start(raw)
    assert not crc_passes(crc_bad) and not crc_passes(payload_bad)
    # the 16 bytes (LEN 6 + 10) the decoder takes as the shortened frame fail the CRC; the
    # other 8 bytes of TICK 1 hold no A5 and are skipped as noise
    assert not crc_passes(len_short[:16])
    # the 56 bytes (LEN 46 + 10) taken as the lengthened frame: all of TICK 1, all of TICK 2
    # and the first 8 bytes of TICK 3; they fail the CRC and hold the sync pairs of TICK 2, 3
    assert not crc_passes(len_long + t[2] + t[3][:8])

    tel1 = telem(1)
    assert no_sync_after_start(tel1[:12])
    # the TELEM cut after 12 of its 78 bytes takes 66 more: the 10 bytes of the cut TICK 2, all
    # of TICK 3 and TICK 4 and the first 8 bytes of TICK 5. The cut TICK 2, re-parsed, takes
    # 14 bytes of TICK 3 to make its 24. Both fail the CRC with a sync pair inside
    assert not crc_passes(tel1[:12] + t[2][:10] + t[3] + t[4] + t[5][:8])
    assert not crc_passes(t[2][:10] + t[3][:14])
    # TICK 1 cut after 9 of its 24 bytes takes the first 15 bytes of TICK 2 and fails
    assert not crc_passes(t[1][:9] + t[2][:15])
    fake = bytes([0xA5, 0x5A, 0x03])
    # the fake header (LEN 3: 13 bytes) takes TICK 1's first 10 bytes as TYPE, SEQ, 3 payload
    # bytes, PAD and a CRC that does not match
    assert not crc_passes(fake + t[1][:10])

    return [
        _stream(
            "good_frames_back_to_back",
            "three TICKs back to back: all delivered, no error",
            [("TICK seq 0", t[0]), ("TICK seq 1", t[1]), ("TICK seq 2", t[2])],
            [t[0], t[1], t[2]],
        ),
        _stream(
            "crc_byte_corrupted",
            "the last byte of the middle frame, its CRC's top byte, is corrupted (bit 0: "
            "0x1B -> 0x1A, still at most 0x3F, so the receiver computes the CRC and it does "
            "not match): that frame is dropped as a CRC error; the next frame counts one lost "
            "sequence number",
            [
                ("TICK seq 0", t[0]),
                ("TICK seq 1, CRC top byte ^ 0x01", crc_bad),
                ("TICK seq 2", t[2]),
            ],
            [t[0], t[2]],
            crc_errors=1,
            lost=1,
        ),
        _stream(
            "crc_top_byte_above_3f",
            "the CRC's top byte of the middle frame is corrupted (bit 7: 0x1B -> 0x9B): a CRC "
            "at or above 2^30 is never sent, so the receiver rejects the frame without "
            "computing its CRC; counted as a CRC error, one sequence number lost",
            [
                ("TICK seq 0", t[0]),
                ("TICK seq 1, CRC top byte ^ 0x80", crc_top_high),
                ("TICK seq 2", t[2]),
            ],
            [t[0], t[2]],
            crc_errors=1,
            lost=1,
        ),
        _stream(
            "payload_bit_flipped",
            "one payload bit of the middle frame is flipped (byte 9, bit 3): CRC error, "
            "frame dropped, one sequence number lost",
            [
                ("TICK seq 0", t[0]),
                ("TICK seq 1, payload byte 4 ^ 0x08", payload_bad),
                ("TICK seq 2", t[2]),
            ],
            [t[0], t[2]],
            crc_errors=1,
            lost=1,
        ),
        _stream(
            "truncated_then_good",
            "the middle frame is cut after 9 of its 24 bytes and the next frame follows at "
            "once: the cut frame swallows the next one's first 15 bytes, fails its CRC with a "
            "sync pair inside (truncated) and the swallowed frame is re-parsed and delivered",
            [("TICK seq 0", t[0]), ("TICK seq 1, first 9 bytes", t[1][:9]), ("TICK seq 2", t[2])],
            [t[0], t[2]],
            truncated=1,
            lost=1,
        ),
        _stream(
            "truncated_twice_nested",
            "a TELEM cut after 12 bytes, then a TICK cut after 10 bytes, then good TICKs: the "
            "TELEM's 78 bytes span the cut TICK, two more frames and 8 bytes of a third; on "
            "re-parsing, the cut TICK takes 14 bytes of the next frame to make its 24 and fails "
            "inside the replay (truncated again), and the good frames after it are all "
            "delivered",
            [
                ("TICK seq 0", t[0]),
                ("TELEM seq 1, first 12 bytes", tel1[:12]),
                ("TICK seq 2, first 10 bytes", t[2][:10]),
                ("TICK seq 3", t[3]),
                ("TICK seq 4", t[4]),
                ("TICK seq 5", t[5]),
                ("TICK seq 6", t[6]),
            ],
            [t[0], t[3], t[4], t[5], t[6]],
            truncated=2,
            lost=2,
        ),
        _stream(
            "len_bit_flipped_shorter",
            "a LEN bit of the middle frame is flipped (14 -> 6): the decoder reads a 16-byte "
            "frame, the CRC fails (crc_errors), the other 8 bytes of the frame are skipped as "
            "noise",
            [("TICK seq 0", t[0]), ("TICK seq 1, LEN 0x06", len_short), ("TICK seq 2", t[2])],
            [t[0], t[2]],
            crc_errors=1,
            lost=1,
        ),
        _stream(
            "len_bit_flipped_longer",
            "a LEN bit of the middle frame is flipped (14 -> 46): the decoder reads 56 bytes, "
            "swallowing the next frame and the first 8 bytes of the one after; the CRC fails "
            "with sync pairs inside (truncated) and both swallowed frames are re-parsed and "
            "delivered",
            [
                ("TICK seq 0", t[0]),
                ("TICK seq 1, LEN 0x2E", len_long),
                ("TICK seq 2", t[2]),
                ("TICK seq 3", t[3]),
                ("TICK seq 4", t[4]),
            ],
            [t[0], t[2], t[3], t[4]],
            truncated=1,
            lost=1,
        ),
        _stream(
            "oversized_len",
            "a header with LEN 121 (above the 120-byte maximum) and 6 junk bytes: counted as "
            "oversized, the junk is skipped and the next frame is delivered in sequence",
            [
                ("TICK seq 0", t[0]),
                ("A5 5A LEN=0x79 + junk", bytes.fromhex("a55a79") + bytes.fromhex("010010203040")),
                ("TICK seq 1", t[1]),
            ],
            [t[0], t[1]],
            oversized=1,
        ),
        _stream(
            "duplicate_seq",
            "the frame with SEQ 1 arrives twice, byte for byte: the repeat of the last frame "
            "delivered is a retransmission, not delivered and counted in repeats (not an "
            "error: the receiver answers it again, Decoder.on_repeat); the stream carries on "
            "with SEQ 2",
            [
                ("TICK seq 0", t[0]),
                ("TICK seq 1", t[1]),
                ("TICK seq 1 again", t[1]),
                ("TICK seq 2", t[2]),
            ],
            [t[0], t[1], t[2]],
            repeats=1,
        ),
        _stream(
            "stale_frame_again",
            "the frame with SEQ 0 arrives again after SEQ 1: an older frame, not the last one "
            "delivered, is dropped as out of sequence (out_of_seq); SEQ 2 is delivered",
            [
                ("TICK seq 0", t[0]),
                ("TICK seq 1", t[1]),
                ("TICK seq 0 again", t[0]),
                ("TICK seq 2", t[2]),
            ],
            [t[0], t[1], t[2]],
            out_of_seq=1,
        ),
        _stream(
            "forward_seq_jump",
            "SEQ jumps from 1 to 5: the frame is kept and the 3 skipped numbers count as lost",
            [
                ("TICK seq 0", t[0]),
                ("TICK seq 1", t[1]),
                ("TICK seq 5", t[5]),
                ("TICK seq 6", t[6]),
            ],
            [t[0], t[1], t[5], t[6]],
            lost=3,
        ),
        _stream(
            "seq_wraps",
            "SEQ wraps from 255 to 0: in sequence, nothing lost",
            [
                ("TICK seq 254", t[254]),
                ("TICK seq 255", t[255]),
                ("TICK seq 0", t[0]),
                ("TICK seq 1", t[1]),
            ],
            [t[254], t[255], t[0], t[1]],
        ),
        _stream(
            "noise_between_frames",
            "junk bytes before, between and after frames, with stray A5 bytes (one followed "
            "by a non-sync byte, a run of three right before a frame) and stray 5A bytes: "
            "skipped without counting, every frame delivered",
            [
                ("junk with a stray A5", bytes.fromhex("00ff13a5135a5a00")),
                ("TICK seq 0", t[0]),
                ("A5 A5 A5", bytes.fromhex("a5a5a5")),
                ("TICK seq 1", t[1]),
                ("junk", bytes.fromhex("7f5a5a5a")),
                ("TICK seq 2", t[2]),
                ("trailing junk", bytes.fromhex("775a01")),
            ],
            [t[0], t[1], t[2]],
        ),
        _stream(
            "fake_header_before_frame",
            "a fake header A5 5A 03 right before a frame: it takes the frame's first 10 bytes "
            "as its own, fails its CRC with a sync pair inside (truncated), and the frame is "
            "re-parsed and delivered",
            [("TICK seq 0", t[0]), ("fake header A5 5A 03", fake), ("TICK seq 1", t[1])],
            [t[0], t[1]],
            truncated=1,
        ),
        _stream(
            "stray_sync_pair_before_frame",
            "a stray A5 5A right before a frame: the frame's own A5 is read as LEN 165 "
            "(oversized) and re-parsed as a frame start; the frame is delivered",
            [("TICK seq 0", t[0]), ("stray A5 5A", SYNC), ("TICK seq 1", t[1])],
            [t[0], t[1]],
            oversized=1,
        ),
        _stream(
            "ends_mid_frame",
            "the stream ends 12 bytes into a 24-byte frame and Decoder.end() is called: the "
            "partial frame counts as truncated",
            [("TICK seq 0", t[0]), ("TICK seq 1, first 12 bytes", t[1][:12])],
            [t[0]],
            truncated=1,
        ),
        _stream(
            "ends_mid_frame_without_end",
            "the same stream without Decoder.end(): the partial frame is still pending and "
            "nothing is counted yet",
            [("TICK seq 0", t[0]), ("TICK seq 1, first 12 bytes", t[1][:12])],
            [t[0]],
            end=False,
        ),
        _stream(
            "ends_after_stray_sync_byte",
            "the stream ends right after a lone A5 and Decoder.end() is called: a frame start "
            "was pending, so it counts as truncated",
            [("TICK seq 0", t[0]), ("lone A5", b"\xa5")],
            [t[0]],
            truncated=1,
        ),
    ]


def build() -> dict:
    check_input = b"123456789"
    return {
        "format": "softland link test vectors; generated by make_link_vectors.py, do not edit",
        "frame": "A5 5A | LEN | TYPE | SEQ | PAYLOAD (LEN bytes) | PAD | CRC32 (4 bytes, LE)",
        "overhead": OVERHEAD,
        "sync_hex": SYNC.hex(),
        "max_payload": MAX_PAYLOAD,
        "i32_min": I32_MIN,
        "i32_max": I32_MAX,
        "crc": {
            "name": "CRC-32 (IEEE 802.3, zlib.crc32)",
            "poly": 0x04C11DB7,
            "poly_reflected": 0xEDB88320,
            "init": 0xFFFFFFFF,
            "refin": True,
            "refout": True,
            "xorout": 0xFFFFFFFF,
            "covers": "LEN, TYPE, SEQ, PAYLOAD and PAD",
            "byte_order": "little-endian",
            "limit": CRC_LIMIT,
            "pad_rule": "PAD is the first of 0, 1, 2, 3 that makes the CRC below 2^30",
            "check_input_hex": check_input.hex(),
            "check": crc32_ieee(check_input),
        },
        "types": dict(TYPES),
        "layouts": {
            name: {
                "type": spec["type"],
                "length": spec["length"],
                "fields": [list(f) for f in spec["fields"]],
            }
            for name, spec in LAYOUTS.items()
        },
        "counters": list(COUNTERS),
        "frames": frame_cases(),
        "streams": stream_cases(),
    }


def render() -> str:
    return json.dumps(build(), indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the file is current")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    text = render()
    assert build()["crc"]["check"] == 0xCBF43926, "reference CRC fails its check value"
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
