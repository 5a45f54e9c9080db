"""The drop report on disk: drop.png (distance and the two fits, residuals, the estimator's
velocity against the fit's), summary.json and report.html (self-contained: the plot embedded,
the figures in a table, each with what it means)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from softland.drop.analysis import DropReport  # noqa: E402

EXPLAIN = {
    "g_fit_m_s2": "g from the fit with g free (started at the release pin when there is one):"
    " the sensor's scale and timing together",
    "g_fit_from": "where the g fit's start comes from: the release pin, or fitted",
    "g_error_m_s2": "the fitted g minus the known g",
    "g_fit_start_free_m_s2": "g from the fit with g and the start both free (less precise)",
    "fall_m": "distance fallen, from the two resting distances",
    "impact_speed_m_s": "sqrt(2 g fall) with g known: the impact speed",
    "impact_speed_g_free_m_s": "the same with the fitted g",
    "drop_start_s": "fitted drop start (capture time of the reading)",
    "latency_ms": "fitted start minus the release pin's time: how late a reading arrives",
    "noise_cm": "standard deviation of the residuals of the g-free fit",
    "rate_hz": "samples per second (median interval)",
    "interval_std_us": "sample-rate jitter: spread of the sample interval",
    "gaps": "intervals longer than 1.5 median ones",
    "bus_errors": "samples lost to a failed I2C transaction",
    "timeouts": "samples whose busy bit did not clear in time",
    "no_return": "1 cm readings (no return)",
    "zeros": "0 cm readings (stuck at zero)",
}


def plot(report: DropReport, path: Path) -> None:
    t, d, ok = report.t_s, report.d_m, report.ok
    fig, axes = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
    ax = axes[0]
    ax.plot(t[ok], d[ok], ".", ms=2.5, color="0.35", label="LIDAR-Lite readings")
    if (~ok).any():
        ax.plot(t[~ok], np.zeros((~ok).sum()), "x", color="red", ms=4, label="dropouts")
    tt = np.linspace(t[0], t[-1], 2000)
    fr, kn = report.free, report.known
    ax.plot(tt, fr.distance_m(tt), "-", color="tab:blue", lw=1.2,
            label=f"fit, g and start free: g = {fr.g:.3f} m/s$^2$")  # fmt: skip
    an = report.anchored
    if an is not None:
        ax.plot(tt, an.distance_m(tt), ":", color="tab:purple", lw=1.4,
                label=f"fit, g free from the release pin: g = {an.g:.3f} m/s$^2$")  # fmt: skip
    known_label = f"fit, g = {kn.g:.5f} m/s$^2$: impact {kn.impact_speed_m_s:.3f} m/s"
    ax.plot(tt, kn.distance_m(tt), "--", color="tab:orange", lw=1.2, label=known_label)
    ax.axvline(kn.t0_s, color="tab:green", lw=0.8, label=f"drop start {kn.t0_s:.4f} s")
    ax.axvline(kn.impact_s, color="tab:red", lw=0.8, label=f"impact {kn.impact_s:.4f} s")
    if report.capture.release_us is not None:
        ax.axvline(report.capture.release_us / 1e6, color="k", lw=0.8, ls=":",
                   label="release pin")  # fmt: skip
    ax.set_ylabel("distance (m)")
    ax.set_title(f"Drop: {report.capture.source} ({report.capture.variant}, "
                 f"{report.rate_hz:.0f} Hz)")  # fmt: skip
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(t[ok], (d[ok] - fr.distance_m(t[ok])) * 100, ".", ms=2.5, color="tab:blue")
    ax.set_ylabel("residual, g free (cm)")
    ax.set_title(f"noise {fr.residual_std_m * 100:.2f} cm (standard deviation)")
    ax.grid(alpha=0.3)
    ax = axes[2]
    ax.axvspan(kn.t0_s, kn.impact_s, color="0.9", label="the fall (scored)")
    ax.set_title("firmware estimator at 50 Hz (no impact in the modelled accelerometer)")
    if report.estimator:
        ax.plot(report.estimator[0].t_s, report.estimator[0].fit_vel_m_s, "-", color="k",
                lw=1.5, label="fit (g known)")  # fmt: skip
        for run, color in zip(report.estimator, ("tab:purple", "tab:cyan"), strict=False):
            ax.plot(run.t_s, run.vel_m_s, "-", color=color, lw=1,
                    label=f"firmware estimator, {run.name.replace('_', ' ')}: "
                    f"RMS error {run.rms_error_m_s:.3f} m/s")  # fmt: skip
        ax.legend(fontsize=8, loc="best")
    ax.set_ylabel("velocity (m/s)")
    ax.set_xlabel("capture time (s)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: DropReport, out_dir: Path) -> dict[str, Path]:
    """drop.png, summary.json, report.html in ``out_dir``; their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "drop.png"
    plot(report, png)
    summary = report.summary()
    js = out_dir / "summary.json"
    js.write_text(json.dumps(summary, indent=2) + "\n")
    rows = "\n".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td>"
        f"<td>{html.escape(EXPLAIN.get(k, ''))}</td></tr>"
        for k, v in summary.items()
    )
    extra = "".join(
        f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in report.capture.extra.items()
    )
    image = base64.b64encode(png.read_bytes()).decode()
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>softland drop report</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}
td{{padding:2px 8px;border-bottom:1px solid #ddd}}</style></head>
<body><h1>Drop report</h1>
<p>{html.escape(report.capture.source)}: {report.samples} samples,
{report.valid} with a distance. How to read it: docs/tabletop.md.</p>
<img alt="drop plot" src="data:image/png;base64,{image}" style="width:100%">
<table><tr><th>figure</th><th>value</th><th>meaning</th></tr>
{rows}
</table>
<ul>{extra}</ul>
</body></html>
"""
    page_path = out_dir / "report.html"
    page_path.write_text(page)
    return {"png": png, "json": js, "html": page_path}
