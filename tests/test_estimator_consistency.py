"""The estimator's kinematic consistency test, alone: a Good range whose change does not match
the vehicle's own motion (a frozen register under a sinking vehicle, an outlier) is not used
and is flagged; ranges that move with the vehicle are used, noisy or not; a terrain step is
still re-based; the sensor is never latched off; a reading too old is not used
(docs/architecture.md, "Range consistency")."""

from __future__ import annotations

import random

from core_rig import descending
from core_rig import params as _params

from softland.boards.firmware import fsw_module

params_mod = fsw_module("params")
flags = fsw_module("flags")
Estimator = fsw_module("estimator").Estimator
flight = fsw_module("flight")
rangefinder = fsw_module("rangefinder")
fixmath = fsw_module("fixmath")

PERIOD_MS = 20


class Descent:
    """A vehicle at constant vertical speed over flat ground, and its estimator."""

    def __init__(self, alt_mm: int, vel_mm_s: int, **params: int) -> None:
        self.est = Estimator(_params(**params))
        self.est.reset(alt_mm, vel_mm_s, 1000)
        self.alt_mm = float(alt_mm)
        self.vel_mm_s = vel_mm_s

    def step(self, measured_mm: int | None) -> tuple[int, int] | None:
        """One tick: predict, then update with a range if there is one; (flags, flags2)."""
        self.est.predict(0, PERIOD_MS, True)
        self.alt_mm += self.vel_mm_s * PERIOD_MS / 1000
        if measured_mm is None:
            return None
        r = self.est.update(measured_mm)
        return r, self.est.flags2

    def true_mm(self) -> int:
        return round(self.alt_mm)


def _fly_truth(d: Descent, ticks: int, noise_mm: float, rng: random.Random) -> list:
    return [
        d.step(round(d.alt_mm + d.vel_mm_s * PERIOD_MS / 1000 + rng.gauss(0, noise_mm)))
        for _ in range(ticks)
    ]


def test_first_ranges_are_flagged_unchecked() -> None:
    d = Descent(30_000, -3000)
    r, f2 = d.step(d.true_mm())
    assert f2 & flags.RANGE_UNCHECKED
    assert r == flags.RANGE_USED


def test_range_moving_with_the_vehicle_is_used() -> None:
    rng = random.Random(1)
    d = Descent(30_000, -3000)
    results = _fly_truth(d, 200, 50.0, rng)
    assert all(r == flags.RANGE_USED for r, _ in results)
    assert not any(f2 & flags.RANGE_INCONSISTENT for _, f2 in results)


def test_frozen_range_under_a_sinking_vehicle_is_rejected_within_six_ticks() -> None:
    rng = random.Random(2)
    d = Descent(30_000, -3000)
    _fly_truth(d, 50, 50.0, rng)  # a LIDAR-Lite-like sensor, 5 cm noise
    frozen = d.true_mm()
    results = [d.step(frozen) for _ in range(50)]
    first = next(k for k, (_, f2) in enumerate(results) if f2 & flags.RANGE_INCONSISTENT)
    assert first < 6  # 60 mm a tick against 5 cm of noise: a few ticks to tell
    assert all(f2 & flags.RANGE_INCONSISTENT for _, f2 in results[first:])
    assert not any(r & flags.RANGE_USED for r, _ in results[first:])


def test_frozen_range_does_not_drag_the_estimate() -> None:
    rng = random.Random(3)
    d = Descent(30_000, -3000)
    _fly_truth(d, 50, 50.0, rng)
    frozen = d.true_mm()
    for _ in range(50):  # one second: the frozen value ends 3 m above the vehicle
        d.step(frozen)
    assert abs(d.est.alt_mm - d.true_mm()) < 300


def test_frozen_range_is_never_taken_as_new_ground() -> None:
    rng = random.Random(4)
    d = Descent(30_000, -3000)
    _fly_truth(d, 50, 50.0, rng)
    frozen = d.true_mm()
    results = [d.step(frozen) for _ in range(300)]
    assert not any(r == flags.RANGE_REBASED for r, _ in results)


