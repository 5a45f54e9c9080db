# Board HAL on CircuitPython (board, busio, pwmio, digitalio, microcontroller, supervisor,
# alarm): the same members hal/board_loop.py uses from hal/machine_board.MachineBoard (cfg,
# esc, switch, led, i2c, imu, wdt, backup, ticks_us, sleep_us, start_watchdog), built from
# board_config.py with hal "circuitpython" (docs/architecture.md, "Board mode"). Pins are the
# names of the `board` module ("D5", "SDA", "LED"), not numbers.
#
# The engine output is built first and set to its safe (disarmed) pulse before anything else
# is touched, as on MicroPython. Every method used in the loop is allocation-free and
# integer-only:
#   clock    supervisor.ticks_ms() (a small int, wraps at 2^29 ms), unwrapped into fsw's 2^30
#            microsecond domain: 1 ms resolution. time.monotonic_ns() would give better but
#            returns a long int (allocates every call); time.monotonic() is a float that loses
#            resolution as the board stays up.
#   sleep    time.sleep() of a float from a table built at boot (whole ms up to a period):
#            no float is made per tick; CircuitPython runs its background tasks (USB) meanwhile.
#   ESC      pwmio.PWMOut duty_cycle (0..65535): pulse_us * hz * 1024 // 15625, every product
#            below 2^30 (pulse_us * hz < 10^6, checked by config()).
#   I2C      busio.I2C wrapped in machine.I2C style (writeto, readfrom_into, writeto_mem,
#            readfrom_mem_into) for fsw.lidarlite and fsw.lsm6dsox: the bus lock is taken with
#            at most LOCK_TRIES try_lock() calls (else OSError EBUSY) and released in finally;
#            a failed transaction raises (busio's OSError, or the EBUSY: allocated, as any
#            exception busio raises is);
#            register writes go through a scratch buffer sliced by keywords (start=/end=).
#   watchdog microcontroller.watchdog, timeout wdt_ms / 1000 s, mode WatchDogMode.RESET.
#   backup   alarm.sleep_memory through a slice made at boot (no slice object per tick).
#            microcontroller.nvm is not used for the flight state: it is flash, a write
#            erases a sector (milliseconds with the bus and USB stalled, far past a tick's
#            budget at 50 Hz) and wears out (~100k cycles: a few dozen flights at 50 writes/s).
from fsw.fixmath import ticks_add

from hal.machine_board import AXES, IMU_TX, check_common
from hal.machine_board import DEFAULTS as _MP_DEFAULTS

DEFAULTS = dict(_MP_DEFAULTS)
DEFAULTS.update({
    "hal": "circuitpython",
    "i2c_scl": "SCL",
    "i2c_sda": "SDA",
    "backup": "auto",
})
DEFAULTS.pop("i2c_id", None)  # busio.I2C takes pins, no bus number
REQUIRED = ("pwm_pin",)
PIN_KEYS = ("i2c_scl", "i2c_sda", "pwm_pin", "arm_pin", "led_pin")
BACKUPS = ("auto", "sleep_memory", "none")
LOCK_TRIES = 100  # try_lock() calls before a transaction gives up (the loop owns the bus)
MS_MASK = 0x1FFFFFFF  # supervisor.ticks_ms wraps at 2^29
_STEP_MAX_MS = 0x7FFFF  # a clock step beyond ~524 s is taken as 524 s (x1000 stays < 2^30)
WRITE_MAX = 16  # bytes a writeto_mem carries at most (the LSM6DSOX driver writes 1..2)
_EBUSY = 16
_ENODEV = 19
# The failures below raise a new OSError, as busio's own NACKs do: an allocation on those paths
# only. A preallocated exception would not do: MicroPython appends to an exception's traceback
# on every raise, so one instance raised every tick grows without bound.


def _is_name(v):
    if type(v) is not str or not v:
        return False
    for c in v:
        if not (c == "_" or "A" <= c <= "Z" or "a" <= c <= "z" or "0" <= c <= "9"):
            return False
    return not ("0" <= v[0] <= "9")


