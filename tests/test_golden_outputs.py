"""What `softland sim` writes for a few scenarios and seeds, pinned byte for byte
(tests/golden_outputs.json: SHA-256 of telemetry.csv, events.json, summary.json, inputs.bin,
params.json under CPython, from benchmarks/output_digests.py). tests/golden_telemetry.json pins
the firmware's telemetry fields; this pins the host's side as well (the true state, the
sensors' samples, the bytes sent): work on speed leaves both as they are. A change that moves
the flight on purpose writes both anew:

    PYTHONPATH=host python3 benchmarks/output_digests.py > tests/golden_outputs.json
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PINNED = json.loads((ROOT / "tests" / "golden_outputs.json").read_text())


def _digests_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "output_digests", ROOT / "benchmarks" / "output_digests.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


DIGESTS = _digests_module()


def test_every_pinned_flight_is_in_the_default_set() -> None:
    assert sorted(PINNED) == sorted(f"{name}@{seed}" for name, seed in DIGESTS.FLIGHTS)


@pytest.mark.parametrize("key", sorted(PINNED))
def test_the_outputs_of_the_flight_are_as_pinned(key: str) -> None:
    name, seed = key.split("@")
    assert DIGESTS.digests(name, int(seed), "cpython") == PINNED[key], (
        f"what softland sim writes for {key} moved: if on purpose, "
        "PYTHONPATH=host python3 benchmarks/output_digests.py > tests/golden_outputs.json"
    )
