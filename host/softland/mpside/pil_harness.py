# Processor-in-the-loop harness (not flight code): replays the host's side of a recorded SIL
# run into the firmware's App and times each per-tick component with the board's clock. Runs
# on the emulated Cortex-M0 (MicroPython 1.28) and under CPython alike, so the host compares
# the two runs' digests for bit-exactness. Every timed call runs with the heap locked: an
# allocation raises MemoryError, which the App counts as a fault.
#
# Input file: records of kind u8 (1: a frame the host sends, 2: an answer the host gives to a
# request the firmware makes while handling the previous frame), length u16 LE, the bytes.
# Output: one line "PIL {json}".
import gc
import json
import struct
import sys
import time
from binascii import crc32

try:
    import micropython

    _lock = micropython.heap_lock
    _unlock = micropython.heap_unlock
except (ImportError, AttributeError):

    def _lock():
        pass

    def _unlock():
        pass


if hasattr(time, "ticks_us"):
    now_us = time.ticks_us
    elapsed_us = time.ticks_diff
else:  # CPython: the same harness gives the reference digests, its times mean nothing

    def now_us():
        return time.perf_counter_ns() // 1000

    def elapsed_us(a, b):
        return a - b


T_TICK = 0x01
T_SERIAL = 0x04
SEND = 1
REPLY = 2


def heap_used():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


HEAP_BOOT = heap_used()
from fsw.app import App  # noqa: E402

HEAP_IMPORT = heap_used()


class Inputs:
    # the recorded records, read from the file one frame at a time (the board's heap holds
    # the firmware, not the recording). The answers that follow a frame stay in the file:
    # the firmware reads them itself through the file's readinto (C code, like a UART's),
    # and skip() passes what it did not read
    def __init__(self, path):
        self.f = open(path, "rb")
        self.hdr = bytearray(3)
        self.frame = bytearray(160)
        self.n = 0
        self.answers_end = -1
        self.next_kind = self._header()

    def _header(self):
        if self.f.readinto(self.hdr) != 3:
            return 0
        return self.hdr[0]

    def _length(self):
        return self.hdr[1] | (self.hdr[2] << 8)

    def next(self):
        # the next frame the host sends; the file is left at its answers; False at the end
        if self.next_kind != SEND:
            self.f.close()
            return False
        self.n = self._length()
        self.f.readinto(memoryview(self.frame)[: self.n])
        self.answers_end = -1
        self.next_kind = self._header()
        if self.next_kind == REPLY:
            self.answers_end = self.f.tell() + self._length()
        return True

    def skip(self):
        # past this frame's answers, to the next record
        if self.answers_end >= 0:
            self.f.seek(self.answers_end)
            self.next_kind = self._header()


def reader(f):
    # the firmware's read_into(buf, n): a MicroPython stream's readinto takes n itself
    if hasattr(time, "ticks_us"):
        return f.readinto

    def read_into(buf, n):
        return f.readinto(memoryview(buf)[: min(n, len(buf))])

    return read_into


class Sink:
    # the output stream: the frames' bytes kept for the digest
    def __init__(self):
        self.out = bytearray(2048)
        self.n = 0

    def write(self, b):
        n = len(b)
        if self.n + n <= len(self.out):
            self.out[self.n : self.n + n] = b
            self.n += n
        return n


class Backup:
    # a store that keeps nothing: the App still packs its record every tick
    def readinto(self, buf):
        return 0

    def write(self, buf):
        pass


# per component: [total us, calls, max us]
COMPONENTS = (
    "decode",
    "lidarlite",
    "lrf",
    "estimator",
    "guidance",
    "controller",
    "land",
    "flight",
    "persist",
    "telemetry",
    "app_tick",
)


class Timer:
    def __init__(self):
        self.total = [0] * len(COMPONENTS)
        self.calls = [0] * len(COMPONENTS)
        self.max = [0] * len(COMPONENTS)
        self.overhead = 0  # what a wrapper adds to the time measured around it

    def add(self, k, us):
        self.total[k] += us
        self.calls[k] += 1
        if us > self.max[k]:
            self.max[k] = us


def wrap(timer, k, obj, name, arity):
    # replaces obj.name with a timed call of fixed arity (a *args tuple would allocate, and
    # so would a closure called with more than a few values: what it needs comes in defaults)
    f = getattr(obj, name)
    add = timer.add
    if arity == 0:

        def w(f=f, add=add, k=k):
            t = now_us()
            r = f()
            add(k, elapsed_us(now_us(), t))
            return r

    elif arity == 1:

        def w(a, f=f, add=add, k=k):
            t = now_us()
            r = f(a)
            add(k, elapsed_us(now_us(), t))
            return r

    elif arity == 2:

        def w(a, b, f=f, add=add, k=k):
            t = now_us()
            r = f(a, b)
            add(k, elapsed_us(now_us(), t))
            return r

    elif arity == 3:

        def w(a, b, c, f=f, add=add, k=k):
            t = now_us()
            r = f(a, b, c)
            add(k, elapsed_us(now_us(), t))
            return r

    else:

        def w(a, b, c, d, e, g, f=f, add=add, k=k):
            t = now_us()
            r = f(a, b, c, d, e, g)
            add(k, elapsed_us(now_us(), t))
            return r

    setattr(obj, name, w)


