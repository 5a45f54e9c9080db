"""Where the firmware lives, and importing its modules into the host (the CPython runtime)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from softland.errors import UserError


def firmware_dir() -> Path:
    """The firmware/ directory: $SOFTLAND_FIRMWARE, else the checkout this package lives in."""
    env = os.environ.get("SOFTLAND_FIRMWARE")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "firmware"
    if not (path / "fsw" / "__init__.py").is_file():
        raise UserError(
            f"firmware not found at {path} (expected fsw/__init__.py there); "
            "install softland from a checkout with `pip install -e .` or set SOFTLAND_FIRMWARE"
        )
    return path


def _firmware_package(package: str) -> None:
    """Make the firmware's top-level package importable, found by spec in the firmware
    directory (the directory itself is kept off sys.path)."""
    if package in sys.modules:
        return
    root = firmware_dir()
    spec = importlib.machinery.PathFinder.find_spec(package, [str(root)])
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import the firmware package {package} from {root}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[package]
        raise


def fsw_module(name: str) -> ModuleType:
    """Import firmware module `fsw.<name>` exactly as the board does (package `fsw` top-level).

    Only the `fsw` package is made importable (found by spec in the firmware directory); the
    directory is not put on sys.path, so the board entry files (main.py, code.py) can never
    shadow host modules such as the standard library's `code`. The firmware modules hold
    constants and classes only (no mutable module state), so one import serves every run.
    """
    _firmware_package("fsw")
    return importlib.import_module(f"fsw.{name}")


def hal_module(name: str) -> ModuleType:
    """Firmware module `hal.<name>`, imported as fsw_module imports `fsw.<name>`."""
    fsw_module("app")  # hal modules import fsw
    _firmware_package("hal")
    return importlib.import_module(f"hal.{name}")


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


# What ends a parameter's range where an arithmetic limit of the flight code (not physics or a
# sensor) sets it: said when an upload is refused, so that the ground segment knows why
PARAM_LIMITS: dict[str, str] = {
    "sigma0_mm": (
        "the altitude uncertainty is held within 6 km in flight (fsw/estimator.py) so that the "
        "guidance bound NSIGMA_Q4 x sigma stays below 2^30 on a 32-bit board"
    ),
}


def param_range_error(name: str, value: int) -> str | None:
    """Why the firmware would refuse `name = value` at upload (SET_PARAM E_RANGE), or None
    when the value lies within its range (fsw/params.py)."""
    params = fsw_module("params")
    pid = param_ids()[name]
    low, high = params.bounds_min(pid), params.bounds_max(pid)
    if low <= value <= high:
        return None
    limit = PARAM_LIMITS.get(name, "fsw/params.py")
    return f"{name} = {value} is outside the firmware's range [{low}, {high}]: {limit}"
