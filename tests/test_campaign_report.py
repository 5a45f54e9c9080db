"""The campaign report: readable factor names, the p99 warning, a self-contained page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from softland.analysis.campaign_report import (
    FACTOR_NAMES,
    active_draws,
    factor_label,
    percentile_warning,
    render_campaign,
)
from softland.simulation.mc import DRAW_COLUMNS, RUN_COLUMNS, run_campaign, write_campaign
from softland.simulation.scenario import load_scenario

HOPPER = load_scenario("earth-hopper")


def test_every_dispersion_column_has_a_readable_name() -> None:
    assert set(DRAW_COLUMNS) <= set(FACTOR_NAMES)
    assert factor_label("thrust_factor") == "engine thrust (x nominal)"


@pytest.mark.parametrize(("runs", "warned"), [(10, True), (299, True), (300, False)])
def test_a_p99_needs_three_runs_beyond_it(runs: int, warned: bool) -> None:
    assert (percentile_warning(runs) is not None) == warned


def test_the_fault_timing_draw_counts_only_where_a_fault_is_moved() -> None:
    # nominal disperses the fault timing but has no fault: the draw changes nothing, so it
    # is not ranked (a rank correlation of noise would read as a cause)
    nominal, beresheet = (load_scenario(n) for n in ("nominal", "beresheet"))
    assert nominal.dispersions.fault_time_sigma_s > 0 and not nominal.faults

    class C:
        def __init__(self, scenario) -> None:  # type: ignore[no-untyped-def]
            self.scenario = scenario

    assert "fault_shift_s" not in active_draws(C(nominal))  # type: ignore[arg-type]
    assert "fault_shift_s" in active_draws(C(beresheet))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def small_campaign_page() -> str:
    campaign = run_campaign(HOPPER, runs=4, seed=1, runtime="cpython", workers=1)
    return render_campaign(campaign)


def test_a_small_campaign_page_warns_that_its_p99_is_not_one(small_campaign_page: str) -> None:
    assert "too few for a p99" in small_campaign_page


def test_the_campaign_page_stands_alone(small_campaign_page: str) -> None:
    assert small_campaign_page.startswith("<!DOCTYPE html>") and "<svg" in small_campaign_page
    assert "<script" not in small_campaign_page
    assert re.findall(r"(?:src|href)=[\"']https?://", small_campaign_page) == []


def test_the_campaign_page_has_the_outcome_table(small_campaign_page: str) -> None:
    assert "<h2>Outcomes</h2>" in small_campaign_page
    assert "<td>landed</td>" in small_campaign_page


def test_the_campaign_page_says_what_the_delta_v_ratio_is_against(
    small_campaign_page: str,
) -> None:
    assert "delta_v_ratio_p50 (against the variable-mass optimum)" in small_campaign_page
    assert "delta_v_ratio_closed_form_p50 (against the closed form" in small_campaign_page


def test_runs_csv_gives_the_true_optimum_before_the_closed_form() -> None:
    assert RUN_COLUMNS.index("delta_v_ratio") < RUN_COLUMNS.index("delta_v_optimal_mps")


def test_mc_writes_the_report_beside_runs_csv(tmp_path: Path) -> None:
    campaign = run_campaign(HOPPER, runs=2, seed=1, runtime="cpython", workers=1)
    paths = write_campaign(campaign, tmp_path)
    assert paths["report"] == tmp_path / "report.html" and paths["report"].is_file()
