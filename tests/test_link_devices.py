"""Link devices: the firmware's machine.I2C over the link, answered by host-side devices."""

from __future__ import annotations

import errno

import pytest

from softland.boards.firmware import fsw_module
from softland.boards.hostlink import HostLink
from softland.boards.runtimes import CPythonRuntime
from softland.simulation.sim import _Session

linkdev = fsw_module("linkdev")


class Registers:
    """A toy I2C device at 0x62: 256 registers, a pointer, optional failure."""

    def __init__(self) -> None:
        self.regs = bytearray(range(256))
        self.pointer = 0
        self.fail_status = linkdev.ST_OK
        self.calls: list[tuple[int, int, int, bytes, int]] = []

    def transact(
        self, op: int, addr: int, reg: int, write: bytes, read_len: int
    ) -> tuple[int, bytes]:
        self.calls.append((op, addr, reg, write, read_len))
        if addr != 0x62:
            return linkdev.ST_NACK_ADDR, b""
        if self.fail_status != linkdev.ST_OK:
            return self.fail_status, b""
        if op == linkdev.OP_WRITE:
            self.pointer = write[0]
            self.regs[write[0] + 1 : write[0] + len(write)] = write[1:]
            return linkdev.ST_OK, b""
        if op == linkdev.OP_WRITE_MEM:
            self.regs[reg : reg + len(write)] = write
            return linkdev.ST_OK, b""
        start = reg if op == linkdev.OP_READ_MEM else self.pointer
        return linkdev.ST_OK, bytes(self.regs[start : start + read_len])


@pytest.fixture
def bus() -> tuple[object, Registers]:
    rt = CPythonRuntime()
    device = Registers()
    _Session(rt, HostLink(), device)
    return rt.app.i2c, device


def test_register_read_with_a_stop_between_pointer_and_data(bus) -> None:
    i2c, device = bus
    buf = bytearray(2)
    assert i2c.writeto(0x62, bytearray([0x0F])) == 1
    i2c.readfrom_into(0x62, buf)
    assert buf == bytearray([0x0F, 0x10])
    assert [c[0] for c in device.calls] == [linkdev.OP_WRITE, linkdev.OP_READ]


def test_register_read_with_repeated_start(bus) -> None:
    i2c, _ = bus
    buf = bytearray(3)
    i2c.readfrom_mem_into(0x62, 0x40, buf)
    assert buf == bytearray([0x40, 0x41, 0x42])


def test_register_write_is_one_transaction(bus) -> None:
    i2c, device = bus
    i2c.writeto_mem(0x62, 0x02, bytearray([0x55]))
    assert device.regs[2] == 0x55
    assert len(device.calls) == 1


def test_an_absent_address_raises_enodev(bus) -> None:
    i2c, _ = bus
    with pytest.raises(OSError) as exc:
        i2c.readfrom_into(0x29, bytearray(1))
    assert exc.value.args[0] == errno.ENODEV


def test_a_data_nack_raises_eio(bus) -> None:
    i2c, device = bus
    device.fail_status = linkdev.ST_NACK_DATA
    with pytest.raises(OSError) as exc:
        i2c.writeto(0x62, bytearray([0, 4]))
    assert exc.value.args[0] == errno.EIO


def test_a_bus_lockup_raises_etimedout(bus) -> None:
    i2c, device = bus
    device.fail_status = linkdev.ST_TIMEOUT
    with pytest.raises(OSError) as exc:
        i2c.readfrom_into(0x62, bytearray(1))
    assert exc.value.args[0] == errno.ETIMEDOUT


def test_a_transfer_longer_than_the_link_carries_is_refused(bus) -> None:
    i2c, device = bus
    with pytest.raises(OSError):
        i2c.readfrom_into(0x62, bytearray(linkdev.RMAX + 1))
    assert device.calls == []


def test_without_an_input_stream_every_transaction_fails() -> None:
    app = fsw_module("app").App(CPythonRuntime())  # no read_into
    with pytest.raises(OSError) as exc:
        app.i2c.readfrom_into(0x62, bytearray(1))
    assert exc.value.args[0] == errno.ETIMEDOUT


def test_a_silent_host_makes_the_transaction_time_out() -> None:
    rt = CPythonRuntime()  # no session attached: nobody answers
    with pytest.raises(OSError) as exc:
        rt.app.i2c.readfrom_into(0x62, bytearray(1))
    assert exc.value.args[0] == errno.ETIMEDOUT


def test_serial_frames_feed_the_link_uart_in_order() -> None:
    rt, host = CPythonRuntime(), HostLink()
    rt.send(host.serial_frame(b"abc"))
    rt.send(host.serial_frame(b"de"))
    uart = rt.app.uart
    assert uart.any() == 5
    buf = bytearray(4)
    assert uart.readinto(buf, 4) == 4 and buf == bytearray(b"abcd")
    assert uart.readinto(buf) == 1 and buf[0] == ord("e")
    assert uart.readinto(buf) == 0


def test_a_full_uart_counts_overflow_and_keeps_the_oldest_bytes() -> None:
    uart = linkdev.LinkUart(size=4)
    uart.push(bytearray(b"abcdef"), 0, 6)
    assert uart.overflows == 1
    buf = bytearray(4)
    uart.readinto(buf)
    assert buf == bytearray(b"abcd")
