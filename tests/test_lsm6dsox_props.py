"""fsw.lsm6dsox's integer conversion and step against exact references: every raw value
-32768..32768 (32768 is -32768 on an up_sign -1 axis) at every full scale matches
raw x sensitivity x g0 as an exact fraction within 0.5 mm/s^2, with every intermediate inside
the 31-bit small-int range (softland.analysis.intcheck); and hypothesis-drawn output bytes and bus
outcomes never make step() raise, leave the range, or exceed its transaction budget."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softland.analysis.intcheck import instrumented_firmware
from softland.boards.firmware import firmware_dir, fsw_module

IMU = fsw_module("lsm6dsox")
FULL_SCALES = [2, 4, 8, 16]
SENS_MG = {2: Fraction(61, 1000), 4: Fraction(122, 1000), 8: Fraction(244, 1000)}
SENS_MG[16] = Fraction(488, 1000)
G0_MM = Fraction(980665, 100)  # mm/s^2 per g
SMALL = 2**30


def reference(raw: int, fs_g: int) -> Fraction:
    """The specific force in mm/s^2: counts x datasheet sensitivity x g0, exactly."""
    return raw * SENS_MG[fs_g] / 1000 * G0_MM


@pytest.mark.parametrize("fs_g", FULL_SCALES)
def test_every_raw_value_is_within_half_a_mm_s2_of_the_exact_fraction(fs_g: int) -> None:
    h, m, low = IMU.scale_parts(fs_g)
    worst = max(
        abs(IMU.convert(raw, h, m, low) - reference(raw, fs_g)) for raw in range(-32768, 32769)
    )
    assert worst <= Fraction(1, 2)


@pytest.mark.parametrize("fs_g", FULL_SCALES)
def test_every_intermediate_of_every_raw_value_stays_in_the_small_int_range(fs_g: int) -> None:
    h, m, low = IMU.scale_parts(fs_g)  # at construction; its own largest is 59820565 << 3
    with instrumented_firmware(firmware_dir()) as tracker:
        from fsw.lsm6dsox import convert

        for raw in range(-32768, 32769):
            convert(raw, h, m, low)
    assert tracker.count >= 65537 * 5
    assert tracker.violations == [], tracker.violations[:5]
    assert tracker.max_abs < 2**25  # far inside: 32768 x 999 + 32768


@settings(max_examples=400, deadline=None)
@given(fs_g=st.sampled_from(FULL_SCALES), raw=st.integers(-32768, 32768))
def test_conversion_matches_the_exact_reference(fs_g: int, raw: int) -> None:
    a = IMU.convert(raw, *IMU.scale_parts(fs_g))
    assert abs(a - reference(raw, fs_g)) <= Fraction(1, 2)
    assert -SMALL <= a < SMALL


@settings(max_examples=200, deadline=None)
@given(fs_g=st.sampled_from(FULL_SCALES), raw=st.integers(-32768, 32767))
def test_conversion_is_odd_up_to_rounding(fs_g: int, raw: int) -> None:
    # turning the part over (up_sign -1) reads the same force within 1 mm/s^2
    parts = IMU.scale_parts(fs_g)
    assert abs(IMU.convert(raw, *parts) + IMU.convert(-raw, *parts)) <= 1


@pytest.mark.parametrize("fs_g", FULL_SCALES)
def test_scale_parts_rebuild_the_sensitivity(fs_g: int) -> None:
    h, m, low = IMU.scale_parts(fs_g)
    assert 0 <= m < 1000 and 0 <= low < 1000
    assert Fraction(h * 10**6 + m * 10**3 + low, 10**8) == SENS_MG[fs_g] / 1000 * G0_MM


# --- step() on arbitrary bus outcomes ---------------------------------------------------------


class ScriptedBus:
    """machine.I2C-like: each transaction takes the next outcome: 0 answer from the register
    file, 1 OSError, 2 MemoryError, 3 fill nothing; output bytes come from ``samples``."""

    def __init__(self, outcomes: list[int], samples: list[bytes]) -> None:
        self.outcomes = outcomes
        self.samples = samples
        self.n = 0
        self.regs = bytearray(128)
        self.regs[0x0F] = 0x6C
        self.regs[0x12] = 0x04

    def _outcome(self) -> int:
        k = self.outcomes[self.n % len(self.outcomes)]
        self.n += 1
        if k == 1:
            raise OSError(19)
        if k == 2:
            raise MemoryError
        return k

    def writeto_mem(self, addr: int, reg: int, buf: Any) -> None:
        if self._outcome() == 0:
            self.regs[reg] = buf[0] & 0xFE if reg == 0x12 else buf[0]

    def readfrom_mem_into(self, addr: int, reg: int, buf: Any) -> None:
        if self._outcome() != 0:
            return
        if reg == 0x28:
            buf[:] = self.samples[self.n % len(self.samples)]
        elif reg == 0x1E:
            buf[0] = 1 if self.regs[0x10] else 0
        else:
            buf[:] = self.regs[reg : reg + len(buf)]


@settings(max_examples=60, deadline=None)
@given(
    outcomes=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    samples=st.lists(st.binary(min_size=6, max_size=6), min_size=1, max_size=20),
    fs_g=st.sampled_from(FULL_SCALES),
    up=st.tuples(st.integers(0, 2), st.sampled_from([1, -1])),
    dts=st.lists(st.integers(0, 200_000), min_size=1, max_size=10),
)
def test_step_never_raises_and_stays_in_range_on_any_bus(
    outcomes: list[int], samples: list[bytes], fs_g: int, up: tuple[int, int], dts: list[int]
) -> None:
    with instrumented_firmware(firmware_dir()) as tracker:
        from fsw.lsm6dsox import Lsm6dsox

        drv = Lsm6dsox(ScriptedBus(outcomes, samples), fs_g=fs_g, up_axis=up[0], up_sign=up[1])
        t = (1 << 30) - 1_000_000
        for i in range(300):
            drv.step(t)
            t = (t + dts[i % len(dts)]) & 0x3FFFFFFF
            assert drv.tx_last <= drv.max_tx
            assert 0 <= drv.status <= 3
            assert drv.acc_ok == (drv.status == IMU.ACC_GOOD)
            assert abs(drv.acc_mm_s2) <= 156_816
    assert tracker.violations == [], tracker.violations[:5]
