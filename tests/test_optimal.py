"""The 1-D fuel-optimal reference reproduces the published numbers."""

from __future__ import annotations

import pytest

from softland.simulation.optimal import closed_form_delta_v, ignition_point, variable_mass_delta_v


def test_closed_form_matches_the_reference_example() -> None:
    # h0 3000 m, 60 m/s down, Moon, T/W 2: 163.2 m/s, ignition at 2056 m / 81.6 m/s
    assert closed_form_delta_v(3000, 60, 1.62, 2.0) == pytest.approx(163.2, abs=0.05)
    h_s, v_s = ignition_point(3000, 60, 1.62, 2.0)
    assert h_s == pytest.approx(2056, abs=1)
    assert v_s == pytest.approx(81.6, abs=0.05)


def test_arriving_faster_costs_less_delta_v() -> None:
    assert closed_form_delta_v(3000, 60, 1.62, 2.0, 1.0) < closed_form_delta_v(3000, 60, 1.62, 2.0)


def test_variable_mass_optimum_matches_the_reference() -> None:
    # 1000 kg, Isp 300 s: 160.4 m/s
    dv = variable_mass_delta_v(3000, 60, 1.62, 1000, 3240, 300)
    assert dv == pytest.approx(160.4, abs=0.1)


def test_variable_mass_optimum_is_below_the_constant_acceleration_form() -> None:
    assert variable_mass_delta_v(3000, 60, 1.62, 1000, 3240, 300) < closed_form_delta_v(
        3000, 60, 1.62, 2.0
    )


def test_no_landing_without_thrust_margin() -> None:
    with pytest.raises(ValueError):
        closed_form_delta_v(3000, 60, 1.62, 1.0)
