"""The scenario table as Markdown (`softland campaign`): one row per campaign, the provenance
under it, and the docs block it replaces between marker comments in docs/scenarios.md."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from softland.analysis.bench import machine_name
from softland.analysis.campaign_report import percentile_warning
from softland.errors import UserError
from softland.simulation.campaigns import TableRun

BEGIN = "<!-- softland-campaign:begin -->"
END = "<!-- softland-campaign:end -->"

HEADER = (
    "| scenario | controller | runs | success rate | outcomes | touchdown p50 / p99 / max (m/s) "
    "| delta-v ratio p50 / p99 (variable-mass optimum) | criteria | wall time (s) |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def criteria_text(crit: dict[str, Any]) -> str:
    """A scenario's pass criteria in words: "landed, <= 2.0 m/s, ..."."""
    text = f"{crit['outcome']}, <= {crit['max_touchdown_speed_mps']} m/s"
    if crit.get("max_delta_v_ratio"):
        text += f", delta-v ratio <= {crit['max_delta_v_ratio']:g}"
    if crit.get("max_resume_ticks"):
        text += f", resumed within {crit['max_resume_ticks']} tick"
    if crit.get("max_land_detect_s"):
        text += f", LANDED within {crit['max_land_detect_s']:g} s of contact"
    return text


def row(d: dict[str, Any]) -> str:
    """One Markdown row from a campaign's summary.json."""
    outcomes = ", ".join(f"{k} {v}" for k, v in d["outcomes"].items() if v)
    rate = d["success_rate"]
    success = "-" if rate is None else f"{100 * rate:.1f} %"
    return (
        f"| {d['scenario']} | {d['controller']} | {d['runs']} | {success} "
        f"| {outcomes} | {_f(d['touchdown_speed_p50'])} / {_f(d['touchdown_speed_p99'])} / "
        f"{_f(d['touchdown_speed_max'])} | {_f(d['delta_v_ratio_p50'])} / "
        f"{_f(d['delta_v_ratio_p99'])} | {criteria_text(d['criteria'])} "
        f"| {_seconds(d['wall_time_s'])} |"
    )


