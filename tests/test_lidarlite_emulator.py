"""The LIDAR-Lite register-level emulator: datasheet behaviours and injected faults."""

from __future__ import annotations

import errno
import math
from dataclasses import dataclass

import numpy as np
import pytest

from softland.devices.lidarlite import (
    BOOT_US,
    FAULT_NAMES,
    FAULT_PARAMS,
    REG_ACQ_COMMAND,
    REG_ACQ_CONFIG,
    REG_FULL_DELAY_HIGH,
    REG_HEALTH_STATUS,
    REG_HW_VERSION,
    REG_I2C_CONFIG,
    REG_I2C_ID_HIGH,
    REG_I2C_ID_LOW,
    REG_I2C_SEC_ADDR,
    REG_LAST_DELAY_HIGH,
    REG_MEASURE_DELAY,
    REG_OUTER_LOOP_COUNT,
    REG_POWER_CONTROL,
    REG_REF_COUNT_VAL,
    REG_SIG_COUNT_VAL,
    REG_SIGNAL_STRENGTH,
    REG_STATUS,
    REG_SW_VERSION,
    REG_THRESHOLD_BYPASS,
    REG_UNIT_ID_HIGH,
    REG_VELOCITY,
    V3_BUSY,
    V3_HEALTH_OK,
    V3_NO_PEAK,
    V3_SECONDARY_RETURN,
    V3_SIGNAL_OVERFLOW,
    V3HP_SIGNAL_OVERFLOW,
    EmulatedI2C,
    LidarLiteEmulator,
    MachineI2C,
    Op,
    Status,
    VirtualClock,
    parse_fault,
)

ADDR = 0x62
UNDEFINED_REG = 0x30  # no register lives here on any variant


@dataclass
class Rig:
    clock: VirtualClock
    emu: LidarLiteEmulator
    bus: EmulatedI2C
    i2c: MachineI2C

    def read(self, reg: int, n: int = 1) -> bytes:
        """Pointer write, STOP, then the read: as Garmin asks (a v3 reads zeros after a
        repeated START)."""
        self.i2c.writeto(ADDR, bytes([reg]))
        return self.i2c.readfrom(ADDR, n)

    def write(self, reg: int, value: int) -> None:
        self.i2c.writeto_mem(ADDR, reg, bytes([value]))

    def status(self) -> int:
        return self.read(REG_STATUS)[0]

    def wait_idle(self, max_polls: int = 1000) -> int:
        """Poll STATUS until not busy; the number of busy polls."""
        for polls in range(max_polls):
            if not self.status() & V3_BUSY:
                return polls
        raise AssertionError("still busy")

    def measure(self, command: int = 0x04) -> int:
        self.write(REG_ACQ_COMMAND, command)
        self.wait_idle()
        return int.from_bytes(self.read(0x8F, 2), "big")

    def busy_time_us(self, command: int = 0x04, step_us: int = 20) -> int:
        """Busy duration after a command, stepping the clock without bus traffic."""
        self.write(REG_ACQ_COMMAND, command)
        start = self.clock.now_us
        while self.emu.register(REG_STATUS) & V3_BUSY:
            self.clock.advance_us(step_us)
            assert self.clock.now_us - start < 1_000_000
        return self.clock.now_us - start


def make_rig(
    variant: str = "v3",
    distance_m: float = 10.0,
    reflectance: float = 0.7,
    seed: int = 1,
    frequency: int = 100_000,
    **kwargs: object,
) -> Rig:
    clock = VirtualClock()
    emu = LidarLiteEmulator(clock, np.random.default_rng(seed), variant=variant, **kwargs)
    emu.set_target(distance_m, reflectance)
    bus = EmulatedI2C(clock, [emu], frequency=frequency)
    return Rig(clock, emu, bus, MachineI2C(bus))


def rig_with_target(target: object) -> Rig:
    clock = VirtualClock()
    emu = LidarLiteEmulator(clock, np.random.default_rng(0), target=target)  # type: ignore[arg-type]
    bus = EmulatedI2C(clock, [emu])
    return Rig(clock, emu, bus, MachineI2C(bus))


def expect_oserror(code: int, fn: object, *args: object) -> None:
    with pytest.raises(OSError) as info:
        fn(*args)  # type: ignore[operator]
    assert info.value.errno == code


# ---------------------------------------------------------------------------------------------
# clock, registers, defaults


def test_virtual_clock_advances_and_never_goes_back() -> None:
    clock = VirtualClock()
    clock.advance_us(1500)
    clock.advance_to_us(1000)
    assert clock.now_us == 1500
    clock.advance_to_us(2_000_000)
    assert clock.now_s == 2.0
    with pytest.raises(ValueError):
        clock.advance_us(-1)


