"""The reference estimator (fsw/estimator.py in float64)."""

from __future__ import annotations

import math

from softland.analysis.reference.judge import DecisionJudge, Tolerances, flag_bits
from softland.analysis.reference.units import TICKS_MASK, RefParams, ticks_diff


class RefEstimator:
    """Alpha-beta(-gamma) altitude/velocity filter with sigma, the kinematic consistency test,
    the innovation gate, re-basing on new ground and the velocity re-base (fsw/estimator.py;
    docs/architecture.md, "Fault tolerance")."""

    RING_N = 8
    RING_DT_MS = 60
    TRAIN_N = 8
    NOISE_MIN, NOISE_MAX = 0.010, 200.0
    TOL_K, TOL_FLOOR = 4, 0.020
    LAG_MAX_MS = 2000
    REACQ_N, REACQ_SPREAD = 25, 1.0
    REACQ_HI_MS, PREV_MS, BACK_N, CAND_GAP_MS = 10000, 30000, 5, 1000
    INC_N, INC_MOVED_MAX = 25, 1000.0
    INNOV_V_MAX, INNOV_G_MAX, INNOV_LIM = 2.0, 0.5, 500000.0
    ACQ_NOISE_K, ACQ_GAIN, ACQ_SIGMA = 8, 0.5, 0.75  # acquisition (fsw/estimator.py)
    VEL_MAX, ACC_MAX, SIGMA_MAX, BIAS_MAX = 150.0, 32.0, 6000.0, 1.0
    ALT_MAX, ALT_MIN = 1.0e6, -1000.0

    def __init__(self, p: RefParams, judge: DecisionJudge, tol: Tolerances) -> None:
        self.p = p
        self.judge = judge
        self.tol = tol
        self.alt = 0.0
        self.vel = 0.0
        self.sigma = 0.0
        self.bias = 0.0
        self.rejects = 0
        self.rej_lo = self.rej_hi = 0.0
        self.latching = False
        self.excluded = False
        self.imu = False
        self.flags2 = 0
        self.kin = 0.0  # the motion integral: the altitude without the range corrections
        self.clk_ms = 0
        self.ring: list[tuple[float, int]] = []  # (d, clock ms), oldest first
        self.last_d = 0.0
        self.have_last = False
        self.noise = 0.0
        self.trained = 0
        self.inc_n = 0
        self.inc_meas0 = self.inc_mid = 0.0
        self.inc_t0 = self.inc_tmid = 0
        self.rej_t0 = 0  # the clock at the start of the run of rejected ranges
        # the track the last re-base left: alive, its altitude minus this one's, since when,
        # and the run of ranges that matched it (docs/architecture.md, "Terrain step or
        # false return")
        self.prev_live = False
        self.prev_off = 0.0
        self.prev_t0 = 0
        self.back_n = 0
        # the candidate track (farther ground held): alive, offset, persistence clock, last
        # supporting range
        self.cand_live = False
        self.cand_off = 0.0
        self.cand_t0 = self.cand_last = 0

    def reset(self, alt: float, vel: float, sigma: float) -> None:
        self.alt = alt
        self.vel = max(-150.0, min(150.0, vel))
        self.sigma = sigma
        self.rejects = 0
        self.excluded = False
        self.bias = 0.0
        self.flags2 = 0
        self.kin = 0.0
        self.noise = self.p.sigma_range
        self.restart_consistency()
        self.inc_n = 0
        self.prev_live = self.cand_live = False
        self.back_n = 0

    def restart_consistency(self) -> None:
        self.ring = []
        self.have_last = False
        self.trained = 0

    def rebase(self, alt: float) -> None:
        self.alt = alt
        self.rejects = 0
        self.sigma = self.p.sigma_range

    def predict(self, acc: float, imu: bool) -> None:
        """One control period with vertical acceleration acc (gravity included)."""
        self.imu = imu
        if imu:
            acc -= self.bias
        a = max(-self.ACC_MAX, min(self.ACC_MAX, acc))
        dt = self.p.period_s
        dalt = self.vel * dt + 0.5 * a * dt * dt
        self.vel = max(-self.VEL_MAX, min(self.VEL_MAX, self.vel + a * dt))
        self.alt = max(self.ALT_MIN, min(self.ALT_MAX, self.alt + dalt))
        self.kin += dalt
        self.clk_ms = (self.clk_ms + self.p.period_ms) & TICKS_MASK
        self.sigma = min(self.sigma + self.p.sigma_grow * dt, self.SIGMA_MAX)

    def _lag_ms(self, t_ms: int) -> int:
        return ticks_diff(self.clk_ms, t_ms)

    def consistent(self, meas: float) -> bool:
        """The range's change since each recent range in the ring against the motion the
        estimate integrated meanwhile (docs/architecture.md, "Range consistency")."""
        f = flag_bits()
        d = meas - self.kin
        ok, checked = True, False
        if self.have_last:
            jump = min(abs(d - self.last_d), self.NOISE_MAX)
            noise = self.noise
            if self.trained < self.TRAIN_N:
                self.trained += 1
                noise += (jump - noise) / self.trained
            else:
                base = self.TOL_K * noise + self.TOL_FLOOR
                votes = voters = 0
                closest = math.inf
                for d_j, t_j in self.ring:
                    lag = self._lag_ms(t_j)
                    if lag > self.LAG_MAX_MS:
                        continue
                    voters += 1
                    margin = base + self.p.sigma_grow * lag / 1000 - abs(d - d_j)
                    closest = min(closest, abs(margin))
                    votes += margin >= 0
                if voters:
                    checked = True
                    mine = 2 * votes > voters
                    ok = self.judge.decide(
                        "range_consistent",
                        mine,
                        closest,
                        2 * self.tol.alt_m,
                        lambda fw: not fw.flags2 & f.RANGE_INCONSISTENT,
                        flags2=f.RANGE_INCONSISTENT,
                    )
                noise += (min(jump, 4 * noise) - noise) / 16
            self.noise = max(self.NOISE_MIN, min(self.NOISE_MAX, noise))
        self.have_last = True
        self.last_d = d
        if not self.ring or self._lag_ms(self.ring[-1][1]) >= self.RING_DT_MS:
            self.ring.append((d, self.clk_ms))
            if len(self.ring) > self.RING_N:
                self.ring.pop(0)
        if not checked:
            self.flags2 |= f.RANGE_UNCHECKED
        elif not ok:
            self.flags2 |= f.RANGE_INCONSISTENT
        return ok

    def _inconsistent_run(self, meas: float) -> None:
        """A run of inconsistent ranges that moved steadily together: the velocity is wrong."""
        now = self.clk_ms
        if self.inc_n == 0:
            self.inc_meas0, self.inc_t0 = meas, now
        self.inc_n += 1
        if self.inc_n == self.INC_N // 2:
            self.inc_mid, self.inc_tmid = meas, now
        if self.inc_n < self.INC_N:
            return
        self.inc_n = 0
        moved = max(-self.INC_MOVED_MAX, min(self.INC_MOVED_MAX, meas - self.inc_meas0))
        dt_s = ticks_diff(now, self.inc_t0) / 1000
        tol = self.TOL_K * self.noise + self.TOL_FLOOR
        if dt_s <= 0 or -tol <= moved <= tol:
            return
        rate = max(-150.0, min(150.0, moved / dt_s))
        t_mid = max(0, min(5000, ticks_diff(self.inc_tmid, self.inc_t0))) / 1000
        bend = self.inc_mid - self.inc_meas0 - rate * t_mid
        if abs(bend) > tol:
            return
        self.vel = rate
        self.restart_consistency()
        self.flags2 |= flag_bits().RANGE_VEL_REBASED

    def update(self, meas: float) -> int:
        """A Good range as an altitude; returns the FLAGS bit of what became of it."""
        f = flag_bits()
        p = self.p
        self.flags2 = 0
        if self.excluded:
            return f.RANGE_REJECTED
        if not self.consistent(meas):
            self.rejects = 0
            self._inconsistent_run(meas)
            return 0
        self.inc_n = 0
        innov = max(-self.INNOV_LIM, min(self.INNOV_LIM, meas - self.alt))
        gate = p.gate + 3 * self.sigma
        inside = self.judge.decide(
            "range_gate",
            abs(innov) <= gate,
            gate - abs(innov),
            self.tol.alt_m + 3 * self.tol.sigma_m,
            lambda fw: (
                bool(fw.flags & f.RANGE_USED)
                if fw.flags & (f.RANGE_USED | f.RANGE_REJECTED | f.RANGE_REBASED)
                else None
            ),
            flags=f.RANGE_USED | f.RANGE_REJECTED,
        )
        if inside:
            self.rejects = 0
            self.back_n = 0
            self.cand_live = False
            if self._acquiring():
                # the handover's altitude error meets the first ranges: a high altitude gain,
                # no velocity or bias term (fsw/estimator.py, docs/architecture.md)
                self.alt = max(self.ALT_MIN, min(self.ALT_MAX, self.alt + self.ACQ_GAIN * innov))
                self.sigma = max(self.sigma * self.ACQ_SIGMA, p.sigma_range)
                self.flags2 |= f.RANGE_ACQUIRING
            else:
                self._correct(innov)
            return f.RANGE_USED
        now = self.clk_ms
        if self.prev_live:
            r = self._revert(meas, innov, gate, now)
            if r:
                return r
        if self.cand_live:
            r = self._candidate(meas, innov, gate, now)
            if r:
                return r
        if self.rejects == 0:
            self.rej_lo = self.rej_hi = innov
            self.rej_t0 = now
        else:
            self.rej_lo = min(self.rej_lo, innov)
            self.rej_hi = max(self.rej_hi, innov)
        self.rejects = min(self.rejects + 1, self.REACQ_N)
        if self.rej_hi - self.rej_lo > self.REACQ_SPREAD + max(0.0, meas) / 256:
            self.rejects = 1
            self.rej_lo = self.rej_hi = innov
            self.rej_t0 = now
        if self.rejects >= self.REACQ_N:
            if self.latching:
                self.excluded = True
                return f.RANGE_REJECTED
            self.rejects = 0
            if innov > 0:
                # farther ground: a candidate until it persists REACQ_HI_MS
                self.cand_live = True
                self.cand_off = innov
                self.cand_t0 = self.rej_t0
                self.cand_last = now
                self.flags2 |= f.RANGE_HELD | f.RANGE_CANDIDATE
                return f.RANGE_REJECTED
            self._rebase_to(meas, now)
            return f.RANGE_REBASED
        return f.RANGE_REJECTED

    def _rebase_to(self, meas: float, now: int) -> None:
        """Take the new ground; the track left behind stays a hypothesis for PREV_MS."""
        self.prev_off = self.alt - meas
        self.prev_live = True
        self.prev_t0 = now
        self.back_n = 0
        self.cand_live = False
        self.alt = meas
        self.sigma = max(self.sigma, self.p.sigma_range)

    def _revert(self, meas: float, innov: float, gate: float, now: int) -> int:
        """BACK_N rejected ranges in a row within the left track's gate: back to it."""
        f = flag_bits()
        if ticks_diff(now, self.prev_t0) > self.PREV_MS:
            self.prev_live = False
            self.back_n = 0
            return 0
        if abs(innov - self.prev_off) > gate:
            self.back_n = 0
            return 0
        self.back_n += 1
        if self.back_n < self.BACK_N:
            return 0
        self.rejects = 0
        self._rebase_to(meas, now)
        self.flags2 |= f.RANGE_REVERTED
        return f.RANGE_REBASED

    def _candidate(self, meas: float, innov: float, gate: float, now: int) -> int:
        """A rejected range within the candidate's gate supports it; after REACQ_HI_MS of
        persistence (a gap over CAND_GAP_MS starts it again) it is the ground."""
        f = flag_bits()
        if abs(innov - self.cand_off) > gate:
            return 0
        if ticks_diff(now, self.cand_last) > self.CAND_GAP_MS:
            self.cand_t0 = now
        self.cand_last = now
        self.rejects = 0
        if ticks_diff(now, self.cand_t0) < self.REACQ_HI_MS:
            self.flags2 |= f.RANGE_HELD
            return f.RANGE_REJECTED
        self._rebase_to(meas, now)
        return f.RANGE_REBASED

    def _acquiring(self) -> bool:
        """Sigma above the terminal gate and ACQ_NOISE_K noise estimates, the range checked."""
        f = flag_bits()
        if self.flags2 & f.RANGE_UNCHECKED:
            return False
        margin = self.sigma - max(self.p.term_alt, self.ACQ_NOISE_K * self.noise)
        return self.judge.decide(
            "acquiring",
            margin > 0,
            margin,
            self.tol.sigma_m + self.ACQ_NOISE_K * self.tol.alt_m,
            lambda fw: bool(fw.flags2 & f.RANGE_ACQUIRING),
            flags2=f.RANGE_ACQUIRING,
        )

    def _correct(self, innov: float) -> None:
        p = self.p
        self.alt += p.alpha * innov
        self.alt = max(self.ALT_MIN, min(self.ALT_MAX, self.alt))
        dv = p.beta * max(-self.INNOV_V_MAX, min(self.INNOV_V_MAX, innov))
        self.vel = max(-self.VEL_MAX, min(self.VEL_MAX, self.vel + dv))
        if self.imu:
            ig = max(-self.INNOV_G_MAX, min(self.INNOV_G_MAX, innov))
            self.bias = max(-self.BIAS_MAX, min(self.BIAS_MAX, self.bias - p.gamma * ig))
        self.sigma = max(self.sigma * (1 - p.alpha), p.sigma_range)
