"""`softland listen`: the host end of a board running board mode. The board flies on its own
clock and writes TELEM and EVENT frames on its console (docs/architecture.md, "Board mode");
this reads them from a serial port, decodes them with the firmware's own codec (HostLink),
hands each to the live view (softland.analysis.live) and records them: telemetry.csv grows a
row a frame as they come (flushed, so a run cut short keeps what was received), events.json
and summary.json are written at the end. Nothing is sent to the board.

A corrupted, truncated or out-of-sequence frame is dropped by the decoder and counted
(`decoder_errors`), never recorded; bytes that are no frame (a REPL banner, a traceback) are
skipped the same way."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from softland.boards.hostlink import HostLink
from softland.errors import UserError

if TYPE_CHECKING:
    from softland.simulation.sim import FrameSink

READ_TIMEOUT_S = 0.1  # the longest one read waits, so stop conditions are checked often


@dataclass
class ListenStop:
    """When listening ends (whichever comes first; a closed port always ends it)."""

    duration_s: float | None = None
    frames: int | None = None


@dataclass
class ListenResult:
    port: str
    reason: str = ""  # "frames", "duration", "port closed", "interrupted"
    frames: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    other_frames: int = 0  # ACK and other frame types: decoded, not recorded
    bytes_read: int = 0
    decoder_errors: int = 0
    wall_s: float = 0.0
    last_mode: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "stopped": self.reason,
            "telemetry_frames": self.frames,
            "events": len(self.events),
            "other_frames": self.other_frames,
            "bytes_read": self.bytes_read,
            "decoder_errors": self.decoder_errors,
            "wall_s": round(self.wall_s, 3),
            "final_mode": self.last_mode,
        }


class TelemetryRecorder:
    """telemetry.csv, a row a frame, flushed as it goes (the header from the first row)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] = path.open("w", newline="")
        self._writer: csv.DictWriter | None = None

    def write(self, row: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = csv.DictWriter(self._fh, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(row)
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def open_port(port: str, baud: int) -> Any:
    """The board's serial port through pyserial (a device path, or a pyserial URL such as
    socket://HOST:PORT), or one clear UserError."""
    import serial

    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=READ_TIMEOUT_S)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise UserError(f"cannot open serial port {port}: {exc}") from None


def listen(
    read: Callable[[float], bytes | None],
    port: str,
    live: FrameSink | None = None,
    recorder: TelemetryRecorder | None = None,
    stop: ListenStop | None = None,
    on_frame: Callable[[dict[str, Any]], None] | None = None,
) -> ListenResult:
    """Decode what read(timeout) returns until stop says so or the port closes (read raises
    OSError or returns None). Ctrl-C ends it too, with everything received kept."""
    stop = stop or ListenStop()
    link = HostLink()
    lk = link.link
    result = ListenResult(port=port)
    t0 = time.monotonic()
    try:
        while True:
            now = time.monotonic() - t0
            if stop.duration_s is not None and now >= stop.duration_s:
                result.reason = "duration"
                break
            if stop.frames is not None and result.frames >= stop.frames:
                result.reason = "frames"
                break
            try:
                chunk = read(READ_TIMEOUT_S)
            except OSError:
                result.reason = "port closed"
                break
            if chunk is None:
                result.reason = "port closed"
                break
            result.bytes_read += len(chunk)
            for f in link.feed(chunk):
                if f.ftype == lk.T_TELEM and len(f.payload) == link.telemetry_len:
                    row: dict[str, Any] = {
                        "host_s": round(time.monotonic() - t0, 6),
                        **link.decode_telemetry(f.payload),
                    }
                    result.frames += 1
                    result.last_mode = row["mode"]
                    if recorder is not None:
                        recorder.write(row)
                    if live is not None:
                        live.telemetry(row)
                    if on_frame is not None:
                        on_frame(row)
                elif f.ftype == lk.T_EVENT:
                    ev = link.decode_event(f.payload)
                    result.events.append(ev)
                    if live is not None:
                        live.event(ev)
                else:
                    result.other_frames += 1
    except KeyboardInterrupt:
        result.reason = "interrupted"
    result.decoder_errors = link.decoder_errors()
    result.wall_s = time.monotonic() - t0
    return result


def serial_reader(ser: Any) -> Callable[[float], bytes | None]:
    """read(timeout) over a pyserial port: what is waiting (at least one byte, or b"" after
    the port's timeout); None once the port is gone."""
    import serial

    def read(_timeout: float) -> bytes | None:
        try:
            first = ser.read(1)
            rest = ser.read(ser.in_waiting) if first and ser.in_waiting else b""
        except (serial.SerialException, OSError):
            return None
        return first + rest

    return read


def write_listen_outputs(result: ListenResult, out: Path) -> dict[str, Path]:
    paths = {"summary": out / "summary.json", "events": out / "events.json"}
    paths["summary"].write_text(json.dumps(result.summary(), indent=2) + "\n")
    paths["events"].write_text(json.dumps(result.events, indent=2) + "\n")
    return paths
