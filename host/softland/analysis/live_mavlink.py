"""The live view's MAVLink 2 stream (pymavlink, common dialect): what a ground station such as
QGroundControl needs to list the vehicle and show its rangefinder, altitude and events.
docs/live.md says what each message carries.

pymavlink is an optional dependency (`pip install 'softland[live]'`); only --mavlink needs it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from softland.boards.hostlink import MODES
from softland.errors import UserError

if TYPE_CHECKING:
    from softland.analysis.live import LiveConfig, UdpSender

HEARTBEAT_PERIOD_US = 1_000_000  # 1 Hz of the firmware's time, and one at the start
RF_GOOD = 4  # fsw/rangefinder.py RF_GOOD
UINT16_MAX = 65535
STATUSTEXT_LEN = 50


def load_dialect() -> Any:
    """pymavlink's MAVLink 2 common dialect, or one clear UserError saying how to install it."""
    try:
        from pymavlink.dialects.v20 import common
    except ImportError:
        raise UserError(
            "--mavlink needs pymavlink, which is not installed: "
            "pip install 'softland[live]' (or pip install pymavlink)"
        ) from None
    return common


def _severities(m: Any) -> dict[str, int]:
    """STATUSTEXT severity of each event kind (hostlink.EVENTS names); INFO otherwise."""
    return {
        "fault": m.MAV_SEVERITY_CRITICAL,  # an exception caught in the flight loop
        "band_short": m.MAV_SEVERITY_CRITICAL,  # the blind band cannot be covered
        "reserve": m.MAV_SEVERITY_CRITICAL,  # propellant down to the reserve, no ground yet
        "exclude": m.MAV_SEVERITY_ERROR,  # latching baseline: rangefinder excluded for good
        "blind": m.MAV_SEVERITY_WARNING,  # blind descent: no trusted altitude at the gate
        "arm_refused": m.MAV_SEVERITY_WARNING,
        "arm_override": m.MAV_SEVERITY_WARNING,
        "rebase": m.MAV_SEVERITY_WARNING,  # the ground moved: new altitude accepted
        "revert": m.MAV_SEVERITY_WARNING,  # that re-base was onto a false return: back
        "hold": m.MAV_SEVERITY_WARNING,  # farther ground seen: held until it persists
        "impact": m.MAV_SEVERITY_NOTICE,  # ground impact while low: contact held
        "sighted": m.MAV_SEVERITY_NOTICE,  # the blind descent ended: altitude known again
        "resumed": m.MAV_SEVERITY_WARNING,  # the flight computer was reset mid-flight
        "skipped_ticks": m.MAV_SEVERITY_WARNING,
        "late_tick": m.MAV_SEVERITY_NOTICE,
        "ignition": m.MAV_SEVERITY_NOTICE,
        "cutoff": m.MAV_SEVERITY_NOTICE,
        "trust": m.MAV_SEVERITY_NOTICE,
        "interlock": m.MAV_SEVERITY_NOTICE,
    }


def _mode_name(mode: Any) -> str:
    return MODES[mode] if isinstance(mode, int) and 0 <= mode < len(MODES) else str(mode)


def event_text(event: Mapping[str, Any]) -> str:
    """A STATUSTEXT line (at most 50 characters): the event, its argument, the mode."""
    name = str(event.get("name", f"event{event.get('code')}"))
    arg = event.get("arg", 0)
    if name == "mode":
        text = f"mode -> {_mode_name(arg)}"
    elif name in ("ignition", "cutoff", "rebase", "revert", "exclude", "trust", "reserve"):
        text = f"{name} at {arg / 1000:.1f} m [{_mode_name(event.get('mode'))}]"
    else:
        text = f"{name} {arg} [{_mode_name(event.get('mode'))}]"
    return text[:STATUSTEXT_LEN]


