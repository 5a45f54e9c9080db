"""`softland drop capture --port PORT`: the board runs its drop app (firmware/drop.py, copied
to the board beside fsw/) from the raw REPL and dumps its frames on the console, which this
reads and decodes. The raw REPL: Ctrl-C twice (stop what runs), Ctrl-A (raw mode, the board
answers ``raw REPL; CTRL-B to exit`` and ``>``), the code, Ctrl-D (the board answers ``OK``,
runs it, then ``\\x04``, any error text and ``\\x04>``), Ctrl-B (back to the friendly REPL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from softland.drop.capture import DropCapture
from softland.drop.wire import DropAssembler, split_frames
from softland.errors import UserError

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
BAUD = 115_200


@dataclass(frozen=True)
class BoardCapture:
    samples: int = 2000
    delay_ms: int = 0
    release_pin: int | None = None
    released: int = 1
    sig_count: int = 0  # SIG_COUNT_VAL to write; 0: the sensor's default

    def code(self) -> bytes:
        pin = "None" if self.release_pin is None else str(int(self.release_pin))
        return (
            "import drop\n"
            f"drop.main(n={int(self.samples)}, delay_ms={int(self.delay_ms)}, "
            f"release_pin={pin}, released={int(self.released)}, "
            f"sig_count={int(self.sig_count)})\n"
        ).encode()


def _read_until(read: Callable[[], bytes], marker: bytes, timeout_s: float, what: str) -> bytes:
    """Read until ``marker``; the bytes that came after it."""
    got = bytearray()
    deadline = time.monotonic() + timeout_s
    while marker not in got:
        if time.monotonic() > deadline:
            tail = bytes(got[-120:]).decode(errors="replace").strip()
            raise UserError(f"{what} (the board said: {tail!r})" if tail else what)
        got += read()
    return bytes(got[got.index(marker) + len(marker) :])


def capture_over_stream(
    write: Callable[[bytes], object],
    read: Callable[[], bytes],
    job: BoardCapture,
    source: str,
    timeout_s: float | None = None,
) -> DropCapture:
    """Run the drop app through the raw REPL on a byte stream; ``read()`` returns what has
    arrived (b"" after a short wait when nothing has)."""
    write(b"\r\x03\x03")
    time.sleep(0.05)
    write(b"\x01")
    _read_until(read, RAW_PROMPT, 3.0, f"{source}: no MicroPython raw REPL answered")
    write(job.code())
    write(b"\x04")
    rest = _read_until(read, b"OK", 3.0, f"{source}: the board did not accept the drop command")
    asm = DropAssembler(source)
    buf = bytearray()
    text = bytearray()
    pending = rest
    limit = timeout_s if timeout_s is not None else 20.0 + job.delay_ms / 1000 + job.samples / 50
    deadline = time.monotonic() + limit
    try:
        while not asm.done:
            if time.monotonic() > deadline:
                raise UserError(
                    f"{source}: no complete drop dump within {limit:.0f} s "
                    f"({len(asm.records)} samples received)"
                )
            chunk, pending = pending + read(), b""
            if not chunk:
                continue
            buf += chunk
            text += chunk
            del text[:-2000]
            for ftype, payload in split_frames(buf):
                asm.feed(ftype, payload)
            if asm.head is None and b"\x04>" in text:  # the code ended without a dump
                lines = bytes(text).decode(errors="replace").replace("\x04", "\n").splitlines()
                last = next((ln.strip() for ln in reversed(lines) if ln.strip(" >")), "")
                raise UserError(f"{source}: the board could not run the drop app: {last}")
    finally:
        write(b"\x02")
    return asm.capture()


def capture_from_port(port: str, job: BoardCapture) -> DropCapture:
    """The drop capture of the board on serial ``port``."""
    import serial

    try:
        ser = serial.Serial(port, BAUD, timeout=0.1)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise UserError(f"serial port {port} cannot be opened: {exc}") from None
    with ser:
        return capture_over_stream(
            ser.write, lambda: ser.read(ser.in_waiting or 1), job, f"board {port}"
        )
