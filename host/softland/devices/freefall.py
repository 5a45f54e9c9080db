"""A free-falling target for the LIDAR-Lite emulator: the distance the sensor sees during a
tabletop drop (docs/tabletop.md).

The falling thing's height above the floor is ``h(t) = h0`` before ``t0``,
``h0 - g/2 (t - t0)^2`` while falling, and ``rest_m`` (the foam) from the impact on.
``FreeFall`` is a ``target`` callable for ``LidarLiteEmulator`` giving the distance the sensor
measures in one of the two rigs:

- ``sensor_m=None``: the sensor itself falls, looking down: distance = h(t).
- ``sensor_m=H``: the sensor is fixed at height H looking down and a target plate falls
  below it: distance = H - h(t) (the sensor never takes the impact, and the whole fall stays
  out of the LIDAR-Lite's non-linear first metre when H - h0 >= 1 m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

G_STANDARD = 9.80665  # m/s^2


@dataclass(frozen=True)
class FreeFall:
    h0_m: float = 2.1
    t0_s: float = 0.5
    rest_m: float = 0.1
    g: float = G_STANDARD
    sensor_m: float | None = None
    reflectance: float = 0.7

    def __post_init__(self) -> None:
        if not self.g > 0.0:
            raise ValueError(f"g must be > 0, got {self.g}")
        if not self.h0_m > self.rest_m >= 0.0:
            raise ValueError(
                f"need h0_m > rest_m >= 0, got h0_m={self.h0_m}, rest_m={self.rest_m}"
            )
        if self.sensor_m is not None and self.sensor_m <= self.h0_m:
            raise ValueError(f"the sensor ({self.sensor_m} m) must be above h0 ({self.h0_m} m)")

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
        """The falling thing's height above the floor."""
        if t_s <= self.t0_s:
            return self.h0_m
        if t_s >= self.impact_s:
            return self.rest_m
        dt = t_s - self.t0_s
        return self.h0_m - 0.5 * self.g * dt * dt

    def distance_m(self, t_s: float) -> float:
        h = self.height_m(t_s)
        return h if self.sensor_m is None else self.sensor_m - h

    def __call__(self, t_s: float) -> tuple[float, float]:
        return self.distance_m(t_s), self.reflectance
