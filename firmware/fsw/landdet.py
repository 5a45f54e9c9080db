# Land detector: a conjunction of conditions held for a set time; each condition is a bit.
from fsw import flags as F
from fsw import params as P


class LandDetector:
    STATE = ("held_ms", "flags", "contact")

    def __init__(self, params):
        self.p = params.v
        self.held_ms = 0
        self.flags = 0
        self.contact = False  # low and slow: ground contact suspected

    def reset(self):
        self.held_ms = 0
        self.flags = 0
        self.contact = False

    def step(self, alt_mm, vel_mm_s, throttle_q15, engine_on, blind=False, reaction_mm_s2=0):
        # returns True once the vehicle has been on the ground for LAND_TIME_MS.
        # blind: no trusted altitude (and the velocity has drifted with it since the last fix):
        # "low and slow" is then the ground reaction, the specific force the thrust does not
        # explain, above an eighth of gravity (in flight it is zero, on the ground at minimum
        # throttle it is the weight the thrust does not carry); held down to a sixteenth, so
        # that the spool-down it starts is not undone by the velocity loop on the next tick
        p = self.p
        fl = 0
        if blind:
            if reaction_mm_s2 > p[P.GRAVITY_MM_S2] >> (4 if self.contact else 3):
                fl |= F.LAND_ALT | F.LAND_SPEED
        else:
            if alt_mm < p[P.LAND_ALT_MM]:
                fl |= F.LAND_ALT
            if -p[P.LAND_SPEED_MM_S] < vel_mm_s < p[P.LAND_SPEED_MM_S]:
                fl |= F.LAND_SPEED
        if (not engine_on) or throttle_q15 <= p[P.THR_MIN_Q15] + 1638:
            fl |= F.LAND_THR
        self.flags = fl
        self.contact = fl & (F.LAND_ALT | F.LAND_SPEED) == F.LAND_ALT | F.LAND_SPEED
        if fl == F.LAND_ALT | F.LAND_SPEED | F.LAND_THR:
            self.held_ms = min(self.held_ms + p[P.PERIOD_MS], 1000000)
        else:
            self.held_ms = 0
        return self.held_ms >= p[P.LAND_TIME_MS]
