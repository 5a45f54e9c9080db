"""Finding a board when no PORT is given: its serial port by USB VID:PID, or its CIRCUITPY drive.

A board file's optional ``usb_ids`` (``["2E8A:0005"]``) are the ids its runtime enumerates with.
`find_serial_port` lists the host's serial ports with pyserial (``serial.tools.list_ports``)
and takes the one port whose (VID, PID) is among them; none or several is one `UserError` that
lists every port seen. `find_circuitpy_drive` looks for a mounted CIRCUITPY volume where Linux
and macOS mount it. `resolve_port` picks between the two by the board's runtime.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from softland.boards.catalog import Board
from softland.errors import UserError

AUTO = "auto"  # a PORT that means "find it"
VOLUME_LABEL = "CIRCUITPY"


class PortInfo(Protocol):
    """What softland reads of pyserial's ListPortInfo."""

    device: str
    vid: int | None
    pid: int | None
    description: str


def list_serial_ports() -> list[PortInfo]:
    """The host's serial ports, as pyserial sees them."""
    try:
        from serial.tools import list_ports
    except ImportError:
        raise UserError(
            f"finding the port needs pyserial, which is not installed for {sys.executable}: "
            "pip install pyserial (or give PORT)"
        ) from None
    return list(list_ports.comports())


def _describe(port: PortInfo) -> str:
    usb = f"{port.vid:04X}:{port.pid:04X}" if port.vid is not None and port.pid is not None else ""
    text = (port.description or "").strip()
    if text in ("", "n/a", port.device):
        text = ""
    inner = ", ".join(part for part in (usb or "no USB id", text) if part)
    return f"{port.device} ({inner})"


def find_serial_port(
    board: Board, ports: Callable[[], Sequence[PortInfo]] | None = None
) -> PortInfo:
    """The one serial port whose USB VID:PID is one of the board file's `usb_ids`, among
    `ports()` (default: `list_serial_ports`)."""
    if not board.usb_ids:
        raise UserError(
            f"board '{board.name}' lists no usb_ids in its board file, so its port cannot be "
            "found: give PORT (like /dev/ttyACM0, a0 or COM3)"
        )
    seen = sorted((ports or list_serial_ports)(), key=lambda p: p.device)
    matches = [p for p in seen if (p.vid, p.pid) in board.usb_ids]
    if len(matches) == 1:
        return matches[0]
    listing = "; ".join(_describe(p) for p in seen) or "no serial ports at all"
    if not matches:
        raise UserError(
            f"no serial port has the USB id {board.usb_ids_text} of board '{board.name}' "
            f"(seen: {listing}): plug it in with its runtime running, or give PORT"
        )
    raise UserError(
        f"{len(matches)} serial ports have the USB id {board.usb_ids_text} of board "
        f"'{board.name}': {'; '.join(_describe(p) for p in matches)}: give PORT"
    )


def circuitpy_mount_points(user: str | None = None, platform: str | None = None) -> list[Path]:
    """Where a CIRCUITPY drive is mounted: /media/$USER and /run/media/$USER (Linux desktop
    automounters), /Volumes (macOS)."""
    platform = platform or sys.platform
    if platform == "darwin":
        return [Path("/Volumes") / VOLUME_LABEL]
    if platform.startswith("win"):
        return []  # a drive letter: the user gives it
    if user is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = os.environ.get("USER", "")
    return [Path("/media") / user / VOLUME_LABEL, Path("/run/media") / user / VOLUME_LABEL]


def find_circuitpy_drive(candidates: Sequence[Path] | None = None) -> Path:
    """The one mounted CIRCUITPY drive among `candidates` (default: `circuitpy_mount_points`)."""
    where = list(candidates) if candidates is not None else circuitpy_mount_points()
    found = [path for path in where if path.is_dir()]
    if len(found) == 1:
        return found[0]
    if not found:
        looked = ", ".join(str(p) for p in where) or "nowhere on this system"
        raise UserError(
            f"no mounted {VOLUME_LABEL} drive (looked at {looked}): plug the board in with "
            "CircuitPython running, or give the drive's path (e.g. E:\\ on Windows)"
        )
    raise UserError(
        f"several {VOLUME_LABEL} drives are mounted ({', '.join(str(p) for p in found)}): "
        "give the drive's path"
    )


def resolve_port(
    port: str | None,
    board: Board,
    ports: Callable[[], Sequence[PortInfo]] | None = None,
    drives: Sequence[Path] | None = None,
) -> tuple[str, str | None]:
    """(PORT to use, a note on how it was found or None). No PORT or "auto": a CircuitPython
    board's CIRCUITPY drive, else the serial port with the board's USB id."""
    if port not in (None, "", AUTO):
        assert port is not None
        return port, None
    if board.runtime == "circuitpython":
        drive = find_circuitpy_drive(drives)
        return str(drive), f"found the {VOLUME_LABEL} drive at {drive}"
    found = find_serial_port(board, ports)
    return found.device, f"found board '{board.name}' on {_describe(found)}"
