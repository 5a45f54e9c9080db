"""Run outputs: summary.json, telemetry.csv, events.json, descent.png, and what `softland
check` replays: inputs.bin (every frame the firmware was given, softland.boards.linklog) and
params.json (the parameters uploaded, by name)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from softland.boards.hostlink import MODES  # noqa: E402
from softland.errors import UserError  # noqa: E402
from softland.simulation.sim import SimResult  # noqa: E402


def prepare_out_dir(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory {out}: {exc.strerror}") from None
    if not out.is_dir():
        raise UserError(f"output path {out} is not a directory")
    return out


def write_outputs(result: SimResult, out: Path) -> dict[str, Path]:
    out = prepare_out_dir(out)
    paths = {
        "summary": out / "summary.json",
        "telemetry": out / "telemetry.csv",
        "plot": out / "descent.png",
        "events": out / "events.json",
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
    rows = result.telemetry
    t = [r["t_s"] for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    ax = axes[0]
    ax.plot(t, [r["true_alt_m"] for r in rows], label="true altitude")
    ax.plot(t, [r["alt_mm"] / 1000 for r in rows], "--", label="firmware estimate")
    ax.set_ylabel("altitude [m]")
    ax.legend(loc="upper right")
    ax = axes[1]
    ax.plot(t, [-r["true_vel_mps"] for r in rows], label="true sink rate")
    ax.plot(t, [-r["vel_mm_s"] / 1000 for r in rows], "--", label="estimate")
    ax.plot(t, [-r["vref_mm_s"] / 1000 for r in rows], ":", label="reference")
    ax.set_ylabel("sink rate [m/s]")
    ax.legend(loc="upper right")
    ax = axes[2]
    ax.plot(t, [r["throttle_q15"] / 32767 for r in rows], label="throttle command")
    ax.set_ylabel("throttle")
    ax.set_ylim(-0.05, 1.05)
    ax = axes[3]
    ax.step(t, [r["mode"] for r in rows], where="post")
    ax.set_yticks(range(len(MODES)), MODES)
    ax.set_ylabel("mode")
    ax.set_xlabel("time [s]")
    s = result.summary
    td = s["touchdown_vertical_speed_mps"]
    td_text = "no touchdown" if td is None else f"touchdown {td:.2f} m/s"
    fig.suptitle(
        f"{s['scenario']} ({s['runtime']}, seed {s['seed']}): {s['outcome']}, {td_text}, "
        f"delta-v {s['delta_v_mps']:.1f} m/s (optimum {s['delta_v_optimal_mps']:.1f})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
