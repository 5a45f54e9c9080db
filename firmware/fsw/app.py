# The link application: decodes host frames (tick, command), runs the flight, answers with
# telemetry, acknowledgements and events. Allocation-free after construction; an exception in
# the loop is caught, counted and reported as an event, never raised.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


try:
    from ustruct import pack_into
except ImportError:
    from struct import pack_into

from fsw import params as P
from fsw.flags import LINK_ERR
from fsw.flight import EV_ARM_REFUSED, EV_FAULT, Flight
from fsw.link import (
    HEADER_LEN,
    OVERHEAD,
    T_ACK,
    T_CMD,
    T_EVENT,
    T_I2C_RESP,
    T_SERIAL,
    T_TELEM,
    T_TICK,
    COUNT_MASK,
    Decoder,
    Encoder,
    crc_view,
    get_i32,
    get_u8,
    put_i32,
    put_u8,
)
from fsw.linkdev import SER_DATA, LinkI2C, LinkUart
from fsw.lidarlite import LidarLite
from fsw.lrf import Lrf
from fsw.persist import Persist
from fsw.rangefinder import RF_NOT_CONNECTED
from fsw.telemetry import FORMAT as TELEM_FORMAT
from fsw.telemetry import LENGTH as TELEM_LEN
from fsw.telemetry import Telemetry

# TICK payload (host -> firmware)
TICK_TIME_US = const(0)  # i32, wraps at 2^30
TICK_RANGE_MM = const(4)  # i32 rangefinder distance
TICK_RANGE_STATUS = const(8)  # u8 rangefinder health (fsw.flight RF_*)
TICK_ACC_MM_S2 = const(9)  # i32 vertical specific force from the IMU, up +
TICK_ACC_OK = const(13)  # u8 1 when the accelerometer sample is good
TICK_LEN = const(14)

# CMD payload (host -> firmware) and ACK payload (firmware -> host)
CMD_CODE = const(0)  # u8
CMD_ID = const(1)  # u8 parameter id
CMD_VALUE = const(2)  # i32
CMD_LEN = const(6)
ACK_CODE = const(0)  # u8 command acknowledged
ACK_ID = const(1)  # u8
ACK_RESULT = const(2)  # u8 0 = OK, else fsw.params E_*
ACK_MODE = const(3)  # u8 mode after the command
ACK_VALUE = const(4)  # i32
ACK_LEN = const(8)

# EVENT payload
EV_CODE = const(0)  # u8
EV_MODE = const(1)  # u8
EV_ARG = const(2)  # i32
EV_LEN = const(6)

# commands
C_SET_PARAM = const(1)
C_GET_PARAM = const(2)
C_ARM = const(3)
C_DISARM = const(4)
C_START = const(5)
C_ABORT = const(6)
C_PING = const(7)

E_BAD_FRAME = const(5)  # ACK result: payload length wrong for its type
E_UNKNOWN = const(6)  # ACK result: unknown command
# fsw.params ids as local constants, folded at compile time (P.X is a module attribute lookup
# at every use); tests/test_local_constants.py holds them equal
_RF_SOURCE = const(26)
_BASELINE = const(27)
# fsw.link's I32_MAX and I32_MIN (get_i32's saturation), folded the same way
_I32_MAX = const(0x3FFFFFFF)
_I32_MIN = const(-0x3FFFFFFF - 1)
# fsw.fixmath's TICKS_MASK and TICKS_HALF (ticks_diff, written out)
_TICKS_MASK = const(0x3FFFFFFF)
_TICKS_HALF = const(0x20000000)

ARM_OVERRIDE = const(1)  # ARM value bit: arm despite failed preflight sensor checks
# the answer to the last frame delivered, kept to send again when that frame comes again (a
# host that missed the answer retransmits it: fsw.link.Decoder.on_repeat): at most ANSWER_MAX
# frames, events in EV_SLOTS buffers of their own (a tick raises a handful at most)
ANSWER_MAX = const(12)
EV_SLOTS = const(8)
AR_ARM_SWITCH = const(0x120)  # ARM/START refused: the board's arming switch is open (a hardware
# interlock: the override bit does not override it; board mode only, hal/board_loop.py)


