"""Hardware in the loop: the sim's closed loop (softland.simulation.sim) with the firmware on a
board at the other end of a serial port, every frame guarded by its SEQ and CRC.

`HilSession` takes the place of the sim's lockstep session. It proves first that the board
speaks the link (a PING answered by its ACK, the board in SAFE), then runs every exchange with
a bounded number of retransmissions:

* the host waits `reply_timeout_s` for each frame it expects (the answer to a TICK or CMD, or
  the next I2C request of a tick); on a timeout, or when a frame arrives ahead of its SEQ
  (frames before it went missing), it sends its last frame again, byte for byte;
* the firmware answers such an exact repeat by sending its answer again from the frames it
  kept (fsw.link.Decoder.on_repeat, fsw.app.App._repeat: docs/protocol.md, "Retransmission"),
  without acting on it twice; frames the host has already taken come again and are dropped
  by their SEQ;
* a frame with a bad CRC is dropped by the decoder and never used; after `retries`
  retransmissions a gap that did not fill is taken as it is and its frames counted lost;
* no frame for `retries + 1` timeouts in a row (4 s by default): the board has stopped
  answering, LinkLost, and the run ends with the outcome `link_lost`.

The telemetry hash covers the frames the board sent from the first parameter upload's ACK on,
numbered again from SEQ 0 (as a board that has just booted numbers them), so that it compares
with `softland sim` of the same scenario and seed whatever the board's counter stood at.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import MODES, Frame, HostLink
from softland.boards.linklog import LinkLog
from softland.boards.serialport import SerialRuntime
from softland.errors import UserError
from softland.simulation.scenario import Scenario
from softland.simulation.sim import (
    CONTROLLERS,
    FrameSink,
    I2cDevices,
    LinkLost,
    SimResult,
    fly,
)

DEFAULT_REPLY_TIMEOUT_S = 1.0
DEFAULT_RETRIES = 3
_POLL_S = 0.05  # longest single read while waiting
HANDSHAKE_WAIT_S = 1.0  # shortest wait for each PING's ACK
# hal.stdio_link.serve(wait_ms=) on the emulated Cortex-M0 in HIL: its clock counts
# instructions and runs 15-30x the wall clock while it polls the UART, so the 2 s of
# emuboard.EMULATED_WAIT_MS are ~0.1 s of the host's time, and a loaded host that answers an
# I2C request later than that makes the board's transaction time out (rf_errors: 1 run in 3
# of earth-hopper here, 2 cores shared). 30 s of board time are ~1-2 s of wall time
EMULATED_HIL_WAIT_MS = 30_000


@dataclass(frozen=True)
class LinkSettings:
    """How the host waits for the board. A board silent for (retries + 1) x reply_timeout_s
    ends the run (link_lost)."""

    reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    realtime: bool = False  # pace the ticks at the scenario's rate by the wall clock
    tick_period_s: float = 0.02

    def __post_init__(self) -> None:
        if not self.reply_timeout_s > 0:
            raise UserError(f"reply timeout must be above 0 s, not {self.reply_timeout_s}")
        if self.retries < 0:
            raise UserError(f"retries must be 0 or more, not {self.retries}")

    @property
    def link_lost_after_s(self) -> float:
        return (self.retries + 1) * self.reply_timeout_s


@dataclass
class LinkStats:
    """What the link did during a run (summary.json "link")."""

    frames_sent: int = 0  # host -> board, retransmissions included
    frames_received: int = 0  # board -> host, taken (in order, good CRC)
    crc_errors: int = 0  # board -> host frames dropped by the decoder (CRC, truncated, LEN)
    duplicates: int = 0  # board -> host frames already taken (re-sent answers), dropped
    out_of_order: int = 0  # frames ahead of their SEQ, dropped while a retransmission can help
    retries: int = 0  # retransmissions
    frames_lost: int = 0  # board frames never received, counted when a gap was taken as is
    exchanges: int = 0
    tick_rtt_ms: list[float] = field(default_factory=list)
    late_ticks: int = 0  # --realtime: ticks answered after their period ended
    worst_late_ms: float = 0.0
    lost_reason: str = ""

    def summary(self, settings: LinkSettings) -> dict[str, Any]:
        rtt = np.asarray(self.tick_rtt_ms, dtype=float)

        def pct(q: float) -> float | None:
            return round(float(np.percentile(rtt, q)), 3) if rtt.size else None

        out: dict[str, Any] = {
            "frames_sent": self.frames_sent,
            "frames_received": self.frames_received,
            "crc_errors": self.crc_errors,
            "duplicates_dropped": self.duplicates,
            "out_of_order_dropped": self.out_of_order,
            "retries": self.retries,
            "frames_lost": self.frames_lost,
            "corrupted_frames_used": 0,  # by construction: only frames with a good CRC are used
            "exchanges": self.exchanges,
            "tick_rtt_ms": {
                "ticks": int(rtt.size),
                "p50": pct(50),
                "p90": pct(90),
                "p99": pct(99),
                "max": round(float(rtt.max()), 3) if rtt.size else None,
            },
            "reply_timeout_s": settings.reply_timeout_s,
            "max_retries": settings.retries,
            "link_lost_after_s": settings.link_lost_after_s,
            "mode": "realtime" if settings.realtime else "lockstep",
        }
        if settings.realtime:
            out["tick_period_ms"] = round(settings.tick_period_s * 1000, 3)
            out["late_ticks"] = self.late_ticks
            out["worst_late_ms"] = round(self.worst_late_ms, 3)
            out["kept_up"] = self.late_ticks == 0
        if self.lost_reason:
            out["lost_reason"] = self.lost_reason
        return out


class HilSession:
    """The lockstep session of softland.simulation.sim over a serial link that loses, corrupts,
    delays and repeats frames: the same interface (exchange, command, send, events, sha,
    i2c_transactions), each exchange retried a bounded number of times."""

    def __init__(
        self,
        runtime: SerialRuntime,
        link: HostLink,
        i2c: I2cDevices | None,
        settings: LinkSettings,
        where: str,
        keep_frames: bool = False,
    ) -> None:
        self.runtime = runtime
        self.link = link
        self.i2c = i2c
        self.settings = settings
        self.where = where
        self.sha = hashlib.sha256()  # frames numbered from SEQ 0 (comparable with sim)
        self.wire_sha = hashlib.sha256()  # the bytes as they came
        self.events: list[dict[str, Any]] = []
        self.i2c_transactions = 0
        self.stats = LinkStats()
        # as softland.simulation.sim._Session: every frame the board acted on, once (the run's
        # inputs.bin, for `softland check`); the live view (set by the flight); the times an
        # event comes with (set by the flight before each tick)
        self.log = LinkLog()
        self.live: FrameSink | None = None
        self.time_us = 0
        self.t_s = 0.0
        # the raw frames taken, in order (keep_frames: for a check against what the board sent)
        self.frames_taken: list[bytes] | None = [] if keep_frames else None
        self.board_mode = ""
        self._lk = fsw_module("link")
        self._queue: deque[Frame] = deque()
        self._dec = self._lk.Decoder(self._on_frame)
        self._expect: int | None = None  # next SEQ expected from the board
        self._base = 0  # the board's SEQ of the first flight frame
        self._renumber = self._lk.Encoder()
        self._last_sent = b""
        self._tick_index = 0
        self._t0: float | None = None
        self._handshake()

    # ---- bytes in
    def _on_frame(self, ftype: int, buf: bytearray, length: int) -> None:
        hl = self._lk.HEADER_LEN
        raw = bytes(buf[: length + self._lk.OVERHEAD])
        self._queue.append(Frame(ftype, buf[4], bytes(buf[hl : hl + length]), raw))
        # the session judges sequence numbers itself (a re-sent answer must be told from a
        # new one): the decoder delivers every good frame
        self._dec.restart_seq()

    def _read(self, timeout_s: float) -> bytes:
        chunk = self.runtime.receive(timeout_s)
        if chunk:
            self._dec.feed_into(chunk, len(chunk))
        return chunk

    def repeats_dropped(self) -> int:
        """Frames the decoder dropped as an exact repeat of the one before (duplicates)."""
        return int(self._dec.repeats)

    def decoder_errors(self) -> int:
        d = self._dec
        return int(d.crc_errors + d.truncated + d.oversized)

    # ---- bytes out
    def _write(self, frame: bytes) -> None:
        self.runtime.send(frame)
        self.stats.frames_sent += 1

    def _transmit(self, frame: bytes) -> None:
        self._last_sent = frame
        self._write(frame)

    def _retransmit(self, flush: bool) -> None:
        """The last frame again: the answer is late or lost. A frame the host's decoder holds
        unfinished is given up first (its bytes parsed again: a good frame inside is still
        taken, Decoder.end). With flush (from the second retransmission on), BUF_LEN zero
        bytes go before the frame: they finish any frame the board's decoder holds (one
        whose LEN a bit error raised waits for bytes that never come: on the unix port,
        whose reads block, for ever; on a board until its wait_ms), which then fails its
        CRC, and the board parses the bytes after its sync again, the first repeat among
        them. Zeros between frames are skipped as noise, not counted (docs/protocol.md).
        Not on the first retransmission: the board's I2C wait gives up after 512 bytes
        (fsw/linkdev.py), and a plain loss needs no flush."""
        self._dec.end()
        if flush:
            self.runtime.send(bytes(self._lk.BUF_LEN))
        self._write(self._last_sent)

    def send(self, frame: bytes) -> None:
        """A frame that gets no answer (serial sensor bytes): sent once, never repeated."""
        self.log.sent(frame)
        self._write(frame)

    def reboot(self) -> None:
        self.runtime.restart()  # refused: a board is not reset over the link

    # ---- the handshake
    def _handshake(self) -> None:
        """PING until its ACK comes (each PING a new SEQ: a board still expecting another
        host's numbering takes the third, docs/protocol.md); anything else is a clear error."""
        app = self.link.app
        junk = bytearray()
        attempts = max(3, self.settings.retries + 1)
        for _ in range(attempts):
            ping = self.link.command_frame(app.C_PING)
            self._write(ping)
            deadline = time.monotonic() + self._handshake_wait_s()
            while time.monotonic() < deadline:
                chunk = self._read(min(_POLL_S, max(deadline - time.monotonic(), 0.0)))
                if chunk and len(junk) < 4096:
                    junk += chunk
                while self._queue:
                    f = self._queue.popleft()
                    if f.ftype == self._lk.T_ACK:
                        self._check_ping_ack(f)
                        return
        if self._queue or self._dec.good:
            types = ", ".join(f"0x{f.ftype:02x}" for f in self._queue) or "none"
            raise UserError(
                f"the board on {self.where} does not answer PING with an ACK (frames of type "
                f"{types}): not the softland link of this version"
            )
        if junk:
            raise UserError(
                f"the board on {self.where} does not speak the softland link: it sent "
                f"{bytes(junk[:60])!r}"
            )
        raise UserError(
            f"no answer from the board on {self.where} within {attempts} x "
            f"{self._handshake_wait_s():g} s: is the softland firmware serving the link?"
        )

    def _handshake_wait_s(self) -> float:
        # a board may still be starting, or a pty reconnecting (QEMU looks for its pty's
        # reader once a second): each PING waits at least HANDSHAKE_WAIT_S
        return max(self.settings.reply_timeout_s, HANDSHAKE_WAIT_S)

    def _check_ping_ack(self, f: Frame) -> None:
        app = self.link.app
        if len(f.payload) != app.ACK_LEN:
            raise UserError(
                f"the board on {self.where} answers PING with a {len(f.payload)}-byte ACK "
                f"(this host speaks {app.ACK_LEN} bytes): another protocol version"
            )
        ack = self.link.decode_ack(f.payload)
        if ack["code"] != app.C_PING or ack["result"] != 0:
            raise UserError(
                f"the board on {self.where} answers PING with code {ack['code']}, result "
                f"{ack['result']}: another protocol version"
            )
        mode = ack["mode"]
        self.board_mode = MODES[mode] if mode < len(MODES) else str(mode)
        if mode != 0:
            raise UserError(
                f"the board on {self.where} is in mode {self.board_mode}, not SAFE: reset it "
                "(a HIL run starts from a board that has just booted)"
            )
        self._expect = (f.seq + 1) & 0xFF
        self._base = self._expect
        self.stats.frames_received += 1

    # ---- exchanges
    def _take(self, f: Frame, final: bool) -> bool:
        """Whether frame f is the next one from the board (taken, hashed); a repeat is
        dropped, a frame ahead of its SEQ too unless this is the last attempt (final)."""
        assert self._expect is not None
        gap = (f.seq - self._expect) & 0xFF
        if gap >= 128:
            self.stats.duplicates += 1
            return False
        if gap:
            if not final:
                self.stats.out_of_order += 1
                return False
            self.stats.frames_lost += gap
        self._expect = (f.seq + 1) & 0xFF
        self.stats.frames_received += 1
        self.wire_sha.update(f.raw)
        if self.frames_taken is not None:
            self.frames_taken.append(f.raw)
        self.sha.update(self._numbered_from_zero(f))
        return True

    def _numbered_from_zero(self, f: Frame) -> bytes:
        seq = (f.seq - self._base) & 0xFF
        if seq == f.seq:
            return f.raw
        buf = bytearray(f.raw)
        self._renumber.seq = seq
        self._renumber.finish(buf, f.ftype, len(f.payload))
        return bytes(buf)

    def exchange(self, frame: bytes, reply_type: int) -> list[Frame]:
        lk = self._lk
        is_tick = frame[3] == lk.T_TICK
        if is_tick and self.settings.realtime:
            self._pace()
        started = time.monotonic()
        self.stats.exchanges += 1
        self.log.sent(frame)
        self._transmit(frame)
        got: list[Frame] = []
        retries = 0
        deadline = time.monotonic() + self.settings.reply_timeout_s
        ask_again = False
        while True:
            if not self._queue:
                now = time.monotonic()
                if now < deadline and not ask_again:
                    self._read(min(_POLL_S, deadline - now))
                    continue
                if retries >= self.settings.retries:
                    self.stats.lost_reason = (
                        f"no answer to a frame of type 0x{self._last_sent[3]:02x} after "
                        f"{retries} retransmissions ({self.settings.link_lost_after_s:g} s)"
                    )
                    raise LinkLost(self.stats.lost_reason)
                retries += 1
                self.stats.retries += 1
                ask_again = False
                self._retransmit(flush=retries >= 2)
                deadline = time.monotonic() + self.settings.reply_timeout_s
                continue
            f = self._queue.popleft()
            terminal = f.ftype in (reply_type, lk.T_I2C_REQ)
            if not self._take(f, retries >= self.settings.retries):
                # a frame ahead of its SEQ that ends an answer: nothing more is coming, ask
                # for the answer again now rather than after the timeout
                if terminal and (f.seq - (self._expect or 0)) & 0xFF < 128:
                    ask_again = True
                continue
            if f.ftype == lk.T_I2C_REQ:
                self.i2c_transactions += 1
                answer = self._serve_i2c(f)
                self.log.reply(answer)
                self._transmit(answer)
                retries = 0
                deadline = time.monotonic() + self.settings.reply_timeout_s
                continue
            if f.ftype == lk.T_EVENT:
                event = self.link.decode_event(f.payload)
                self.events.append({"t_s": round(self.t_s, 6), "time_us": self.time_us, **event})
                if self.live is not None:
                    self.live.event(self.events[-1])
            got.append(f)
            if f.ftype == reply_type:
                break
        done = time.monotonic()
        if is_tick:
            self.stats.tick_rtt_ms.append((done - started) * 1000)
            if self.settings.realtime:
                self._lateness(done)
        return got

    def _serve_i2c(self, frame: Frame) -> bytes:
        req = self.link.decode_i2c_request(frame.payload)
        if self.i2c is None:
            return self.link.i2c_response_frame(self.link.dev.ST_NACK_ADDR)
        status, data = self.i2c.transact(req.op, req.addr, req.reg, req.write, req.read_len)
        return self.link.i2c_response_frame(status, data)

    def command(self, code: int, param_id: int = 0, value: int = 0) -> dict[str, int]:
        frames = self.exchange(self.link.command_frame(code, param_id, value), self._lk.T_ACK)
        ack = [f for f in frames if f.ftype == self._lk.T_ACK][-1]
        return self.link.decode_ack(ack.payload)

    # ---- --realtime
    def _pace(self) -> None:
        """Send tick n at t0 + n periods of the wall clock (at once when that has passed)."""
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._tick_index * self.settings.tick_period_s
        if due > now:
            time.sleep(due - now)

    def _lateness(self, done: float) -> None:
        assert self._t0 is not None
        end = self._t0 + (self._tick_index + 1) * self.settings.tick_period_s
        self._tick_index += 1
        late_ms = (done - end) * 1000
        if late_ms > 0:
            self.stats.late_ticks += 1
            self.stats.worst_late_ms = max(self.stats.worst_late_ms, late_ms)


def check_hil_scenario(s: Scenario) -> None:
    """A scenario HIL can fly: the host cannot reset a board's flight computer."""
    if any(f.sensor == "computer" for f in s.faults):
        raise UserError(
            f"scenario {s.name} resets the flight computer: HIL cannot reset a board over its "
            "serial link (fly it with `softland sim`)"
        )


def run_hil(
    scenario: Scenario,
    runtime: SerialRuntime,
    seed: int | None = None,
    controller: str | None = None,
    settings: LinkSettings | None = None,
    on_tick: Any = None,
    board: str = "",
    sessions: list[HilSession] | None = None,
    live: FrameSink | None = None,
) -> SimResult:
    """Fly one descent against the board behind `runtime` (closed by the caller). The
    summary is the sim's plus "link" (LinkStats) and "board". sessions: a list that gets the
    session, which keeps the raw frames it took (frames_taken), for a test's check."""
    check_hil_scenario(scenario)
    seed = scenario.seed if seed is None else seed
    if controller is not None:
        if controller not in CONTROLLERS:
            known = ", ".join(CONTROLLERS)
            raise UserError(f"unknown controller '{controller}' (use one of: {known})")
        scenario = dataclasses.replace(
            scenario, firmware={**scenario.firmware, "baseline": CONTROLLERS[controller]}
        )
    settings = settings or LinkSettings()
    settings = dataclasses.replace(settings, tick_period_s=1.0 / scenario.sim.tick_hz)
    keep = sessions is not None
    sessions = [] if sessions is None else sessions

    def make_session(rt: Any, link: HostLink, i2c: I2cDevices | None) -> HilSession:
        where = runtime.port.port or runtime.name
        session = HilSession(rt, link, i2c, settings, where, keep_frames=keep)
        sessions.append(session)
        return session

    result = fly(scenario, runtime, seed, session=make_session, on_tick=on_tick, live=live)
    session = sessions[-1]
    result.summary["host_link_errors"] = session.decoder_errors()
    result.summary["board"] = board or "unnamed"
    result.summary["port"] = session.where
    result.summary["telemetry_sha256_wire"] = session.wire_sha.hexdigest()
    stats = session.stats
    stats.crc_errors = session.decoder_errors()
    stats.duplicates += int(session.repeats_dropped())
    result.summary["link"] = stats.summary(settings)
    return result
