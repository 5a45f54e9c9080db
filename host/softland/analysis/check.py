"""`softland check`: is each telemetry value of a run what the flight code should have produced?

The run's recorded inputs (inputs.bin) are replayed tick by tick through the float64 reference
model (softland.analysis.reference) or through the firmware under CPython (bit-exact expected),
and every telemetry row of the run (telemetry.csv, as the board or SIL sent it) is compared
with what the replay produced: per channel the largest deviation against the bound declared in
BOUNDS (with the reason for each number), the first tick where a bound breaks, and the
decisions (mode, phase, each FLAGS / FLAGS2 bit) that differ. docs/checker.md has the figures.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from softland.analysis.reference import (
    BLIND,
    BRAKE,
    COAST,
    DecisionJudge,
    FirmwareDecisions,
    RefFlight,
    Tolerances,
    flag_bits,
)
from softland.analysis.replay import Command, Replay, Reset, Tick, replay
from softland.boards.firmware import fsw_module
from softland.boards.hostlink import MODES, PHASES, TELEMETRY_FIELDS
from softland.boards.linklog import read_link_log
from softland.errors import UserError

AGAINST = ("reference", "cpython")


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
    """The estimator's quantisation error carried through its own error dynamics: every
    prediction floors a dt in the Q8 velocity (up to 1/256 mm/s a tick, one sign) and, once
    the filter has a bias estimate, subtracts it in whole mm/s^2 (up to 1 mm/s^2); the Q8
    altitude step floors two terms (up to 2/256 mm a tick); the bias update floors (up to
    1/256 mm/s^2 a range, one sign); a range used
    takes alpha of the altitude error away, beta of it from the velocity and gamma from the
    acceleration, as it does the estimate's. Dead reckoning lets it grow (t in velocity, t^2 in
    altitude); ranges bring it back."""

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
            scheduled=ref.guid.phase in (COAST, BRAKE, BLIND),
            braking=ref.guid.phase == BRAKE,
            vtd_mm_s=min(p.vtd, p.blind_sink) * 1000,
        )


def _vel_drift(c: BoundContext) -> float:
    return 2 * c.vel_drift_mm_s  # the budget's worst sign, twice: the floors' mean is half


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


def _acmd(c: BoundContext) -> float:
    # kp times the reference's and the velocity's bounds, the integrator's, and the
    # feed-forward's: braking, g + ka sink / sink_ref (ka 1 mm/s^2, the ratio's Q12 and its
    # sensitivity ka dv / sink_ref); else g, exact
    dv = _vref(c) + 1 + _vel_drift(c)
    ff = 2 + c.ka_mm_s2 * dv / max(c.vref_mm_s, c.vtd_mm_s) if c.braking else 0.0
    return 1 + c.kp * dv + _integ(c) + ff


def _integ(c: BoundContext) -> float:
    # one tick's ki * err * dt from the firmware's integrator (telemetry: whole mm/s^2, the
    # Q8 fraction lost: 1) on the velocity error's bound, floored in Q8
    # (and ki err is floored to whole mm/s^3 before the dt: period_s)
    return c.period_s + c.ki * c.period_s * (_vref(c) + 1 + _vel_drift(c))


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
        "not compared: frames lost or corrupted on the wire are not in the log (it holds the "
        "frames as the firmware acted on them); HIL reports its link statistics",
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
        "(braking: ka whole mm/s^2, the sink ratio Q12 and its sensitivity)",
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
        hover_s=0.05,
    )


@dataclass
class ChannelResult:
    """bound: the fixed part of the channel's bound; largest: the largest deviation, at
    at_tick, where the bound was bound_there; worst: the largest deviation / bound."""

    channel: str
    bound: float
    unit: str
    reason: str
    largest: float = 0.0
    at_tick: int | None = None
    bound_there: float = 0.0
    worst: float = 0.0
    compared: bool = True
    first_break_tick: int | None = None
    breaks: int = 0

    @property
    def ok(self) -> bool:
        return self.breaks == 0


@dataclass
class DecisionDiff:
    decision: str
    first_tick: int
    ticks: int
    firmware: Any
    reference: Any


@dataclass
class CheckReport:
    run_dir: str
    against: str
    flight_ticks: int
    channels: list[ChannelResult] = field(default_factory=list)
    decisions: list[DecisionDiff] = field(default_factory=list)
    followed: dict[str, int] = field(default_factory=dict)
    first_followed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.channels) and not self.decisions

    def first_break(self) -> tuple[int, str] | None:
        """(tick, channel or decision) of the earliest failure, or None."""
        found = [(c.first_break_tick, c.channel) for c in self.channels if not c.ok]
        found += [(d.first_tick, d.decision) for d in self.decisions]
        return min(found) if found else None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        fb = self.first_break()
        out["first_break"] = None if fb is None else {"tick": fb[0], "what": fb[1]}
        return out


@dataclass
class RunRecord:
    run_dir: Path
    rows: list[dict[str, int]]  # the telemetry of the flight ticks the computer answered
    replay: Replay


def read_telemetry(path: Path) -> list[dict[str, int]]:
    """The telemetry rows of telemetry.csv the flight computer answered (computer_up), with
    the telemetry fields as integers; a UserError naming what is wrong."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path} not found: not a run directory of `softland sim`/`hil`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    lines = text.splitlines()
    if not lines:
        return []
    if not text.endswith("\n"):
        raise UserError(f"{path} is truncated: its last line (line {len(lines)}) is not complete")
    reader = csv.reader(lines)
    header = next(reader)
    missing = [name for name, _ in TELEMETRY_FIELDS if name not in header]
    if missing:
        raise UserError(f"{path} has no column {missing[0]}: not a softland telemetry file")
    rows = []
    for n, values in enumerate(reader, start=2):
        if len(values) != len(header):
            raise UserError(
                f"{path} is truncated or corrupt at line {n}: {len(values)} fields, "
                f"{len(header)} expected"
            )
        row = dict(zip(header, values, strict=True))
        if row.get("computer_up", "1") not in ("1", "True"):
            continue
        try:
            rows.append({name: int(row[name]) for name, _ in TELEMETRY_FIELDS})
        except ValueError:
            bad = next(nm for nm, _ in TELEMETRY_FIELDS if not _is_int(row[nm]))
            raise UserError(f"{path} line {n}: {bad} = {row[bad]!r} is not an integer") from None
    return rows


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def load_run(run_dir: Path) -> RunRecord:
    if not run_dir.exists():
        raise UserError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a directory (a run directory of `softland sim`)")
    log = read_link_log(run_dir / "inputs.bin")
    rows = read_telemetry(run_dir / "telemetry.csv")
    rep = replay(log)
    ticks = rep.flight_ticks()
    if len(rows) != len(ticks):
        raise UserError(
            f"{run_dir / 'telemetry.csv'} has {len(rows)} flight rows but inputs.bin has "
            f"{len(ticks)} flight ticks: one of them is truncated or from another run"
        )
    for k, (row, tick) in enumerate(zip(rows, ticks, strict=True)):
        if tick.given is not None and row["time_us"] != tick.given.now_us:
            raise UserError(
                f"telemetry.csv row {k + 1} (time_us {row['time_us']}) does not match the "
                f"recorded inputs (time_us {tick.given.now_us}): not the same run"
            )
    return RunRecord(run_dir, rows, rep)