def test_v3_register_defaults() -> None:
    rig = make_rig("v3")
    expected = {
        REG_SIG_COUNT_VAL: 0x80,
        REG_ACQ_CONFIG: 0x08,
        REG_OUTER_LOOP_COUNT: 0x01,
        REG_REF_COUNT_VAL: 0x05,
        REG_THRESHOLD_BYPASS: 0x00,
        REG_I2C_CONFIG: 0x00,
        REG_MEASURE_DELAY: 0x14,
        REG_POWER_CONTROL: 0x80,
    }
    assert {reg: rig.read(reg)[0] for reg in expected} == expected


def test_v3hp_register_defaults_and_absent_registers_read_zero() -> None:
    rig = make_rig("v3hp")
    expected = {
        REG_SIG_COUNT_VAL: 0xFF,
        REG_ACQ_CONFIG: 0x08,
        REG_REF_COUNT_VAL: 0x03,
        REG_THRESHOLD_BYPASS: 0x00,
        REG_I2C_CONFIG: 0x00,
        REG_POWER_CONTROL: 0x00,
    }
    assert {reg: rig.read(reg)[0] for reg in expected} == expected
    rig.measure()
    absent = (REG_VELOCITY, REG_OUTER_LOOP_COUNT, REG_LAST_DELAY_HIGH, REG_MEASURE_DELAY)
    assert [rig.read(reg)[0] for reg in absent] == [0, 0, 0, 0]


def test_hw_and_sw_version_are_nonzero_on_v3_and_zero_on_v3hp() -> None:
    v3, hp = make_rig("v3"), make_rig("v3hp")
    assert v3.read(REG_HW_VERSION)[0] > 0 and v3.read(REG_SW_VERSION)[0] > 0
    assert hp.read(REG_HW_VERSION)[0] == 0 and hp.read(REG_SW_VERSION)[0] == 0


def test_health_status_register_exists_only_on_v3hp() -> None:
    assert make_rig("v3hp").read(REG_HEALTH_STATUS)[0] != 0
    assert make_rig("v3").read(REG_HEALTH_STATUS)[0] == 0


def test_idle_status_is_health_ok_on_v3_and_zero_on_v3hp() -> None:
    assert make_rig("v3").status() == V3_HEALTH_OK
    assert make_rig("v3hp").status() == 0


def test_unit_id_registers_hold_the_serial_number() -> None:
    rig = make_rig(unit_id=0xBEEF)
    assert rig.read(0x80 | REG_UNIT_ID_HIGH, 2) == b"\xbe\xef"


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="v4"):
        LidarLiteEmulator(VirtualClock(), np.random.default_rng(0), variant="v4")


# ---------------------------------------------------------------------------------------------
# acquisition timing


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
def test_measurement_is_busy_about_3_7_ms_at_defaults(variant: str) -> None:
    rig = make_rig(variant)
    assert 3500 <= rig.busy_time_us(command=0x03) <= 3900


def test_lower_sig_count_val_measures_faster() -> None:
    rig = make_rig()
    default = rig.busy_time_us(0x03)
    rig.write(REG_SIG_COUNT_VAL, 0x1D)
    assert rig.busy_time_us(0x03) < default / 2


def test_quick_termination_measures_faster_on_a_strong_return() -> None:
    rig = make_rig(distance_m=2.0)
    default = rig.busy_time_us(0x03)
    rig.write(REG_ACQ_CONFIG, 0x00)  # b3 = 0: quick termination enabled
    assert rig.busy_time_us(0x03) < default * 0.6


def test_bias_corrected_measurement_is_slower_than_no_bias_on_v3() -> None:
    rig = make_rig()
    assert rig.busy_time_us(0x04) > rig.busy_time_us(0x03) + 1000


def test_status_polls_see_the_measurement_end_through_bus_time() -> None:
    rig = make_rig()
    rig.write(REG_ACQ_COMMAND, 0x04)
    polls = rig.wait_idle()
    assert 5 <= polls <= 40  # 390 us per status poll at 100 kHz against ~5.7 ms


@pytest.mark.parametrize("command", [0x01, 0x03, 0x04, 0x7F])
def test_v3hp_any_nonzero_command_starts_a_measurement(command: int) -> None:
    rig = make_rig("v3hp", distance_m=3.0)
    rig.write(REG_ACQ_COMMAND, command)
    assert rig.status() & V3_BUSY
    rig.wait_idle()
    assert abs(int.from_bytes(rig.read(0x0F, 2), "big") - 300) < 15


def test_v3_unmodelled_command_starts_no_measurement() -> None:
    rig = make_rig()
    rig.write(REG_ACQ_COMMAND, 0x01)
    assert not rig.status() & V3_BUSY


def test_full_delay_holds_the_last_result_while_busy() -> None:
    rig = make_rig(distance_m=5.0)
    first = rig.measure()
    rig.emu.set_target(20.0)
    rig.write(REG_ACQ_COMMAND, 0x04)
    assert rig.status() & V3_BUSY
    assert int.from_bytes(rig.read(0x8F, 2), "big") == first
    rig.wait_idle()
    assert abs(int.from_bytes(rig.read(0x8F, 2), "big") - 2000) < 40


