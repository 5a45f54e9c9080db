"""A fault proxy between host and board: relays the link's bytes from a new pty (the host's
end) to the board's serial port and back, dropping, corrupting, delaying and duplicating them
at set rates, seeded, and counting what it did.

The unit a fault hits is a frame (default: the proxy cuts each direction's stream into frames
by their sync pair and LEN, without looking at the CRC; bytes between frames are a unit of
their own) or a single byte (`unit="byte"`). Per unit, in this order: dropped with probability
`drop`; else one random bit of one random byte flipped with probability `corrupt`; sent twice
with probability `dup`; held back `delay_ms` with probability `delay` (the stream behind it
waits too: a serial line delays, it does not reorder). Each direction has its own random
stream, from `seed`, so a run is repeatable for the same traffic.

`softland proxy --port BOARD_PORT ...` runs one and prints the pty to give `softland hil
--port`; the HIL tests and benchmarks/hil_faults.py run one in a thread (`FaultProxy`)."""

from __future__ import annotations

import os
import random
import select
import threading
import time
import tty
from collections import deque
from dataclasses import asdict, dataclass

import serial

from softland.boards.serialport import DEFAULT_BAUD, open_port
from softland.errors import UserError

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 120  # fsw.link.MAX_PAYLOAD
OVERHEAD = 10  # fsw.link.OVERHEAD
PARTIAL_FLUSH_S = 0.05  # a frame still incomplete this long after its last byte goes as it is
UNITS = ("frame", "byte")


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per unit (frame or byte) of each fault, and the delay's length."""

    drop: float = 0.0
    corrupt: float = 0.0
    dup: float = 0.0
    delay: float = 0.0
    delay_ms: float = 0.0
    unit: str = "frame"

    def __post_init__(self) -> None:
        for name in ("drop", "corrupt", "dup", "delay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UserError(f"--{name} {value}: a rate is a probability from 0 to 1")
        if self.delay_ms < 0:
            raise UserError(f"--delay-ms {self.delay_ms}: a delay cannot be negative")
        if self.unit not in UNITS:
            raise UserError(f"--unit {self.unit}: use one of {', '.join(UNITS)}")


@dataclass
class FaultCounters:
    """What the proxy did to one direction's units."""

    units: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0
    delayed: int = 0


class FaultyDirection:
    """One direction of the relay: take() the bytes read, due() the bytes to write now."""

    def __init__(self, rates: FaultRates, rng: random.Random, record: bool = False) -> None:
        self.rates = rates
        self.rng = rng
        self.recorded = bytearray() if record else None  # the bytes as they came in
        self.counters = FaultCounters()
        self._pending = bytearray()
        self._pending_since = 0.0
        self._out: deque[tuple[float, bytes]] = deque()
        self._last_release = 0.0

    def take(self, data: bytes, now: float) -> None:
        self.counters.bytes_in += len(data)
        if self.recorded is not None:
            self.recorded += data
        if self.rates.unit == "byte":
            for b in data:
                self._unit(bytes([b]), now)
            return
        if data:
            self._pending += data
            self._pending_since = now
        for unit in self._cut():
            self._unit(unit, now)
        if self._pending and now - self._pending_since >= PARTIAL_FLUSH_S:
            unit, self._pending = bytes(self._pending), bytearray()
            self._unit(unit, now)

    def _cut(self) -> list[bytes]:
        """Whole frames (and the bytes between them) at the front of what is pending."""
        units: list[bytes] = []
        buf = self._pending
        while buf:
            start = buf.find(SYNC)
            if start != 0:
                # bytes before a sync pair (a lone A5 at the end may start one: keep it)
                end = len(buf) if start < 0 else start
                if start < 0 and buf[-1] == SYNC[0]:
                    end -= 1
                if end <= 0:
                    break
                units.append(bytes(buf[:end]))
                del buf[:end]
                continue
            if len(buf) < 3:
                break
            if buf[2] > MAX_PAYLOAD:
                units.append(bytes(buf[:1]))
                del buf[:1]
                continue
            size = buf[2] + OVERHEAD
            if len(buf) < size:
                break
            units.append(bytes(buf[:size]))
            del buf[:size]
        return units

    def _unit(self, unit: bytes, now: float) -> None:
        r, rng, c = self.rates, self.rng, self.counters
        c.units += 1
        if r.drop and rng.random() < r.drop:
            c.dropped += 1
            return
        if r.corrupt and rng.random() < r.corrupt:
            data = bytearray(unit)
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            unit = bytes(data)
            c.corrupted += 1
        copies = 1
        if r.dup and rng.random() < r.dup:
            copies = 2
            c.duplicated += 1
        release = now
        if r.delay and rng.random() < r.delay:
            release = now + r.delay_ms / 1000
            c.delayed += 1
        release = max(release, self._last_release)
        self._last_release = release
        for _ in range(copies):
            self._out.append((release, unit))

    def due(self, now: float) -> bytes:
        out = bytearray()
        while self._out and self._out[0][0] <= now:
            out += self._out.popleft()[1]
        self.counters.bytes_out += len(out)
        return bytes(out)

    def next_release(self) -> float | None:
        return self._out[0][0] if self._out else None


class FaultProxy:
    """Host pty <-> faults <-> board port, relayed by a thread. start() returns the pty path
    the host opens; counters() says what each direction suffered."""

    def __init__(
        self,
        board_port: str | serial.Serial,
        rates: FaultRates,
        seed: int = 0,
        baud: int = DEFAULT_BAUD,
        host_rates: FaultRates | None = None,
        record: bool = False,
    ) -> None:
        # rates: both directions; host_rates, when given, the host -> board direction's own;
        # record: keep each direction's bytes as they came in (FaultyDirection.recorded)
        self.board_port = board_port
        self.baud = baud
        self.to_board = FaultyDirection(
            host_rates or rates, random.Random(f"{seed}:to_board"), record
        )
        self.to_host = FaultyDirection(rates, random.Random(f"{seed}:to_host"), record)
        self.host_path: str | None = None
        self.board_closed = False
        self._board: serial.Serial | None = None
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> str:
        # a path, or a port already open (an emulated board's, whose pty must not be
        # closed and opened again: QEMU drops what it sends while no one holds it)
        if isinstance(self.board_port, str):
            self._board = open_port(self.board_port, self.baud)
        else:
            self._board = self.board_port
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: every byte value passes
        self.host_path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._relay, name="fault-proxy", daemon=True)
        self._thread.start()
        return self.host_path

    def _relay(self) -> None:
        assert self._board is not None
        board_fd = self._board.fileno()
        while not self._stop.is_set():
            now = time.monotonic()
            waits = [0.01]
            for d in (self.to_board, self.to_host):
                nxt = d.next_release()
                if nxt is not None:
                    waits.append(max(nxt - now, 0.0))
            fds = [self._master] + ([] if self.board_closed else [board_fd])
            ready, _, _ = select.select(fds, [], [], min(waits))
            now = time.monotonic()
            if self._master in ready:
                try:
                    self.to_board.take(os.read(self._master, 4096), now)
                except OSError:
                    time.sleep(0.01)  # the host closed its end: wait for it
            if board_fd in ready and not self.board_closed:
                try:
                    data = os.read(board_fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    self.board_closed = True  # the board went away: the line goes quiet
                self.to_host.take(data, now)
            else:
                self.to_host.take(b"", now)
            self.to_board.take(b"", now)
            out = self.to_board.due(now)
            if out and not self.board_closed:
                try:
                    os.write(board_fd, out)
                except OSError:
                    self.board_closed = True
            out = self.to_host.due(now)
            if out:
                try:
                    os.write(self._master, out)
                except OSError:
                    pass

    def counters(self) -> dict[str, dict[str, int]]:
        return {
            "to_board": asdict(self.to_board.counters),
            "to_host": asdict(self.to_host.counters),
        }

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._board is not None:
            self._board.close()
            self._board = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
