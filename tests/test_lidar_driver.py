"""fsw.lidarlite against a scripted fake bus (tests/lidar_fake.py): start-up, every recovery
path, the health it reports and how many 50 Hz steps each takes. Every step of every test also
checks tx_last == transactions made <= max_tx, status in 0..4 and valid_count in 0..10."""

from __future__ import annotations

import re

import pytest
from lidar_fake import (
    DT,
    EIO,
    EMPTY,
    FF,
    LL,
    MEMERR,
    NACK,
    RF,
    SHORT,
    TICKS_MASK,
    TIMEOUT,
    FakeLidar,
    Rig,
)

from softland.analysis.intcheck import instrumented_firmware
from softland.boards.firmware import firmware_dir

STARTUP = 3  # probe (4 tx); configure + trigger (3 tx); read (2 tx) + trigger
AFTER_RESET = 4  # wait (25 ms > one tick), probe, configure + trigger, read


def block(status: int, cm: int, sig: int = 80, sig_count: int = 0xFF, acq: int = 0x08) -> bytes:
    """Registers 0x01..0x10 as the driver's 16-byte read returns them."""
    b = bytearray(16)
    b[0], b[1], b[3], b[13] = status, sig_count, acq, sig
    b[14], b[15] = cm >> 8, cm & 0xFF
    return bytes(b)


def started(variant: str = "v3", **kw: object) -> Rig:
    rig = Rig(FakeLidar(variant, **kw))
    assert rig.good(STARTUP) == STARTUP
    return rig


def next_read_returns(rig: Rig, data: bytes) -> None:
    # after start-up the next step writes the 0x81 pointer, then reads the block
    rig.bus.script.extend(["ack", data])


def triggers(rig: Rig) -> list[int]:
    return [w[1] for w in rig.bus.writes if len(w) == 2 and w[0] == 0x00 and w[1] != 0]


# --- start-up and normal operation --------------------------------------------------------


@pytest.mark.parametrize("variant, expected", [("v3", LL.VARIANT_V3), ("v3hp", LL.VARIANT_V3HP)])
def test_probe_tells_v3_from_v3hp_by_the_version_registers(variant: str, expected: int) -> None:
    rig = Rig(FakeLidar(variant))
    rig.step()
    assert rig.bus.writes[:2] == [b"\x41", b"\x4f"]
    assert rig.drv.variant == expected
    assert rig.drv.status == RF.RF_NO_DATA  # answers, no reading yet


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
def test_good_distance_in_mm_three_steps_after_power_up(variant: str) -> None:
    rig = started(variant, cm=1234)
    assert rig.drv.distance_mm == 12340
    assert rig.drv.valid_count == 1
    assert rig.drv.readings == 1


def test_configuration_is_written_before_the_first_trigger() -> None:
    rig = started()
    assert rig.bus.writes[2:5] == [b"\x02\xff", b"\x04\x08", b"\x00\x04"]
    assert rig.bus.regs[0x02] == 0xFF


def test_steady_state_costs_three_transactions_per_step() -> None:
    rig = started()
    rig.step(50)
    assert rig.per_step[STARTUP:] == [3] * 50
    assert rig.drv.tx_max == 4  # the probe step


def test_one_trigger_in_100_is_bias_corrected() -> None:
    rig = started()
    rig.step(250)
    cmds = triggers(rig)
    assert [i for i, c in enumerate(cmds) if c == 0x04] == [0, 100, 200]
    assert set(cmds) == {0x03, 0x04}


def test_valid_count_climbs_to_10_and_stays() -> None:
    rig = started()
    seen = [rig.drv.valid_count]
    for _ in range(15):
        rig.step()
        seen.append(rig.drv.valid_count)
    assert seen == list(range(1, 11)) + [10] * 6


def test_reading_time_is_the_trigger_time_across_the_tick_wrap() -> None:
    rig = started()
    for _ in range(10):  # T0 is 100 ms before the 2^30 wrap
        rig.step()
        assert rig.drv.status == RF.RF_GOOD
        assert rig.drv.reading_us == (rig.t - 2 * DT) & TICKS_MASK
    assert rig.t > TICKS_MASK  # the wrap was crossed


def test_distance_follows_a_moving_target() -> None:
    rig = started(cm=3000)
    for cm in range(3000, 2000, -37):
        rig.bus.cm = cm
        rig.step()
        assert rig.drv.status == RF.RF_GOOD
        assert rig.drv.distance_mm == cm * 10


def test_signal_strength_is_read_with_every_measurement() -> None:
    rig = started()
    seen = set()
    for _ in range(6):
        rig.step()
        seen.add(rig.drv.signal)
    assert seen == {90, 91, 92}  # the fake's jitter