def test_status_and_registers_answer_while_a_measurement_runs() -> None:
    # Garmin's manuals poll STATUS b0 during the acquisition: no NACK while busy by default
    rig = make_rig(distance_m=5.0)
    rig.write(REG_ACQ_COMMAND, 0x03)
    assert rig.status() & V3_BUSY
    assert rig.read(REG_SIG_COUNT_VAL)[0] == 0x80
    assert rig.bus.stats.address_nacks == rig.bus.stats.data_nacks == 0


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
def test_busy_nack_fault_nacks_only_while_a_measurement_runs(variant: str) -> None:
    rig = make_rig(variant, distance_m=5.0)
    rig.emu.inject("busy_nack", 0.0)
    assert rig.status() & V3_BUSY == 0  # idle: answers
    rig.write(REG_ACQ_COMMAND, 0x03)
    expect_oserror(errno.ENODEV, rig.read, REG_STATUS)
    rig.clock.advance_us(10_000)  # the measurement is over
    assert abs(int.from_bytes(rig.read(0x8F, 2), "big") - 500) < 10


def test_trigger_while_busy_restarts_the_measurement_and_drops_the_first() -> None:
    rig = make_rig(distance_m=5.0)
    first = rig.measure(0x03)
    rig.emu.set_target(20.0)
    rig.write(REG_ACQ_COMMAND, 0x03)
    t_first = rig.clock.now_us
    rig.clock.advance_us(2000)  # half way through
    rig.write(REG_ACQ_COMMAND, 0x03)  # trigger again while busy
    t_second = rig.clock.now_us
    assert rig.read(0x8F, 2) == first.to_bytes(2, "big")  # still the older result
    rig.wait_idle()
    assert rig.clock.now_us - t_second >= 3500  # busy for the whole second measurement
    assert rig.clock.now_us - t_first > 5500
    assert rig.emu.measurements == 2  # the first and the restarted one, not the abandoned one
    assert abs(int.from_bytes(rig.read(0x8F, 2), "big") - 2000) < 40


def test_v3hp_version_registers_read_zero_and_unit_id_reads_the_serial() -> None:
    rig = make_rig("v3hp", unit_id=0x5A17)
    assert [rig.read(r)[0] for r in (REG_HW_VERSION, REG_SW_VERSION)] == [0, 0]
    assert rig.read(REG_UNIT_ID_HIGH, 2) == b"\x5a\x17"  # v3HP always increments


def test_bus_time_per_transaction_follows_the_bus_frequency() -> None:
    slow, fast = make_rig(frequency=100_000), make_rig(frequency=400_000)
    slow.status()
    fast.status()
    # pointer write (START + 2 x 9 + STOP = 20 bits) then read (20 bits)
    assert slow.clock.now_us == 400
    assert fast.clock.now_us == 100
    slow.bus.transact(Op.READ_MEM, ADDR, REG_STATUS, b"", 1)  # START + 18 + Sr + 18 + STOP
    assert slow.clock.now_us == 400 + 390


# ---------------------------------------------------------------------------------------------
# reset, registers, auto-increment, undefined registers, write rules


def test_reset_nacks_for_22_ms_then_restores_defaults() -> None:
    rig = make_rig()
    rig.write(REG_SIG_COUNT_VAL, 0x1D)
    rig.write(REG_ACQ_COMMAND, 0x00)
    reset_at = rig.clock.now_us
    expect_oserror(errno.ENODEV, rig.read, REG_STATUS)
    rig.clock.advance_to_us(reset_at + BOOT_US - 500)
    expect_oserror(errno.ENODEV, rig.read, REG_STATUS)
    rig.clock.advance_to_us(reset_at + BOOT_US)
    assert rig.read(REG_SIG_COUNT_VAL)[0] == 0x80
    assert rig.emu.resets == 1


def test_auto_increment_read_at_0x8f_returns_high_then_low_byte() -> None:
    rig = make_rig(distance_m=10.0)
    cm = rig.measure()
    high, low = rig.read(0x0F)[0], rig.read(0x10)[0]
    assert rig.read(0x8F, 2) == bytes([high, low])
    assert cm == high << 8 | low and cm > 255


def test_v3_multi_byte_read_without_bit7_repeats_the_register() -> None:
    rig = make_rig(distance_m=10.0)
    rig.measure()
    high = rig.read(REG_FULL_DELAY_HIGH)[0]
    assert rig.read(REG_FULL_DELAY_HIGH, 2) == bytes([high, high])


def test_v3hp_multi_byte_read_always_increments() -> None:
    rig = make_rig("v3hp", distance_m=10.0)
    rig.measure()
    assert rig.read(0x0F, 2) == rig.read(0x8F, 2)
    assert abs(int.from_bytes(rig.read(0x0F, 2), "big") - 1000) < 15


def test_undefined_register_reads_zero_on_post_2018_v3() -> None:
    rig = make_rig("v3")
    assert rig.read(REG_SIG_COUNT_VAL)[0] == 0x80
    assert rig.read(UNDEFINED_REG)[0] == 0x00


