"""The live view: each decoded telemetry frame and event of a run, as it arrives, streamed over
UDP as JSON (one datagram a frame, for PlotJuggler's UDP server) and as MAVLink 2 (for a
ground station such as QGroundControl; softland.analysis.live_mavlink). docs/live.md.

Fire and forget: non-blocking sockets, no waits; a receiver that is not there (ECONNREFUSED,
an unreachable network, a full buffer) costs a counted, swallowed send error and nothing else.

Use (sim, hil, listen):

    view = open_live_view(live_url, mavlink_url)       # None when neither is given
    ... view.telemetry(frame); view.event(event) ...   # or run_scenario(..., live=view)
    view.close()
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import MODES, PHASES
from softland.errors import UserError

TIME_WRAP_US = 1 << 30  # the firmware's time_us wraps at 2^30 us (fsw/telemetry.py)

# telemetry channels in physical units: name -> (raw channel, scale)
PHYSICAL: tuple[tuple[str, str, float], ...] = (
    ("alt_m", "alt_mm", 1e-3),
    ("vel_mps", "vel_mm_s", 1e-3),
    ("sigma_m", "sigma_mm", 1e-3),
    ("vref_mps", "vref_mm_s", 1e-3),
    ("throttle", "throttle_q15", 1 / 32767),
    ("acmd_mps2", "acmd_mm_s2", 1e-3),
    ("integ_mps2", "integ_mm_s2", 1e-3),
    ("range_m", "range_mm", 1e-3),
    ("amax_mps2", "amax_mm_s2", 1e-3),
    ("mass_fraction", "mass_q14", 1 / 16384),
    ("hlow_m", "hlow_mm", 1e-3),
)


@dataclass(frozen=True)
class UdpTarget:
    """Where a stream goes: a udp://HOST:PORT URL, checked."""

    url: str
    host: str
    port: int


