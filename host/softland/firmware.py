"""Where the firmware lives, and importing its modules into the host (the CPython runtime)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from softland.errors import UserError


def firmware_dir() -> Path:
    """The firmware/ directory: $SOFTLAND_FIRMWARE, else the checkout this package lives in."""
    env = os.environ.get("SOFTLAND_FIRMWARE")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "firmware"
    if not (path / "fsw" / "__init__.py").is_file():
        raise UserError(
            f"firmware not found at {path} (expected fsw/__init__.py there); "
            "install softland from a checkout with `pip install -e .` or set SOFTLAND_FIRMWARE"
        )
    return path


def fsw_module(name: str) -> ModuleType:
    """Import firmware module `fsw.<name>` exactly as the board does (package `fsw` top-level).

    The firmware modules hold constants and classes only (no mutable module state), so one
    import serves every run in the process.
    """
    root = str(firmware_dir())
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"fsw.{name}")


def param_ids() -> dict[str, int]:
    """Parameter name (lower case, as in scenario files) -> id, read from fsw.params."""
    params = fsw_module("params")
    ids: dict[str, int] = {}
    for name, value in vars(params).items():
        if not name.isupper() or name.startswith("E_") or name in ("OK", "COUNT"):
            continue
        if isinstance(value, int) and 0 <= value < params.COUNT:
            ids[name.lower()] = value
    if len(ids) != params.COUNT:
        raise RuntimeError(f"fsw.params names {len(ids)} parameters, COUNT is {params.COUNT}")
    return ids
