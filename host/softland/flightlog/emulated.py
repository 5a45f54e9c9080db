"""The flight log on the emulated Cortex-M0 (16 MHz, MicroPython 1.28, ../shared/pil): its cost
per tick, heap locked, and a reset mid-descent (boards/mpside/flightlog_m0.py does the board's
side). `python -m softland.flightlog.emulated [--ticks N]` prints the figures docs/flightlog.md
quotes."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from softland.analysis.bench import MPSIDE_DIR
from softland.boards.emuboard import EmulatedBoard
from softland.boards.firmware import firmware_dir
from softland.flightlog.reader import FlightLogData, parse_flight_log


@dataclass
class M0Run:
    ticks: int
    ticks_after: int
    no_log_us: tuple[int, int]  # total, worst tick
    log_us: tuple[int, int]
    after_us: tuple[int, int]
    faults: int
    log_errors: int
    resumed: bool
    found_seq: int
    recovered: int  # records the boot took back from the battery-backed copy of the RAM block
    log: FlightLogData

    def per_tick_ms(self) -> float:
        return (self.log_us[0] - self.no_log_us[0]) / self.ticks / 1000


def run_on_m0(ticks: int = 200, ticks_after: int = 100, capacity: int = 64) -> M0Run:
    with tempfile.TemporaryDirectory(prefix="softland-flightlog-m0-") as tmp:
        shutil.copytree(
            firmware_dir() / "fsw", Path(tmp) / "fsw", ignore=shutil.ignore_patterns("__pycache__")
        )
        for name in ("sil_frames.py", "flightlog_m0.py"):
            shutil.copy(MPSIDE_DIR / name, Path(tmp) / name)
        with EmulatedBoard() as board:  # started by the with statement
            board.load_romfs(Path(tmp))
            out = board.exec(
                f"import flightlog_m0\nflightlog_m0.main({ticks}, {ticks_after}, {capacity})",
                timeout_s=1200,
            )
    lines = out.split("\n")
    words = {ln.split()[0]: ln.split()[1:] for ln in lines if ln and not ln.startswith("HEX")}
    data = bytes.fromhex("".join(ln.split()[1] for ln in lines if ln.startswith("HEX")))
    nolog, log, after, resumed = words["NOLOG"], words["LOG"], words["AFTER"], words["RESUMED"]
    return M0Run(
        ticks=ticks,
        ticks_after=ticks_after,
        no_log_us=(int(nolog[0]), int(nolog[1])),
        log_us=(int(log[0]), int(log[1])),
        after_us=(int(after[0]), int(after[1])),
        faults=int(nolog[3]) + int(log[3]) + int(after[3]),
        log_errors=int(log[4]) + int(after[4]),
        resumed=resumed[0] == "1",
        found_seq=int(resumed[2]),
        recovered=int(resumed[4]),
        log=parse_flight_log(data, "flight.log (emulated Cortex-M0)"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--after", type=int, default=100)
    args = ap.parse_args()
    r = run_on_m0(args.ticks, args.after)
    n = r.ticks
    print(
        f"emulated Cortex-M0 at 16 MHz, heap locked, {n} descent ticks each:\n"
        f"  without the log: {r.no_log_us[0] / n / 1000:.2f} ms/tick mean, "
        f"{r.no_log_us[1] / 1000:.2f} ms worst\n"
        f"  with the log:    {r.log_us[0] / n / 1000:.2f} ms/tick mean, "
        f"{r.log_us[1] / 1000:.2f} ms worst (the tick that writes a block)\n"
        f"  the log's cost:  {r.per_tick_ms():.2f} ms/tick mean\n"
        f"  faults {r.faults}, log errors {r.log_errors}"
    )
    boots = r.log.boots()
    if len(boots) < 2 or boots[-1].seq != r.found_seq + 1 + r.recovered:
        print(f"reset after {n} ticks: the ring of 64 wrapped past it ({r.log.summary()})")
        return
    before = boots[-1].position
    print(
        f"reset after {n} ticks: resumed {r.resumed}, newest record found at boot {r.found_seq},"
        f" {r.recovered} record(s) taken back from battery-backed RAM"
        f"\n  {r.log.summary()}\n  records before the reset {before}, after "
        f"{len(r.log.records) - before}, unlogged ticks at the reset {boots[-1].unlogged_ticks}"
    )


if __name__ == "__main__":
    main()
