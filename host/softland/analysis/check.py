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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from softland.analysis.reference import (
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
    """How far a telemetry channel may lie from the reference, and why.

    limit: in the channel's telemetry unit; dead_reckoning: added per tick since the estimator
    last used a range, squared (a quantisation bias of the integration accumulates as t^2 in
    the altitude, t in the velocity: those channels carry it, others 0)."""

    limit: float
    unit: str
    reason: str
    per_tick: float = 0.0  # growth per tick without a range used
    per_tick2: float = 0.0  # growth per tick^2 without a range used

    def at(self, dead_ticks: int) -> float:
        return self.limit + self.per_tick * dead_ticks + self.per_tick2 * dead_ticks**2


# Velocity in the firmware is mm/s Q8 and each prediction step floors (a dt) to 1/256 mm/s: a
# bias of up to 1/256 mm/s per tick (1/512 on average; 0.1 mm/s^2 at 50 Hz) that ranges correct
# and dead reckoning integrates. VEL_DRIFT / ALT_DRIFT are that bias in the telemetry's units.
VEL_DRIFT_MM_S = 1 / 256  # per tick without a range
ALT_DRIFT_MM = 0.02 / 256  # per tick^2: (1/256 mm/s per tick) * 20 ms, integrated

BOUNDS: dict[str, Bound] = {
    "tick": Bound(0, "", "a count: exact"),
    "time_us": Bound(0, "us", "the TICK frame's time, passed through"),
    "range_mm": Bound(0, "mm", "the range input of the tick, passed through"),
    "overruns": Bound(0, "", "a count of late ticks from the input times: exact"),
    "rf_status": Bound(0, "", "range driver (not modelled): the firmware's driver replayed"),
    "rf_valid": Bound(0, "", "range driver (not modelled): the firmware's driver replayed"),
    "rf_signal": Bound(0, "", "range driver (not modelled): the firmware's driver replayed"),
    "rf_tx": Bound(0, "", "range driver (not modelled): the firmware's driver replayed"),
    "rf_errors": Bound(0, "", "range driver (not modelled): the firmware's driver replayed"),
    "link_errors": Bound(0, "", "link (not modelled): the firmware's decoder replayed"),
    "faults": Bound(0, "", "an exception caught in the loop is a fault: none expected"),
    "alt_mm": Bound(
        20,
        "mm",
        "telemetry floors the Q8 altitude (1 mm); alpha (Q12) corrections floor 1/256 mm "
        "each; the Q8 velocity's floor bias integrated between ranges",
        per_tick2=ALT_DRIFT_MM,
    ),
    "vel_mm_s": Bound(
        10,
        "mm/s",
        "telemetry floors the Q8 velocity (1 mm/s); each prediction floors a dt to 1/256 "
        "mm/s (mean 1/512 a tick) until the next range corrects it; the bias estimate "
        "subtracted as whole mm/s^2",
        per_tick=VEL_DRIFT_MM_S,
    ),
    "sigma_mm": Bound(
        5,
        "mm",
        "sigma is whole mm: growth carried in 1/1000 mm, the alpha shrink floors 1 mm a range",
    ),
    "vref_mm_s": Bound(
        30,
        "mm/s",
        "the schedule's integer square root (floor, 1 mm/s; 10 mm/s above 31.6 m/s, in "
        "cm/s); k (a_max - g) in whole mm/s^2 under it; h_low of the altitude bound",
    ),
    "throttle_q15": Bound(
        200,
        "1/32767",
        "PI on the velocity error: kp 1/s times the velocity bound (10 mm/s on ~3 m/s^2 "
        "full thrust: ~110 counts), the integrator and feed-forward in whole mm/s^2",
    ),
    "acmd_mm_s2": Bound(
        30,
        "mm/s^2",
        "kp times the velocity and reference bounds, the integrator in Q8 mm/s^2",
    ),
    "integ_mm_s2": Bound(
        10,
        "mm/s^2",
        "the integrator sums ki * err * dt in Q8 mm/s^2: the velocity bound times ki",
    ),
    "amax_mm_s2": Bound(
        10,
        "mm/s^2",
        "mass in Q24 (burn floored per tick), the engine performance in Q12 (1/4096: ~1 "
        "mm/s^2 each), a_max in whole mm/s^2",
    ),
    "mass_q14": Bound(
        2,
        "1/16384",
        "the mass model burns in Q24 from the Q15 throttle; telemetry floors to Q14",
    ),
    "hlow_mm": Bound(
        40,
        "mm",
        "h_low = altitude - n sigma: the altitude bound plus n (2) times the sigma bound",
        per_tick2=ALT_DRIFT_MM,
    ),
    "rejects": Bound(0, "", "a count of gated-out ranges: exact (gate decisions followed)"),
}
# the channels the reference computes; the rest are inputs passed through or replayed
MODELLED = (
    "alt_mm",
    "vel_mm_s",
    "sigma_mm",
    "vref_mm_s",
    "throttle_q15",
    "acmd_mm_s2",
    "integ_mm_s2",
    "amax_mm_s2",
    "mass_q14",
    "hlow_mm",
    "rejects",
    "tick",
    "time_us",
    "range_mm",
    "overruns",
)
REPLAYED = ("rf_status", "rf_valid", "rf_signal", "rf_tx", "rf_errors", "link_errors", "faults")
NUMERIC = tuple(name for name, _ in TELEMETRY_FIELDS if name not in ("mode", "phase", "flags", "flags2"))


def tolerances(dead_ticks: int) -> Tolerances:
    """Where a decision is too close to call: the bounds above, in the reference's units."""
    b = BOUNDS
    return Tolerances(
        alt_m=b["alt_mm"].at(dead_ticks) / 1000,
        vel_mps=b["vel_mm_s"].at(dead_ticks) / 1000,
        sigma_m=b["sigma_mm"].limit / 1000,
        throttle=b["throttle_q15"].limit / 32767,
        acc_mps2=(b["acmd_mm_s2"].limit + b["amax_mm_s2"].limit) / 1000,
        hover_s=0.05,
    )


@dataclass
class ChannelResult:
    channel: str
    bound: float
    unit: str
    reason: str
    largest: float = 0.0
    at_tick: int | None = None
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
        row = dict(zip(header, values))
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
    for k, (row, tick) in enumerate(zip(rows, ticks)):
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
                0 if exact else bounds[name].limit,
                bounds[name].unit,
                "bit-exact: the same code on the same bytes" if exact else bounds[name].reason,
            )
            for name in NUMERIC
        }
        self.bounds = bounds
        self.exact = exact
        self.diffs: dict[str, DecisionDiff] = {}

    def channel(self, name: str, tick: int, expected: float, got: int, dead_ticks: int) -> None:
        c = self.channels[name]
        dev = abs(got - expected)
        if dev > c.largest:
            c.largest = dev
            c.at_tick = tick
        bound = 0 if self.exact else self.bounds[name].at(dead_ticks)
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
    for row, tick in zip(run.rows, run.replay.flight_ticks()):
        t = row["tick"]
        if tick.telemetry is None:
            tally.decision("telemetry", t, "frame", "none")
            continue
        for name in NUMERIC:
            tally.channel(name, t, tick.telemetry[name], row[name], 0)
        _decision_words(tally, t, row, tick.telemetry, (0, 0, False, False))
    return _report(run, "cpython", tally, DecisionJudge())


