"""fsw.lsm6dsox allocates nothing per step and forms no int beyond the small-int range: its
step() runs under micropython.heap_lock() on the 64-bit unix port and on the 32-bit one (small
ints of 31 bits, as on a board: an intermediate beyond 2^30 would be a MemoryError there)
against a small fake register file written in MicroPython (the numpy emulator runs only under
CPython), and its conversion runs over every raw value at every full scale under the lock."""

from __future__ import annotations

import subprocess

import pytest

from softland.boards.runtimes import micropython_env

N_STEPS = 10_000

# An LSM6DSOX at 0x6A: registers in a bytearray, IF_INC auto-increment, SW_RESET, a new sample
# (XLDA) at every STATUS read while CTRL1_XL's ODR is on, cleared by reading OUTX_H_A. The up
# axis (z) walks -40000..40000 in steps of 7919, clipped to the 16-bit range (so both clip
# values come up), the other axes move by one count a sample. Every NACK_EVERY-th transaction
# (0: none) raises a preallocated OSError(19).
_SCRIPT = """
import micropython
from fsw.lsm6dsox import Lsm6dsox, ACC_GOOD, ACC_SATURATED

class Bus:
    def __init__(self, nack_every):
        self.r = bytearray(128)
        self.reset()
        self.n = 0
        self.nack_every = nack_every
        self.nacks = 0
        self.z = -40000
        self.x = 0
        self.err = OSError(19)

    def reset(self):
        r = self.r
        for i in range(128):
            r[i] = 0
        r[0x0F] = 0x6C
        r[0x12] = 0x04

    def _tx(self):
        self.n += 1
        if self.nack_every and self.n % self.nack_every == 0:
            self.nacks += 1
            raise self.err

    def writeto_mem(self, addr, reg, buf):
        self._tx()
        if reg == 0x12 and buf[0] & 1:
            self.reset()
        else:
            self.r[reg] = buf[0]

    def readfrom_mem_into(self, addr, reg, buf):
        self._tx()
        r = self.r
        if reg == 0x1E and r[0x10] >> 4:
            z = self.z + 7919
            if z > 40000:
                z -= 80000
            self.z = z
            if z > 32767:
                z = 32767
            elif z < -32768:
                z = -32768
            self.x = (self.x + 1) & 0xFF
            r[0x28] = self.x
            r[0x2A] = self.x ^ 0x55
            r[0x2C] = z & 0xFF
            r[0x2D] = (z >> 8) & 0xFF
            r[0x1E] = 1
        for i in range(len(buf)):
            j = reg + i if r[0x12] & 4 else reg
            buf[i] = r[j]
            if j == 0x29:
                r[0x1E] = 0

def run(drv, n):
    t = 0x3FFFFFFF - 500000
    good = sat = over = bad = 0
    lo = hi = 0
    micropython.heap_lock()
    try:
        for i in range(n):
            drv.step(t)
            # t + 20000 wrapped at 2^30 without forming 2^30 (a heap int on 32 bits)
            t = t - 0x3FFFFFFF + 19999 if t > 0x3FFFFFFF - 20000 else t + 20000
            s = drv.status
            if s == ACC_GOOD:
                good += 1
            elif s == ACC_SATURATED:
                sat += 1
            if drv.tx_last > drv.max_tx:
                over += 1
            if s < 0 or s > 3 or drv.acc_ok != (s == ACC_GOOD):
                bad += 1
            a = drv.acc_mm_s2
            if a < lo:
                lo = a
            if a > hi:
                hi = a
    finally:
        micropython.heap_unlock()
    return good, sat, over, bad, lo, hi

bus = Bus(NACK_EVERY)
drv = Lsm6dsox(bus, fs_g=FS_G)
good, sat, over, bad, lo, hi = run(drv, N_STEPS)
print("good", good, "saturated", sat, "samples", drv.samples, "errors", drv.errors,
      "nacks", bus.nacks, "tx_max", drv.tx_max, "tx_over", over, "bad_state", bad,
      "lo", lo, "hi", hi, "stuck", drv.stuck_events)
"""

