# softland entry point on MicroPython (boards over USB serial for HIL; the unix port for SIL).
# The SIL runner starts `micropython main.py` with this directory on MICROPYPATH; a
# SOFTLAND_HEAP_LOCK=1 environment variable locks the heap for the whole loop. On a board no
# read waits longer than WAIT_MS for a byte (hal/stdio_link.serve); the unix port's reads
# block, so that SIL, where the host owns virtual time, stays deterministic.
import sys

from hal.stdio_link import serve

WAIT_MS = 250


def _want_heap_lock():
    try:
        import os

        return os.getenv("SOFTLAND_HEAP_LOCK") == "1"
    except (ImportError, AttributeError):
        return False


serve(
    heap_lock=_want_heap_lock(),
    wait_ms=0 if sys.platform in ("linux", "darwin") else WAIT_MS,
)
sys.exit(0)