def test_undefined_register_returns_the_last_read_value_on_pre_2018_v3() -> None:
    rig = make_rig("v3-pre2018")
    assert rig.read(REG_SIG_COUNT_VAL)[0] == 0x80
    assert rig.read(UNDEFINED_REG)[0] == 0x80
    assert rig.read(REG_MEASURE_DELAY)[0] == 0x14
    assert rig.read(UNDEFINED_REG)[0] == 0x14


def test_register_write_split_over_two_transactions_writes_nothing() -> None:
    rig = make_rig()
    rig.i2c.writeto(ADDR, bytes([REG_SIG_COUNT_VAL]))
    rig.i2c.writeto(ADDR, bytes([0x1D]))
    assert rig.read(REG_SIG_COUNT_VAL)[0] == 0x80


def test_pointer_write_then_a_separate_read_reads_the_register() -> None:
    rig = make_rig()
    rig.i2c.writeto(ADDR, bytes([REG_MEASURE_DELAY]))  # STOP, as Garmin recommends
    buf = bytearray(1)
    rig.i2c.readfrom_into(ADDR, buf)
    assert buf[0] == 0x14


@pytest.mark.parametrize("variant", ["v3", "v3-pre2018"])
def test_v3_answers_a_repeated_start_read_with_zeros(variant: str) -> None:
    rig = make_rig(variant)
    buf = bytearray(b"\xaa\xaa")
    rig.bus.try_lock()
    rig.bus.writeto_then_readfrom(ADDR, bytes([REG_MEASURE_DELAY]), buf)
    assert buf == b"\x00\x00"
    assert rig.i2c.readfrom_mem(ADDR, REG_STATUS, 1) == b"\x00"  # machine.I2C's form too
    assert rig.bus.transact(Op.READ_MEM, ADDR, REG_SIG_COUNT_VAL, b"", 1) == (Status.OK, b"\x00")


def test_v3_repeated_start_read_still_sets_the_register_pointer() -> None:
    rig = make_rig()
    rig.bus.try_lock()
    rig.bus.writeto_then_readfrom(ADDR, bytes([REG_MEASURE_DELAY]), bytearray(1))
    assert rig.i2c.readfrom(ADDR, 1) == b"\x14"  # a plain read now gets the register


def test_v3hp_answers_a_repeated_start_read() -> None:
    rig = make_rig("v3hp")
    buf = bytearray(1)
    rig.bus.try_lock()
    rig.bus.writeto_then_readfrom(ADDR, bytes([REG_SIG_COUNT_VAL]), buf)
    assert buf == b"\xff"


def test_v3_address_change_needs_the_unit_id_and_can_drop_the_default() -> None:
    rig = make_rig(unit_id=0x1234)
    rig.write(REG_I2C_ID_HIGH, 0x12)
    rig.write(REG_I2C_ID_LOW, 0x34)
    rig.write(REG_I2C_SEC_ADDR, 0x42)
    assert rig.i2c.scan() == [0x42, ADDR]
    rig.write(REG_I2C_CONFIG, 0x08)
    assert rig.i2c.scan() == [0x42]
    rig.i2c.writeto(0x42, bytes([REG_SIG_COUNT_VAL]))
    assert rig.i2c.readfrom(0x42, 1) == b"\x80"


# ---------------------------------------------------------------------------------------------
# range, no return, signal strength, noise


def test_no_return_beyond_40_m_reads_1_cm_with_invalid_bit_on_v3() -> None:
    rig = make_rig("v3", distance_m=45.0)
    assert rig.measure() == 1
    assert rig.status() & V3_NO_PEAK


def test_no_return_on_v3hp_reads_1_cm_without_any_flag() -> None:
    rig = make_rig("v3hp", distance_m=45.0)
    assert rig.measure() == 1
    assert rig.status() == 0


def test_dark_surface_gives_no_return_within_range() -> None:
    rig = make_rig(distance_m=20.0, reflectance=0.05)
    assert rig.measure() == 1
    assert rig.status() & V3_NO_PEAK


def test_signal_strength_falls_with_range() -> None:
    strengths = []
    for d in (2.0, 10.0, 30.0):
        rig = make_rig(distance_m=d)
        rig.measure()
        strengths.append(rig.read(REG_SIGNAL_STRENGTH)[0])
    assert strengths[0] > strengths[1] > strengths[2] > 0


def test_signal_strength_rises_with_reflectance() -> None:
    strengths = []
    for refl in (0.2, 0.5, 0.9):
        rig = make_rig(distance_m=10.0, reflectance=refl)
        rig.measure()
        strengths.append(rig.read(REG_SIGNAL_STRENGTH)[0])
    assert strengths[0] < strengths[1] < strengths[2]


