"""The scenario table of docs/scenarios.md, flown: every built-in scenario with the firmware
controller, and each baseline on the mission it reproduces, one Monte Carlo campaign
(softland.simulation.mc) each, into one directory (`softland campaign`).

A campaign's directory is DIR/NAME (the scenario, or SCENARIO-CONTROLLER for a baseline):
mc's summary.json, runs.csv, dispersion.png and report.html, the summary stamped last with the
campaign's provenance (:class:`Provenance`: runs, seed, runtime, controller and the fingerprint
of the code that flew it) and the commit it was flown at. A campaign whose stamped provenance
matches is not flown again, so an interrupted table resumes where it stopped, and a commit that
changes neither the firmware nor the host code (docs, tests) keeps the rows flown before it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import softland
from softland.errors import UserError
from softland.simulation.fingerprint import compute_fingerprint
from softland.simulation.mc import ProgressFn, run_campaign, write_campaign
from softland.simulation.scenario import builtin_names, load_scenario

FIRMWARE = "firmware"
# the baselines and the mission whose flawed logic each reproduces (docs/scenarios.md)
BASELINES = (("ispace-m2", "naive"), ("ispace-m1", "latching"), ("beresheet", "volatile"))
PROVENANCE_KEY = "provenance"  # the stamp in summary.json


@dataclass(frozen=True)
class Entry:
    """One row of the table: a scenario flown by a controller."""

    scenario: str
    controller: str = FIRMWARE

    @property
    def name(self) -> str:
        """The campaign's directory name: the scenario, or SCENARIO-CONTROLLER."""
        if self.controller == FIRMWARE:
            return self.scenario
        return f"{self.scenario}-{self.controller}"


def table_entries() -> list[Entry]:
    """Every row of the scenario table, in table order: by scenario, the firmware first."""
    names = builtin_names()
    entries = [Entry(name) for name in names]
    entries += [Entry(s, c) for s, c in BASELINES if s in names]
    return sorted(entries, key=lambda e: (e.scenario, e.controller != FIRMWARE, e.controller))


def select_entries(entries: Sequence[Entry], only: Sequence[str]) -> list[Entry]:
    """The entries `only` names (a scenario: its firmware row and its baselines; a campaign
    name such as ispace-m2-naive: that row), in table order; every entry when `only` is
    empty. A name that is neither is a UserError."""
    if not only:
        return list(entries)
    known = {e.scenario for e in entries} | {e.name for e in entries}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise UserError(
            f"unknown scenario {', '.join(repr(n) for n in unknown)} in --only (the table's: "
            f"{', '.join(sorted(known))})"
        )
    wanted = set(only)
    return [e for e in entries if e.scenario in wanted or e.name in wanted]


@dataclass(frozen=True)
class Code:
    """The code a table is flown with: the git commit of the checkout (or "unknown"), whether
    firmware/ or host/ differ from it, and the fingerprint of what decides a run's result
    (softland.simulation.fingerprint: host sources, firmware, numpy, MicroPython binary)."""

    commit: str
    code_changes: bool
    fingerprint: dict[str, str]

    @property
    def short_commit(self) -> str:
        return self.commit[:10] if self.commit != "unknown" else self.commit


def current_code(runtime: str, micropython: str | None) -> Code:
    fp = compute_fingerprint(runtime, micropython).as_dict()
    fp.pop("firmware_dir")  # where the files are, not what they are
    fp.pop("micropython_path")
    root = Path(softland.__file__).resolve().parents[2]
    commit, changes = "unknown", False
    try:
        head = _git(root, "rev-parse", "HEAD")
        if head.returncode == 0:
            commit = head.stdout.strip()
            status = _git(root, "status", "--porcelain", "--", "firmware", "host")
            changes = bool(status.stdout.strip())
    except OSError:  # no git: the fingerprint alone identifies the code
        pass
    return Code(commit, changes, fp)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30, check=False
    )