@pytest.mark.parametrize("max_tx, first_good, every", [(1, 9, 3), (2, 5, 2), (3, 4, 1)])
def test_small_transaction_budgets_still_read(max_tx: int, first_good: int, every: int) -> None:
    rig = Rig(FakeLidar(cm=500), max_tx=max_tx)
    assert rig.good(first_good) == first_good
    before = rig.drv.readings
    rig.step(60)
    assert rig.drv.readings - before == 60 // every  # a reading every `every` steps
    assert rig.drv.tx_max == max_tx


def test_the_repeated_start_register_calls_are_not_used() -> None:
    rig = started()  # the fake's writeto_mem / readfrom_mem_into raise AssertionError
    rig.step(20)
    assert rig.drv.errors == 0


# --- range limits and no return -------------------------------------------------------------


@pytest.mark.parametrize(
    "variant, cm, status",
    [
        ("v3", None, RF.RF_OUT_OF_RANGE_HIGH),  # 1 cm + STATUS b3
        ("v3hp", None, RF.RF_OUT_OF_RANGE_HIGH),  # 1 cm, no status bit
        ("v3", 4001, RF.RF_OUT_OF_RANGE_HIGH),
        ("v3", 4000, RF.RF_GOOD),
        ("v3", 5, RF.RF_GOOD),
        ("v3hp", 4, RF.RF_OUT_OF_RANGE_LOW),
        ("v3", 2, RF.RF_OUT_OF_RANGE_LOW),
    ],
)
def test_range_limits_and_no_return_within_one_step(variant: str, cm: int, status: int) -> None:
    rig = started(variant)
    rig.bus.cm = cm
    rig.step()
    assert rig.drv.status == status
    assert rig.drv.valid_count == (2 if status == RF.RF_GOOD else 0)
    rig.bus.cm = 250
    rig.step()
    assert rig.drv.status == RF.RF_GOOD


def test_v3_no_peak_bit_alone_means_out_of_range_high() -> None:
    rig = started()
    next_read_returns(rig, block(0x20 | 0x08, 250))
    rig.step()
    assert rig.drv.status == RF.RF_OUT_OF_RANGE_HIGH


def test_v3_secondary_return_bit_keeps_the_primary_distance() -> None:
    rig = started()
    next_read_returns(rig, block(0x20 | 0x10, 321))
    rig.step()
    assert rig.drv.status == RF.RF_GOOD
    assert rig.drv.distance_mm == 3210


# --- garbage -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        block(0xFF, 250),  # STATUS 0xFF is not a status
        block(0x20, 0xFFFF),  # 0xFFFF cm
        block(0x20, 0x8123),  # beyond 327 m: garbage
        block(0x60, 250),  # v3 process error
        block(0x00, 250),  # v3 health bit clear
        bytes([0xFF]),  # the whole block 0xFF
    ],
    ids=["status-ff", "dist-ffff", "dist-high-bit", "process-error", "unhealthy", "all-ff"],
)
def test_garbage_reading_is_no_data_and_counted(data: bytes) -> None:
    rig = started()
    next_read_returns(rig, data)
    rig.step()
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.drv.errors == 1
    assert rig.drv.valid_count == 0
    assert rig.good(2) <= 2


def test_read_that_fills_nothing_is_not_taken_for_the_last_block() -> None:
    rig = started()
    rig.bus.script.extend(["ack", EMPTY])
    rig.step()
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.drv.errors == 1


def test_v3hp_status_without_health_bits_is_fine() -> None:
    rig = started("v3hp")
    next_read_returns(rig, block(0x00, 777))
    rig.step()
    assert rig.drv.status == RF.RF_GOOD
    assert rig.drv.distance_mm == 7770


@pytest.mark.parametrize("hw, sw", [(0x14, 0x00), (0x00, 0x0B), (0xFF, 0xFF)])
def test_probe_answer_that_is_neither_v3_nor_v3hp_is_retried(hw: int, sw: int) -> None:
    rig = Rig(FakeLidar("v3"))
    rig.bus.script.extend(["ack", bytes([hw]), "ack", bytes([sw])])
    rig.step()
    assert rig.drv.status == RF.RF_NOT_CONNECTED
    assert rig.drv.variant == LL.VARIANT_UNKNOWN
    assert rig.good(STARTUP) == STARTUP
    assert rig.drv.variant == LL.VARIANT_V3


def test_floating_bus_reading_ff_is_not_connected() -> None:
    rig = Rig(FakeLidar())
    rig.bus.ff_reads = True
    rig.step()
    assert rig.drv.status == RF.RF_NOT_CONNECTED
    rig.step(100)
    assert rig.drv.status == RF.RF_NOT_CONNECTED
    assert rig.drv.variant == LL.VARIANT_UNKNOWN
    rig.bus.ff_reads = False
    assert rig.good(AFTER_RESET + 2) <= AFTER_RESET + 2