@pytest.mark.parametrize(
    ("variant", "bit"), [("v3", V3_SIGNAL_OVERFLOW), ("v3hp", V3HP_SIGNAL_OVERFLOW)]
)
def test_signal_overflow_bit_on_a_very_close_target(variant: str, bit: int) -> None:
    close, normal = make_rig(variant, distance_m=0.2), make_rig(variant, distance_m=5.0)
    close.measure()
    normal.measure()
    assert close.status() & bit and not normal.status() & bit


def readings(rig: Rig, n: int) -> np.ndarray:
    return np.array([rig.measure(0x03) for _ in range(n)], dtype=float)


def test_v3_noise_is_small_below_5_m_and_larger_beyond() -> None:
    near, far = readings(make_rig(distance_m=3.0), 200), readings(make_rig(distance_m=20.0), 200)
    assert abs(near.mean() - 300) < 1.0 and 0.8 < near.std() < 1.8
    assert abs(far.mean() - 2000) < 2.0 and 3.5 < far.std() < 6.5


def test_v3hp_noise_is_larger_below_2_m_than_beyond() -> None:
    near = readings(make_rig("v3hp", distance_m=1.5), 200)
    far = readings(make_rig("v3hp", distance_m=10.0), 200)
    assert near.std() > 1.6 * far.std()


def test_readings_below_1_m_are_biased_long() -> None:
    close = readings(make_rig(distance_m=0.3), 100)
    assert close.mean() - 30 > 1.5


def test_target_callable_is_sampled_on_the_virtual_clock() -> None:
    rig = rig_with_target(lambda t: (5.0 + 10.0 * t, 0.7))
    rig.clock.advance_to_us(1_000_000)
    assert abs(rig.measure() - 1500) < 25


# ---------------------------------------------------------------------------------------------
# free-running, velocity, last delay


def test_free_running_repeats_every_measure_delay() -> None:
    rig = make_rig()
    rig.write(REG_OUTER_LOOP_COUNT, 0xFF)
    rig.write(REG_ACQ_CONFIG, 0x08 | 0x20)  # b5: use MEASURE_DELAY
    rig.write(REG_MEASURE_DELAY, 40)  # 20 ms
    rig.write(REG_ACQ_COMMAND, 0x03)
    start = rig.emu.measurements
    rig.clock.advance_us(1_000_000)
    rig.status()
    assert rig.emu.measurements - start == 50


def test_free_running_uses_the_default_10_ms_delay_without_acq_config_b5() -> None:
    rig = make_rig()
    rig.write(REG_OUTER_LOOP_COUNT, 0xFF)
    rig.write(REG_ACQ_COMMAND, 0x03)
    rig.clock.advance_us(1_000_000)
    rig.status()
    assert rig.emu.measurements == 100


def test_free_running_tracks_a_moving_target_without_new_commands() -> None:
    rig = rig_with_target(lambda t: 10.0 - 2.0 * t)
    rig.write(REG_OUTER_LOOP_COUNT, 0xFF)
    rig.write(REG_ACQ_COMMAND, 0x03)
    rig.clock.advance_to_us(2_000_000)
    assert abs(int.from_bytes(rig.read(0x8F, 2), "big") - 600) < 25


def test_outer_loop_count_takes_a_burst_of_that_many() -> None:
    rig = make_rig()
    rig.write(REG_OUTER_LOOP_COUNT, 5)
    rig.write(REG_ACQ_COMMAND, 0x03)
    rig.clock.advance_us(1_000_000)
    rig.status()
    assert rig.emu.measurements == 5


def test_velocity_register_is_signed_cm_between_the_last_two_measurements() -> None:
    rig = make_rig(distance_m=3.0)
    first = rig.measure(0x03)
    rig.emu.set_target(2.7)
    second = rig.measure(0x03)
    velocity = int.from_bytes(rig.read(REG_VELOCITY), "big", signed=True)
    assert velocity == second - first and -38 < velocity < -22


def test_last_delay_holds_the_previous_result() -> None:
    rig = make_rig(distance_m=3.0)
    first = rig.measure()
    rig.measure()
    assert int.from_bytes(rig.read(0x80 | REG_LAST_DELAY_HIGH, 2), "big") == first


# ---------------------------------------------------------------------------------------------
# bus interfaces


def test_transact_serves_every_op_with_its_status_code() -> None:
    rig = make_rig(distance_m=10.0)
    bus = rig.bus
    assert bus.transact(Op.WRITE_MEM, ADDR, REG_ACQ_COMMAND, b"\x04", 0) == (0, b"")
    rig.clock.advance_us(10_000)
    assert bus.transact(Op.WRITE, ADDR, 0, b"\x8f", 0) == (0, b"")
    status, data = bus.transact(Op.READ, ADDR, 0, b"", 2)
    assert status == Status.OK and abs(int.from_bytes(data, "big") - 1000) < 15
    assert bus.transact(Op.READ_MEM, ADDR, REG_MEASURE_DELAY, b"", 1) == (0, b"\x00")  # v3
    assert bus.transact(Op.READ, ADDR, 0, b"", 1) == (0, b"\x14")
    assert bus.transact(Op.READ_MEM, 0x10, 0x01, b"", 1) == (Status.NACK_ADDR, b"")


