"""Physical units and the flight parameters of the reference model (fsw/params.py
converted once: Q12, Q15, Q4, mm, ms), the mode and phase numbers of the telemetry."""

from __future__ import annotations

from dataclasses import dataclass

from softland.boards.firmware import fsw_module

G0 = 9.80665  # standard gravity: the propellant model's Isp * g0
SAFE, ARMED, DESCENT, TERMINAL, LANDED, ABORT = range(6)
COAST, BRAKE, PH_TERMINAL, HOVER, IDLE, TOUCHDOWN, HOLD, CHECK, BLIND = range(9)
RF_NOT_CONNECTED, RF_NO_DATA, RF_GOOD = 0, 1, 4
TICKS_MASK = 0x3FFFFFFF


def ticks_diff(a: int, b: int) -> int:
    """Signed a - b of two times that wrap at 2^30 us (the link's clock)."""
    d = (a - b) & TICKS_MASK
    return d - (1 << 30) if d >= 1 << 29 else d


@dataclass(frozen=True)
class RefParams:
    """The flight parameters in physical units, from the firmware's integer set (by id)."""

    period_s: float
    period_ms: int
    g: float
    amax0: float
    isp_s: float
    thr_min: float
    thr_max: float
    thr_slew: float
    guid_k: float
    guid_khi: float
    vtd: float
    term_alt: float
    kp: float
    ki: float
    alpha: float
    beta: float
    gamma: float
    gate: float
    sigma0: float
    sigma_grow: float
    sigma_range: float
    nsigma: float
    clearance: float
    land_alt: float
    land_speed: float
    land_time_ms: int
    init_alt: float
    init_vel: float
    max_range: float
    baseline: int
    cal_ms: int
    blind_sink: float
    dry_frac: float
    reserve_s: float
    blind_ramp: float
    blind_max: float
    thr_min_q15: int

    @classmethod
    def from_values(cls, v: list[int]) -> RefParams:
        p = fsw_module("params")
        q12, q15 = 4096.0, 32767.0
        return cls(
            period_s=v[p.PERIOD_MS] / 1000,
            period_ms=v[p.PERIOD_MS],
            g=v[p.GRAVITY_MM_S2] / 1000,
            amax0=v[p.AMAX0_MM_S2] / 1000,
            isp_s=float(v[p.ISP_S]),
            thr_min=v[p.THR_MIN_Q15] / q15,
            thr_max=v[p.THR_MAX_Q15] / q15,
            thr_slew=v[p.THR_SLEW_Q15] / q15,
            guid_k=v[p.GUID_K_Q12] / q12,
            guid_khi=v[p.GUID_KHI_Q12] / q12,
            vtd=v[p.VTD_MM_S] / 1000,
            term_alt=v[p.TERM_ALT_MM] / 1000,
            kp=v[p.KP_Q12] / q12,
            ki=v[p.KI_Q12] / q12,
            alpha=v[p.EST_ALPHA_Q12] / q12,
            beta=v[p.EST_BETA_Q12] / q12,  # per tick: (m/s) per m of innovation
            gamma=v[p.EST_GAMMA_Q12] / q12,  # (m/s^2) per m of innovation
            gate=v[p.GATE_MM] / 1000,
            sigma0=v[p.SIGMA0_MM] / 1000,
            sigma_grow=v[p.SIGMA_GROW_MM_S] / 1000,
            sigma_range=v[p.SIGMA_RANGE_MM] / 1000,
            nsigma=v[p.NSIGMA_Q4] / 16,
            clearance=v[p.CLEARANCE_MM] / 1000,
            land_alt=v[p.LAND_ALT_MM] / 1000,
            land_speed=v[p.LAND_SPEED_MM_S] / 1000,
            land_time_ms=v[p.LAND_TIME_MS],
            init_alt=v[p.INIT_ALT_MM] / 1000,
            init_vel=v[p.INIT_VEL_MM_S] / 1000,
            max_range=v[p.MAX_RANGE_MM] / 1000,
            baseline=v[p.BASELINE],
            cal_ms=v[p.CAL_MS],
            blind_sink=v[p.BLIND_SINK_MM_S] / 1000,
            dry_frac=v[p.DRY_Q15] / 32768,
            reserve_s=float(v[p.RESERVE_S]),
            blind_ramp=v[p.BLIND_RAMP_MM_S2] / 1000,
            blind_max=v[p.BLIND_MAX_MM_S] / 1000,
            thr_min_q15=v[p.THR_MIN_Q15],
        )