def parse_udp_url(url: str, option: str = "--live") -> UdpTarget:
    """udp://HOST:PORT (HOST a name, an IPv4 address or a [bracketed] IPv6 one) or one clear
    UserError naming the option and what is wrong."""
    bad = f"{option} {url!r}: expected udp://HOST:PORT"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UserError(f"{bad} ({exc})") from None
    if parts.scheme != "udp":
        raise UserError(f"{bad} (scheme '{parts.scheme or 'none'}', only udp is supported)")
    if not parts.hostname:
        raise UserError(f"{bad} (no host)")
    if port is None:
        raise UserError(f"{bad} (no port)")
    if not 1 <= port <= 65535:
        raise UserError(f"{bad} (port {port} out of 1..65535)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise UserError(f"{bad} (nothing may follow the port)")
    return UdpTarget(url=url, host=parts.hostname, port=port)


class UdpSender:
    """A non-blocking UDP socket connected to one target (so that a missing receiver shows as
    a refused send, counted); send() never waits and never raises."""

    def __init__(self, target: UdpTarget, option: str) -> None:
        self.target = target
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UserError(
                f"{option} {target.url}: cannot resolve host '{target.host}' ({exc})"
            ) from None
        family, kind, proto, _name, address = infos[0]
        self._sock = socket.socket(family, kind, proto)
        self._sock.setblocking(False)
        if family == socket.AF_INET:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            self._sock.connect(address)
        except OSError as exc:
            self._sock.close()
            raise UserError(f"{option} {target.url}: {exc.strerror or exc}") from None
        self.sent = 0
        self.errors = 0
        self.last_error = ""

    def send(self, datagram: bytes) -> bool:
        try:
            self._sock.send(datagram)
        except OSError as exc:  # refused, unreachable, would block, message too long
            self.errors += 1
            self.last_error = exc.strerror or type(exc).__name__
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        self._sock.close()


def _flag_names() -> tuple[tuple[str, int], ...]:
    flags = fsw_module("flags")
    bits = [(f"flags/{n}", 1 << i) for i, n in enumerate(flags.NAMES) if n]
    bits += [(f"flags2/{n}", 1 << i) for i, n in enumerate(flags.NAMES2) if n]
    return tuple(bits)


def _plain(value: Any) -> Any:
    """A JSON value PlotJuggler's parser takes: numpy scalars as Python numbers, a float that
    is not finite as null (NaN is not JSON; nlohmann would drop the whole datagram)."""
    if hasattr(value, "item") and not isinstance(value, (int, float, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class FirmwareClock:
    """The firmware's time_us (wrapping at 2^30 us) unwrapped into microseconds since the first
    frame's value: monotonic, for MAVLink's time_boot_ms and the JSON `time_s`."""

    def __init__(self) -> None:
        self._last: int | None = None
        self.us = 0

    def update(self, time_us: int) -> int:
        if self._last is None:
            self.us = time_us
        else:
            self.us += (time_us - self._last) % TIME_WRAP_US
        self._last = time_us
        return self.us


@dataclass
class JsonStream:
    """Frames and events as flat JSON objects, one UDP datagram each."""

    sender: UdpSender
    flag_bits: tuple[tuple[str, int], ...] = field(default_factory=_flag_names)

    def telemetry(self, frame: Mapping[str, Any], timestamp: float, time_s: float) -> None:
        msg: dict[str, Any] = {"timestamp": timestamp, "kind": "telemetry", "time_s": time_s}
        msg.update((k, _plain(v)) for k, v in frame.items())
        for name, raw, scale in PHYSICAL:
            if raw in frame:
                msg[name] = round(frame[raw] * scale, 6)
        if "mode" in frame:
            msg["mode_name"] = _name(MODES, frame["mode"])
        if "phase" in frame:
            msg["phase_name"] = _name(PHASES, frame["phase"])
        for name, bit in self.flag_bits:
            word = name.split("/")[0]
            if word in frame:
                msg[name] = 1 if frame[word] & bit else 0
        self._send(msg)

    def event(self, event: Mapping[str, Any], timestamp: float) -> None:
        name = str(event.get("name", f"event{event.get('code')}"))
        msg = {
            "timestamp": timestamp,
            "kind": "event",
            "event": name,
            "event_code": event.get("code"),
            "event_mode": event.get("mode"),
            "event_mode_name": _name(MODES, event.get("mode", -1)),
            "event_arg": event.get("arg"),
            f"events/{name}": event.get("arg"),
        }
        self._send(msg)

    def _send(self, msg: dict[str, Any]) -> None:
        self.sender.send(json.dumps(msg, separators=(",", ":"), allow_nan=False).encode())


def _name(names: tuple[str, ...], index: Any) -> str:
    return names[index] if isinstance(index, int) and 0 <= index < len(names) else str(index)


@dataclass(frozen=True)
class LiveConfig:
    """What a ground station is told of the vehicle (MAVLink) beyond the telemetry."""

    system_id: int = 1
    component_id: int = 1
    rangefinder_min_m: float = 0.0
    rangefinder_max_m: float = 655.35  # DISTANCE_SENSOR's largest (uint16 cm)


class LiveView:
    """The live streams of one run: telemetry(frame) for every decoded TELEM frame (the dict of
    HostLink.decode_telemetry, or a telemetry.csv row with it: `t_s`, the ground truth, ...),
    event(ev) for every decoded EVENT (HostLink.decode_event), close() at the end.

    An event is held until the telemetry frame that follows it (the firmware sends a tick's
    events before its TELEM) and stamped with that frame's time; close() sends any left.
    JSON `timestamp`: the frame's `t_s` (the host's flight time, sim and hil) where it has one,
    else the firmware's time (unwrapped `time_us`) in seconds."""

    def __init__(
        self, live: str | None = None, mavlink: str | None = None, config: LiveConfig | None = None
    ) -> None:
        self.config = config or LiveConfig()
        live_target = parse_udp_url(live, "--live") if live else None
        mav_target = parse_udp_url(mavlink, "--mavlink") if mavlink else None
        self.json: JsonStream | None = None
        self.mavlink: Any = None
        self._senders: list[UdpSender] = []
        self.clock = FirmwareClock()
        self._pending: list[Mapping[str, Any]] = []
        self._timestamp = 0.0
        self.frames = 0
        self.events = 0
        if mav_target is not None:
            from softland.analysis.live_mavlink import MavlinkStream

            sender = UdpSender(mav_target, "--mavlink")
            self._senders.append(sender)
            self.mavlink = MavlinkStream(sender, self.config)
        if live_target is not None:
            sender = UdpSender(live_target, "--live")
            self._senders.append(sender)
            self.json = JsonStream(sender)

    def telemetry(self, frame: Mapping[str, Any]) -> None:
        self.frames += 1
        time_us = self.clock.update(frame["time_us"]) if "time_us" in frame else self.clock.us
        t_s = frame.get("t_s")
        self._timestamp = float(t_s) if t_s is not None else time_us / 1e6
        self._flush_events()
        if self.json is not None:
            self.json.telemetry(frame, self._timestamp, time_us / 1e6)
        if self.mavlink is not None and frame.get("computer_up", 1):
            self.mavlink.telemetry(frame, time_us)

    def event(self, event: Mapping[str, Any]) -> None:
        self.events += 1
        self._pending.append(dict(event))

    def _flush_events(self) -> None:
        for ev in self._pending:
            if self.json is not None:
                self.json.event(ev, self._timestamp)
            if self.mavlink is not None:
                self.mavlink.event(ev)
        self._pending = []

    def stats(self) -> str:
        """One line: what was streamed where, and the sends that failed."""
        parts = []
        for s in self._senders:
            text = f"{s.target.url} {s.sent + s.errors} datagrams"
            if s.errors:
                # a connected UDP socket learns of a missing receiver from the ICMP answer to
                # an earlier datagram: every other send fails then, and none arrives
                text += f", {s.errors} send errors ({s.last_error}: no receiver?)"
            parts.append(text)
        return f"live: {self.frames} frames, {self.events} events; " + "; ".join(parts)

    def close(self) -> None:
        self._flush_events()
        for s in self._senders:
            s.close()

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_live_view(
    live: str | None, mavlink: str | None, config: LiveConfig | None = None
) -> LiveView | None:
    """The live view of the --live / --mavlink URLs, or None when neither is given."""
    if not live and not mavlink:
        return None
    return LiveView(live, mavlink, config)


def scenario_live_config(s: Any) -> LiveConfig:
    """The live view's configuration for a flight of scenario s: its rangefinder's limits."""
    if s.rangefinder.model == "lrf":
        cfg = s.lrf_config()
        low, high = cfg.min_range_m, cfg.max_range_m
    else:
        low, high = float(s.rangefinder.min_range_m), float(s.rangefinder.max_range_m)
    return LiveConfig(rangefinder_min_m=low, rangefinder_max_m=min(high, 655.34))
