"""Simple sensor models for the closed loop: a rangefinder with the AP_RangeFinder health
contract and a vertical accelerometer. (The register-level LIDAR-Lite emulator is separate.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


class ImuModel:
    def __init__(self, cfg: Imu, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.rng = rng

    def sample(self, specific_force_mps2: float) -> int:
        """Vertical specific force in mm/s^2, up positive."""
        noisy = (
            specific_force_mps2
            + self.cfg.bias_mps2
            + self.cfg.noise_mps2 * (self.rng.standard_normal())
        )
        return int(round(noisy * 1000.0))
