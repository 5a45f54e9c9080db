"""The scenario and board loaders fuzzed with hypothesis: every mutation of a valid file
(a line deleted, a value replaced by another type, an out-of-range, NaN, infinite or huge
number, an unknown key, a table where a value belongs) either loads or raises UserError with
one line naming the field; never another exception.

Derandomized, so CI sees the same cases every run. SOFTLAND_PROP_EXAMPLES=N draws N cases per
property instead of the CI default, for a larger run.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from softland.boards.catalog import boards_dir, load_board
from softland.errors import UserError
from softland.simulation.scenario import parse_scenario

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((REPO / "host/softland/simulation/scenarios").glob("*.toml"))
BOARDS = sorted(boards_dir().glob("*.toml"))
EXAMPLES = int(os.environ.get("SOFTLAND_PROP_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
KEY_LINE = re.compile(r"^(\s*)([A-Za-z0-9_\-]+)(\s*=\s*)(.*)$")

# TOML literals of every kind, in and out of range
VALUES = st.one_of(
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "-0.0",
            "0",
            "-1",
            "1e308",
            "-1e308",
            "9223372036854775807",
            "-9223372036854775808",
            "true",
            "false",
            '""',
            '"x"',
            '"nominal"',
            "[]",
            "[1, 2]",
            '["a", 1.5]',
            "{}",
            "{ a = 1 }",
            "1979-05-27T07:32:00Z",
            "[[1], [2]]",
        ]
    ),  # fmt: skip
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False).map(repr),
    st.text(alphabet="abc[]{}\\ _-", max_size=8).map(lambda t: '"' + t.replace("\\", "") + '"'),
)


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> tuple[str, str | None]:
    """A file's text with 1-3 mutations; the key whose value was last replaced, if any."""
    lines = draw(st.sampled_from(texts)).splitlines()
    replaced = None
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "value", "unknown", "table", "header"]))
        m = KEY_LINE.match(lines[i])
        if kind == "delete":
            del lines[i]
            if not lines:
                lines = [""]
        elif kind == "value" and m:
            lines[i] = m.group(1) + m.group(2) + m.group(3) + draw(VALUES)
            replaced = m.group(2)
        elif kind == "unknown":
            lines.insert(i, f"zz_unknown_{i} = {draw(VALUES)}")
        elif kind == "table" and m:
            lines[i] = f"{m.group(1)}{m.group(2)}{m.group(3)}{{ {m.group(2)} = {draw(VALUES)} }}"
            replaced = m.group(2)
        elif kind == "header":
            lines.insert(i, draw(st.sampled_from(["[vehicle]", "[[faults]]", "[zz]", "[lrf]"])))
    return "\n".join(lines) + "\n", replaced


def _check_one_line(exc: UserError, where: str) -> str:
    message = str(exc)
    assert "\n" not in message, message
    assert message.strip(), "empty message"
    assert where in message, message
    # names what was wrong: a quoted field, key or value, a [section], or the TOML error
    assert re.search(r"'[^']+'|\[[\w.]+\]|not valid TOML", message), message
    return message


@FUZZ
@given(case=mutated([p.read_text() for p in SCENARIOS]))
def test_a_mutated_scenario_loads_or_is_one_user_error(case: tuple[str, str | None]) -> None:
    text, _ = case
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)  # not TOML: load_scenario_file's one line (tests/test_cli.py)
    try:
        parse_scenario(raw, "fuzz.toml")
    except UserError as exc:
        _check_one_line(exc, "fuzz.toml")


@FUZZ
@given(
    case=mutated([p.read_text() for p in BOARDS]), stem=st.sampled_from([p.stem for p in BOARDS])
)
def test_a_mutated_board_file_loads_or_is_one_user_error(
    case: tuple[str, str | None], stem: str
) -> None:
    text, _ = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{stem}.toml"
        path.write_text(text)
        try:
            load_board(str(path))
        except UserError as exc:
            _check_one_line(exc, str(path))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1e308"])
def test_a_non_finite_or_negative_huge_vehicle_mass_names_the_field(value: str) -> None:
    text = (REPO / "host/softland/simulation/scenarios/nominal.toml").read_text()
    raw = tomllib.loads(re.sub(r"(?m)^mass_kg = .*$", f"mass_kg = {value}", text, count=1))
    with pytest.raises(UserError, match="mass_kg"):
        parse_scenario(raw, "fuzz.toml")


def test_a_board_file_that_is_not_utf8_text_is_one_user_error(tmp_path: Path) -> None:
    path = tmp_path / "pico.toml"
    path.write_bytes(b'name = "pico"\n\xff\xfe\x00 garbage')
    with pytest.raises(UserError, match="not a board file"):
        load_board(str(path))
