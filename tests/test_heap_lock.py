"""No allocation per tick: firmware ticks run under micropython.heap_lock() on the unix port."""

from __future__ import annotations

import os
import subprocess

from softland.firmware import firmware_dir

# Builds a flying App, pre-encodes every tick frame, then feeds them with the heap locked.
_SCRIPT = """
import micropython
from fsw import link
from fsw.app import App, C_ARM, C_START, CMD_LEN, TICK_LEN

class Sink:
    def __init__(self):
        self.n = 0
    def write(self, b):
        self.n += len(b)
        return len(b)

def frame(enc, ftype, payload):
    f = bytearray(len(payload) + link.OVERHEAD)
    for i in range(len(payload)):
        f[link.HEADER_LEN + i] = payload[i]
    enc.finish(f, ftype, len(payload))
    return f

def cmd(enc, code):
    p = bytearray(CMD_LEN)
    p[0] = code
    return frame(enc, link.T_CMD, p)

def tick(enc, k, alt_mm):
    p = bytearray(TICK_LEN)
    link.put_i32(p, 0, k * 20000)
    link.put_i32(p, 4, alt_mm + 1000)
    p[8] = 4
    link.put_i32(p, 9, 1620 + (k % 7) * 300)
    p[13] = 1
    return frame(enc, link.T_TICK, p)

def main():
    app = App(Sink())
    enc = link.Encoder()
    for f in (cmd(enc, C_ARM), cmd(enc, C_START)):
        app.feed_into(f, len(f))
    frames = []
    alt = 3000000
    for k in range(N_TICKS):
        alt = alt - 60 * 20 if alt > 60000 else alt - 20
        frames.append(tick(enc, k, alt))
    bad = bytearray(frames[0])
    bad[10] ^= 0xFF
    ALLOC
    micropython.heap_lock()
    try:
        for i in range(N_TICKS):
            f = frames[i]
            app.feed_into(f, len(f))
            if i % 97 == 0:
                app.feed_into(bad, len(bad))
    finally:
        micropython.heap_unlock()
    print("ticks", app.flight.ticks, "faults", app.faults, "mode", app.flight.mode,
          "link_errors", app.dec.errors())

main()
"""


def _run(micropython_bin: str, n: int, alloc: str = "") -> str:
    script = _SCRIPT.replace("ALLOC", alloc or "pass").replace("N_TICKS", str(n))
    proc = subprocess.run(
        [micropython_bin, "-X", "heapsize=512K", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "MICROPYPATH": f"{firmware_dir()}:.frozen"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def _field(out: str, name: str) -> int:
    words = out.split()
    return int(words[words.index(name) + 1])


def test_firmware_ticks_do_not_allocate(micropython_bin: str) -> None:
    out = _run(micropython_bin, 3000)
    assert _field(out, "ticks") == 3000
    assert _field(out, "faults") == 0
    assert _field(out, "link_errors") > 0  # the corrupted frames were counted, not acted on


def test_an_allocating_tick_is_caught_as_a_fault(micropython_bin: str) -> None:
    # proves the check can fail: a tick that builds a list under the heap lock raises
    # MemoryError, which the app catches, counts and reports, and the loop goes on
    alloc = (
        "orig = app.flight.tick\n"
        "    def alloc_tick(*a):\n"
        "        orig(*a)\n"
        "        return [a[0]]\n"
        "    app.flight.tick = alloc_tick"
    )
    out = _run(micropython_bin, 50, alloc)
    assert _field(out, "faults") == 50
