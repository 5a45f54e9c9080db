# `softland replay`'s firmware side (not flight code): the firmware's App re-run on what a
# flight log recorded, on CPython (imported) or the MicroPython unix port
# (`micropython log_replay.py STEPS`, firmware/ and this directory on MICROPYPATH).
#
# STEPS: fixed 32-byte entries the host made from the log (softland.flightlog.replay):
#   kind 1 tick:    <BB iiBiBi BBBHHH: kind, flags, Flight.tick's arguments as logged, then the
#                   tick's inputs from outside the flight (rf valid/signal/tx/errors, link
#                   errors, faults), set as the app had them
#   kind 2 command: <BB 6s: kind, switch, the CMD payload (switch: board mode, 1 when the
#                   arming switch was open, 2 closed; 0 link mode)
#   kind 3 boot:    the flight computer restarted: a new App on the same backup store
#   kind 4 board:   <BB H: kind, 0, PERIOD_MS: a board-mode log (first entry). Each App is a
#                   board-mode App (a bus that answers nothing: the driver's output is in the
#                   log), PERIOD_MS and RF_SOURCE set as hal/board_loop.py sets them, and the
#                   arming switch each tick and command logged applied as the board loop does
# Output, one line per entry: "T <hex of the TELEM payload>", "A <hex of the ACK payload>",
# "B <1 if the App resumed a flight>", "H <PERIOD_MS>" for the board-mode header, or
# "E <exception>" when the firmware raised.
try:
    from ustruct import unpack_from
except ImportError:
    from struct import unpack_from

from binascii import hexlify

from fsw import params as P
from fsw.app import CMD_LEN, App
from fsw.flightlog import F_FLIGHT, F_OPEN
from fsw.link import HEADER_LEN, OVERHEAD
from hal.board_loop import BoardLoop

ENTRY = 32
_TICK = "<BBiiBiBiBBBHHH"


class _Sink:
    def write(self, b):
        return len(b)


class _Backup:
    # battery-backed RAM: the bytes survive a new App
    def __init__(self):
        self.data = bytearray()

    def readinto(self, buf):
        n = min(len(self.data), len(buf))
        buf[:n] = self.data[:n]
        return n

    def write(self, buf):
        self.data = bytearray(buf)


class _NoBus:
    # board mode's I2C bus for a replay: never used (the flight gets the logged ranges)
    def writeto(self, addr, buf, stop=True):
        raise OSError(19)

    def readfrom_into(self, addr, buf, stop=True):
        raise OSError(19)


class _Loop:
    # what BoardLoop._interlock reads and writes of its loop
    def __init__(self, app):
        self.app = app
        self.flight = app.flight
        self.closed = False  # boot: open until read closed, as the board loop


def _hex(b):
    return hexlify(bytes(b)).decode()


def _app(backup, period_ms):
    # period_ms 0: link mode; else a board-mode App set up as hal/board_loop.py does
    if not period_ms:
        return App(_Sink(), None, backup), None
    app = App(_Sink(), None, backup, _NoBus())
    app.params.set(P.PERIOD_MS, period_ms)
    app.params.set(P.RF_SOURCE, 1)
    return app, _Loop(app)


def run(steps, emit):
    backup = _Backup()
    period_ms = 0
    if len(steps) >= ENTRY and steps[0] == 4:
        period_ms = steps[2] | (steps[3] << 8)
    app, loop = _app(backup, period_ms)
    cmd = bytearray(CMD_LEN + OVERHEAD)
    for i in range(0, len(steps) - ENTRY + 1, ENTRY):
        kind = steps[i]
        try:
            if kind == 4:
                emit("H " + str(period_ms))
            elif kind == 3:
                app, loop = _app(backup, period_ms)
                emit("B 1" if app.resumed else "B 0")
            elif kind == 2:
                if loop is not None and steps[i + 1]:
                    BoardLoop._interlock(loop, steps[i + 1] == 2)
                for k in range(CMD_LEN):
                    cmd[HEADER_LEN + k] = steps[i + 2 + k]
                app._command(cmd, CMD_LEN)
                emit("A " + _hex(app._ack[HEADER_LEN : HEADER_LEN + 8]))
            elif kind == 1:
                v = unpack_from(_TICK, steps, i)
                rf = app.range
                if loop is not None:
                    BoardLoop._interlock(loop, not v[1] & F_OPEN)
                if v[1] & F_FLIGHT:
                    app.flight.tick(v[2], v[3], v[4], v[5], v[6], v[7])
                    rf.status = v[4]
                    rf.distance_mm = v[3]
                rf.valid_count = v[8]
                rf.signal = v[9]
                rf.tx_last = v[10]
                rf.errors = v[11]
                app.bad_frames = v[12] - app.dec.errors()
                app.faults = v[13]
                app._save()
                app._send_telemetry()
                t = app.telem.frame
                emit("T " + _hex(t[HEADER_LEN : HEADER_LEN + len(t) - OVERHEAD]))
        except Exception as exc:
            emit("E " + repr(exc))


def main(path):
    with open(path, "rb") as f:
        steps = f.read()
    run(steps, print)


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
