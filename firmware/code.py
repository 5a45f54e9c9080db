# softland entry point on CircuitPython boards. A board_config.py beside this file (a dict
# CONFIG, written by `softland flash`, docs/architecture.md "Board mode") with "mode": "board"
# and "hal": "circuitpython" runs the flight standalone on the board's own clock, LIDAR-Lite
# bus and ESC output (hal/cp_board.py, hal/board_loop.py); without one, or with "mode":
# "link", the link over the USB console as before.
# (CircuitPython's sys.stdin is a text stream; usb_cdc.data is the binary channel when enabled
# in boot.py, else the console is used.)
import sys


def _board_config():
    try:
        import board_config
    except ImportError:
        return None
    return board_config.CONFIG


_cfg = _board_config()
if _cfg is not None and _cfg.get("mode") == "board":
    from hal.cp_board import run_board

    run_board(_cfg)
else:
    from hal.stdio_link import serve

    try:
        import usb_cdc

        _port = usb_cdc.data or usb_cdc.console
    except ImportError:
        _port = None

    if _port is not None:
        serve(_port, _port)
    else:
        serve(sys.stdin.buffer, sys.stdout.buffer)
