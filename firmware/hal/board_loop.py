# Board mode: the flight runs standalone on the board's own clock, sensors and engine output
# (hal/machine_board.py), at the board's rate, and talks to a host on the console when one is
# there. The link application (fsw/app.py) is the same as in link mode: its command handling,
# telemetry, events, fault counting and persistence; only the tick comes from the board's
# clock instead of a TICK frame. docs/architecture.md, "Board mode", states the rules:
#
# Deadlines: tick k is due at t0 + k * period (period = PERIOD_MS, set from loop_hz at boot;
#   ticks_add/ticks_diff on fsw's 2^30 wrap). Before a deadline the loop sleeps until it
#   (sleep_us of the time left: never past it).
# A late tick (the loop reached its deadline after it had passed) runs at once with the real
#   time, so the flight propagates over the longer interval (and sets its own OVERRUN flag
#   beyond 1.5 periods); it is counted (`overruns`) and reported (EV_LATE, arg: us late).
#   One that is a whole period late or more skips the missed deadlines instead of running
#   them back to back: the next deadline is the first one after now (EV_SKIP, arg: deadlines
#   skipped; `skipped` counts them). A deadline more than a period ahead (impossible unless
#   the clock jumped) restarts the grid at now (EV_SKIP, arg 0): no sleep is ever longer
#   than a period.
# The watchdog is fed at the end of a tick that was on time and completed without an
#   exception, and only then: a loop that keeps missing its deadline or keeps faulting stops
#   feeding it, and the reset that follows boots with the engine output safe and the flight
#   resumed from the backup store (docs/resets.md).
# Engine output: the throttle of the tick (ctrl.throttle_q15) in DESCENT and TERMINAL with the
#   arming switch closed; the safe (disarmed) pulse in every other mode (SAFE, ARMED, LANDED,
#   ABORT), on a tick that raised, and when the loop stops.
# Arming switch: open -> ARM and START refused (E_PREFLIGHT, value AR_ARM_SWITCH, with an
#   EV_ARM_REFUSED); opening it in ARMED disarms, in DESCENT/TERMINAL aborts; every change is
#   an EV_INTERLOCK (arg 1 closed, 0 open).
# Accelerometer (board.imu, the LSM6DSOX on the LIDAR's bus; None: none fitted): stepped every
#   tick (at most 3 transactions, each bounded by the bus timeout; the driver never raises), its
#   vertical specific force and acc_ok go to the flight, and every change of its health is an
#   EV_IMU (arg: fsw.lsm6dsox ACC_*). An IMU that is lost (NACK, stale, stuck, saturated)
#   gives acc_ok 0: the flight propagates on its thrust model, as with none fitted; no fault.
# Host: at most RX_MAX console bytes a tick, read without waiting (select.poll, 0 timeout);
#   Ctrl-C is off while the loop runs (micropython.kbd_intr(-1)), as in hal/stdio_link.serve.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw import params as P
from fsw.fixmath import ticks_add, ticks_diff
from fsw.flight import DESCENT, TERMINAL, ARMED, SAFE
from fsw.link import COUNT_MASK

EV_LATE = const(16)  # a tick started after its deadline; arg: how late, us
EV_SKIP = const(17)  # deadlines skipped by a tick late by a period or more; arg: how many
# (0: the grid restarted at now, its next deadline was impossibly far ahead)
EV_INTERLOCK = const(18)  # the arming switch changed; arg: 1 closed, 0 open
EV_IMU = const(19)  # the accelerometer's health changed; arg: fsw.lsm6dsox ACC_* (3 good)

RX_MAX = const(64)  # console bytes read a tick at most (a CMD frame is 17)
QUIET_TICKS = const(13)  # ~250 ms at 50 Hz without a byte: drop a half-received frame
_LATE_MAX = const(0x1FFFFFFF)


def _console_intr(char):
    try:
        import micropython

        micropython.kbd_intr(char)
        return True
    except (ImportError, AttributeError):
        return False


