"""Stand-in `time` (the part the HAL uses): sleep(seconds) on the virtual clock, rounded to
whole milliseconds as CircuitPython's common_hal_time_delay_ms sleeps."""

from __future__ import annotations

from . import state

sleeps: list[float] = []  # every sleep's argument, for the tests


def sleep(seconds: float) -> None:
    if not isinstance(seconds, float | int) or seconds < 0:
        raise ValueError("sleep length must be non-negative")
    sleeps.append(seconds)
    state.clock.advance_us(int(round(seconds * 1000)) * 1000)
