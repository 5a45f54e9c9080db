"""Boards: everything that hosts or reaches the firmware. The supported boards' catalogue
(catalog, from boards/*.toml), copying the firmware onto a board (flash), the emulated
Cortex-M0 under QEMU (emuboard), the SIL runtimes (MicroPython unix ports, CPython) and the
host's end of the link (hostlink), where the firmware lives and importing it (firmware), and
the scripts that run inside MicroPython beside it (mpside/)."""
