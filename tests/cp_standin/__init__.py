"""Test-only stand-ins for the CircuitPython modules hal/cp_board.py uses (board, busio,
pwmio, digitalio, microcontroller, watchdog, alarm, supervisor, time), under CPython. They are
submodules of this package, never top-level modules, so they shadow neither Blinka's `board`,
`busio`, `digitalio` nor CPython's `time`. `modules()` resets them and returns the namespace
the HAL takes (hal.cp_board.CircuitPythonBoard(cfg, mods)).

The clock (state.clock) is virtual: it moves when the board sleeps, a bus transaction takes
its time, or a test advances it; the host's emulators take it as their clock."""

from __future__ import annotations

from types import SimpleNamespace

from . import alarm, board, busio, digitalio, microcontroller, pwmio, state, supervisor, watchdog
from . import time as time_


def modules(start_us: int = 0) -> SimpleNamespace:
    """A freshly booted board (sleep memory and nvm survive, as they do a reset)."""
    state.reset(start_us)
    microcontroller.watchdog = microcontroller.WatchDogTimer()
    return SimpleNamespace(
        board=board,
        busio=busio,
        digitalio=digitalio,
        microcontroller=microcontroller,
        pwmio=pwmio,
        supervisor=supervisor,
        time=time_,
        watchdog=watchdog,
        alarm=alarm,
    )