def config(cfg):
    # the board configuration with its defaults filled in and checked; raises ValueError
    # naming the key (at boot, before the loop)
    c = dict(DEFAULTS)
    c.update(cfg)
    for key in REQUIRED:
        if c.get(key) is None:
            raise ValueError("board_config: %s is required" % key)
    if c["hal"] != "circuitpython":
        raise ValueError("board_config: hal %r is not supported here (circuitpython)"
                         % (c["hal"],))
    for key in PIN_KEYS:
        v = c.get(key)
        if v is not None and not _is_name(v):
            raise ValueError("board_config: %s must be a pin name of the board module "
                             "(e.g. 'D5', no 'board.'), not %r" % (key, v))
    if c["backup"] not in BACKUPS:
        raise ValueError("board_config: backup %r is not supported (auto, sleep_memory, none)"
                         % (c["backup"],))
    check_common(c)
    return c


class Modules:
    """The CircuitPython modules the HAL uses; tests pass stand-ins with the same names."""

    def __init__(self):
        import board
        import busio
        import digitalio
        import microcontroller
        import pwmio
        import supervisor
        import time

        self.board = board
        self.busio = busio
        self.digitalio = digitalio
        self.microcontroller = microcontroller
        self.pwmio = pwmio
        self.supervisor = supervisor
        self.time = time
        try:
            import watchdog
        except ImportError:
            watchdog = None
        self.watchdog = watchdog
        try:
            import alarm
        except ImportError:
            alarm = None
        self.alarm = alarm


def _pin(mods, name):
    pin = getattr(mods.board, name, None)
    if pin is None:
        raise ValueError("board_config: this board has no pin board.%s" % name)
    return pin


class Esc:
    """Servo-pulse ESC output on pwmio.PWMOut: pulse = min + throttle * (max - min) / 32767
    microseconds; the safe (disarmed) pulse is min. pulse_us: the pulse written last."""

    def __init__(self, mods, pin, hz, min_us, max_us):
        self.hz = hz
        self.min_us = min_us
        self.span_us = max_us - min_us
        self.pulse_us = min_us
        # safe from the first edge: the constructor starts the output at the disarmed pulse
        self._pwm = mods.pwmio.PWMOut(pin, frequency=hz, duty_cycle=self.duty(min_us))

    def duty(self, us):
        # us * hz < 10^6 (config), x 1024 < 2^30; 65536 / 10^6 = 1024 / 15625
        d = (us * self.hz * 1024) // 15625
        return 65535 if d > 65535 else d

    def safe(self):
        self.pulse_us = self.min_us
        self._pwm.duty_cycle = self.duty(self.min_us)

    def throttle(self, q15):
        q = 0 if q15 < 0 else (32767 if q15 > 32767 else q15)
        us = self.min_us + (q * self.span_us) // 32767
        self.pulse_us = us
        self._pwm.duty_cycle = self.duty(us)


class ArmSwitch:
    """The arming switch on a digitalio input, pulled towards "open" (a broken wire reads
    open). arm_pin None: no switch fitted, always open (never arms)."""

    def __init__(self, mods, pin, closed_level):
        self._pin = None
        self._closed = True if closed_level else False
        if pin is not None:
            dio = mods.digitalio
            p = dio.DigitalInOut(pin)
            p.switch_to_input(pull=dio.Pull.UP if closed_level == 0 else dio.Pull.DOWN)
            self._pin = p

    def closed(self):
        pin = self._pin
        return pin is not None and pin.value == self._closed


class Led:
    def __init__(self, mods, pin):
        self._pin = None
        if pin is not None:
            p = mods.digitalio.DigitalInOut(pin)
            p.switch_to_output(value=False)
            self._pin = p

    def set(self, on):
        if self._pin is not None:
            self._pin.value = True if on else False