class _Tally:
    """Per-channel deviations and per-decision differences as the ticks go."""

    def __init__(self, bounds: dict[str, Bound], exact: bool) -> None:
        self.channels = {
            name: ChannelResult(
                name,
                0 if exact else bounds[name].fixed,
                bounds[name].unit,
                "bit-exact: the same code on the same bytes" if exact else bounds[name].reason,
                compared=bounds[name].compared,
            )
            for name in NUMERIC
        }
        self.bounds = bounds
        self.exact = exact
        self.diffs: dict[str, DecisionDiff] = {}

    def channel(
        self, name: str, tick: int, expected: float, got: int, ctx: BoundContext | None
    ) -> None:
        if not self.bounds[name].compared:
            return
        c = self.channels[name]
        dev = abs(got - expected)
        bound = 0.0 if ctx is None else self.bounds[name].at(ctx)
        if dev > c.largest:
            c.largest = dev
            c.at_tick = tick
            c.bound_there = bound
        if bound > 0:
            c.worst = max(c.worst, dev / bound)
        if dev > bound + 1e-9:
            c.breaks += 1
            if c.first_break_tick is None:
                c.first_break_tick = tick

    def decision(self, name: str, tick: int, firmware: Any, reference: Any) -> None:
        d = self.diffs.get(name)
        if d is None:
            self.diffs[name] = DecisionDiff(name, tick, 1, firmware, reference)
        else:
            d.ticks += 1


