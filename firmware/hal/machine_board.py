# Board HAL on MicroPython's `machine` module: the board's own I2C bus (the LIDAR-Lite, and the
# LSM6DSOX accelerometer when the configuration has one: "imu"), its clock (time.ticks_us), the ESC output (machine.PWM, servo pulses), the watchdog
# (machine.WDT), the arming switch, the status LED and the backup store, built from the board
# configuration (board_config.py, a plain dict: docs/architecture.md, "Board mode"). The loop
# that drives them is hal/board_loop.py.
#
# The engine output is built first and set to its safe (disarmed) pulse before anything else
# is touched: after a watchdog reset the ESC sees the disarmed pulse within the boot, whatever
# the flight state was. Every method used in the loop is allocation-free.
from fsw.fixmath import TICKS_MASK

# configuration defaults (keys documented in docs/architecture.md, "Board mode")
DEFAULTS = {
    "mode": "link",
    "hal": "machine",
    "i2c_id": 0,
    "i2c_freq": 400000,
    "i2c_timeout_us": 2000,
    "loop_hz": 50,
    "pwm_hz": 50,
    "pwm_min_us": 1000,
    "pwm_max_us": 2000,
    "arm_pin": None,
    "arm_closed": 0,
    "led_pin": None,
    "wdt_ms": 0,
    "backup": "auto",
    "console": True,
    "imu": "none",  # "none": the flight's thrust model; "lsm6dsox": on the LIDAR's bus
    "imu_addr": 0x6A,  # 0x6A (SA0 low, the Adafruit breakout's default) or 0x6B
    "imu_fs_g": 16,  # full scale, g: 2, 4, 8 or 16 (landing shocks)
    "imu_up_axis": "z",  # the body axis along the thrust, pointing up: "x", "y" or "z"
    "imu_up_sign": 1,  # +1: that axis points up, -1: down
}
REQUIRED = ("i2c_scl", "i2c_sda", "pwm_pin")
PULSE_MIN_US = 500  # what a servo-pulse ESC input accepts at all
PULSE_MAX_US = 2500
IMUS = ("none", "lsm6dsox")
AXES = ("x", "y", "z")
LIDAR_TX = 4  # I2C transactions a tick at most: the LIDAR-Lite driver's max_tx ...
IMU_TX = 3  # ... and the LSM6DSOX driver's


def config(cfg):
    # the board configuration with its defaults filled in and checked; raises ValueError
    # naming the key (at boot, before the loop: the ESC is already safe by then)
    c = dict(DEFAULTS)
    c.update(cfg)
    for key in REQUIRED:
        if c.get(key) is None:
            raise ValueError("board_config: %s is required" % key)
    if c["hal"] != "machine":
        raise ValueError("board_config: hal %r is not supported (machine)" % (c["hal"],))
    check_common(c)
    return c


def check_common(c):
    # the checks both HALs make (hal/cp_board.py too): the ESC pulse, the switch level, the
    # loop rate, the watchdog, the IMU and the I2C budget; raises ValueError naming the key
    lo = c["pwm_min_us"]
    hi = c["pwm_max_us"]
    if not PULSE_MIN_US <= lo < hi <= PULSE_MAX_US:
        raise ValueError("board_config: need 500 <= pwm_min_us < pwm_max_us <= 2500")
    hz = c["pwm_hz"]
    if not 1 <= hz or hi * hz >= 1000000:
        raise ValueError("board_config: pwm_hz must leave room for pwm_max_us")
    if c["arm_closed"] not in (0, 1):
        raise ValueError("board_config: arm_closed is the pin level when closed, 0 or 1")
    if c["loop_hz"] < 40 or c["loop_hz"] > 200:
        raise ValueError("board_config: loop_hz must be 40..200 (PERIOD_MS 5..25)")
    wdt = c["wdt_ms"]
    if wdt and wdt < 3 * 1000 // c["loop_hz"]:
        raise ValueError("board_config: wdt_ms must be 0 (none) or at least 3 loop periods")
    imu = c["imu"]
    if imu not in IMUS:
        raise ValueError("board_config: imu %r is not supported (none, lsm6dsox)" % (imu,))
    if c["imu_addr"] not in (0x6A, 0x6B):
        raise ValueError("board_config: imu_addr must be 0x6A or 0x6B (the LSM6DSOX's SA0)")
    if c["imu_fs_g"] not in (2, 4, 8, 16):
        raise ValueError("board_config: imu_fs_g must be 2, 4, 8 or 16")
    if c["imu_up_axis"] not in AXES:
        raise ValueError("board_config: imu_up_axis must be 'x', 'y' or 'z'")
    if c["imu_up_sign"] not in (1, -1):
        raise ValueError("board_config: imu_up_sign must be 1 or -1")
    # every transaction of a tick timing out must still leave the tick inside its period
    tx = LIDAR_TX + (IMU_TX if imu != "none" else 0)
    if tx * c["i2c_timeout_us"] >= 1000000 // c["loop_hz"]:
        raise ValueError("board_config: i2c_timeout_us x %d transactions a tick must fit in a "
                         "loop period" % tx)


