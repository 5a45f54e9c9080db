"""The "32-bit SIL" table of docs/benchmarks.md: every built-in scenario flown on the 64-bit
MicroPython unix port (PyPI) and on the 32-bit one (shared/pil/), heap locked on both, as
`softland sim NAME` flies it (the scenario's seed, dispersed where it disperses).

    PYTHONPATH=host python3 benchmarks/runtimes32.py [--baselines none|missions|all]

One Markdown row per flight: telemetry hash on each port (first 16 hex digits; "equal"
compares the whole hash), faults on each, ticks, outcome. --baselines adds the baseline
controllers: missions (default) the three that reproduce the missions, all every baseline on
every scenario. Exits 1 when a row differs or faults.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from softland.analysis.bench import machine_name
from softland.boards.runtimes import resolve_runtime
from softland.simulation.dispersions import dispersed_run
from softland.simulation.scenario import builtin_names, load_scenario
from softland.simulation.sim import run_scenario

MISSION_BASELINES = [("ispace-m2", "naive"), ("ispace-m1", "latching"), ("beresheet", "volatile")]
BASELINES = ("naive", "latching", "volatile")
HEADER = (
    "| scenario | controller | sha256 on micropython (64-bit) | sha256 on micropython32 "
    "| equal | faults 64 / 32 | ticks | outcome |\n"
    "|---|---|---|---|---|---|---|---|"
)


def flights(baselines: str) -> list[tuple[str, str]]:
    rows = [(name, "firmware") for name in builtin_names()]
    if baselines == "missions":
        rows += MISSION_BASELINES
    elif baselines == "all":
        rows += [(name, c) for c in BASELINES for name in builtin_names()]
    return rows


def fly(name: str, controller: str, runtime: str, binary: str | None) -> dict:
    scenario = dispersed_run(load_scenario(name))
    return run_scenario(scenario, runtime, micropython=binary, controller=controller).summary


def row(name: str, controller: str, on64: dict, on32: dict) -> tuple[str, bool]:
    equal = on64["telemetry_sha256"] == on32["telemetry_sha256"]
    ok = equal and on64["faults"] == 0 and on32["faults"] == 0
    return (
        f"| {name} | {controller} | `{on64['telemetry_sha256'][:16]}` "
        f"| `{on32['telemetry_sha256'][:16]}` | {'yes' if equal else '**no**'} "
        f"| {on64['faults']} / {on32['faults']} | {on32['ticks']} | {on32['outcome']} |",
        ok,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baselines", choices=("none", "missions", "all"), default="missions")
    args = parser.parse_args()
    _, mp64 = resolve_runtime("micropython")
    _, mp32 = resolve_runtime("micropython32")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now}, {machine_name()}\n")
    print(HEADER)
    all_ok = True
    for name, controller in flights(args.baselines):
        line, ok = row(
            name,
            controller,
            fly(name, controller, "micropython", mp64),
            fly(name, controller, "micropython32", mp32),
        )
        all_ok &= ok
        print(line, flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