class BusioI2C:
    """busio.I2C with machine.I2C's calls, as fsw.lidarlite and fsw.lsm6dsox make them.
    Each call takes the bus lock (at most LOCK_TRIES tries, else OSError EBUSY), does one
    transaction and unlocks; bus errors are busio's OSError. Allocation-free."""

    def __init__(self, bus):
        self.bus = bus
        self._try_lock = bus.try_lock
        self._unlock = bus.unlock
        self._writeto = bus.writeto
        self._readinto = bus.readfrom_into
        self._wr_rd = bus.writeto_then_readfrom
        self._reg = bytearray(1)
        self._w = bytearray(1 + WRITE_MAX)
        self.lock_failures = 0

    def _lock(self):
        n = LOCK_TRIES
        try_lock = self._try_lock
        while n:
            if try_lock():
                return
            n -= 1
        self.lock_failures = (self.lock_failures + 1) & MS_MASK
        raise OSError(_EBUSY)

    def writeto(self, addr, buf, stop=True):
        self._lock()
        try:
            self._writeto(addr, buf)
        finally:
            self._unlock()
        return None  # as busio: the driver takes None for "all written"

    def readfrom_into(self, addr, buf, stop=True):
        self._lock()
        try:
            self._readinto(addr, buf)
        finally:
            self._unlock()

    def writeto_mem(self, addr, memaddr, buf):
        n = len(buf)
        if n > WRITE_MAX:
            raise ValueError("writeto_mem: at most 16 bytes")
        w = self._w
        w[0] = memaddr
        for i in range(n):
            w[1 + i] = buf[i]
        self._lock()
        try:
            self._writeto(addr, w, end=1 + n)
        finally:
            self._unlock()

    def readfrom_mem_into(self, addr, memaddr, buf):
        r = self._reg
        r[0] = memaddr
        self._lock()
        try:
            self._wr_rd(addr, r, buf)
        finally:
            self._unlock()


class NoBus:
    """The bus that could not be built (busio.I2C raises at boot without pull-ups, e.g. the
    sensors unplugged): every transaction fails as an address NACK would, so the loop runs,
    the engine output stays under its control and the sensors report NOT_CONNECTED."""

    def writeto(self, addr, buf, stop=True):
        raise OSError(_ENODEV)

    def readfrom_into(self, addr, buf, stop=True):
        raise OSError(_ENODEV)

    def writeto_mem(self, addr, memaddr, buf):
        raise OSError(_ENODEV)

    def readfrom_mem_into(self, addr, memaddr, buf):
        raise OSError(_ENODEV)


class _Slicer:
    def __getitem__(self, key):
        return key


_SLICE = _Slicer()  # _SLICE[a:b] is a slice object, made once and kept


class SleepMemoryBackup:
    """alarm.sleep_memory (RAM that CircuitPython keeps while it sleeps; what survives a
    watchdog reset depends on the port: docs/board-feather.md). The record is written whole
    every tick through a slice object made on the first write (no slice per tick); a record
    longer than the memory is not written (`fits` False) and a reset then boots into SAFE."""

    def __init__(self, mem):
        self._mem = mem
        self._cap = len(mem)
        self._n = -1
        self._slice = None
        self.fits = True

    def readinto(self, buf):
        n = self._cap if self._cap < len(buf) else len(buf)
        data = self._mem[0:n]  # at boot only
        for i in range(n):
            buf[i] = data[i]
        return n

    def write(self, buf):
        n = len(buf)
        if n != self._n:
            self._slice = _SLICE[0:n]  # slice() cannot be called on every port
            self.fits = n <= self._cap
            self._n = n
        if self.fits:
            self._mem[self._slice] = buf


class CdcInput:
    """The host's bytes on a usb_cdc.Serial (timeout 0): readinto(buf, n) returns what has
    arrived, never waits; allocation-free."""

    def __init__(self, port):
        port.timeout = 0
        self._port = port
        self._readinto = port.readinto
        self._one = bytearray(1)

    def readinto(self, buf, n):
        if not self._port.in_waiting:
            return 0
        if n >= len(buf):
            k = self._readinto(buf)
            return k or 0
        one = self._one
        i = 0
        while i < n and self._port.in_waiting:
            if not self._readinto(one):
                break
            buf[i] = one[0]
            i += 1
        return i


