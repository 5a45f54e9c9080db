"""The reference mode machine and tick (fsw/flight.py in float64)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from softland.analysis.reference import accmon
from softland.analysis.reference.control import RefController
from softland.analysis.reference.estimator import RefEstimator
from softland.analysis.reference.guidance import RefGuidance
from softland.analysis.reference.judge import (
    DecisionJudge,
    FirmwareDecisions,
    Tolerances,
    flag_bits,
)
from softland.analysis.reference.landdet import RefLandDetector
from softland.analysis.reference.units import (
    ABORT,
    ARMED,
    BRAKE,
    CHECK,
    COAST,
    DESCENT,
    G0,
    IDLE,
    LANDED,
    RF_GOOD,
    RF_NO_DATA,
    RF_NOT_CONNECTED,
    SAFE,
    TERMINAL,
    TICKS_MASK,
    TOUCHDOWN,
    RefParams,
    ticks_diff,
)
from softland.boards.firmware import fsw_module


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
        self.acc = accmon.AccMonitor()

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
        # the accelerometer monitor is not persisted: it starts over, from the engine off
        self.acc = accmon.AccMonitor()
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
        if abs(acc_mm) > self.ACC_FS * 1000:
            acc_mm = int(math.copysign(self.ACC_FS * 1000, acc_mm))
            if inp.acc_ok:
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
        a_mm = round(a_before * 1000)
        model = self.acc.model(round(last * 32767), a_mm)
        aloft = self.judge.decide(
            "acc_aloft",
            guid.h_low > accmon.LOW_M,
            guid.h_low - accmon.LOW_M,
            self.tol.alt_m + p.nsigma * self.tol.sigma_m,
            lambda fw: None,
        )
        acc_ok = self.acc.step(acc_mm, inp.acc_ok, model, a_mm, aloft and not land.contact)
        if not acc_ok:
            f2 |= f.ACC_BAD
        if acc_ok:
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
            est.predict(acc, acc_ok)
        if mode == TERMINAL and guid.blind:
            v = self.vin + acc * p.period_s * steps
            v += (est.vel - v) / 512
            self.vin = max(-self.VIN_MAX, min(self.VIN_MAX, v))
        else:
            self.vin = est.vel
        if acc_ok and not land.contact:
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
            was_blind = mode == TERMINAL and guid.blind
            guid.step(alt, vel, sigma, a_now, mode == TERMINAL, mode == ABORT)
            if was_blind and not guid.blind:
                # the blind descent ended (fsw/flight.py _sighted): the filter's velocity; above
                # the gate, back to DESCENT braking on the schedule with its feedforward
                self.vin = vel = est.vel
                if guid.h_low > p.term_alt:
                    self.mode = mode = DESCENT
                    guid.phase = BRAKE
                    guid.step(alt, vel, sigma, a_now, False, False)
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
            if acc_ok:  # counted on trusted samples only (fsw/flight.py)
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
        elif mode == TERMINAL and not guid.blind:
            ctrl.step(guid.vref, vel, self._stop_ff(guid.ff, vel, guid.h_low), last, integ, a_now)
        else:
            ctrl.step(guid.vref, vel, guid.ff, last, integ, a_now)
        fl |= ctrl.flags
        # 5. land detector
        if mode == TERMINAL:
            blind = guid.blind and acc_ok
            if land.step(alt, vel, ctrl.throttle, ctrl.engine_on, blind, reaction):
                ctrl.cutoff()
                self.mode = LANDED
            fl |= land.flags
            if land.impact:
                f2 |= f.LAND_IMPACT
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

    def _stop_ff(self, ff: float, vel: float, h_low: float) -> float:
        """The terminal stopping feedforward (fsw/flight.py _stop_ff): at least the
        deceleration that brings the sink to the touchdown speed by the altitude's lower bound
        (no less than 0.25 m), on top of gravity."""
        p = self.p
        sink = min(-vel, 30.0)
        if sink <= p.vtd:
            return ff
        need = min((sink**2 - p.vtd**2) / (2 * max(h_low, 0.25)), 32.767)
        return max(ff, p.g + need)

    def _resume(self, steps: int) -> int:
        self.resuming = False
        self.ctrl.steady = 0
        self.thr_lag = 0.0  # the reset cut the engine: the lag model starts from off
        if 0 < steps <= self.RESUME_STEPS:
            return steps
        self.est.sigma = min(self.est.sigma + self.p.sigma_grow * 2, self.est.SIGMA_MAX)
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

    def hover_s_per_mass(self) -> float:
        """How many hover seconds a start-mass fraction of propellant is worth here."""
        p = self.p
        m = max(1 - (1 - self.ctrl.mass) * max(self.ctrl.perf, 1.0), 1 / 32768)
        k = min(p.isp_s * G0 / max(p.g, 0.001), 30000.0)
        return k * p.dry_frac / (m * m)

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