# every raw value at every full scale through convert() under the lock: a formed int beyond
# the small-int range would allocate (MemoryError) on the 32-bit port
_CONVERT = """
import micropython
from fsw.lsm6dsox import convert, scale_parts

def run(parts, out):
    n = lo = hi = 0
    for k in range(4):
        p = parts[k]
        h = p[0]
        m = p[1]
        l = p[2]
        for raw in range(-32768, 32769):
            a = convert(raw, h, m, l)
            if a < lo:
                lo = a
            if a > hi:
                hi = a
            n += 1
    out[0] = n  # a tuple returned would be an allocation
    out[1] = lo
    out[2] = hi

parts = [scale_parts(fs) for fs in (2, 4, 8, 16)]
out = [0, 0, 0]
micropython.heap_lock()
try:
    run(parts, out)
finally:
    micropython.heap_unlock()
print("n", out[0], "lo", out[1], "hi", out[2])
"""


@pytest.fixture
def binary(any_micropython_bin: str) -> str:
    return any_micropython_bin


def _fields(out: str) -> dict[str, int]:
    words = out.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def _run(binary: str, script: str) -> dict[str, int]:
    proc = subprocess.run(
        [binary, "-X", "heapsize=256K", "-c", script],
        capture_output=True,
        text=True,
        env=micropython_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return _fields(proc.stdout.strip())


def _steps(binary: str, nack_every: int = 0, fs_g: int = 16, n: int = N_STEPS) -> dict[str, int]:
    script = (
        _SCRIPT.replace("NACK_EVERY", str(nack_every))
        .replace("FS_G", str(fs_g))
        .replace("N_STEPS", str(n))
    )
    return _run(binary, script)


@pytest.mark.parametrize("fs_g", [2, 16])
def test_10000_heap_locked_steps_with_a_clean_bus_have_no_errors(binary: str, fs_g: int) -> None:
    f = _steps(binary, fs_g=fs_g)
    # an allocation in step() would be a MemoryError, caught and counted as an error
    assert f["errors"] == 0
    assert f["samples"] == N_STEPS - 2  # start-up takes 2 steps, then a sample every step
    assert f["good"] + f["saturated"] == f["samples"]
    assert f["saturated"] > 0  # the walk reaches both clip values
    assert f["tx_max"] <= 3 and f["tx_over"] == 0 and f["bad_state"] == 0
    assert f["stuck"] == 0


def test_full_scale_readings_span_plus_minus_16_g(binary: str) -> None:
    f = _steps(binary, fs_g=16, n=2000)
    # -32768 and 32767 counts x 0.488 mg/count x 9806.65 mm/s^2 per g, rounded
    assert f["lo"] == -156_816
    assert f["hi"] == 156_811


def test_heap_locked_steps_count_exactly_the_injected_nacks(binary: str) -> None:
    f = _steps(binary, nack_every=97)
    assert f["errors"] == f["nacks"] > 0
    assert f["tx_over"] == 0 and f["bad_state"] == 0


def test_an_allocating_bus_is_caught_by_the_lock_and_absorbed(binary: str) -> None:
    # proves the lock bites: a bus that builds a bytes object per read raises MemoryError under
    # the locked heap; the driver counts it as a failed transaction and keeps stepping
    script = _SCRIPT.replace(
        "    def readfrom_mem_into(self, addr, reg, buf):\n        self._tx()\n",
        "    def readfrom_mem_into(self, addr, reg, buf):\n        self._tx()\n        bytes(4)\n",
    )
    script = script.replace("NACK_EVERY", "0").replace("FS_G", "16").replace("N_STEPS", "200")
    f = _run(binary, script)
    assert f["errors"] == 200
    assert f["good"] == 0 and f["bad_state"] == 0


def test_every_raw_value_at_every_full_scale_converts_under_the_lock(binary: str) -> None:
    f = _run(binary, _CONVERT)
    assert f["n"] == 4 * 65537
    assert f["lo"] == -156_816 and f["hi"] == 156_816  # 32768: -32768 on an up_sign -1 axis
