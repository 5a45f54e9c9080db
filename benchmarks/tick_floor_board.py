# Board side of benchmarks/tick_floor.py (not flight code): the least a tick of this firmware
# can cost in bytecode, a skeleton of it timed on the board's clock with the heap locked.
# Per TICK frame: the real decoder reads the 24-byte frame in place (a header, then the body,
# as the serving loop does; the bytes come from a stream's readinto, C, as a UART's would) and
# its handler takes the five TICK fields; one estimator predict and update; one controller
# step; the telemetry frame packed and framed (PAD search and CRC included). Nothing else: no
# mode logic, guidance, land detector, persistence, driver, App dispatch.
import json
import time

import micropython
from fsw.flight import Flight
from fsw.link import HEADER_LEN, T_TELEM, Decoder, Encoder, get_i32
from fsw.params import Params
from fsw.telemetry import LENGTH, Telemetry

try:
    from io import BytesIO
except ImportError:
    from uio import BytesIO

STAGES = ("decode", "estimator", "controller", "telemetry")


class Range:
    # the range input telemetry reports (fsw.app.RangeInput's fields)
    status = 4
    valid_count = 0
    signal = 0
    tx_last = 0
    errors = 0


def add(total, best, k, dt):
    total[k] += dt
    if dt < best[k]:
        best[k] = dt


def main(path, frame_len):
    with open(path, "rb") as f:
        data = f.read()
    n = len(data) // frame_len
    src = BytesIO(data)
    read_into = src.readinto
    tick = [0, 0, 0, 0, 0]  # time, range, status, acc, acc_ok

    def handler(ftype, buf, length, tick=tick):
        o = HEADER_LEN
        tick[0] = get_i32(buf, o)
        tick[1] = get_i32(buf, o + 4)
        tick[2] = buf[o + 8]
        tick[3] = get_i32(buf, o + 9)
        tick[4] = buf[o + 13]

    params = Params()
    fl = Flight(params, lambda code, arg: None)
    est = fl.est
    ctrl = fl.ctrl
    est.reset(100000, -5000, 1000)
    ctrl.ignite()
    dec = Decoder(handler)
    enc = Encoder()
    tel = Telemetry()
    rf = Range()
    total = [0] * len(STAGES)
    best = [1 << 29] * len(STAGES)
    now = time.ticks_us
    diff = time.ticks_diff
    t = now()
    empty = diff(now(), t)  # what an interval holds beyond its work: the closing clock read
    micropython.heap_lock()
    try:
        for _ in range(n):
            t0 = now()
            while True:  # the serving loop: header, then body, read into the decoder's buffer
                got = read_into(dec.rx_view(), dec.needed())
                dec.received(got)
                if dec.needed() == HEADER_LEN:
                    break
            t1 = now()
            est.predict(tick[3] - 1620, 20, 1)
            est.update(tick[1] - 300)
            t2 = now()
            ctrl.step(-5000, est.vel_q8 >> 8, 1620)
            t3 = now()
            tel.pack(fl, 0, 0, rf)
            enc.finish(tel.frame, T_TELEM, LENGTH, tel.crc)
            t4 = now()
            add(total, best, 0, diff(t1, t0) - empty)  # (no tuple: the heap is locked)
            add(total, best, 1, diff(t2, t1) - empty)
            add(total, best, 2, diff(t3, t2) - empty)
            add(total, best, 3, diff(t4, t3) - empty)
    finally:
        micropython.heap_unlock()
    print("FLOOR " + json.dumps({"frames": n, "good": dec.good, "total": total, "best": best}))
