"""fsw.lsm6dsox against the register-level emulator (softland.devices.lsm6dsox) through its
machine.I2C adapter, at 50 Hz: the probe and configuration transactions, the vertical specific
force within half a count plus 1 mm/s^2 at every full scale, and every emulator fault reported
within a stated number of steps, then ACC_GOOD again within a stated number after it ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from softland.analysis.intcheck import instrumented_firmware
from softland.boards.firmware import firmware_dir, fsw_module
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C, VirtualClock
from softland.devices.lsm6dsox import FAULT_NAMES, G0, Lsm6dsoxEmulator

IMU = fsw_module("lsm6dsox")
LL = fsw_module("lidarlite")
RF = fsw_module("rangefinder")
GOOD, NO_DATA, NOT_CONN, SAT = (
    IMU.ACC_GOOD,
    IMU.ACC_NO_DATA,
    IMU.ACC_NOT_CONNECTED,
    IMU.ACC_SATURATED,
)
DT = 20_000  # us between steps: 50 Hz
TICKS_MASK = 0x3FFFFFFF
T0 = (1 << 30) - 300_000  # the driver's ticks wrap 0.3 s into every run
STARTUP = 3  # probe + SW_RESET; configure + read-back; first sample
SENS_MM_S2 = {2: 0.061 * G0, 4: 0.122 * G0, 8: 0.244 * G0, 16: 0.488 * G0}  # per count
FS_CODE = {2: 0, 4: 2, 8: 3, 16: 1}


@dataclass
class Recorder:
    """machine.I2C calls the driver makes, as (call, register, bytes or length)."""

    i2c: MachineI2C
    log: list[tuple[str, int, Any]] = field(default_factory=list)

    def readfrom_mem_into(self, addr: int, reg: int, buf: Any) -> None:
        self.log.append(("read", reg, len(buf)))
        self.i2c.readfrom_mem_into(addr, reg, buf)

    def writeto_mem(self, addr: int, reg: int, buf: Any) -> None:
        self.log.append(("write", reg, bytes(buf)))
        self.i2c.writeto_mem(addr, reg, buf)


@dataclass
class Rig:
    force: Callable[[float], float] | None = None
    fs_g: int = 16
    up_axis: int = 2
    up_sign: int = 1
    noise: float = 70.0
    max_tx: int = 3
    seed: int = 5
    clock: VirtualClock = field(init=False)
    emu: Lsm6dsoxEmulator = field(init=False)
    bus: EmulatedI2C = field(init=False)
    rec: Recorder = field(init=False)
    drv: Any = field(init=False)
    last_now: int = field(init=False, default=0)  # the time the last step was given

    def __post_init__(self) -> None:
        self.clock = VirtualClock(T0)
        self.emu = Lsm6dsoxEmulator(
            self.clock,
            np.random.default_rng(self.seed),
            force=self.force,
            up_axis=self.up_axis,
            up_sign=self.up_sign,
            noise_ug_rthz=self.noise,
        )
        self.bus = EmulatedI2C(self.clock, [self.emu], frequency=400_000)
        self.rec = Recorder(MachineI2C(self.bus))
        self.drv = IMU.Lsm6dsox(
            self.rec,
            fs_g=self.fs_g,
            up_axis=self.up_axis,
            up_sign=self.up_sign,
            max_tx=self.max_tx,
        )

    @property
    def t_s(self) -> float:
        return self.clock.now_s

    def step(self) -> int:
        mark = self.bus.stats.mark()
        self.last_now = self.clock.now_us & TICKS_MASK
        self.drv.step(self.last_now)
        assert self.bus.stats.transactions_since(mark) == self.drv.tx_last <= self.drv.max_tx
        assert self.drv.acc_ok == (self.drv.status == GOOD)
        self.clock.advance_us(DT)
        return self.drv.status

    def steps(self, n: int) -> None:
        for _ in range(n):
            self.step()

    def steps_until(self, cond: Callable[[], bool], limit: int) -> int:
        for n in range(1, limit + 1):
            self.step()
            if cond():
                return n
        raise AssertionError(
            f"not within {limit} steps: state {self.drv.state} status {self.drv.status} "
            f"errors {self.drv.errors} reprobes {self.drv.reprobes} resets {self.drv.resets}"
        )

    def status_within(self, status: int, limit: int) -> int:
        return self.steps_until(lambda: self.drv.status == status, limit)

    def started(self) -> Rig:
        assert self.status_within(GOOD, STARTUP) == STARTUP
        return self

    def at(self, t_s: float) -> None:
        """Step until the clock reaches t_s (the steps' own checks still run)."""
        while self.t_s < t_s:
            self.step()


# --- probe and configuration ----------------------------------------------------------------


def test_first_step_probes_who_am_i_then_software_resets() -> None:
    rig = Rig()
    rig.step()
    assert rig.rec.log == [("read", 0x0F, 1), ("write", 0x12, b"\x01")]


def test_second_step_configures_bdu_auto_increment_odr_and_full_scale_then_reads_back() -> None:
    rig = Rig(fs_g=16)
    rig.step()
    rig.rec.log.clear()
    rig.step()
    # CTRL3_C = BDU | IF_INC; CTRL1_XL = 208 Hz (>= 4 x 50 Hz) | FS_XL 01 (+/-16 g)
    assert rig.rec.log == [("write", 0x12, b"\x44"), ("write", 0x10, b"\x54"), ("read", 0x0F, 4)]


def test_steady_state_reads_status_then_six_output_bytes() -> None:
    rig = Rig().started()
    rig.rec.log.clear()
    rig.step()
    assert rig.rec.log == [("read", 0x1E, 1), ("read", 0x28, 6)]


def test_configuration_is_read_back_every_check_every_steps() -> None:
    rig = Rig().started()
    rig.rec.log.clear()
    rig.steps(IMU.CHECK_EVERY * 4)
    assert sum(1 for call in rig.rec.log if call == ("read", 0x0F, 4)) == 4


@pytest.mark.parametrize("fs_g", [2, 4, 8, 16])
def test_each_full_scale_is_written_with_its_fs_xl_bits(fs_g: int) -> None:
    rig = Rig(fs_g=fs_g).started()
    assert rig.emu.full_scale_g == fs_g
    assert rig.drv.ctrl1 & 0x0C == FS_CODE[fs_g] << 2


@pytest.mark.parametrize("loop_hz", [10, 25, 50, 100, 200, 400])
def test_the_output_data_rate_is_at_least_four_times_the_loop_rate(loop_hz: int) -> None:
    drv = IMU.Lsm6dsox(Recorder(MachineI2C(EmulatedI2C(VirtualClock()))), loop_hz=loop_hz)
    odr_hz = IMU.ODR_DHZ[drv.ctrl1 >> 4] / 10
    assert odr_hz >= 4 * loop_hz
    assert IMU.ODR_DHZ[(drv.ctrl1 >> 4) - 1] / 10 < 4 * loop_hz  # and the slowest such


@pytest.mark.parametrize("max_tx", [1, 2])
def test_a_smaller_transaction_budget_still_reaches_good(max_tx: int) -> None:
    rig = Rig(max_tx=max_tx)
    rig.status_within(GOOD, 8)
    rig.steps(100)
    assert rig.drv.tx_max <= max_tx
    # a sample every 2nd step at worst, less the steps of the read-backs
    assert rig.drv.samples >= 100 // 2 - 100 // IMU.CHECK_EVERY


def test_bad_parameters_are_refused_at_construction() -> None:
    i2c = Recorder(MachineI2C(EmulatedI2C(VirtualClock())))
    with pytest.raises(ValueError):
        IMU.Lsm6dsox(i2c, fs_g=3)
    with pytest.raises(ValueError):
        IMU.Lsm6dsox(i2c, up_axis=3)


# --- conversion -----------------------------------------------------------------------------

FORCES = [0.0, G0, -G0, 1.234, 12.5, -7.77]


@pytest.mark.parametrize("fs_g", [2, 4, 8, 16])
@pytest.mark.parametrize("mount", [(2, 1), (0, -1), (1, 1)])
def test_static_force_read_within_half_a_count_plus_1_mm_s2(
    fs_g: int, mount: tuple[int, int]
) -> None:
    for f in FORCES:
        if abs(f) >= fs_g * G0:
            continue
        rig = Rig(force=lambda t, f=f: f, fs_g=fs_g, up_axis=mount[0], up_sign=mount[1], noise=0)
        rig.started()
        assert abs(rig.drv.acc_mm_s2 - f * 1000) <= SENS_MM_S2[fs_g] / 2 + 1, f


@pytest.mark.parametrize("fs_g", [2, 16])
def test_a_thrust_ramp_is_followed_within_half_a_count_plus_the_ramp_in_one_odr_period(
    fs_g: int,
) -> None:
    # the reading is the last sample, up to one period (4.8 ms at 208 Hz) before the step
    def force(t: float) -> float:
        return G0 + 4.0 * (t - T0 / 1e6)

    rig = Rig(force=force, fs_g=fs_g, noise=0).started()
    for _ in range(100):
        rig.step()
        true_now = force(rig.t_s - DT / 1e6) * 1000
        bound = SENS_MM_S2[fs_g] / 2 + 1 + 4.0 * 1000 / 208
        if true_now < fs_g * G0 * 1000:
            assert abs(rig.drv.acc_mm_s2 - true_now) <= bound


def test_noisy_readings_average_to_the_force() -> None:
    rig = Rig(force=lambda t: 3.0, fs_g=16).started()
    values = []
    for _ in range(300):
        rig.step()
        values.append(rig.drv.acc_mm_s2)
    assert np.mean(values) == pytest.approx(3000, abs=SENS_MM_S2[16] / 2 + 2)
    assert rig.drv.status == GOOD  # noise never looks like a stuck part


def test_reading_us_is_the_step_that_read_the_sample() -> None:
    rig = Rig().started()
    assert rig.drv.reading_us == rig.last_now


def test_imu_and_lidar_share_one_bus_at_their_own_addresses() -> None:
    clock = VirtualClock(T0)
    imu = Lsm6dsoxEmulator(clock, np.random.default_rng(1), force=lambda t: 2 * G0)
    lidar = LidarLiteEmulator(clock, np.random.default_rng(2))
    lidar.set_target(5.0)
    i2c = MachineI2C(EmulatedI2C(clock, [lidar, imu], frequency=400_000))
    acc = IMU.Lsm6dsox(i2c)
    rng = LL.LidarLite(i2c)
    for _ in range(10):
        now = clock.now_us & TICKS_MASK
        acc.step(now)
        rng.step(now)
        clock.advance_us(DT)
    assert acc.status == GOOD and abs(acc.acc_mm_s2 - 2 * G0 * 1000) < 20
    assert rng.status == RF.RF_GOOD and abs(rng.distance_mm - 5000) < 100


# --- faults: detected within, recovered within ------------------------------------------------

FAULT_START = 0.19  # s after the rig's start: half a step before a step


def _fault_rig(name: str, duration: float | None, **params: Any) -> tuple[Rig, float, float]:
    rig = Rig(force=lambda t: G0 + 0.5 * np.sin(t)).started()
    start = rig.t_s + FAULT_START
    end = None if duration is None else start + duration
    rig.emu.inject(name, start, end, **params)
    rig.at(start)
    return rig, start, end if end is not None else 0.0


def test_absent_part_is_not_connected_within_6_steps_and_good_within_4_after_it_answers() -> None:
    rig, _, end = _fault_rig("nack", 1.0)
    assert rig.status_within(NO_DATA, 1) == 1
    assert rig.status_within(NOT_CONN, IMU.RESET_ERRORS + 1) <= IMU.RESET_ERRORS + 1
    rig.at(end)
    assert rig.status_within(GOOD, 4) <= 4
    assert rig.drv.reprobes >= 1


def test_data_nacks_are_no_data_at_once_and_good_the_step_after() -> None:
    rig, _, _ = _fault_rig("nack", 0.05, kind="data")
    assert rig.step() == NO_DATA
    assert rig.drv.errors >= 1
    assert rig.status_within(GOOD, 3) <= 3


def test_occasional_nacks_cost_single_steps() -> None:
    rig, _, end = _fault_rig("nack", 2.0, probability=0.1, kind="data")
    statuses = []
    while rig.t_s < end:
        statuses.append(rig.step())
    assert statuses.count(GOOD) > 0.7 * len(statuses)
    assert NOT_CONN not in statuses


def test_stuck_outputs_are_no_data_within_stuck_n_plus_1_steps_and_good_within_4_after() -> None:
    rig, _, end = _fault_rig("stuck", 1.5)
    assert rig.status_within(NO_DATA, IMU.STUCK_N + 1) <= IMU.STUCK_N + 1
    assert rig.drv.stuck_events == 1
    rig.at(end)
    assert rig.status_within(GOOD, 4) <= 4
    assert rig.drv.resets >= 2  # the probe's, then the stuck part's (each STUCK_N samples)


def test_bias_jump_is_not_flagged_and_reaches_the_reading_within_one_step() -> None:
    # the driver cannot tell a bias from a force: the flight's estimator has to
    rig, _, _ = _fault_rig("bias_jump", 1.0, mps2=3.0)
    rig.step()
    assert rig.drv.status == GOOD
    assert abs(rig.drv.acc_mm_s2 - (G0 + 0.5 * np.sin(rig.t_s) + 3.0) * 1000) < 30


def test_saturation_is_flagged_within_one_step_and_good_the_step_after_it_ends() -> None:
    rig, _, end = _fault_rig("saturation", 0.1)
    assert rig.step() == SAT
    assert not rig.drv.acc_ok and rig.drv.saturated
    assert rig.drv.acc_mm_s2 == IMU.convert(32767, *IMU.scale_parts(16))
    rig.at(end)
    assert rig.status_within(GOOD, 1) == 1


def test_downward_saturation_reads_minus_full_scale() -> None:
    rig, _, _ = _fault_rig("saturation", 0.1, g=-40.0)
    assert rig.step() == SAT
    assert rig.drv.acc_mm_s2 == IMU.convert(-32768, *IMU.scale_parts(16))


def test_dropout_is_stale_within_4_steps_and_good_within_2_after() -> None:
    rig, _, end = _fault_rig("dropout", 0.15)
    n = rig.status_within(NO_DATA, IMU.STALE_US // DT + 2)
    assert n <= IMU.STALE_US // DT + 2
    assert rig.drv.stale_events == 1
    rig.at(end)
    assert rig.status_within(GOOD, 2) <= 2


def test_a_long_dropout_resets_the_part_and_recovers_within_4_steps_after() -> None:
    rig, _, end = _fault_rig("dropout", 1.0)
    rig.at(end)
    assert rig.drv.resets >= 2
    assert rig.status_within(GOOD, 4) <= 4


def test_noise_burst_is_passed_through_unflagged() -> None:
    rig, _, end = _fault_rig("noise_burst", 1.0, sigma_mps2=2.0)
    values = []
    while rig.t_s < end:
        assert rig.step() == GOOD
        values.append(rig.drv.acc_mm_s2)
    assert np.std(values) > 1500


def test_brown_out_is_stale_within_4_steps_and_good_within_2_after_the_config_rewrite() -> None:
    # back after 12 ms, between two steps: no NACK is seen, only samples that stop coming
    rig, _, _ = _fault_rig("power_cycle", 0.002)
    assert rig.status_within(NO_DATA, IMU.STALE_US // DT + 2) <= IMU.STALE_US // DT + 2
    assert rig.status_within(GOOD, 2) <= 2
    assert rig.drv.config_rewrites == 1
    assert rig.emu.register(0x10) == rig.drv.ctrl1


def test_a_long_power_cycle_re_probes_and_is_good_within_4_steps_of_boot() -> None:
    rig, _, end = _fault_rig("power_cycle", 0.5)
    assert rig.status_within(NOT_CONN, IMU.RESET_ERRORS + 1) <= IMU.RESET_ERRORS + 1
    rig.at(end + 0.01)  # boot
    assert rig.status_within(GOOD, 4) <= 4
    assert rig.drv.reprobes >= 1


def test_a_part_that_loses_its_configuration_silently_is_rewritten_at_the_next_check() -> None:
    rig = Rig().started()
    rig.emu.write(bytes([0x10, 0x00]), rig.clock.now_us)  # CTRL1_XL back to power-down
    n = rig.steps_until(lambda: rig.drv.config_rewrites == 1, IMU.STALE_US // DT + 2)
    assert n <= IMU.STALE_US // DT + 2
    assert rig.status_within(GOOD, 3) <= 3


def test_another_part_at_the_address_is_not_connected() -> None:
    rig = Rig().started()
    rig.emu._regs[0x0F] = 0x6B  # a WHO_AM_I that is not the LSM6DSOX's
    rig.steps(IMU.CHECK_EVERY + 1)
    assert rig.drv.status == NOT_CONN


# --- small ints -----------------------------------------------------------------------------


def test_no_integer_leaves_the_small_int_range_through_every_fault_and_the_tick_wrap() -> None:
    # the driver instrumented by softland.analysis.intcheck against the emulator: start-up
    # across the 2^30 tick wrap, then every fault in turn, at +/-16 g with the force beyond
    # full scale
    with instrumented_firmware(firmware_dir()) as tracker:
        from fsw.lsm6dsox import Lsm6dsox

        rig = Rig(force=lambda t: 3 * G0 * np.sin(3 * t) * 7)
        rig.drv = Lsm6dsox(rig.rec, fs_g=16)
        t = rig.t_s + 0.5
        for name in FAULT_NAMES:
            rig.emu.inject(name, t, t + 0.7)
            t += 1.0
        rig.at(t + 0.5)
    assert rig.drv.saturations > 0 and rig.drv.reprobes > 0 and rig.drv.stuck_events > 0
    assert tracker.count > 5_000
    assert tracker.violations == [], tracker.violations[:5]


# --- a scenario's IMU faults (softland.devices.imu_faults) through the emulator -------------


def _scenario_fault_rig(name: str, duration: float, **params: Any) -> tuple[Rig, float]:
    from softland.devices.imu_faults import inject_lsm6dsox, parse_fault

    rig = Rig(force=lambda t: G0 + 0.5 * np.sin(t)).started()
    inject_lsm6dsox(rig.emu, [parse_fault(name, FAULT_START, FAULT_START + duration, **params)],
                    offset_s=rig.t_s)  # fmt: skip
    start = rig.t_s + FAULT_START
    rig.at(start)
    return rig, start + duration


def test_scenario_stuck_reads_its_value_unflagged_then_the_force_again() -> None:
    rig, end = _scenario_fault_rig("stuck", 0.5, mps2=1.0)
    rig.step()
    assert rig.drv.status == GOOD and abs(rig.drv.acc_mm_s2 - 1000) < 30
    rig.at(end)
    rig.step()
    assert abs(rig.drv.acc_mm_s2 - (G0 + 0.5 * np.sin(rig.t_s)) * 1000) < 40


def test_scenario_saturation_reads_the_clip_limit_unflagged_then_the_force_again() -> None:
    # below the part's full scale: the driver cannot see the clipping
    rig, end = _scenario_fault_rig("saturation", 0.5, limit_mps2=2.0)
    rig.step()
    assert rig.drv.status == GOOD and abs(rig.drv.acc_mm_s2 - 2000) < 30
    rig.at(end)
    rig.step()
    assert rig.drv.acc_mm_s2 > 9000


def test_scenario_dropout_is_no_data_within_the_stale_time_and_good_after() -> None:
    rig, end = _scenario_fault_rig("dropout", 0.15)
    assert rig.status_within(NO_DATA, IMU.STALE_US // DT + 2) <= IMU.STALE_US // DT + 2
    assert not rig.drv.acc_ok
    rig.at(end)
    assert rig.status_within(GOOD, 2) <= 2


def test_scenario_frozen_sample_is_flagged_stuck_by_the_driver_and_good_after() -> None:
    rig, end = _scenario_fault_rig("frozen", 1.5)
    assert rig.status_within(NO_DATA, IMU.STUCK_N + 1) <= IMU.STUCK_N + 1
    assert rig.drv.stuck_events == 1
    rig.at(end)
    assert rig.status_within(GOOD, 4) <= 4