class BoardLoop:
    def __init__(self, board, app, inp=None):
        # board: hal.machine_board.MachineBoard (or a test's stand-in with the same members);
        # app: fsw.app.App built with bus=board.i2c; inp: the host's input, readinto(buf, n)
        # without waiting (hal.stdio_link.PolledInput with wait_ms 0), None: no host
        self.board = board
        self.app = app
        self.flight = app.flight
        self._read = None if inp is None else inp.readinto
        self._rx = bytearray(RX_MAX)
        self._feed_into = app.feed_into
        self.overruns = 0  # ticks started after their deadline (wraps at 2^29)
        self.skipped = 0  # deadlines skipped (wraps at 2^29)
        self.feeds = 0  # watchdog feeds (wraps at 2^29)
        self.closed = False  # arming switch as last read (boot: open until read closed)
        self.imu = board.imu  # the accelerometer driver, or None
        self.imu_status = -1  # its health as last reported (EV_IMU); -1: not yet
        self.deadline = 0
        self._quiet = 0
        self._started = False
        hz = board.cfg["loop_hz"]
        if app.params.set(P.PERIOD_MS, 1000 // hz) != P.OK:
            raise ValueError("board_config: loop_hz gives a PERIOD_MS out of range")
        app.params.set(P.RF_SOURCE, 1)  # the LIDAR-Lite on the board's bus

    def run(self, n=-1):
        # n ticks (-1: for ever, a board's case); whatever escapes a tick (nothing should:
        # a KeyboardInterrupt without kbd_intr, a test's watchdog) leaves the engine output
        # safe. After n ticks the output stays as the last tick set it: the caller goes on
        # ticking (tests run the loop in steps)
        intr = _console_intr(-1)
        try:
            if not self._started:
                self._started = True
                self.board.start_watchdog()
                self.deadline = self.board.ticks_us()
            while n != 0:
                if n > 0:
                    n -= 1
                self.tick()
        except BaseException:
            self._safe()
            raise
        finally:
            if intr:
                _console_intr(3)

    def tick(self):
        board = self.board
        app = self.app
        fl = self.flight
        esc = board.esc
        period = app.params.v[P.PERIOD_MS] * 1000
        now = board.ticks_us()
        late = ticks_diff(now, self.deadline)
        if late < -period:
            # a deadline more than a period ahead cannot be (a clock that jumped, or a tick
            # half a wrap, 9 min, late): no sleep that long; the grid restarts at now
            self.deadline = now
            self.skipped = (self.skipped + 1) & COUNT_MASK
            app.event(EV_SKIP, 0)
            late = 0
            on_time = True
        elif late < 0:
            board.sleep_us(-late)  # to the deadline, not past it: at most a period
            now = board.ticks_us()
            late = 0
            on_time = True
        else:
            # 0: the loop arrived exactly at its deadline; on time too
            on_time = late == 0
        ok = True
        try:
            if not on_time:
                self.overruns = (self.overruns + 1) & COUNT_MASK
                app.event(EV_LATE, late if late < _LATE_MAX else _LATE_MAX)
                if late >= period:
                    k = late // period
                    self.deadline = ticks_add(self.deadline, k * period)
                    self.skipped = (self.skipped + k) & COUNT_MASK
                    app.event(EV_SKIP, k)
            self._interlock(board.switch.closed())
            self._console()
            imu = self.imu
            if imu is None:
                app.board_step(now, 0, 0)  # no accelerometer: the flight's thrust model
            else:
                imu.step(now)  # <= 3 bounded transactions; never raises
                st = imu.status
                if st != self.imu_status:
                    self.imu_status = st
                    app.event(EV_IMU, st)
                # acc_ok 0 (lost, stale, saturated): the thrust model, as without one
                app.board_step(now, imu.acc_mm_s2, 1 if imu.acc_ok else 0)
            mode = fl.mode
            if self.closed and (mode == DESCENT or mode == TERMINAL):
                esc.throttle(fl.ctrl.throttle_q15)
            else:
                esc.safe()
        except Exception:
            ok = False
            self._safe()
            app.fault()
        try:
            app.board_report()
        except Exception:
            ok = False
            app.fault()
        try:
            mode = fl.mode
            if mode == DESCENT or mode == TERMINAL:
                led = True
            elif mode == ARMED:
                led = fl.ticks & 4  # fast blink
            elif mode == SAFE:
                led = fl.ticks & 32  # slow blink
            else:
                led = False  # LANDED, ABORT
            board.led.set(led)
        except Exception:
            ok = False
            app.fault()
        self.deadline = ticks_add(self.deadline, period)
        wdt = board.wdt
        if ok and on_time and wdt is not None:
            wdt.feed()
            self.feeds = (self.feeds + 1) & COUNT_MASK

    def _safe(self):
        try:
            self.board.esc.safe()
        except Exception:
            pass  # the fault is counted by the caller

    def _interlock(self, closed):
        app = self.app
        fl = self.flight
        app.interlock_open = not closed
        if closed != self.closed:
            self.closed = closed
            app.event(EV_INTERLOCK, 1 if closed else 0)
        if not closed:
            mode = fl.mode
            if mode == ARMED:
                fl.disarm()
            elif mode == DESCENT or mode == TERMINAL:
                fl.abort()

    def _console(self):
        # the host's commands, if any: a bounded number of bytes, no wait
        read = self._read
        if read is None:
            return
        n = read(self._rx, RX_MAX)
        if n:
            self._quiet = 0
            self._feed_into(self._rx, n)
        elif self._quiet < QUIET_TICKS:
            self._quiet += 1
            if self._quiet == QUIET_TICKS:
                # the host went quiet: drop a frame half-received, accept its next SEQ
                dec = self.app.dec
                dec.end()
                dec.restart_seq()
