"""Processor in the loop: the firmware's per-tick cost on the emulated Cortex-M0.

A SIL run under CPython records what the host sends (frames) and answers (I2C replies); the
emulated board (softland.boards.emuboard) replays them into the firmware's App with
`mpside/pil_harness.py`, timing each component with the board's instruction-counted clock and
the heap locked over every call. The same harness under CPython gives the reference digests:
a component is bit-exact when what it computed, tick by tick, is the same on both.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import shutil
import struct
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

from softland.boards.emuboard import EmulatedBoard
from softland.boards.firmware import firmware_dir, fsw_module
from softland.boards.runtimes import CPythonRuntime
from softland.errors import UserError
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import fly

MPSIDE_DIR = Path(__file__).resolve().parents[1] / "boards" / "mpside"
HARNESS = "pil_harness"
# a LIDAR-Lite scenario (driver on I2C, replies replayed) and a long-range rangefinder one
DEFAULT_SCENARIOS = ("earth-hopper", "nominal")
DEFAULT_TICKS = 400
SEND, REPLY = 1, 2
# what each reported component is, in the order of the table
COMPONENT_NAMES = {
    "decode": "link decode of the host's frames",
    "lidarlite_bus": "LIDAR-Lite driver step (recorded bus replies)",
    "lrf_uart": "LRF driver step (recorded UART bytes)",
    "lidarlite": "LIDAR-Lite driver step over the link's I2C (SIL/HIL round trips)",
    "lrf": "LRF driver step over the link's UART (SIL/HIL)",
    "estimator": "estimator (predict + update)",
    "guidance": "guidance",
    "controller": "controller (step, burn, learn)",
    "land": "land detector",
    "flight": "Flight.tick",
    "persist": "persistence (Persist.save)",
    "telemetry": "telemetry packing and framing",
    "app_tick": "whole App tick, as the link delivers it",
}


class _Enough(Exception):
    """Raised from the recording runtime once the wanted ticks are recorded."""


class RecordingRuntime(CPythonRuntime):
    """The CPython runtime, keeping every frame the host sends and every answer it gives."""

    def __init__(self, max_ticks: int) -> None:
        self.records: list[tuple[int, bytes]] = []
        self._max_ticks = max_ticks
        self._ticks = 0
        self._t_tick = fsw_module("link").T_TICK
        super().__init__()

    def send(self, data: bytes) -> None:
        if data[3] == self._t_tick:
            if self._ticks >= self._max_ticks:
                raise _Enough
            self._ticks += 1
        self.records.append((SEND, bytes(data)))
        super().send(data)

    def reply(self, data: bytes) -> None:
        self.records.append((REPLY, bytes(data)))
        super().reply(data)


def record_inputs(scenario: str, ticks: int) -> bytes:
    """The host's side of the first `ticks` ticks of a SIL run (upload, ARM and START
    included), in the harness's input format."""
    s = load_scenario(scenario)
    rt = RecordingRuntime(ticks)
    try:
        fly(s, rt, s.seed)
    except _Enough:
        pass
    finally:
        rt.close()
    # the answers to one frame go in one record: the firmware reads them straight from the file
    merged: list[tuple[int, bytes]] = []
    for kind, data in rt.records:
        if kind == REPLY and merged and merged[-1][0] == REPLY:
            merged[-1] = (REPLY, merged[-1][1] + data)
        else:
            merged.append((kind, data))
    out = bytearray()
    for kind, data in merged:
        out += struct.pack("<BH", kind, len(data)) + data
    return bytes(out)


