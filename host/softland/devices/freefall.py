"""A free-falling target for the LIDAR-Lite emulator: the distance the sensor sees during a
tabletop drop (docs/tabletop.md).

``FreeFall(h0_m, t0_s, rest_m, g)`` is a ``target`` callable for ``LidarLiteEmulator``:
``h(t) = h0`` before ``t0``, ``h0 - g/2 (t - t0)^2`` while falling, and ``rest_m`` (the foam
and the sensor's own offset) from the impact on. Dropping the sensor onto the floor and
dropping a target away from a sensor fixed above it give the same h(t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

G_STANDARD = 9.80665  # m/s^2


@dataclass(frozen=True)
class FreeFall:
    h0_m: float = 2.0
    t0_s: float = 0.5
    rest_m: float = 0.10
    g: float = G_STANDARD
    reflectance: float = 0.7

    def __post_init__(self) -> None:
        if not self.g > 0.0:
            raise ValueError(f"g must be > 0, got {self.g}")
        if not self.h0_m > self.rest_m >= 0.0:
            raise ValueError(
                f"need h0_m > rest_m >= 0, got h0_m={self.h0_m}, rest_m={self.rest_m}"
            )

    @property
    def fall_m(self) -> float:
        return self.h0_m - self.rest_m

    @property
    def impact_s(self) -> float:
        return self.t0_s + math.sqrt(2.0 * self.fall_m / self.g)

    @property
    def impact_speed_m_s(self) -> float:
        return math.sqrt(2.0 * self.g * self.fall_m)

    def height_m(self, t_s: float) -> float:
        if t_s <= self.t0_s:
            return self.h0_m
        if t_s >= self.impact_s:
            return self.rest_m
        dt = t_s - self.t0_s
        return self.h0_m - 0.5 * self.g * dt * dt

    def velocity_m_s(self, t_s: float) -> float:
        """dh/dt: negative while falling."""
        if self.t0_s < t_s < self.impact_s:
            return -self.g * (t_s - self.t0_s)
        return 0.0

    def __call__(self, t_s: float) -> tuple[float, float]:
        return self.height_m(t_s), self.reflectance
