# Link HAL over a byte stream (stdin/stdout of the unix port in SIL, USB serial in HIL, the
# UART of the emulated board in PIL). Time, sensors and thrust all travel on the link: the host
# says what time it is (virtual time), sends the sensor samples with each tick and reads the
# throttle from the telemetry.
#
# On a board the stream is the MicroPython console: byte 0x03 would raise KeyboardInterrupt
# and the link carries arbitrary bytes, so serve() turns that off while it runs
# (micropython.kbd_intr(-1)) and back on (kbd_intr(3)) when it stops, also on an exception.
import sys

try:
    import micropython
except ImportError:
    micropython = None

try:
    import select
except ImportError:
    select = None

from fsw.app import App
from hal.backup import open_backup
from hal.logfile import open_flightlog


def _lock(lock):
    if lock and micropython is not None and hasattr(micropython, "heap_lock"):
        micropython.heap_lock()
        return True
    return False


def _unlock(locked):
    if locked:
        micropython.heap_unlock()


_READ_FAILS_MAX = 100


def _console_intr(char):
    # 3: Ctrl-C interrupts running code (the console's default); -1: every byte is data.
    # False where the runtime has no such switch (CPython)
    if micropython is not None and hasattr(micropython, "kbd_intr"):
        micropython.kbd_intr(char)
        return True
    return False


class PolledInput:
    """A stream read with a bound on every wait: readinto(buf, n) returns the bytes that
    arrived before a silence of wait_ms (0: none at all, or the stream ended: see `ended`).
    A board's stdin blocks until all n bytes arrive, so a host that stops half-way through a
    frame would leave the board in a read it cannot leave; this reads one byte per poll.
    Allocation-free (select.poll.ipoll)."""

    def __init__(self, stream, wait_ms):
        self._read = stream.readinto
        self._poll = select.poll()
        self._poll.register(stream, select.POLLIN)
        for _ in self._poll.ipoll(0):
            pass  # ipoll allocates its result tuple on first use: before any heap lock
        self._wait = wait_ms
        self._one = bytearray(1)
        self.ended = False  # the stream reported readable but gave no byte: end of stream

    def readinto(self, buf, n):
        one = self._one
        read = self._read
        poll = self._poll
        wait = self._wait
        i = 0
        while i < n:
            ready = False
            for _ in poll.ipoll(wait):
                ready = True
            if not ready:
                break
            if not read(one, 1):
                self.ended = True
                break
            buf[i] = one[0]
            i += 1
        return i


def serve(inp=None, out=None, heap_lock=False, backup=None, wait_ms=0):
    # Runs until the input ends. With heap_lock, the loop runs with the heap locked: any
    # allocation per tick raises MemoryError, is caught by the app and reported as a fault.
    # backup: the store the flight state survives a reset in (default: hal.backup's choice).
    # wait_ms > 0 (boards): no read waits longer than wait_ms for a byte. A silence that long
    # drops a frame left half-received and lets the next frame restart the sequence numbers
    # (a host that reconnects); an I2C transaction whose answer does not come fails. 0 (SIL,
    # where the host owns time): plain blocking reads, deterministic.
    if inp is None:
        inp = sys.stdin.buffer
    if out is None:
        out = sys.stdout.buffer
    polled = None
    if wait_ms > 0:
        polled = PolledInput(inp, wait_ms)
        readinto = polled.readinto
    else:
        readinto = inp.readinto
    if backup is None:
        backup = open_backup()
    app = App(out, readinto, backup, log=open_flightlog())
    needed = app.needed
    rx_view = app.rx_view
    received = app.received
    dec = app.dec
    intr = _console_intr(-1)
    locked = _lock(heap_lock)
    failed = 0  # reads in a row that raised
    try:
        while True:
            # read straight into the decoder's buffer: no copy of the frame
            try:
                n = readinto(rx_view(), needed())
                failed = 0
            except Exception:
                # the stream itself failed (an OSError from a USB stack, say): counted as a
                # fault, the frame in progress dropped; a stream that fails _READ_FAILS_MAX
                # times in a row is gone, and serving ends as at the end of the input
                app.fault()
                dec.end()
                failed += 1
                if failed >= _READ_FAILS_MAX:
                    break
                continue
            if not n:
                if polled is None or polled.ended:
                    break
                # the host went quiet: drop a frame in progress, accept its next SEQ
                dec.end()
                dec.restart_seq()
                continue
            try:
                received(n)
            except Exception:
                # the app catches its own faults; this is the decoder's last line of defence:
                # count it, drop the partial frame, keep serving
                app.fault()
                dec.end()
    finally:
        _unlock(locked)
        if intr:
            _console_intr(3)
    dec.end()
    if app.log is not None:
        app.log.close()  # the end of the input: the log's last records to its file
    return app
