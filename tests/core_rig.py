"""Helpers for the firmware-core tests under CPython: parameter sets by name, an event
recorder, and a Flight that has passed its preflight, armed and started."""

from __future__ import annotations

from typing import Any

from softland.boards.firmware import fsw_module

params_mod = fsw_module("params")
flight_mod = fsw_module("flight")
rangefinder = fsw_module("rangefinder")


def params(**overrides: int) -> Any:
    """fsw.params.Params with the named parameters (lower case) set; each must be accepted."""
    p = params_mod.Params()
    ids = {n.lower(): getattr(params_mod, n) for n in dir(params_mod) if n.isupper()}
    for name, value in overrides.items():
        assert p.set(ids[name], value) == params_mod.OK, name
    return p


class Events:
    """The events a Flight reports, as (code, arg)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def __call__(self, code: int, arg: int) -> None:
        self.seen.append((code, arg))

    def codes(self) -> list[int]:
        return [c for c, _ in self.seen]


def descending(p: Any = None, events: Any = None) -> Any:
    """A Flight that read its sensors once in SAFE (rangefinder answering, out of range;
    accelerometer good) at the tick before time 0, armed and started."""
    f = flight_mod.Flight(p if p is not None else params(), events or Events())
    f.tick((1 << 30) - 20_000, 0, rangefinder.RF_OUT_OF_RANGE_HIGH, 0, 1)
    assert f.arm() == params_mod.OK
    assert f.start() == params_mod.OK
    return f