def test_frozen_range_never_rebases_the_velocity() -> None:
    rng = random.Random(4)
    d = Descent(30_000, -3000)
    _fly_truth(d, 50, 50.0, rng)
    frozen = d.true_mm()
    results = [d.step(frozen) for _ in range(300)]
    assert not any(f2 & flags.RANGE_VEL_REBASED for _, f2 in results)
    assert d.est.vel_mm_s() < -2500


def test_a_wrong_velocity_does_not_latch_a_good_sensor_off() -> None:
    # ranges reappear (a long gap) while the velocity estimate is 2 m/s off: they disagree
    # with the motion integral, yet move together; the velocity is what gets corrected
    rng = random.Random(5)
    d = Descent(30_000, -3000)
    d.est.reset(30_000, -1000, 1000)
    results = _fly_truth(d, 300, 20.0, rng)
    rebased = [k for k, (_, f2) in enumerate(results) if f2 & flags.RANGE_VEL_REBASED]
    assert rebased and rebased[0] < 60
    assert all(r & flags.RANGE_USED for r, _ in results[-100:])
    assert abs(d.est.vel_mm_s() + 3000) < 100
    assert abs(d.est.alt_mm - d.true_mm()) < 100


def test_sensor_is_used_again_once_the_frozen_value_clears() -> None:
    rng = random.Random(5)
    d = Descent(30_000, -3000)
    _fly_truth(d, 50, 50.0, rng)
    frozen = d.true_mm()
    for _ in range(50):
        d.step(frozen)
    results = _fly_truth(d, 50, 50.0, rng)
    first_used = next(k for k, (r, _) in enumerate(results) if r == flags.RANGE_USED)
    assert first_used <= 16  # never latched off: real ranges take the ring's majority (0.3 s)
    assert all(r == flags.RANGE_USED for r, _ in results[first_used:])


def test_single_outlier_is_flagged_and_the_next_range_is_used() -> None:
    rng = random.Random(6)
    d = Descent(30_000, -3000)
    _fly_truth(d, 50, 50.0, rng)
    r, f2 = d.step(d.true_mm() - 60 - 5000)  # a secondary return, inside the 20 m gate
    assert f2 & flags.RANGE_INCONSISTENT and not r & flags.RANGE_USED
    results = _fly_truth(d, 20, 50.0, rng)
    assert all(r == flags.RANGE_USED for r, _ in results)


def test_terrain_step_is_still_rebased() -> None:
    # ispace-m1: at 40 m/s down the ground under the track drops 3 km; the range changes once,
    # then moves with the vehicle: consistent again after a few ranges, rejected, held as
    # farther ground for 10 s (a false return would have ended: tests/test_false_return.py),
    # then re-based
    rng = random.Random(7)
    d = Descent(2_000_000, -40_000)
    _fly_truth(d, 100, 500.0, rng)
    d.alt_mm += 3_000_000
    results = _fly_truth(d, 600, 500.0, rng)
    rebased = [k for k, (r, _) in enumerate(results) if r == flags.RANGE_REBASED]
    assert rebased and 500 <= rebased[0] <= 500 + 15 + 25  # 10 s after the run began
    assert abs(d.est.alt_mm - d.true_mm()) < 5000


def test_noisy_range_with_dropouts_is_still_used() -> None:
    # im2: 5 m + 0.5 % of the range of noise, 30 % dropouts, 60 m/s down from 3 km; the noise
    # estimate starts at the 0.2 m floor of sigma and learns the sensor
    rng = random.Random(8)
    d = Descent(3_000_000, -60_000)
    results = []
    for _ in range(2000):
        true = d.alt_mm + d.vel_mm_s * PERIOD_MS / 1000
        noise = 5000 + 0.005 * true
        meas = None if rng.random() < 0.3 else round(true + rng.gauss(0, noise))
        if d.alt_mm < 200_000:
            break
        res = d.step(meas)
        if res is not None:
            results.append(res)
    inconsistent = sum(1 for _, f2 in results if f2 & flags.RANGE_INCONSISTENT)
    assert len(results) > 1000
    assert inconsistent <= 0.01 * len(results)
    assert abs(d.est.alt_mm - d.true_mm()) < 10_000


