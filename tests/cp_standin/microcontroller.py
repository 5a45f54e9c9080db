"""Stand-in `microcontroller`: watchdog (a WatchDogTimer: timeout in float seconds, mode,
feed(); unfed past its timeout in RESET mode it raises state.WatchdogBite on the clock's
advance) and nvm (4 KB, kept across boards: flash)."""

from __future__ import annotations

from . import state


class WatchDogTimer:
    def __init__(self) -> None:
        self.timeout = 0.0
        self._mode: str | None = None
        self.feeds = 0
        self.last_feed_us = 0
        self.bitten_us = -1

    @property
    def mode(self) -> str | None:
        return self._mode

    @mode.setter
    def mode(self, m: str) -> None:
        if not self.timeout > 0:
            raise ValueError("watchdog timeout must be set before mode")
        self._mode = m
        self.last_feed_us = state.clock.now_us
        state.clock.watchdog = self
        state.created.append("watchdog")

    @property
    def timeout_us(self) -> int:
        return round(self.timeout * 1e6)

    def feed(self) -> None:
        if self._mode is None:
            raise ValueError("watchdog not started")
        self.check(state.clock.now_us)
        self.feeds += 1
        self.last_feed_us = state.clock.now_us

    def check(self, now_us: int) -> None:
        if self._mode and self.bitten_us < 0 and now_us - self.last_feed_us > self.timeout_us:
            self.bitten_us = now_us
            raise state.WatchdogBite()


watchdog = WatchDogTimer()
nvm = bytearray(4096)
