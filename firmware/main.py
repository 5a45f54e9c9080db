# softland entry point on MicroPython (boards over USB serial for HIL; the unix port for SIL).
# A board_config.py beside this file (a dict CONFIG, docs/architecture.md "Board mode") with
# "mode": "board" runs the flight standalone on the board's own clock, LIDAR-Lite bus and ESC
# output (hal/board_loop.py); without one, or with "mode": "link", the link as before:
# the SIL runner starts `micropython main.py` with this directory on MICROPYPATH; a
# SOFTLAND_HEAP_LOCK=1 environment variable locks the heap for the whole loop (on a board the
# link's loop always runs with it locked). On a board no
# read waits longer than WAIT_MS for a byte (hal/stdio_link.serve); the unix port's reads
# block, so that SIL, where the host owns virtual time, stays deterministic.
# Flashed by `softland flash`, this file runs from fw/<slot>/ under the board's loader
# (docs/flashing.md), which it tells that this version started once it reaches its loop.
import sys

WAIT_MS = 250


def _board_config():
    try:
        import board_config
    except ImportError:
        return None
    return board_config.CONFIG


def _want_heap_lock():
    # a board's serving loop always runs with the heap locked: the link's CRC search then
    # raises MemoryError for a CRC that would be a heap int instead of leaving it as garbage,
    # and a preallocated exception raised again and again (a NACKing sensor) cannot grow its
    # traceback; the unix port's SIL asks for it with SOFTLAND_HEAP_LOCK=1
    if sys.platform not in ("linux", "darwin"):
        return True
    try:
        import os

        return os.getenv("SOFTLAND_HEAP_LOCK") == "1"
    except (ImportError, AttributeError):
        return False


def _confirm():
    # under the loader: keep this version (no loader, as in SIL: nothing to do)
    import __main__

    confirm = getattr(__main__, "softland_confirm", None)
    if confirm is not None:
        confirm()


_cfg = _board_config()
if _cfg is not None and _cfg.get("mode") == "board":
    from hal.machine_board import run_board

    _confirm()
    run_board(_cfg)
else:
    from hal.stdio_link import serve

    _confirm()
    serve(
        heap_lock=_want_heap_lock(),
        wait_ms=0 if sys.platform in ("linux", "darwin") else WAIT_MS,
    )
sys.exit(0)