def _decision_words(
    tally: _Tally,
    tick: int,
    row: dict[str, int],
    ref: dict[str, Any],
    excused: tuple[int, int, bool, bool],
) -> None:
    f = flag_bits()
    ex_flags, ex_flags2, ex_mode, ex_phase = excused
    if row["mode"] != ref["mode"] and not ex_mode:
        tally.decision("mode", tick, _name(MODES, row["mode"]), _name(MODES, ref["mode"]))
    if row["phase"] != ref["phase"] and not ex_phase:
        tally.decision("phase", tick, _name(PHASES, row["phase"]), _name(PHASES, ref["phase"]))
    for word, names, excuse in (("flags", f.NAMES, ex_flags), ("flags2", f.NAMES2, ex_flags2)):
        differ = (row[word] ^ ref[word]) & ~excuse
        for bit, name in enumerate(names):
            if differ >> bit & 1:
                tally.decision(f"{word}.{name}", tick, row[word] >> bit & 1, ref[word] >> bit & 1)


def _name(names: tuple[str, ...], value: int) -> str:
    return names[value] if 0 <= value < len(names) else str(value)


def check_against_cpython(run: RunRecord) -> CheckReport:
    """The firmware under CPython on the recorded bytes: every value bit-exact."""
    tally = _Tally(BOUNDS, exact=True)
    for row, tick in zip(run.rows, run.replay.flight_ticks(), strict=True):
        t = row["tick"]
        if tick.telemetry is None:
            tally.decision("telemetry", t, "frame", "none")
            continue
        for name in NUMERIC:
            tally.channel(name, t, tick.telemetry[name], row[name], None)
        _decision_words(tally, t, row, tick.telemetry, (LINK_ERR_EXCUSED, 0, False, False))
    return _report(run, "cpython", tally, DecisionJudge())


def check_against_reference(run: RunRecord) -> CheckReport:
    """The float64 reference on the recorded inputs, within the declared bounds."""
    f = flag_bits()
    tally = _Tally(BOUNDS, exact=False)
    judge = DecisionJudge()
    ref = RefFlight(list(fsw_module("params").Params().v), Tolerances(), judge)
    tol = ref.tol  # the components hold it: updated in place every tick
    rows = iter(run.rows)
    drift = DriftBudget()
    applied = 0.0  # the throttle the firmware commanded on the last tick
    integ = 0.0  # the firmware's integrator after the last tick
    a_max = 0.0  # the firmware's full-thrust acceleration after the last tick
    for step in run.replay.steps:
        if isinstance(step, Command):
            _command(ref, step)
            continue
        if isinstance(step, Reset):
            ref = ref.computer_reset()
            continue
        assert isinstance(step, Tick)
        row = next(rows) if step.flight else None
        fw = None
        if row is not None:
            fw = FirmwareDecisions(row["mode"], row["phase"], row["flags"], row["flags2"])
        if step.given is None:
            continue  # the firmware's flight was not called (a fault): nothing to model
        tol.__dict__.update(tolerances(BoundContext.of(ref, drift)).__dict__)
        steps_before = ref.est.clk_ms
        if step.flight and row is not None:
            a_before = a_max if a_max > 0 else ref.ctrl.a_max
            ref.tick(step.given, fw, applied, integ, (a_before, row["amax_mm_s2"] / 1000))
        else:
            ref.tick(step.given, fw)
        steps = ((ref.est.clk_ms - steps_before) & 0x3FFFFFFF) // max(ref.p.period_ms, 1)
        drift.step(ref, steps, bool(ref.flags & f.RANGE_USED))
        if ref.flags & f.RANGE_REBASED:
            drift.alt_mm = drift.alt_env_mm = 0.0  # the altitude is the range on both sides
        if row is None:
            continue
        applied = row["throttle_q15"] / 32767
        integ = row["integ_mm_s2"] / 1000
        a_max = row["amax_mm_s2"] / 1000
        ctx = BoundContext.of(ref, drift)
        t = row["tick"]
        out = ref.telemetry()
        replayed = step.telemetry or {}
        for name in NUMERIC:
            expected = replayed.get(name, 0) if name in REPLAYED else out[name]
            tally.channel(name, t, expected, row[name], ctx)
        excused = (
            judge.ambiguous_flags | LINK_ERR_EXCUSED,
            judge.ambiguous_flags2,
            judge.ambiguous_mode,
            judge.ambiguous_phase,
        )
        _decision_words(tally, t, row, out, excused)
    return _report(run, "reference", tally, judge)


