"""Decisions at a threshold: where the reference is within a bound of it, it takes the
firmware's decision and records that it did (softland.analysis.reference)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from types import ModuleType

from softland.boards.firmware import fsw_module


@dataclass
class FirmwareDecisions:
    """What the firmware decided on the tick being checked (from its telemetry), or None
    before the flight (no telemetry row to compare with)."""

    mode: int
    phase: int
    flags: int
    flags2: int


@dataclass
class Followed:
    tick: int
    decision: str
    margin: float  # the reference's distance to the threshold, in the variable's unit
    tolerance: float


@dataclass
class DecisionJudge:
    """Takes the threshold decisions. Within `tolerance` of a threshold the reference takes the
    firmware's decision (recorded in `followed`); the bits such a decision sets are excused
    when the decision words are compared (`ambiguous`)."""

    fw: FirmwareDecisions | None = None
    tick: int = 0
    followed: list[Followed] = field(default_factory=list)
    follow_count: dict[str, int] = field(default_factory=dict)
    ambiguous_flags: int = 0
    ambiguous_flags2: int = 0
    ambiguous_mode: bool = False
    ambiguous_phase: bool = False

    def begin(self, tick: int, fw: FirmwareDecisions | None) -> None:
        self.tick = tick
        self.fw = fw
        self.ambiguous_flags = 0
        self.ambiguous_flags2 = 0
        self.ambiguous_mode = False
        self.ambiguous_phase = False

    def decide(
        self,
        name: str,
        own: bool,
        margin: float,
        tolerance: float,
        firmware: Callable[[FirmwareDecisions], bool | None],
        flags: int = 0,
        flags2: int = 0,
        mode: bool = False,
        phase: bool = False,
    ) -> bool:
        """own: the reference's decision; margin: its distance to the threshold. Within the
        tolerance the firmware's decision (firmware(fw), None when telemetry does not show it)
        is taken."""
        if abs(margin) > tolerance or self.fw is None:
            return own
        self.ambiguous_flags |= flags
        self.ambiguous_flags2 |= flags2
        self.ambiguous_mode |= mode
        self.ambiguous_phase |= phase
        theirs = firmware(self.fw)
        if theirs is None or theirs == own:
            return own
        self.follow_count[name] = self.follow_count.get(name, 0) + 1
        if len(self.followed) < 200:
            self.followed.append(Followed(self.tick, name, margin, tolerance))
        return theirs


@dataclass
class Tolerances:
    """How far the reference's values may lie from the firmware's: where a decision taken on
    them is too close to call (softland.analysis.bounds derives them from the channels'
    bounds, tick by tick; the components hold one instance, updated in place)."""

    alt_m: float = 0.01
    vel_mps: float = 0.01
    sigma_m: float = 0.002
    throttle: float = 0.002
    vref_mps: float = 0.01
    acc_mps2: float = 0.01
    hover_s: float = 0.05

    def update(self, other: Tolerances) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(other, f.name))


@functools.cache
def flag_bits() -> ModuleType:
    """The FLAGS / FLAGS2 bits (fsw/flags.py): the decision words the telemetry carries."""
    return fsw_module("flags")
