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
    # the recorded records, read from the file as the board's UART would deliver them (the
    # board's heap holds the firmware, not the recording): next() leaves the file at the next
    # frame the host sends, which the App reads in through its decoder like the serving loop
    # does (hal/stdio_link.py), and the answers after it are what the firmware reads while it
    # waits on the host; skip() goes to the record after them
    def __init__(self, path):
        self.f = open(path, "rb")
        self.hdr = bytearray(3)
        self.head = bytearray(4)
        self.ftype = 0
        self.n = 0
        self.end = 0
        self.ticks = self._count_ticks()
        self.next_kind = self._header()

    def _count_ticks(self):
        # TICK frames in the file (what the driver logs are sized for); back to its start
        f = self.f
        n = 0
        while self._header():
            size = self._length()
            start = f.tell()
            if self.hdr[0] == SEND:
                f.readinto(self.head)
                if self.head[3] == T_TICK:
                    n += 1
            f.seek(start + size)
        f.seek(0)
        return n

    def _header(self):
        if self.f.readinto(self.hdr) != 3:
            return 0
        return self.hdr[0]

    def _length(self):
        return self.hdr[1] | (self.hdr[2] << 8)

    def next(self):
        if self.next_kind != SEND:
            self.f.close()
            return False
        f = self.f
        self.n = self._length()
        start = f.tell()
        f.readinto(self.head)
        self.ftype = self.head[3]
        self.end = start + self.n
        f.seek(self.end)
        self.next_kind = self._header()
        if self.next_kind == REPLY:
            self.end = f.tell() + self._length()
        f.seek(start)
        return True

    def skip(self):
        self.f.seek(self.end)
        self.next_kind = self._header()


def deliver(read_into, app, n):
    # the serving loop's reads: needed() bytes at a time into the decoder's own buffer (a
    # firmware from before rx_view() read into a buffer of the loop's and fed it: so here)
    if not hasattr(app, "rx_view"):
        return deliver_copied(read_into, app, n)
    while n > 0:
        k = app.needed()
        if k > n:
            k = n
        got = read_into(app.rx_view(), k)
        if not got:
            return
        app.received(got)
        n -= got


_SCRATCH = bytearray(160)


def deliver_copied(read_into, app, n):
    buf = _SCRATCH
    while n > 0:
        k = app.needed()
        if k > n:
            k = n
        got = read_into(buf, k)
        if not got:
            return
        app.feed_into(buf, got)
        n -= got


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
    "lidarlite_bus",
    "lrf_uart",
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


# ---- the drivers on their own: what the bus and the UART answered, replayed
_ERRS = (OSError(19), OSError(5), OSError(110), OSError(22))  # ENODEV, EIO, ETIMEDOUT, EINVAL
_W_ACK = 1
_R_DATA = 2
_EXC = 3


class BusLog:
    # stands between a driver and its I2C bus and keeps what the bus answered: per
    # transaction a kind (write and its ACK count, read, or an OSError) in `kinds`, the bytes
    # a read got in `data`. Preallocated: it runs with the heap locked, inside the App's tick
    def __init__(self, driver, ticks):
        # a tick's step makes up to 4 transactions and reads one 16-byte block at most
        self._w = driver._writeto
        self._r = driver._readinto
        driver._writeto = self.writeto
        driver._readinto = self.readfrom_into
        self.kinds = bytearray(8 * ticks)
        self.data = bytearray(20 * ticks)
        self.nk = 0
        self.nd = 0

    def _kind(self, kind, value):
        if self.nk + 2 <= len(self.kinds):
            self.kinds[self.nk] = kind
            self.kinds[self.nk + 1] = value
            self.nk += 2

    def _exc(self, e):
        a = e.args[0] if e.args else 0
        for i in range(len(_ERRS)):
            if _ERRS[i].args[0] == a:
                self._kind(_EXC, i)
                return
        self._kind(_EXC, 2)

    def writeto(self, addr, buf, stop=True):
        try:
            n = self._w(addr, buf)
        except OSError as e:
            self._exc(e)
            raise
        self._kind(_W_ACK, 255 if n is None else n)
        return n

    def readfrom_into(self, addr, buf, stop=True):
        try:
            self._r(addr, buf)
        except OSError as e:
            self._exc(e)
            raise
        self._kind(_R_DATA, len(buf))
        for i in range(len(buf)):
            if self.nd < len(self.data):
                self.data[self.nd] = buf[i]
                self.nd += 1


