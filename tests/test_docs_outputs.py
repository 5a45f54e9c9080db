"""docs/outputs.md documents what a run writes, and docs/ cite only this repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from softland.analysis.report import write_outputs
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import run_scenario

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    write_outputs(run_scenario(load_scenario("earth-hopper"), "cpython"), out)
    return out


def _documented() -> set[str]:
    return set(re.findall(r"`([a-z0-9_]+)`", (DOCS / "outputs.md").read_text()))


def test_every_summary_field_is_documented(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) - _documented() == set()


def test_every_host_telemetry_column_is_documented(run_dir: Path) -> None:
    header = (run_dir / "telemetry.csv").read_text().splitlines()[0].split(",")
    host_columns = header[: header.index("tick")] + header[header.index("flags2") + 1 :]
    assert set(host_columns) - _documented() == set()


def test_every_event_field_is_documented(run_dir: Path) -> None:
    events = json.loads((run_dir / "events.json").read_text())
    assert events, "the hopper's run sends events"
    assert set().union(*events) - _documented() == set()


def test_events_carry_the_time_they_came_with(run_dir: Path) -> None:
    events = json.loads((run_dir / "events.json").read_text())
    times = [e["time_us"] for e in events]
    assert times == sorted(times)
    assert max(e["t_s"] for e in events) > 0


def test_docs_cite_no_file_outside_the_repository() -> None:
    cited = [
        (doc.name, m.group(0))
        for doc in DOCS.glob("*.md")
        for m in re.finditer(r"shared/(reference|DESIGN)\S*", doc.read_text())
    ]
    assert cited == []


def test_the_html_report_stands_alone(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    # nothing to fetch: no script, no external source or link (the SVG namespace is a name)
    assert "<script" not in page
    assert re.findall(r"(?:src|href)=[\"']https?://", page) == []


def test_the_html_report_lists_every_event_and_the_counters(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    events = json.loads((run_dir / "events.json").read_text())
    assert page.count("<tr><td class='num'>") >= len(events)
    for name in {e["name"] for e in events} - {"mode"}:
        assert name in page
    assert "frames the firmware&#x27;s decoder dropped" in page


def test_the_html_report_says_what_the_delta_v_ratio_is_against(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    assert "delta_v_ratio (against the variable-mass optimum)" in page
    assert "delta_v_ratio_closed_form (against the closed form: a cross-check)" in page


def test_the_summary_gives_the_true_optimum_before_the_closed_form(run_dir: Path) -> None:
    keys = list(json.loads((run_dir / "summary.json").read_text()))
    assert keys.index("delta_v_ratio") < keys.index("delta_v_optimal_mps")


@pytest.mark.parametrize(
    ("summary", "label"),
    [
        (
            {"delta_v_optimal_variable_mass_mps": 158.9, "delta_v_optimal_mps": 161.7},
            "variable-mass optimum 158.9",
        ),
        ({"delta_v_optimal_variable_mass_mps": None, "delta_v_optimal_mps": 161.7},
         "closed-form optimum 161.7"),
    ],
    ids=["true-optimum", "closed-form-only"],
)  # fmt: skip
def test_the_descent_figure_names_the_optimum_of_its_delta_v(
    summary: dict[str, float | None], label: str
) -> None:
    from softland.analysis.descent_plot import delta_v_text

    assert delta_v_text({"delta_v_mps": 170.8, **summary}) == f", delta-v 170.8 ({label}) m/s"
