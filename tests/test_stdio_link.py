"""hal/stdio_link.serve on the MicroPython unix port: the console's Ctrl-C is off while the
link serves and back on when it stops, however it stops."""

from __future__ import annotations

import subprocess

from softland.runtimes import micropython_env

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
try:
    stdio_link.serve(Failing(), io.BytesIO(), backup=None)
except OSError:
    print("failed", calls)
"""


def test_serving_turns_the_console_interrupt_off_and_back_on(micropython_bin: str) -> None:
    proc = subprocess.run(
        [micropython_bin, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=micropython_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split("\n")[:2] == ["ended [-1, 3]", "failed [-1, 3]"]
