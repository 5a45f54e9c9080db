# Devices that live on the other end of the link (SIL/HIL): an I2C bus whose transactions the
# host answers (its register-level sensor emulators), and a UART whose bytes the host sends.
# Both present the machine.I2C / machine.UART subset the drivers use, so a driver cannot tell
# them from the real peripherals. Allocation-free; a failed transaction raises a preallocated
# OSError, like a NACK on a real bus.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from fsw.link import COUNT_MASK, HEADER_LEN, OVERHEAD, T_I2C_REQ, crc_view, put_header

# I2C_REQ payload (firmware -> host), fixed size
REQ_OP = const(0)  # u8 one of OP_*
REQ_ADDR = const(1)  # u8 7-bit address
REQ_REG = const(2)  # u8 register (OP_WRITE_MEM / OP_READ_MEM)
REQ_RLEN = const(3)  # u8 bytes to read
REQ_WLEN = const(4)  # u8 bytes to write
REQ_DATA = const(5)  # WMAX bytes, the first WLEN used
WMAX = const(4)
REQ_LEN = const(9)
# I2C_RESP payload (host -> firmware), fixed size
RESP_STATUS = const(0)  # u8 one of ST_*
RESP_N = const(1)  # u8 bytes read
RESP_DATA = const(2)  # RMAX bytes, the first N used
RMAX = const(16)
RESP_LEN = const(18)
# SERIAL payload (host -> firmware): port u8, then the bytes
SER_PORT = const(0)
SER_DATA = const(1)

OP_WRITE = const(1)
OP_READ = const(2)
OP_WRITE_MEM = const(3)
OP_READ_MEM = const(4)

ST_OK = const(0)
ST_NACK_ADDR = const(1)  # -> OSError(ENODEV)
ST_NACK_DATA = const(2)  # -> OSError(EIO)
ST_TIMEOUT = const(3)  # -> OSError(ETIMEDOUT)

_ENODEV = OSError(19)
_EIO = OSError(5)
_ETIMEDOUT = OSError(110)
_EINVAL = OSError(22)
_WAIT_BYTES = const(512)  # most bytes read while waiting for one response


class LinkI2C:
    """machine.I2C over the link: writeto, readfrom_into, writeto_mem, readfrom_mem_into."""

    def __init__(self, write, enc, dec, read_into):
        # write(buf): output stream; read_into(buf, n) -> bytes read (0: nothing more);
        # dec: the link decoder, whose handler calls on_response for I2C_RESP frames
        self._write = write
        self._enc = enc
        self._dec = dec
        self._read_into = read_into
        self._req = bytearray(REQ_LEN + OVERHEAD)
        self._req_crc = crc_view(self._req, REQ_LEN)
        put_header(self._req, T_I2C_REQ, REQ_LEN)  # they never change: Encoder.refinish sends it
        self._rbuf = None  # the decoder's buffer holding the last answer (on_response)
        self._got = False
        self._waiting = False
        self.transactions = 0
        self.failures = 0

    def on_response(self, buf, length):
        # accepted only while a transaction waits for it
        if not self._waiting or self._got or length != RESP_LEN:
            return False
        # the answer stays where the decoder put it: nothing reads the link again before
        # this transaction has taken what it needs from it (a copy costs ~0.5 ms at 16 MHz)
        self._rbuf = buf
        self._got = True
        return True

    def _transact(self, op, addr, reg, wbuf, rlen):
        self.transactions = (self.transactions + 1) & COUNT_MASK
        dec = self._dec
        if self._read_into is None or dec.replaying():
            self.failures = (self.failures + 1) & COUNT_MASK
            raise _ETIMEDOUT
        req = self._req
        o = HEADER_LEN
        req[o + REQ_OP] = op & 0xFF
        req[o + REQ_ADDR] = addr & 0xFF
        req[o + REQ_REG] = reg & 0xFF
        req[o + REQ_RLEN] = rlen & 0xFF
        wlen = 0
        if wbuf is not None:
            wlen = len(wbuf)
            for i in range(wlen):
                req[o + REQ_DATA + i] = wbuf[i]
        for i in range(wlen, WMAX):
            req[o + REQ_DATA + i] = 0
        req[o + REQ_WLEN] = wlen
        self._enc.refinish(req, HEADER_LEN + REQ_LEN, self._req_crc)
        self._got = False
        self._waiting = True
        self._write(req)
        waited = 0
        try:
            while not self._got and waited < _WAIT_BYTES:
                # straight into the decoder's buffer (no copy)
                n = self._read_into(dec.rx_view(), dec.needed())
                if not n:
                    break
                waited += n
                dec.received(n)
        finally:
            self._waiting = False
        if not self._got:
            self.failures = (self.failures + 1) & COUNT_MASK
            raise _ETIMEDOUT
        resp = self._rbuf
        st = resp[HEADER_LEN + RESP_STATUS]
        if st != ST_OK:
            self.failures = (self.failures + 1) & COUNT_MASK
            if st == ST_NACK_ADDR:
                raise _ENODEV
            if st == ST_NACK_DATA:
                raise _EIO
            raise _ETIMEDOUT
        return resp[HEADER_LEN + RESP_N]

    def _copy_in(self, buf, n):
        m = len(buf)
        if n < m:
            m = n
        resp = self._rbuf
        o = HEADER_LEN + RESP_DATA
        for i in range(m):
            buf[i] = resp[o + i]

    def writeto(self, addr, buf, stop=True):
        if len(buf) > WMAX:
            raise _EINVAL
        self._transact(OP_WRITE, addr, 0, buf, 0)
        return len(buf)  # data bytes acknowledged, as machine.I2C

    def readfrom_into(self, addr, buf, stop=True):
        if len(buf) > RMAX:
            raise _EINVAL
        self._copy_in(buf, self._transact(OP_READ, addr, 0, None, len(buf)))

    def writeto_mem(self, addr, memaddr, buf):
        if len(buf) > WMAX:
            raise _EINVAL
        self._transact(OP_WRITE_MEM, addr, memaddr, buf, 0)

    def readfrom_mem_into(self, addr, memaddr, buf):
        if len(buf) > RMAX:
            raise _EINVAL
        self._copy_in(buf, self._transact(OP_READ_MEM, addr, memaddr, None, len(buf)))


class LinkUart:
    """machine.UART over the link: any(), readinto(buf, n); bytes arrive in SERIAL frames."""

    def __init__(self, size=256):
        self._ring = bytearray(size)
        self._size = size
        self._head = 0
        self._count = 0
        self.overflows = 0

    def push(self, buf, start, n):
        size = self._size
        for i in range(n):
            if self._count >= size:
                self.overflows = (self.overflows + 1) & COUNT_MASK
                return
            self._ring[(self._head + self._count) % size] = buf[start + i]
            self._count += 1

    def any(self):
        return self._count

    def readinto(self, buf, n=-1):
        m = len(buf)
        if 0 <= n < m:
            m = n
        if m > self._count:
            m = self._count
        size = self._size
        for i in range(m):
            buf[i] = self._ring[self._head]
            self._head = (self._head + 1) % size
        self._count -= m
        return m
