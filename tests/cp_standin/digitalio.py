"""Stand-in `digitalio`: DigitalInOut on a named pin; an input reads the level driven from
outside (state.set_level) or, when nothing drives it, its pull."""

from __future__ import annotations

from typing import Any

from . import state


class Direction:
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class Pull:
    UP = "UP"
    DOWN = "DOWN"


class DigitalInOut:
    def __init__(self, pin: Any) -> None:
        self.name = pin.name
        self.direction = Direction.INPUT
        self.pull: str | None = None
        self._out = False
        state.created.append(f"DigitalInOut({self.name})")

    def switch_to_input(self, pull: str | None = None) -> None:
        self.direction = Direction.INPUT
        self.pull = pull

    def switch_to_output(self, value: bool = False, drive_mode: Any = None) -> None:
        self.direction = Direction.OUTPUT
        self._out = bool(value)

    @property
    def value(self) -> bool:
        if self.direction == Direction.OUTPUT:
            return self._out
        if self.name in state.levels:
            return state.levels[self.name]
        return self.pull == Pull.UP

    @value.setter
    def value(self, v: bool) -> None:
        if self.direction != Direction.OUTPUT:
            raise AttributeError("Cannot set value when direction is input.")
        if type(v) is not bool:
            raise TypeError("value must be a bool")  # the HAL writes True/False
        self._out = v