class Esc:
    """Servo-pulse ESC output: pulse = min + throttle * (max - min) / 32767 microseconds;
    the safe (disarmed) pulse is min. pulse_us: the pulse written last."""

    def __init__(self, machine, pin, hz, min_us, max_us):
        self.min_us = min_us
        self.span_us = max_us - min_us
        self.pulse_us = min_us
        # safe from the first edge: the constructor starts the output at the disarmed pulse
        self._pwm = machine.PWM(machine.Pin(pin), freq=hz, duty_ns=min_us * 1000)
        self._duty_ns = self._pwm.duty_ns

    def safe(self):
        self.pulse_us = self.min_us
        self._duty_ns(self.min_us * 1000)

    def throttle(self, q15):
        # q15 0..32767 (clamped): span * q15 < 2^22, within a small int
        q = 0 if q15 < 0 else (32767 if q15 > 32767 else q15)
        us = self.min_us + (q * self.span_us) // 32767
        self.pulse_us = us
        self._duty_ns(us * 1000)


class ArmSwitch:
    """The arming switch: a hardware interlock read on a pin with a pull towards "open", so a
    broken wire reads open. arm_pin None: no switch fitted, always open (never arms)."""

    def __init__(self, machine, pin, closed_level):
        self._pin = None
        self._closed = closed_level
        if pin is not None:
            pull = machine.Pin.PULL_UP if closed_level == 0 else machine.Pin.PULL_DOWN
            self._pin = machine.Pin(pin, machine.Pin.IN, pull)

    def closed(self):
        pin = self._pin
        return pin is not None and pin.value() == self._closed


class Led:
    def __init__(self, machine, pin):
        self._pin = None if pin is None else machine.Pin(pin, machine.Pin.OUT, value=0)

    def set(self, on):
        if self._pin is not None:
            self._pin.value(1 if on else 0)


class MachineBoard:
    """The board's devices from a checked configuration (config()). machine and clock
    default to the `machine` and `time` modules; tests pass stand-ins."""

    def __init__(self, cfg, machine=None, clock=None):
        if machine is None:
            import machine
        if clock is None:
            import time as clock
        self.cfg = cfg
        self._machine = machine
        # the engine output first: safe before anything else
        self.esc = Esc(machine, cfg["pwm_pin"], cfg["pwm_hz"], cfg["pwm_min_us"],
                       cfg["pwm_max_us"])
        self.switch = ArmSwitch(machine, cfg["arm_pin"], cfg["arm_closed"])
        self.led = Led(machine, cfg["led_pin"])
        # timeout in microseconds (rp2, esp32): bounds every transaction of the driver
        self.i2c = machine.I2C(cfg["i2c_id"], scl=machine.Pin(cfg["i2c_scl"]),
                               sda=machine.Pin(cfg["i2c_sda"]), freq=cfg["i2c_freq"],
                               timeout=cfg["i2c_timeout_us"])
        # the accelerometer on the same bus (a different address), or None: no IMU
        self.imu = None
        if cfg["imu"] == "lsm6dsox":
            from fsw.lsm6dsox import Lsm6dsox

            self.imu = Lsm6dsox(self.i2c, cfg["imu_addr"], cfg["imu_fs_g"],
                                AXES.index(cfg["imu_up_axis"]), cfg["imu_up_sign"],
                                cfg["loop_hz"], IMU_TX)
        self._ticks_us = clock.ticks_us
        self.sleep_us = clock.sleep_us
        self.wdt = None
        self.backup = self._backup(cfg["backup"])

    def ticks_us(self):
        # the board's clock in fsw's 2^30 domain (a 32-bit port's ticks_us already wraps
        # there; the 64-bit unix port's does not)
        return self._ticks_us() & TICKS_MASK

    def start_watchdog(self):
        # once started a machine.WDT cannot be stopped: started by the loop, just before
        # its first tick
        ms = self.cfg["wdt_ms"]
        if ms and self.wdt is None:
            self.wdt = self._machine.WDT(timeout=ms)

    def _backup(self, kind):
        if kind == "none":
            return None
        rtc = None
        try:
            rtc = self._machine.RTC()
        except (AttributeError, OSError):
            pass
        if rtc is not None and hasattr(rtc, "memory"):
            from hal.backup import RtcBackup

            return RtcBackup(rtc)
        if kind == "rtc":
            raise ValueError("board_config: backup 'rtc' but this port's RTC has no memory()")
        return None


def run_board(cfg, inp=None, out=None):
    # board mode from a board_config dict: the engine output safe first (MachineBoard builds
    # it before anything else and before the flight code is even imported), then the rest;
    # runs for ever. inp/out: the host's streams (default: the console when cfg "console")
    cfg = config(cfg)
    board = MachineBoard(cfg)
    import sys

    from fsw.app import App
    from hal.board_loop import BoardLoop

    if not cfg["console"]:
        out = _NoOutput()
        inp = None
    else:
        if out is None:
            out = sys.stdout.buffer
        if inp is None:
            from hal.stdio_link import PolledInput

            inp = PolledInput(sys.stdin.buffer, 0)
    from hal.logfile import open_flightlog

    # the onboard flight log (docs/flightlog.md): board_config "flightlog" names the file on
    # the board's filesystem ("flightlog_records" its ring's size); absent: no log
    log = open_flightlog(cfg.get("flightlog") or None, cfg.get("flightlog_records"))
    app = App(out, None, board.backup, board.i2c, log=log)
    BoardLoop(board, app, inp).run()


class _NoOutput:
    def write(self, buf):
        return len(buf)
