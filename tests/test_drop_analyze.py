"""`softland drop analyze`'s fits end to end: the firmware's drop app samples the LIDAR-Lite
emulator watching a free fall (softland.devices.freefall), the capture goes through the wire
format, and the analysis must find the physics the emulator was given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from softland.devices.freefall import G_STANDARD, FreeFall
from softland.drop.analysis import analyze
from softland.drop.capture import DropCapture
from softland.drop.emulate import DropRig, emulated_capture
from softland.drop.report import write_report
from softland.errors import UserError

RIG = DropRig(samples=400, noise_sigma_cm=1.25)


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return analyze(emulated_capture(RIG, seed=11))


def test_free_fall_target_follows_h0_minus_half_g_t_squared_then_rests() -> None:
    f = FreeFall(h0_m=2.1, t0_s=1.0, rest_m=0.1)
    assert f.height_m(0.5) == 2.1
    assert f.height_m(1.3) == pytest.approx(2.1 - 0.5 * G_STANDARD * 0.09)
    assert f.height_m(f.impact_s + 0.5) == 0.1
    assert f.impact_speed_m_s == pytest.approx((2 * G_STANDARD * 2.0) ** 0.5)
    assert FreeFall(h0_m=2.1, rest_m=0.1, sensor_m=3.2).distance_m(5.0) == pytest.approx(3.1)


def test_g_free_fit_finds_g(report) -> None:  # type: ignore[no-untyped-def]
    assert abs(report.free.g - G_STANDARD) < 0.15


def test_g_is_measured_from_the_release_pin_when_the_capture_has_one(report) -> None:  # type: ignore[no-untyped-def]
    assert report.anchored is not None and report.g_fit is report.anchored
    assert report.anchored.t0_s == report.capture.release_us / 1e6
    assert report.summary()["g_fit_from"] == "release pin"


def test_without_a_release_pin_g_comes_from_the_start_free_fit() -> None:
    cap = emulated_capture(RIG, seed=11)
    cap.release_us = None
    rep = analyze(cap, estimator=False)
    assert rep.anchored is None and rep.g_fit is rep.free
    assert rep.summary()["g_fit_from"] == "fitted start"


def test_the_release_pin_narrows_g_at_two_and_a_half_cm_of_noise() -> None:
    # the start and g trade against each other over a 0.64 s fall: pinning the start at the
    # release cuts g's spread about threefold (Cramer-Rao: 0.09 -> 0.03 m/s^2)
    rig = DropRig(samples=450, noise_sigma_cm=2.5)
    pinned, free = [], []
    for seed in range(12):
        rep = analyze(emulated_capture(rig, seed), estimator=False)
        pinned.append(rep.g_error)
        free.append(rep.free.g - rig.g)
    assert max(abs(e) for e in pinned) < 0.15
    assert np.std(pinned) < 0.5 * np.std(free)


def test_g_known_fit_finds_the_impact_speed(report) -> None:  # type: ignore[no-untyped-def]
    truth = RIG.fall().impact_speed_m_s
    assert abs(report.known.impact_speed_m_s - truth) < 0.03
    assert abs(report.known.fall_m - RIG.fall_m) < 0.01


def test_drop_start_and_latency_against_the_release_pin(report) -> None:  # type: ignore[no-untyped-def]
    assert abs(report.known.t0_s - RIG.release_s) < 0.003
    assert report.latency_ms is not None and abs(report.latency_ms) < 2.0


def test_noise_rate_and_jitter_are_reported(report) -> None:  # type: ignore[no-untyped-def]
    s = report.summary()
    assert 1.0 < s["noise_cm"] < 1.6
    assert 240 < s["rate_hz"] < 275
    assert 0 < s["interval_std_us"] < 1000
    assert s["bus_errors"] == s["timeouts"] == s["zeros"] == 0


def test_a_sensor_latency_is_found(tmp_path: Path) -> None:
    cap = _with_fault(RIG, "latency", ms=8.0)
    rep = analyze(cap)
    assert rep.latency_ms is not None and 6.0 < rep.latency_ms < 10.0


def _with_fault(rig: DropRig, name: str, **params: float) -> DropCapture:
    """An emulated capture with a sensor fault for the whole capture."""
    import softland.drop.emulate as emulate

    original = emulate.LidarLiteEmulator

    class Faulty(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self.inject(name, 0.0, None, **params)

    emulate.LidarLiteEmulator = Faulty  # type: ignore[misc]
    try:
        return emulate.emulated_capture(rig, seed=5)
    finally:
        emulate.LidarLiteEmulator = original  # type: ignore[misc]


def test_the_sensor_falling_rig_fits_too() -> None:
    rig = DropRig(samples=400, sensor_m=None, rest_m=1.0, noise_sigma_cm=1.25)
    rep = analyze(emulated_capture(rig, seed=2))
    assert rep.free.sign == -1
    assert abs(rep.free.g - G_STANDARD) < 0.2
    assert abs(rep.known.impact_speed_m_s - rig.fall().impact_speed_m_s) < 0.03


def test_dropouts_are_counted_and_left_out_of_the_fit() -> None:
    cap = _with_fault(RIG, "nack_burst", probability=0.05)
    rep = analyze(cap)
    assert rep.bus_errors > 5
    assert rep.valid == rep.samples - rep.bus_errors - rep.timeouts - rep.zeros - rep.no_return
    assert abs(rep.known.impact_speed_m_s - RIG.fall().impact_speed_m_s) < 0.03


def test_firmware_estimator_with_a_freefall_accelerometer_follows_the_fit(report) -> None:  # type: ignore[no-untyped-def]
    runs = {r.name: r for r in report.estimator}
    assert runs["freefall_imu"].rms_error_m_s < 0.3
    # range only, the estimator's consistency test refuses ranges that move faster than its
    # own (constant-velocity) motion: it does not follow a free fall
    assert runs["range_only"].rms_error_m_s > 1.0


def test_a_capture_without_a_drop_is_refused() -> None:
    rig = DropRig(samples=200, release_s=10.0)  # released long after the capture ends
    with pytest.raises(UserError, match="no drop in this capture"):
        analyze(emulated_capture(rig, seed=1))


def test_report_writes_a_plot_a_summary_and_a_self_contained_page(
    report,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    paths = write_report(report, tmp_path / "rep")
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths["html"].read_text()
    assert "data:image/png;base64," in page and "impact_speed_m_s" in page
    assert '"g_fit_m_s2"' in paths["json"].read_text()
    assert np.isfinite(report.summary()["g_fit_m_s2"])
