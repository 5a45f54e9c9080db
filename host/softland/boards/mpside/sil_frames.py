# MicroPython-side helpers for benchmarks and heap-lock tests (not flight code): build frames
# with the firmware's own codec and a flying App to feed them to. Runs on MicroPython and
# CPython alike; put this directory and firmware/ on MICROPYPATH.
from fsw import link
from fsw.app import C_ARM, C_START, CMD_LEN, TICK_LEN, App


class Sink:
    def __init__(self):
        self.n = 0

    def write(self, b):
        self.n += len(b)
        return len(b)


def frame(enc, ftype, payload):
    f = bytearray(len(payload) + link.OVERHEAD)
    for i in range(len(payload)):
        f[link.HEADER_LEN + i] = payload[i]
    enc.finish(f, ftype, len(payload))
    return f


def command(enc, code, pid=0, value=0):
    p = bytearray(CMD_LEN)
    link.put_u8(p, 0, code)
    link.put_u8(p, 1, pid)
    link.put_i32(p, 2, value)
    return frame(enc, link.T_CMD, p)


def tick(enc, k, range_mm, acc_mm_s2):
    p = bytearray(TICK_LEN)
    link.put_i32(p, 0, k * 20000)
    link.put_i32(p, 4, range_mm)
    link.put_u8(p, 8, 4)
    link.put_i32(p, 9, acc_mm_s2)
    link.put_u8(p, 13, 1)
    return frame(enc, link.T_TICK, p)


class PackOnlyBackup:
    # a backup store that keeps nothing: the app still packs its state record every tick
    # (fsw.persist), so that cost is measured; what writing it costs depends on the board
    def readinto(self, buf):
        return 0

    def write(self, buf):
        pass


def flying_app(sink):
    # an App armed and descending, and the encoder whose sequence numbers it expects next
    app = App(sink, None, PackOnlyBackup())
    enc = link.Encoder()
    preflight = tick(enc, -1, 3001000, 0)  # the sensors read once before ARM
    for f in (preflight, command(enc, C_ARM), command(enc, C_START)):
        app.feed_into(f, len(f))
    return app, enc


def descent_ticks(enc, n, scatter=0):
    # n tick frames of a descent at 60 m/s from 3 km, then 1 m/s; ranges +/- scatter mm
    frames = []
    alt = 3000000
    for k in range(n):
        alt = alt - 60 * 20 if alt > 60000 else alt - 20
        r = alt + 1000 + (scatter if k % 2 else -scatter)
        frames.append(tick(enc, k, max(r, 1), 1620 + (k % 7) * 300))
    return frames
