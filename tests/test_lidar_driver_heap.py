"""fsw.lidarlite allocates nothing per step: it runs under micropython.heap_lock() on the unix
port against a fake machine.I2C written in MicroPython (preallocated buffers, a moving target,
NACKs raised as preallocated OSError instances); and it compiles for a 32-bit board."""

from __future__ import annotations

import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from softland.boards.runtimes import micropython_env

N_STEPS = 10_000

# A v3 at 0x62: registers in a bytearray, bit-7 auto-increment, a measurement finishes at the
# trigger (the driver reads it one step later). CODES (bytes) scripts each transaction:
# 0 answer, 1 NACK, 2 EIO, 3 bus timeout, 4 read 0xFF, 5 short ACK, 6 noise bytes,
# 7 MemoryError; with CODES empty every NACK_EVERY-th transaction is a NACK.
_BUS = """
import micropython
from fsw.lidarlite import LidarLite
from fsw.rangefinder import RF_GOOD

class Bus:
    def __init__(self, codes):
        r = bytearray(256)
        r[0x01] = 0x20
        r[0x02] = 0x80
        r[0x04] = 0x08
        r[0x41] = 0x14
        r[0x4F] = 0x0B
        self.r = r
        self.ptr = 0
        self.inc = 0
        self.n = 0
        self.cm = 3000
        self.seed = 12345
        self.codes = codes
        self.errs = (OSError(19), OSError(5), OSError(110), MemoryError())

    def _code(self):
        self.n += 1
        c = self.codes
        if len(c):
            k = c[self.n % len(c)]
        elif self.n % NACK_EVERY == 0:
            k = 1
        else:
            k = 0
        if 1 <= k <= 3:
            raise self.errs[k - 1]
        if k == 7:
            raise self.errs[3]
        return k

    def writeto(self, addr, buf):
        k = self._code()
        if k == 5:
            return 0
        if k != 0:
            return len(buf)
        r = self.r
        if len(buf) == 1:
            self.ptr = buf[0] & 0x7F
            self.inc = buf[0] & 0x80
        elif buf[0] == 0 and buf[1] != 0:
            cm = self.cm - 1  # descending target, +/- 1 cm of noise
            if cm < 100:
                cm = 3900
            self.cm = cm
            cm += (self.n >> 1) % 3 - 1
            r[0x0F] = cm >> 8
            r[0x10] = cm & 0xFF
            r[0x0E] = 40 + (self.n & 15)
        else:
            r[buf[0] & 0x7F] = buf[1]
        return len(buf)

    def readfrom_into(self, addr, buf):
        k = self._code()
        if k == 5:
            raise self.errs[0]
        p = self.ptr
        for i in range(len(buf)):
            if k == 4:
                buf[i] = 0xFF
            elif k == 6:
                self.seed = (self.seed * 1103 + 12345) & 0xFFFF
                buf[i] = self.seed >> 8
            elif self.inc:
                buf[i] = self.r[(p + i) & 0xFF]
            else:
                buf[i] = self.r[p]

def run(drv, n):
    t = 0x3FFFFFFF - 500000
    good = 0
    tx_over = 0
    bad_state = 0
    micropython.heap_lock()
    try:
        for i in range(n):
            drv.step(t)
            t = (t + 20000) & 0x3FFFFFFF
            if drv.status == RF_GOOD:
                good += 1
            if drv.tx_last > drv.max_tx:
                tx_over += 1
            if drv.status < 0 or drv.status > 4 or drv.valid_count < 0 or drv.valid_count > 10:
                bad_state += 1
    finally:
        micropython.heap_unlock()
    return good, tx_over, bad_state

bus = Bus(CODES)
drv = LidarLite(bus)
good, tx_over, bad_state = run(drv, N_STEPS)
print("nacks", bus.n // NACK_EVERY, "good", good, "readings", drv.readings,
      "status", drv.status, "errors", drv.errors, "resets", drv.resets,
      "tx_max", drv.tx_max, "tx_over", tx_over, "bad_state", bad_state,
      "distance_mm", drv.distance_mm)
"""


def _run(binary: str, n: int, codes: bytes = b"", nack_every: int = 499, extra: str = "") -> str:
    script = (
        _BUS.replace("NACK_EVERY", str(nack_every))
        .replace("N_STEPS", str(n))
        .replace("CODES", repr(codes))
    )
    script = script.replace("def run(drv, n):", extra + "\ndef run(drv, n):")
    proc = subprocess.run(
        [binary, "-X", "heapsize=256K", "-c", script],
        capture_output=True,
        text=True,
        env=micropython_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def _fields(out: str) -> dict[str, int]:
    words = out.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def test_10000_heap_locked_steps_read_a_moving_target(micropython_bin: str) -> None:
    f = _fields(_run(micropython_bin, N_STEPS))
    assert f["status"] == 4  # GOOD at the end
    # every error is an injected NACK: a MemoryError from an allocation would be one more
    assert f["errors"] == f["nacks"] > 0
    # start-up costs 2 steps; each NACK costs at most 2 readings (the failed step, re-trigger)
    assert f["readings"] >= N_STEPS - 2 - 2 * f["errors"]
    assert f["readings"] > 0.98 * N_STEPS
    # a NACK on the trigger after a good read turns that step's status to NO_DATA
    assert f["readings"] - f["errors"] <= f["good"] <= f["readings"]
    assert f["tx_max"] <= 4 and f["tx_over"] == 0 and f["bad_state"] == 0
    assert 1000 <= f["distance_mm"] <= 39010


def test_an_allocating_bus_raises_memory_error_which_the_driver_absorbs(
    micropython_bin: str,
) -> None:
    # proves the lock bites: a bus that builds a bytes object per write raises MemoryError
    # under the locked heap; the driver treats it as a bus failure and keeps stepping
    extra = (
        "_w = Bus.writeto\n"
        "def _alloc(self, a, b):\n"
        "    bytes(b)\n"
        "    return _w(self, a, b)\n"
        "Bus.writeto = _alloc\n"
    )
    f = _fields(_run(micropython_bin, 200, extra=extra))
    assert f["good"] == 0
    assert f["status"] == 0  # NOT_CONNECTED: the probe never got through
    assert f["tx_max"] == 1


@settings(max_examples=12, deadline=None)
@given(codes=st.binary(min_size=1, max_size=500))
def test_random_bus_results_never_allocate_or_raise(micropython_bin: str, codes: bytes) -> None:
    codes = bytes(c & 7 for c in codes)
    f = _fields(_run(micropython_bin, 2000, codes=codes))
    assert f["tx_max"] <= 4 and f["tx_over"] == 0 and f["bad_state"] == 0