def _command(ref: RefFlight, cmd: Command) -> None:
    app = fsw_module("app")
    if cmd.code == app.C_SET_PARAM:
        ref.set_param(cmd.param_id, cmd.value)
    elif cmd.code == app.C_ARM:
        ref.arm(bool(cmd.value & app.ARM_OVERRIDE))
    elif cmd.code == app.C_DISARM:
        ref.disarm()
    elif cmd.code == app.C_START:
        ref.start()
    elif cmd.code == app.C_ABORT:
        ref.abort()


def _report(run: RunRecord, against: str, tally: _Tally, judge: DecisionJudge) -> CheckReport:
    return CheckReport(
        run_dir=str(run.run_dir),
        against=against,
        flight_ticks=len(run.rows),
        channels=list(tally.channels.values()),
        decisions=sorted(tally.diffs.values(), key=lambda d: d.first_tick),
        followed=dict(judge.follow_count),
        first_followed=[asdict(x) for x in judge.followed[:20]],
    )


def check_run(run_dir: Path, against: str = "reference") -> CheckReport:
    if against not in AGAINST:
        raise UserError(f"unknown --against '{against}' (use one of: {', '.join(AGAINST)})")
    run = load_run(run_dir)
    if against == "cpython":
        return check_against_cpython(run)
    return check_against_reference(run)


def format_report(report: CheckReport) -> str:
    """The report as text: the channel table, then the decisions."""
    lines = [
        f"softland check {report.run_dir} --against {report.against}: "
        f"{report.flight_ticks} flight ticks",
        f"{'channel':14s} {'largest':>10s} {'bound there':>11s} {'at tick':>8s}"
        f" {'worst dev/bound':>15s} {'breaks':>7s} {'first break':>11s}",
    ]
    for c in report.channels:
        if not c.compared:
            lines.append(f"{c.channel:14s} not compared: {c.reason}")
            continue
        first = "" if c.first_break_tick is None else str(c.first_break_tick)
        at = "" if c.at_tick is None else str(c.at_tick)
        lines.append(
            f"{c.channel:14s} {c.largest:>10.4g} {c.bound_there:>11.4g} {at:>8s}"
            f" {c.worst:>15.3f} {c.breaks:>7d} {first:>11s}"
        )
    if report.decisions:
        lines.append("decisions that differ (firmware / reference at the first tick):")
        for d in report.decisions:
            lines.append(
                f"  {d.decision:28s} first at tick {d.first_tick} ({d.ticks} ticks): "
                f"{d.firmware} / {d.reference}"
            )
    else:
        lines.append("decisions: mode, phase and every flag bit agree")
    if report.followed:
        taken = ", ".join(f"{k} {v}" for k, v in sorted(report.followed.items()))
        lines.append(f"firmware decisions taken within a bound of a threshold: {taken}")
    fb = report.first_break()
    if fb is None:
        lines.append("OK: every channel within its bound")
    else:
        lines.append(f"FAIL: first break at tick {fb[0]} ({fb[1]})")
    return "\n".join(lines)


def report_json(report: CheckReport) -> str:
    return json.dumps(report.to_json(), indent=2)