def test_transact_rejects_an_unknown_op() -> None:
    with pytest.raises(ValueError, match="op 7"):
        make_rig().bus.transact(7, ADDR, 0, b"", 0)


def test_stats_count_transactions_per_op_and_since_a_mark() -> None:
    rig = make_rig()
    rig.measure()
    stats = rig.bus.stats
    assert stats.by_op[Op.WRITE_MEM] == 1
    assert stats.by_op[Op.WRITE] == stats.by_op[Op.READ] == (stats.total - 1) // 2
    mark = stats.mark()
    rig.status()
    with pytest.raises(OSError):
        rig.i2c.readfrom_mem(0x33, 0, 1)
    assert stats.transactions_since(mark) == 3
    assert stats.address_nacks == 1 and stats.data_nacks == 0 and stats.timeouts == 0


def test_busio_calls_without_the_lock_raise() -> None:
    bus = make_rig().bus
    buf = bytearray(1)
    for call in (
        lambda: bus.writeto(ADDR, b"\x02"),
        lambda: bus.readfrom_into(ADDR, buf),
        lambda: bus.writeto_then_readfrom(ADDR, b"\x02", buf),
        lambda: bus.probe(ADDR),
        bus.scan,
    ):
        with pytest.raises(RuntimeError, match="requires lock"):
            call()


def test_busio_lock_is_exclusive_until_unlocked() -> None:
    bus = make_rig().bus
    assert bus.try_lock() and not bus.try_lock()
    bus.unlock()
    assert bus.try_lock()


def test_busio_deinit_and_context_exit_make_the_bus_unusable() -> None:
    with make_rig().bus as bus:
        assert bus.try_lock()
        assert bus.scan() == [ADDR]
    with pytest.raises(ValueError, match="deinitialized"):
        bus.try_lock()


def test_busio_address_nack_raises_enodev() -> None:
    bus = make_rig().bus
    bus.try_lock()
    expect_oserror(errno.ENODEV, bus.writeto, 0x10, b"\x00")


def test_busio_honours_start_and_end_slices() -> None:
    rig = make_rig("v3hp")  # a v3 would answer the repeated START with zeros
    bus = rig.bus
    bus.try_lock()
    bus.writeto(ADDR, b"\xff\x02\x1d\xff", start=1, end=3)
    assert rig.emu.register(REG_SIG_COUNT_VAL) == 0x1D
    out = bytearray(b"\xaa\xbb\xcc")
    bus.writeto_then_readfrom(ADDR, b"\x00\x02", out, out_start=1, in_start=1, in_end=2)
    assert out == b"\xaa\x1d\xcc"


def test_machine_writeto_returns_acks_and_raises_errno_19_on_address_nack() -> None:
    rig = make_rig()
    assert rig.i2c.writeto(ADDR, b"\x02\x80") == 2
    expect_oserror(19, rig.i2c.writeto, 0x10, b"\x02\x80")


def test_same_seed_gives_the_same_readings() -> None:
    a, b = make_rig(seed=7, distance_m=20.0), make_rig(seed=7, distance_m=20.0)
    assert list(readings(a, 30)) == list(readings(b, 30))


def test_different_seeds_give_different_readings() -> None:
    a, b = make_rig(seed=7, distance_m=20.0), make_rig(seed=8, distance_m=20.0)
    assert list(readings(a, 30)) != list(readings(b, 30))


# ---------------------------------------------------------------------------------------------
# faults


def test_nack_burst_data_nacks_every_transaction_inside_the_window_only() -> None:
    rig = make_rig()
    rig.emu.inject("nack_burst", 0.01, 0.02)
    rig.status()
    rig.clock.advance_to_us(10_000)
    expect_oserror(errno.EIO, rig.read, REG_STATUS)
    assert rig.i2c.writeto(ADDR, b"\x02\x1d") == 0  # machine.I2C: short ACK count
    rig.clock.advance_to_us(20_000)
    assert rig.status() == V3_HEALTH_OK
    assert rig.emu.register(REG_SIG_COUNT_VAL) == 0x80
    assert rig.bus.stats.data_nacks == 3  # the read's pointer write and read, the write


def test_nack_burst_of_address_kind_raises_enodev() -> None:
    rig = make_rig()
    rig.emu.inject("nack_burst", 0.0, kind="address")
    expect_oserror(errno.ENODEV, rig.read, REG_STATUS)


def test_nack_burst_with_a_probability_fails_only_some_transactions() -> None:
    rig = make_rig()
    rig.emu.inject("nack_burst", 0.0, probability=0.3)
    results = [rig.bus.transact(Op.READ_MEM, ADDR, REG_STATUS, b"", 1)[0] for _ in range(400)]
    failed = sum(1 for s in results if s == Status.NACK_DATA)
    assert 80 < failed < 160


