# Tabletop drop test on a board (docs/tabletop.md): samples the LIDAR-Lite back to back, as
# fast as it measures (a v3 about 270 Hz at its defaults, a v3HP faster), with time.ticks_us
# stamps into a buffer allocated before the capture, then dumps the buffer over the console in
# fsw.link frames (CRC-checked), which `softland drop capture --port PORT` records. Not
# imported by the flight app: run it from the REPL (`import drop; drop.main()`), which is what
# the capture command does over the raw REPL.
#
# One sample (the same I2C discipline as fsw.lidarlite: writeto + readfrom_into, a STOP
# between a register-pointer write and its read, never a repeated START):
#   trigger  [0x00, 0x03] (0x04, bias-corrected, for the first sample and one in BIAS_EVERY)
#   pointer  [0x01], then STATUS reads until b0 (busy) clears: at most MAX_POLLS polls and
#            TIMEOUT_US; a pointer write or read that fails (older units NACK while they
#            measure) counts as a busy poll and is tried again
#   pointer  [0x8f], then 2 bytes: FULL_DELAY, cm
# No allocation per sample (heap-locked in tests/test_drop_firmware.py) except an exception a
# HAL allocates for a failed transaction; every wait is bounded; time goes through ticks_diff.
# The dump allocates a little (a memoryview per frame): the capture is over by then.
#
# Record (REC_LEN = 10 bytes, little-endian):
#   t_us u32   ticks_us at the trigger (2^30 domain)
#   dt_us u16  trigger to the distance read back (saturates at 65535)
#   cm u16     FULL_DELAY (0 on a failed sample)
#   status u8  the last STATUS read (0xFF on a failed sample)
#   flags u8   F_BIAS, F_BUS_ERROR, F_TIMEOUT, F_RELEASED (the release pin read "released" at
#              the trigger)
# Dump: one T_DROP_HEAD frame, T_DROP_DATA frames (u16 index of the first record, then up to
# PER_FRAME records), one T_DROP_END frame. HEAD: version u8 | variant u8 (1 v3, 2 v3HP, 0 not
# answering) | n u16 | rec_len u8 | addr u8 | i2c_hz i32 | release_us i32 (ticks_us when the
# release pin was first seen released, -1: no pin or never) | sig_count u8 (SIG_COUNT_VAL
# written, 0: the sensor's default). END: n u16 | bus_errors u16 |
# timeouts u16 | release_us i32 | elapsed_us i32 (first trigger to the last read).
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw import link as L
from fsw.fixmath import ticks_diff

ADDR = const(0x62)
VERSION = const(1)
REC_LEN = const(10)
PER_FRAME = const(11)  # records per DATA frame: 2 + 11 x 10 = 112 bytes of the 120
T_DROP_HEAD = const(0xA0)
T_DROP_DATA = const(0xA1)
T_DROP_END = const(0xA2)
F_BIAS = const(1)
F_BUS_ERROR = const(2)
F_TIMEOUT = const(4)
F_RELEASED = const(8)
MAX_POLLS = const(400)
TIMEOUT_US = const(25000)
BIAS_EVERY = const(100)
VARIANT_NONE = const(0)
VARIANT_V3 = const(1)
VARIANT_V3HP = const(2)
MASK = const(0x3FFFFFFF)
DEFAULT_N = const(2000)  # 7.4 s at 270 Hz; 20 KB of buffer


