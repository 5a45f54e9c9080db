"""The report of a Monte Carlo campaign: dispersion.png and report.html (one self-contained
page: the verdict, the outcome table, the distributions, which dispersion matters, under
readable names, and whether the campaign has enough runs for the percentiles it quotes)."""

from __future__ import annotations

import html
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from softland.analysis.html_report import quantity_label  # noqa: E402
from softland.simulation.dispersions import SIGMA_OF  # noqa: E402
from softland.simulation.mc import DRAW_COLUMNS, Campaign  # noqa: E402

# runs.csv's dispersion columns as a reader names them: (what, unit or how applied)
FACTOR_NAMES = {
    "d_altitude_m": ("true handover altitude", "offset, m"),
    "d_velocity_mps": ("true handover vertical velocity", "offset, m/s"),
    "d_nav_altitude_m": ("navigation altitude error", "offset, m"),
    "d_nav_velocity_mps": ("navigation velocity error", "offset, m/s"),
    "mass_factor": ("vehicle mass", "x nominal"),
    "thrust_factor": ("engine thrust", "x nominal"),
    "isp_factor": ("engine Isp", "x nominal"),
    "range_noise_factor": ("rangefinder noise", "x nominal"),
    "imu_noise_factor": ("accelerometer noise", "x nominal"),
    "d_imu_bias_mps2": ("accelerometer bias", "offset, m/s^2"),
    "fault_shift_s": ("fault timing", "shift, s"),
    "terrain_factor": ("terrain step height", "x nominal"),
}

# a p-th percentile from n runs rests on the n (100 - p) / 100 runs beyond it: fewer than
# this many and it is the largest run's value, or nearly, rather than a percentile
MIN_RUNS_BEYOND = 3


def factor_label(column: str) -> str:
    name, unit = FACTOR_NAMES.get(column, (column, ""))
    return f"{name} ({unit})" if unit else name


def percentile_warning(runs: int, q: float = 99.0) -> str | None:
    """Why a p-q from this many runs is not to be trusted, or None when it can be."""
    beyond = runs * (100.0 - q) / 100.0
    if beyond >= MIN_RUNS_BEYOND:
        return None
    need = math.ceil(MIN_RUNS_BEYOND * 100.0 / (100.0 - q))
    return (
        f"{runs} runs are too few for a p{q:g}: {beyond:g} of them are expected beyond it, "
        f"and it takes {MIN_RUNS_BEYOND} or more ({need} runs or more) to make it more than "
        "the largest value"
    )


def active_draws(c: Campaign) -> list[str]:
    """The draws that can change a run: a sigma above 0, and for the fault timing a fault
    that it moves (one that starts after t = 0; a scenario without one ignores the draw)."""
    d = c.scenario.dispersions
    shifted = any(f.start_s > 0 for f in c.scenario.faults)
    return [
        name
        for name in DRAW_COLUMNS
        if getattr(d, SIGMA_OF[name]) > 0 and (name != "fault_shift_s" or shifted)
    ]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return 0.0
    from scipy.stats import spearmanr

    rho = float(spearmanr(x[ok], y[ok]).statistic)
    return 0.0 if math.isnan(rho) else rho


