"""HIL through the fault proxy: the table of docs/hil.md ("The fault proxy's table").

    PYTHONPATH=host python3 benchmarks/hil_faults.py [--scenario earth-hopper] [--m0]
        [--reply-timeout 0.2] [--markdown]

Each row flies the scenario (its dispersed run of the scenario's seed) with `softland hil`'s
session against the MicroPython unix port behind a socat pty (with --m0 also rows on the
emulated Cortex-M0 at 16 MHz), through softland.boards.faultproxy.FaultProxy with the row's
rates in both directions (or the one named), once with each proxy seed of SEEDS. Columns:
the rates per frame (or byte);
what the proxy did (units dropped, corrupted, duplicated, delayed, both directions);
the host's retransmissions, frames it counted lost, board frames it dropped for a bad CRC,
duplicates it dropped; "used = sent": every frame the host took is one the board sent, byte
for byte, in its order (the proxy records the board's bytes before the faults: a corrupted
frame used would fail it); the board's link_errors (its last TELEM); the outcome, and
whether the telemetry hash is SIL's. Then the time a silent board takes to end a run with
link_lost. Not a test: the proxy's faults hit whatever the timing puts in their way, so the
counts move from run to run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from dataclasses import dataclass

import serial

from softland.analysis.bench import machine_name
from softland.boards.emuboard import EmulatedBoard
from softland.boards.faultproxy import FaultProxy, FaultRates
from softland.boards.firmware import fsw_module
from softland.boards.hil import EMULATED_HIL_WAIT_MS, HilSession, LinkSettings, run_hil
from softland.boards.ptyboard import UnixPtyBoard
from softland.boards.serialport import SerialRuntime, open_port
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import Scenario, load_scenario
from softland.simulation.sim import run_scenario


@dataclass(frozen=True)
class Row:
    label: str
    rates: FaultRates
    direction: str = "both"  # both, to_host (board -> host only), to_board
    retries: int = 3


ALL2 = FaultRates(0.02, 0.02, 0.02, 0.02, 50)
ALL5 = FaultRates(0.05, 0.05, 0.05, 0.05, 50)
ROWS = (
    Row("clean", FaultRates()),
    Row("drop 1%", FaultRates(drop=0.01)),
    Row("drop 5%", FaultRates(drop=0.05)),
    Row("corrupt 1%", FaultRates(corrupt=0.01)),
    Row("corrupt 5%", FaultRates(corrupt=0.05)),
    Row("dup 5%", FaultRates(dup=0.05)),
    Row("delay 10% x 50 ms", FaultRates(delay=0.10, delay_ms=50)),
    Row("all 2%, delay 50 ms", ALL2),
    Row("all 5%, delay 50 ms, 8 retries", ALL5, retries=8),
    Row("bytes: drop+corrupt 0.02%", FaultRates(drop=0.0002, corrupt=0.0002, unit="byte")),
    Row("board->host drop 5%", FaultRates(drop=0.05), "to_host"),
    Row("host->board drop 5%", FaultRates(drop=0.05), "to_board"),
)
M0_ROWS = (
    Row("M0: clean", FaultRates()),
    Row("M0: all 2%, delay 50 ms", ALL2),
)
SEEDS = (1, 2)  # the proxy's seeds: each row flown once with each


def _board_frames(stream: bytes) -> list[bytes]:
    """The distinct frames a board sent, in order (answers it sent again taken once)."""
    link = fsw_module("link")
    frames: list[bytes] = []
    nxt: list[int | None] = [None]

    def on_frame(ftype: int, buf: bytearray, length: int) -> None:
        dec.restart_seq()
        if nxt[0] is None or buf[4] == nxt[0]:
            frames.append(bytes(buf[: length + link.OVERHEAD]))
            nxt[0] = (buf[4] + 1) & 0xFF

    dec = link.Decoder(on_frame)
    dec.feed_into(stream, len(stream))
    return frames


def _used_equals_sent(taken: list[bytes], sent: bytes) -> bool:
    board = _board_frames(sent)[1:]  # after the PING's ACK
    i = 0
    for frame in taken:
        while i < len(board) and board[i] != frame:
            i += 1
        if i == len(board):
            return False
        i += 1
    return True


def fly_row(
    s: Scenario,
    row: Row,
    port: str | serial.Serial,
    settings: LinkSettings,
    sim_sha: str,
    seed: int,
) -> dict[str, object]:
    none = FaultRates()
    to_host = row.rates if row.direction in ("both", "to_host") else none
    to_board = row.rates if row.direction in ("both", "to_board") else none
    sessions: list[HilSession] = []
    settings = dataclasses.replace(settings, retries=row.retries)
    started = time.monotonic()
    with FaultProxy(port, to_host, seed=seed, host_rates=to_board, record=True) as proxy:
        rt = SerialRuntime(open_port(proxy.host_path or ""), "hil")
        try:
            result = run_hil(s, rt, settings=settings, sessions=sessions)
            summary = result.summary
        finally:
            rt.close()
        counters = proxy.counters()
        sent = bytes(proxy.to_host.recorded or b"")
    wall = time.monotonic() - started
    link = summary["link"]
    did = {
        k: counters["to_host"][k] + counters["to_board"][k]
        for k in ("dropped", "corrupted", "duplicated", "delayed")
    }
    taken = sessions[-1].frames_taken or []
    return {
        "row": row.label,
        "retries max": row.retries,
        "seed": seed,
        "units": counters["to_host"]["units"] + counters["to_board"]["units"],
        **did,
        "retried": link["retries"],
        "lost": link["frames_lost"],
        "crc": link["crc_errors"],
        "dups": link["duplicates_dropped"],
        "used=sent": "yes" if _used_equals_sent(taken, sent) else "NO",
        "board_errs": summary["link_errors"],
        "rf_errs": result.telemetry[-1]["rf_errors"] if result.telemetry else 0,
        "outcome": summary["outcome"],
        "sim hash": "=" if summary["telemetry_sha256"] == sim_sha else "differs",
        "p50/p99 ms": f"{link['tick_rtt_ms']['p50']}/{link['tick_rtt_ms']['p99']}",
        "wall s": round(wall, 1),
    }


def link_lost_timing(s: Scenario, settings: LinkSettings) -> tuple[float, str]:
    """Seconds from freezing the board (SIGSTOP, 100 ticks in) to the end of the run."""
    with UnixPtyBoard() as board:
        stopped: list[float] = []
        count = [0]

        def on_tick(t_s: float, altitude_m: float) -> None:
            count[0] += 1
            if count[0] == 100:
                stopped.append(time.monotonic())
                board.pause()

        rt = SerialRuntime(open_port(board.path or ""), "hil")
        try:
            summary = run_hil(s, rt, settings=settings, on_tick=on_tick).summary
        finally:
            rt.close()
        return time.monotonic() - stopped[0], summary["outcome"]


def _print(rows: list[dict[str, object]], markdown: bool) -> None:
    keys = list(rows[0])
    if markdown:
        print("| " + " | ".join(keys) + " |")
        print("|" + "|".join("---" for _ in keys) + "|")
        for r in rows:
            print("| " + " | ".join(str(r[k]) for k in keys) + " |")
        return
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="earth-hopper")
    ap.add_argument("--reply-timeout", type=float, default=0.3)
    ap.add_argument("--m0", action="store_true", help="also rows on the emulated Cortex-M0")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    s = dispersed_run(load_scenario(args.scenario), None)
    settings = LinkSettings(reply_timeout_s=args.reply_timeout)
    sim_sha = str(run_scenario(s, "micropython").summary["telemetry_sha256"])
    load = os.getloadavg()[0]
    seeds = ", ".join(map(str, SEEDS))
    print(
        f"machine: {machine_name()}, load average {load:.1f} at the start; scenario {s.name}, "
        f"seed {s.seed}, reply timeout {args.reply_timeout} s; proxy seeds {seeds}"
    )
    rows = []
    for row in ROWS:
        for seed in SEEDS:
            with UnixPtyBoard() as board:
                rows.append(fly_row(s, row, board.path or "", settings, sim_sha, seed))
            print(rows[-1], file=sys.stderr, flush=True)
    if args.m0:
        for row in M0_ROWS:
            for seed in SEEDS:
                with EmulatedBoard(clock_mhz=16) as emu:
                    port = emu.start_link(wait_ms=EMULATED_HIL_WAIT_MS)
                    rows.append(fly_row(s, row, port, settings, sim_sha, seed))
                print(rows[-1], file=sys.stderr, flush=True)
    _print(rows, args.markdown)
    default = LinkSettings()
    took, outcome = link_lost_timing(s, default)
    print(
        f"\nboard frozen 100 ticks in, default settings ({default.reply_timeout_s:g} s x "
        f"{default.retries + 1} = {default.link_lost_after_s:g} s stated): {outcome} after "
        f"{took:.2f} s"
    )


if __name__ == "__main__":
    main()
