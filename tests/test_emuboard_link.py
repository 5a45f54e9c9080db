"""The link on the emulated board (QEMU's Cortex-M0, MicroPython 1.28, UART on a pty): the
firmware serves on the board's MicroPython console, where byte 0x03 is Ctrl-C, and a host that
goes quiet or reconnects never leaves the board stuck in a read.

Each test boots a fresh board and puts the firmware on it with `EmulatedBoard.start_link()`
(serve() with the heap locked, every read bounded in board time).

Observed on this build (ports/qemu, MicroPython 1.28): a 0x03 that running code reads from the
console does not raise KeyboardInterrupt there (the port checks no interrupt character on UART
input; only the REPL itself reacts to Ctrl-C), while boards do (rp2, esp32, stm32 check it as
bytes arrive). serve() turns it off either way (tests/test_stdio_link.py); here the test shows
that every byte value, and 0x03 wherever a frame carries it, leaves the link serving.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import serial

from softland.boards.emuboard import EmulatedBoard
from softland.boards.firmware import fsw_module
from softland.boards.hostlink import Frame, HostLink
from softland.errors import UserError

app = fsw_module("app")
link = fsw_module("link")
params = fsw_module("params")

PERIOD_US = 20_000
GRAVITY_MM_S2 = 1620  # the Moon: the accelerometer of a lander standing on the ground


@pytest.fixture
def board() -> Iterator[EmulatedBoard]:
    try:
        emulated = EmulatedBoard(clock_mhz=16)
    except UserError as e:
        pytest.skip(f"no emulated board here: {e}")
    with emulated:
        yield emulated


class Host:
    """The host end of the link on the board's UART. It numbers its frames itself (`seq`), so
    a test can say which sequence number each frame carries, and keeps every byte it sent."""

    def __init__(self, port: serial.Serial, seq: int = 0) -> None:
        self.port = port
        self.seq = seq
        self.codec = HostLink()  # decodes what the board sends
        self.sent = bytearray()
        self.received = bytearray()
        self.frames: list[Frame] = []

    def frame(self, ftype: int, payload: bytes, seq: int | None = None) -> bytes:
        enc = link.Encoder()
        enc.seq = self.seq if seq is None else seq
        buf = bytearray(len(payload) + link.OVERHEAD)
        buf[link.HEADER_LEN : link.HEADER_LEN + len(payload)] = payload
        return bytes(buf[: enc.finish(buf, ftype, len(payload))])

    def tick(self, time_us: int, range_mm: int = 3_000_000, seq: int | None = None) -> bytes:
        p = bytearray(app.TICK_LEN)
        link.put_i32(p, app.TICK_TIME_US, time_us)
        link.put_i32(p, app.TICK_RANGE_MM, range_mm)
        link.put_u8(p, app.TICK_RANGE_STATUS, 3)  # out of range high: healthy, 3 km up
        link.put_i32(p, app.TICK_ACC_MM_S2, GRAVITY_MM_S2)
        link.put_u8(p, app.TICK_ACC_OK, 1)
        return self.frame(link.T_TICK, bytes(p), seq)

    def command(self, code: int, param_id: int = 0, value: int = 0) -> bytes:
        p = bytearray(app.CMD_LEN)
        link.put_u8(p, app.CMD_CODE, code)
        link.put_u8(p, app.CMD_ID, param_id)
        link.put_i32(p, app.CMD_VALUE, value)
        return self.frame(link.T_CMD, bytes(p))

    def send(self, data: bytes, numbered: bool = True) -> None:
        """Write bytes; a frame built with the host's own number advances it."""
        self.port.write(data)
        self.sent += data
        if numbered:
            self.seq = (self.seq + 1) & 0xFF

    def until(self, ftype: int, timeout_s: float = 30.0) -> list[Frame]:
        """Frames from the board up to and including the first of type `ftype`."""
        got: list[Frame] = []
        deadline = time.monotonic() + timeout_s
        while not any(f.ftype == ftype for f in got):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no frame of type {ftype:#x} within {timeout_s} s; got "
                    f"{[hex(f.ftype) for f in got]}, last bytes {bytes(self.received[-200:])!r}"
                )
            chunk = self.port.read(max(1, self.port.in_waiting))
            self.received += chunk
            got += self.codec.feed(chunk)
        self.frames += got
        return got

    def telemetry(self, frames: list[Frame]) -> dict[str, int]:
        tel = [f for f in frames if f.ftype == link.T_TELEM]
        assert len(tel) == 1, [hex(f.ftype) for f in frames]
        return self.codec.decode_telemetry(tel[-1].payload)

    def exchange_tick(self, time_us: int, **kw: int) -> dict[str, int]:
        self.send(self.tick(time_us, **kw))
        return self.telemetry(self.until(link.T_TELEM))


def reference_errors(stream: bytes) -> int:
    """What the firmware's decoder counts for `stream` (the host imports the same codec)."""
    dec = link.Decoder(lambda ftype, buf, length: None)
    dec.feed_into(stream, len(stream))
    return int(dec.errors())


def crc_bytes(frame: bytes) -> bytes:
    return frame[link.HEADER_LEN + frame[2] :]


