"""firmware/main.py picks the mode from board_config.py at boot: none (SIL) or "link" serves
the link as before; "board" runs board mode (here on the unix port with the `machine`
stand-in of tests/board_standin and the port's real clock); a bad configuration stops the
boot naming the key."""

from __future__ import annotations

import subprocess
import time
from itertools import pairwise
from pathlib import Path

from board_stand_in import CONFIG

from softland.boards.firmware import firmware_dir, fsw_module
from softland.boards.hostlink import EVENTS, Frame, HostLink
from softland.boards.runtimes import micropython_env

STANDIN_DIR = Path(__file__).resolve().parent / "board_standin"
EV_IMU = next(code for code, name in EVENTS.items() if name == "imu")


def _main(binary: str) -> list[str]:
    return [binary, "-X", "heapsize=400K", str(firmware_dir() / "main.py")]


def _write_config(tmp_path: Path, config: dict) -> Path:
    (tmp_path / "board_config.py").write_text(f"CONFIG = {config!r}\n")
    return tmp_path


def test_a_link_board_config_serves_the_link(micropython_bin: str, tmp_path: Path) -> None:
    app = fsw_module("app")
    host = HostLink()
    cfg_dir = _write_config(tmp_path, {"mode": "link"})
    proc = subprocess.run(
        _main(micropython_bin),
        input=host.command_frame(app.C_PING),
        capture_output=True,
        env=micropython_env(cfg_dir, STANDIN_DIR),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    frames = host.feed(proc.stdout)
    assert [host.decode_ack(f.payload)["code"] for f in frames] == [app.C_PING]


def _board_run(binary: str, tmp_path: Path, config: dict) -> tuple[HostLink, list[Frame]]:
    """main.py booted with `config` for ~1.5 s on the port's own clock: the frames it sent."""
    host = HostLink()
    cfg_dir = _write_config(tmp_path, config)
    proc = subprocess.Popen(
        _main(binary),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=micropython_env(cfg_dir, STANDIN_DIR),
    )
    time.sleep(1.5)  # the board's own clock: ~75 ticks at 50 Hz
    proc.kill()
    out, _ = proc.communicate(timeout=30)
    return host, host.feed(out)


def test_a_board_config_runs_board_mode(micropython_bin: str, tmp_path: Path) -> None:
    link = fsw_module("link")
    host, frames = _board_run(micropython_bin, tmp_path, dict(CONFIG, backup="none"))
    tel = [host.decode_telemetry(f.payload) for f in frames if f.ftype == link.T_TELEM]
    assert len(tel) >= 20
    assert [t["tick"] for t in tel] == list(range(1, len(tel) + 1))
    gaps = sorted((b["time_us"] - a["time_us"]) & 0x3FFFFFFF for a, b in pairwise(tel))
    assert abs(gaps[len(gaps) // 2] - 20_000) < 2_000  # the median: on the 50 Hz grid
    assert tel[-1]["rf_status"] == fsw_module("rangefinder").RF_GOOD  # the stand-in's LIDAR


def test_a_board_config_with_the_imu_reads_it_and_passes_the_preflight(
    micropython_bin: str, tmp_path: Path
) -> None:
    link = fsw_module("link")
    flags = fsw_module("flags")
    config = dict(CONFIG, backup="none", imu="lsm6dsox", imu_addr=0x6A)
    host, frames = _board_run(micropython_bin, tmp_path, config)
    events = [host.decode_event(f.payload) for f in frames if f.ftype == link.T_EVENT]
    imu = [e["arg"] for e in events if e["code"] == EV_IMU]
    assert imu == [1, 3]  # the stand-in's LSM6DSOX register file: probed, then good
    tel = [host.decode_telemetry(f.payload) for f in frames if f.ftype == link.T_TELEM]
    assert len(tel) >= 20
    assert not tel[-1]["flags2"] & flags.PREFLIGHT_BAD  # ARM would pass without the override


def test_a_bad_board_config_stops_the_boot_naming_the_key(
    micropython_bin: str, tmp_path: Path
) -> None:
    cfg = dict(CONFIG)
    del cfg["pwm_pin"]
    cfg_dir = _write_config(tmp_path, cfg)
    proc = subprocess.run(
        _main(micropython_bin),
        input=b"",
        capture_output=True,
        env=micropython_env(cfg_dir, STANDIN_DIR),
        timeout=60,
    )
    assert proc.returncode != 0
    assert b"pwm_pin is required" in proc.stdout + proc.stderr  # the console
