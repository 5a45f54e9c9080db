"""Running the `softland` CLI in its own process, as a user would, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys


def run_softland(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    columns: int = 200,
) -> subprocess.CompletedProcess:
    """`python -m softland.cli ARGS` with its output captured; COLUMNS wide enough that a
    message stays on one line; env adds to (or overrides) the environment."""
    return subprocess.run(
        [sys.executable, "-m", "softland.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": str(columns), **(env or {})},
    )


def one_error_line(proc: subprocess.CompletedProcess, exit_code: int | None = 2) -> str:
    """The single `error:` line a bad input prints, with no traceback (exit_code: the status
    it must exit with; None: any)."""
    if exit_code is not None:
        assert proc.returncode == exit_code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines[0]
    return lines[0]
