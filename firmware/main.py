# softland entry point on MicroPython (boards over USB serial for HIL; the unix port for SIL).
# The SIL runner starts `micropython main.py` with this directory on MICROPYPATH; a
# SOFTLAND_HEAP_LOCK=1 environment variable locks the heap for the whole loop.
import sys

from hal.stdio_link import serve


def _want_heap_lock():
    try:
        import os

        return os.getenv("SOFTLAND_HEAP_LOCK") == "1"
    except (ImportError, AttributeError):
        return False


serve(heap_lock=_want_heap_lock())
sys.exit(0)
