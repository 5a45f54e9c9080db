"""The reference land detector (fsw/landdet.py in float64)."""

from __future__ import annotations

from softland.analysis.reference.judge import DecisionJudge, Tolerances, flag_bits
from softland.analysis.reference.units import RefParams


class RefLandDetector:
    """Low AND slow (blind: the ground reaction; after a ground impact sensed while low: held)
    AND throttle near its minimum, held for LAND_TIME_MS (fsw/landdet.py)."""

    THR_NEAR_MIN = 1638 / 32767  # "near minimum": within 5 % of full throttle

    def __init__(self, p: RefParams, judge: DecisionJudge, tol: Tolerances) -> None:
        self.p = p
        self.judge = judge
        self.tol = tol
        self.held_ms = 0
        self.flags = 0
        self.contact = False
        self.impact = False  # a ground impact sensed while low: on the surface from here

    def reset(self) -> None:
        self.held_ms = 0
        self.flags = 0
        self.contact = False
        self.impact = False

    def step(
        self,
        alt: float,
        vel: float,
        throttle: float,
        engine_on: bool,
        blind: bool,
        reaction: float,
    ) -> bool:
        p = self.p
        f = flag_bits()
        judge = self.judge
        both = f.LAND_ALT | f.LAND_SPEED
        fl = 0
        if blind:
            limit = p.g / (16 if self.contact else 8)
            if judge.decide(
                "ground_reaction",
                reaction > limit,
                reaction - limit,
                self.tol.acc_mps2,
                lambda fw: fw.flags & both == both,
                flags=both,
            ):
                fl |= both
        else:
            if judge.decide(
                "land_alt",
                alt < p.land_alt,
                alt - p.land_alt,
                self.tol.alt_m,
                lambda fw: bool(fw.flags & f.LAND_ALT),
                flags=f.LAND_ALT,
            ):
                fl |= f.LAND_ALT
                limit = 2 * p.g
                if judge.decide(
                    "impact",
                    self.impact or reaction > limit,
                    reaction - limit,
                    self.tol.acc_mps2,
                    lambda fw: bool(fw.flags2 & f.LAND_IMPACT),
                    flags2=f.LAND_IMPACT,
                ):
                    self.impact = True
            if judge.decide(
                "land_speed",
                abs(vel) < p.land_speed,
                abs(vel) - p.land_speed,
                self.tol.vel_mps,
                lambda fw: bool(fw.flags & f.LAND_SPEED),
                flags=f.LAND_SPEED,
            ):
                fl |= f.LAND_SPEED
            if self.impact:
                fl |= both
        near_min = throttle - (p.thr_min + self.THR_NEAR_MIN)
        if not engine_on or judge.decide(
            "land_throttle",
            near_min <= 0,
            near_min,
            self.tol.throttle,
            lambda fw: bool(fw.flags & f.LAND_THR),
            flags=f.LAND_THR,
        ):
            fl |= f.LAND_THR
        self.flags = fl
        self.contact = fl & both == both
        if fl == both | f.LAND_THR:
            self.held_ms = min(self.held_ms + p.period_ms, 1000000)
        else:
            self.held_ms = 0
        return self.held_ms >= p.land_time_ms
