# The flight log on the emulated Cortex-M0 (not flight code; softland.flightlog.emulated runs
# it): the cost of the log per tick (the same ticks through an App without a log and one with
# it, the heap locked, the board's clock) and a reset mid-descent (a new App and a new log on
# the same file and the same battery-backed stores, the state's and the log RAM block's). The
# qemu build has no writable filesystem (its vfs has VfsRom only), so the log's file is RamFile:
# a file's seek/write/readinto/flush over a preallocated bytearray standing in for the flash;
# what a flash filesystem's write costs on top is the board's (docs/flightlog.md).
# Output: lines "NOLOG total_us worst_us ticks faults", "LOG total_us worst_us ticks faults
# log_errors", "RESUMED 0|1 FOUND seq RECOVERED n", "AFTER total_us worst_us ticks faults
# log_errors", then "HEX" lines of the log file.
import gc
import time
from binascii import hexlify

import micropython
from fsw import link
from fsw.app import C_ARM, C_START, App
from fsw.flightlog import open_log
from sil_frames import Sink, command, tick


class RamFile:
    def __init__(self, store):
        self._s = store
        self._p = 0

    def seek(self, off, whence=0):
        d = self._s.data
        self._p = off if whence == 0 else (self._p + off if whence == 1 else self._s.size + off)
        if self._p > len(d):
            self._p = len(d)
        return self._p

    def tell(self):
        return self._p

    def write(self, b):
        n = len(b)
        p = self._p
        self._s.data[p : p + n] = b
        self._p = p + n
        if self._p > self._s.size:
            self._s.size = self._p
        return n

    def readinto(self, b):
        p = self._p
        n = len(b)
        if p + n > self._s.size:
            n = self._s.size - p
        b[:n] = memoryview(self._s.data)[p : p + n]
        self._p = p + n
        return n

    def read(self, n):
        b = bytearray(n)
        return bytes(b[: self.readinto(b)])

    def flush(self):
        pass

    def close(self):
        pass


class RamStore:
    # the "flash": a preallocated bytearray, the file's size in it
    def __init__(self, capacity):
        self.data = bytearray(capacity)
        self.size = 0

    def open(self, path, mode):
        if mode[0] == "w":
            self.size = 0
        elif self.size == 0:
            raise OSError(2)
        return RamFile(self)


class Backup:
    # battery-backed RAM: preallocated, rewritten in place
    def __init__(self):
        self.data = bytearray(1024)
        self.n = 0

    def readinto(self, buf):
        n = self.n if self.n < len(buf) else len(buf)
        buf[:n] = memoryview(self.data)[:n]
        return n

    def write(self, buf):
        self.data[: len(buf)] = buf
        self.n = len(buf)


def _frames(enc, k0, n):
    out = []
    alt = 3000000 - 1200 * k0
    for k in range(k0, k0 + n):
        alt -= 1200
        out.append(tick(enc, k, alt + 1000, 1620 + (k % 7) * 300))
    return out


def _timed(app, frames):
    total = 0
    worst = 0
    gc.collect()
    micropython.heap_lock()
    try:
        for f in frames:
            t0 = time.ticks_us()
            app.feed_into(f, len(f))
            dt = time.ticks_diff(time.ticks_us(), t0)
            total += dt
            if dt > worst:
                worst = dt
    finally:
        micropython.heap_unlock()
    return total, worst


def _fly(app):
    enc = link.Encoder()
    for f in (tick(enc, -1, 3001000, 0), command(enc, C_ARM), command(enc, C_START)):
        app.feed_into(f, len(f))
    return enc


def main(n_ticks, n_after, capacity):
    # without a log
    app = App(Sink(), None, Backup())
    enc = _fly(app)
    frames = _frames(enc, 0, n_ticks)
    total, worst = _timed(app, frames)
    print("NOLOG", total, worst, n_ticks, app.faults)
    app = None
    frames = None
    gc.collect()
    # with a log, then a reset with records still in the log's RAM block
    store = RamStore(1024 + capacity * 128)
    backup = Backup()
    tail = Backup()  # the log's RAM block in battery-backed RAM too
    log = open_log("flight.log", capacity, store.open, tail)
    app = App(Sink(), None, backup, log=log)
    enc = _fly(app)
    frames = _frames(enc, 0, n_ticks)
    total, worst = _timed(app, frames)
    print("LOG", total, worst, n_ticks, app.faults, log.errors)
    app = None
    log = None  # the reset: the RAM block is lost, the file and the battery-backed RAM stay
    frames = None
    gc.collect()
    log = open_log("flight.log", capacity, store.open, tail)
    app = App(Sink(), None, backup, log=log)
    print("RESUMED", 1 if app.resumed else 0, "FOUND", log.found, "RECOVERED", log.recovered)
    enc = link.Encoder()
    frames = _frames(enc, n_ticks + 1, n_after)
    total, worst = _timed(app, frames)
    print("AFTER", total, worst, n_after, app.faults, log.errors)
    log.close()
    frames = None
    gc.collect()
    mv = memoryview(store.data)
    for i in range(0, store.size, 256):
        print("HEX", hexlify(mv[i : i + 256]).decode())
