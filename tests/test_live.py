"""The live view (softland.analysis.live, docs/live.md): `softland sim --live/--mavlink` streams
every telemetry row and event of a run as it flies, as JSON over UDP and as MAVLink 2, to
receivers that may or may not be there."""

from __future__ import annotations

import csv
import json
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cli_run import run_softland

from softland.analysis.live import LiveView, parse_udp_url
from softland.errors import UserError

try:
    from pymavlink.dialects.v20 import common as mavlink
except ImportError:  # the JSON stream needs no pymavlink; the MAVLink tests skip
    mavlink = None
needs_pymavlink = pytest.mark.skipif(
    mavlink is None, reason="pymavlink not installed (pip install 'softland[live]')"
)


class UdpListener:
    """A test receiver: a UDP socket on localhost drained by a thread (a run sends thousands
    of datagrams faster than a socket buffer holds them)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # a whole run fits in the receive buffer, so a drain thread starved of CPU on a loaded
        # machine loses nothing (the kernel drops what a full buffer cannot take): above
        # rmem_max where the process may (root), else as large as the kernel allows
        try:  # Linux's SO_RCVBUFFORCE (33), which Python's socket module does not name
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.url = f"udp://127.0.0.1:{self.port}"
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self.datagrams.append(self.sock.recv(65536))
            except TimeoutError:
                continue

    def stop(self) -> list[bytes]:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return self.datagrams


_softland = run_softland


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _strict_json(datagram: bytes) -> dict[str, Any]:
    """One datagram as JSON the way a strict parser (PlotJuggler's nlohmann) reads it: NaN
    and Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    msg = json.loads(datagram, parse_constant=refuse)
    assert isinstance(msg, dict)
    assert all(not isinstance(v, (dict, list)) for v in msg.values())  # flat
    return msg


def _decode_mavlink(datagrams: list[bytes]) -> list[Any]:
    parser = mavlink.MAVLink(None)
    out = []
    for d in datagrams:
        msgs = parser.parse_buffer(d)
        assert msgs is not None and len(msgs) == 1, d  # one message a datagram
        out.extend(msgs)
    return out


@pytest.fixture(scope="module")
def streamed_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`softland sim nominal` with a JSON and a MAVLink listener."""
    out = tmp_path_factory.mktemp("live")
    js, mav = UdpListener(), UdpListener()
    mav_args = ["--mavlink", mav.url] if mavlink is not None else []
    proc = _softland(
        "sim", "nominal", "--runtime", "cpython", "--quiet", "--out", str(out),
        "--live", js.url, *mav_args,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    mav_datagrams = mav.stop()
    return {
        "out": out,
        "proc": proc,
        "json": [_strict_json(d) for d in js.stop()],
        "mavlink": _decode_mavlink(mav_datagrams) if mavlink is not None else [],
        "rows": _csv_rows(out / "telemetry.csv"),
        "events": json.loads((out / "events.json").read_text()),
        "summary": json.loads((out / "summary.json").read_text()),
    }


def test_the_json_stream_has_one_datagram_per_telemetry_row(streamed_run: dict) -> None:
    frames = [m for m in streamed_run["json"] if m["kind"] == "telemetry"]
    assert len(frames) == len(streamed_run["rows"]) > 1000


def test_the_json_stream_carries_every_telemetry_csv_value(streamed_run: dict) -> None:
    frames = [m for m in streamed_run["json"] if m["kind"] == "telemetry"]
    for frame, row in zip(frames, streamed_run["rows"], strict=True):
        assert {k: str(frame[k]) for k in row} == row


def test_every_json_message_has_a_numeric_timestamp_in_seconds(streamed_run: dict) -> None:
    frames = [m for m in streamed_run["json"] if m["kind"] == "telemetry"]
    assert all(isinstance(m["timestamp"], float) for m in streamed_run["json"])
    assert [m["timestamp"] for m in frames] == [float(r["t_s"]) for r in streamed_run["rows"]]


def test_the_json_stream_gives_physical_units_beside_the_raw_channels(streamed_run: dict) -> None:
    frame = [m for m in streamed_run["json"] if m["kind"] == "telemetry"][500]
    assert frame["alt_m"] == pytest.approx(frame["alt_mm"] / 1000)
    assert frame["vel_mps"] == pytest.approx(frame["vel_mm_s"] / 1000)
    assert frame["throttle"] == pytest.approx(frame["throttle_q15"] / 32767)
    assert frame["mode_name"] == "DESCENT"
    assert frame["flags/engine_on"] == (1 if frame["flags"] & 0x20 else 0)


def test_the_json_stream_sends_each_event_as_its_own_message(streamed_run: dict) -> None:
    events = [m for m in streamed_run["json"] if m["kind"] == "event"]
    assert [(m["event"], m["event_code"], m["event_mode"], m["event_arg"]) for m in events] == [
        (e["name"], e["code"], e["mode"], e["arg"]) for e in streamed_run["events"]
    ]
    assert all(m[f"events/{m['event']}"] == m["event_arg"] for m in events)


def test_an_event_comes_before_the_frame_of_its_tick_and_carries_its_time(
    streamed_run: dict,
) -> None:
    msgs = streamed_run["json"]
    landed = next(
        i for i, m in enumerate(msgs) if m.get("event_arg") == 4 and m["event"] == "mode"
    )
    after = msgs[landed + 1]
    assert after["kind"] == "telemetry" and after["mode_name"] == "LANDED"
    assert msgs[landed]["timestamp"] == after["timestamp"]


@needs_pymavlink
def test_the_mavlink_stream_has_every_message_type(streamed_run: dict) -> None:
    kinds = Counter(m.get_type() for m in streamed_run["mavlink"])
    n = len(streamed_run["rows"])
    assert kinds["DISTANCE_SENSOR"] == kinds["ALTITUDE"] == kinds["LOCAL_POSITION_NED"] == n
    assert kinds["STATUSTEXT"] == len(streamed_run["events"])
    flight_s = float(streamed_run["rows"][-1]["t_s"])
    assert kinds["HEARTBEAT"] >= flight_s  # 1 Hz at least, and one at the start


@needs_pymavlink
def test_the_mavlink_stream_is_mavlink2_from_an_autopilot_component(streamed_run: dict) -> None:
    beats = [m for m in streamed_run["mavlink"] if m.get_type() == "HEARTBEAT"]
    assert all(m.get_msgbuf()[0] == 0xFD for m in beats)  # MAVLink 2's start byte
    assert all(m.get_srcSystem() == 1 and m.get_srcComponent() == 1 for m in beats)
    assert {m.autopilot for m in beats} == {mavlink.MAV_AUTOPILOT_GENERIC}
    assert {m.type for m in beats} == {mavlink.MAV_TYPE_ROCKET}
    assert beats[0].system_status == mavlink.MAV_STATE_BOOT
    assert beats[-1].system_status == mavlink.MAV_STATE_STANDBY  # LANDED
    flying = [m for m in beats if m.custom_mode & 0xFF == 2]  # DESCENT
    assert flying and all(m.system_status == mavlink.MAV_STATE_ACTIVE for m in flying)
    assert all(m.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED for m in flying)


@needs_pymavlink
def test_the_mavlink_values_match_telemetry_csv(streamed_run: dict) -> None:
    msgs = streamed_run["mavlink"]
    rows = streamed_run["rows"]
    dist = [m for m in msgs if m.get_type() == "DISTANCE_SENSOR"]
    alt = [m for m in msgs if m.get_type() == "ALTITUDE"]
    ned = [m for m in msgs if m.get_type() == "LOCAL_POSITION_NED"]
    for row, d, a, p in zip(rows, dist, alt, ned, strict=True):
        time_ms = int(row["time_us"]) // 1000
        assert d.time_boot_ms == p.time_boot_ms == time_ms
        assert a.time_usec == int(row["time_us"])
        good = row["rf_status"] == "4"
        assert d.current_distance == min(65534, round(int(row["range_mm"]) / 10))
        assert (d.signal_quality > 1) == good
        assert d.orientation == mavlink.MAV_SENSOR_ROTATION_PITCH_270
        assert a.altitude_terrain == pytest.approx(int(row["alt_mm"]) / 1000, abs=1e-3)
        assert p.z == pytest.approx(-int(row["alt_mm"]) / 1000, abs=1e-3)
        assert p.vz == pytest.approx(-int(row["vel_mm_s"]) / 1000, abs=1e-4)


@needs_pymavlink
def test_the_mavlink_statustext_names_each_event_with_its_severity(streamed_run: dict) -> None:
    texts = [m for m in streamed_run["mavlink"] if m.get_type() == "STATUSTEXT"]
    names = [e["name"] for e in streamed_run["events"]]
    assert [t.text.split(" ")[0] for t in texts] == names
    landed = [t for t in texts if t.text == "mode -> LANDED"]
    assert landed and landed[0].severity == mavlink.MAV_SEVERITY_NOTICE


def test_the_run_reports_what_it_streamed(streamed_run: dict) -> None:
    assert f"live: {len(streamed_run['rows'])} frames" in streamed_run["proc"].stderr


def test_no_receiver_changes_nothing_of_the_run(streamed_run: dict, tmp_path: Path) -> None:
    nobody = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    nobody.bind(("127.0.0.1", 0))
    url = f"udp://127.0.0.1:{nobody.getsockname()[1]}"
    nobody.close()  # nothing listens there now: every send is refused
    proc = _softland(
        "sim", "nominal", "--runtime", "cpython", "--quiet", "--out", str(tmp_path),
        "--live", url, "--mavlink", url,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == streamed_run["summary"]
    assert "send errors (Connection refused" in proc.stderr


@needs_pymavlink
def test_a_computer_reset_streams_its_silent_rows_as_json_but_no_mavlink(tmp_path: Path) -> None:
    js, mav = UdpListener(), UdpListener()
    proc = _softland(
        "sim", "beresheet", "--runtime", "cpython", "--quiet", "--out", str(tmp_path),
        "--live", js.url, "--mavlink", mav.url,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    rows = _csv_rows(tmp_path / "telemetry.csv")
    frames = [m for d in js.stop() if (m := json.loads(d))["kind"] == "telemetry"]
    kinds = Counter(m.get_type() for m in _decode_mavlink(mav.stop()))
    down = sum(r["computer_up"] == "0" for r in rows)
    assert down > 0
    assert len(frames) == len(rows)
    assert kinds["DISTANCE_SENSOR"] == len(rows) - down


@pytest.mark.parametrize(
    "url",
    [
        "localhost:9870",
        "tcp://127.0.0.1:9870",
        "udp://127.0.0.1",
        "udp://:9870",
        "udp://127.0.0.1:0",
        "udp://127.0.0.1:99999",
        "udp://127.0.0.1:port",
        "udp://127.0.0.1:9870/path",
    ],
)
def test_a_malformed_url_is_a_user_error_naming_it(url: str) -> None:
    with pytest.raises(UserError, match="expected udp://HOST:PORT"):
        parse_udp_url(url, "--live")


@pytest.mark.parametrize("option", ["--live", "--mavlink"])
def test_a_malformed_url_on_sim_is_one_line_and_exit_2(option: str, tmp_path: Path) -> None:
    proc = _softland("sim", "--runtime", "cpython", "--out", str(tmp_path), option, "udp:/x:1")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {option} 'udp:/x:1'"), proc.stderr
    assert not (tmp_path / "summary.json").exists()


def test_an_unresolvable_host_is_a_user_error() -> None:
    with pytest.raises(UserError, match="cannot resolve host"):
        LiveView(live="udp://no-such-host.invalid:9870")


def test_mavlink_without_pymavlink_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymavlink", None)
    monkeypatch.setitem(sys.modules, "pymavlink.dialects.v20", None)
    with pytest.raises(UserError, match=r"pip install 'softland\[live\]'"):
        LiveView(mavlink="udp://127.0.0.1:14550")


def test_json_streams_without_pymavlink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymavlink", None)
    monkeypatch.setitem(sys.modules, "pymavlink.dialects.v20", None)
    rx = UdpListener()
    with LiveView(live=rx.url) as view:
        view.telemetry({"tick": 1, "time_us": 20000, "mode": 0, "alt_mm": 1500})
    [msg] = [json.loads(d) for d in _wait_for(rx, 1)]
    assert msg["alt_m"] == 1.5 and msg["timestamp"] == 0.02


def _wait_for(rx: UdpListener, n: int) -> list[bytes]:
    for _ in range(100):
        if len(rx.datagrams) >= n:
            break
        time.sleep(0.01)
    return rx.stop()


def test_send_errors_are_counted_not_raised() -> None:
    nobody = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    nobody.bind(("127.0.0.1", 0))
    url = f"udp://127.0.0.1:{nobody.getsockname()[1]}"
    nobody.close()
    view = LiveView(live=url)
    for k in range(50):
        view.telemetry({"tick": k, "time_us": k * 20000, "mode": 0})
    view.close()
    sender = view.json.sender
    assert sender.sent + sender.errors == 50
    assert sender.errors > 0


def test_the_firmware_clock_unwraps_across_2_to_the_30_us() -> None:
    rx = UdpListener()
    view = LiveView(live=rx.url)
    wrap = 1 << 30
    for t in (wrap - 20000, wrap - 10000, 0, 10000):
        view.telemetry({"time_us": t, "mode": 0})
    view.close()
    times = [json.loads(d)["timestamp"] for d in _wait_for(rx, 4)]
    assert times == pytest.approx([(wrap - 20000 + k * 10000) / 1e6 for k in range(4)])


def test_close_sends_the_events_no_frame_followed() -> None:
    rx = UdpListener()
    view = LiveView(live=rx.url)
    view.telemetry({"time_us": 5_000_000, "mode": 0})
    view.event({"code": 5, "name": "arm_refused", "mode": 0, "arg": 33})
    view.close()
    msgs = [json.loads(d) for d in _wait_for(rx, 2)]
    assert msgs[-1]["event"] == "arm_refused" and msgs[-1]["timestamp"] == 5.0