class DropSampler:
    # i2c: machine.I2C-like (writeto, readfrom_into); ticks_us: the board's clock (any wrap,
    # masked to 2^30); release_pin: an object with value() or None; released: its level once
    # the sensor (or target) is let go
    def __init__(self, i2c, ticks_us, n=DEFAULT_N, addr=ADDR, release_pin=None, released=1,
                 i2c_hz=0):
        if n < 1 or n > 65535:
            raise ValueError("n must be 1..65535")
        self._writeto = i2c.writeto
        self._readinto = i2c.readfrom_into
        self._ticks = ticks_us
        self.addr = addr
        self.n = n
        self.buf = bytearray(n * REC_LEN)
        self._pin = release_pin
        self._released = released
        self.i2c_hz = i2c_hz
        self._w2 = bytearray(2)
        self._ptr = bytearray(1)
        self._r1 = bytearray(1)
        self._r2 = bytearray(2)
        self.count = 0
        self.variant = VARIANT_NONE
        self.bus_errors = 0
        self.timeouts = 0
        self.release_us = -1
        self.elapsed_us = 0
        self.sig_count = 0  # SIG_COUNT_VAL written by configure(); 0: the sensor's default
        self._frame = bytearray(L.BUF_LEN)
        self._enc = L.Encoder()

    def now(self):
        return self._ticks() & MASK

    def probe(self):
        # HW version 0x41: > 0 on a v3, 0 on a v3HP (as PX4 and fsw.lidarlite tell them apart)
        try:
            self._ptr[0] = 0x41
            self._writeto(self.addr, self._ptr)
            self._r1[0] = 0xFF
            self._readinto(self.addr, self._r1)
        except OSError:
            self.variant = VARIANT_NONE
            return self.variant
        hw = self._r1[0]
        self.variant = VARIANT_NONE if hw == 0xFF else (VARIANT_V3HP if hw == 0 else VARIANT_V3)
        return self.variant

    def configure(self, sig_count):
        # SIG_COUNT_VAL (0x02): fewer acquisition counts measure faster and reach less far
        # (v3 default 0x80, v3HP 0xFF); True when the sensor took it
        self._w2[0] = 0x02
        self._w2[1] = sig_count & 0xFF
        try:
            ok = self._write(self._w2)
        except OSError:
            ok = False
        if ok:
            self.sig_count = sig_count & 0xFF
        return ok

    def _pin_released(self):
        pin = self._pin
        if pin is None:
            return False
        try:
            return pin.value() == self._released
        except Exception:
            return False

    def _sample(self, i):
        t = self.now()
        flags = 0
        if self._pin_released():
            flags = F_RELEASED
            if self.release_us < 0:
                self.release_us = t
        bias = i % BIAS_EVERY == 0
        if bias:
            flags |= F_BIAS
        st = 0xFF
        addr = self.addr
        try:
            w = self._w2
            w[0] = 0
            w[1] = 4 if bias else 3
            if not self._write(w):
                return self._store(i, t, flags | F_BUS_ERROR, 0, 0xFF)
            r1 = self._r1
            polls = 0
            pointed = False  # STATUS pointer written (then each poll is one read)
            while True:
                try:
                    if not pointed:
                        self._ptr[0] = 0x01
                        pointed = self._write(self._ptr)
                    st = 0x01
                    if pointed:
                        r1[0] = 0xFF
                        self._readinto(addr, r1)
                        st = r1[0]
                except OSError:
                    st = 0x01  # older units NACK while they measure: busy
                if not st & 1:
                    break
                if self.release_us < 0 and self._pin_released():
                    self.release_us = self.now()  # the edge at poll resolution
                polls += 1
                if polls >= MAX_POLLS or ticks_diff(self.now(), t) > TIMEOUT_US:
                    flags |= F_TIMEOUT
                    self.timeouts += 1
                    break
            self._ptr[0] = 0x8F
            if not self._write(self._ptr):
                return self._store(i, t, flags | F_BUS_ERROR, 0, 0xFF)
            r2 = self._r2
            r2[0] = 0
            r2[1] = 0
            self._readinto(addr, r2)
            cm = (r2[0] << 8) | r2[1]
        except Exception:
            return self._store(i, t, flags | F_BUS_ERROR, 0, 0xFF)
        self._store(i, t, flags, cm, st)

    def _write(self, buf):
        # machine.I2C returns the bytes ACKed (a NACK is a short count), busio None
        n = self._writeto(self.addr, buf)
        return n is None or n >= len(buf)

    def _store(self, i, t, flags, cm, st):
        if flags & F_BUS_ERROR:
            self.bus_errors += 1
        dt = ticks_diff(self.now(), t)
        if dt > 0xFFFF:
            dt = 0xFFFF
        elif dt < 0:
            dt = 0
        b = self.buf
        o = i * REC_LEN
        b[o] = t & 0xFF
        b[o + 1] = (t >> 8) & 0xFF
        b[o + 2] = (t >> 16) & 0xFF
        b[o + 3] = (t >> 24) & 0xFF
        b[o + 4] = dt & 0xFF
        b[o + 5] = dt >> 8
        b[o + 6] = cm & 0xFF
        b[o + 7] = (cm >> 8) & 0xFF
        b[o + 8] = st
        b[o + 9] = flags

    def run(self):
        # n samples back to back into the buffer; returns the number taken
        n = self.n
        t0 = self.now()
        i = 0
        while i < n:
            self._sample(i)
            i += 1
        self.count = n
        self.elapsed_us = ticks_diff(self.now(), t0)
        return n

    def _send(self, write, ftype, length):
        k = self._enc.finish(self._frame, ftype, length)
        write(memoryview(self._frame)[:k])

    def dump(self, write):
        # write(bytes-like): the console; frames as described at the top
        f = self._frame
        p = L.HEADER_LEN
        f[p] = VERSION
        f[p + 1] = self.variant
        L.put_u16(f, p + 2, self.count)
        f[p + 4] = REC_LEN
        f[p + 5] = self.addr
        L.put_i32(f, p + 6, self.i2c_hz)
        L.put_i32(f, p + 10, self.release_us)
        f[p + 14] = self.sig_count
        self._send(write, T_DROP_HEAD, 15)
        b = self.buf
        i = 0
        while i < self.count:
            k = self.count - i
            if k > PER_FRAME:
                k = PER_FRAME
            L.put_u16(f, p, i)
            o = i * REC_LEN
            m = k * REC_LEN
            for j in range(m):
                f[p + 2 + j] = b[o + j]
            self._send(write, T_DROP_DATA, 2 + m)
            i += k
        L.put_u16(f, p, self.count)
        L.put_u16(f, p + 2, self.bus_errors & 0xFFFF)
        L.put_u16(f, p + 4, self.timeouts & 0xFFFF)
        L.put_i32(f, p + 6, self.release_us)
        L.put_i32(f, p + 10, self.elapsed_us)
        self._send(write, T_DROP_END, 14)


