# softland entry point on CircuitPython boards: the same link over the USB console.
# (CircuitPython's sys.stdin is a text stream; usb_cdc.data is the binary channel when enabled
# in boot.py, else the console is used.)
import sys

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
