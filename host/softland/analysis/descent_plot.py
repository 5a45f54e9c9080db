"""The descent figure of one run: what a reader looks for first, on one page (descent.png and the
HTML report draw the same figure).

Panels, sharing the time axis: altitude on a scale linear below 100 m and logarithmic above
(the last 100 m stay readable after a descent from kilometres), with the rangefinder's
readings coloured by its health and the firmware's estimate +/- sigma; the sink rate with the
touchdown limit; the throttle; the rangefinder's health and the flight mode. The firmware's
events are vertical markers on every panel, named (with their argument) on the top one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from softland.boards.hostlink import MODES  # noqa: E402

RF_STATUS_NAMES = ("NotConnected", "NoData", "OutOfRangeLow", "OutOfRangeHigh", "Good")
RF_COLOURS = ("black", "tab:red", "tab:purple", "tab:orange", "tab:green")
LINEAR_BELOW_M = 100.0  # the altitude axis is linear below this, logarithmic above
MAX_EVENT_LABELS = 24  # more events than this: the first ones named, the rest marked only
_PLAIN = FuncFormatter(lambda v, _pos: f"{v:g}")  # 1000, not 10^3
EVENT_COLOURS = {
    "mode": "tab:blue",
    "ignition": "tab:orange",
    "cutoff": "tab:green",
    "fault": "tab:red",
    "rebase": "tab:purple",
    "revert": "tab:purple",
    "hold": "tab:pink",
    "impact": "tab:green",
    "exclude": "tab:red",
    "blind": "tab:brown",
    "band_short": "tab:red",
    "reserve": "tab:red",
    "resumed": "tab:olive",
}


def event_label(event: dict[str, Any]) -> str:
    """An event as the figure and the report name it: the mode's name for a mode change."""
    name = event["name"]
    arg = event["arg"]
    if name == "mode" and 0 <= arg < len(MODES):
        return f"mode {MODES[arg]}"
    return f"{name}({arg})"


def flight_events(events: Sequence[dict[str, Any]], t_end_s: float) -> list[dict[str, Any]]:
    """The events sent from the START on (vehicle time), within the plotted span."""
    return [e for e in events if "t_s" in e and 0.0 <= e["t_s"] <= t_end_s]


def descent_figure(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
) -> Figure:
    t = [r["t_s"] for r in rows]
    fig, axes = plt.subplots(
        4, 1, figsize=(11, 12), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1.2, 1.2]}
    )
    _altitude(axes[0], t, rows)
    _sink_rate(axes[1], t, rows, summary)
    _throttle(axes[2], t, rows)
    _health_and_mode(axes[3], t, rows)
    axes[3].set_xlabel("time since START [s]")
    _mark_events(axes, flight_events(events, t[-1] if t else 0.0))
    fig.suptitle(_title(summary), fontsize=11)
    fig.text(0.01, 0.005, _counters(summary), fontsize=8, family="monospace", va="bottom")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def _title(s: dict[str, Any]) -> str:
    td = s.get("touchdown_vertical_speed_mps")
    td_text = "no touchdown" if td is None else f"touchdown {td:.2f} m/s"
    limit = s.get("max_touchdown_speed_mps")
    if td is not None and limit is not None:
        td_text += f" (limit {limit:.2f})"
    dv_text = delta_v_text(s)
    verdict = "passed" if s.get("passed") else "FAILED"
    # two lines: the run and its verdict, then the figures (one line ran off the figure)
    return (
        f"{s['scenario']} ({s['runtime']}, seed {s['seed']}, {s.get('controller', 'firmware')}): "
        f"{s['outcome']}, {verdict}\n{td_text}{dv_text}"
    )


def delta_v_text(s: dict[str, Any]) -> str:
    """The title's delta-v, against the true (variable-mass) optimum; the closed form only
    where that optimum is missing, and then named so."""
    dv = s.get("delta_v_mps")
    if dv is None:
        return ""
    for key, label in (
        ("delta_v_optimal_variable_mass_mps", "variable-mass optimum"),
        ("delta_v_optimal_mps", "closed-form optimum"),
    ):
        if s.get(key) is not None:
            return f", delta-v {dv:.1f} ({label} {s[key]:.1f}) m/s"
    return f", delta-v {dv:.1f} m/s"


def _counters(s: dict[str, Any]) -> str:
    names = ("ticks", "tick_overruns", "link_errors", "host_link_errors", "faults")
    text = "  ".join(f"{n} {s[n]}" for n in names if n in s)
    if s.get("computer_resets"):
        text += f"  computer_resets {s['computer_resets']}"
    return text


