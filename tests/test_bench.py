"""`softland bench` measures the closed loop and, at the end, the Monte Carlo on one core
(issue 13, "Speed"); the figures vary by machine, so only what is printed is checked."""

from __future__ import annotations

import re

from click.testing import CliRunner

from softland.cli import cli


def test_bench_ends_with_the_monte_carlo_runs_per_second_on_one_core() -> None:
    result = CliRunner().invoke(
        cli, ["bench", "--runtime", "cpython", "--repeats", "1", "--mc-runs", "2"]
    )
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert re.fullmatch(
        r"cpython\s+Monte Carlo\s+\d+\.\d\d runs/s/core \(2 dispersed runs of nominal, 1 worker\)",
        last,
    ), last


def test_bench_leaves_the_monte_carlo_out_with_zero_runs() -> None:
    result = CliRunner().invoke(
        cli, ["bench", "--runtime", "cpython", "--repeats", "1", "--mc-runs", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "Monte Carlo" not in result.output
    assert "closed-loop SIL" in result.output
