"""`softland drop capture --blinka ft232h|mcp2221`: the LIDAR-Lite read straight from a laptop
through a USB-I2C adapter and Adafruit Blinka's ``busio.I2C``, with the bounded Adafruit
driver (firmware/hal/bounded_lidarlite.py), no board needed.

The driver reads every register with ``writeto`` then ``readfrom_into`` (a STOP between the
register-pointer write and the read), never ``writeto_then_readfrom``: Blinka's FT232H and
MCP2221 send a repeated START there, and a LIDAR-Lite v3 answers that with zeros (a STATUS of
0x00: "System failure" on every reading). Blinka is an optional extra (``pip install
adafruit-blinka`` plus ``pyftdi`` for the FT232H or ``hidapi`` for the MCP2221); without it, or
without the adapter, the command says so in one line.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from softland.boards.firmware import firmware_dir
from softland.drop.capture import F_BIAS, F_BUS_ERROR, F_TIMEOUT, DropCapture
from softland.errors import UserError

ADAPTERS = {"ft232h": "BLINKA_FT232H", "mcp2221": "BLINKA_MCP2221"}
ADDR = 0x62
MODULE_NAME = "softland_firmware_bounded_lidarlite"


def bounded_module() -> ModuleType:
    """firmware/hal/bounded_lidarlite.py, imported once (it needs adafruit_lidarlite)."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(
        MODULE_NAME, firmware_dir() / "hal" / "bounded_lidarlite.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def open_blinka_i2c(adapter: str, frequency: int = 400_000) -> Any:
    """busio.I2C on the named adapter; UserError when Blinka or the adapter is missing."""
    if adapter not in ADAPTERS:
        raise UserError(f"unknown adapter {adapter!r}; use one of {', '.join(ADAPTERS)}")
    os.environ[ADAPTERS[adapter]] = "1"  # Blinka picks its board from this at import
    if importlib.util.find_spec("board") is None or importlib.util.find_spec("busio") is None:
        raise UserError(
            "Adafruit Blinka is not installed: pip install adafruit-blinka "
            f"({'pyftdi' if adapter == 'ft232h' else 'hidapi'} too for the {adapter.upper()})"
        )
    extra = "pyftdi" if adapter == "ft232h" else "hidapi"
    try:
        import board
        import busio

        return busio.I2C(board.SCL, board.SDA, frequency=frequency)
    except ModuleNotFoundError as exc:
        raise UserError(
            f"Blinka's {adapter.upper()} support is not installed: pip install {extra} ({exc})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - Blinka's and pyftdi's errors vary: one line
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"no {adapter.upper()} adapter found through Blinka: {detail}") from None


def _probe_variant(i2c: Any) -> str:
    """HW version (0x41) with a STOP between pointer and read: > 0 on a v3, 0 on a v3HP."""
    buf = bytearray(1)
    while not i2c.try_lock():
        pass
    try:
        i2c.writeto(ADDR, bytes([0x41]))
        i2c.readfrom_into(ADDR, buf)
    except OSError as exc:
        raise UserError(f"no LIDAR-Lite answers at 0x{ADDR:02x} on the adapter: {exc}") from None
    finally:
        i2c.unlock()
    if buf[0] == 0xFF:
        raise UserError(f"no LIDAR-Lite at 0x{ADDR:02x}: the bus reads 0xFF (pulled up, empty)")
    return "v3hp" if buf[0] == 0 else "v3"


def _perf_us() -> int:
    return time.perf_counter_ns() // 1000


def blinka_capture(
    i2c: Any,
    samples: int,
    source: str,
    clock_us: Callable[[], int] = _perf_us,
    driver: Any = None,
    i2c_hz: int = 0,
) -> DropCapture:
    """``samples`` readings back to back through the bounded driver on a busio-style bus."""
    variant = _probe_variant(i2c)
    lidar_mod = bounded_module()
    import adafruit_lidarlite as stock

    cls = driver if driver is not None else lidar_mod.BoundedLIDARLite
    lidar = cls(
        i2c,
        max_polls=200,
        timeout_ms=50,
        clock_ms=lambda: clock_us() // 1000,
        sensor_type=stock.TYPE_V3HP if variant == "v3hp" else stock.TYPE_V3,
    )
    cols = np.zeros((samples, 5), dtype=np.int64)
    errors = timeouts = 0
    for i in range(samples):
        t = clock_us()
        flags = 0
        cm = 0
        try:
            cm = int(lidar.distance)
            status = int(lidar._status)
        except RuntimeError as exc:  # no peak, secondary return, system failure, busy timeout
            status = int(getattr(lidar, "_status", 0xFF))
            if "busy timeout" in str(exc):
                flags |= F_TIMEOUT
                timeouts += 1
            else:
                cm = 1  # a reading the driver refused: no usable distance
        except OSError:
            flags |= F_BUS_ERROR
            errors += 1
            status = 0xFF
        if variant == "v3" and lidar._bias_count == 100:  # distance took its bias reading
            flags |= F_BIAS
        cols[i] = (t, clock_us() - t, cm, status, flags)
    return DropCapture(
        variant=variant,
        source=source,
        t_us=cols[:, 0] - cols[0, 0],
        dt_us=cols[:, 1],
        distance_cm=cols[:, 2],
        status=cols[:, 3],
        flags=cols[:, 4],
        i2c_hz=i2c_hz or int(getattr(i2c, "frequency", 0) or 0),
        bus_errors=errors,
        timeouts=timeouts,
    )
