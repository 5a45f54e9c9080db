"""`softland log pull --port PORT`: the flight log file copied off a board over mpremote
(`mpremote connect PORT fs cp :PATH FILE`), with one clear line when the port does not exist,
mpremote is missing or the board has no log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from softland.errors import UserError

BOARD_PATH = "/flight.log"  # where board_config's "flightlog" puts it by default


def _mpremote() -> list[str]:
    exe = shutil.which("mpremote")
    if exe:
        return [exe]
    try:
        import mpremote  # noqa: F401
    except ImportError:
        raise UserError("mpremote is not installed (pip install mpremote)") from None
    return [sys.executable, "-m", "mpremote"]


def pull_log(port: str, out: Path, board_path: str = BOARD_PATH, timeout_s: float = 120) -> int:
    """Copies the log; returns its size in bytes."""
    if port.startswith("/") and not os.path.exists(port):
        raise UserError(f"port {port} does not exist (is the board plugged in?)")
    cmd = [*_mpremote(), "connect", port, "fs", "cp", f":{board_path}", str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise UserError(f"mpremote on {port} did not finish in {timeout_s:.0f} s") from None
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "Traceback" in text or "Error" in text:
        low = text.lower()
        if "enoent" in low or "no such file" in low:
            raise UserError(f"the board on {port} has no flight log at :{board_path}")
        if "failed to access" in low or "could not" in low or "no device" in low:
            raise UserError(f"cannot open port {port}: {text.splitlines()[-1]}")
        last = text.splitlines()[-1] if text else f"exit code {proc.returncode}"
        raise UserError(f"mpremote could not copy :{board_path} from {port}: {last}")
    try:
        return out.stat().st_size
    except OSError:
        raise UserError(f"mpremote reported success but {out} was not written") from None