class ReplayBus:
    # the bus a driver gets back: each transaction answers what the recorded one did; a read
    # copies its bytes with a stream's readinto (C, like a real bus's DMA or FIFO)
    def __init__(self, log):
        self.kinds = log.kinds
        self.nk = log.nk
        self.k = 0
        self.src = stream_of(log.data, log.nd)
        self.readinto = reader(self.src)

    def writeto(self, addr, buf, stop=True):
        k = self.k
        self.k = k + 2
        if self.kinds[k] == _EXC:
            raise _ERRS[self.kinds[k + 1]]
        n = self.kinds[k + 1]
        return None if n == 255 else n

    def readfrom_into(self, addr, buf, stop=True):
        k = self.k
        self.k = k + 2
        if self.kinds[k] == _EXC:
            raise _ERRS[self.kinds[k + 1]]
        self.readinto(buf, self.kinds[k + 1])


class UartLog:
    # stands between the LRF driver and its UART and keeps the bytes each step read
    def __init__(self, driver, size):
        self._u = driver._uart
        driver._uart = self
        self.data = bytearray(size)
        self.nd = 0
        self.got = 0  # bytes of the current step

    def any(self):
        return self._u.any()

    def readinto(self, buf, n=-1):
        got = self._u.readinto(buf, n)
        if got:
            for i in range(got):
                if self.nd < len(self.data):
                    self.data[self.nd] = buf[i]
                    self.nd += 1
            self.got += got
        return got


class ReplayUart:
    # the UART the LRF driver gets back: each step offers the bytes its recorded step read
    def __init__(self, log, counts):
        self.src = stream_of(log.data, log.nd)
        self.readinto_ = reader(self.src)
        self.counts = counts
        self.k = 0
        self.left = 0

    def next_step(self):
        self.left = self.counts[self.k]
        self.k += 1

    def any(self):
        return self.left

    def readinto(self, buf, n=-1):
        m = self.left
        if 0 <= n < m:
            m = n
        if m > len(buf):
            m = len(buf)
        if m:
            m = self.readinto_(buf, m)
        self.left -= m
        return m


def stream_of(data, n):
    # a stream over the first n bytes of data, read by reader() without allocating
    try:
        from io import BytesIO
    except ImportError:
        from uio import BytesIO
    return BytesIO(bytes(data[:n]))


class StepLog:
    # the times a driver's step was called with (and, for the LRF, how many UART bytes each
    # step read: counts, from the UartLog)
    def __init__(self, driver, size, uart_log=None):
        self.step = driver.step
        self.times = [0] * size
        self.counts = [0] * size
        self.uart_log = uart_log
        self.driver = driver
        self.last = [0] * len(DRIVER_STATE)  # the driver's state after the last step logged
        self.n = 0
        driver.step = self.record

    def record(self, now):
        self.step(now)
        if self.n < len(self.times):
            self.times[self.n] = now
            if self.uart_log is not None:
                self.counts[self.n] = self.uart_log.got
            self.n += 1
            drv = self.driver
            last = self.last
            for i in range(len(DRIVER_STATE)):
                last[i] = getattr(drv, DRIVER_STATE[i])
        if self.uart_log is not None:
            self.uart_log.got = 0


def replay_drivers(lidar_log, lidar_steps, uart_log, lrf_steps, timer):
    # the drivers stepped on their own at the recorded times, against the recorded answers:
    # what a board's driver costs with a real bus and UART (C) under it
    from fsw.lidarlite import LidarLite
    from fsw.lrf import Lrf

    d = {}
    lid = LidarLite(ReplayBus(lidar_log))
    d["lidarlite_bus"] = replay_steps(lid, lidar_steps, None, timer, "lidarlite_bus")
    uart = ReplayUart(uart_log, lrf_steps.counts)
    lrf = Lrf(uart)
    d["lrf_uart"] = replay_steps(lrf, lrf_steps, uart, timer, "lrf_uart")
    # the replay is faithful when each driver ended where the one in the App did
    d["lidarlite_replay_ok"] = same_state(lid, lidar_steps.last)
    d["lrf_replay_ok"] = same_state(lrf, lrf_steps.last)
    return d


