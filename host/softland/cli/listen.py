"""`softland listen`: read a board-mode board's telemetry stream from its serial port, stream
it live (--live, --mavlink) and record it (--out); registered in softland.cli."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

console = Console(stderr=True)


@click.command("listen")
@click.option(
    "--port",
    required=True,
    help="The board's serial port (a device such as /dev/ttyACM0, or a pyserial URL such as "
    "socket://HOST:PORT).",
)
@click.option("--baud", type=int, default=115200, show_default=True, help="Baud rate.")
@click.option(
    "--live",
    "live_url",
    metavar="udp://HOST:PORT",
    default=None,
    help="Stream every telemetry frame and event as JSON over UDP (PlotJuggler; docs/live.md).",
)
@click.option(
    "--mavlink",
    "mavlink_url",
    metavar="udp://HOST:PORT",
    default=None,
    help="Stream them as MAVLink 2 over UDP (QGroundControl; needs pymavlink).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Record telemetry.csv (a row a frame, as it comes), events.json and summary.json here.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds [default: until Ctrl-C or the port closes].",
)
@click.option(
    "--frames",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many telemetry frames.",
)
@click.option("--quiet", is_flag=True, help="No line per mode change.")
def listen_command(
    port: str,
    baud: int,
    live_url: str | None,
    mavlink_url: str | None,
    out: Path | None,
    duration: float | None,
    frames: int | None,
    quiet: bool,
) -> None:
    """Decode the telemetry a board running board mode sends on PORT: stream and record it."""
    from softland.analysis.live import open_live_view
    from softland.analysis.report import prepare_out_dir
    from softland.boards.hostlink import MODES
    from softland.boards.listen import (
        ListenStop,
        TelemetryRecorder,
        listen,
        open_port,
        serial_reader,
        write_listen_outputs,
    )

    live = open_live_view(live_url, mavlink_url)
    if out is not None:
        prepare_out_dir(out)
    ser = open_port(port, baud)
    recorder = TelemetryRecorder(out / "telemetry.csv") if out is not None else None
    mode: list[int | None] = [None]

    def on_frame(row: dict) -> None:
        if not quiet and row["mode"] != mode[0]:
            mode[0] = row["mode"]
            name = MODES[row["mode"]] if row["mode"] < len(MODES) else row["mode"]
            console.print(f"tick {row['tick']}: {name}, altitude {row['alt_mm'] / 1000:.2f} m")

    console.print(f"listening on {port}" + ("" if duration else " (Ctrl-C to stop)"))
    try:
        result = listen(
            serial_reader(ser), port, live, recorder, ListenStop(duration, frames), on_frame
        )
    finally:
        ser.close()
        if recorder is not None:
            recorder.close()
        if live is not None:
            live.close()
    s = result.summary()
    console.print(
        f"{s['telemetry_frames']} telemetry frames, {s['events']} events, "
        f"{s['decoder_errors']} bad frames dropped, {s['bytes_read']} bytes "
        f"in {s['wall_s']:.1f} s ({s['stopped']})",
        highlight=False,
    )
    if out is not None:
        write_listen_outputs(result, out)
        console.print(
            f"wrote {out / 'telemetry.csv'}, {out / 'events.json'}, {out / 'summary.json'}"
        )
    if live is not None:
        console.print(live.stats(), highlight=False, soft_wrap=True)
