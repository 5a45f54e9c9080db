"""firmware/drop.py imported under CPython, as the board runs it (fsw importable first)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from softland.boards.firmware import firmware_dir, fsw_module

MODULE_NAME = "softland_firmware_drop"


def drop_module() -> ModuleType:
    """The firmware's drop app (firmware/drop.py) as a module; imported once."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    fsw_module("link")  # makes the `fsw` package importable, as on the board
    path = firmware_dir() / "drop.py"
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module