def _flight_in_descent():
    return descending(_params(cal_ms=0, init_alt_mm=30_000, init_vel_mm_s=-3000))


def test_reading_older_than_the_age_bound_is_not_used_and_flagged_stale() -> None:
    f = _flight_in_descent()
    f.tick(0, 31_000, rangefinder.RF_GOOD, 1620, 1, range_age_ms=501)
    assert f.flags2 & flags.RANGE_STALE
    assert f.flags & flags.RANGE_GOOD and not f.flags & flags.RANGE_USED
    assert f.est.alt_mm < 30_000  # predicted only


def test_reading_within_the_age_bound_is_used() -> None:
    f = _flight_in_descent()
    f.tick(0, 31_000, rangefinder.RF_GOOD, 1620, 1, range_age_ms=500)
    assert not f.flags2 & flags.RANGE_STALE
    assert f.flags & flags.RANGE_USED


def test_consistency_holds_across_the_motion_integral_re_zero() -> None:
    # 100 km down at 150 m/s: the motion integral passes 2^26 mm and is re-zeroed; ranges that
    # move with the vehicle stay consistent and a frozen one is still rejected after it
    rng = random.Random(9)
    d = Descent(100_000_000, -150_000, max_range_mm=100_000_000)
    results = _fly_truth(d, 25_000, 1000.0, rng)
    assert d.est._kin_mm > -(2**26)  # re-zeroed on the way
    inconsistent = sum(1 for _, f2 in results if f2 & flags.RANGE_INCONSISTENT)
    assert inconsistent <= 0.001 * len(results)  # a 4-sigma tail, not the re-zero
    frozen = d.true_mm()
    results = [d.step(frozen) for _ in range(10)]
    assert results[-1][1] & flags.RANGE_INCONSISTENT


def _whole_vote(est, alt_meas_mm: int) -> tuple[bool, bool]:
    """(checked, consistent) of a range by the ring as it stands, every entry counted: the
    specification of the test that update() runs (which stops once a majority is in)."""
    e = fsw_module("estimator")
    d = max(-e._MEAS_MAX, min(e._MEAS_MAX, alt_meas_mm)) - est._kin_mm
    base = e._TOL_K * est.noise_mm + e._TOL_FLOOR_MM
    v_tol = est.p[params_mod.SIGMA_GROW_MM_S]
    votes = 0
    voters = 0
    for j in range(est._ring_n):
        lag = fixmath.ticks_diff(est._clk_ms, est._ring_t[j])
        if lag > e._LAG_MAX_MS:
            continue  # too old: no vote
        voters += 1
        if abs(d - est._ring_d[j]) <= base + (v_tol * lag) // 1000:
            votes += 1
    return voters > 0, 2 * votes > voters


def test_the_vote_that_stops_at_a_majority_has_the_outcome_of_the_whole_vote() -> None:
    # rings of old and recent entries, near and far ranges: update()'s flags say what the
    # whole vote says (unchecked, inconsistent or not)
    rng = random.Random(5)
    compared = {True: 0, False: 0}
    for _ in range(3000):
        est = Estimator(_params())
        est.reset(100_000, -2000, 1000)
        est.noise_mm = rng.randrange(10, 500)
        est._trained = 8  # past the training pairs
        est._have_last = True
        est._clk_ms = rng.randrange(5000, 1 << 29)
        est._ring_n = rng.randrange(0, 9)
        for j in range(8):
            est._ring_t[j] = est._clk_ms - rng.choice([0, 100, 400, 1500, 2500, 40_000])
            est._ring_d[j] = 100_000 + rng.randrange(-900, 900)
        meas = 100_000 + rng.randrange(-1500, 1500)
        checked, ok = _whole_vote(est, meas)
        est.update(meas)
        f2 = est.flags2
        assert bool(f2 & flags.RANGE_UNCHECKED) == (not checked)
        assert bool(f2 & flags.RANGE_INCONSISTENT) == (checked and not ok)
        if checked:
            compared[ok] += 1
    assert min(compared.values()) > 300  # both outcomes were compared, many times
