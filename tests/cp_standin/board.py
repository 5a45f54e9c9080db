"""Stand-in `board`: pin objects named as a Feather's (board.D5, board.SDA, board.LED ...)."""

from __future__ import annotations


class Pin:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"board.{self.name}"


_NAMES = (
    "SDA",
    "SCL",
    "D4",
    "D5",
    "D6",
    "D9",
    "D10",
    "D11",
    "D12",
    "D13",
    "A0",
    "A1",
    "TX",
    "RX",
    "NEOPIXEL",
)
for _n in _NAMES:
    globals()[_n] = Pin(_n)
LED = globals()["D13"]  # the red LED is on D13
