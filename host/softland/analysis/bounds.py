"""The bounds `softland check` holds the firmware's telemetry to against the float64 reference
(softland.analysis.reference), one table (BOUNDS) with the reason for each number: what the
fixed point quantises, and where that scales with the state (the schedule's speed, the mass
burnt, the time dead reckoning: BoundContext, DriftBudget). docs/checker.md explains them and
gives the deviations measured on every built-in scenario."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from softland.analysis.reference import BRAKE, TERMINAL, RefFlight, Tolerances
from softland.boards.hostlink import TELEMETRY_FIELDS


@dataclass(frozen=True)
class Bound:
    """How far a telemetry channel may lie from the reference (in the channel's telemetry
    unit), and why: `fixed`, plus `scaled(ctx)` where the quantisation scales with the state
    (the schedule's speed, the mass burnt, the time dead reckoning)."""

    fixed: float
    unit: str
    reason: str
    scaled: Callable[[BoundContext], float] | None = None
    compared: bool = True

    def at(self, ctx: BoundContext) -> float:
        return self.fixed + (self.scaled(ctx) if self.scaled is not None else 0.0)


class DriftBudget:
    """The estimator's quantisation error carried through its own error dynamics. Every
    prediction floors a dt in the Q8 velocity (up to 1/256 mm/s a tick, one sign) and, once
    the filter has a bias estimate, subtracts it in whole mm/s^2 (up to 1 mm/s^2); the Q8
    altitude step floors two terms (up to 2/256 mm a tick); the bias update floors (up to
    1/256 mm/s^2 a range, one sign). A range used takes alpha of the altitude error away,
    beta of it from the velocity and gamma from the acceleration, as it does the estimate's.
    Dead reckoning lets it grow (t in velocity, t^2 in altitude); ranges bring it back."""

    def __init__(self) -> None:
        self.alt_mm = 0.0
        self.vel_mm_s = 0.0
        self.acc_mm_s2 = 0.0
        # the bound: the errors' envelope. The signed errors ring through zero as the filter
        # corrects them, the firmware's real (smaller, differently phased) ones need not: the
        # envelope decays at half the altitude gain per range instead
        self.alt_env_mm = 0.0
        self.vel_env_mm_s = 0.0

    def step(self, ref: RefFlight, steps: int, range_used: bool) -> None:
        p = ref.p
        floor = 1 / 256 + (p.period_s if ref.est.bias != 0 else 0.0)
        for _ in range(steps):
            self.vel_mm_s += floor + self.acc_mm_s2 * p.period_s
            # ... and the altitude step's two floored terms (v dt, a dt^2 / 2), 1/256 mm each
            self.alt_mm += self.vel_mm_s * p.period_s + 2 / 256
        if range_used:
            e = self.alt_mm
            self.alt_mm -= p.alpha * e
            self.vel_mm_s -= p.beta * e
            # the bias update floors gamma * innovation in Q8: up to 1/256 mm/s^2 a range, one
            # sign (a walk of the firmware's bias estimate that its own loop only partly undoes)
            self.acc_mm_s2 -= p.gamma * e - (1 / 256 if ref.est.imu else 0.0)
            self.alt_env_mm *= 1 - p.alpha / 2
            self.vel_env_mm_s *= 1 - p.alpha / 2
        self.alt_env_mm = max(self.alt_env_mm, abs(self.alt_mm))
        self.vel_env_mm_s = max(self.vel_env_mm_s, abs(self.vel_mm_s))


@dataclass(frozen=True)
class BoundContext:
    """The state the scaled bounds depend on, from the reference on the tick checked."""

    alt_drift_mm: float  # the estimator's carried quantisation error (DriftBudget)
    vel_drift_mm_s: float
    vref_mm_s: float  # |reference velocity|
    ka_mm_s2: float  # the schedule's planned deceleration k (a_max - g)
    a_max_mm_s2: float
    kp: float  # velocity loop gains, 1/s and 1/s^2
    ki: float
    alpha: float  # the estimator's altitude gain
    burnt: float  # start-mass fraction burnt
    burn_q24: float  # start-mass fraction burnt per full-throttle tick, in Q24
    nsigma: float
    period_s: float
    scheduled: bool  # the reference velocity comes from the schedule (not a fixed rate)
    braking: bool  # ... and its feed-forward from the schedule's deceleration
    vtd_mm_s: float
    hover_s_per_mass: float  # d(hover seconds) / d(mass fraction) of the propellant budget
    inertial: bool  # below the gate blind: control flies the inertial velocity, not the filter's
    stop_sink_mm_s: float = 0.0  # terminal on a known altitude: the sink the stopping
    # feed-forward plans on (fsw/flight.py _stop_ff; 0: none)
    stop_h_mm: float = 250.0  # ... and the height it plans on

    @classmethod
    def of(cls, ref: RefFlight, drift: DriftBudget) -> BoundContext:
        p = ref.p
        return cls(
            alt_drift_mm=drift.alt_env_mm,
            vel_drift_mm_s=drift.vel_env_mm_s,
            vref_mm_s=abs(ref.guid.vref) * 1000,
            ka_mm_s2=max(ref.guid.ka * 1000, 10.0),
            a_max_mm_s2=max(ref.ctrl.a_max * 1000, 100.0),
            kp=p.kp,
            ki=p.ki,
            alpha=p.alpha,
            burnt=1 - ref.ctrl.mass,
            burn_q24=max(ref.ctrl.burn_full * 2**24, 1.0),
            nsigma=p.nsigma,
            period_s=p.period_s,
            scheduled=ref.guid.on_schedule,
            braking=ref.guid.phase == BRAKE,
            vtd_mm_s=min(p.vtd, p.blind_sink) * 1000,
            hover_s_per_mass=ref.hover_s_per_mass(),
            inertial=ref.mode == TERMINAL and ref.guid.blind,
            stop_sink_mm_s=(
                min(-ref.est.vel, 30.0) * 1000
                if ref.mode == TERMINAL and not ref.guid.blind and -ref.est.vel > p.vtd
                else 0.0
            ),
            stop_h_mm=max(ref.guid.h_low, 0.25) * 1000,
        )


def _vel_drift(c: BoundContext) -> float:
    # twice the budget: a margin of 2 over a worst case that gives every floor one sign
    return 2 * c.vel_drift_mm_s


def _alt_drift(c: BoundContext) -> float:
    return 2 * c.alt_drift_mm


def _sigma(c: BoundContext) -> float:
    # sigma -= (alpha sigma) floored to 1 mm per range used: e' = (1 - alpha) e + 1, <= 1/alpha
    return 1 / max(c.alpha, 1e-3)


def _vref(c: BoundContext) -> float:
    # on the schedule (coast, brake; blind above its band) v = sqrt(v_td^2 + 2 ka h): ka is
    # k (a_max - g) floored to whole mm/s^2 (1 in ka; a_max is the firmware's), dv/dka = h/v <=
    # v/(2 ka); above 31.6 m/s the root is taken in cm/s (10 mm/s); h_low's bound moves v by
    # ka dh / v. The terminal rate and the blind ramp are exact (1 for the floor)
    if not c.scheduled:
        return 1.0
    v = max(c.vref_mm_s, 1.0)
    dh = 20 + _hlow(c)
    return 1 + v / (2 * c.ka_mm_s2) + (10 if v > 31600 else 0) + c.ka_mm_s2 * dh / v


def _perf_a_max(c: BoundContext) -> float:
    # the engine performance is Q12 and moves by (ratio - perf) >> 5: a dead band of 32/4096
    # (0.8 %) below the measured ratio; the mass model burns at a Q24 rate floored (1/burn_q24
    # relative) and a_max is whole mm/s^2
    return c.a_max_mm_s2 * (34 / 4096 + c.burnt / c.burn_q24)


def _control_vel(c: BoundContext) -> float:
    # the velocity the controller flies: the filter's (1 for its floor, + the drift), or below
    # the gate blind the inertial one, Q8 floored every tick (1/256 mm/s, one sign) and pulled
    # towards the filter's by 1/512 a tick: its floor settles at 512/256 = 2 mm/s; twice
    return 1 + _vel_drift(c) + (4 if c.inertial else 0)


def _acmd(c: BoundContext) -> float:
    # kp times the reference's and the velocity's bounds, the integrator's, and the
    # feed-forward's: braking, g + ka sink / sink_ref (ka 1 mm/s^2, the ratio's Q12 and its
    # sensitivity ka dv / sink_ref); else g, exact
    dv = _vref(c) + _control_vel(c)
    ff = 2 + c.ka_mm_s2 * dv / max(c.vref_mm_s, c.vtd_mm_s) if c.braking else 0.0
    return 1 + c.kp * dv + _integ(c) + ff + _stop(c)


def _stop(c: BoundContext) -> float:
    # the terminal stopping feed-forward (v^2 - vtd^2) / (2 h), in cm/s and cm floored (10 each)
    # on the velocity's and h_low's bounds: d = v dv / h + need dh / h, and the quotient's 1
    if c.stop_sink_mm_s <= 0:
        return 0.0
    v, h = c.stop_sink_mm_s, c.stop_h_mm
    need = (v * v - c.vtd_mm_s**2) / (2 * h)
    dv = 10 + _control_vel(c)
    dh = 10 + _hlow(c)
    return 1 + (v + dv) * dv / h + need * dh / h


def _integ(c: BoundContext) -> float:
    # one tick's ki * err * dt from the firmware's integrator (telemetry: whole mm/s^2, the
    # Q8 fraction lost: 1) on the velocity error's bound, floored in Q8
    # (and ki err is floored to whole mm/s^3 before the dt: period_s)
    return c.period_s + c.ki * c.period_s * (_vref(c) + _control_vel(c))


def _throttle(c: BoundContext) -> float:
    # throttle = a_cmd / a_max (the firmware's) in Q15, floored: the a_cmd bound over a_max
    return 32767 * _acmd(c) / c.a_max_mm_s2 + 2


def _mass(c: BoundContext) -> float:
    return 16384 * c.burnt / c.burn_q24


def _hlow(c: BoundContext) -> float:
    return _alt_drift(c) + c.nsigma * _sigma(c)


_DRIVER = "range driver (not modelled): the firmware's driver replayed on the recorded bytes"
BOUNDS: dict[str, Bound] = {
    "tick": Bound(0, "", "a count: exact"),
    "time_us": Bound(0, "us", "the TICK frame's time, passed through"),
    "range_mm": Bound(0, "mm", "the range input of the tick, passed through"),
    "overruns": Bound(0, "", "a count of late ticks, from the input times: exact"),
    "rf_status": Bound(0, "", _DRIVER),
    "rf_valid": Bound(0, "", _DRIVER),
    "rf_signal": Bound(0, "", _DRIVER),
    "rf_tx": Bound(0, "", _DRIVER),
    "rf_errors": Bound(0, "", _DRIVER),
    "link_errors": Bound(
        0,
        "",
        "frames lost or corrupted on the wire are not in the log (it holds the frames as "
        "the firmware acted on them); HIL reports its link statistics",
        compared=False,
    ),
    "faults": Bound(0, "", "an exception caught in the loop is a fault: none expected"),
    "alt_mm": Bound(
        20,
        "mm",
        "telemetry floors the Q8 altitude (1 mm), corrections floor 1/256 mm, the range's "
        "age carry 1 mm; + twice the drift budget (DriftBudget)",
        _alt_drift,
    ),
    "vel_mm_s": Bound(
        3,
        "mm/s",
        "telemetry floors the Q8 velocity (1 mm/s), beta corrections 1/256 mm/s; + twice the "
        "drift budget (DriftBudget: the floors through the filter's error dynamics)",
        _vel_drift,
    ),
    "sigma_mm": Bound(
        2,
        "mm",
        "whole mm: growth carried exactly; the alpha shrink floors 1 mm a range: <= 1/alpha",
        _sigma,
    ),
    "vref_mm_s": Bound(
        2,
        "mm/s",
        "on the schedule: its floor root (1 mm/s; 10 in cm/s above 31.6 m/s), ka whole "
        "mm/s^2 (v/(2 ka)), h_low's bound through it (ka dh/v); fixed rates exact",
        _vref,
    ),
    "throttle_q15": Bound(
        0,
        "1/32767",
        "a_cmd's bound over a_max (the firmware's: its own bound is a_max's channel), "
        "floored to Q15",
        _throttle,
    ),
    "acmd_mm_s2": Bound(
        0,
        "mm/s^2",
        "kp times the reference's and velocity's bounds, the integrator's, feed-forward "
        "(braking: ka whole mm/s^2, the sink ratio Q12 and its sensitivity; terminal: the "
        "stopping feed-forward's cm quantisation and its sensitivity to velocity and h_low)",
        _acmd,
    ),
    "integ_mm_s2": Bound(
        1,
        "mm/s^2",
        "one tick of ki err dt (the reference starts from the firmware's integrator: "
        "telemetry's whole mm/s^2 lose the Q8 fraction, 1) on the velocity error's bound",
        _integ,
    ),
    "amax_mm_s2": Bound(
        2,
        "mm/s^2",
        "whole mm/s^2; the engine performance's Q12 dead band (32/4096 below the ratio "
        "measured); the mass model's Q24 burn rate floored",
        _perf_a_max,
    ),
    "mass_q14": Bound(
        2,
        "1/16384",
        "telemetry floors Q24 to Q14 (1), the burn's Q15 carry (1); the Q24 burn rate per "
        "tick is floored (1/burn_q24 relative, of the mass burnt)",
        _mass,
    ),
    "hlow_mm": Bound(
        22,
        "mm",
        "h_low = altitude - n sigma: the altitude's bound plus n times sigma's",
        _hlow,
    ),
    "rejects": Bound(0, "", "a count of gated-out ranges: exact (gate decisions followed)"),
}
# channels the reference does not compute: the firmware's range driver and link decoder,
# replayed on the recorded bytes
REPLAYED = ("rf_status", "rf_valid", "rf_signal", "rf_tx", "rf_errors", "link_errors", "faults")
# the link's own decision bit (a frame dropped since the last tick): link-level, not compared
LINK_ERR_EXCUSED = 0x8000  # fsw.flags.LINK_ERR
NUMERIC = tuple(
    name for name, _ in TELEMETRY_FIELDS if name not in ("mode", "phase", "flags", "flags2")
)


def tolerances(ctx: BoundContext) -> Tolerances:
    """Where a decision is too close to call: the bounds above, in the reference's units."""
    b = BOUNDS
    return Tolerances(
        alt_m=b["alt_mm"].at(ctx) / 1000,
        vel_mps=b["vel_mm_s"].at(ctx) / 1000,
        sigma_m=b["sigma_mm"].at(ctx) / 1000,
        throttle=b["throttle_q15"].at(ctx) / 32767,
        vref_mps=b["vref_mm_s"].at(ctx) / 1000,
        acc_mps2=(b["acmd_mm_s2"].at(ctx) + b["amax_mm_s2"].at(ctx)) / 1000,
        # the firmware's hover time is whole seconds (1), from a mass whose bound is mass_q14's
        # plus the engine performance's dead band on the mass burnt
        hover_s=1 + ctx.hover_s_per_mass * (b["mass_q14"].at(ctx) / 16384 + ctx.burnt * 34 / 4096),
    )