def _harness_module() -> ModuleType:
    fsw_module("app")  # the firmware package, imported as the board does
    fw = str(firmware_dir())
    if fw not in sys.path:
        sys.path.insert(0, fw)
    spec = importlib.util.spec_from_file_location(
        "softland_pil_harness", MPSIDE_DIR / f"{HARNESS}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cpython(inputs: Path) -> dict:
    return _harness_module().run(str(inputs), ("clean", "drivers"))


def run_board(board: EmulatedBoard, workdir: Path, inputs_name: str) -> dict:
    board.load_romfs(workdir)
    out = board.exec(f"import {HARNESS}\n{HARNESS}.main({inputs_name!r})")
    for line in out.splitlines():
        if line.startswith("PIL "):
            return json.loads(line[4:])
    raise RuntimeError(f"the PIL harness printed no result on the emulated board: {out[-2000:]}")


def _stage(workdir: Path) -> None:
    # what the board imports through the mount: the firmware core and the harness
    shutil.copytree(firmware_dir() / "fsw", workdir / "fsw")
    shutil.copy(MPSIDE_DIR / f"{HARNESS}.py", workdir)


@dataclass
class ComponentCost:
    name: str
    what: str
    us_per_call: float | None
    us_max: int | None
    calls_per_tick: float | None
    bit_exact: bool | None


@dataclass
class ScenarioCost:
    scenario: str
    ticks: int
    components: list[ComponentCost]
    faults: int
    output_bit_exact: bool


@dataclass
class PilResult:
    clock_mhz: int
    date: str
    machine: str
    image: str
    heap_after_import: int
    heap_after_app: int
    heap_peak: int
    allocations: int
    scenarios: list[ScenarioCost] = field(default_factory=list)


PASSES = ("clean", "outer", "inner", "drivers")
REPLAYED = ("lidarlite_bus", "lrf_uart")  # timed in the drivers pass, without wrappers


def _costs(board: dict, ref: dict) -> ScenarioCost:
    names = board["components"]
    timer = board["timer_us"]  # in every measured interval: subtracted
    clean = board["clean"]
    drivers = board["drivers"]
    comps = []
    for i, name in enumerate(names):
        exact = None
        if name == "app_tick":
            src, overhead = clean, timer
            exact = all(v == ref["clean"]["digests"][k] for k, v in clean["digests"].items())
        elif name == "decode":
            src, overhead = board["outer"], timer
            exact = clean["digests"]["decode"] == ref["clean"]["digests"]["decode"]
        elif name in REPLAYED:
            # bit-exact with CPython's replay, and the replay faithful to the driver in the App
            src, overhead = drivers, timer
            faithful = drivers["digests"][name.split("_")[0] + "_replay_ok"]
            exact = faithful and drivers["digests"][name] == ref["drivers"]["digests"][name]
        else:
            src = board["inner"] if board["inner"]["calls"][i] else board["outer"]
            overhead = timer
            key = "output" if name == "telemetry" else name
            exact = clean["digests"][key] == ref["clean"]["digests"][key]
        calls = src["calls"][i]
        ticks = src["ticks"]
        comps.append(
            ComponentCost(
                name=name,
                what=COMPONENT_NAMES.get(name, name),
                us_per_call=round(src["us_total"][i] / calls - overhead, 1) if calls else None,
                us_max=src["us_max"][i] - overhead if calls else None,
                calls_per_tick=round(calls / ticks, 2) if calls and ticks else None,
                bit_exact=exact if calls else None,
            )
        )
    faults = sum(board[p]["faults"] for p in PASSES)
    outputs = {board[p]["digests"]["output"] for p in PASSES}
    return ScenarioCost(
        scenario="",
        ticks=clean["ticks"],
        components=comps,
        faults=faults,
        output_bit_exact=outputs == {ref["clean"]["digests"]["output"]},
    )


def run_pil(
    clock_mhz: int = 16,
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS,
    ticks: int = DEFAULT_TICKS,
    image: str | None = None,
) -> PilResult:
    from softland.analysis.bench import machine_name

    if ticks < 1:
        raise UserError(f"--ticks {ticks}: at least one tick")
    result: PilResult | None = None
    with tempfile.TemporaryDirectory(prefix="softland-pil-") as tmp:
        workdir = Path(tmp)
        _stage(workdir)
        for name in scenarios:
            inputs = workdir / f"{name}.bin"
            inputs.write_bytes(record_inputs(name, ticks))
            ref = run_cpython(inputs)
            with EmulatedBoard(clock_mhz, image) as board:
                raw = run_board(board, workdir, inputs.name)
            inputs.unlink()  # the next scenario's ROMFS does not carry this one
            if result is None:
                result = PilResult(
                    clock_mhz=clock_mhz,
                    date=datetime.date.today().isoformat(),
                    machine=machine_name(),
                    image=str(board.image.name),
                    heap_after_import=raw["heap_import"] - raw["heap_boot"],
                    heap_after_app=raw["heap_app"] - raw["heap_boot"],
                    heap_peak=raw["heap_peak"] - raw["heap_boot"],
                    allocations=0,
                )
            cost = _costs(raw, ref)
            cost.scenario = name
            result.heap_peak = max(result.heap_peak, raw["heap_peak"] - raw["heap_boot"])
            result.heap_after_app = max(result.heap_after_app, raw["heap_app"] - raw["heap_boot"])
            # every timed call ran with the heap locked: an allocation would have raised
            # MemoryError and been counted as a fault
            result.allocations += cost.faults
            result.scenarios.append(cost)
    assert result is not None
    return result


def to_json(result: PilResult) -> str:
    return json.dumps(asdict(result), indent=2)


def format_table(result: PilResult) -> str:
    """A Markdown table: one row per component, a column pair per scenario."""
    names = [s.scenario for s in result.scenarios]
    head = "| component | " + " | ".join(f"{n}: us/call (max) | calls/tick" for n in names)
    head += " | bit-exact |"
    sep = "|---|" + "---|---|" * len(names) + "---|"
    rows = [head, sep]
    for i, comp in enumerate(result.scenarios[0].components):
        cells = []
        exact: list[bool] = []
        for s in result.scenarios:
            c = s.components[i]
            if c.us_per_call is None:
                cells += ["-", "-"]
                continue
            cells += [f"{c.us_per_call:.0f} ({c.us_max})", f"{c.calls_per_tick:g}"]
            if c.bit_exact is not None:
                exact.append(c.bit_exact)
        ok = "-" if not exact else ("yes" if all(exact) else "**no**")
        rows.append(f"| {comp.what} | " + " | ".join(cells) + f" | {ok} |")
    return "\n".join(rows)


def format_summary(result: PilResult) -> str:
    lines = [
        f"emulated Cortex-M0 at {result.clock_mhz} MHz (QEMU microbit, {result.image}); "
        f"host {result.machine}; {result.date}",
        f"heap: {result.heap_after_import} B after import, {result.heap_after_app} B with the "
        f"App built, peak {result.heap_peak} B; allocations under the heap lock: "
        f"{result.allocations}",
    ]
    for s in result.scenarios:
        app = next(c for c in s.components if c.name == "app_tick")
        lines.append(
            f"{s.scenario}: {s.ticks} ticks, App tick {app.us_per_call:.0f} us mean, "
            f"{app.us_max} us max; faults {s.faults}; outputs bit-exact with CPython: "
            f"{'yes' if s.output_bit_exact else 'NO'}"
        )
    return "\n".join(lines)
