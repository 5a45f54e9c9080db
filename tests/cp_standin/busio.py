"""Stand-in `busio`: I2C(scl, sda, *, frequency) answered by I2C.backend, a busio-style bus
(the host's EmulatedI2C with the LIDAR-Lite and LSM6DSOX emulators on it), set by the test
before the board is built. Calls need the lock, as CircuitPython's do. `no_pullups` makes the
constructor raise as CircuitPython does without pull-ups; on an instance, `unplugged` makes
every transaction raise OSError(ENODEV), `nack_addr` those to one address, and
`held_by_other` keeps try_lock() failing (another user of the bus)."""

from __future__ import annotations

from typing import Any

from . import state


class I2C:
    backend: Any = None
    no_pullups = False

    def __init__(self, scl: Any, sda: Any, *, frequency: int = 100_000, timeout: int = 255):
        if I2C.no_pullups:
            raise RuntimeError("No pull up found on SDA or SCL; check your wiring")
        if I2C.backend is None:
            raise RuntimeError("stand-in busio.I2C: the test sets I2C.backend first")
        self.scl, self.sda, self.frequency = scl, sda, frequency
        self.bus = I2C.backend
        self.unplugged = False
        self.nack_addr = -1
        self.held_by_other = False
        self.lock_calls = 0
        state.created.append("I2C")

    def try_lock(self) -> bool:
        self.lock_calls += 1
        if self.held_by_other:
            return False
        return self.bus.try_lock()

    def unlock(self) -> None:
        self.bus.unlock()

    def _nack(self, addr: int) -> None:
        if self.unplugged or addr == self.nack_addr:
            self.bus._check()  # the lock is still required
            state.clock.advance_us(30)
            raise OSError(19, "No such device")

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None):
        self._nack(address)
        self.bus.writeto(address, buffer, start=start, end=end)

    def readfrom_into(
        self, address: int, buffer: Any, *, start: int = 0, end: int | None = None
    ) -> None:
        self._nack(address)
        self.bus.readfrom_into(address, buffer, start=start, end=end)

    def writeto_then_readfrom(self, address: int, buffer_out: Any, buffer_in: Any, **kw: Any):
        self._nack(address)
        self.bus.writeto_then_readfrom(address, buffer_out, buffer_in, **kw)