class CircuitPythonBoard:
    """The board's devices from a checked configuration (config()). mods: the CircuitPython
    modules (default: imported)."""

    def __init__(self, cfg, mods=None):
        if mods is None:
            mods = Modules()
        self.cfg = cfg
        self._mods = mods
        # the engine output first: safe before anything else
        self.esc = Esc(mods, _pin(mods, cfg["pwm_pin"]), cfg["pwm_hz"], cfg["pwm_min_us"],
                       cfg["pwm_max_us"])
        arm = cfg["arm_pin"]
        self.switch = ArmSwitch(mods, None if arm is None else _pin(mods, arm),
                                cfg["arm_closed"])
        led = cfg["led_pin"]
        self.led = Led(mods, None if led is None else _pin(mods, led))
        # busio.I2C has no transaction timeout of its own (the port's driver bounds it)
        try:
            bus = mods.busio.I2C(_pin(mods, cfg["i2c_scl"]), _pin(mods, cfg["i2c_sda"]),
                                 frequency=cfg["i2c_freq"])
            self.i2c = BusioI2C(bus)
            self.bus_error = None
        except (RuntimeError, OSError) as e:  # no pull-ups: nothing on the bus
            self.i2c = NoBus()
            self.bus_error = e
        self.imu = None
        if cfg["imu"] == "lsm6dsox":
            from fsw.lsm6dsox import Lsm6dsox

            self.imu = Lsm6dsox(self.i2c, cfg["imu_addr"], cfg["imu_fs_g"],
                                AXES.index(cfg["imu_up_axis"]), cfg["imu_up_sign"],
                                cfg["loop_hz"], IMU_TX)
        # the clock: supervisor.ticks_ms unwrapped into microseconds on fsw's 2^30 wrap
        self._ticks_ms = mods.supervisor.ticks_ms
        self._sleep = mods.time.sleep
        ms = self._ticks_ms()
        self._last_ms = ms
        self._us = (ms % 1073741) * 1000  # < 2^30: any start will do
        period_ms = 1000 // cfg["loop_hz"]
        self._sleep_s = tuple(i / 1000 for i in range(period_ms + 2))
        self.wdt = None
        self.backup = self._backup(cfg["backup"])

    def ticks_us(self):
        now = self._ticks_ms()
        d = (now - self._last_ms) & MS_MASK
        self._last_ms = now
        if d > _STEP_MAX_MS:
            d = _STEP_MAX_MS
        self._us = ticks_add(self._us, d * 1000)
        return self._us

    def sleep_us(self, n):
        # whole milliseconds, rounded down (never past the deadline), at most a period
        if n < 1000:
            return
        ms = n // 1000
        top = len(self._sleep_s) - 1
        self._sleep(self._sleep_s[ms if ms < top else top])

    def start_watchdog(self):
        # once in RESET mode the watchdog is not stopped by the loop: started just before
        # its first tick
        ms = self.cfg["wdt_ms"]
        if ms and self.wdt is None:
            mods = self._mods
            w = mods.microcontroller.watchdog
            w.timeout = ms / 1000
            w.mode = mods.watchdog.WatchDogMode.RESET
            self.wdt = w

    def _backup(self, kind):
        if kind == "none":
            return None
        alarm = self._mods.alarm
        mem = None if alarm is None else getattr(alarm, "sleep_memory", None)
        n = 0
        if mem is not None:
            try:
                n = len(mem)  # ports without it: 0, or NotImplementedError
                mem[0:1]
            except Exception:
                n = 0
        if n > 0:
            return SleepMemoryBackup(mem)
        if kind == "sleep_memory":
            raise ValueError("board_config: backup 'sleep_memory' but this board has no "
                             "alarm.sleep_memory")
        return None


def console():
    # the host's (input, output): usb_cdc.data when boot.py enables it (binary, no Ctrl-C),
    # else usb_cdc.console; (None, None) without usb_cdc
    try:
        import usb_cdc
    except ImportError:
        return None, None
    port = usb_cdc.data or usb_cdc.console
    if port is None:
        return None, None
    return CdcInput(port), port


def run_board(cfg, inp=None, out=None):
    # board mode on CircuitPython from a board_config dict: the engine output safe first
    # (CircuitPythonBoard builds it before anything else and before the flight code is
    # imported), then the rest; runs for ever
    cfg = config(cfg)
    board = CircuitPythonBoard(cfg)
    from fsw.app import App
    from hal.board_loop import BoardLoop

    if not cfg["console"]:
        inp, out = None, None
    elif inp is None and out is None:
        inp, out = console()
    if out is None:
        out = _NoOutput()
    app = App(out, None, board.backup, board.i2c)
    BoardLoop(board, app, inp).run()


class _NoOutput:
    def write(self, buf):
        return len(buf)
