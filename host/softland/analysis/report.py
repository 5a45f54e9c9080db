"""Run outputs: summary.json, telemetry.csv, events.json, descent.png, report.html
(docs/outputs.md), and what `softland check` replays: inputs.bin (every frame the firmware was
given, softland.boards.linklog) and params.json (the parameters uploaded, by name)."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from softland.analysis.descent_plot import descent_figure  # noqa: E402
from softland.analysis.html_report import write_html_report  # noqa: E402
from softland.errors import UserError  # noqa: E402
from softland.simulation.sim import SimResult  # noqa: E402


def prepare_out_dir(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory {out}: {exc.strerror}") from None
    if not out.is_dir():
        raise UserError(f"output path {out} is not a directory")
    # writable now, not after the whole run: a probe file, created and removed
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".softland-probe-"):
            pass
    except OSError as exc:
        raise UserError(f"cannot write in output directory {out}: {exc.strerror}") from None
    return out


def write_outputs(result: SimResult, out: Path) -> dict[str, Path]:
    out = prepare_out_dir(out)
    paths = {
        "summary": out / "summary.json",
        "telemetry": out / "telemetry.csv",
        "plot": out / "descent.png",
        "events": out / "events.json",
        "report": out / "report.html",
    }
    paths["summary"].write_text(json.dumps(result.summary, indent=2) + "\n")
    paths["events"].write_text(json.dumps(result.events, indent=2) + "\n")
    if result.inputs is not None:
        paths["inputs"] = out / "inputs.bin"
        paths["params"] = out / "params.json"
        paths["inputs"].write_bytes(result.inputs.to_bytes())
        paths["params"].write_text(json.dumps(result.params, indent=2) + "\n")
    write_telemetry_csv(result.telemetry, paths["telemetry"])
    plot_descent(result, paths["plot"])
    write_html_report(result.summary, result.telemetry, result.events, paths["report"])
    return paths


def write_telemetry_csv(rows: list[dict[str, Any]], path: Path) -> None:
    if not rows:
        path.write_text("")
        return
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_descent(result: SimResult, path: Path) -> None:
    fig = descent_figure(result.summary, result.telemetry, result.events)
    fig.savefig(path, dpi=110)
    plt.close(fig)
