# MicroPython-side runner for the 32-bit property tests (not flight code): reads cases from
# stdin, one per line as space-separated integers, and for each builds a fresh Flight or App,
# sets its state, locks the heap, runs its ticks or frames, unlocks and prints one line:
#   "<id> <fault> <steps done> <app faults> <digest>"
# fault is "-" or the name of the exception that escaped (MemoryError: an allocation, i.e. on a
# 32-bit port an intermediate beyond 2^30). The digest folds the outputs of every step, so the
# same case run under CPython must print the same line. Runs on MicroPython and CPython alike;
# put this directory and firmware/ on MICROPYPATH (CPython: import fsw first).
#
# Case line: id kind n_params params... n_setup setup... n_steps width steps...
#   kind 0 (Flight): setup FLIGHT_SETUP fields, steps (now_us, range_mm, status, acc, acc_ok,
#   age_ms), each one Flight.tick.
#   kind 1 (App): setup APP_SETUP fields, steps (sel, now_us, range_mm, status, acc, acc_ok),
#   each one frame fed to the App (sel: SEL_* below).
import sys

try:
    from micropython import heap_lock, heap_unlock
except ImportError:

    def heap_lock():
        pass

    def heap_unlock():
        pass


from fsw import link
from fsw.app import C_ARM, C_START, CMD_LEN, TICK_LEN, App
from fsw.flight import Flight
from fsw.params import Params

FLIGHT_SETUP = (
    "mode",
    "resuming",
    "started",
    "last_us",
    "ticks",
    "overruns",
    "engine",
    "throttle",
    "steady",
    "check_ms",
    "alt_mm",
    "vel_q8",
    "sigma_mm",
    "blind",
    "blind_ms",
    "vin_q8",
    "perf_q12",
    "mass_q24",
    "integ_q8",
    "scatter_q4",
    "acc_bias_q8",
    "bias_q8",
    "thr_lag",
    "last_thr",
    "clk_ms",
    "prev_off",
    "cand_off",
    "tracks",
    "clear_ms",
)
APP_SETUP = (
    "mode",
    "backup",
    "ticks",
    "overruns",
    "enc_frames",
    "dec_counters",
    "faults",
    "bad_frames",
    "fail_every",
    "dev_counters",
    "rf_source",
)
SEL_TICK = 0
SEL_BAD_CRC = 1
SEL_SHORT_TICK = 2
SEL_COMMAND = 3
SEL_SERIAL = 4
SEL_I2C_RESP = 5
SEL_REPLAY = 6

_M = 0xFFFFFF
_WRITE_FAILED = OSError(5)


class Digest:
    def __init__(self):
        self.d = 0

    def fold(self, x):
        self.d = ((self.d << 5) + self.d + (x & _M)) & _M

    def event(self, code, arg):
        self.fold(code)
        self.fold(arg)


def fold_flight(dg, fl):
    # (dg.fold(x) each time: a bound method kept in a variable would be an allocation)
    est = fl.est
    ctrl = fl.ctrl
    guid = fl.guid
    dg.fold(fl.mode)
    dg.fold(fl.phase)
    dg.fold(fl.flags)
    dg.fold(fl.flags2)
    dg.fold(fl.ticks)
    dg.fold(fl.overruns)
    dg.fold(fl._vin_q8)
    dg.fold(fl.scatter_q4)
    dg.fold(est.alt_mm)
    dg.fold(est.vel_q8)
    dg.fold(est.sigma_mm)
    dg.fold(est.bias_q8)
    dg.fold(guid.vref_mm_s)
    dg.fold(guid.h_low_mm)
    dg.fold(ctrl.throttle_q15)
    dg.fold(ctrl.a_cmd_mm_s2)
    dg.fold(ctrl.integ_q8)
    dg.fold(ctrl.a_max_mm_s2)
    dg.fold(ctrl.mass_q24)
    dg.fold(ctrl.perf_q12)


def make_params(vals):
    p = Params()
    for i in range(len(vals)):
        p.v[i] = vals[i]
    return p