class RangeInput:
    """The range the flight gets this tick, from whichever source RF_SOURCE selects; the
    fields of the fsw.rangefinder contract plus bus work and error count for telemetry."""

    def __init__(self):
        self.status = 0
        self.distance_mm = 0
        self.valid_count = 0
        self.signal = 0
        self.tx_last = 0
        self.errors = 0


class App:
    def __init__(self, out, read_into=None, backup=None, bus=None, log=None):
        # out: a stream with write(buf) (stdout, UART, or the host's in-memory sink);
        # read_into(buf, n): the input stream, read while a tick waits for the host's answer
        # to an I2C transaction (None: no link devices, every transaction fails);
        # backup: where the flight state survives a reset (readinto(buf) -> n, write(buf);
        # hal/backup.py), None: no persistence;
        # bus: board mode (hal/board_loop.py): the board's own machine.I2C, the LIDAR-Lite's
        # bus; the board's clock drives the ticks (board_step/board_report), TICK frames are
        # refused as bad frames. None: link mode, the host's TICK frames drive the flight
        self.board = bus is not None
        self.interlock_open = False  # board mode: the arming switch is open (ARM/START refused)
        self._write = out.write
        # the frames sent since the last frame was delivered (references to the preallocated
        # frame buffers below, which keep their bytes until the next frame of their kind)
        self._answer = [None] * ANSWER_MAX
        self._n_answer = 0
        self.answer_overflows = 0  # frames sent beyond ANSWER_MAX in one answer (not kept)
        self.repeats_answered = 0
        self.params = P.Params()
        self.flight = Flight(self.params, self.event)
        self.telem = Telemetry()
        self.enc = Encoder()
        self.dec = Decoder(self.on_frame)
        self.i2c = LinkI2C(self._emit, self.enc, self.dec, read_into)
        self.uart = LinkUart()
        self.lrf = Lrf(self.uart)
        self.lidar = LidarLite(bus if bus is not None else self.i2c)
        self.range = RangeInput()
        self._used_reading_us = -1
        self._in_tick = False
        self._ack = bytearray(ACK_LEN + OVERHEAD)
        self._evs = [bytearray(EV_LEN + OVERHEAD) for _ in range(EV_SLOTS)]
        self._ev_crcs = [crc_view(b, EV_LEN) for b in self._evs]
        self._n_ev = 0  # event buffers used by the current answer
        self._ack_crc = crc_view(self._ack, ACK_LEN)
        self.faults = 0
        self.bad_frames = 0  # good CRC, but a payload that does not fit its type
        self._errs_reported = 0
        self.dec.on_repeat = self._repeat
        self.feed = self.dec.feed
        self.feed_into = self.dec.feed_into
        self.needed = self.dec.needed
        self.rx_view = self.dec.rx_view
        self.received = self.dec.received
        self.backup = backup
        self.persist = Persist(self.flight)
        self.resumed = False
        if backup is not None:
            self._boot_resume()
        self.log = log  # fsw.flightlog.FlightLog or None: a record per tick and command
        if log is not None:
            log.attach(self)
        # the per-tick methods as instance attributes: a call self.m() finds them in the
        # instance's attribute map instead of missing it there and searching the class (a
        # method call on an object this size costs ~165 us on a 16 MHz Cortex-M0, a bound
        # method held in an attribute ~47 us). Whatever replaces one of them on the instance
        # (the PIL harness's timers) replaces the attribute
        self._tick = self._tick
        self._step = self._step
        self._save = self._save
        self._send_telemetry = self._send_telemetry
        self._emit = self._emit

    def _boot_resume(self):
        # a record of a descent in progress: the flight goes on from it (else SAFE as usual)
        pe = self.persist
        try:
            n = self.backup.readinto(pe.record)
        except Exception:
            n = 0
        base = pe.newest(n)
        if base >= 0:
            pe.restore(self.flight, base)
            self.flight.resuming = True
            self.resumed = True

    def _save(self):
        # the state after this tick or command, for a reset to resume from; the baseline
        # "volatile" (BASELINE 3) keeps nothing, like a flight computer without it
        backup = self.backup
        if backup is None or self.params.v[_BASELINE] == 3:
            return
        try:
            pe = self.persist
            pe.save(self.flight)
            backup.write(pe.record)
        except Exception:
            # a failing store costs the persistence, not this tick's answer
            self.fault()

    def event(self, code, arg):
        # each event of an answer in a buffer of its own, so that all can be sent again;
        # beyond EV_SLOTS the last buffer is reused (that answer can no longer be repeated)
        k = self._n_ev
        if k < EV_SLOTS:
            self._n_ev = k + 1
        else:
            k = EV_SLOTS - 1
            self._n_answer = ANSWER_MAX + 1  # spoilt: not repeated
        b = self._evs[k]
        put_u8(b, HEADER_LEN + EV_CODE, code)
        put_u8(b, HEADER_LEN + EV_MODE, self.flight.mode)
        put_i32(b, HEADER_LEN + EV_ARG, arg)
        self.enc.finish(b, T_EVENT, EV_LEN, self._ev_crcs[k])
        self._emit(b)

    def _emit(self, frame):
        # send a frame and keep it as part of the answer to the last frame delivered
        n = self._n_answer
        if n < ANSWER_MAX:
            self._answer[n] = frame
            self._n_answer = n + 1
        elif n == ANSWER_MAX:
            self.answer_overflows = (self.answer_overflows + 1) & COUNT_MASK
            self._n_answer = ANSWER_MAX + 1
        self._write(frame)

    def _repeat(self):
        # the last frame delivered came again (fsw.link.Decoder.on_repeat): its sender missed
        # (part of) the answer. The same frames again, same SEQ, same bytes, from the buffers
        # they were sent from; the frame is not acted on twice. An answer that did not fit
        # (more than ANSWER_MAX frames or EV_SLOTS events) is not repeated: the host then
        # counts its frames as lost
        n = self._n_answer
        if n > ANSWER_MAX:
            return
        self.repeats_answered = (self.repeats_answered + 1) & COUNT_MASK
        for i in range(n):
            self._write(self._answer[i])

    def on_frame(self, ftype, buf, length):
        # a new frame: what is sent from here on is its answer
        self._n_answer = 0
        self._n_ev = 0
        if ftype == T_I2C_RESP:
            # the answer to the I2C transaction in progress; anything else is a stray
            if not self.i2c.on_response(buf, length):
                self._bad_frame()
            return
        if self._in_tick:
            # a tick or command while a tick waits on the bus: not acted on
            self._bad_frame()
            return
        if ftype == T_SERIAL:
            if length > SER_DATA:
                self.uart.push(buf, HEADER_LEN + SER_DATA, length - SER_DATA)
            return
        try:
            if ftype == T_TICK:
                if self.board:
                    self._bad_frame()  # the board's clock drives the ticks, not the host
                elif length == TICK_LEN:
                    self._tick(buf)
                else:
                    # a tick of the wrong size is not acted on; the host still gets telemetry
                    self._bad_frame()
                    self._send_telemetry()
            elif ftype == T_CMD:
                self._command(buf, length)
            else:
                self._bad_frame()
        except Exception:
            self.flight.ctrl.flags = 0
            self.fault()
            if ftype == T_TICK and not self.board:
                try:
                    self._send_telemetry()  # the tick is answered when it can be
                except Exception:
                    pass

    def fault(self):
        # count an exception caught in the loop and report it; never raises (its own event
        # can fail, e.g. the output stream's write: the count stays, the report is lost)
        self.faults = (self.faults + 1) & COUNT_MASK
        try:
            self.event(EV_FAULT, self.faults)
        except Exception:
            pass

    def _bad_frame(self):
        self.bad_frames = (self.bad_frames + 1) & COUNT_MASK

    def _tick(self, buf):
        # the i32 fields as get_i32 reads them, written out (a call costs ~0.1 ms at 16 MHz):
        # little-endian, a value outside +/-2^30 saturated; the range only where it is used
        # (RF_SOURCE 0: the host's range; 1 and 2: the firmware's own driver)
        o = HEADER_LEN + TICK_TIME_US
        hi = buf[o + 3]
        if hi >= 0x80:
            hi -= 0x100
        if hi > 0x3F:
            now_us = _I32_MAX
        elif hi < -0x40:
            now_us = _I32_MIN
        else:
            now_us = (hi << 24) + (buf[o + 2] << 16) + (buf[o + 1] << 8) + buf[o]
        o = HEADER_LEN + TICK_ACC_MM_S2
        hi = buf[o + 3]
        if hi >= 0x80:
            hi -= 0x100
        if hi > 0x3F:
            acc = _I32_MAX
        elif hi < -0x40:
            acc = _I32_MIN
        else:
            acc = (hi << 24) + (buf[o + 2] << 16) + (buf[o + 1] << 8) + buf[o]
        source = self.params.v[_RF_SOURCE]
        range_mm = 0
        if source != 1 and source != 2:
            range_mm = get_i32(buf, HEADER_LEN + TICK_RANGE_MM)
        range_status = buf[HEADER_LEN + TICK_RANGE_STATUS]
        acc_ok = buf[HEADER_LEN + TICK_ACC_OK]
        # the tick frame's buffer is reused from here on (link devices read more frames)
        self._in_tick = True
        try:
            self._step(now_us, range_mm, range_status, acc, acc_ok, source)
        finally:
            self._in_tick = False
        self._save()  # before the answer: a reset after it finds this tick's state
        self._send_telemetry()

    def board_step(self, now_us, acc, acc_ok):
        # board mode, one tick on the board's clock: the LIDAR-Lite on the board's bus, then
        # the flight. The caller writes the engine output, then calls board_report()
        self._step(now_us, 0, RF_NOT_CONNECTED, acc, acc_ok, 1)

    def board_report(self):
        # board mode, after board_step: persist, then the tick's TELEM, as a TICK frame does
        self._save()
        self._send_telemetry()

    def _step(self, now_us, range_mm, range_status, acc, acc_ok, source):
        # the driver's fields taken and its reading's age found here, not in calls (a call
        # costs ~0.1 ms at 16 MHz)
        rf = self.range
        age_ms = 0
        if source == 1 or source == 2:
            if source == 1:
                drv = self.lidar
                drv.step(now_us)
                rf.tx_last = drv.tx_last
                rf.errors = drv.errors
            else:
                drv = self.lrf
                drv.step(now_us)
                rf.tx_last = 1
                rf.errors = drv.crc_errors + drv.uart_errors
            rf.status = drv.status
            rf.distance_mm = drv.distance_mm
            rf.valid_count = drv.valid_count
            rf.signal = drv.signal
            # the reading's age, or -1 when it is the reading already used
            r = drv.reading_us
            if r == self._used_reading_us:
                age_ms = -1
            else:
                self._used_reading_us = r
                # ticks_diff(now_us, r), written out
                d = ((now_us & _TICKS_MASK) - (r & _TICKS_MASK)) & _TICKS_MASK
                if d >= _TICKS_HALF:
                    d = d - _TICKS_HALF - _TICKS_HALF
                age_ms = d // 1000
        else:
            rf.status = range_status
            rf.distance_mm = range_mm
            rf.valid_count = 0
            rf.signal = 0
            rf.tx_last = 0
        self.flight.tick(now_us, rf.distance_mm, rf.status, acc, acc_ok, age_ms)
        if self.log is not None:
            self.log.given(now_us, rf.distance_mm, rf.status, acc, acc_ok, age_ms)

    def link_errors(self):
        # modulo 2^29, as its parts (telemetry clamps it to u16; LINK_ERR compares it)
        return (self.dec.errors() + self.bad_frames) & COUNT_MASK

    def _send_telemetry(self):
        # link_errors() and the decoder's errors(), written out (a method call costs ~0.1 ms
        # at 16 MHz)
        errs = (self.dec._errors + self.bad_frames) & COUNT_MASK
        if errs != self._errs_reported:
            self.flight.flags |= LINK_ERR
            self._errs_reported = errs
        t = self.telem
        frame = t.frame
        # the payload (fsw.telemetry: offsets and FORMAT) in one pack_into; the u16 and u8
        # fields clamped or masked (conditional expressions, not min(): a builtin call costs
        # ~0.1 ms at 16 MHz); rf: the range input of this tick
        fl = self.flight
        est = fl.est
        ctrl = fl.ctrl
        guid = fl.guid
        rf = self.range
        overruns = fl.overruns
        faults = self.faults
        rejects = est.rejects
        tx = rf.tx_last
        pack_into(
            TELEM_FORMAT,
            frame,
            HEADER_LEN,
            fl.ticks & 0x3FFFFFFF,
            fl.now_us,
            fl.mode,
            fl.phase,
            fl.flags,
            est.alt_mm,
            est.vel_q8 >> 8,
            est.sigma_mm,
            guid.vref_mm_s,
            ctrl.throttle_q15,
            ctrl.a_cmd_mm_s2,
            ctrl.integ_q8 >> 8,
            fl.range_mm,
            ctrl.a_max_mm_s2,
            ctrl.mass_q24 >> 10,
            overruns if overruns < 0xFFFF else 0xFFFF,
            errs if errs < 0xFFFF else 0xFFFF,
            faults if faults < 0xFFFF else 0xFFFF,
            rejects if rejects < 0xFFFF else 0xFFFF,
            guid.h_low_mm,
            rf.status,
            rf.valid_count,
            rf.signal,
            tx if tx < 255 else 255,
            rf.errors & 0xFFFF,
            fl.flags2,
        )
        self.enc.refinish(frame, HEADER_LEN + TELEM_LEN, t.crc)  # its header: fsw.telemetry
        # the tick's log record before the answer: a reset that follows the answer finds it
        # written (and the SIL rig, which resets on the answer, the same log on every runtime)
        if self.log is not None:
            self.log.tick()
        self._emit(frame)

    def _command(self, buf, length):
        o = HEADER_LEN
        fl = self.flight
        result = P.OK
        code = 0
        pid = 0
        value = 0
        if length == CMD_LEN:
            code = get_u8(buf, o + CMD_CODE)
            pid = get_u8(buf, o + CMD_ID)
            value = get_i32(buf, o + CMD_VALUE)
        if length != CMD_LEN:
            self._bad_frame()
            result = E_BAD_FRAME
        elif code == C_SET_PARAM:
            result = P.E_MODE if fl.mode != 0 else self.params.set(pid, value)
            if result == P.OK:
                value = self.params.v[pid]
        elif code == C_GET_PARAM:
            if pid < P.COUNT:
                value = self.params.v[pid]
            else:
                result = P.E_ID
        elif code == C_ARM and self.interlock_open:
            result = P.E_PREFLIGHT
            value = fl.arm_reason = AR_ARM_SWITCH
            self.event(EV_ARM_REFUSED, value)
        elif code == C_ARM:
            result = fl.arm(value & ARM_OVERRIDE)
            value = fl.arm_reason
        elif code == C_DISARM:
            result = fl.disarm()
        elif code == C_START and self.interlock_open:
            result = P.E_PREFLIGHT
            value = AR_ARM_SWITCH
            self.event(EV_ARM_REFUSED, value)
        elif code == C_START:
            result = fl.start()
        elif code == C_ABORT:
            result = fl.abort()
        elif code == C_PING:
            value = fl.ticks & 0x3FFFFFFF
        else:
            result = E_UNKNOWN
        b = self._ack
        put_u8(b, o + ACK_CODE, code)
        put_u8(b, o + ACK_ID, pid)
        put_u8(b, o + ACK_RESULT, result)
        put_u8(b, o + ACK_MODE, fl.mode)
        put_i32(b, o + ACK_VALUE, value)
        self._save()
        self.enc.finish(b, T_ACK, ACK_LEN, self._ack_crc)
        if self.log is not None:
            self.log.command()  # before the answer, as a tick's record
        self._emit(b)
