"""`softland campaign`: the scenario table of docs/scenarios.md flown and written by one
command, resumed where it stopped, and put between the markers of the docs."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from softland.analysis.campaign_table import BEGIN, END, HEADER, check_docs, replace_block
from softland.cli import cli
from softland.errors import UserError
from softland.simulation import campaigns
from softland.simulation.campaigns import (
    BASELINES,
    Entry,
    current_code,
    done_summary,
    provenance,
    select_entries,
    table_entries,
)
from softland.simulation.scenario import builtin_names

SMALL = ["campaign", "--runs", "2", "--only", "nominal", "earth-hopper", "--quiet"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"


def _campaign(out: Path, *extra: str) -> str:
    result = CliRunner().invoke(cli, [*SMALL, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-run table of nominal and earth-hopper, flown once for the module."""
    out = tmp_path_factory.mktemp("campaign")
    _campaign(out)
    return out


def test_the_table_is_every_builtin_with_the_firmware_and_each_baseline_on_its_mission() -> None:
    entries = table_entries()
    assert {e.scenario for e in entries if e.controller == "firmware"} == set(builtin_names())
    assert {(e.scenario, e.controller) for e in entries if e.controller != "firmware"} == set(
        BASELINES
    )


def test_a_baseline_row_follows_its_scenario_s_firmware_row() -> None:
    names = [e.name for e in table_entries()]
    assert names.index("ispace-m2-naive") == names.index("ispace-m2") + 1


def test_only_a_scenario_selects_its_firmware_row_and_its_baselines() -> None:
    chosen = select_entries(table_entries(), ["ispace-m2"])
    assert chosen == [Entry("ispace-m2"), Entry("ispace-m2", "naive")]


def test_only_a_campaign_name_selects_that_row() -> None:
    assert select_entries(table_entries(), ["ispace-m2-naive"]) == [Entry("ispace-m2", "naive")]


def test_only_an_unknown_name_is_refused() -> None:
    with pytest.raises(UserError, match="unknown scenario 'nosuch' in --only"):
        select_entries(table_entries(), ["nominal", "nosuch"])


def test_a_small_campaign_writes_the_table(small: Path) -> None:
    text = (small / "campaign.md").read_text()
    assert HEADER in text
    assert "| earth-hopper | firmware | 2 |" in text
    assert "| nominal | firmware | 2 |" in text
    assert current_code("cpython", None).short_commit in text


def test_the_table_s_json_has_each_campaign_flown(small: Path) -> None:
    table = json.loads((small / "campaign.json").read_text())
    assert [c["name"] for c in table["campaigns"]] == ["earth-hopper", "nominal"]
    assert (table["runs"], table["seed"], table["runtime"]) == (2, 1, "cpython")
    assert "ispace-m2-naive" in table["missing"]


def test_each_campaign_has_mc_s_outputs(small: Path) -> None:
    for name in ("nominal", "earth-hopper"):
        assert {p.name for p in (small / name).iterdir()} >= {
            "summary.json",
            "runs.csv",
            "report.html",
            "dispersion.png",
        }


def test_resume_skips_the_campaigns_already_done(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_fly(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("flew a campaign already done")

    monkeypatch.setattr(campaigns, "run_campaign", must_not_fly)
    _campaign(small)
    assert "| nominal | firmware | 2 |" in (small / "campaign.md").read_text()


@pytest.mark.parametrize(
    "change",
    [{"runs": 3}, {"seed": 2}, {"runtime": "micropython"}],
    ids=["runs", "seed", "runtime"],
)
def test_a_campaign_flown_otherwise_is_not_done(small: Path, change: dict[str, Any]) -> None:
    key = provenance(Entry("nominal"), current_code("cpython", None), 2, 1, "cpython")
    assert done_summary(small / "nominal", key) is not None
    assert done_summary(small / "nominal", replace(key, **change)) is None


def test_a_campaign_flown_at_another_commit_with_the_same_code_is_done_and_named(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "table"
    shutil.copytree(small, out)
    summary_path = out / "nominal" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["provenance"]["commit"] = "abcdef0123" + "0" * 30
    summary_path.write_text(json.dumps(summary))

    def must_not_fly(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("flew again a campaign flown with the same code")

    monkeypatch.setattr(campaigns, "run_campaign", must_not_fly)
    _campaign(out)
    text = (out / "campaign.md").read_text()
    current = current_code("cpython", None).short_commit
    assert f"at commits {', '.join(sorted(['abcdef0123', current]))} (the table written at" in text


def test_a_campaign_flown_with_other_firmware_is_not_done(small: Path) -> None:
    code = current_code("cpython", None)
    other = replace(code, fingerprint={**code.fingerprint, "firmware": "0" * 64})
    assert (
        done_summary(small / "nominal", provenance(Entry("nominal"), other, 2, 1, "cpython"))
        is None
    )


def test_write_docs_replaces_only_between_the_markers(small: Path, tmp_path: Path) -> None:
    docs = tmp_path / "scenarios.md"
    docs.write_text(f"# before\n\ntext\n{BEGIN}\n| old | table |\n{END}\nafter\n")
    _campaign(small, "--write-docs", str(docs))
    text = docs.read_text()
    head, rest = text.split(BEGIN)
    block, tail = rest.split(END)
    assert (head, tail) == ("# before\n\ntext\n", "\nafter\n")
    assert "| old | table |" not in block
    assert block.strip() in (small / "campaign.md").read_text()


def test_replacing_the_block_twice_is_replacing_it_once() -> None:
    text = f"a\n{BEGIN}\nold\n{END}\nb\n"
    once = replace_block(text, "new\n")
    assert replace_block(once, "new\n") == once == f"a\n{BEGIN}\nnew\n{END}\nb\n"


def test_the_scenario_catalogue_has_the_markers() -> None:
    check_docs(DOCS)


def test_a_marker_quoted_in_prose_is_not_a_marker() -> None:
    text = f"the lines `{BEGIN}` and `{END}`\n{BEGIN}\nold\n{END}\n"
    assert replace_block(text, "new") == f"the lines `{BEGIN}` and `{END}`\n{BEGIN}\nnew\n{END}\n"