def test_every_byte_value_and_0x03_in_frames_pass_without_interrupting_the_link(
    board: EmulatedBoard,
) -> None:
    port = board.start_link()
    assert board.startup is not None and board.startup.total_s < 60
    host = Host(port)
    # the board's decoder has taken start_link's PING (SEQ 255): the same bytes go first here
    sent_before = bytes(host.frame(link.T_CMD, bytes([app.C_PING, 0, 0, 0, 0, 0]), seq=0xFF))
    t0 = 0x03030303 - 100 * PERIOD_US  # tick 100 carries time 03 03 03 03
    crc03 = 0
    for k, v in enumerate(range(256)):
        # garbage: a frame-shaped run of byte v (SEQ v, payload and CRC v: a damaged frame,
        # counted), then v alone between frames (noise, skipped), then a good tick
        fake = bytes([link.SYNC1, link.SYNC2, app.TICK_LEN, link.T_TICK])
        fake += bytes([v]) * (app.TICK_LEN + link.OVERHEAD - 4)
        host.send(fake + bytes([v]), numbered=False)
        time_us = t0 + k * PERIOD_US
        frame = host.tick(time_us)
        range_mm = 3_000_000
        while 0x03 not in crc_bytes(frame) and k % 16 == 5:
            range_mm += 1  # a tick whose CRC holds a 0x03 byte, every 16th round
            frame = host.tick(time_us, range_mm=range_mm)
        crc03 += 0x03 in crc_bytes(frame)
        seq = host.seq
        host.send(frame)
        tel = host.telemetry(host.until(link.T_TELEM))
        assert (tel["tick"], tel["time_us"], tel["range_mm"]) == (k + 1, time_us, range_mm)
        assert tel["faults"] == 0
        if seq == 0x03 or k == 100:
            assert 0x03 in (seq, time_us & 0xFF)
    assert crc03 >= 16
    assert host.seq == 0  # 256 ticks: SEQ went through 0x03 once
    # every byte of garbage counted as the firmware's own decoder counts it, nothing dropped
    # that was good; the loop still serves: a PING answers with the ticks run
    expected_errors = reference_errors(sent_before + bytes(host.sent))
    assert expected_errors >= 250
    assert tel["link_errors"] == expected_errors
    host.send(host.command(app.C_PING))
    ack = host.codec.decode_ack(host.until(link.T_ACK)[-1].payload)
    assert (ack["code"], ack["result"], ack["value"]) == (app.C_PING, params.OK, 256)
    # nothing but frames came back: no traceback, no REPL prompt
    assert host.codec.decoder_errors() == 0
    assert len(host.received) == sum(len(f.payload) + link.OVERHEAD for f in host.frames)


def test_a_host_that_goes_quiet_half_way_through_a_frame_and_reconnects_is_served_at_once(
    board: EmulatedBoard,
) -> None:
    wait_ms = 250  # board time: a fraction of a second of wall time
    port = board.start_link(wait_ms=wait_ms)
    host = Host(port)
    for k in range(5):
        assert host.exchange_tick(k * PERIOD_US)["tick"] == k + 1
    half = host.tick(5 * PERIOD_US)
    port.write(half[: len(half) // 2])  # the host dies mid-frame
    port.close()
    time.sleep(4 * wait_ms / 1000)  # the board waits this long for the next byte, then drops
    # a new host on the same UART numbers its frames from 0 again
    again = Host(board.open_serial())
    tel = again.exchange_tick(6 * PERIOD_US)
    assert tel["tick"] == 6  # served at once: no frame dropped for its sequence number
    assert tel["link_errors"] == 1  # the half frame, truncated
    assert again.exchange_tick(7 * PERIOD_US)["tick"] == 7
    again.port.close()


def test_an_i2c_transaction_the_host_never_answers_fails_and_the_tick_still_answers(
    board: EmulatedBoard,
) -> None:
    port = board.start_link()
    host = Host(port)
    host.send(host.command(app.C_SET_PARAM, params.RF_SOURCE, 1))  # the LIDAR, over I2C
    ack = host.codec.decode_ack(host.until(link.T_ACK)[-1].payload)
    assert ack["result"] == params.OK
    started = time.monotonic()
    host.send(host.tick(0))
    frames = host.until(link.T_TELEM, timeout_s=60)  # the host stays silent on every request
    requests = [f for f in frames if f.ftype == link.T_I2C_REQ]
    tel = host.telemetry(frames)
    assert len(requests) >= 1
    assert tel["tick"] == 1
    assert tel["rf_tx"] == len(requests)
    assert tel["rf_errors"] >= 1  # each unanswered transaction failed and was counted
    assert tel["faults"] == 0
    assert time.monotonic() - started < 30
    # the next tick is served as usual
    host.send(host.tick(PERIOD_US))
    assert host.telemetry(host.until(link.T_TELEM, timeout_s=60))["tick"] == 2


def test_starting_a_started_board_replaces_its_qemu_instead_of_leaking_it(
    board: EmulatedBoard,
) -> None:
    first = board.proc
    assert first is not None and first.poll() is None
    board.start()
    assert first.poll() is not None  # the first QEMU was ended, not left running unowned
    assert board.proc is not first and board.proc.poll() is None
