"""hal/stdio_link.serve on the MicroPython unix port: the console's Ctrl-C is off while the
link serves and back on when it stops, however it stops; with bounded reads (a board's
setting) a silence drops a half-received frame and restarts the sequence numbers."""

from __future__ import annotations

import os
import select
import subprocess
import time

import pytest

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import HostLink
from softland.boards.runtimes import micropython_env

link = fsw_module("link")

# serve() with micropython.kbd_intr recorded, on an input that ends (SIL's EOF) or fails
_SCRIPT = """
import io, micropython
import hal.stdio_link as stdio_link

calls = []

class Recorder:
    def kbd_intr(self, char):
        calls.append(char)

stdio_link.micropython = Recorder()

class Failing:
    def readinto(self, buf, n):
        raise OSError(5)

stdio_link.serve(io.BytesIO(b"\\x03\\xa5\\x5a\\x03"), io.BytesIO(), backup=None)
print("ended", calls)
calls.clear()
app = stdio_link.serve(Failing(), io.BytesIO(), backup=None)
print("failed", calls, app.faults)
"""


@pytest.fixture(scope="module")
def serve_lines(micropython_bin: str) -> list[str]:
    proc = subprocess.run(
        [micropython_bin, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=micropython_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split("\n")


def test_serving_turns_the_console_interrupt_off_and_back_on(serve_lines: list[str]) -> None:
    assert serve_lines[0] == "ended [-1, 3]"
    assert serve_lines[1].startswith("failed [-1, 3]")


def test_a_stream_that_raises_is_counted_and_serving_ends_after_a_hundred_in_a_row(
    serve_lines: list[str],
) -> None:
    # no exception escapes the loop: each failed read is a fault; a stream that keeps failing
    # is gone, and serve() returns as at the end of the input (Ctrl-C back on)
    assert serve_lines[1] == "failed [-1, 3] 100"


_SERVE = """
import sys
from hal.stdio_link import serve
app = serve(sys.stdin.buffer, sys.stdout.buffer, heap_lock=True, backup=None, wait_ms=WAIT_MS)
sys.stderr.write("served ticks %d truncated %d\\n" % (app.flight.ticks, app.dec.truncated))
"""


def _telemetry(proc: subprocess.Popen[bytes], host: HostLink, timeout_s: float) -> dict:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            for frame in host.feed(os.read(proc.stdout.fileno(), 4096)):
                if frame.ftype == link.T_TELEM:
                    return host.decode_telemetry(frame.payload)
    raise AssertionError("no telemetry")


def test_with_bounded_reads_a_host_that_dies_mid_frame_and_comes_back_is_served(
    micropython_bin: str,
) -> None:
    # the board's reads on the unix port over pipes: after WAIT_MS of silence the half frame
    # is dropped and a host numbering from 0 again is served from its first frame
    wait_ms = 50
    proc = subprocess.Popen(
        [micropython_bin, "-X", "heapsize=180000", "-c", _SERVE.replace("WAIT_MS", str(wait_ms))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=micropython_env(),
    )
    assert proc.stdin is not None
    try:
        host = HostLink()
        proc.stdin.write(host.tick_frame(0, 3_000_000, 3, 1620, True))
        proc.stdin.flush()
        assert _telemetry(proc, host, 10)["tick"] == 1
        half = host.tick_frame(20_000, 3_000_000, 3, 1620, True)
        proc.stdin.write(half[: len(half) // 2])
        proc.stdin.flush()
        time.sleep(10 * wait_ms / 1000)
        again = HostLink()  # numbers from 0 again
        proc.stdin.write(again.tick_frame(40_000, 3_000_000, 3, 1620, True))
        proc.stdin.flush()
        tel = _telemetry(proc, host, 10)
        assert (tel["tick"], tel["link_errors"], tel["faults"]) == (2, 1, 0)
        proc.stdin.close()  # the end of the stream still ends serve()
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        assert proc.stderr.read().decode().strip() == "served ticks 2 truncated 1"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
