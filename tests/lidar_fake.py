"""A scripted fake LIDAR-Lite on a machine.I2C-style bus, for the firmware driver's tests.

Each transaction (one ``writeto`` or ``readfrom_into`` call) first takes the next entry of
``script`` if there is one; with the script empty, a small register model of a v3 or v3HP
answers (pointer register, bit-7 auto-increment, triggered measurements that finish after
``acq_us``, reset and power cycle with ~22 ms of NACKs). Script entries:

``ACK``      the register model answers
``NACK``     OSError(ENODEV), what machine.I2C raises when the address is not acknowledged
``SHORT``    ``writeto`` returns 0 ACKs (a data-byte NACK); a read raises as NACK
``EIO``      OSError(EIO)
``TIMEOUT``  OSError(ETIMEDOUT), a bus timeout
``FF``       a read fills 0xFF (pulled-up bus); a write is acknowledged and ignored
``MEMERR``   MemoryError (what an allocating bus raises under a locked heap)
``EMPTY``    a read returns without filling the buffer
bytes        a read fills these bytes (repeated to the buffer's length); a write is ignored
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from softland.boards.firmware import fsw_module

ACK = "ack"
NACK = "nack"
SHORT = "short"
EIO = "eio"
TIMEOUT = "timeout"
FF = "ff"
MEMERR = "memerr"
EMPTY = "empty"
OUTCOMES = (ACK, NACK, SHORT, EIO, TIMEOUT, FF, MEMERR, EMPTY)

TICKS_MASK = 0x3FFFFFFF
# start 100 ms before the 2^30 wrap of the ticks_us domain: every run crosses it
T0 = (1 << 30) - 100_000
DT = 20_000  # 50 Hz
RESET_NACK_US = 22_000
V3_HW, V3_SW = 0x14, 0x0B

LL = fsw_module("lidarlite")
RF = fsw_module("rangefinder")


def defaults(variant: str) -> bytearray:
    regs = bytearray(256)
    if variant == "v3":
        regs[0x01] = 0x20  # health OK
        regs[0x02] = 0x80
        regs[0x11] = 0x01
        regs[0x12] = 0x05
        regs[0x41] = V3_HW
        regs[0x4F] = V3_SW
    else:
        regs[0x02] = 0xFF
        regs[0x12] = 0x03
    regs[0x04] = 0x08
    regs[0x45] = 0x14
    return regs


class FakeLidar:
    """machine.I2C-style bus with one LIDAR-Lite (or none) at 0x62."""

    def __init__(self, variant: str = "v3", cm: int | None = 250, present: bool = True):
        self.variant = variant
        self.regs = defaults(variant)
        self.present = present
        self.cm = cm  # target distance; None = no return
        self.sig = 90
        self.acq_us = 8_000
        self.now = 0  # absolute (unwrapped) microseconds, set by the rig
        self.script: deque[Any] = deque()
        self.tx = 0
        self.writes: list[bytes] = []
        self.ptr = 0
        self.autoinc = False
        self.done_at: int | None = None
        self.nack_until = -1
        self.lockup = False  # NACK everything until a reset command arrives
        self.stuck_busy = False
        self.stuck_zero = False
        self.frozen = False  # measurements run but no register changes
        self.ff_reads = False  # every read returns 0xFF
        self.measurements = 0

    # machine.I2C API
    def writeto(self, addr: int, buf: bytes | bytearray) -> int:
        out = self._transaction(addr)
        data = bytes(buf)
        if out == SHORT:
            return 0
        if out != ACK:
            return len(data)
        self.writes.append(data)
        if self.lockup:
            if data == b"\x00\x00":
                self._reboot()
            raise OSError(errno.ENODEV)
        if len(data) == 1:
            self.ptr = data[0] & 0x7F
            self.autoinc = bool(data[0] & 0x80)
        elif len(data) >= 2:
            self._write_reg(data[0] & 0x7F, data[1])
        return len(data)

    def readfrom_into(self, addr: int, buf: bytearray) -> None:
        out = self._transaction(addr)
        if out == SHORT:
            raise OSError(errno.ENODEV)
        if out == EMPTY:
            return
        if isinstance(out, (bytes, bytearray)):
            for i in range(len(buf)):
                buf[i] = out[i % len(out)] if out else 0xFF
            return
        if out == FF or self.ff_reads:
            for i in range(len(buf)):
                buf[i] = 0xFF
            return
        if self.lockup:
            raise OSError(errno.ENODEV)
        for i in range(len(buf)):
            buf[i] = self._reg(self.ptr + i if self.autoinc else self.ptr)

    def writeto_mem(self, addr: int, reg: int, buf: bytes) -> None:
        raise AssertionError("the driver must not use a repeated start (writeto_mem)")

    def readfrom_mem_into(self, addr: int, reg: int, buf: bytearray) -> None:
        raise AssertionError("the driver must not use a repeated start (readfrom_mem_into)")

    # faults
    def power_cycle(self) -> None:
        self._reboot()

    # model
    def _transaction(self, addr: int) -> Any:
        self.tx += 1
        out = self.script.popleft() if self.script else ACK
        if out == NACK or not self.present or addr != 0x62:
            raise OSError(errno.ENODEV)
        if out == EIO:
            raise OSError(errno.EIO)
        if out == TIMEOUT:
            raise OSError(errno.ETIMEDOUT)
        if out == MEMERR:
            raise MemoryError
        if out == ACK and self.now < self.nack_until:
            raise OSError(errno.ENODEV)  # rebooting
        self._finish()
        return out

    def _reboot(self) -> None:
        self.regs = defaults(self.variant)
        self.nack_until = self.now + RESET_NACK_US
        self.done_at = None
        self.lockup = False
        self.stuck_zero = False
        self.stuck_busy = False
        self.frozen = False

    def _write_reg(self, reg: int, value: int) -> None:
        if reg == 0x00:
            if value == 0x00:
                self._reboot()
                return
            self.done_at = self.now + self.acq_us
            self.regs[0x01] |= 0x01
            return
        self.regs[reg] = value

    def _reg(self, reg: int) -> int:
        return self.regs[reg & 0xFF]

    def _finish(self) -> None:
        if self.done_at is None or self.now < self.done_at or self.stuck_busy:
            return
        self.done_at = None
        regs = self.regs
        if self.frozen:
            regs[0x01] &= ~0x01
            return
        old = (regs[0x0F] << 8) | regs[0x10]
        status = 0x20 if self.variant == "v3" else 0x00
        if self.stuck_zero:
            new = 0
        elif self.cm is None:
            new = 1
            status |= 0x08 if self.variant == "v3" else 0
        else:
            new = self.cm
        regs[0x01] = status
        regs[0x0F], regs[0x10] = new >> 8, new & 0xFF
        regs[0x14], regs[0x15] = old >> 8, old & 0xFF
        self.measurements += 1
        regs[0x0E] = self.sig + self.measurements % 3 if self.cm is not None else 0
        if self.variant == "v3":
            regs[0x09] = max(-128, min(127, new - old)) & 0xFF


@dataclass
class Rig:
    """A driver and its fake bus stepped at 50 Hz, checking the transaction budget each step."""

    bus: FakeLidar
    max_tx: int = 4
    t: int = T0  # absolute time; the driver sees it wrapped at 2^30
    drv: Any = None
    per_step: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.drv is None:
            self.drv = LL.LidarLite(self.bus, max_tx=self.max_tx)

    @property
    def now(self) -> int:
        return self.t & TICKS_MASK

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.bus.now = self.t
            before = self.bus.tx
            self.drv.step(self.now)
            made = self.bus.tx - before
            assert made == self.drv.tx_last, (made, self.drv.tx_last)
            assert made <= self.max_tx
            assert 0 <= self.drv.status <= 4
            assert 0 <= self.drv.valid_count <= RF.VALID_COUNT_MAX
            self.per_step.append(made)
            self.t += DT

    def steps_until(self, cond: Callable[[], bool], limit: int) -> int:
        """Step until cond() holds; the number of steps taken (fails beyond limit)."""
        for n in range(1, limit + 1):
            self.step()
            if cond():
                return n
        raise AssertionError(
            f"not reached within {limit} steps: state {self.drv.state} "
            f"status {self.drv.status} errors {self.drv.errors}"
        )

    def good(self, limit: int) -> int:
        return self.steps_until(lambda: self.drv.status == RF.RF_GOOD, limit)
