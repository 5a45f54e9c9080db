"""The accelerometer monitor of fsw/flight.py (``_acc_health``), replayed exactly.

The monitor is decision logic on integer inputs (the sample in mm/s^2, the throttle the
firmware commanded, its full-thrust acceleration) with integer thresholds, not a numerical
algorithm with a float64 truth to compare against: the reference replays it in the same
integers, from the throttle and full-thrust acceleration the firmware reported, so that the
reference's estimator and controller use the accelerometer on exactly the ticks the firmware
did (and the check flags a firmware whose monitor decides otherwise)."""

from __future__ import annotations

from dataclasses import dataclass

ACC_DROPOUT, ACC_FROZEN, ACC_STEP, ACC_LEVEL, ACC_NOISE = 1, 2, 4, 8, 16
FROZEN_N, CLEAN, ACCEPT = 10, 25, 150
LOW_M = 2.0  # model checks only while the altitude's lower bound is above this
STEP0, LEVEL0, JMAX = 250, 350, 1048576


@dataclass
class AccMonitor:
    good: bool = True
    why: int = 0
    prev: int = 0
    mprev: int = 0
    same: int = -1
    fast: int = 0
    base: int = 0
    dev: int = 0
    n: int = 0
    bad_n: int = 0
    lag_q15: int = 0

    def model(self, throttle_q15: int, a_max_mm: int) -> int:
        """The thrust model's specific force (mm/s^2): the throttle through the engine lag."""
        self.lag_q15 += (throttle_q15 - self.lag_q15) >> 2
        return (self.lag_q15 * a_max_mm) // 32767

    def step(self, a: int, ok: bool, model: int, a_max: int, aloft: bool) -> bool:
        """Whether this tick's sample a (mm/s^2) is used (fsw/flight.py _acc_health)."""
        if self.same < 0:
            self.same = 0
            self.prev, self.mprev = a, model
            self.fast = self.base = 0
        jump = min(abs((a - self.prev) - (model - self.mprev)), JMAX)
        why = 0
        if ok:
            if a == self.prev:
                self.same = min(self.same + 1, FROZEN_N)
                if self.same >= FROZEN_N:
                    why = ACC_FROZEN
            else:
                self.same = 0
            self.dev += (jump - self.dev) >> 3
        else:
            why = ACC_DROPOUT
        self.prev, self.mprev = a, model
        self.fast += (((a - model) << 4) - self.fast) >> 4
        lvl = abs(self.fast - self.base) >> 4
        t = a_max >> 5
        tl = LEVEL0 + t
        t += STEP0
        if aloft and ok:
            if jump > t:
                why |= ACC_STEP
            if self.dev > t >> 1:
                why |= ACC_NOISE
            if lvl > (tl if self.good else tl >> 1):
                why |= ACC_LEVEL
        if self.good:
            if why:
                self.good, self.why, self.n, self.bad_n = False, why, 0, 1
                return False
            self.base += (self.fast - self.base) >> 6
            return True
        self.bad_n = min(self.bad_n + 1, JMAX)
        self.why |= why
        if why == ACC_LEVEL:
            if self.n < ACCEPT:
                self.n += 1
                return False
            self.base = self.fast
            why = 0
            self.n = 0
        elif why:
            self.n = 0
            return False
        self.n += 1
        if self.n < CLEAN:
            return False
        self.good, self.why, self.n = True, 0, 0
        return True
