"""What the stand-in modules share: the virtual clock, pin levels, the build order."""

from __future__ import annotations


class WatchdogBite(BaseException):
    """The watchdog went unfed past its timeout (a BaseException: the loop's `except
    Exception` does not catch it, as nothing catches a reset)."""


class Clock:
    """Microseconds, unwrapped; the emulators' VirtualClock interface."""

    def __init__(self, start_us: int = 0) -> None:
        self.now_us = start_us
        self.watchdog = None  # the microcontroller.watchdog to check on every advance

    def advance_us(self, n: int) -> None:
        if n < 0:
            raise ValueError("the clock cannot go back")
        self.now_us += int(n)
        if self.watchdog is not None:
            self.watchdog.check(self.now_us)

    def advance_to_us(self, t_us: int) -> None:
        if t_us > self.now_us:
            self.advance_us(t_us - self.now_us)

    @property
    def now_s(self) -> float:
        return self.now_us / 1e6


clock = Clock()
levels: dict[str, bool] = {}  # pin name -> level driven from outside (a switch, a wire)
created: list[str] = []  # the devices in the order they were built


def reset(start_us: int = 0) -> Clock:
    global clock
    clock = Clock(start_us)
    levels.clear()
    del created[:]
    from . import busio

    busio.I2C.backend = None
    busio.I2C.no_pullups = False
    return clock


def set_level(name: str, level: bool) -> None:
    """Drive pin board.<name> from outside (True high, False low)."""
    levels[name] = bool(level)