def test_ff_reads_in_flight_are_no_data_then_not_connected() -> None:
    rig = started()
    rig.bus.ff_reads = True
    rig.step()
    assert rig.drv.status == RF.RF_NO_DATA
    # 10 errors, then a reset, then the probe reads 0xFF versions
    rig.steps_until(lambda: rig.drv.status == RF.RF_NOT_CONNECTED, 10 + 3)
    assert rig.drv.resets == 1
    rig.bus.ff_reads = False
    assert rig.good(AFTER_RESET + 2) <= AFTER_RESET + 2


# --- bus errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", [NACK, SHORT, EIO, TIMEOUT, MEMERR, FF])
@pytest.mark.parametrize("position", [0, 1, 2], ids=["pointer", "read", "trigger"])
def test_one_bus_error_is_no_data_and_good_two_steps_later(outcome: str, position: int) -> None:
    rig = started()
    rig.bus.script.extend(["ack"] * position + [outcome])
    rig.step()
    if outcome == FF and position != 1:  # a write answered "0xFF" is just acknowledged
        assert rig.drv.status == RF.RF_GOOD
        return
    assert rig.drv.errors == 1
    if position < 2:
        assert rig.drv.status == RF.RF_NO_DATA
        assert rig.drv.valid_count == 0
    assert rig.good(3) <= 3


def test_bus_object_raising_anything_never_escapes() -> None:
    class Broken:
        def writeto(self, addr: int, buf: bytes) -> int:
            raise RuntimeError("driver bug in the HAL")

        def readfrom_into(self, addr: int, buf: bytearray) -> None:
            raise ValueError

    drv = LL.LidarLite(Broken())
    for i in range(100):
        drv.step(i * DT)
    assert drv.status == RF.RF_NOT_CONNECTED
    assert drv.tx_max == 1


def test_nothing_on_the_bus_is_not_connected_from_the_first_step() -> None:
    rig = Rig(FakeLidar(present=False))
    rig.step()
    assert rig.drv.status == RF.RF_NOT_CONNECTED
    assert rig.drv.tx_last == 1
    rig.step(200)
    assert rig.drv.status == RF.RF_NOT_CONNECTED
    assert max(rig.per_step) == 1


def test_sensor_plugged_in_later_is_found() -> None:
    rig = Rig(FakeLidar(present=False))
    rig.step(37)
    rig.bus.present = True
    # at worst a reset attempt is just under way: reset, wait, probe, configure, read
    assert rig.good(AFTER_RESET + 1) <= AFTER_RESET + 1


def test_nack_storm_resets_after_10_errors_and_recovers() -> None:
    rig = started()
    rig.bus.lockup = True  # NACKs everything until the reset command
    rig.step(10)
    assert rig.drv.errors == 10
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.drv.state == LL.S_RESET
    rig.step()  # the reset command; the sensor NACKs it while it reboots
    assert rig.drv.resets == 1
    assert rig.drv.errors == 10  # that NACK is not a new failure
    rig.step()
    assert rig.drv.tx_last == 0  # no traffic while the sensor reboots
    assert rig.good(3) == 3
    assert rig.drv.errors == 10


def test_nine_errors_do_not_reset() -> None:
    rig = started()
    rig.bus.script.extend([NACK] * 9)
    rig.step(9)
    assert rig.good(2) <= 2
    assert rig.drv.resets == 0


# --- recovery paths ------------------------------------------------------------------------


def test_stuck_busy_bit_times_out_and_retriggers() -> None:
    rig = started()
    rig.bus.stuck_busy = True
    rig.step()  # 20 ms after the trigger: still within the 25 ms budget
    assert rig.drv.timeouts == 0
    assert rig.drv.tx_last == 2
    rig.step()  # 40 ms: timeout, re-trigger in the same step
    assert rig.drv.timeouts == 1
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.drv.tx_last == 3
    rig.bus.stuck_busy = False
    assert rig.good(1) == 1


def test_busy_bit_stuck_for_good_leads_to_a_reset() -> None:
    rig = started()
    rig.bus.stuck_busy = True  # cleared only by the reset
    rig.steps_until(lambda: rig.drv.resets == 1, 2 * LL.RESET_ERRORS)
    assert rig.drv.timeouts == LL.RESET_ERRORS
    assert rig.good(AFTER_RESET) == AFTER_RESET


def test_20_zero_readings_reset_the_sensor() -> None:
    rig = started()
    rig.bus.stuck_zero = True  # persists whatever the target does, until a reset
    for _ in range(LL.RESET_ZEROS - 1):
        rig.step()
        assert rig.drv.status == RF.RF_NO_DATA
    assert rig.drv.resets == 0
    rig.step()  # the 20th zero: reset in the same step
    assert rig.drv.resets == 1
    assert rig.good(AFTER_RESET) == AFTER_RESET


