# A test-only `machine` stand-in that lives on the MicroPython side of a process boundary (the
# unix port over stdin/stdout, the emulated Cortex-M0 over its UART) and forwards every device
# operation to the host, which answers with its register-level emulators and flies its
# dynamics on the PWM it is told about (tests/board_remote_host.py). Written as firmware is (no
# annotations, no f-strings) so it runs under MicroPython; it is not flight code, and it
# allocates on an I2C error (OSError) and per frame written (a memoryview slice).
#
# Protocol (fsw/link.py's frame codec, two test-only frame types, its own SEQ counter):
#   board -> host  T_REQ 0x90: op u8 | elapsed_us i32 | room u8 | args
#       elapsed_us: the board's compute time since the host's last answer (or the last post),
#       measured on the board's own clock (board_clock True: time.ticks_us, instruction time
#       on the emulated board); 0 when board_clock is False (the host's clock alone).
#       room: free bytes in the board's console buffer (the host never sends more).
#     OP_HELLO  (blocking)  the board is up; the host answers with its time and pin levels
#     OP_SLEEP  (blocking)  n_us i32: the world advances n us (dynamics sub-stepped)
#     OP_I2C    (blocking)  kind u8 (0 writeto, 1 readfrom_into, 2 writeto_mem,
#                           3 readfrom_mem_into) | addr u8 | reg u8 | rlen u8 | wlen u8 | data
#     OP_PWM    (posted)    ns i32: the pulse the ESC output now gives
#     OP_WDT    (posted)    timeout ms i32: a watchdog started
#     OP_FEED   (posted)    the watchdog fed
#     OP_DONE   (posted)    overruns i32 | skipped i32 | feeds i32 | faults i32 | mode u8
#   host -> board  T_REP 0x10 (the answer to a blocking request):
#       status u8 (0 OK, an errno for I2C: the board raises OSError(status); bit 7 STOP) |
#       now_us i32 (2^30 domain) | pins i32 (input pin levels, bit = pin id) |
#       ncons u8 | console bytes | nread u8 | read data
#   The board's own frames (TELEM, EVENT, ACK, written by fsw.app to the console) share the
#   stream board -> host; the host splits frames by type. Host commands (CMD frames) reach
#   the board inside answers (console bytes), read by the loop through ConsoleIn.
# A reply with STOP set raises Stop (a BaseException: the loop's `except Exception` lets it
# through, the loop sets the output safe and re-raises); main() then posts OP_DONE.
import sys
import time

from fsw import link as L

T_REQ = 0x90
T_REP = 0x10
OP_HELLO = 1
OP_SLEEP = 2
OP_I2C = 3
OP_PWM = 4
OP_WDT = 5
OP_FEED = 6
OP_DONE = 7
STOP = 0x80
MASK = 0x3FFFFFFF
ARGS = 11  # offset of a request's arguments in the frame (header 5 + op, elapsed, room)
CONS_LEN = 256


class Stop(BaseException):
    pass


class Link:
    def __init__(self, inp, out, board_clock):
        self._read = inp.readinto
        self._write = out.write
        self.board_clock = board_clock
        self.enc = L.Encoder()
        self.tx = bytearray(L.BUF_LEN)
        self.txv = memoryview(self.tx)
        self.rx = bytearray(L.BUF_LEN)
        self.rxv = memoryview(self.rx)
        # views made once (slicing a memoryview allocates): what a request writes, where an
        # answer's header and body are read; the loop then collects no garbage of ours
        self.tx_views = [self.txv[:k] for k in range(L.BUF_LEN + 1)]
        self.rx_head = self.rxv[: L.HEADER_LEN]
        self.rx_bodies = [
            self.rxv[L.HEADER_LEN : L.HEADER_LEN + n + L.TRAILER_LEN]
            for n in range(L.MAX_PAYLOAD + 1)
        ]
        self.base = 0  # the host's time at the mark, 2^30 domain
        self.mark = time.ticks_us()  # the board's clock when the host last answered
        self.pins = 0
        self.cons = bytearray(CONS_LEN)
        self.c_head = 0
        self.c_n = 0
        self.data = 0  # offset of the last answer's read data in rx
        self.nread = 0

    def elapsed(self):
        if not self.board_clock:
            return 0
        return time.ticks_diff(time.ticks_us(), self.mark)

    def now_us(self):
        return (self.base + self.elapsed()) & MASK

    def _send(self, op, nargs):
        tx = self.tx
        e = self.elapsed()
        self.base = (self.base + e) & MASK
        tx[5] = op
        L.put_i32(tx, 6, e)
        room = CONS_LEN - self.c_n
        tx[10] = 255 if room > 255 else room
        k = self.enc.finish(tx, T_REQ, 6 + nargs)
        self._write(self.tx_views[k])

    def post(self, op, nargs=0):
        self._send(op, nargs)
        self.mark = time.ticks_us()

    def call(self, op, nargs=0):
        self._send(op, nargs)
        rx = self.rx
        self._fill(self.rx_head, 0, L.HEADER_LEN)
        while rx[0] != L.SYNC1 or rx[1] != L.SYNC2 or rx[3] != T_REP:
            # not an answer's header (noise): slide by one byte
            for i in range(L.HEADER_LEN - 1):
                rx[i] = rx[i + 1]
            self._fill(None, L.HEADER_LEN - 1, L.HEADER_LEN)
        n = rx[2]
        if n > L.MAX_PAYLOAD:
            n = L.MAX_PAYLOAD
        self._fill(self.rx_bodies[n], L.HEADER_LEN, L.HEADER_LEN + n + L.TRAILER_LEN)
        p = L.HEADER_LEN
        status = rx[p]
        self.base = L.get_i32(rx, p + 1) & MASK
        self.pins = L.get_i32(rx, p + 5)
        nc = rx[p + 9]
        q = p + 10
        cons = self.cons
        for i in range(nc):
            cons[(self.c_head + self.c_n) % CONS_LEN] = rx[q + i]
            self.c_n += 1
        q += nc
        self.nread = rx[q]
        self.data = q + 1
        self.mark = time.ticks_us()
        if status & STOP:
            raise Stop()
        return status

    def _fill(self, view, a, b):
        # rx[a:b] from the stream: into view (rx[a:b], made once) when given, else a slice
        while a < b:
            k = self._read(self.rxv[a:b] if view is None else view, b - a)
            if not k:
                raise Stop()  # the host went away
            a += k
            view = None  # a short read (not seen on these ports): the rest through a slice


