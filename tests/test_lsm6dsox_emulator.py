"""The LSM6DSOX register-level emulator (softland.devices.lsm6dsox) against the datasheet:
register defaults, WHO_AM_I, ODR and full scale in CTRL1_XL, SW_RESET / BDU / IF_INC in
CTRL3_C, XLDA, little-endian two's complement outputs, and every injected fault."""

from __future__ import annotations

import errno
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C, VirtualClock
from softland.devices.lsm6dsox import (
    BOOT_US,
    FAULT_NAMES,
    FULL_SCALE,
    G0,
    ODR_HZ,
    REG_CTRL1_XL,
    REG_CTRL2_G,
    REG_CTRL3_C,
    REG_OUTX_H_A,
    REG_OUTX_L_A,
    REG_STATUS,
    REG_WHO_AM_I,
    Lsm6dsoxEmulator,
    parse_fault,
    to_raw,
)

ADDR = 0x6A
ODR_208 = 0x50  # CTRL1_XL ODR_XL = 5: 208 Hz
FS_BITS = {2: 0x0, 4: 0x2, 8: 0x3, 16: 0x1}
SENS_MG = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}  # datasheet mg/LSB


@dataclass
class Rig:
    clock: VirtualClock
    emu: Lsm6dsoxEmulator
    bus: EmulatedI2C
    i2c: MachineI2C

    def read(self, reg: int, n: int = 1) -> bytes:
        return self.i2c.readfrom_mem(ADDR, reg, n)

    def write(self, reg: int, *values: int) -> None:
        self.i2c.writeto_mem(ADDR, reg, bytes(values))

    def outputs(self) -> tuple[int, int, int]:
        b = self.read(REG_OUTX_L_A, 6)
        x, y, z = (int.from_bytes(b[i : i + 2], "little", signed=True) for i in (0, 2, 4))
        return x, y, z

    def wait_us(self, us: int) -> None:
        self.clock.advance_us(us)