# what each pass times: the outer components, then the inner ones (a wrapper's own cost
# lands in the time of the component around it, so nested ones are timed in another pass)
OUTER = (
    ("lidarlite", "lidar", "step", 1),
    ("lrf", "lrf", "step", 1),
    ("flight", "flight", "tick", 6),
    ("persist", "persist", "save", 1),
    ("telemetry", "", "_send_telemetry", 0),
)
INNER = (
    ("estimator", "flight.est", "predict", 3),
    ("estimator", "flight.est", "update", 1),
    ("guidance", "flight.guid", "step", 6),
    ("guidance", "flight.guid", "hold", 2),
    ("controller", "flight.ctrl", "step", 3),
    ("controller", "flight.ctrl", "burn", 0),
    ("controller", "flight.ctrl", "learn", 2),
    ("land", "flight.land", "step", 6),
)


def owner(app, path):
    obj = app
    if path:
        for part in path.split("."):
            obj = getattr(obj, part)
    return obj


def digest_state(obj, names, h):
    vals = []
    for name in names:
        x = getattr(obj, name)
        if type(x) is list:
            vals.extend(x)
        else:
            vals.append(int(x))
    return crc32(struct.pack("<" + str(len(vals)) + "i", *vals), h) & 0xFFFFFFFF


DRIVER_STATE = ("status", "distance_mm", "valid_count", "signal", "reading_us")


def digests(app, d):
    # per component, chained over the ticks: what it computed (its persisted state)
    fl = app.flight
    d["flight"] = digest_state(fl, fl.STATE, d["flight"])
    d["estimator"] = digest_state(fl.est, fl.est.STATE, d["estimator"])
    d["guidance"] = digest_state(fl.guid, fl.guid.STATE, d["guidance"])
    d["controller"] = digest_state(fl.ctrl, fl.ctrl.STATE, d["controller"])
    d["land"] = digest_state(fl.land, fl.land.STATE, d["land"])
    d["lidarlite"] = digest_state(app.lidar, DRIVER_STATE, d["lidarlite"])
    d["lrf"] = digest_state(app.lrf, DRIVER_STATE, d["lrf"])
    dec = app.dec
    d["decode"] = digest_state(dec, ("good", "crc_errors", "lost", "out_of_seq"), d["decode"])
    d["persist"] = crc32(app.persist.record, d["persist"]) & 0xFFFFFFFF


def run(path, passes):
    result = {"heap_boot": HEAP_BOOT, "heap_import": HEAP_IMPORT}
    for pass_name in passes:
        gc.collect()
        inputs = Inputs(path)
        sink = Sink()
        app = App(sink, reader(inputs.f), Backup())
        result["heap_app"] = heap_used()
        timer = Timer()
        if pass_name == "outer":
            for name, path_, meth, arity in OUTER:
                wrap(timer, COMPONENTS.index(name), owner(app, path_), meth, arity)
            in_handler = [0]

            def timed_handler(ftype, buf, length, handler=app.dec._handler, acc=in_handler):
                t = now_us()
                handler(ftype, buf, length)
                acc[0] += elapsed_us(now_us(), t)

            app.dec._handler = timed_handler
        elif pass_name == "inner":
            for name, path_, meth, arity in INNER:
                wrap(timer, COMPONENTS.index(name), owner(app, path_), meth, arity)
        d = {k: 0 for k in COMPONENTS}
        d["output"] = 0
        k_app = COMPONENTS.index("app_tick")
        k_dec = COMPONENTS.index("decode")
        faults0 = app.faults
        tick_us = 0
        ticks = 0
        heap_peak = 0
        gc.collect()
        frame = inputs.frame
        while inputs.next():
            sink.n = 0
            if pass_name == "outer":
                in_handler[0] = 0
            n = inputs.n
            _lock()
            t = now_us()
            app.feed_into(frame, n)
            dt = elapsed_us(now_us(), t)
            _unlock()
            inputs.skip()
            if frame[3] == T_TICK or frame[3] == T_SERIAL:
                tick_us += dt
            if pass_name == "outer":
                timer.add(k_dec, dt - in_handler[0])
            used = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
            if used > heap_peak:
                heap_peak = used
            d["output"] = crc32(memoryview(sink.out)[: sink.n], d["output"]) & 0xFFFFFFFF
            if frame[3] == T_TICK:
                # the App tick: this TICK and the SERIAL frames (sensor bytes) before it
                timer.add(k_app, tick_us)
                tick_us = 0
                ticks += 1
                if pass_name == "clean":
                    digests(app, d)
        result[pass_name] = {
            "us_total": timer.total,
            "calls": timer.calls,
            "us_max": timer.max,
            "faults": app.faults - faults0,
            "ticks": ticks,
            "digests": d,
        }
        result["heap_peak"] = max(result.get("heap_peak", 0), heap_peak)
        del app
    result["components"] = COMPONENTS
    result["wrapper_us"] = wrapper_cost()
    return result


def wrapper_cost():
    # what a timed wrapper adds to the time measured from outside it
    class Nop:
        def f(self, a):
            return a

    nop = Nop()
    timer = Timer()
    wrap(timer, 0, nop, "f", 1)
    best = None
    for _ in range(5):
        t = now_us()
        nop.f(1)
        dt = elapsed_us(now_us(), t)
        best = dt if best is None or dt < best else best
    plain = Nop()
    base = None
    for _ in range(5):
        t = now_us()
        plain.f(1)
        dt = elapsed_us(now_us(), t)
        base = dt if base is None or dt < base else base
    return best - base


def main(path, passes=("clean", "outer", "inner")):
    print("PIL " + json.dumps(run(path, passes)))


if __name__ == "__main__":
    main(sys.argv[1])
