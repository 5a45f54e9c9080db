"""The firmware's per-tick modules hold their own copies of fsw.params ids, fsw.flags bits,
fsw.fixmath's tick masks, fsw.rangefinder's statuses and fsw.link's limits as
`_NAME = const(value)`: MicroPython
folds a module's own const at compile time, where `P.NAME` is a module attribute lookup at
every use (~15 us on a 16 MHz Cortex-M0). Those modules stay the one source of truth: every
copy equals its original."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from softland.boards.firmware import firmware_dir, fsw_module

MODULES = (
    "flight",
    "estimator",
    "control",
    "guidance",
    "landdet",
    "persist",
    "telemetry",
    "lrf",
    "lidarlite",
    "app",
)
SOURCES = ("params", "flags", "fixmath", "rangefinder", "link")


def _literal(node: ast.expr) -> int:
    """A literal, or a sum or difference of literals (-0x3FFFFFFF - 1: -2^30 written without
    forming 2^30, which is not a small int on a 32-bit port)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        left, right = _literal(node.left), _literal(node.right)
        return left + right if isinstance(node.op, ast.Add) else left - right
    return ast.literal_eval(node)


def local_consts(path: Path) -> dict[str, int]:
    """Every module-level `_NAME = const(<literal>)` of a firmware file."""
    found: dict[str, int] = {}
    for node in ast.parse(path.read_text()).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if not (isinstance(target, ast.Name) and target.id.startswith("_")):
            continue
        if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "const":
            found[target.id] = _literal(value.args[0])
    return found


def originals() -> dict[str, int]:
    """The public integer constants of the SOURCES modules, by name."""
    names: dict[str, int] = {}
    for source in SOURCES:
        module = fsw_module(source)
        for name, value in vars(module).items():
            if name.isupper() and type(value) is int:
                assert names.get(name, value) == value, f"{name} differs between sources"
                names[name] = value
    return names


@pytest.mark.parametrize("module", MODULES)
def test_every_local_copy_of_a_shared_constant_equals_the_original(module: str) -> None:
    shared = originals()
    copies = {
        name: value
        for name, value in local_consts(firmware_dir() / "fsw" / f"{module}.py").items()
        if name[1:] in shared
    }
    wrong = {name: (value, shared[name[1:]]) for name, value in copies.items()
             if value != shared[name[1:]]}  # fmt: skip
    assert not wrong, f"fsw/{module}.py: local copy != original: {wrong}"


def test_the_flight_modules_hold_local_copies() -> None:
    # the check above is not vacuous: the per-tick modules do use copies
    copies = local_consts(firmware_dir() / "fsw" / "flight.py")
    assert {"_PERIOD_MS", "_RANGE_GOOD", "_TICKS_MASK"} <= set(copies)
