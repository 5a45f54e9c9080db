"""The reference model: what the fixed-point firmware approximates, in float64 and physical
units (m, m/s, m/s^2, s), with no quantisation.

Written from docs/architecture.md ("The tick", "Fault tolerance", "Uncertainty too large to
land on") with the firmware (firmware/fsw/*.py) as the definition where the docs leave a
detail open: the same components (estimator, guidance, controller, land detector), the same
mode logic (fsw/flight.py) and the same decisions, one small class each. Integer parameters
(fsw/params.py, Q12/Q15/Q4 fixed point, mm, ms) are converted once, in RefParams. Time stays a
count of milliseconds (tick times arrive as integers; a time is not quantised).

Decisions at a threshold (a range gated in or out, the brake point, the terminal gate, the
land detector's conditions ...) go through a DecisionJudge: when the reference's value lies
within the declared deviation bound of the threshold, the two sides may legitimately decide
differently, and the reference takes the firmware's decision (from its telemetry) and records
that it did; beyond the bound it keeps its own, and a difference is a finding.
"""

from softland.analysis.reference.control import RefController
from softland.analysis.reference.estimator import RefEstimator
from softland.analysis.reference.flight import RefFlight, TickInput
from softland.analysis.reference.guidance import RefGuidance
from softland.analysis.reference.judge import (
    DecisionJudge,
    FirmwareDecisions,
    Followed,
    Tolerances,
    flag_bits,
)
from softland.analysis.reference.landdet import RefLandDetector
from softland.analysis.reference.units import (
    ABORT,
    ARMED,
    BLIND,
    BRAKE,
    CHECK,
    COAST,
    DESCENT,
    G0,
    HOLD,
    HOVER,
    IDLE,
    LANDED,
    PH_TERMINAL,
    SAFE,
    TERMINAL,
    TOUCHDOWN,
    RefParams,
    ticks_diff,
)

__all__ = [
    "ABORT",
    "ARMED",
    "BLIND",
    "BRAKE",
    "CHECK",
    "COAST",
    "DESCENT",
    "G0",
    "HOLD",
    "HOVER",
    "IDLE",
    "LANDED",
    "PH_TERMINAL",
    "SAFE",
    "TERMINAL",
    "TOUCHDOWN",
    "DecisionJudge",
    "FirmwareDecisions",
    "Followed",
    "RefController",
    "RefEstimator",
    "RefFlight",
    "RefGuidance",
    "RefLandDetector",
    "RefParams",
    "TickInput",
    "Tolerances",
    "flag_bits",
    "ticks_diff",
]