def setup_flight(fl, s):
    mode = s[0]
    if mode >= 1:
        fl.arm(True)
    if mode >= 2:
        fl.start()
        fl.mode = mode
        est = fl.est
        ctrl = fl.ctrl
        if s[6]:
            ctrl.ignite()
            ctrl.throttle_q15 = s[7]
        ctrl._steady = s[8]
        fl._check_ms = s[9]
        est.alt_mm = s[10]
        est.vel_q8 = s[11]
        est.sigma_mm = s[12]
        fl.guid.blind = s[13] != 0
        fl.guid.blind_ms = s[14]
        fl._vin_q8 = s[15]
        ctrl.perf_q12 = s[16]
        ctrl.mass_q24 = s[17]
        ctrl.a_max_mm_s2 = ctrl._a_max()
        ctrl.integ_q8 = s[18]
        fl.scatter_q4 = s[19]
        fl.acc_bias_q8 = s[20]
        est.bias_q8 = s[21]
        fl._thr_lag = s[22]
        ctrl._last_thr = s[23]
        est._clk_ms = s[24]
        # the estimator's second tracks (docs/architecture.md, "Terrain step or false
        # return"): the track the last re-base left and the candidate, alive from now
        est._prev_off = s[25]
        est._cand_off = s[26]
        est._prev_live = s[27] & 1 != 0
        est._cand_live = s[27] & 2 != 0
        est._prev_t0 = s[24]
        est._cand_t0 = s[24]
        est._cand_last = s[24]
        fl.guid.clear_ms = s[28]
    fl.resuming = s[1] != 0
    fl._started = s[2] != 0
    fl._last_us = s[3]
    fl.ticks = s[4]
    fl.overruns = s[5]


def run_flight(params, s, steps, width):
    dg = Digest()
    fl = Flight(make_params(params), dg.event)
    setup_flight(fl, s)
    tick = fl.tick
    n = len(steps) // width
    done = 0
    fault = "-"
    heap_lock()
    try:
        for i in range(n):
            o = i * width
            tick(steps[o], steps[o + 1], steps[o + 2], steps[o + 3], steps[o + 4], steps[o + 5])
            fold_flight(dg, fl)
            done += 1
    except Exception as e:  # noqa: BLE001 (reported, the case's verdict)
        fault = e
    heap_unlock()
    if fault != "-":
        fault = fault.__class__.__name__
    return fault, done, 0, dg.d


class Out:
    # the App's output stream: every byte folded into the digest; write number k of every
    # fail_every raises (a serial port that fails), after folding what it was given
    def __init__(self, dg, fail_every):
        self.dg = dg
        self.fail_every = fail_every
        self.n = 0

    def write(self, b):
        dg = self.dg
        for i in range(len(b)):
            dg.fold(b[i])
        self.n += 1
        if self.fail_every and self.n % self.fail_every == 0:
            raise _WRITE_FAILED
        return len(b)


class Backup:
    # a backup store that keeps nothing (the state record is still packed every tick)
    def readinto(self, buf):
        return 0

    def write(self, buf):
        pass


def _frame(enc, ftype, payload, n):
    f = bytearray(n + link.OVERHEAD)
    for i in range(n):
        f[link.HEADER_LEN + i] = payload[i]
    enc.finish(f, ftype, n)
    return f


def _tick_payload(now_us, range_mm, status, acc, acc_ok):
    p = bytearray(TICK_LEN)
    link.put_i32(p, 0, now_us)
    link.put_i32(p, 4, range_mm)
    link.put_u8(p, 8, status)
    link.put_i32(p, 9, acc)
    link.put_u8(p, 13, acc_ok)
    return p


def _command(enc, code, pid, value):
    p = bytearray(CMD_LEN)
    link.put_u8(p, 0, code)
    link.put_u8(p, 1, pid)
    link.put_i32(p, 2, value)
    return _frame(enc, link.T_CMD, p, CMD_LEN)


