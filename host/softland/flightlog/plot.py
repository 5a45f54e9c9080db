"""`softland log plot`: a flight log on one page: altitude (estimate +/- sigma, range given),
vertical velocity with its reference, throttle, and the flight mode, against the log's
timeline; boots are marked on every panel (with the ticks a reset left unlogged), and so are
the places of corrupted records (by the sequence numbers missing around them)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from softland.boards.hostlink import MODES  # noqa: E402
from softland.errors import UserError  # noqa: E402
from softland.flightlog.export import timeline_us  # noqa: E402
from softland.flightlog.reader import FlightLogData  # noqa: E402


def plot_log(log: FlightLogData, out: Path) -> None:
    times = timeline_us(log)
    ticks = [(t, r) for t, r in zip(times, log.records, strict=True) if r.telem is not None]
    if not ticks:
        raise UserError(f"{log.path}: no tick records to plot")
    t0 = ticks[0][0]
    t = [(ts - t0) / 1e6 for ts, _ in ticks]
    tm = [r.telem for _, r in ticks]
    fig, ax = plt.subplots(4, 1, figsize=(11, 9), sharex=True, height_ratios=[3, 2, 1.4, 1])
    alt = [v["alt_mm"] / 1000 for v in tm]
    sig = [v["sigma_mm"] / 1000 for v in tm]
    ax[0].fill_between(
        t,
        [a - s for a, s in zip(alt, sig, strict=True)],
        [a + s for a, s in zip(alt, sig, strict=True)],
        color="tab:blue",
        alpha=0.2,
        label="estimate +/- sigma",
    )
    ax[0].plot(t, alt, color="tab:blue", lw=1, label="altitude estimate")
    rng = [(ti, v["range_mm"] / 1000) for ti, v in zip(t, tm, strict=True) if v["rf_status"] == 4]
    if rng:
        ax[0].plot(*zip(*rng, strict=True), ".", ms=1.5, color="tab:green", label="range (good)")
    ax[0].set_ylabel("altitude (m)")
    ax[0].legend(loc="upper right", fontsize=8)
    ax[1].plot(t, [v["vel_mm_s"] / 1000 for v in tm], lw=1, label="velocity estimate")
    ax[1].plot(t, [v["vref_mm_s"] / 1000 for v in tm], lw=1, ls="--", label="reference")
    ax[1].set_ylabel("velocity (m/s, up +)")
    ax[1].legend(loc="lower right", fontsize=8)
    ax[2].plot(t, [v["throttle_q15"] / 32768 for v in tm], lw=1, color="tab:orange")
    ax[2].set_ylabel("throttle")
    ax[2].set_ylim(-0.05, 1.05)
    ax[3].step(t, [v["mode"] for v in tm], where="post", color="black", lw=1)
    ax[3].set_yticks(range(len(MODES)), MODES, fontsize=7)
    ax[3].set_ylabel("mode")
    ax[3].set_xlabel("time (s)")
    for b in log.boots()[1:]:
        x = (times[b.position] - t0) / 1e6
        for a in ax:
            a.axvline(x, color="tab:red", lw=1, ls=":")
        ax[0].annotate(
            f"boot ({b.unlogged_ticks} unlogged)",
            (x, 1),
            xycoords=("data", "axes fraction"),
            fontsize=8,
            color="tab:red",
            va="top",
        )
    gaps = log.seq_gaps()
    title = f"{Path(log.path).name}: {len(log.records)} records, firmware {log.layout.firmware}"
    if log.bad:
        title += f", {len(log.bad)} corrupted"
        seq_at = {r.seq: i for i, r in enumerate(log.records)}
        for after, _missing in gaps:
            x = (times[seq_at[after]] - t0) / 1e6
            for a in ax:
                a.axvline(x, color="tab:purple", lw=0.8, alpha=0.6)
    ax[0].set_title(title)
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}") from None
    finally:
        plt.close(fig)