def test_bus_lockup_times_out_the_whole_bus_and_holds_until_a_reset() -> None:
    clock = VirtualClock()
    lidar = LidarLiteEmulator(clock, np.random.default_rng(0))
    other = LidarLiteEmulator(clock, np.random.default_rng(1), address=0x42)
    bus = EmulatedI2C(clock, [lidar, other], timeout_us=1000)
    lidar.inject("bus_lockup", 0.0, 0.05)
    assert bus.transact(Op.READ_MEM, 0x42, REG_STATUS, b"", 1)[0] == Status.TIMEOUT
    clock.advance_to_us(100_000)  # the window is over, the lock-up is not
    assert bus.transact(Op.READ_MEM, ADDR, REG_STATUS, b"", 1)[0] == Status.TIMEOUT
    assert bus.transact(Op.WRITE_MEM, ADDR, REG_ACQ_COMMAND, b"\x00", 0)[0] == Status.OK
    assert bus.transact(Op.READ_MEM, 0x42, REG_STATUS, b"", 1)[0] == Status.OK
    assert bus.transact(Op.READ_MEM, ADDR, REG_STATUS, b"", 1)[0] == Status.NACK_ADDR  # reboot
    clock.advance_us(BOOT_US)
    assert bus.transact(Op.WRITE, ADDR, 0, bytes([REG_STATUS]), 0)[0] == Status.OK
    assert bus.transact(Op.READ, ADDR, 0, b"", 1) == (Status.OK, b"\x20")


def test_bus_lockup_ignores_a_reset_sent_during_the_window() -> None:
    rig = make_rig()
    rig.emu.inject("bus_lockup", 0.0, 1.0)
    expect_oserror(errno.ETIMEDOUT, rig.write, REG_ACQ_COMMAND, 0x00)
    assert rig.emu.resets == 0


def test_bus_lockup_without_until_reset_frees_the_bus_at_the_window_end() -> None:
    rig = make_rig()
    rig.emu.inject("bus_lockup", 0.0, 0.2, until_reset=False)
    expect_oserror(errno.ETIMEDOUT, rig.read, REG_STATUS)
    rig.clock.advance_to_us(200_000)
    assert rig.status() == V3_HEALTH_OK


def test_bus_lockup_timeout_costs_the_master_timeout() -> None:
    rig = make_rig()
    rig.emu.inject("bus_lockup", 0.0)
    rig.bus.transact(Op.READ_MEM, ADDR, REG_STATUS, b"", 1)
    assert rig.clock.now_us == rig.bus.timeout_us == 50_000
    assert rig.bus.stats.timeouts == 1


def test_stuck_zero_keeps_reading_zero_after_the_window_until_a_reset() -> None:
    rig = make_rig(distance_m=5.0)
    rig.emu.inject("stuck_zero", 0.0, 0.05)
    assert rig.measure() == 0
    rig.clock.advance_to_us(100_000)
    assert [rig.measure() for _ in range(3)] == [0, 0, 0]
    rig.write(REG_ACQ_COMMAND, 0x00)
    rig.clock.advance_us(BOOT_US)
    assert abs(rig.measure() - 500) < 10


def test_stuck_zero_reset_inside_the_window_does_not_clear_it() -> None:
    rig = make_rig(distance_m=5.0)
    rig.emu.inject("stuck_zero", 0.0, 1.0)
    rig.write(REG_ACQ_COMMAND, 0x00)
    rig.clock.advance_us(BOOT_US)
    assert rig.measure() == 0
    rig.clock.advance_to_us(1_100_000)
    assert rig.measure() == 0


def test_busy_stuck_never_clears_until_a_reset_after_the_window() -> None:
    rig = make_rig(distance_m=5.0)
    first = rig.measure()
    rig.emu.inject("busy_stuck", rig.clock.now_s, rig.clock.now_s + 0.01)
    rig.write(REG_ACQ_COMMAND, 0x04)
    rig.clock.advance_us(500_000)
    assert rig.status() & V3_BUSY
    assert int.from_bytes(rig.read(0x8F, 2), "big") == first
    rig.write(REG_ACQ_COMMAND, 0x00)
    rig.clock.advance_us(BOOT_US)
    assert not rig.status() & V3_BUSY


def test_read_ff_returns_ff_bytes_and_loses_writes() -> None:
    rig = make_rig()
    rig.emu.inject("read_ff", 0.0, 1.0)
    rig.write(REG_SIG_COUNT_VAL, 0x1D)
    assert rig.read(0x8F, 2) == b"\xff\xff" and rig.status() == 0xFF
    rig.clock.advance_to_us(1_000_000)
    assert rig.read(REG_SIG_COUNT_VAL)[0] == 0x80


def test_stale_repeats_the_same_value_while_the_target_moves() -> None:
    rig = make_rig(distance_m=5.0)
    first = rig.measure()
    rig.emu.inject("stale", rig.clock.now_s)
    rig.emu.set_target(8.0)
    assert [rig.measure() for _ in range(3)] == [first] * 3


