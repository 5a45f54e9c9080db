"""report.html of a run: one self-contained page (the figure inline as SVG, no script, nothing
fetched), readable offline: the verdict, the counters, the descent figure, the events."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from softland.analysis.descent_plot import descent_figure, event_label
from softland.boards.hostlink import MODES

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1200px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
td.num { text-align: right; font-family: monospace; }
.pass { color: #186a18; font-weight: bold; } .fail { color: #b00; font-weight: bold; }
.figure svg { width: 100%; height: auto; }
"""

_COUNTERS = (
    ("ticks", "ticks flown"),
    ("tick_overruns", "late ticks (firmware)"),
    ("link_errors", "frames the firmware's decoder dropped"),
    ("host_link_errors", "frames the host's decoder dropped"),
    ("faults", "exceptions caught in the firmware's loop"),
    ("computer_resets", "flight-computer resets injected"),
)


# what a summary key is measured against, where the name alone does not say it
QUANTITY_NOTES = {
    "delta_v_optimal_variable_mass_mps": "the true optimum: coast, then full thrust, mass burnt",
    "delta_v_ratio": "against the variable-mass optimum",
    "delta_v_optimal_mps": "constant-acceleration closed form: a cross-check",
    "delta_v_ratio_closed_form": "against the closed form: a cross-check",
    "delta_v_ratio_p50": "against the variable-mass optimum",
    "delta_v_ratio_p99": "against the variable-mass optimum",
    "delta_v_ratio_closed_form_p50": "against the closed form: a cross-check",
}


def quantity_label(key: str) -> str:
    """A summary key, with what it is measured against where that matters."""
    note = QUANTITY_NOTES.get(key)
    return f"{key} ({note})" if note else key


def figure_svg(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
) -> str:
    fig = descent_figure(summary, rows, events)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: inline in HTML


def render(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
) -> str:
    e = html.escape
    verdict = "pass" if summary.get("passed") else "fail"
    title = f"softland: {summary['scenario']} seed {summary['seed']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}: <span class='{verdict}'>{e(str(summary['outcome']))}, "
        f"{'passed' if verdict == 'pass' else 'FAILED'}</span></h1>",
        "<h2>Summary</h2>",
        _table(
            [(quantity_label(k), _fmt(v)) for k, v in summary.items() if k not in dict(_COUNTERS)],
            ("quantity", "value"),
        ),
        "<h2>Link and fault counters</h2>",
        _table(
            [(label, _fmt(summary[k])) for k, label in _COUNTERS if k in summary],
            ("counter", "value"),
        ),
        "<h2>Descent</h2>",
        f"<div class='figure'>{figure_svg(summary, rows, events)}</div>",
        f"<h2>Events ({len(events)})</h2>",
        _table(
            [
                (
                    _fmt(ev.get("t_s")),
                    _fmt(ev.get("time_us")),
                    event_label(ev),
                    MODES[ev["mode"]] if 0 <= ev.get("mode", -1) < len(MODES) else "?",
                    _fmt(ev["arg"]),
                )
                for ev in events
            ],
            ("t [s]", "firmware time [us]", "event", "mode", "argument"),
        ),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html_report(
    summary: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    path: Path,
) -> None:
    path.write_text(render(summary, rows, events), encoding="utf-8")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{e(c)}</td>" if _numeric(c) else f"<td>{e(c)}</td>" for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