def main(n=DEFAULT_N, delay_ms=0, release_pin=None, released=1, sig_count=0):
    # on a board: the I2C bus of board_config.CONFIG (or the Pico's I2C0 on GP4/GP5 at
    # 400 kHz), SIG_COUNT_VAL set when sig_count is given, n samples after delay_ms, then the
    # dump on the console
    import sys
    import time

    import machine

    try:
        from board_config import CONFIG as cfg
    except ImportError:
        cfg = {}
    hz = cfg.get("i2c_freq", 400000)
    i2c = machine.I2C(cfg.get("i2c_id", 0), scl=machine.Pin(cfg.get("i2c_scl", 5)),
                      sda=machine.Pin(cfg.get("i2c_sda", 4)), freq=hz,
                      timeout=cfg.get("i2c_timeout_us", 2000))
    pin = None
    if release_pin is not None:
        pin = machine.Pin(release_pin, machine.Pin.IN, machine.Pin.PULL_UP)
    s = DropSampler(i2c, time.ticks_us, n, release_pin=pin, released=released, i2c_hz=hz)
    s.probe()
    if sig_count:
        s.configure(sig_count)
    if delay_ms > 0:
        time.sleep_ms(delay_ms)
    s.run()
    s.dump(sys.stdout.buffer.write)
