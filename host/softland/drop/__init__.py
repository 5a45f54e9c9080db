"""The tabletop drop test (docs/tabletop.md): captures of the LIDAR-Lite during a free fall,
from a board (firmware/drop.py over the serial console), straight from a laptop through Blinka,
or from the emulator (capture, wire, blinka, emulate), the capture file (capture), and the
analysis of one against physics (analysis, report)."""
