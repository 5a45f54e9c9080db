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

from softland.analysis.bounds import (
    BOUNDS,
    LINK_ERR_EXCUSED,
    NUMERIC,
    REPLAYED,
    Bound,
    BoundContext,
    DriftBudget,
    tolerances,
)
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
                "bit-exact: the same code on the same bytes"
                if exact and bounds[name].compared
                else bounds[name].reason,
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
            # the replayed firmware never reached its flight on this tick (an exception in the
            # range source): nothing to model, and a finding in itself
            if row is not None:
                tally.decision("flight_tick_not_run", row["tick"], "fault", "flight tick")
            continue
        tol.update(tolerances(BoundContext.of(ref, drift)))
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