def test_fewer_than_20_zeros_do_not_reset() -> None:
    rig = started()
    rig.bus.cm = 0
    rig.step(LL.RESET_ZEROS - 1)
    rig.bus.cm = 250
    rig.step()
    assert rig.drv.status == RF.RF_GOOD
    assert rig.drv.resets == 0


def test_v3_power_cycle_loses_configuration_which_is_rewritten() -> None:
    rig = started()
    rig.bus.now = rig.t - DT // 2
    rig.bus.power_cycle()  # defaults back (SIG_COUNT_VAL 0x80), 22 ms of NACKs
    rig.steps_until(lambda: rig.drv.config_rewrites == 1, 3)
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.bus.regs[0x02] == 0xFF
    assert rig.good(2) == 2
    assert rig.drv.resets == 0


def test_v3hp_power_cycle_needs_no_rewrite() -> None:
    # the configuration written is the v3HP's own default
    rig = started("v3hp")
    rig.bus.now = rig.t - DT // 2
    rig.bus.power_cycle()
    rig.step()
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.good(2) == 2
    assert rig.drv.config_rewrites == 0


def test_frozen_registers_are_stale_then_reset() -> None:
    rig = started()
    rig.bus.frozen = True  # busy toggles, FULL_DELAY / signal / velocity never change
    rig.step(LL.STALE_N - 1)
    assert rig.drv.status == RF.RF_GOOD
    rig.step()
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.drv.resets == 1
    assert rig.good(AFTER_RESET) == AFTER_RESET


@pytest.mark.parametrize("variant", ["v3", "v3hp"])
def test_static_target_with_sensor_noise_is_never_stale(variant: str) -> None:
    rig = started(variant)
    rig.bus.sig = 60
    for i in range(1000):
        rig.bus.cm = 150 + (i * 7 % 3 == 0)  # +/- 1 cm now and then, like a hopper at rest
        rig.step()
        assert rig.drv.status == RF.RF_GOOD
    assert rig.drv.resets == 0


def test_no_return_for_a_long_time_is_not_stale() -> None:
    rig = started()
    rig.bus.cm = None  # pointing at the sky: 1 cm every time, signal 0
    rig.step(500)
    assert rig.drv.status == RF.RF_OUT_OF_RANGE_HIGH
    assert rig.drv.resets == 0


def test_slow_loop_reading_older_than_max_age_is_no_data() -> None:
    rig = started()
    rig.bus.now = rig.t = rig.t + LL.MAX_AGE_US  # a loop overrun of 100 ms
    rig.step()
    assert rig.drv.status == RF.RF_NO_DATA
    assert rig.good(1) == 1


# --- small ints ----------------------------------------------------------------------------


def test_no_integer_leaves_the_small_int_range() -> None:
    # the driver instrumented by softland.analysis.intcheck: every int it computes, through
    # start-up, errors, resets, power cycles and long runs across the 2^30 tick wrap
    with instrumented_firmware(firmware_dir()) as tracker:
        from fsw.lidarlite import LidarLite

        bus = FakeLidar("v3", cm=3999)
        rig = Rig(bus, drv=LidarLite(bus))
        rig.good(STARTUP)
        rig.bus.script.extend([NACK] * 12 + [EIO, TIMEOUT, MEMERR])
        rig.step(40)
        rig.bus.stuck_busy = True
        rig.step(30)
        rig.bus.power_cycle()
        rig.bus.cm = None
        rig.step(20)
        rig.bus.cm = 2
        rig.step(600)
        rig.bus.frozen = True
        rig.step(60)
    assert rig.drv.resets >= 2
    assert tracker.count > 5_000  # the driver's arithmetic was instrumented
    assert tracker.violations == [], tracker.violations[:5]


# --- documentation -------------------------------------------------------------------------


def _table(text: str) -> dict[str, int]:
    rows = re.findall(r"^[#|]? *`?([A-Z_]+)`? *\|? *(0x[0-9A-F]+|\d+) ", text, re.MULTILINE)
    return {name: int(value, 0) for name, value in rows}


def test_thresholds_match_the_tables_in_the_driver_and_its_doc() -> None:
    names = [
        "BUSY_TIMEOUT_US",
        "RESET_ERRORS",
        "RESET_ZEROS",
        "RESET_WAIT_US",
        "STALE_N",
        "MAX_AGE_US",
        "BIAS_EVERY",
        "MIN_CM",
        "MAX_CM",
        "SIG_COUNT",
        "ACQ_CONFIG",
    ]
    code = {name: getattr(LL, name) for name in names}
    source = (firmware_dir() / "fsw" / "lidarlite.py").read_text()
    doc = (firmware_dir().parent / "docs" / "lidar-driver.md").read_text()
    for text in (source, doc):
        table = _table(text)
        assert {name: table.get(name) for name in names} == code
