"""No allocation per tick: firmware ticks run under micropython.heap_lock() on the unix port,
64-bit and 32-bit (where an intermediate beyond 2^30 would itself be a heap int)."""

from __future__ import annotations

import subprocess

from softland.analysis.bench import MPSIDE_DIR
from softland.boards.runtimes import micropython_env

# A flying App, every tick frame encoded beforehand, then fed with the heap locked.
_SCRIPT = """
import micropython
from sil_frames import Sink, descent_ticks, flying_app

def main():
    app, enc = flying_app(Sink())
    frames = descent_ticks(enc, N_TICKS, SCATTER)
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
          "link_errors", app.dec.errors(), "phase", app.flight.phase)

main()
"""


def _run(micropython_bin: str, n: int, alloc: str = "", scatter: int = 0, heap: str = "1M") -> str:
    script = _SCRIPT.replace("ALLOC", alloc or "pass").replace("N_TICKS", str(n))
    script = script.replace("SCATTER", str(scatter))
    proc = subprocess.run(
        [micropython_bin, "-X", f"heapsize={heap}", "-c", script],
        capture_output=True,
        text=True,
        env=micropython_env(MPSIDE_DIR),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def _field(out: str, name: str) -> int:
    words = out.split()
    return int(words[words.index(name) + 1])


def test_firmware_ticks_do_not_allocate(any_micropython_bin: str) -> None:
    micropython_bin = any_micropython_bin
    out = _run(micropython_bin, 3000)
    assert _field(out, "ticks") == 3000 + 1  # and the preflight tick before ARM
    assert _field(out, "faults") == 0
    assert _field(out, "link_errors") > 0  # the corrupted frames were counted, not acted on


def test_blind_descent_ticks_do_not_allocate(any_micropython_bin: str) -> None:
    micropython_bin = any_micropython_bin
    # ranges scattered by +/- 5 m: the terminal descent is blind (ramp, inertial velocity,
    # ground reaction, propellant budget events)
    out = _run(micropython_bin, 5500, scatter=5000, heap="2M")
    assert _field(out, "ticks") == 5500 + 1  # and the preflight tick before ARM
    assert _field(out, "faults") == 0
    assert _field(out, "mode") in (3, 4)  # TERMINAL or LANDED
    assert _field(out, "phase") in (5, 8)  # TOUCHDOWN or BLIND


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