def replay_steps(driver, steps, uart, timer, name):
    # each recorded step, timed with the heap locked; the digest of the driver's state after
    k = COMPONENTS.index(name)
    h = 0
    for i in range(steps.n):
        now = steps.times[i]
        if uart is not None:
            uart.next_step()
        _lock()
        t = now_us()
        driver.step(now)
        dt = elapsed_us(now_us(), t)
        _unlock()
        timer.add(k, dt)
        h = digest_state(driver, DRIVER_STATE, h)
    return h


def same_state(driver, values):
    for i in range(len(DRIVER_STATE)):
        if getattr(driver, DRIVER_STATE[i]) != values[i]:
            return False
    return True


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
DRIVER_STEPS = 400


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
        if pass_name == "clean":
            result["heap_app"] = heap_used()  # the firmware's own, before any probe
        timer = Timer()
        if pass_name == "outer":
            for name, path_, meth, arity in OUTER:
                wrap(timer, COMPONENTS.index(name), owner(app, path_), meth, arity)
            in_handler = [0, 0]  # time in the handler, nesting depth

            def timed_handler(ftype, buf, length, handler=app.dec._handler, acc=in_handler):
                # the frames the firmware reads while it handles one (I2C answers) are
                # decoded inside it: only the outermost call counts
                acc[1] += 1
                t = now_us()
                handler(ftype, buf, length)
                dt = elapsed_us(now_us(), t)
                acc[1] -= 1
                if acc[1] == 0:
                    acc[0] += dt

            app.dec._handler = timed_handler
        elif pass_name == "inner":
            for name, path_, meth, arity in INNER:
                wrap(timer, COMPONENTS.index(name), owner(app, path_), meth, arity)
            if hasattr(app.flight, "_bind"):
                app.flight._bind()  # the flight calls its components through bound methods
        elif pass_name == "drivers":
            # the drivers are replayed over their first DRIVER_STEPS steps at most (the logs
            # live in the board's heap beside the firmware)
            most = (inputs.ticks if inputs.ticks < DRIVER_STEPS else DRIVER_STEPS) + 2
            lidar_log = BusLog(app.lidar, most)
            lidar_steps = StepLog(app.lidar, most)
            uart_log = UartLog(app.lrf, 16 * most)
            lrf_steps = StepLog(app.lrf, most, uart_log)
        d = {k: 0 for k in COMPONENTS}
        d["output"] = 0
        k_app = COMPONENTS.index("app_tick")
        k_dec = COMPONENTS.index("decode")
        faults0 = app.faults
        tick_us = 0
        ticks = 0
        heap_peak = heap_used() if pass_name == "clean" else 0
        gc.collect()
        read_into = reader(inputs.f)
        while inputs.next():
            sink.n = 0
            if pass_name == "outer":
                in_handler[0] = 0
            n = inputs.n
            ftype = inputs.ftype
            _lock()
            t = now_us()
            deliver(read_into, app, n)
            dt = elapsed_us(now_us(), t)
            _unlock()
            inputs.skip()
            if ftype == T_TICK or ftype == T_SERIAL:
                tick_us += dt
            if pass_name == "outer":
                timer.add(k_dec, dt - in_handler[0])
            d["output"] = crc32(memoryview(sink.out)[: sink.n], d["output"]) & 0xFFFFFFFF
            if ftype == T_TICK:
                # the App tick: this TICK and the SERIAL frames (sensor bytes) before it
                timer.add(k_app, tick_us)
                tick_us = 0
                ticks += 1
                if pass_name == "clean":
                    digests(app, d)
                    if ticks % 50 == 0:
                        # the live heap (after a collection): what the ticks hold
                        used = heap_used()
                        if used > heap_peak:
                            heap_peak = used
        if pass_name == "drivers":
            gc.collect()
            d.update(replay_drivers(lidar_log, lidar_steps, uart_log, lrf_steps, timer))
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
    result["timer_us"] = timer_cost()
    return result


def timer_cost():
    # what every measured interval holds beyond the work it measures: the clock read that
    # closes it (the smallest of a few empty intervals)
    best = None
    for _ in range(5):
        t = now_us()
        dt = elapsed_us(now_us(), t)
        best = dt if best is None or dt < best else best
    return best


def main(path, passes=("clean", "outer", "inner", "drivers")):
    print("PIL " + json.dumps(run(path, passes)))


if __name__ == "__main__":
    main(sys.argv[1])
