# `softland replay`'s firmware side (not flight code): the firmware's App re-run on what a
# flight log recorded, on CPython (imported) or the MicroPython unix port
# (`micropython log_replay.py STEPS`, firmware/ and this directory on MICROPYPATH).
#
# STEPS: fixed 32-byte entries the host made from the log (softland.flightlog.replay):
#   kind 1 tick:    <BB iiBiBi BBBHHH: kind, flags, Flight.tick's arguments as logged, then the
#                   tick's inputs from outside the flight (rf valid/signal/tx/errors, link
#                   errors, faults), set as the app had them
#   kind 2 command: <BB 6s: kind, 0, the CMD payload
#   kind 3 boot:    the flight computer restarted: a new App on the same backup store
# Output, one line per entry: "T <hex of the TELEM payload>", "A <hex of the ACK payload>",
# "B <1 if the App resumed a flight>" or "E <exception>" when the firmware raised.
try:
    from ustruct import unpack_from
except ImportError:
    from struct import unpack_from

from binascii import hexlify

from fsw.app import CMD_LEN, App
from fsw.flightlog import F_FLIGHT
from fsw.link import HEADER_LEN, OVERHEAD

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


def _hex(b):
    return hexlify(bytes(b)).decode()


def run(steps, emit):
    backup = _Backup()
    app = App(_Sink(), None, backup)
    cmd = bytearray(CMD_LEN + OVERHEAD)
    for i in range(0, len(steps) - ENTRY + 1, ENTRY):
        kind = steps[i]
        try:
            if kind == 3:
                app = App(_Sink(), None, backup)
                emit("B 1" if app.resumed else "B 0")
            elif kind == 2:
                for k in range(CMD_LEN):
                    cmd[HEADER_LEN + k] = steps[i + 2 + k]
                app._command(cmd, CMD_LEN)
                emit("A " + _hex(app._ack[HEADER_LEN : HEADER_LEN + 8]))
            elif kind == 1:
                v = unpack_from(_TICK, steps, i)
                rf = app.range
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
