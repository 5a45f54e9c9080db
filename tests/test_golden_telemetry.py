"""What the firmware computes is pinned per built-in scenario (tests/golden_telemetry.py): work
that must not change the flight, such as making the tick cheaper, leaves every digest as it
is; work that changes the flight on purpose writes the file anew, and its diff names the
scenarios that moved."""

from __future__ import annotations

import json

import pytest
from golden_telemetry import GOLDEN, fly

from softland.simulation.scenario import builtin_names

PINNED = json.loads(GOLDEN.read_text())


def test_every_built_in_scenario_is_pinned() -> None:
    assert sorted(PINNED) == sorted(builtin_names())


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_firmware_flies_the_scenario_as_pinned(name: str) -> None:
    assert fly(name) == PINNED[name], (
        f"the firmware's telemetry of {name} moved: if on purpose, "
        "PYTHONPATH=host python3 tests/golden_telemetry.py --write"
    )