_link = None


class Clock:
    # the time module's API as MachineBoard uses it
    @staticmethod
    def ticks_us():
        return _link.now_us()

    @staticmethod
    def sleep_us(n):
        if n > 0:
            L.put_i32(_link.tx, ARGS, n)
            _link.call(OP_SLEEP, 4)


class ConsoleIn:
    # the host's console bytes as the board loop reads them: readinto(buf, n), no wait
    def readinto(self, buf, n):
        lk = _link
        k = lk.c_n if lk.c_n < n else n
        cons = lk.cons
        h = lk.c_head
        for i in range(k):
            buf[i] = cons[h]
            h = (h + 1) % CONS_LEN
        lk.c_head = h
        lk.c_n -= k
        return k


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.level = 1 if value else 0

    def value(self, v=None):
        if v is None:
            if self.mode == Pin.OUT:
                return self.level
            return (_link.pins >> self.id) & 1  # the host's level for this input
        self.level = 1 if v else 0

    def on(self):
        self.level = 1

    def off(self):
        self.level = 0


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id
        self.freq = freq
        self.timeout_us = timeout

    def _tx(self, kind, addr, reg, wbuf, rlen):
        tx = _link.tx
        tx[ARGS] = kind
        tx[ARGS + 1] = addr
        tx[ARGS + 2] = reg
        tx[ARGS + 3] = rlen
        w = 0 if wbuf is None else len(wbuf)
        tx[ARGS + 4] = w
        for i in range(w):
            tx[ARGS + 5 + i] = wbuf[i]
        st = _link.call(OP_I2C, 5 + w)
        if st:
            raise OSError(st)

    def _copy(self, buf):
        rx = _link.rx
        d = _link.data
        for i in range(len(buf)):
            buf[i] = rx[d + i]

    def writeto(self, addr, buf, stop=True):
        self._tx(0, addr, 0, buf, 0)
        return _link.rx[_link.data]  # bytes acknowledged

    def readfrom_into(self, addr, buf, stop=True):
        self._tx(1, addr, 0, None, len(buf))
        self._copy(buf)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._tx(2, addr, memaddr, buf, 0)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._tx(3, addr, memaddr, None, len(buf))
        self._copy(buf)


class PWM:
    def __init__(self, pin, freq=0, duty_ns=0):
        self.pin = pin
        self.freq_hz = freq
        self.pulse_ns = 0
        self.duty_ns(duty_ns)

    def freq(self, hz=None):
        if hz is None:
            return self.freq_hz
        self.freq_hz = hz

    def duty_ns(self, ns=None):
        if ns is None:
            return self.pulse_ns
        self.pulse_ns = ns
        L.put_i32(_link.tx, ARGS, ns)
        _link.post(OP_PWM, 4)


class WDT:
    def __init__(self, id=0, timeout=5000):
        L.put_i32(_link.tx, ARGS, timeout)
        _link.post(OP_WDT, 4)

    def feed(self):
        _link.post(OP_FEED)


def main(cfg, board_clock=False, ticks=-1):
    # board mode on this stand-in: MachineBoard, App and BoardLoop as hal.machine_board's
    # run_board builds them, the console being the host's stream
    global _link
    try:
        import micropython

        micropython.kbd_intr(-1)  # every byte of the stream is data
    except (ImportError, AttributeError):
        pass
    _link = Link(sys.stdin.buffer, sys.stdout.buffer, board_clock)
    _link.call(OP_HELLO)
    from fsw.app import App
    from hal import machine_board as mb
    from hal.board_loop import BoardLoop

    c = mb.config(cfg)
    board = mb.MachineBoard(c, sys.modules[__name__], Clock)
    app = App(sys.stdout.buffer, None, board.backup, board.i2c)
    loop = BoardLoop(board, app, ConsoleIn())
    try:
        loop.run(ticks)
    except Stop:
        pass
    tx = _link.tx
    L.put_i32(tx, ARGS, loop.overruns)
    L.put_i32(tx, ARGS + 4, loop.skipped)
    L.put_i32(tx, ARGS + 8, loop.feeds)
    L.put_i32(tx, ARGS + 12, app.faults)
    tx[ARGS + 16] = app.flight.mode
    _link.post(OP_DONE, 17)
