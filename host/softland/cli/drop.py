"""`softland drop capture` and `softland drop analyze`: the tabletop drop test
(docs/tabletop.md)."""

from __future__ import annotations

from pathlib import Path

import click

from softland.devices.freefall import G_STANDARD
from softland.errors import UserError


@click.group("drop")
def drop_group() -> None:
    """Tabletop drop test of the LIDAR-Lite: capture a free fall, analyze it against physics."""


@drop_group.command("capture")
@click.option("--port", default=None, help="Serial port of a board with firmware/drop.py.")
@click.option(
    "--blinka",
    type=click.Choice(["ft232h", "mcp2221"]),
    default=None,
    help="Read the sensor from this computer through a USB-I2C adapter and Adafruit Blinka.",
)
@click.option(
    "--emulate",
    is_flag=True,
    help="Capture from the LIDAR-Lite emulator watching a 2 m free fall (a dry run).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("drop.csv"),
    show_default=True,
    help="Capture file to write.",
)
@click.option("--samples", type=click.IntRange(20, 65535), default=2000, show_default=True)
@click.option(
    "--delay-ms",
    type=click.IntRange(0, 600_000),
    default=0,
    show_default=True,
    help="Board: wait this long before sampling (time to get to the rig).",
)
@click.option(
    "--release-pin",
    type=int,
    default=None,
    help="Board: GPIO of the release switch (pulled up; reads 1 once released).",
)
@click.option(
    "--sig-count",
    type=click.IntRange(0, 255),
    default=0,
    show_default=True,
    help="Board / emulator: SIG_COUNT_VAL to write (fewer counts: faster, shorter range); "
    "0 keeps the sensor's default (v3 0x80, v3HP 0xFF).",
)
@click.option("--i2c-hz", type=int, default=400_000, show_default=True, help="Blinka bus speed.")
@click.option("--seed", type=int, default=1, show_default=True, help="Emulator noise seed.")
@click.option(
    "--variant",
    type=click.Choice(["v3", "v3hp"]),
    default="v3",
    show_default=True,
    help="Emulated sensor variant.",
)
def capture_command(
    port: str | None,
    blinka: str | None,
    emulate: bool,
    out: Path,
    samples: int,
    delay_ms: int,
    release_pin: int | None,
    sig_count: int,
    i2c_hz: int,
    seed: int,
    variant: str,
) -> None:
    """Record a drop capture: from a board (--port), a USB-I2C adapter (--blinka) or the
    emulator (--emulate)."""
    from softland.analysis.report import prepare_out_dir
    from softland.drop.capture import write_capture

    chosen = [name for name, on in (("--port", port), ("--blinka", blinka), ("--emulate", emulate))
              if on]  # fmt: skip
    if len(chosen) != 1:
        raise UserError("give exactly one of --port PORT, --blinka ft232h|mcp2221, --emulate")
    prepare_out_dir(out.parent)  # an unwritable --out fails before the capture, not after
    if port is not None:
        from softland.drop.board import BoardCapture, capture_from_port

        cap = capture_from_port(
            port, BoardCapture(samples, delay_ms, release_pin, sig_count=sig_count)
        )
    elif blinka is not None:
        from softland.drop.blinka import blinka_capture, open_blinka_i2c

        i2c = open_blinka_i2c(blinka, i2c_hz)
        cap = blinka_capture(i2c, samples, f"blinka {blinka}", i2c_hz=i2c_hz)
    else:
        from softland.drop.emulate import DropRig, emulated_capture

        cap = emulated_capture(
            DropRig(samples=samples, variant=variant, sig_count=sig_count), seed
        )
    try:
        write_capture(out, cap)
    except OSError as exc:
        raise UserError(f"cannot write capture {out}: {exc.strerror or exc}") from None
    click.echo(
        f"{out}: {cap.samples} samples at {cap.rate_hz:.0f} Hz from {cap.source} "
        f"({cap.variant}), {int(cap.valid.sum())} with a distance"
    )


@drop_group.command("analyze")
@click.argument("capture", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report directory [default: CAPTURE without its suffix, plus -report].",
)
@click.option(
    "--g", "g_known", type=float, default=G_STANDARD, show_default=True, help="Known g, m/s^2."
)
def analyze_command(capture: Path, out: Path | None, g_known: float) -> None:
    """Fit a capture with g free and g known; report g, impact speed, noise, dropouts,
    jitter, latency and the firmware estimator's velocity; write a plot and an HTML page."""
    from softland.analysis.report import prepare_out_dir
    from softland.drop.analysis import analyze
    from softland.drop.capture import read_capture
    from softland.drop.report import write_report

    if not 1.0 < g_known < 30.0:
        raise UserError(f"--g {g_known} is not a plausible gravity (m/s^2)")
    cap = read_capture(capture)
    out_dir = out if out is not None else capture.with_name(capture.stem + "-report")
    prepare_out_dir(out_dir)
    report = analyze(cap, g_known)
    paths = write_report(report, out_dir)
    s = report.summary()
    lat = "n/a (no release pin)" if s["latency_ms"] is None else f"{s['latency_ms']:.2f} ms"
    click.echo(
        f"g {s['g_fit_m_s2']:.3f} m/s^2 (error {s['g_error_m_s2']:+.3f}, "
        f"start from the {s['g_fit_from']}), "
        f"impact {s['impact_speed_m_s']:.3f} m/s after {s['fall_m']:.3f} m, "
        f"noise {s['noise_cm']:.2f} cm, {s['rate_hz']:.0f} Hz "
        f"(jitter {s['interval_std_us']:.0f} us), latency {lat}, "
        f"dropouts {report.samples - report.valid}"
    )
    click.echo(f"report: {paths['html']}")
