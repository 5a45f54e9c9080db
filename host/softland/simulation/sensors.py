"""Simple sensor models for the closed loop: a rangefinder with the AP_RangeFinder health
contract and a vertical accelerometer. (The register-level LIDAR-Lite emulator is separate.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from softland.devices.faults import FaultSpec
from softland.simulation.scenario import Imu, Rangefinder

# rangefinder health codes, as the firmware's RF_* constants
NOT_CONNECTED = 0
NO_DATA = 1
OUT_OF_RANGE_LOW = 2
OUT_OF_RANGE_HIGH = 3
GOOD = 4


@dataclass(frozen=True)
class RangeSample:
    range_mm: int
    status: int


class RangefinderModel:
    def __init__(self, cfg: Rangefinder, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.rng = rng
        self.acquisition_m = cfg.acquisition_range_m or cfg.max_range_m

    def sample(self, true_range_m: float) -> RangeSample:
        cfg = self.cfg
        # draw every random number every tick so fault settings never shift the noise stream
        noise = self.rng.standard_normal()
        drop = self.rng.random()
        if true_range_m > cfg.max_range_m:
            return RangeSample(0, OUT_OF_RANGE_HIGH)
        if true_range_m > self.acquisition_m or drop < cfg.dropout_probability:
            return RangeSample(0, NO_DATA)
        if true_range_m < cfg.min_range_m:
            return RangeSample(int(round(cfg.min_range_m * 1000)), OUT_OF_RANGE_LOW)
        sigma = cfg.noise_m + cfg.noise_fraction * true_range_m
        measured = max(true_range_m + sigma * noise, cfg.min_range_m)
        return RangeSample(int(round(measured * 1000.0)), GOOD)


@dataclass(frozen=True)
class ImuSample:
    acc_mm_s2: int  # vertical specific force, up positive
    ok: bool  # False: the sample was lost (the tick frame's acc_ok)


class ImuModel:
    """The vertical accelerometer with the scenario's IMU faults (softland.devices.imu_faults)
    on the flight clock. Faults draw from their own generator (`fault_rng`: a normal and a
    uniform every sample, fault or not), so the noise stream is the same with or without them."""

    def __init__(
        self,
        cfg: Imu,
        rng: np.random.Generator,
        faults: Sequence[FaultSpec] = (),
        fault_rng: np.random.Generator | None = None,
    ) -> None:
        self.cfg = cfg
        self.rng = rng
        self.faults = tuple(faults)
        self.fault_rng = fault_rng if fault_rng is not None else np.random.default_rng(0)
        self._last_mm_s2: int | None = None  # the last sample delivered

    def _on(self, name: str, t_s: float) -> FaultSpec | None:
        for spec in self.faults:
            if (
                spec.name == name
                and spec.start_s <= t_s
                and (spec.end_s is None or t_s < spec.end_s)
            ):
                return spec
        return None

    def sample(self, specific_force_mps2: float) -> int:
        """Vertical specific force in mm/s^2, up positive (no faults)."""
        noisy = (
            specific_force_mps2
            + self.cfg.bias_mps2
            + self.cfg.noise_mps2 * (self.rng.standard_normal())
        )
        return int(round(noisy * 1000.0))

    def sample_at(self, specific_force_mps2: float, t_s: float) -> ImuSample:
        """The sample at flight time t_s with the faults active then."""
        value = self.sample(specific_force_mps2)
        if not self.faults:
            self._last_mm_s2 = value
            return ImuSample(value, True)
        burst_z = float(self.fault_rng.standard_normal())
        drop_u = float(self.fault_rng.random())
        mps2 = value / 1000.0
        spec = self._on("noise_burst", t_s)
        if spec is not None:
            mps2 += float(spec.params["sigma_mps2"]) * burst_z
        spec = self._on("bias_jump", t_s)
        if spec is not None:
            mps2 += float(spec.params["mps2"])
        spec = self._on("stuck", t_s)
        if spec is not None:
            mps2 = float(spec.params["mps2"])
        spec = self._on("saturation", t_s)
        if spec is not None:
            limit = float(spec.params["limit_mps2"])
            mps2 = min(max(mps2, -limit), limit)
        value = int(round(mps2 * 1000.0))
        last = value if self._last_mm_s2 is None else self._last_mm_s2
        if self._on("frozen", t_s) is not None:
            value = last
        spec = self._on("dropout", t_s)
        if spec is not None and drop_u < float(spec.params["probability"]):
            return ImuSample(last, False)
        self._last_mm_s2 = value
        return ImuSample(value, True)