def app_frames(enc, steps, width):
    frames = []
    prev = None
    for i in range(len(steps) // width):
        o = i * width
        sel, now_us, range_mm, status, acc, acc_ok = steps[o : o + 6]
        if sel == SEL_REPLAY and prev is not None:
            f = prev
        elif sel == SEL_COMMAND:
            f = _command(enc, status & 7, acc_ok, range_mm)
        elif sel == SEL_SERIAL:
            p = _tick_payload(now_us, range_mm, status, acc, acc_ok)
            p[0] = 0  # port
            f = _frame(enc, link.T_SERIAL, p, TICK_LEN)
        elif sel == SEL_I2C_RESP:
            p = bytearray(18)
            for k in range(14):
                p[k] = _tick_payload(now_us, range_mm, status, acc, acc_ok)[k]
            f = _frame(enc, link.T_I2C_RESP, p, 18)
        elif sel == SEL_SHORT_TICK:
            p = _tick_payload(now_us, range_mm, status, acc, acc_ok)
            f = _frame(enc, link.T_TICK, p, TICK_LEN - 1)
        else:
            p = _tick_payload(now_us, range_mm, status, acc, acc_ok)
            f = _frame(enc, link.T_TICK, p, TICK_LEN)
            if sel == SEL_BAD_CRC:
                f[link.HEADER_LEN + 3] ^= 0x5A
        frames.append(f)
        prev = f
    return frames


def run_app(params, s, steps, width):
    dg = Digest()
    out = Out(dg, 0)
    app = App(out, None, Backup() if s[1] else None)
    for i in range(len(params)):
        app.params.v[i] = params[i]
    app.params.v[26] = s[10]  # RF_SOURCE
    enc = link.Encoder()
    setup = [_frame(enc, link.T_TICK, _tick_payload(0, 0, 3, 0, 1), TICK_LEN)]
    if s[0] >= 1:
        setup.append(_command(enc, C_ARM, 0, 1))
    if s[0] >= 2:
        setup.append(_command(enc, C_START, 0, 0))
    for f in setup:
        app.feed_into(f, len(f))
    fl = app.flight
    fl.ticks = s[2]
    fl.overruns = s[3]
    app.enc.frames = s[4]
    dec = app.dec
    c = s[5]
    dec.good = dec.crc_errors = dec.truncated = dec.oversized = dec.out_of_seq = dec.lost = c
    app._errs_reported = app.link_errors()
    app.faults = s[6]
    app.bad_frames = s[7]
    c = s[9]
    app.i2c.transactions = app.i2c.failures = app.uart.overflows = c
    frames = app_frames(enc, steps, width)
    out.fail_every = s[8]
    feed = app.feed_into
    done = 0
    fault = "-"
    heap_lock()
    try:
        for f in frames:
            feed(f, len(f))
            fold_flight(dg, fl)
            done += 1
    except Exception as e:  # noqa: BLE001 (reported, the case's verdict)
        fault = e
    heap_unlock()
    if fault != "-":
        fault = fault.__class__.__name__
    dg.fold(app.link_errors())
    return fault, done, app.faults, dg.d


_I32_MIN = -0x3FFFFFFF - 1


def small(x):
    # int("-1073741824") is a heap int on a 32-bit port (2^30 is parsed, then negated) where
    # link.get_i32 gives the small int -2^30: normalise, so that inputs are what a board gets
    return _I32_MIN if x == _I32_MIN else x


def run_line(line):
    v = [small(int(x)) for x in line.split()]
    cid = v[0]
    kind = v[1]
    np = v[2]
    params = v[3 : 3 + np]
    o = 3 + np
    ns = v[o]
    setup = v[o + 1 : o + 1 + ns]
    o = o + 1 + ns
    width = v[o + 1]
    steps = v[o + 2 : o + 2 + v[o] * width]
    if kind == 0:
        r = run_flight(params, setup, steps, width)
    else:
        r = run_app(params, setup, steps, width)
    return " ".join((str(cid), r[0], str(r[1]), str(r[2]), str(r[3])))


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        line = line.strip()
        if line:
            print(run_line(line))


if __name__ == "__main__":
    main()