def rig(
    force: Callable[[float], float] | None = None,
    *,
    noise: float = 0.0,
    seed: int = 3,
    up_axis: int = 2,
    up_sign: int = 1,
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Rig:
    clock = VirtualClock(0)
    emu = Lsm6dsoxEmulator(
        clock,
        np.random.default_rng(seed),
        force=force,
        noise_ug_rthz=noise,
        up_axis=up_axis,
        up_sign=up_sign,
        bias_mps2=bias,
    )
    bus = EmulatedI2C(clock, [emu], frequency=400_000)
    return Rig(clock, emu, bus, MachineI2C(bus))


def running(fs_g: int = 16, **kwargs: object) -> Rig:
    r = rig(**kwargs)  # type: ignore[arg-type]
    r.write(REG_CTRL3_C, 0x44)  # BDU | IF_INC
    r.write(REG_CTRL1_XL, ODR_208 | FS_BITS[fs_g] << 2)
    r.wait_us(10_000)
    return r


# --- identity and defaults ------------------------------------------------------------------


def test_who_am_i_reads_0x6c() -> None:
    assert rig().read(REG_WHO_AM_I)[0] == 0x6C


def test_power_up_defaults_accelerometer_off_and_auto_increment_on() -> None:
    r = rig()
    assert r.read(REG_CTRL1_XL)[0] == 0x00
    assert r.read(REG_CTRL3_C)[0] == 0x04
    assert r.read(REG_STATUS)[0] == 0x00


def test_answers_on_0x6a_and_not_on_0x6b_by_default() -> None:
    r = rig()
    assert r.i2c.scan() == [ADDR]


def test_sits_beside_a_lidar_lite_on_one_bus() -> None:
    clock = VirtualClock(0)
    imu = Lsm6dsoxEmulator(clock, np.random.default_rng(1))
    lidar = LidarLiteEmulator(clock, np.random.default_rng(2))
    i2c = MachineI2C(EmulatedI2C(clock, [lidar, imu]))
    assert i2c.scan() == [0x62, ADDR]
    assert i2c.readfrom_mem(ADDR, REG_WHO_AM_I, 1) == b"\x6c"


def test_powered_down_accelerometer_takes_no_samples() -> None:
    r = rig()
    r.wait_us(1_000_000)
    assert r.read(REG_STATUS)[0] & 0x01 == 0
    assert r.emu.samples == 0


# --- sampling -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ODR_HZ))
def test_samples_appear_at_the_output_data_rate(code: int) -> None:
    r = rig()
    r.write(REG_CTRL1_XL, code << 4)
    r.wait_us(2_000_000)
    r.emu.sync(r.clock.now_us)
    assert abs(r.emu.samples - 2 * ODR_HZ[code]) <= 1


def test_the_first_sample_comes_one_period_after_ctrl1_xl_is_written() -> None:
    r = rig()
    r.write(REG_CTRL1_XL, ODR_208)
    assert r.read(REG_STATUS)[0] & 0x01 == 0
    r.wait_us(round(1e6 / 208))
    assert r.read(REG_STATUS)[0] & 0x01 == 1


def test_xlda_clears_when_outx_h_a_is_read() -> None:
    r = running()
    assert r.read(REG_STATUS)[0] & 0x01
    r.read(REG_OUTX_L_A, 6)
    assert r.read(REG_STATUS)[0] & 0x01 == 0


def test_xlda_stays_set_when_only_outx_l_a_is_read() -> None:
    r = running()
    r.read(REG_OUTX_L_A)
    assert r.read(REG_STATUS)[0] & 0x01


def test_xlda_sets_again_with_the_next_sample() -> None:
    r = running()
    r.read(REG_OUTX_H_A)
    r.wait_us(5_000)  # 208 Hz: a sample every 4.8 ms
    assert r.read(REG_STATUS)[0] & 0x01


# --- scaling --------------------------------------------------------------------------------


@pytest.mark.parametrize("fs_g", [2, 4, 8, 16])
def test_one_g_reads_one_over_the_datasheet_sensitivity(fs_g: int) -> None:
    r = running(fs_g)
    assert r.outputs() == (0, 0, round(1000.0 / SENS_MG[fs_g]))


@pytest.mark.parametrize("fs_g", [2, 4, 8, 16])
def test_full_scale_bits_decode_to_range_and_sensitivity(fs_g: int) -> None:
    assert FULL_SCALE[FS_BITS[fs_g]] == (fs_g, SENS_MG[fs_g])


@pytest.mark.parametrize("fs_g", [2, 4, 8, 16])
def test_beyond_full_scale_clips_at_0x7fff_and_0x8000(fs_g: int) -> None:
    up = running(fs_g, force=lambda t: 1.01 * fs_g * G0)
    down = running(fs_g, force=lambda t: -1.01 * fs_g * G0)
    assert up.outputs()[2] == 32767
    assert down.outputs()[2] == -32768


def test_outputs_are_little_endian_twos_complement() -> None:
    r = running(2, force=lambda t: -0.5 * G0)
    raw = to_raw(-0.5 * G0, FS_BITS[2])
    assert raw < 0
    assert r.read(REG_OUTX_L_A + 4, 2) == (raw & 0xFFFF).to_bytes(2, "little")


@pytest.mark.parametrize("up_axis", [0, 1, 2])
@pytest.mark.parametrize("up_sign", [1, -1])
def test_the_vertical_reads_on_the_mounted_axis_with_its_sign(up_axis: int, up_sign: int) -> None:
    r = running(16, up_axis=up_axis, up_sign=up_sign)
    expected = [0, 0, 0]
    expected[up_axis] = up_sign * round(1000.0 / 0.488)
    assert r.outputs() == tuple(expected)


def test_noise_follows_the_density_over_half_the_odr() -> None:
    r = running(2, noise=70.0)
    zs = []
    for _ in range(2000):
        r.wait_us(5_000)
        zs.append(r.outputs()[2])
    sigma_lsb = 70e-6 * math.sqrt(104.0) / 0.061e-3
    assert np.std(zs) == pytest.approx(sigma_lsb, rel=0.1)


def test_the_same_seed_gives_the_same_samples() -> None:
    def run() -> list[tuple[int, int, int]]:
        r = running(2, noise=70.0, seed=11)
        out = []
        for _ in range(20):
            r.wait_us(20_000)
            out.append(r.outputs())
        return out

    assert run() == run()


def test_a_bias_adds_to_its_axis() -> None:
    r = running(2, bias=(0.5, 0.0, 0.0))
    assert r.outputs()[0] == to_raw(0.5, FS_BITS[2])


# --- CTRL3_C --------------------------------------------------------------------------------


def test_auto_increment_reads_consecutive_registers() -> None:
    r = running(2, force=lambda t: 0.3 * G0, bias=(0.1, -0.2, 0.0))
    block = r.read(REG_OUTX_L_A, 6)
    singles = bytes(r.read(REG_OUTX_L_A + i)[0] for i in range(6))
    assert block == singles


def test_without_if_inc_every_byte_comes_from_the_same_register() -> None:
    r = running(2)
    r.write(REG_CTRL3_C, 0x40)  # BDU only
    assert r.read(REG_WHO_AM_I, 4) == b"\x6c" * 4


def test_multi_byte_write_fills_consecutive_registers() -> None:
    r = rig()
    r.write(REG_CTRL1_XL, ODR_208, 0x12)  # CTRL1_XL, CTRL2_G
    assert r.read(REG_CTRL2_G)[0] == 0x12


def test_sw_reset_restores_the_defaults_and_clears_itself() -> None:
    r = running(16)
    r.write(REG_CTRL3_C, 0x45)
    assert r.read(REG_CTRL1_XL)[0] == 0x00
    assert r.read(REG_CTRL3_C)[0] == 0x04
    assert r.emu.resets == 1


def test_with_bdu_a_half_read_pair_waits_for_its_other_byte() -> None:
    r = running(2, force=lambda t: 0.1 * G0 + 0.5 * G0 * t)  # a ramp: every sample differs
    r.read(REG_OUTX_L_A + 4)  # OUTZ_L_A
    before = r.emu.register(REG_OUTX_L_A + 5)
    r.wait_us(50_000)
    assert r.read(REG_OUTX_L_A + 5)[0] == before


def test_without_bdu_a_pair_moves_between_its_two_bytes() -> None:
    r = running(2, force=lambda t: 0.1 * G0 + 5.0 * G0 * t)
    r.write(REG_CTRL3_C, 0x04)  # IF_INC only
    r.read(REG_OUTX_L_A + 4)
    before = r.emu.register(REG_OUTX_L_A + 5)
    r.wait_us(50_000)
    assert r.read(REG_OUTX_L_A + 5)[0] != before


# --- faults ---------------------------------------------------------------------------------


def test_nack_address_fault_is_enodev() -> None:
    r = running()
    r.emu.inject("nack", 0.0)
    with pytest.raises(OSError) as info:
        r.read(REG_WHO_AM_I)
    assert info.value.errno == errno.ENODEV


def test_nack_data_fault_is_eio() -> None:
    r = running()
    r.emu.inject("nack", 0.0, kind="data")
    with pytest.raises(OSError) as info:
        r.read(REG_WHO_AM_I)
    assert info.value.errno == errno.EIO


def test_stuck_outputs_keep_their_value_while_xlda_still_sets() -> None:
    r = running(2, force=lambda t: 0.1 * G0 + 0.5 * G0 * t)
    r.emu.inject("stuck", 0.02)
    r.wait_us(20_000)
    first = r.outputs()
    r.wait_us(20_000)
    assert r.read(REG_STATUS)[0] & 0x01
    assert r.outputs() == first


def test_stuck_on_a_value_reads_that_force_on_the_vertical() -> None:
    r = running(2, force=lambda t: 0.1 * G0 + 0.5 * G0 * t)
    r.emu.inject("stuck", 0.02, mps2=-3.0)
    r.wait_us(20_000)
    assert r.outputs()[2] == to_raw(-3.0, FS_BITS[2])


def test_clip_holds_the_vertical_within_its_limit() -> None:
    r = running(2)
    r.emu.inject("clip", 0.02, mps2=2.0)
    r.wait_us(20_000)
    assert r.outputs()[2] == to_raw(2.0, FS_BITS[2])


def test_a_partial_dropout_loses_some_samples_only() -> None:
    r = running(2)
    r.emu.inject("dropout", 0.0, probability=0.5)
    fresh = 0
    for _ in range(200):
        r.wait_us(10_000)  # 104 Hz: about one sample per wait
        fresh += r.read(REG_STATUS)[0] & 0x01
        r.read(REG_OUTX_L_A, 6)  # reading OUTX_H_A clears XLDA
    assert 60 < fresh < 140


def test_bias_jump_shifts_the_vertical() -> None:
    r = running(2)
    r.emu.inject("bias_jump", 0.02, mps2=1.5)
    r.wait_us(20_000)
    assert r.outputs()[2] == to_raw(G0 + 1.5, FS_BITS[2])


def test_saturation_pins_the_vertical_at_full_scale() -> None:
    r = running(16)
    r.emu.inject("saturation", 0.02)
    r.wait_us(20_000)
    assert r.outputs()[2] == 32767


def test_dropout_stops_new_samples() -> None:
    r = running(2, force=lambda t: 0.5 * G0 * t)
    r.emu.inject("dropout", 0.02, 0.2)
    r.wait_us(20_000)
    r.read(REG_OUTX_L_A, 6)
    held = r.outputs()
    r.wait_us(50_000)
    assert r.read(REG_STATUS)[0] & 0x01 == 0
    assert r.outputs() == held


def test_noise_burst_widens_the_noise() -> None:
    r = running(2, noise=0.0)
    r.emu.inject("noise_burst", 0.0, sigma_mps2=0.5)
    zs = []
    for _ in range(500):
        r.wait_us(5_000)
        zs.append(r.outputs()[2])
    assert np.std(zs) * 0.061e-3 * G0 == pytest.approx(0.5, rel=0.15)


def test_power_cycle_nacks_until_booted_then_reads_defaults() -> None:
    r = running(16)
    r.emu.inject("power_cycle", 0.02, 0.05)
    r.wait_us(10_000)
    with pytest.raises(OSError):
        r.read(REG_WHO_AM_I)
    r.clock.advance_to_us(50_000 + BOOT_US - 100)
    with pytest.raises(OSError):
        r.read(REG_WHO_AM_I)
    r.clock.advance_to_us(50_000 + BOOT_US)
    assert r.read(REG_CTRL1_XL)[0] == 0x00
    assert r.read(REG_CTRL3_C)[0] == 0x04


def test_every_fault_validates_its_parameters() -> None:
    for name in FAULT_NAMES:
        assert parse_fault(name, 0.0).name == name
    with pytest.raises(ValueError, match="unknown fault"):
        parse_fault("gremlins", 0.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        parse_fault("stuck", 0.0, g=3)
    with pytest.raises(ValueError, match="must be after"):
        parse_fault("dropout", 1.0, 0.5)


def _turn_on_bias(seed: int) -> tuple[float, float, float]:
    emu = Lsm6dsoxEmulator(VirtualClock(0), np.random.default_rng(seed), turn_on_bias_mg=20.0)
    return emu.turn_on_bias_mps2


def test_turn_on_bias_is_drawn_from_the_seed() -> None:
    assert _turn_on_bias(4) == _turn_on_bias(4) != _turn_on_bias(5)


def test_turn_on_bias_has_the_stated_spread() -> None:
    values = np.array([_turn_on_bias(seed) for seed in range(400)]).ravel()
    assert np.std(values) == pytest.approx(20e-3 * G0, rel=0.1)


def test_turn_on_bias_reaches_the_outputs() -> None:
    r = rig()
    r.emu.turn_on_bias_mps2 = (0.0, 0.3, 0.0)
    r.write(REG_CTRL1_XL, ODR_208)
    r.wait_us(10_000)
    assert r.outputs()[1] == to_raw(0.3, FS_BITS[2])


def test_a_power_cycle_draws_a_new_turn_on_bias() -> None:
    clock = VirtualClock(0)
    emu = Lsm6dsoxEmulator(clock, np.random.default_rng(8), turn_on_bias_mg=20.0)
    before = emu.turn_on_bias_mps2
    emu.inject("power_cycle", 0.01)
    emu.sync(20_000)
    assert emu.turn_on_bias_mps2 != before


def test_turn_on_bias_leaves_the_noise_stream_alone() -> None:
    def samples(bias_mg: float) -> list[int]:
        clock = VirtualClock(0)
        emu = Lsm6dsoxEmulator(
            clock, np.random.default_rng(3), noise_ug_rthz=70.0, turn_on_bias_mg=bias_mg
        )
        i2c = MachineI2C(EmulatedI2C(clock, [emu]))
        i2c.writeto_mem(ADDR, REG_CTRL1_XL, bytes([ODR_208]))
        out = []
        for _ in range(10):
            clock.advance_us(20_000)
            raw = i2c.readfrom_mem(ADDR, REG_OUTX_L_A, 2)
            out.append(int.from_bytes(raw, "little", signed=True))
        return out

    diffs = [x - y for x, y in zip(samples(20.0), samples(0.0), strict=True)]
    assert max(diffs) - min(diffs) <= 1  # a constant offset, give or take the rounding
    assert diffs != [0] * len(diffs)