def check_against_reference(run: RunRecord) -> CheckReport:
    """The float64 reference on the recorded inputs, within the declared bounds."""
    f = flag_bits()
    tally = _Tally(BOUNDS, exact=False)
    judge = DecisionJudge()
    tol = tolerances(0)
    ref = RefFlight(list(fsw_module("params").Params().v), tol, judge)
    rows = iter(run.rows)
    dead = 0  # ticks since the reference's estimator last used a range
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
        tol.__dict__.update(tolerances(dead).__dict__)
        ref.tick(step.given, fw)
        dead = 0 if ref.flags & f.RANGE_USED or ref.flags & f.RANGE_REBASED else dead + 1
        if row is None:
            continue
        t = row["tick"]
        out = ref.telemetry()
        replayed = step.telemetry or {}
        out["flags"] |= replayed.get("flags", 0) & f.LINK_ERR
        for name in NUMERIC:
            expected = replayed.get(name, 0) if name in REPLAYED else out[name]
            tally.channel(name, t, expected, row[name], dead)
        excused = (
            judge.ambiguous_flags,
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
        f"{'channel':14s} {'bound':>10s} {'largest':>10s} {'at tick':>8s} {'breaks':>7s}"
        f" {'first break':>11s}",
    ]
    for c in report.channels:
        first = "" if c.first_break_tick is None else str(c.first_break_tick)
        at = "" if c.at_tick is None else str(c.at_tick)
        lines.append(
            f"{c.channel:14s} {c.bound:>10.4g} {c.largest:>10.4g} {at:>8s} {c.breaks:>7d}"
            f" {first:>11s}"
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
