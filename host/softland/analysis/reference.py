"""The reference model: what the fixed-point firmware approximates, in float64 and physical
units (m, m/s, m/s^2, s), with no quantisation.

Written from docs/architecture.md ("The tick", "Fault tolerance", "Uncertainty too large to
land on") with the firmware (firmware/fsw/*.py) as the definition where the docs leave a
detail open: the same components (estimator, guidance, controller, land detector), the same
mode logic (fsw/flight.py) and the same decisions, one small class each. Integer parameters
(fsw/params.py, Q12/Q15/Q4 fixed point, mm, ms) are converted once, in RefParams. Time stays a
count of milliseconds (tick times arrive as integers; a time is not quantised).

Decisions at a threshold (a range gated in or out, the brake point, the terminal gate, the
land detector's conditions ...) go through a DecisionJudge: when the reference's value lies
within the declared deviation bound of the threshold, the two sides may legitimately decide
differently, and the reference takes the firmware's decision (from its telemetry) and records
that it did; beyond the bound it keeps its own, and a difference is a finding.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from softland.boards.firmware import fsw_module

G0 = 9.80665  # standard gravity: the propellant model's Isp * g0
SAFE, ARMED, DESCENT, TERMINAL, LANDED, ABORT = range(6)
COAST, BRAKE, PH_TERMINAL, HOVER, IDLE, TOUCHDOWN, HOLD, CHECK, BLIND = range(9)
RF_NOT_CONNECTED, RF_NO_DATA, RF_GOOD = 0, 1, 4
TICKS_MASK = 0x3FFFFFFF


def ticks_diff(a: int, b: int) -> int:
    """Signed a - b of two times that wrap at 2^30 us (the link's clock)."""
    d = (a - b) & TICKS_MASK
    return d - (1 << 30) if d >= 1 << 29 else d


@dataclass(frozen=True)
class RefParams:
    """The flight parameters in physical units, from the firmware's integer set (by id)."""

    period_s: float
    period_ms: int
    g: float
    amax0: float
    isp_s: float
    thr_min: float
    thr_max: float
    thr_slew: float
    guid_k: float
    guid_khi: float
    vtd: float
    term_alt: float
    kp: float
    ki: float
    alpha: float
    beta: float
    gamma: float
    gate: float
    sigma0: float
    sigma_grow: float
    sigma_range: float
    nsigma: float
    clearance: float
    land_alt: float
    land_speed: float
    land_time_ms: int
    init_alt: float
    init_vel: float
    max_range: float
    baseline: int
    cal_ms: int
    blind_sink: float
    dry_frac: float
    reserve_s: float
    blind_ramp: float
    blind_max: float
    thr_min_q15: int

    @classmethod
    def from_values(cls, v: list[int]) -> RefParams:
        p = fsw_module("params")
        q12, q15 = 4096.0, 32767.0
        return cls(
            period_s=v[p.PERIOD_MS] / 1000,
            period_ms=v[p.PERIOD_MS],
            g=v[p.GRAVITY_MM_S2] / 1000,
            amax0=v[p.AMAX0_MM_S2] / 1000,
            isp_s=float(v[p.ISP_S]),
            thr_min=v[p.THR_MIN_Q15] / q15,
            thr_max=v[p.THR_MAX_Q15] / q15,
            thr_slew=v[p.THR_SLEW_Q15] / q15,
            guid_k=v[p.GUID_K_Q12] / q12,
            guid_khi=v[p.GUID_KHI_Q12] / q12,
            vtd=v[p.VTD_MM_S] / 1000,
            term_alt=v[p.TERM_ALT_MM] / 1000,
            kp=v[p.KP_Q12] / q12,
            ki=v[p.KI_Q12] / q12,
            alpha=v[p.EST_ALPHA_Q12] / q12,
            beta=v[p.EST_BETA_Q12] / q12,  # per tick: (m/s) per m of innovation
            gamma=v[p.EST_GAMMA_Q12] / q12,  # (m/s^2) per m of innovation
            gate=v[p.GATE_MM] / 1000,
            sigma0=v[p.SIGMA0_MM] / 1000,
            sigma_grow=v[p.SIGMA_GROW_MM_S] / 1000,
            sigma_range=v[p.SIGMA_RANGE_MM] / 1000,
            nsigma=v[p.NSIGMA_Q4] / 16,
            clearance=v[p.CLEARANCE_MM] / 1000,
            land_alt=v[p.LAND_ALT_MM] / 1000,
            land_speed=v[p.LAND_SPEED_MM_S] / 1000,
            land_time_ms=v[p.LAND_TIME_MS],
            init_alt=v[p.INIT_ALT_MM] / 1000,
            init_vel=v[p.INIT_VEL_MM_S] / 1000,
            max_range=v[p.MAX_RANGE_MM] / 1000,
            baseline=v[p.BASELINE],
            cal_ms=v[p.CAL_MS],
            blind_sink=v[p.BLIND_SINK_MM_S] / 1000,
            dry_frac=v[p.DRY_Q15] / 32768,
            reserve_s=float(v[p.RESERVE_S]),
            blind_ramp=v[p.BLIND_RAMP_MM_S2] / 1000,
            blind_max=v[p.BLIND_MAX_MM_S] / 1000,
            thr_min_q15=v[p.THR_MIN_Q15],
        )


@dataclass
class FirmwareDecisions:
    """What the firmware decided on the tick being checked (from its telemetry), or None
    before the flight (no telemetry row to compare with)."""

    mode: int
    phase: int
    flags: int
    flags2: int


@dataclass
class Followed:
    tick: int
    decision: str
    margin: float  # the reference's distance to the threshold, in the variable's unit
    tolerance: float


@dataclass
class DecisionJudge:
    """Takes the threshold decisions. Within `tolerance` of a threshold the reference takes the
    firmware's decision (recorded in `followed`); the bits such a decision sets are excused
    when the decision words are compared (`ambiguous`)."""

    fw: FirmwareDecisions | None = None
    tick: int = 0
    followed: list[Followed] = field(default_factory=list)
    follow_count: dict[str, int] = field(default_factory=dict)
    ambiguous_flags: int = 0
    ambiguous_flags2: int = 0
    ambiguous_mode: bool = False
    ambiguous_phase: bool = False

    def begin(self, tick: int, fw: FirmwareDecisions | None) -> None:
        self.tick = tick
        self.fw = fw
        self.ambiguous_flags = 0
        self.ambiguous_flags2 = 0
        self.ambiguous_mode = False
        self.ambiguous_phase = False

    def decide(
        self,
        name: str,
        own: bool,
        margin: float,
        tolerance: float,
        firmware: Callable[[FirmwareDecisions], bool | None],
        flags: int = 0,
        flags2: int = 0,
        mode: bool = False,
        phase: bool = False,
    ) -> bool:
        """own: the reference's decision; margin: its distance to the threshold. Within the
        tolerance the firmware's decision (firmware(fw), None when telemetry does not show it)
        is taken."""
        if abs(margin) > tolerance or self.fw is None:
            return own
        self.ambiguous_flags |= flags
        self.ambiguous_flags2 |= flags2
        self.ambiguous_mode |= mode
        self.ambiguous_phase |= phase
        theirs = firmware(self.fw)
        if theirs is None or theirs == own:
            return own
        self.follow_count[name] = self.follow_count.get(name, 0) + 1
        if len(self.followed) < 200:
            self.followed.append(Followed(self.tick, name, margin, tolerance))
        return theirs


@dataclass
class Tolerances:
    """How far the reference's values may lie from the firmware's: where a decision taken on
    them is too close to call (softland.analysis.check declares them, with reasons)."""

    alt_m: float = 0.01
    vel_mps: float = 0.01
    sigma_m: float = 0.002
    throttle: float = 0.002
    vref_mps: float = 0.01
    acc_mps2: float = 0.01
    hover_s: float = 0.05


@functools.cache
def flag_bits() -> ModuleType:
    """The FLAGS / FLAGS2 bits (fsw/flags.py): the decision words the telemetry carries."""
    return fsw_module("flags")


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
    INC_N, INC_MOVED_MAX = 25, 1000.0
    INNOV_MAX, INNOV_V_MAX, INNOV_G_MAX, INNOV_LIM = 250.0, 2.0, 0.5, 500000.0
    VEL_MAX, ACC_MAX, SIGMA_MAX, BIAS_MAX = 150.0, 32.0, 250.0, 1.0
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
            self._correct(innov)
            return f.RANGE_USED
        if self.rejects == 0 or innov < self.rej_lo:
            self.rej_lo = innov
        if self.rejects == 0 or innov > self.rej_hi:
            self.rej_hi = innov
        self.rejects += 1
        if self.rej_hi - self.rej_lo > self.REACQ_SPREAD + max(0.0, meas) / 256:
            self.rejects = 1
            self.rej_lo = self.rej_hi = innov
        if self.rejects >= self.REACQ_N:
            if self.latching:
                self.excluded = True
                return f.RANGE_REJECTED
            self.rejects = 0
            self.alt = meas
            self.sigma = max(self.sigma, p.sigma_range)
            return f.RANGE_REBASED
        return f.RANGE_REJECTED

    def _correct(self, innov: float) -> None:
        p = self.p
        self.alt += p.alpha * max(-self.INNOV_MAX, min(self.INNOV_MAX, innov))
        self.alt = max(self.ALT_MIN, min(self.ALT_MAX, self.alt))
        dv = p.beta * max(-self.INNOV_V_MAX, min(self.INNOV_V_MAX, innov))
        self.vel = max(-self.VEL_MAX, min(self.VEL_MAX, self.vel + dv))
        if self.imu:
            ig = max(-self.INNOV_G_MAX, min(self.INNOV_G_MAX, innov))
            self.bias = max(-self.BIAS_MAX, min(self.BIAS_MAX, self.bias - p.gamma * ig))
        self.sigma = max(self.sigma * (1 - p.alpha), p.sigma_range)


class RefGuidance:
    """The velocity schedule v_ref(h) = sqrt(v_td^2 + 2 k (a_max - g) (h_low - h_term)), coast
    until the brake point, terminal rate, blind band, hover (fsw/guidance.py)."""

    LEAD_S = 0.3  # ignition lead: thrust build-up
    SCHEDULE_V2_MAX = 1.0e4  # the firmware's schedule is bounded at 100 m/s ...
    VREF_MAX = 150.0

    def __init__(self, p: RefParams, judge: DecisionJudge, tol: Tolerances) -> None:
        self.p = p
        self.judge = judge
        self.tol = tol
        self.phase = IDLE
        self.vref = 0.0
        self.h_low = 0.0
        self.ka = 0.0
        self.ff = 0.0
        self.blind = False
        self.blind_ms = 0

    def reset(self) -> None:
        self.phase = COAST
        self.vref = 0.0
        self.blind = False
        self.blind_ms = 0

    def schedule(self, h: float) -> float:
        vtd = self.p.blind_sink if self.blind else self.p.vtd
        v2 = vtd * vtd + min(2 * self.ka * max(h, 0.0), self.SCHEDULE_V2_MAX)
        return min(math.sqrt(v2), self.VREF_MAX)

    def step(
        self, alt: float, vel: float, sigma: float, a_max: float, terminal: bool, hover: bool
    ) -> None:
        p = self.p
        f = flag_bits()
        a_n = max(a_max - p.g, 0.1)
        self.h_low = alt - p.nsigma * sigma
        loose = self.judge.decide(
            "sigma_high",
            sigma > p.term_alt,
            sigma - p.term_alt,
            self.tol.sigma_m,
            lambda fw: bool(fw.flags & f.SIGMA_HIGH),
            flags=f.SIGMA_HIGH,
            flags2=f.BLIND,
        )
        self.blind = loose or (terminal and self.blind)
        k = p.guid_k if loose else p.guid_khi
        self.ka = max(k * a_n, 0.01)
        if hover:
            self.phase, self.vref, self.ff = HOVER, 0.0, p.g
            return
        if terminal:
            if self.blind:
                self.phase = BLIND
                self.blind_ms = min(self.blind_ms + p.period_ms, 1000000)
                sink = min(p.blind_sink + p.blind_ramp * self.blind_ms / 1000, p.blind_max)
                h_sched = self.h_low - p.term_alt
                if h_sched > 0:
                    sink = max(sink, self.schedule(h_sched))
                self.vref = -sink
            else:
                self.phase = PH_TERMINAL
                self.vref = -p.vtd
            self.ff = p.g
            return
        h_sched = self.h_low - p.term_alt
        sink_ref = self.schedule(h_sched)
        self.vref = -sink_ref
        if self.phase == COAST:
            lead = self.ka * self.LEAD_S
            margin = -vel + lead - sink_ref
            brake = self.judge.decide(
                "brake",
                margin >= 0,
                margin,
                self.tol.vel_mps + self.tol.vref_mps,
                lambda fw: fw.phase not in (COAST, CHECK),
                phase=True,
            )
            if brake:
                self.phase = BRAKE
        if self.phase != BRAKE:
            self.ff = 0.0
        elif h_sched > 0:
            sink = max(0.0, min(-vel, sink_ref))
            self.ff = p.g + self.ka * sink / max(sink_ref, 0.001)
        else:
            self.ff = p.g

    def hold(self, vref: float, g: float) -> None:
        self.phase, self.vref, self.ff = HOLD, vref, g


class RefController:
    """PI + feedforward on the vertical velocity, anti-windup, throttle limits and slew, the
    propellant mass model and the engine performance learnt from the accelerometer
    (fsw/control.py)."""

    AMAX_CAP = 32.767
    MASS_MIN = 1 / 16
    PERF_MIN, PERF_MAX = 0.5, 1.5
    STEADY_TICKS = 25
    STEADY_DTHR = 328 / 32767
    ERR_MAX = 100.0

    def __init__(self, p: RefParams, judge: DecisionJudge, tol: Tolerances) -> None:
        self.p = p
        self.judge = judge
        self.tol = tol
        self.flags = 0
        self.reset()

    def reset(self) -> None:
        p = self.p
        self.throttle = 0.0
        self.integ = 0.0
        self.a_cmd = 0.0
        self.mass = 1.0  # mass / start mass
        self.engine_on = False
        self.perf = 1.0
        self.steady = 0
        self.last_thr = 0.0
        # start-mass fraction burnt per tick at full throttle: a_max0 dt / (Isp g0)
        self.burn_full = p.amax0 * p.period_s / (p.isp_s * G0)
        self.a_max = self._a_max()

    def _a_max(self) -> float:
        believed = min(self.p.amax0 / self.mass, self.AMAX_CAP)
        return min(believed * self.perf, self.AMAX_CAP)

    def hold_min(self) -> None:
        f = flag_bits()
        self.ignite()
        self.throttle = self.p.thr_min
        self.flags = f.ENGINE_ON | f.THR_SAT_LO | f.INTEG_HELD

    def learn(self, f_meas: float, fast: bool, thr: float) -> None:
        """thr: the throttle the engine was commanded over the last tick (the firmware's)."""
        if not self.engine_on or thr < self.p.thr_min:
            self.steady = 0
            return
        d = thr - self.last_thr
        self.last_thr = thr
        if abs(d) <= self.STEADY_DTHR:
            self.steady = min(self.steady + 1, self.STEADY_TICKS)
        else:
            self.steady = 0
        if self.steady < self.STEADY_TICKS:
            return
        expected = thr * self.a_max
        if expected <= 0:
            return
        q = min(max(0.0, min(32.0, f_meas)) / expected, 2 * self.PERF_MAX)
        ratio = max(self.PERF_MIN, min(self.PERF_MAX, q * self.perf))
        self.perf += (ratio - self.perf) / (8 if fast else 32)
        self.a_max = self._a_max()

    def cutoff(self) -> None:
        self.engine_on = False
        self.throttle = 0.0
        self.a_cmd = 0.0

    def ignite(self) -> None:
        if not self.engine_on:
            self.engine_on = True
            self.throttle = self.p.thr_min

    def burn(self, thr: float) -> None:
        """Propellant used over the last tick at the throttle the engine was commanded."""
        self.mass = max(self.mass - self.burn_full * thr, self.MASS_MIN)
        self.a_max = self._a_max()

    def spool_down(self, last: float) -> None:
        f = flag_bits()
        self.throttle = max(last - self.p.thr_slew, self.p.thr_min)
        self.integ = 0.0
        self.flags = f.ENGINE_ON | f.INTEG_HELD | f.THR_SLEW

    def step(
        self,
        vref: float,
        vel: float,
        ff: float,
        last: float,
        integ: float | None = None,
        a_max: float | None = None,
    ) -> None:
        """last: the throttle commanded on the last tick (the slew limit's start); integ: the
        firmware's integrator going into the tick, a_max its full-thrust acceleration on the
        tick (None: the reference's own)."""
        p = self.p
        a_full = self.a_max if a_max is None else a_max
        if integ is not None:
            self.integ = integ
        f = flag_bits()
        if not self.engine_on:
            self.flags = 0
            self.throttle = 0.0
            return
        fl = f.ENGINE_ON
        err = max(-self.ERR_MAX, min(self.ERR_MAX, vref - vel))
        a_cmd = ff + p.kp * err + self.integ
        self.a_cmd = max(-self.AMAX_CAP, min(self.AMAX_CAP, a_cmd))
        raw = max(0.0, min(a_full, a_cmd)) / a_full
        thr = raw
        hi = lo = False
        if thr >= p.thr_max:
            thr, hi = p.thr_max, True
            fl |= f.THR_SAT_HI
        elif thr <= p.thr_min:
            thr, lo = p.thr_min, True
            fl |= f.THR_SAT_LO
        if thr > last + p.thr_slew:
            thr, hi = last + p.thr_slew, True
            fl |= f.THR_SLEW
        elif thr < last - p.thr_slew:
            thr, lo = last - p.thr_slew, True
            fl |= f.THR_SLEW
        self.throttle = thr
        # how close the saturation and slew decisions (and the error's sign) were to flipping
        limits = (p.thr_max, p.thr_min, last + p.thr_slew, last - p.thr_slew)
        margin = min(
            min(abs(raw - x) for x in limits) / self.tol.throttle,
            abs(err) / (self.tol.vel_mps + self.tol.vref_mps),
        )
        own_held = (hi and err > 0) or (lo and err < 0)
        held = self.judge.decide(
            "integrator_held",
            own_held,
            margin,
            1.0,
            lambda fw: bool(fw.flags & f.INTEG_HELD),
            flags=f.INTEG_HELD | f.THR_SAT_HI | f.THR_SAT_LO | f.THR_SLEW,
        )
        if held:
            fl |= f.INTEG_HELD
        else:
            lim = p.amax0 / 2
            self.integ = max(-lim, min(lim, self.integ + p.ki * err * p.period_s))
        self.flags = fl


class RefLandDetector:
    """Low AND slow (blind: the ground reaction) AND throttle near its minimum, held for
    LAND_TIME_MS (fsw/landdet.py)."""

    THR_NEAR_MIN = 1638 / 32767  # "near minimum": within 5 % of full throttle

    def __init__(self, p: RefParams, judge: DecisionJudge, tol: Tolerances) -> None:
        self.p = p
        self.judge = judge
        self.tol = tol
        self.held_ms = 0
        self.flags = 0
        self.contact = False

    def reset(self) -> None:
        self.held_ms = 0
        self.flags = 0
        self.contact = False

    def step(
        self,
        alt: float,
        vel: float,
        throttle: float,
        engine_on: bool,
        blind: bool,
        reaction: float,
    ) -> bool:
        p = self.p
        f = flag_bits()
        judge = self.judge
        both = f.LAND_ALT | f.LAND_SPEED
        fl = 0
        if blind:
            limit = p.g / (16 if self.contact else 8)
            if judge.decide(
                "ground_reaction",
                reaction > limit,
                reaction - limit,
                self.tol.acc_mps2,
                lambda fw: fw.flags & both == both,
                flags=both,
            ):
                fl |= both
        else:
            if judge.decide(
                "land_alt",
                alt < p.land_alt,
                alt - p.land_alt,
                self.tol.alt_m,
                lambda fw: bool(fw.flags & f.LAND_ALT),
                flags=f.LAND_ALT,
            ):
                fl |= f.LAND_ALT
            if judge.decide(
                "land_speed",
                abs(vel) < p.land_speed,
                abs(vel) - p.land_speed,
                self.tol.vel_mps,
                lambda fw: bool(fw.flags & f.LAND_SPEED),
                flags=f.LAND_SPEED,
            ):
                fl |= f.LAND_SPEED
        near_min = throttle - (p.thr_min + self.THR_NEAR_MIN)
        if not engine_on or judge.decide(
            "land_throttle",
            near_min <= 0,
            near_min,
            self.tol.throttle,
            lambda fw: bool(fw.flags & f.LAND_THR),
            flags=f.LAND_THR,
        ):
            fl |= f.LAND_THR
        self.flags = fl
        self.contact = fl & both == both
        if fl == both | f.LAND_THR:
            self.held_ms = min(self.held_ms + p.period_ms, 1000000)
        else:
            self.held_ms = 0
        return self.held_ms >= p.land_time_ms


@dataclass(frozen=True)
class TickInput:
    """What the flight is given on a tick (fsw.flight.Flight.tick's arguments): the host's
    TICK frame, the range as the firmware's range source delivered it, and its age."""

    now_us: int
    range_mm: int
    range_status: int
    acc_mm_s2: int
    acc_ok: bool
    range_age_ms: int


class RefFlight:
    """The mode machine (SAFE, ARMED, DESCENT, TERMINAL, LANDED, ABORT) and the tick of
    fsw/flight.py around the reference components."""

    MAX_STEPS = 4
    MAX_AGE_MS = 500
    CAL_SETTLE, CAL_MIN, CAL_MAX, CAL_LIM = 25, 50, 4096, 1.0
    SCATTER_MAX = 50.0
    VIN_MAX = 150.0
    RESUME_STEPS = 100
    RF_QUIET_MAX = 25
    ACC_FS = 627.648

    def __init__(
        self,
        values: list[int],
        tol: Tolerances | None = None,
        judge: DecisionJudge | None = None,
    ) -> None:
        self.values = list(values)
        self.tol = tol or Tolerances()
        self.judge = judge or DecisionJudge()
        self.mode = SAFE
        self.ticks = 0
        self.now_us = 0
        self.last_us = 0
        self.started = False
        self.overruns = 0
        self.flags = 0
        self.flags2 = 0
        self.range_mm = 0
        self.trusted = True
        self.check_ms = 0
        self.phase = IDLE
        self.resuming = False
        self.sensor_ticks = 0
        self.acc_ok_in = False
        self.rf_status_in = RF_NOT_CONNECTED
        self.rf_quiet = 1000
        self._build()
        self._clear_descent()

    def _build(self) -> None:
        self.p = RefParams.from_values(self.values)
        self.est = RefEstimator(self.p, self.judge, self.tol)
        self.guid = RefGuidance(self.p, self.judge, self.tol)
        self.ctrl = RefController(self.p, self.judge, self.tol)
        self.land = RefLandDetector(self.p, self.judge, self.tol)

    def _clear_descent(self) -> None:
        self.reserve = False
        self.off = 0
        self.cal_sum = 0.0
        self.cal_n = 0
        self.acc_bias = 0.0
        self.scatter = 0.0
        self.vin = 0.0
        self.thr_lag = 0.0

    # ---- commands (fsw/app.py and fsw/flight.py)
    def set_param(self, pid: int, value: int) -> bool:
        params = fsw_module("params")
        if self.mode != SAFE or not 0 <= pid < params.COUNT:
            return False
        if not params.bounds_min(pid) <= value <= params.bounds_max(pid):
            return False
        self.values[pid] = value
        self._build()
        return True

    def preflight(self) -> bool:
        return self.sensor_ticks > 0 and self.acc_ok_in and self.rf_quiet < self.RF_QUIET_MAX

    def arm(self, override: bool) -> None:
        params = fsw_module("params")
        pr = params.Params()
        pr.v[:] = self.values
        if self.mode == SAFE and not pr.check() and (self.preflight() or override):
            self.mode = ARMED

    def disarm(self) -> None:
        if self.mode == ARMED:
            self.mode = SAFE

    def start(self) -> None:
        if self.mode != ARMED:
            return
        p = self.p
        self.est.reset(p.init_alt, p.init_vel, p.sigma0)
        self.guid.reset()
        self.ctrl.reset()
        self.land.reset()
        self.est.latching = p.baseline == 2
        self.trusted = p.baseline != 1
        self.check_ms = p.cal_ms
        self.started = False
        self._clear_descent()
        self.mode = DESCENT

    def abort(self) -> None:
        if self.mode in (DESCENT, TERMINAL):
            self.mode = ABORT

    def computer_reset(self) -> RefFlight:
        """The flight computer restarted: the persisted state carries on (the reference's own,
        a perfect record), unless the baseline keeps none (volatile): a fresh SAFE flight."""
        if self.p.baseline == 3:
            return RefFlight(list(fsw_module("params").Params().v), self.tol, self.judge)
        self.resuming = True
        return self

    # ---- the tick
    def tick(
        self,
        inp: TickInput,
        fw: FirmwareDecisions | None = None,
        applied: float | None = None,
        integ: float | None = None,
        a_max: tuple[float, float] | None = None,
    ) -> None:
        """One tick. fw: the firmware's decisions on it (followed within a bound of a
        threshold); applied: the throttle the firmware commanded on the last tick (0..1),
        which the engine gave and the recorded accelerometer measured: the models of the
        plant (propellant burnt, engine lag, engine performance learnt, the slew limit's
        start) take it, so that the replay, open loop, stays in step with the flight; integ:
        the firmware's PI integrator after the last tick (m/s^2), which the controller
        starts from (a pure integral of a difference would grow without bound open loop);
        a_max: the firmware's full-thrust acceleration (m/s^2) after the last tick and after
        this one, which its plant models and its guidance and controller used: the reference
        models a_max itself (the mass burnt, the engine performance learnt) and is checked on
        it, but plans with the firmware's, so that a_max's own quantisation (a dead band of
        the performance estimate) is not counted again in every channel downstream."""
        f = flag_bits()
        p = self.p
        self.judge.begin(self.ticks + 1, fw)
        self.ticks = self.ticks + 1 if self.ticks < TICKS_MASK else 0
        self.now_us = inp.now_us
        self.range_mm = inp.range_mm
        self.sensor_ticks = min(self.sensor_ticks + 1, 1000)
        self.acc_ok_in = inp.acc_ok
        self.rf_status_in = inp.range_status
        if inp.range_status in (RF_NOT_CONNECTED, RF_NO_DATA):
            self.rf_quiet = min(self.rf_quiet + 1, 1000)
        else:
            self.rf_quiet = 0
        period_us = p.period_ms * 1000
        steps = 1
        fl = 0
        f2 = f.RESUMED if self.resuming else 0
        acc_mm = inp.acc_mm_s2
        if inp.acc_ok and abs(acc_mm) > self.ACC_FS * 1000:
            acc_mm = int(math.copysign(self.ACC_FS * 1000, acc_mm))
            f2 |= f.ACC_CLAMPED
        if self.started:
            dt = ticks_diff(inp.now_us, self.last_us)
            if dt > period_us + (period_us >> 1):
                self.overruns += 1
                fl |= f.OVERRUN
            steps = (dt + (period_us >> 1)) // period_us
            if self.resuming:
                steps = self._resume(steps)
            else:
                steps = max(0, min(self.MAX_STEPS, steps))
        self.started = True
        self.last_us = inp.now_us
        mode = self.mode
        self.flags2 = 0
        if mode < DESCENT or mode == LANDED:
            self.ctrl.cutoff()
            self.flags = fl
            if mode < DESCENT and not self.preflight():
                f2 |= f.PREFLIGHT_BAD
            self.flags2 = f2
            return
        est, ctrl, guid, land = self.est, self.ctrl, self.guid, self.land
        acc_in = acc_mm / 1000
        last = ctrl.throttle if applied is None else applied
        a_before = ctrl.a_max if a_max is None else a_max[0]
        thrust = last * a_before
        self.thr_lag += (last - self.thr_lag) / 4
        reaction = 0.0
        if inp.acc_ok:
            if mode == DESCENT:
                self._calibrate(acc_in)
            spec = acc_in - self.acc_bias
            acc = spec - p.g
            reaction = spec - self.thr_lag * a_before
            fl |= f.IMU_USED
        else:
            spec = 0.0
            acc = thrust - p.g
        for _ in range(steps):
            ctrl.burn(last)
            est.predict(acc, inp.acc_ok)
        if mode == TERMINAL and guid.blind:
            v = self.vin + acc * p.period_s * steps
            v += (est.vel - v) / 512
            self.vin = max(-self.VIN_MAX, min(self.VIN_MAX, v))
        else:
            self.vin = est.vel
        if inp.acc_ok and not land.contact:
            ctrl.learn(spec, self.check_ms > 0, last)
        # 2. range update
        if (
            inp.range_status == RF_GOOD
            and 0 < inp.range_mm / 1000 <= p.max_range
            and inp.range_age_ms >= 0
        ):
            fl |= f.RANGE_GOOD
        if fl & f.RANGE_GOOD and inp.range_age_ms > self.MAX_AGE_MS:
            f2 |= f.RANGE_STALE
        elif fl & f.RANGE_GOOD:
            meas = inp.range_mm / 1000 - p.clearance + est.vel * inp.range_age_ms / 1000
            if not self.trusted:
                self.trusted = True
                est.rebase(meas)
                r = f.RANGE_USED
            else:
                innov = meas - est.alt
                r = est.update(meas)
                f2 |= est.flags2
                if r == f.RANGE_USED:
                    a = min(abs(innov), self.SCATTER_MAX)
                    self.scatter += (a - self.scatter) / 16
            fl |= r
        alt = est.alt
        vel = self.vin if mode == TERMINAL and guid.blind else est.vel
        a_now = ctrl.a_max if a_max is None else a_max[1]
        sigma = max(est.sigma, self.scatter)
        # 3. guidance and the terminal switch
        if self.trusted:
            guid.step(alt, vel, sigma, a_now, mode == TERMINAL, mode == ABORT)
        else:
            guid.hold(p.init_vel, p.g)
        if sigma > p.term_alt:
            fl |= f.SIGMA_HIGH
        if mode == DESCENT and guid.phase == BRAKE:
            margin = guid.h_low - p.term_alt
            gate = self.judge.decide(
                "terminal_gate",
                margin <= 0,
                margin,
                self.tol.alt_m + p.nsigma * self.tol.sigma_m,
                lambda fw: fw.mode in (TERMINAL, LANDED),
                mode=True,
                phase=True,
            )
            if gate:
                self.mode = mode = TERMINAL
                guid.step(alt, vel, sigma, a_now, True, False)
        if not self.reserve:
            self._check_reserve()
        # 4. control
        self.phase = guid.phase
        checking = False
        if self.check_ms > 0 and guid.phase == COAST and mode == DESCENT:
            checking = True
            self.phase = CHECK
            self.check_ms = max(self.check_ms - p.period_ms, 0)
        elif self.check_ms > 0 and guid.phase != COAST:
            self.check_ms = 0
        if guid.phase != COAST and not ctrl.engine_on:
            ctrl.ignite()
            last = ctrl.throttle  # lit at the minimum: the slew starts there
        if mode == TERMINAL and land.contact:
            self.phase = TOUCHDOWN
            ctrl.spool_down(last)
        elif checking:
            ctrl.hold_min()
            if self.check_ms == 0:
                ctrl.cutoff()
        else:
            ctrl.step(guid.vref, vel, guid.ff, last, integ, a_now)
        fl |= ctrl.flags
        # 5. land detector
        if mode == TERMINAL:
            blind = guid.blind and inp.acc_ok
            if land.step(alt, vel, ctrl.throttle, ctrl.engine_on, blind, reaction):
                ctrl.cutoff()
                self.mode = LANDED
            fl |= land.flags
        self.flags = fl
        if guid.blind:
            f2 |= f.BLIND
        if self.judge.decide(
            "scatter_sigma",
            sigma > est.sigma,
            self.scatter - est.sigma,
            self.tol.sigma_m + self.tol.alt_m,
            lambda fw: bool(fw.flags2 & f.SCATTER_SIGMA),
            flags2=f.SCATTER_SIGMA,
        ):
            f2 |= f.SCATTER_SIGMA
        if self.reserve:
            f2 |= f.RESERVE
        self.flags2 = f2

    def _resume(self, steps: int) -> int:
        self.resuming = False
        self.ctrl.steady = 0
        if 0 < steps <= self.RESUME_STEPS:
            return steps
        self.est.sigma = min(self.est.sigma + self.p.sigma_grow * 2, 250.0)
        return 1

    def hover_s(self) -> float:
        """Seconds of hover the propellant above the dry mass gives (-1: dry mass unknown)."""
        p = self.p
        if p.dry_frac == 0:
            return -1.0
        used = (1 - self.ctrl.mass) * max(self.ctrl.perf, 1.0)
        m = 1 - used
        k = min(p.isp_s * G0 / max(p.g, 0.001), 30000.0)
        return k * max(m - p.dry_frac, 0.0) / max(m, 1 / 32768)

    def _check_reserve(self) -> None:
        left = self.hover_s()
        if left < 0:
            return
        margin = left - self.p.reserve_s
        f = flag_bits()
        self.reserve = self.judge.decide(
            "reserve",
            margin <= 0,
            margin,
            self.tol.hover_s,
            lambda fw: bool(fw.flags2 & f.RESERVE),
            flags2=f.RESERVE,
        )

    def _calibrate(self, f_in: float) -> None:
        """Free fall reads zero: the mean reading in the engine-off coast is the bias."""
        ctrl = self.ctrl
        if self.guid.phase == COAST and not ctrl.engine_on:
            self.off = min(self.off + 1, self.CAL_SETTLE + 1)
            if self.off > self.CAL_SETTLE and self.cal_n < self.CAL_MAX:
                self.cal_sum += max(-self.CAL_LIM, min(self.CAL_LIM, f_in))
                self.cal_n += 1
            return
        if self.cal_n >= self.CAL_MIN and ctrl.engine_on:
            self.acc_bias = self.cal_sum / self.cal_n
        self.off = 0
        self.cal_n = 0
        self.cal_sum = 0.0

    # ---- what the telemetry frame would carry, in the firmware's units
    def telemetry(self) -> dict[str, float]:
        est, ctrl, guid = self.est, self.ctrl, self.guid
        return {
            "tick": self.ticks,
            "time_us": self.now_us,
            "mode": self.mode,
            "phase": self.phase,
            "flags": self.flags,
            "alt_mm": est.alt * 1000,
            "vel_mm_s": est.vel * 1000,
            "sigma_mm": est.sigma * 1000,
            "vref_mm_s": guid.vref * 1000,
            "throttle_q15": ctrl.throttle * 32767,
            "acmd_mm_s2": ctrl.a_cmd * 1000,
            "integ_mm_s2": ctrl.integ * 1000,
            "range_mm": self.range_mm,
            "amax_mm_s2": ctrl.a_max * 1000,
            "mass_q14": ctrl.mass * 16384,
            "overruns": self.overruns,
            "rejects": est.rejects,
            "hlow_mm": guid.h_low * 1000,
            "flags2": self.flags2,
        }
