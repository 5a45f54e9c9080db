"""Stand-in `pwmio`: PWMOut(pin, *, duty_cycle, frequency) records every duty written."""

from __future__ import annotations

from typing import Any

from . import state


class PWMOut:
    def __init__(
        self,
        pin: Any,
        *,
        duty_cycle: int = 0,
        frequency: int = 500,
        variable_frequency: bool = False,
    ) -> None:
        self.pin = pin
        self.frequency = frequency
        self.writes = 0
        self.log: list[tuple[int, int]] | None = None  # (time us, pulse us) when a list
        self._duty = 0
        self._set(duty_cycle)
        self.writes = 0
        state.created.append("PWMOut")

    def _set(self, d: Any) -> None:
        if type(d) is not int or not 0 <= d <= 65535:
            raise ValueError("duty_cycle must be an int 0..65535")
        self._duty = d
        self.writes += 1
        if self.log is not None:
            self.log.append((state.clock.now_us, self.pulse_us))

    @property
    def duty_cycle(self) -> int:
        return self._duty

    @duty_cycle.setter
    def duty_cycle(self, d: int) -> None:
        self._set(d)

    @property
    def pulse_us(self) -> int:
        """The high time of one period, rounded to the nearest microsecond."""
        return round(self._duty * 1_000_000 / (65536 * self.frequency))