def _seconds(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def command_line(t: TableRun) -> str:
    """The command that flies this table again (the workers do not change a result)."""
    return f"softland campaign --runs {t.runs} --seed {t.seed} --runtime {t.runtime}"


def provenance_text(t: TableRun) -> str:
    """Under the table: the commit, runtime, runs, seeds, machine and times."""
    current = t.code.short_commit
    flown_at = sorted(
        {str(c)[:10] for c in (r.summary["provenance"].get("commit") for r in t.rows) if c}
    )
    if flown_at and flown_at != [current]:
        plural = "s" if len(flown_at) > 1 else ""
        commit = (
            f"commit{plural} {', '.join(flown_at)} (the table written at {current}: the same"
            " firmware and host code, by their fingerprint)"
        )
    else:
        commit = f"commit {current}"
    if t.code.code_changes:
        commit += " (with uncommitted changes to firmware/ or host/)"
    dates = sorted(str(r.summary["provenance"]["flown_at"])[:10] for r in t.rows)
    when = f", {dates[-1]}" if dates else ""
    workers = sorted({int(r.summary.get("workers") or 1) for r in t.rows})
    per = "/".join(map(str, workers)) or str(t.workers)
    text = (
        f"Flown by `{command_line(t)}` at {commit}{when}: runtime {t.runtime}, {t.runs} runs "
        f"per campaign (seeds {t.seed}-{t.seed + t.runs - 1}), on {machine_name()}; machine "
        f"time {t.machine_time_s:.0f} s (the campaigns' wall times summed, {per} worker(s) "
        "each). Delta-v ratio over landed runs, against the variable-mass optimum "
        "(`delta_v_ratio`; the closed-form cross-check is in each summary.json)."
    )
    if t.missing:
        text += (
            f" Not flown with this code yet ({len(t.missing)} of {t.total_entries}): "
            + ", ".join(e.name for e in t.missing)
            + "."
        )
    warning = percentile_warning(t.runs)
    if warning:
        text += f" The p99 column is indicative: {warning}."
    return text


def render_block(t: TableRun) -> str:
    """The table and its provenance: what goes between the markers of docs/scenarios.md."""
    lines = [HEADER, *(row(r.summary) for r in t.rows), "", provenance_text(t)]
    return "\n".join(lines) + "\n"


def render_markdown(t: TableRun) -> str:
    """DIR/campaign.md: the block, and what this invocation flew."""
    flown = sum(r.flown_now for r in t.rows)
    return (
        "# softland campaign\n\n"
        + render_block(t)
        + f"\nThis invocation flew {flown} campaign(s) in {t.wall_time_s:.0f} s; "
        f"{len(t.rows) - flown} row(s) flown earlier at the same provenance, kept.\n"
    )


def table_json(t: TableRun) -> dict[str, Any]:
    """DIR/campaign.json: the provenance and every row's figures."""
    keep = (
        "runs",
        "success_rate",
        "landed_rate",
        "outcomes",
        "touchdown_speed_p50",
        "touchdown_speed_p99",
        "touchdown_speed_max",
        "touchdown_runs",
        "delta_v_ratio_p50",
        "delta_v_ratio_p99",
        "delta_v_ratio_runs",
        "delta_v_ratio_closed_form_p50",
        "failed_seeds",
        "errors",
        "criteria",
        "wall_time_s",
        "workers",
    )
    return {
        "command": command_line(t),
        "commit": t.code.commit,
        "code_changes": t.code.code_changes,
        "fingerprint": t.code.fingerprint,
        "runtime": t.runtime,
        "runs": t.runs,
        "seed": t.seed,
        "machine": machine_name(),
        "machine_time_s": round(t.machine_time_s, 2),
        "wall_time_s": round(t.wall_time_s, 2),
        "delta_v_ratio": "delta-v used / the variable-mass optimum, over landed runs",
        "campaigns": [
            {
                "name": r.entry.name,
                "scenario": r.entry.scenario,
                "controller": r.entry.controller,
                "flown_now": r.flown_now,
                "flown_at": r.summary["provenance"]["flown_at"],
                **{k: r.summary.get(k) for k in keep},
            }
            for r in t.rows
        ],
        "missing": [e.name for e in t.missing],
    }


def write_table(t: TableRun, out: Path) -> dict[str, Path]:
    paths = {"table": out / "campaign.md", "json": out / "campaign.json"}
    paths["table"].write_text(render_markdown(t))
    paths["json"].write_text(json.dumps(table_json(t), indent=2) + "\n")
    return paths


# ---------------------------------------------------------------- the docs block


def _read_docs(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"--write-docs: {path} not found") from None
    except IsADirectoryError:
        raise UserError(f"--write-docs: {path} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UserError(f"--write-docs: cannot read {path}: {reason}") from None


def _marker_lines(text: str) -> tuple[list[int], list[int]]:
    """The indices of the lines that are the begin and the end marker (a marker quoted inside
    a line of prose is not one)."""
    lines = text.splitlines()
    return (
        [i for i, ln in enumerate(lines) if ln.strip() == BEGIN],
        [i for i, ln in enumerate(lines) if ln.strip() == END],
    )


def check_docs(path: Path) -> str:
    """The docs file's text, when it has the marker lines once each, in order, and can be
    rewritten; else a UserError (before anything flies)."""
    text = _read_docs(path)
    begin, end = _marker_lines(text)
    if len(begin) != 1 or len(end) != 1 or begin[0] > end[0]:
        raise UserError(
            f"--write-docs: {path} needs the lines {BEGIN} and {END} once each, in that "
            f"order, around the campaign table (found {len(begin)} and {len(end)})"
        )
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise UserError(f"--write-docs: cannot write {path}")
    return text


def replace_block(text: str, block: str) -> str:
    """`text` with the lines between the marker lines replaced by `block` (markers kept)."""
    (begin,), (end,) = _marker_lines(text)
    lines = text.splitlines(keepends=True)
    return "".join(lines[: begin + 1]) + block.rstrip("\n") + "\n" + "".join(lines[end:])


def write_docs(path: Path, block: str) -> None:
    """Replace the docs file's block (atomically: a reader never sees half a file)."""
    text = replace_block(check_docs(path), block)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"--write-docs: cannot write {path}: {exc.strerror}") from None