def plot_campaign(c: Campaign, path: Path) -> None:
    """dispersion.png: the campaign figure."""
    fig = campaign_figure(c)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def campaign_figure(c: Campaign) -> Figure:
    """Touchdown speed by run and its histogram, delta-v ratio histogram, outcome counts,
    the rank correlation of touchdown speed with each dispersion (by its readable name), and
    touchdown speed against the most influential one."""
    runs = c.runs
    limit = c.scenario.criteria.max_touchdown_speed_mps
    idx = np.array([r["index"] for r in runs])
    td = np.array(
        [
            np.nan
            if r.get("touchdown_vertical_speed_mps") is None
            else r["touchdown_vertical_speed_mps"]
            for r in runs
        ],
        dtype=float,
    )
    passed = np.array([bool(r["passed"]) for r in runs])
    ratio = np.array(
        [r["delta_v_ratio"] for r in runs if r["outcome"] == "landed" and r["delta_v_ratio"]],
        dtype=float,
    )
    summary = c.summary()

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    ax = axes[0, 0]
    ax.scatter(idx[passed], td[passed], s=10, c="tab:green", label="passed")
    ax.scatter(idx[~passed], td[~passed], s=14, c="tab:red", marker="x", label="failed")
    ax.axhline(limit, color="k", ls="--", lw=1, label=f"criterion {limit:g} m/s")
    if np.nanmax(td, initial=0.0) > 10 * limit:
        ax.set_yscale("log")
    ax.set_xlabel("run index (seed - campaign seed)")
    ax.set_ylabel("touchdown speed [m/s]")
    ax.set_title("touchdown speed by run")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    td_all = td[np.isfinite(td)]
    if td_all.size:
        ax.hist(td_all, bins=min(40, max(5, td_all.size // 5)), color="tab:blue")
    ax.axvline(limit, color="k", ls="--", lw=1)
    for key, style in (("touchdown_speed_p50", ":"), ("touchdown_speed_p99", "-.")):
        if summary[key] is not None:
            ax.axvline(summary[key], color="tab:orange", ls=style, label=key.split("_")[-1])
    ax.set_xlabel("touchdown speed [m/s] (runs that touched down)")
    ax.set_ylabel("runs")
    ax.set_title("touchdown speed")
    too_few = percentile_warning(int(td_all.size))
    if too_few and td_all.size:
        ax.text(
            0.02,
            0.98,
            f"too few runs for a p99 ({td_all.size})",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="tab:red",
        )
    if ax.get_legend_handles_labels()[0]:  # no percentile lines without a touchdown
        ax.legend(fontsize=8)

    ax = axes[0, 2]
    if ratio.size:
        ax.hist(ratio, bins=min(40, max(5, ratio.size // 5)), color="tab:purple")
        ax.axvline(float(np.median(ratio)), color="k", ls=":", label="p50")
        ax.legend(fontsize=8)
    ax.set_xlabel("delta-v / variable-mass optimum (landed runs)")
    ax.set_ylabel("runs")
    ax.set_title("fuel use against the optimum")

    ax = axes[1, 0]
    names = [k for k, v in summary["outcomes"].items() if v or k == "landed"]
    counts = [summary["outcomes"][k] for k in names]
    colors = ["tab:green" if k == "landed" else "tab:red" for k in names]
    bars = ax.bar(names, counts, color=colors)
    ax.bar_label(bars)
    ax.set_ylabel("runs")
    ax.set_title("outcomes")
    ax.tick_params(axis="x", labelrotation=20)

    active = active_draws(c)
    ax_corr, ax_scatter = axes[1, 1], axes[1, 2]
    if active:
        rho = {
            name: spearman(np.array([r[name] for r in runs], dtype=float), td) for name in active
        }
        order = sorted(active, key=lambda k: abs(rho[k]))
        ax_corr.barh(
            [FACTOR_NAMES.get(k, (k,))[0] for k in order],
            [rho[k] for k in order],
            color=["tab:red" if rho[k] > 0 else "tab:blue" for k in order],
        )
        ax_corr.axvline(0, color="k", lw=0.8)
        ax_corr.set_xlim(-1, 1)
        ax_corr.set_xlabel("rank correlation with touchdown speed")
        ax_corr.set_title("which dispersion matters")
        top = order[-1]
        x = np.array([r[top] for r in runs], dtype=float)
        ax_scatter.scatter(x[passed], td[passed], s=10, c="tab:green", label="passed")
        ax_scatter.scatter(x[~passed], td[~passed], s=14, c="tab:red", marker="x", label="failed")
        ax_scatter.axhline(limit, color="k", ls="--", lw=1)
        if np.nanmax(td, initial=0.0) > 10 * limit:
            ax_scatter.set_yscale("log")
        ax_scatter.set_xlabel(factor_label(top))
        ax_scatter.set_ylabel("touchdown speed [m/s]")
        ax_scatter.set_title(
            f"touchdown speed vs\n{FACTOR_NAMES.get(top, (top,))[0]} (rho {rho[top]:+.2f})",
            fontsize=10,
        )
        ax_scatter.legend(fontsize=8)
    else:
        ax_corr.text(
            0.5,
            0.5,
            "no dispersions in this scenario\n(only sensor noise differs between runs)",
            ha="center",
            va="center",
            transform=ax_corr.transAxes,
        )
        ax_corr.set_axis_off()
        ratio_all = np.array(
            [np.nan if r.get("delta_v_ratio") is None else r["delta_v_ratio"] for r in runs],
            dtype=float,
        )
        ax_scatter.scatter(td[passed], ratio_all[passed], s=10, c="tab:green", label="passed")
        ax_scatter.scatter(
            td[~passed], ratio_all[~passed], s=14, c="tab:red", marker="x", label="failed"
        )
        ax_scatter.set_xlabel("touchdown speed [m/s]")
        ax_scatter.set_ylabel("delta-v / variable-mass optimum")
        ax_scatter.set_title("fuel against touchdown speed")
        ax_scatter.legend(fontsize=8)

    rate = summary["success_rate"]
    fig.suptitle(
        f"{c.scenario.name}: {summary['runs']} runs, seeds {c.seed}..{c.seed + len(runs) - 1}, "
        f"{summary['controller']} controller, {c.runtime}; "
        f"success {100 * rate:.1f} %, landed {100 * summary['landed_rate']:.1f} %"
    )
    fig.tight_layout()
    return fig


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1300px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
td.num { text-align: right; font-family: monospace; }
.warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.5em 1em; }
.pass { color: #186a18; font-weight: bold; } .fail { color: #b00; font-weight: bold; }
.figure svg { width: 100%; height: auto; }
"""


def sensitivity(c: Campaign) -> list[tuple[str, float]]:
    """(factor label, Spearman rank correlation with touchdown speed), strongest first."""
    td = np.array(
        [
            np.nan
            if r.get("touchdown_vertical_speed_mps") is None
            else r["touchdown_vertical_speed_mps"]
            for r in c.runs
        ],
        dtype=float,
    )
    rho = {
        name: spearman(np.array([r[name] for r in c.runs], dtype=float), td)
        for name in active_draws(c)
    }
    return [(factor_label(k), rho[k]) for k in sorted(rho, key=lambda k: -abs(rho[k]))]


def render_campaign(c: Campaign) -> str:
    e = html.escape
    s = c.summary()
    ok = s["failed_runs"] == 0
    title = f"softland mc: {s['scenario']}, {s['runs']} runs"
    checks = (("touchdown speed", s["touchdown_runs"]), ("delta-v ratio", s["delta_v_ratio_runs"]))
    warnings = [f"{what}: {w}" for what, n in checks if (w := percentile_warning(n))]
    rate = s["success_rate"]
    verdict = "all passed" if ok else f"{s['failed_runs']} failed"
    if rate is not None:
        verdict += f" (success {100 * rate:.1f} %)"
    status = "pass" if ok else "fail"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}: <span class='{status}'>{e(verdict)}</span></h1>",
    ]
    parts += [f"<p class='warn'>{e(w)}</p>" for w in warnings]
    parts += [
        "<h2>Outcomes</h2>",
        _table(
            [(k, str(v), f"{100 * v / s['runs']:.1f} %") for k, v in s["outcomes"].items()]
            if s["runs"]
            else [],
            ("outcome", "runs", "share"),
        ),
        "<h2>Figures</h2>",
        _table(
            [
                (quantity_label(k), "-" if s[k] is None else str(s[k]))
                for k in (
                    "success_rate",
                    "landed_rate",
                    "touchdown_speed_p50",
                    "touchdown_speed_p99",
                    "touchdown_speed_max",
                    "touchdown_runs",
                    "delta_v_ratio_p50",
                    "delta_v_ratio_p99",
                    "delta_v_ratio_runs",
                    "delta_v_ratio_closed_form_p50",
                    "errors",
                )
            ]
            + [("criteria: " + k, str(v)) for k, v in s["criteria"].items()],
            ("quantity", "value"),
        ),
        "<h2>Which dispersion matters</h2>",
        _table(
            [(name, f"{rho:+.3f}") for name, rho in sensitivity(c)],
            ("dispersion", "rank correlation with touchdown speed"),
        )
        if active_draws(c)
        else "<p>No dispersions in this scenario: only sensor noise differs between runs.</p>",
        "<h2>Distributions</h2>",
        f"<div class='figure'>{_figure_svg(c)}</div>",
        "<h2>Failed seeds</h2>",
        f"<p>{e(' '.join(map(str, s['failed_seeds'])) or 'none')}"
        f"{' (first ones)' if s['failed_runs'] > len(s['failed_seeds']) else ''}</p>",
        f"<p>Fly one again: <code>{e(s['reproduce'])}</code></p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_campaign_html(c: Campaign, path: Path) -> None:
    path.write_text(render_campaign(c), encoding="utf-8")


def _figure_svg(c: Campaign) -> str:
    fig = campaign_figure(c)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    e = html.escape

    def cell(text: str) -> str:
        try:
            float(text.rstrip(" %"))
        except ValueError:
            return f"<td>{e(text)}</td>"
        return f"<td class='num'>{e(text)}</td>"

    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
