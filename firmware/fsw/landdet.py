# Land detector: a conjunction of conditions held for a set time; each condition is a bit.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x

# fsw.params values as local constants, folded at compile time (P.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_PERIOD_MS = const(0)
_GRAVITY_MM_S2 = const(1)
_THR_MIN_Q15 = const(4)
_LAND_ALT_MM = const(20)
_LAND_SPEED_MM_S = const(21)
_LAND_TIME_MS = const(22)

# fsw.flags values as local constants, folded at compile time (F.X is a module
# attribute lookup at every use); tests/test_local_constants.py holds them equal
_LAND_ALT = const(0x400)
_LAND_SPEED = const(0x800)
_LAND_THR = const(0x1000)


class LandDetector:
    STATE = ("held_ms", "flags", "contact", "impact")

    def __init__(self, params):
        self.p = params.v
        self.held_ms = 0
        self.flags = 0
        self.contact = False  # low and slow: ground contact suspected
        self.impact = False  # a ground impact was sensed while low: on the surface from here

    def reset(self):
        self.held_ms = 0
        self.flags = 0
        self.contact = False
        self.impact = False

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
            if reaction_mm_s2 > p[_GRAVITY_MM_S2] >> (4 if self.contact else 3):
                fl |= _LAND_ALT | _LAND_SPEED
        else:
            if alt_mm < p[_LAND_ALT_MM]:
                fl |= _LAND_ALT
                # a ground impact: low, and a specific force no thrust explains, above twice
                # gravity (in flight the unexplained force is the thrust model's error, tenths
                # of a m/s^2; a contact stopping even 0.1 m/s within a tick is several m/s^2).
                # The vehicle is on the surface, though it may bounce: the velocity estimate
                # (the impulse clamped, the rebound read as noise) no longer says "slow", and the
                # engine at minimum only lengthens the hops. Held from here: "low and slow"
                if reaction_mm_s2 > p[_GRAVITY_MM_S2] << 1:
                    self.impact = True
            if -p[_LAND_SPEED_MM_S] < vel_mm_s < p[_LAND_SPEED_MM_S]:
                fl |= _LAND_SPEED
            if self.impact:
                fl |= _LAND_ALT | _LAND_SPEED
        if (not engine_on) or throttle_q15 <= p[_THR_MIN_Q15] + 1638:
            fl |= _LAND_THR
        self.flags = fl
        self.contact = fl & (_LAND_ALT | _LAND_SPEED) == _LAND_ALT | _LAND_SPEED
        if fl == _LAND_ALT | _LAND_SPEED | _LAND_THR:
            t = self.held_ms + p[_PERIOD_MS]
            self.held_ms = t if t < 1000000 else 1000000  # (not min(): a call ~40 us)
        else:
            self.held_ms = 0
        return self.held_ms >= p[_LAND_TIME_MS]
