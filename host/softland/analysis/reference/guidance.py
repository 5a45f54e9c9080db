"""The reference guidance (fsw/guidance.py in float64)."""

from __future__ import annotations

import math

from softland.analysis.reference.judge import DecisionJudge, Tolerances, flag_bits
from softland.analysis.reference.units import (
    BLIND,
    BRAKE,
    CHECK,
    COAST,
    HOLD,
    HOVER,
    IDLE,
    PH_TERMINAL,
    RefParams,
)


class RefGuidance:
    """The velocity schedule v_ref(h) = sqrt(v_td^2 + 2 k (a_max - g) (h_low - h_term)), coast
    until the brake point, terminal rate, blind band, hover (fsw/guidance.py)."""

    LEAD_S = 0.3  # ignition lead: thrust build-up
    CLEAR_MS = 1000  # sigma <= term_alt / 2 this long in the band: blind no more
    SCHEDULE_V2_MAX = 1.0e4  # the firmware's schedule is bounded at 100 m/s ...
    VREF_MAX = 150.0
    RAMP_A_MAX = 0.45  # the terminal ramp's deceleration bound (fsw/guidance.py)

    def __init__(self, p: RefParams, judge: DecisionJudge, tol: Tolerances) -> None:
        self.p = p
        self.judge = judge
        self.tol = tol
        self.phase = IDLE
        self.vref = 0.0
        self.h_low = 0.0
        self.ka = 0.0
        self.ff = 0.0
        self.blind = False
        self.blind_ms = 0
        self.clear_ms = 0  # time in the band with sigma at half the gate or below
        self.on_schedule = False  # the reference velocity came from the schedule this tick

    def reset(self) -> None:
        self.phase = COAST
        self.vref = 0.0
        self.blind = False
        self.blind_ms = 0
        self.clear_ms = 0

    def schedule(self, h: float) -> float:
        vtd = self.p.blind_sink if self.blind else self.p.vtd
        v2 = vtd * vtd
        if not self.blind:
            # ... and at the gate the terminal ramp's speed (fsw/guidance.py)
            v2 += 2 * min(self.ka / 4, self.RAMP_A_MAX) * min(self.p.term_alt, 20.0)
        v2 += min(2 * self.ka * max(h, 0.0), self.SCHEDULE_V2_MAX)
        return min(math.sqrt(v2), self.VREF_MAX)

    def step(
        self, alt: float, vel: float, sigma: float, a_max: float, terminal: bool, hover: bool
    ) -> None:
        p = self.p
        f = flag_bits()
        a_n = max(a_max - p.g, 0.1)
        self.h_low = alt - p.nsigma * sigma
        loose = self.judge.decide(
            "sigma_high",
            sigma > p.term_alt,
            sigma - p.term_alt,
            self.tol.sigma_m,
            lambda fw: bool(fw.flags & f.SIGMA_HIGH),
            flags=f.SIGMA_HIGH,
            flags2=f.BLIND,
        )
        blind, clear = loose, 0
        if terminal and self.blind and not loose:
            # blind until sigma has stayed at half the gate or below for CLEAR_MS
            blind = True
            if 2 * sigma <= p.term_alt:
                clear = self.clear_ms + p.period_ms
                if clear >= self.CLEAR_MS:
                    blind, clear = False, 0
                    self.blind_ms = 0
        self.clear_ms = clear
        self.blind = blind
        k = p.guid_k if loose else p.guid_khi
        self.ka = max(k * a_n, 0.01)
        self.on_schedule = False
        if hover:
            self.phase, self.vref, self.ff = HOVER, 0.0, p.g
            return
        if terminal:
            if self.blind:
                self.phase = BLIND
                self.blind_ms = min(self.blind_ms + p.period_ms, 1000000)
                sink = min(p.blind_sink + p.blind_ramp * self.blind_ms / 1000, p.blind_max)
                h_sched = self.h_low - p.term_alt
                if h_sched > 0:
                    sink = max(sink, self.schedule(h_sched))
                    self.on_schedule = True
                self.vref = -sink
            else:
                self.phase = PH_TERMINAL
                # the terminal ramp (fsw/guidance.py): v_td by the altitude's lower bound at a
                # quarter of the braking deceleration
                h = min(max(self.h_low, 0.0), 20.0)
                self.vref = -math.sqrt(p.vtd**2 + 2 * min(self.ka / 4, self.RAMP_A_MAX) * h)
                self.on_schedule = True
            self.ff = p.g
            return
        h_sched = self.h_low - p.term_alt
        sink_ref = self.schedule(h_sched)
        self.vref = -sink_ref
        self.on_schedule = True
        if self.phase == COAST:
            lead = self.ka * self.LEAD_S
            margin = -vel + lead - sink_ref
            brake = self.judge.decide(
                "brake",
                margin >= 0,
                margin,
                self.tol.vel_mps + self.tol.vref_mps,
                lambda fw: fw.phase not in (COAST, CHECK),
                phase=True,
            )
            if brake:
                self.phase = BRAKE
        if self.phase != BRAKE:
            self.ff = 0.0
        elif h_sched > 0:
            sink = max(0.0, min(-vel, sink_ref))
            self.ff = p.g + self.ka * sink / max(sink_ref, 0.001)
        else:
            self.ff = p.g

    def hold(self, vref: float, g: float) -> None:
        self.on_schedule = False
        self.phase, self.vref, self.ff = HOLD, vref, g