class MavlinkStream:
    """Telemetry frames and events as MAVLink 2 messages of system config.system_id, component
    config.component_id (MAV_COMP_ID_AUTOPILOT1 by default), each sent as one UDP datagram."""

    def __init__(self, sender: UdpSender, config: LiveConfig) -> None:
        m = load_dialect()
        self.m = m
        self.sender = sender
        self.config = config
        self.mav = m.MAVLink(None, srcSystem=config.system_id, srcComponent=config.component_id)
        self.severity = _severities(m)
        self._last_heartbeat_us: int | None = None
        self._mode: int | None = None
        self.counts: dict[str, int] = {}
        self._send(self._heartbeat(None, 0))  # at the start: the ground station lists the vehicle

    def _send(self, msg: Any) -> None:
        self.counts[msg.get_type()] = self.counts.get(msg.get_type(), 0) + 1
        self.sender.send(msg.pack(self.mav))

    def _heartbeat(self, mode: int | None, phase: int) -> Any:
        """custom_mode: the firmware's mode | phase << 8; system_status from the mode."""
        m = self.m
        base = m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        if mode is None:
            status = m.MAV_STATE_BOOT
        else:
            name = _mode_name(mode)
            status = {
                "SAFE": m.MAV_STATE_STANDBY,
                "ARMED": m.MAV_STATE_STANDBY,
                "DESCENT": m.MAV_STATE_ACTIVE,
                "TERMINAL": m.MAV_STATE_ACTIVE,
                "LANDED": m.MAV_STATE_STANDBY,
                "ABORT": m.MAV_STATE_EMERGENCY,
            }.get(name, m.MAV_STATE_UNINIT)
            if name in ("ARMED", "DESCENT", "TERMINAL", "ABORT"):
                base |= m.MAV_MODE_FLAG_SAFETY_ARMED
        return self.mav.heartbeat_encode(
            m.MAV_TYPE_ROCKET, m.MAV_AUTOPILOT_GENERIC, base, (mode or 0) | phase << 8, status
        )

    def telemetry(self, frame: Mapping[str, Any], time_us: int) -> None:
        """HEARTBEAT (1 Hz of the firmware's time, and at once on a mode change),
        DISTANCE_SENSOR, ALTITUDE and LOCAL_POSITION_NED of one telemetry frame."""
        m, cfg = self.m, self.config
        mode = int(frame["mode"])
        due = self._last_heartbeat_us is None or (
            time_us - self._last_heartbeat_us >= HEARTBEAT_PERIOD_US
        )
        if due or mode != self._mode:
            self._send(self._heartbeat(mode, int(frame.get("phase", 0))))
            self._last_heartbeat_us = time_us
            self._mode = mode
        boot_ms = (time_us // 1000) & 0xFFFFFFFF
        good = frame["rf_status"] == RF_GOOD
        range_cm = max(0, min(UINT16_MAX - 1, round(frame["range_mm"] / 10)))
        # 0 unknown, 1 invalid, 100 perfect: the reading's signal strength (0..255) when Good
        quality = max(2, min(100, round(frame["rf_signal"] * 100 / 255))) if good else 1
        self._send(
            self.mav.distance_sensor_encode(
                boot_ms,
                round(cfg.rangefinder_min_m * 100),
                min(UINT16_MAX - 1, round(cfg.rangefinder_max_m * 100)),
                range_cm,
                m.MAV_DISTANCE_SENSOR_LASER,
                0,
                m.MAV_SENSOR_ROTATION_PITCH_270,  # facing down
                255,  # covariance unknown
                signal_quality=quality,
            )
        )
        alt_m = frame["alt_mm"] / 1000
        clearance = frame["range_mm"] / 1000 if good else -1.0
        nan = float("nan")
        self._send(self.mav.altitude_encode(time_us, nan, nan, alt_m, alt_m, alt_m, clearance))
        vel_mps = frame["vel_mm_s"] / 1000
        self._send(
            self.mav.local_position_ned_encode(boot_ms, 0.0, 0.0, -alt_m, 0.0, 0.0, -vel_mps)
        )

    def event(self, event: Mapping[str, Any]) -> None:
        m = self.m
        name = str(event.get("name", ""))
        severity = self.severity.get(name, m.MAV_SEVERITY_INFO)
        if name == "mode":
            severity = {
                "ABORT": m.MAV_SEVERITY_CRITICAL,
                "LANDED": m.MAV_SEVERITY_NOTICE,
            }.get(_mode_name(event.get("arg")), m.MAV_SEVERITY_INFO)
        if name == "imu" and event.get("arg") != 3:  # EV_IMU: 3 Good
            severity = m.MAV_SEVERITY_WARNING
        self._send(self.mav.statustext_encode(severity, event_text(event).encode()))