def test_secondary_return_sets_b4_and_sometimes_reports_the_wrong_distance() -> None:
    rig = make_rig(distance_m=10.0)
    rig.emu.inject("secondary_return", 0.0, probability=0.5, distance_m=4.0)
    values, flags = [], []
    for _ in range(40):
        values.append(rig.measure())
        flags.append(rig.status() & V3_SECONDARY_RETURN)
    wrong = sum(1 for v in values if abs(v - 400) < 25)
    right = sum(1 for v in values if abs(v - 1000) < 25)
    assert all(flags) and wrong + right == 40 and 8 < wrong < 32


@pytest.mark.parametrize(("variant", "status"), [("v3", V3_HEALTH_OK | V3_NO_PEAK), ("v3hp", 0)])
def test_signal_loss_reports_no_return(variant: str, status: int) -> None:
    rig = make_rig(variant, distance_m=5.0)
    rig.emu.inject("signal_loss", 0.0, 1.0)
    assert rig.measure() == 1 and rig.status() == status
    rig.clock.advance_to_us(1_000_000)
    assert abs(rig.measure() - 500) < 15


def test_power_cycle_nacks_for_the_boot_then_comes_back_with_defaults() -> None:
    rig = make_rig()
    rig.write(REG_SIG_COUNT_VAL, 0x1D)
    rig.emu.inject("power_cycle", 0.1)
    rig.clock.advance_to_us(100_000)
    expect_oserror(errno.ENODEV, rig.read, REG_SIG_COUNT_VAL)
    rig.clock.advance_to_us(100_000 + BOOT_US)
    assert rig.read(REG_SIG_COUNT_VAL)[0] == 0x80


def test_power_cycle_with_an_end_stays_off_until_power_returns() -> None:
    rig = make_rig()
    rig.emu.inject("power_cycle", 0.1, 0.5)
    rig.clock.advance_to_us(400_000)
    expect_oserror(errno.ENODEV, rig.read, REG_STATUS)
    rig.clock.advance_to_us(500_000 + BOOT_US)
    assert rig.status() == V3_HEALTH_OK


def test_post_reset_drift_adds_a_bias_that_decays_over_measurements() -> None:
    rig = make_rig(distance_m=3.0)
    rig.emu.inject("post_reset_drift", 0.0, cm=8.0, measurements=100.0)
    early = readings(rig, 20).mean() - 300
    readings(rig, 400)
    late = readings(rig, 20).mean() - 300
    assert 5.0 < early < 10.0 and abs(late) < 1.5
    rig.write(REG_ACQ_COMMAND, 0x00)
    rig.clock.advance_us(BOOT_US)
    assert readings(rig, 20).mean() - 300 > 5.0


def test_latency_makes_results_appear_late() -> None:
    rig = make_rig()
    normal = rig.busy_time_us(0x03)
    rig.emu.inject("latency", rig.clock.now_s, ms=30.0)
    assert rig.busy_time_us(0x03) == pytest.approx(normal + 30_000, abs=100)


def test_latency_result_is_sampled_at_the_nominal_time() -> None:
    rig = rig_with_target(lambda t: 5.0 + 100.0 * t)
    rig.emu.inject("latency", 0.0, ms=50.0)
    cm = rig.measure(0x03)
    assert rig.clock.now_us > 50_000
    assert abs(cm - (500 + 100 * 100 * 0.004)) < 25  # sampled ~4 ms in, not 50 ms


def test_fault_list_names_every_fault_with_its_parameters() -> None:
    assert set(FAULT_NAMES) == {
        "nack_burst",
        "bus_lockup",
        "stuck_zero",
        "busy_stuck",
        "read_ff",
        "stale",
        "secondary_return",
        "signal_loss",
        "power_cycle",
        "post_reset_drift",
        "latency",
        "busy_nack",
    }
    assert dict(FAULT_PARAMS["latency"]) == {"ms": 10.0}


def test_inject_rejects_an_unknown_fault_naming_it() -> None:
    with pytest.raises(ValueError, match="'brownout'.*known faults"):
        make_rig().emu.inject("brownout", 1.0)


def test_inject_rejects_an_unknown_parameter_naming_it() -> None:
    with pytest.raises(ValueError, match="'latency'.*unknown parameter.*delay.*allowed: ms"):
        make_rig().emu.inject("latency", 1.0, delay=3.0)


@pytest.mark.parametrize(
    ("args", "params", "message"),
    [
        (("nack_burst", 0.0), {"probability": 1.5}, "probability"),
        (("nack_burst", 0.0), {"kind": "clock"}, "kind"),
        (("bus_lockup", 0.0), {"until_reset": 1}, "until_reset"),
        (("latency", 0.0), {"ms": -1.0}, "ms"),
        (("stale", 2.0, 1.0), {}, "end_s"),
        (("stale", -1.0), {}, "start_s"),
        (("stale", math.nan), {}, "start_s"),
    ],
)
def test_fault_values_are_checked(args: tuple, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(*args, **params)
