# Minimal `digitalio` for MicroPython, so CircuitPython drivers that import it load
# (adafruit_lidarlite does `from digitalio import Direction` for its optional reset pin).
# DigitalInOut(pin) maps to machine.Pin when a pin is given (a Pin object, or an id that
# machine.Pin accepts: 15, "GP15"); without machine (or without a pin) it just remembers its
# value. Only what such drivers use: direction, value, pull, switch_to_output/input, deinit.
# Never copy this onto a CircuitPython board: its built-in digitalio is the real one.
try:
    from machine import Pin
except ImportError:
    Pin = None


class Direction:
    INPUT = 0
    OUTPUT = 1


class Pull:
    UP = 1
    DOWN = 2


class DriveMode:
    PUSH_PULL = 0
    OPEN_DRAIN = 1


class DigitalInOut:
    def __init__(self, pin=None):
        if pin is not None and Pin is not None and not isinstance(pin, Pin):
            pin = Pin(pin)
        self._pin = pin if Pin is not None else None
        self._direction = Direction.INPUT
        self._pull = None
        self._value = False
        if self._pin is not None:
            self._pin.init(Pin.IN)

    @property
    def direction(self):
        return self._direction

    @direction.setter
    def direction(self, direction):
        if direction == Direction.OUTPUT:
            self.switch_to_output(self._value)
        elif direction == Direction.INPUT:
            self.switch_to_input(self._pull)
        else:
            raise ValueError("direction must be Direction.INPUT or Direction.OUTPUT")

    @property
    def value(self):
        if self._pin is not None:
            return bool(self._pin.value())
        return self._value

    @value.setter
    def value(self, value):
        self._value = bool(value)
        if self._direction == Direction.OUTPUT and self._pin is not None:
            self._pin.value(1 if value else 0)

    @property
    def pull(self):
        return self._pull

    @pull.setter
    def pull(self, pull):
        self.switch_to_input(pull)

    def switch_to_output(self, value=False, drive_mode=DriveMode.PUSH_PULL):
        self._direction = Direction.OUTPUT
        self._value = bool(value)
        if self._pin is not None:
            mode = Pin.OPEN_DRAIN if drive_mode == DriveMode.OPEN_DRAIN else Pin.OUT
            self._pin.init(mode, value=1 if value else 0)

    def switch_to_input(self, pull=None):
        self._direction = Direction.INPUT
        self._pull = pull
        if self._pin is not None:
            p = None
            if pull == Pull.UP:
                p = Pin.PULL_UP
            elif pull == Pull.DOWN:
                p = Pin.PULL_DOWN
            self._pin.init(Pin.IN, p)

    def deinit(self):
        if self._pin is not None:
            self._pin.init(Pin.IN)
        self._pin = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
