# Link HAL over a byte stream (stdin/stdout of the unix port in SIL, USB serial in HIL).
# Time, sensors and thrust all travel on the link: the host says what time it is (virtual
# time), sends the sensor samples with each tick and reads the throttle from the telemetry.
import sys

try:
    import micropython
except ImportError:
    micropython = None

from fsw.app import App
from hal.backup import open_backup


def _lock(lock):
    if lock and micropython is not None and hasattr(micropython, "heap_lock"):
        micropython.heap_lock()
        return True
    return False


def _unlock(locked):
    if locked:
        micropython.heap_unlock()


def serve(inp=None, out=None, heap_lock=False, backup=None):
    # Runs until the input ends. With heap_lock, the loop runs with the heap locked: any
    # allocation per tick raises MemoryError, is caught by the app and reported as a fault.
    # backup: the store the flight state survives a reset in (default: hal.backup's choice).
    if inp is None:
        inp = sys.stdin.buffer
    if out is None:
        out = sys.stdout.buffer
    readinto = inp.readinto
    if backup is None:
        backup = open_backup()
    app = App(out, readinto, backup)
    needed = app.needed
    rx_view = app.rx_view
    received = app.received
    locked = _lock(heap_lock)
    try:
        while True:
            # read straight into the decoder's buffer: no copy of the frame
            n = readinto(rx_view(), needed())
            if not n:
                break
            try:
                received(n)
            except Exception:
                # the app catches its own faults; this is the decoder's last line of defence:
                # count it, drop the partial frame, keep serving
                app.faults += 1
                app.dec.end()
    finally:
        _unlock(locked)
    app.dec.end()
    return app
