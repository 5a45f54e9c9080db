"""The floor of a tick in this firmware's bytecode on the emulated Cortex-M0: a skeleton of the
App tick (decode one 24-byte TICK frame with the real decoder, one estimator predict and
update, one controller step, one telemetry pack and frame) timed on the board's instruction
clock with the heap locked (benchmarks/tick_floor_board.py). Whatever the design around them,
a tick does at least this; the figure for docs/architecture.md, "The tick on a 16 MHz
Cortex-M0".

    PYTHONPATH=host python3 benchmarks/tick_floor.py [--clock-mhz 16|125] [--frames N]

The frames are a descent's (altitude falling at 5 m/s from 100 m, a range every tick that
agrees with it within a few cm, the accelerometer at lunar gravity with noise), so the
estimator's update runs its whole consistency test and the telemetry's PAD search its usual
number of tries.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from softland.boards.emuboard import EmulatedBoard  # noqa: E402
from softland.boards.firmware import firmware_dir  # noqa: E402
from softland.boards.hostlink import HostLink  # noqa: E402

BOARD_MODULE = "tick_floor_board"
STAGES = ("decode", "estimator", "controller", "telemetry")


def descent_frames(n: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    host = HostLink()
    out = bytearray()
    for k in range(n):
        alt_mm = 100_000 - 100 * k
        out += host.tick_frame(
            20_000 * k, alt_mm + 300 + rng.randint(-30, 30), 4, 1620 + rng.randint(-50, 50), True
        )
    return bytes(out)


def measure(clock_mhz: int, frames: int) -> tuple[int, list[float], list[int]]:
    data = descent_frames(frames)
    frame_len = len(data) // frames
    with tempfile.TemporaryDirectory(prefix="softland-floor-") as tmp:
        work = Path(tmp)
        shutil.copytree(firmware_dir() / "fsw", work / "fsw")
        shutil.copy(ROOT / "benchmarks" / f"{BOARD_MODULE}.py", work)
        (work / "frames.bin").write_bytes(data)
        with EmulatedBoard(clock_mhz) as board:
            board.load_romfs(work)
            call = f"{BOARD_MODULE}.main('frames.bin', {frame_len})"
            out = board.exec(f"import {BOARD_MODULE}\n{call}")
    line = next((ln for ln in out.splitlines() if ln.startswith("FLOOR ")), None)
    if line is None:
        raise SystemExit(f"the board printed no result: {out[-2000:]}")
    result = json.loads(line[len("FLOOR ") :])
    if result["good"] != frames:
        raise SystemExit(f"the decoder took {result['good']} of {frames} frames")
    totals, bests = result["total"], result["best"]
    return frame_len, [t / frames for t in totals], bests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clock-mhz", type=int, choices=(16, 125), default=16)
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    frame_len, means, bests = measure(args.clock_mhz, args.frames)
    print(f"tick skeleton on the emulated Cortex-M0 at {args.clock_mhz} MHz, heap locked, "
          f"{args.frames} TICK frames of {frame_len} bytes")  # fmt: skip
    print("| stage | us mean | us min |")
    print("|---|---|---|")
    for name, mean, best in zip(STAGES, means, bests, strict=True):
        print(f"| {name} | {mean:.0f} | {best} |")
    print(f"| **floor (sum)** | **{sum(means):.0f}** | {sum(bests)} |")


if __name__ == "__main__":
    sys.exit(main())
