"""The LRF driver (firmware/fsw/lrf.py) allocates nothing per step: 10,000 steps under
micropython.heap_lock() on the unix port, and the file compiles for a 32-bit board."""

from __future__ import annotations

import subprocess

from softland.boards.runtimes import micropython_env

N_FRAMES = 1024  # a multiple of 256: the stream wraps without a sequence jump
N_STEPS = 10_000
CORRUPT = (7, 3)  # frame k is corrupted when k % 7 == 3
NO_RETURN = (11, 5)  # frame k says "no return" when k % 11 == 5
SIZES = [(j * 7) % 23 for j in range(96)] + [80]  # bytes offered per step; 80 > CHUNK

# Built and run entirely inside MicroPython: frames made with fsw.lrf.crc16, a fake UART that
# copies from the preallocated stream, heap locked around the steps.
_SCRIPT = """
import micropython
from fsw.fixmath import ticks_add
from fsw.lrf import crc16
from fsw.lrf import Lrf


def build():
    s = bytearray(N_FRAMES * 10)
    for k in range(N_FRAMES):
        o = k * 10
        st = 1 if k % NR_MOD == NR_REM else 0
        rng = 0 if st else 300000 - k * 37
        s[o] = 0x59
        s[o + 1] = 0x4C
        s[o + 2] = k & 0xFF
        s[o + 3] = st
        s[o + 4] = rng & 0xFF
        s[o + 5] = (rng >> 8) & 0xFF
        s[o + 6] = rng >> 16
        s[o + 7] = 100
        c = crc16(s, o + 2, o + 8)
        s[o + 8] = c >> 8
        s[o + 9] = c & 0xFF
        if k % C_MOD == C_REM:
            s[o + 7] ^= 0x01
    return s


class Uart:
    def __init__(self, data, sizes):
        self.data = data
        self.n = len(data)
        self.pos = 0
        self.sizes = sizes
        self.i = 0

    def any(self):
        v = self.sizes[self.i]
        self.i += 1
        if self.i == len(self.sizes):
            self.i = 0
        return v

    def readinto(self, buf, n):
        ALLOC
        d = self.data
        p = self.pos
        m = self.n
        for j in range(n):
            buf[j] = d[p]
            p += 1
            if p == m:
                p = 0
        self.pos = p
        return n


def main():
    uart = Uart(build(), bytearray(SIZES))
    drv = Lrf(uart)
    now = 0x3FFFFFFF - 2000000
    micropython.heap_lock()
    try:
        for i in range(N_STEPS):
            now = ticks_add(now, 20000)
            drv.step(now)
    finally:
        micropython.heap_unlock()
    print("frames", drv.frames, "crc_errors", drv.crc_errors, "no_return", drv.no_return,
          "lost", drv.lost, "backlog", drv.backlog, "uart_errors", drv.uart_errors,
          "rx_bytes", drv.rx_bytes, "status", drv.status, "valid_count", drv.valid_count)

main()
"""


def _script(alloc: str = "pass") -> str:
    values = {
        "N_FRAMES": N_FRAMES,
        "N_STEPS": N_STEPS,
        "NR_MOD": NO_RETURN[0],
        "NR_REM": NO_RETURN[1],
        "C_MOD": CORRUPT[0],
        "C_REM": CORRUPT[1],
        "SIZES": SIZES,
        "ALLOC": alloc,
    }
    script = _SCRIPT
    for key, value in values.items():
        script = script.replace(key, str(value))
    return script


def _run(micropython_bin: str, alloc: str = "pass") -> dict[str, int]:
    proc = subprocess.run(
        [micropython_bin, "-X", "heapsize=256K", "-c", _script(alloc)],
        capture_output=True,
        text=True,
        env=micropython_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = proc.stdout.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}


def _expected() -> dict[str, int]:
    consumed = sum(min(SIZES[i % len(SIZES)], 64) for i in range(N_STEPS))
    complete = consumed // 10
    kinds = [k % N_FRAMES for k in range(complete)]
    bad = [k % CORRUPT[0] == CORRUPT[1] for k in kinds]
    good = [k for k, b in zip(kinds, bad, strict=True) if not b]
    trailing_bad = len(bad) - 1 - max(i for i, b in enumerate(bad) if not b)
    return {
        "frames": len(good),
        "crc_errors": sum(bad),
        "no_return": sum(1 for k in good if k % NO_RETURN[0] == NO_RETURN[1]),
        "lost": sum(bad) - trailing_bad,
        "backlog": N_STEPS // len(SIZES),
        "uart_errors": 0,
        "rx_bytes": consumed,
    }


def test_lrf_driver_steps_do_not_allocate(micropython_bin: str) -> None:
    out = _run(micropython_bin)
    expected = _expected()
    assert {k: out[k] for k in expected} == expected
    assert expected["frames"] > 8000


def test_an_allocating_uart_is_caught_under_the_heap_lock(micropython_bin: str) -> None:
    # proves the lock is on: a readinto that allocates raises MemoryError, which the driver
    # takes as a UART error (counted, nothing read), and the steps go on
    out = _run(micropython_bin, alloc="bytearray(4)")
    assert out["frames"] == 0 and out["rx_bytes"] == 0
    assert out["uart_errors"] == sum(1 for i in range(N_STEPS) if SIZES[i % len(SIZES)] > 0)
