"""An emulated drop capture: the firmware's drop app (firmware/drop.py, under CPython) samples
the register-level LIDAR-Lite emulator watching a free fall, on the emulator's virtual clock,
and dumps its frames; the frames are decoded as a board's would be. Used by `softland drop
capture --emulate`, the tests and benchmarks/drop_seeds.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from softland.devices.freefall import G_STANDARD, FreeFall
from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C, VirtualClock
from softland.drop.capture import DropCapture
from softland.drop.firmware import drop_module
from softland.drop.wire import capture_from_bytes

# start 0.5 s before the 2^30 wrap of ticks_us, so that every capture crosses it
START_US = (1 << 30) - 500_000


@dataclass(frozen=True)
class DropRig:
    """An emulated rig: the fall, the sensor, the bus and the capture length."""

    fall_m: float = 2.0
    sensor_m: float | None = 3.2  # None: the sensor itself falls (the other rig)
    rest_m: float = 0.1
    release_s: float = 0.3  # after the first sample
    g: float = G_STANDARD
    variant: str = "v3"
    noise_sigma_cm: float | None = 2.5
    i2c_hz: int = 400_000
    samples: int = 400
    compute_us: int = 20  # the board's own time per ticks_us() read (its Python between them)
    sig_count: int = 0  # SIG_COUNT_VAL the app writes; 0: the sensor's default

    def fall(self) -> FreeFall:
        return FreeFall(
            h0_m=self.rest_m + self.fall_m,
            t0_s=START_US / 1e6 + self.release_s,
            rest_m=self.rest_m,
            g=self.g,
            sensor_m=self.sensor_m,
        )


class _ReleasePin:
    """The release switch: reads 1 (released) from the fall's t0 on."""

    def __init__(self, clock: VirtualClock, t0_s: float) -> None:
        self.clock = clock
        self.t0_us = round(t0_s * 1e6)

    def value(self) -> int:
        return 1 if self.clock.now_us >= self.t0_us else 0


class _BoardClock:
    """ticks_us on the virtual clock; each read costs ``cost_us`` of the board's own time
    (the app reads the clock at each sample's start and end and once per busy poll)."""

    def __init__(self, clock: VirtualClock, cost_us: int) -> None:
        self.clock = clock
        self.cost_us = cost_us

    def __call__(self) -> int:
        self.clock.advance_us(self.cost_us)
        return self.clock.now_us


def emulated_capture(rig: DropRig, seed: int) -> DropCapture:
    """One capture of ``rig`` with the emulator's noise stream ``seed``."""
    fall = rig.fall()
    clock = VirtualClock(START_US)
    sensor = LidarLiteEmulator(
        clock,
        np.random.default_rng(seed),
        variant=rig.variant,
        target=fall,
        noise_sigma_cm=rig.noise_sigma_cm,
    )
    bus = EmulatedI2C(clock, [sensor], frequency=rig.i2c_hz, timeout_us=2000)
    drop = drop_module()
    sampler = drop.DropSampler(
        MachineI2C(bus),
        _BoardClock(clock, max(rig.compute_us, 0)),
        rig.samples,
        release_pin=_ReleasePin(clock, fall.t0_s),
        released=1,
        i2c_hz=rig.i2c_hz,
    )
    sampler.probe()
    if rig.sig_count:
        sampler.configure(rig.sig_count)
    sampler.run()
    out = bytearray()
    sampler.dump(out.extend)
    cap = capture_from_bytes(bytes(out), f"emulator {rig.variant} seed {seed}")
    cap.extra.update(
        {
            "truth_g": f"{fall.g:.5f}",
            "truth_fall_m": f"{fall.fall_m:.4f}",
            "truth_impact_speed_m_s": f"{fall.impact_speed_m_s:.4f}",
            "truth_noise_cm": "datasheet"
            if rig.noise_sigma_cm is None
            else f"{rig.noise_sigma_cm}",
            "rig": "sensor falls"
            if rig.sensor_m is None
            else f"target falls, sensor at {rig.sensor_m} m",
        }
    )
    return cap