def _altitude(ax: Any, t: list[float], rows: Sequence[dict[str, Any]]) -> None:
    ax.plot(
        t, [r["true_alt_m"] for r in rows], color="black", lw=1.2, zorder=3, label="true altitude"
    )
    est = [r["alt_mm"] / 1000 for r in rows]
    sigma = [r["sigma_mm"] / 1000 for r in rows]
    ax.plot(t, est, "--", color="tab:blue", lw=1, zorder=4, label="firmware estimate")
    ax.fill_between(
        t,
        [e - s for e, s in zip(est, sigma, strict=True)],
        [e + s for e, s in zip(est, sigma, strict=True)],
        color="tab:blue",
        alpha=0.15,
        lw=0,
        label="estimate +/- sigma",
    )
    # the range the firmware received, coloured by the health its driver gave it
    for status, (name, colour) in enumerate(zip(RF_STATUS_NAMES, RF_COLOURS, strict=True)):
        pts = [(r["t_s"], r["range_mm"] / 1000) for r in rows if r["rf_status"] == status]
        pts = [(x, y) for x, y in pts if y > 0]
        if pts:
            xs = [x for x, _ in pts]
            ys = [y for _, y in pts]
            ax.plot(
                xs, ys, ".", ms=1.5, alpha=0.5, color=colour, zorder=1, label=f"range ({name})"
            )
    top_m = max((r["true_alt_m"] for r in rows), default=0.0)
    if top_m > 2 * LINEAR_BELOW_M:
        ax.set_yscale("symlog", linthresh=LINEAR_BELOW_M, linscale=1.5)
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.axhline(LINEAR_BELOW_M, color="grey", lw=0.5, ls=":")
        ax.set_ylabel(f"altitude [m]\n(linear below {LINEAR_BELOW_M:.0f} m)")
    else:
        ax.set_ylabel("altitude [m]")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)


def _sink_rate(ax: Any, t: list[float], rows: Sequence[dict[str, Any]], s: dict) -> None:
    ax.plot(t, [-r["true_vel_mps"] for r in rows], color="black", lw=1.2, label="true sink rate")
    ax.plot(t, [-r["vel_mm_s"] / 1000 for r in rows], "--", color="tab:blue", label="estimate")
    ax.plot(t, [-r["vref_mm_s"] / 1000 for r in rows], ":", color="tab:orange", label="reference")
    limit = s.get("max_touchdown_speed_mps")
    if limit is not None:
        ax.axhline(limit, color="tab:red", lw=0.8, ls="--", label=f"touchdown limit {limit:g}")
    td = s.get("touchdown_vertical_speed_mps")
    contact = s.get("flight_time_s")
    if td is not None and contact is not None:
        ax.plot([contact], [td], "x", color="tab:red", ms=8, label=f"touchdown {td:.2f}")
    ax.set_yscale("symlog", linthresh=5.0, linscale=2.0)
    ax.yaxis.set_major_formatter(_PLAIN)
    ax.set_ylabel("sink rate [m/s]\n(linear below 5)")
    ax.legend(loc="lower left", fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


def _throttle(ax: Any, t: list[float], rows: Sequence[dict[str, Any]]) -> None:
    ax.plot(t, [r["throttle_q15"] / 32767 for r in rows], lw=1, label="throttle command")
    ax.set_ylabel("throttle")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(True, alpha=0.3)


def _health_and_mode(ax: Any, t: list[float], rows: Sequence[dict[str, Any]]) -> None:
    ax.step(t, [r["rf_status"] for r in rows], where="post", color="tab:green", label="rf health")
    ax.set_yticks(range(len(RF_STATUS_NAMES)), RF_STATUS_NAMES, fontsize=7)
    ax.set_ylabel("rangefinder")
    ax.set_ylim(-0.5, len(RF_STATUS_NAMES) - 0.5)
    mode_ax = ax.twinx()
    mode_ax.step(t, [r["mode"] for r in rows], where="post", color="tab:blue", lw=1)
    mode_ax.set_yticks(range(len(MODES)), MODES, fontsize=7, color="tab:blue")
    mode_ax.set_ylim(-0.5, len(MODES) - 0.5)
    mode_ax.set_ylabel("mode", color="tab:blue")
    ax.grid(True, alpha=0.3)


LABEL_PITCH = 10.0  # points between two event labels (rotated 6.5 pt text with its leading)


def _mark_events(axes: Sequence[Any], events: list[dict[str, Any]]) -> None:
    top = axes[0]
    lo, hi = top.get_xlim()
    # labels are set at least LABEL_PITCH points apart, each as near its event as that allows
    width_pt = top.get_position().width * top.figure.get_figwidth() * 72
    pt_per_s = width_pt / (hi - lo) if hi > lo else 1.0
    next_free_pt = -1e9
    for i, e in enumerate(events):
        colour = EVENT_COLOURS.get(e["name"], "tab:gray")
        for ax in axes:
            ax.axvline(e["t_s"], color=colour, lw=0.6, alpha=0.6)
        if i < MAX_EVENT_LABELS:
            x_pt = (e["t_s"] - lo) * pt_per_s
            label_pt = max(x_pt + 2, next_free_pt)
            next_free_pt = label_pt + LABEL_PITCH
            dx = label_pt - x_pt
            top.annotate(
                event_label(e),
                xy=(e["t_s"], 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(dx, -4),
                textcoords="offset points",
                rotation=90,
                va="top",
                fontsize=6.5,
                color=colour,
            )
    if len(events) > MAX_EVENT_LABELS:
        top.text(
            0.99,
            0.02,
            f"{len(events) - MAX_EVENT_LABELS} more events marked, not named (events.json)",
            transform=top.transAxes,
            ha="right",
            fontsize=7,
        )
