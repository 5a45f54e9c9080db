"""Stand-in `supervisor`: ticks_ms(), milliseconds of the virtual clock, wrapping at 2^29."""

from __future__ import annotations

from . import state

TICKS_PERIOD = 1 << 29


def ticks_ms() -> int:
    return (state.clock.now_us // 1000) & (TICKS_PERIOD - 1)