@dataclass(frozen=True)
class Provenance:
    """What a campaign's result depends on: equal provenances fly equal campaigns. The commit
    is not part of it: the fingerprint holds every byte of the firmware and the host sources
    (the scenarios included), numpy's version and the MicroPython binary."""

    runs: int
    seed: int
    runtime: str
    controller: str
    fingerprint: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def provenance(entry: Entry, code: Code, runs: int, seed: int, runtime: str) -> Provenance:
    return Provenance(runs, seed, runtime, entry.controller, code.fingerprint)


def done_summary(directory: Path, wanted: Provenance) -> dict[str, Any] | None:
    """The summary in `directory` when its campaign was flown with `wanted` (all four outputs
    written: the stamp is the last write), else None."""
    try:
        summary = json.loads((directory / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict):
        return None
    stamp = summary.get(PROVENANCE_KEY)
    if not isinstance(stamp, dict) or stamp.get("key") != wanted.as_dict():
        return None
    return summary


def stamp_summary(directory: Path, key: Provenance, code: Code) -> dict[str, Any]:
    """Add the provenance to directory/summary.json (atomically) and return the summary."""
    path = directory / "summary.json"
    summary = json.loads(path.read_text())
    summary[PROVENANCE_KEY] = {
        "key": key.as_dict(),
        "commit": code.commit,
        "code_changes": code.code_changes,
        "flown_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = path.with_name(".summary.json.tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, path)
    return summary


@dataclass
class Row:
    """A row of the table: its entry and mc summary; flown by this invocation or earlier."""

    entry: Entry
    summary: dict[str, Any]
    flown_now: bool


@dataclass
class TableRun:
    """What `softland campaign` flew and found: the rows at this provenance in table order,
    the entries of the table still missing there, and this invocation's wall time."""

    code: Code
    runs: int
    seed: int
    runtime: str
    workers: int
    rows: list[Row]
    missing: list[Entry]
    wall_time_s: float
    total_entries: int

    @property
    def machine_time_s(self) -> float:
        """The campaigns' own wall times, summed (each on its workers)."""
        return sum(float(r.summary.get("wall_time_s") or 0.0) for r in self.rows)


# on_start(entry, index, count) -> a progress callback for its runs (or None)
StartFn = Callable[[Entry, int, int], ProgressFn | None]
# on_done(row): after each campaign, flown or skipped
DoneFn = Callable[[Row], None]


def fly_table(
    selected: Sequence[Entry],
    out: Path,
    runs: int,
    seed: int,
    runtime: str,
    micropython: str | None,
    workers: int,
    code: Code,
    on_start: StartFn | None = None,
    on_done: DoneFn | None = None,
    entries: Sequence[Entry] | None = None,
) -> TableRun:
    """Fly every selected entry whose campaign in out/NAME is not done at this provenance;
    then gather the rows of the whole table (`entries`, default: table_entries()) done at
    this provenance, flown now or before."""
    t0 = time.perf_counter()
    flown: set[str] = set()
    for i, entry in enumerate(selected):
        directory = out / entry.name
        key = provenance(entry, code, runs, seed, runtime)
        summary = done_summary(directory, key)
        if summary is not None:
            if on_done is not None:
                on_done(Row(entry, summary, flown_now=False))
            continue
        progress = on_start(entry, i, len(selected)) if on_start is not None else None
        campaign = run_campaign(
            load_scenario(entry.scenario),
            runs,
            seed,
            workers=workers,
            runtime=runtime,
            controller=None if entry.controller == FIRMWARE else entry.controller,
            progress=progress,
            micropython=micropython,
            scenario_ref=entry.scenario,
        )
        write_campaign(campaign, directory)
        summary = stamp_summary(directory, key, code)
        flown.add(entry.name)
        if on_done is not None:
            on_done(Row(entry, summary, flown_now=True))
    rows: list[Row] = []
    missing: list[Entry] = []
    table = list(entries) if entries is not None else table_entries()
    for entry in table:
        summary = done_summary(out / entry.name, provenance(entry, code, runs, seed, runtime))
        if summary is None:
            missing.append(entry)
        else:
            rows.append(Row(entry, summary, flown_now=entry.name in flown))
    return TableRun(
        code=code,
        runs=runs,
        seed=seed,
        runtime=runtime,
        workers=workers,
        rows=rows,
        missing=missing,
        wall_time_s=time.perf_counter() - t0,
        total_entries=len(table),
    )
