"""Long-range laser rangefinder: the host model (host/softland/devices/lrf.py) and the firmware
driver (firmware/fsw/lrf.py, imported as the host imports it) against a fake UART."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from softland.analysis.intcheck import instrumented_firmware
from softland.boards.firmware import firmware_dir, fsw_module
from softland.devices.lrf import (
    FRAME_LEN,
    ST_FAULT,
    ST_NO_RETURN,
    ST_TOO_CLOSE,
    ST_VALID,
    LrfConfig,
    LrfFrame,
    LrfModel,
    encode_frame,
    parse_frames,
)

lrf = fsw_module("lrf")
rf = fsw_module("rangefinder")
TICKS_MASK = fsw_module("fixmath").TICKS_MASK

PROPERTY = settings(
    max_examples=150, deadline=None, phases=[p for p in Phase if p is not Phase.explain]
)
STEP_US = 20_000  # a 50 Hz flight loop


# ---------------------------------------------------------------- helpers


@dataclass
class FakeUart:
    """machine.UART-like: any() and readinto(buf, n) over scripted bytes."""

    data: bytearray = field(default_factory=bytearray)
    max_asked: int = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk

    def any(self) -> int:
        return len(self.data)

    def readinto(self, buf: bytearray, n: int) -> int | None:
        self.max_asked = max(self.max_asked, n)
        n = min(n, len(self.data), len(buf))
        if n == 0:
            return None
        buf[:n] = self.data[:n]
        del self.data[:n]
        return n


def _driver(**kw):
    uart = FakeUart()
    return uart, lrf.Lrf(uart, **kw)


def _model(seed: int = 1, **cfg) -> LrfModel:
    return LrfModel(LrfConfig(**cfg), np.random.default_rng(seed))


def _hold(model: LrfModel, range_m: float, seconds: float, speed: float = 0.0) -> list[LrfFrame]:
    """Frames the model sends over the next `seconds` at a constant range."""
    start = model.advance(model.t_s, range_m, speed)  # from now on the range is range_m
    return parse_frames(start + model.advance(model.t_s + seconds, range_m, speed))


def _descent(model: LrfModel, start_m: float, speed: float, dt: float = 0.02):
    """(t, true range, bytes) every dt of a constant-speed descent to the ground."""
    t = 0.0
    while True:
        t += dt
        alt = start_m - speed * t
        if alt <= 0.0:
            return
        yield t, alt, model.advance(t, alt, -speed)


def _first_valid_range(model: LrfModel, start_m: float, speed: float) -> float | None:
    for _t, _alt, data in _descent(model, start_m, speed):
        for f in parse_frames(data):
            if f.status == ST_VALID:
                return f.range_m
    return None


def _bitwise_crc(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


# ---------------------------------------------------------------- acquisition law

CFG = LrfConfig()


def test_detection_probability_falls_with_range() -> None:
    ps = [CFG.detection_probability(r) for r in (1000.0, 2800.0, 2950.0, 3050.0, 3300.0)]
    assert ps == sorted(ps, reverse=True)
    assert ps[0] > 0.999 and ps[-1] < 1e-3
    assert CFG.detection_probability(3000.0) == pytest.approx(0.5)


def test_detection_probability_rises_with_reflectance() -> None:
    ps = [CFG.detection_probability(2500.0, 0.0, refl) for refl in (0.05, 0.08, 0.12, 0.25)]
    assert ps == sorted(ps) and ps[0] < 0.01 and ps[-1] > 0.99


def test_detection_probability_rises_with_laser_power() -> None:
    ps = [LrfConfig(power_factor=p).detection_probability(2500.0) for p in (0.3, 0.6, 0.8, 1.0)]
    assert ps == sorted(ps) and ps[0] < 0.01 and ps[-1] > 0.99


def test_detection_probability_falls_with_vertical_speed() -> None:
    ps = [CFG.detection_probability(2900.0, v) for v in (0.0, 20.0, 44.0, 66.0, -66.0)]
    assert ps[0] > ps[1] > ps[2] > ps[3]
    assert ps[3] == ps[4]  # speed counts by magnitude


def test_a_dead_laser_never_detects() -> None:
    assert LrfConfig(power_factor=0.0).detection_probability(10.0) == 0.0


def test_with_acquisition_range_scales_laser_power() -> None:
    cfg = CFG.with_acquisition_range(900.0, speed_mps=66.0)
    assert cfg.acquisition_range_m(66.0) == pytest.approx(900.0)
    assert cfg.power_factor == pytest.approx((900 / 3000) ** 2 * (1 + 0.002 * 66))
    assert cfg.reflectance == CFG.reflectance


@pytest.mark.parametrize("seed", range(8))
def test_first_valid_reading_within_10_percent_of_set_acquisition_range(seed: int) -> None:
    # ispace Mission 2: first valid range below ~900 m, falling at ~60 m/s from 3 km
    cfg = CFG.with_acquisition_range(900.0, speed_mps=60.0)
    first = _first_valid_range(LrfModel(cfg, np.random.default_rng(seed)), 3000.0, 60.0)
    assert first is not None and 810.0 <= first <= 990.0


def test_nominal_sensor_acquires_near_3_km() -> None:
    first = _first_valid_range(_model(seed=3), 4000.0, 44.0)
    assert first is not None
    assert abs(first - CFG.acquisition_range_m(44.0)) <= 0.1 * CFG.acquisition_range_m(44.0)


def test_noise_sigma_grows_with_range() -> None:
    assert CFG.sigma_m(5000.0) > CFG.sigma_m(500.0) > CFG.sigma_m(0.0) == CFG.noise_m
    model = _model(seed=4, power_factor=100.0, dropout_probability=0.0)
    near = [f.range_m for f in _hold(model, 500.0, 20.0)]
    far = [f.range_m for f in _hold(model, 5000.0, 20.0)]
    assert len(near) == len(far) == 400
    assert np.std(far) == pytest.approx(CFG.sigma_m(5000.0), rel=0.2)
    assert np.std(near) == pytest.approx(CFG.sigma_m(500.0), rel=0.2)


# ---------------------------------------------------------------- model: frames and stream


def test_same_seed_gives_the_same_bytes() -> None:
    runs = [b"".join(d for _t, _a, d in _descent(_model(seed=7), 3200.0, 50.0)) for _ in (0, 1)]
    assert runs[0] == runs[1] and len(runs[0]) > 1000


def test_different_seeds_give_different_noise() -> None:
    a = _hold(_model(seed=1), 1000.0, 5.0)
    b = _hold(_model(seed=2), 1000.0, 5.0)
    assert [f.range_cm for f in a] != [f.range_cm for f in b]


def test_a_setting_change_does_not_shift_the_noise_of_other_measurements() -> None:
    base = {f.seq: f.range_cm for f in _hold(_model(seed=5), 1000.0, 12.0)}
    dropped = {
        f.seq: f.range_cm for f in _hold(_model(seed=5, dropout_probability=0.3), 1000.0, 12.0)
    }
    assert len(dropped) < len(base) - 20
    assert all(base[seq] == rng for seq, rng in dropped.items())


def test_one_frame_per_measurement_at_rate_hz() -> None:
    frames = _hold(_model(dropout_probability=0.0), 1000.0, 10.0)
    assert len(frames) == 200
    assert [f.seq for f in frames] == [k & 0xFF for k in range(200)]


def test_measurements_keep_their_phase_whatever_the_call_times() -> None:
    a, b = _model(seed=9), _model(seed=9)
    one = a.advance(2.0, 1500.0, 0.0)
    many = b"".join(b.advance(t, 1500.0, 0.0) for t in np.arange(0.013, 2.0, 0.013)) + b.advance(
        2.0, 1500.0, 0.0
    )
    assert one == many


def test_frame_format_is_pinned() -> None:
    frame = encode_frame(0x12, ST_VALID, 300_000, 0x34)
    assert frame.hex(" ") == "59 4c 12 00 e0 93 04 34 80 44"
    assert _bitwise_crc(frame[2:8]) == int.from_bytes(frame[8:10], "big")
    assert encode_frame(0, ST_NO_RETURN, 0, 0).hex(" ") == "59 4c 00 01 00 00 00 00 a4 41"


def test_encode_frame_rejects_a_field_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="range_cm"):
        encode_frame(0, ST_VALID, 1 << 24, 0)


def test_beyond_max_range_every_measurement_is_a_no_return_frame() -> None:
    frames = _hold(_model(dropout_probability=0.0, power_factor=1e6), 6500.0, 5.0)
    assert len(frames) == 100
    assert {(f.status, f.range_cm) for f in frames} == {(ST_NO_RETURN, 0)}
    assert all(f.signal > 0 for f in frames)


def test_too_weak_returns_are_no_return_frames_with_low_signal() -> None:
    frames = _hold(_model(dropout_probability=0.0), 4500.0, 5.0)
    assert len(frames) == 100 and {f.status for f in frames} == {ST_NO_RETURN}
    assert max(f.signal for f in frames) < CFG.threshold_snr_db * 4


def test_below_min_range_frames_say_too_close() -> None:
    frames = _hold(_model(dropout_probability=0.0), 0.5, 1.0)
    assert {f.status for f in frames} == {ST_TOO_CLOSE}


def test_dropouts_lose_whole_frames_and_skip_their_seq() -> None:
    model = _model(seed=2, dropout_probability=0.2)
    frames = _hold(model, 1000.0, 10.0)
    assert model.dropouts > 20
    assert len(frames) == 200 - model.dropouts == model.frames_sent
    seqs = [f.seq for f in frames]
    assert any(b - a > 1 for a, b in zip(seqs, seqs[1:], strict=False))


def test_bytes_per_call_are_limited_by_the_baud_rate() -> None:
    model = _model(baud=9600)
    model.inject("garbage", 0.0, bytes_per_frame=30)  # 40 bytes per 50 ms: ~83 % of the line
    dt = 0.005
    sizes = [len(model.advance(k * dt, 1000.0, 0.0)) for k in range(1, 400)]
    assert max(sizes) <= int(9600 / 10 * dt) + 1
    assert sum(sizes) > 0.75 * 9600 / 10 * 2.0


def test_time_going_back_is_rejected() -> None:
    model = _model()
    model.advance(1.0, 100.0, 0.0)
    with pytest.raises(ValueError, match="went back"):
        model.advance(0.5, 100.0, 0.0)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"min_range_m": 7000.0}, "min_range_m"),
        ({"reflectance": 1.5}, "reflectance"),
        ({"dropout_probability": -0.1}, "dropout_probability"),
        ({"rate_hz": 0.0}, "rate_hz"),
        ({"baud": 1200}, "baud"),
        ({"max_range_m": 200_000.0}, "max_range_m"),
    ],
)
def test_config_rejects_a_bad_field_naming_it(kw: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"LrfConfig.{name}"):
        LrfConfig(**kw)


# ---------------------------------------------------------------- model: fault knobs


def test_inject_rejects_an_unknown_fault_naming_it() -> None:
    with pytest.raises(ValueError, match="'laser_fire'.*known: delay"):
        _model().inject("laser_fire", 1.0)


def test_inject_rejects_an_unknown_parameter_naming_it() -> None:
    with pytest.raises(ValueError, match="'garbage'.*'bytes'"):
        _model().inject("garbage", 1.0, bytes=3)


def test_inject_requires_the_delay_latency() -> None:
    with pytest.raises(ValueError, match="'delay' needs parameter 'latency_ms'"):
        _model().inject("delay", 1.0)


def test_inject_rejects_a_bad_parameter_value() -> None:
    with pytest.raises(ValueError, match="'latency_ms' = -5"):
        _model().inject("delay", 1.0, latency_ms=-5)


def test_inject_rejects_an_end_before_the_start() -> None:
    with pytest.raises(ValueError, match="end_s"):
        _model().inject("silent", 2.0, 1.0)


def test_stuck_repeats_the_last_valid_range() -> None:
    model = _model(dropout_probability=0.0)
    before = _hold(model, 1000.0, 1.0)
    model.inject("stuck", 1.0, 3.0)
    during = _hold(model, 800.0, 2.0)
    after = _hold(model, 800.0, 1.0)
    assert {f.range_cm for f in during} == {before[-1].range_cm}
    assert {f.status for f in during} == {ST_VALID}
    assert all(abs(f.range_m - 800.0) < 5.0 for f in after)


def test_stuck_at_a_given_range() -> None:
    model = _model(dropout_probability=0.0)
    model.inject("stuck", 0.0, range_m=1234.5)
    assert {f.range_cm for f in _hold(model, 5000.0, 1.0)} == {123_450}


def test_a_long_false_return_reads_the_offset_beyond_the_ground_then_the_ground() -> None:
    model = _model(dropout_probability=0.0)
    model.inject("false_return", 1.0, 3.0, offset_m=400.0)
    before = _hold(model, 1000.0, 1.0)
    during = _hold(model, 1000.0, 2.0)
    after = _hold(model, 1000.0, 1.0)
    assert all(abs(f.range_m - 1000.0) < 10.0 for f in before + after)
    assert {f.status for f in during} == {ST_VALID}
    assert all(abs(f.range_m - 1400.0) < 10.0 for f in during)


def test_a_short_false_return_reads_the_offset_short_of_the_ground() -> None:
    model = _model(dropout_probability=0.0)
    model.inject("false_return", 0.0, offset_m=-300.0)
    assert all(abs(f.range_m - 700.0) < 10.0 for f in _hold(model, 1000.0, 1.0))


def test_a_false_return_beyond_the_frame_range_is_refused() -> None:
    with pytest.raises(ValueError, match="offset_m"):
        _model().inject("false_return", 0.0, offset_m=1e6)


def test_garbage_adds_bytes_but_every_frame_still_parses() -> None:
    clean = _hold(_model(seed=3), 1000.0, 5.0)
    model = _model(seed=3)
    model.inject("garbage", 0.0, bytes_per_frame=20)
    data = model.advance(5.0, 1000.0, 0.0)
    assert len(data) == len(clean) * FRAME_LEN + 100 * 20
    assert [f.range_cm for f in parse_frames(data)] == [f.range_cm for f in clean]


def test_delay_holds_frames_back_by_the_latency() -> None:
    model = _model(dropout_probability=0.0)
    model.inject("delay", 0.0, latency_ms=120.0)
    assert model.advance(0.12, 1000.0, 0.0) == b""  # the 0.01 s frame leaves at 0.13 s
    assert len(parse_frames(model.advance(0.1315, 1000.0, 0.0))) == 1


def test_signal_loss_sends_no_return_frames_with_no_signal() -> None:
    model = _model(dropout_probability=0.0)
    model.inject("signal_loss", 1.0, 2.0)
    _hold(model, 1000.0, 1.0)
    during = _hold(model, 1000.0, 1.0)
    after = _hold(model, 1000.0, 1.0)
    assert len(during) == 20 and {(f.status, f.signal) for f in during} == {(ST_NO_RETURN, 0)}
    assert {f.status for f in after} == {ST_VALID}


def test_silent_sends_nothing() -> None:
    model = _model()
    model.inject("silent", 1.0, 2.0)
    _hold(model, 1000.0, 1.0)
    assert model.advance(2.0, 1000.0, 0.0) == b""
    assert len(_hold(model, 1000.0, 1.0)) > 15


def test_sensor_fault_sends_fault_frames() -> None:
    model = _model(dropout_probability=0.0)
    model.inject("sensor_fault", 0.0)
    assert {(f.status, f.range_cm) for f in _hold(model, 1000.0, 1.0)} == {(ST_FAULT, 0)}


# ---------------------------------------------------------------- model -> firmware driver


def test_model_bytes_through_the_driver_give_the_same_ranges() -> None:
    model = _model(seed=11)
    uart, drv = _driver()
    sent = bytearray()
    got = []
    now = 0
    # steps of 17.3 ms: frames straddle steps
    for _t, _alt, data in _descent(model, 3500.0, 50.0, dt=0.0173):
        sent += data
        uart.add(data)
        frames = drv.frames
        now = (now + 17_300) & TICKS_MASK
        drv.step(now)
        assert drv.frames - frames <= 1
        if drv.frames > frames:
            got.append((drv.status, drv.distance_mm if drv.status == rf.RF_GOOD else None))
    expected = [
        (rf.RF_GOOD, f.range_cm * 10) if f.status == ST_VALID else (rf.RF_OUT_OF_RANGE_HIGH, None)
        for f in parse_frames(sent)
        if f.status in (ST_VALID, ST_NO_RETURN)
    ]
    assert got == expected
    assert sum(1 for s, _ in got if s == rf.RF_GOOD) > 1000
    assert drv.crc_errors == 0 and drv.lost == model.dropouts


def test_a_corrupted_byte_is_dropped_by_the_driver() -> None:
    uart, drv = _driver()
    bad = bytearray(encode_frame(1, ST_VALID, 150_000, 80))
    bad[5] ^= 0x10
    uart.add(bytes(bad))
    drv.step(0)
    assert (drv.crc_errors, drv.frames, drv.distance_mm) == (1, 0, 0)
    assert drv.status != rf.RF_GOOD


def test_the_driver_stays_within_small_ints_over_a_faulty_descent() -> None:
    model = _model(seed=12)
    model.inject("garbage", 20.0, 30.0, bytes_per_frame=40)
    model.inject("stuck", 35.0, 38.0)
    stream = [d for _t, _a, d in _descent(model, 3300.0, 60.0)]
    with instrumented_firmware(firmware_dir()) as tracker:
        mod = importlib.import_module("fsw.lrf")
        uart = FakeUart()
        drv = mod.Lrf(uart)
        now = TICKS_MASK - 1_000_000  # across the tick wrap
        for data in stream:
            uart.add(data)
            now = (now + STEP_US) & TICKS_MASK
            drv.step(now)
    assert drv.frames > 800 and tracker.count > 10_000
    assert tracker.violations == [], tracker.violations[:5]


# ---------------------------------------------------------------- firmware driver


def test_driver_reports_good_with_the_distance_time_and_signal() -> None:
    uart, drv = _driver()
    uart.add(encode_frame(0, ST_VALID, 123_456, 77))
    drv.step(5_000)
    assert drv.status == rf.RF_GOOD
    got = (drv.distance_mm, drv.reading_us, drv.signal, drv.valid_count)
    assert got == (1_234_560, 5_000, 77, 1)


def test_driver_goes_no_data_when_frames_stop_for_the_stale_budget() -> None:
    uart, drv = _driver()
    uart.add(encode_frame(0, ST_VALID, 50_000, 77))
    drv.step(0)
    uart.add(b"\x00")  # bytes still arrive, but no frame
    drv.step(150_000)
    assert drv.status == rf.RF_GOOD
    drv.step(150_001)
    assert (drv.status, drv.valid_count, drv.stale_ticks) == (rf.RF_NO_DATA, 0, 1)


def test_driver_goes_not_connected_after_a_second_of_silence() -> None:
    uart, drv = _driver()
    uart.add(encode_frame(0, ST_VALID, 50_000, 77))
    drv.step(0)
    drv.step(1_000_000)
    assert drv.status == rf.RF_NO_DATA
    drv.step(1_000_001)
    assert drv.status == rf.RF_NOT_CONNECTED


def test_driver_with_nothing_from_the_start_is_not_connected_after_a_second() -> None:
    _uart, drv = _driver()
    assert drv.status == rf.RF_NOT_CONNECTED
    drv.step(0)
    assert drv.status == rf.RF_NO_DATA
    drv.step(1_000_001)
    assert drv.status == rf.RF_NOT_CONNECTED


def test_driver_recovers_to_good_after_silence() -> None:
    uart, drv = _driver()
    drv.step(0)
    drv.step(2_000_000)
    uart.add(encode_frame(0, ST_VALID, 50_000, 77))
    drv.step(2_020_000)
    assert drv.status == rf.RF_GOOD


def test_driver_maps_no_return_to_out_of_range_high() -> None:
    uart, drv = _driver()
    uart.add(encode_frame(0, ST_NO_RETURN, 0, 10))
    drv.step(0)
    assert (drv.status, drv.no_return, drv.valid_count) == (rf.RF_OUT_OF_RANGE_HIGH, 1, 0)


def test_driver_maps_too_close_to_out_of_range_low() -> None:
    uart, drv = _driver()
    uart.add(encode_frame(0, ST_TOO_CLOSE, 0, 200))
    drv.step(0)
    assert drv.status == rf.RF_OUT_OF_RANGE_LOW


@pytest.mark.parametrize("status", [ST_FAULT, 0x7F])
def test_driver_maps_a_fault_or_unknown_status_to_no_data(status: int) -> None:
    uart, drv = _driver()
    uart.add(encode_frame(0, status, 50_000, 0))
    drv.step(0)
    assert (drv.status, drv.faults) == (rf.RF_NO_DATA, 1)


def test_driver_reports_a_range_beyond_its_maximum_as_out_of_range_high() -> None:
    uart, drv = _driver(max_range_mm=6_000_000)
    uart.add(encode_frame(0, ST_VALID, 600_001, 50))
    drv.step(0)
    assert (drv.status, drv.distance_mm) == (rf.RF_OUT_OF_RANGE_HIGH, 0)


def test_driver_valid_count_caps_at_10_and_resets_on_a_bad_reading() -> None:
    uart, drv = _driver()
    counts = []
    for k in range(12):
        uart.add(encode_frame(k, ST_VALID, 50_000, 50))
        drv.step(k * 50_000)
        counts.append(drv.valid_count)
    uart.add(encode_frame(12, ST_NO_RETURN, 0, 5))
    drv.step(600_000)
    assert counts == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10] and drv.valid_count == 0


def test_driver_counts_frames_lost_by_sequence() -> None:
    uart, drv = _driver()
    for seq in (250, 251, 254, 1):
        uart.add(encode_frame(seq, ST_VALID, 50_000, 50))
    drv.step(0)
    assert (drv.frames, drv.lost) == (4, 4)


def test_driver_staleness_works_across_the_tick_wrap() -> None:
    uart, drv = _driver()
    t0 = TICKS_MASK - 60_000
    uart.add(encode_frame(0, ST_VALID, 50_000, 50))
    drv.step(t0)
    drv.step((t0 + 100_000) & TICKS_MASK)
    assert drv.status == rf.RF_GOOD
    drv.step((t0 + 160_000) & TICKS_MASK)
    assert drv.status == rf.RF_NO_DATA


def test_driver_garbage_never_raises_nor_delivers_a_range() -> None:
    uart, drv = _driver()
    rng = np.random.default_rng(0)
    for k in range(300):
        uart.add(bytes(rng.integers(0, 256, 50, dtype=np.uint8)) + b"\x59\x4c\x00\x00")
        drv.step(k * STEP_US)
        assert drv.status != rf.RF_GOOD
    assert drv.frames == 0 and drv.distance_mm == 0 and drv.crc_errors >= 300


def test_driver_finds_a_frame_right_after_a_false_sync() -> None:
    uart, drv = _driver()
    uart.add(b"\x59\x4c\x01\x02\x03" + encode_frame(3, ST_VALID, 77_700, 60))
    drv.step(0)
    assert (drv.status, drv.distance_mm, drv.crc_errors) == (rf.RF_GOOD, 777_000, 1)


def test_driver_treats_sync_bytes_inside_a_good_frame_as_data() -> None:
    uart, drv = _driver()
    range_cm = 0x4C59  # range bytes 59 4C: a sync pair inside the frame
    for seq in range(5):
        uart.add(encode_frame(seq, ST_VALID, range_cm, 0x59))
    drv.step(0)
    assert (drv.frames, drv.crc_errors, drv.distance_mm) == (5, 0, range_cm * 10)


def test_driver_reads_a_bounded_number_of_bytes_per_step() -> None:
    uart, drv = _driver()
    frames = b"".join(encode_frame(k & 0xFF, ST_VALID, 50_000, 50) for k in range(100))
    uart.add(frames)
    drv.step(0)
    assert uart.max_asked == lrf.CHUNK == 64
    assert len(uart.data) == len(frames) - 64 and drv.backlog == 1
    for k in range(1, 20):
        drv.step(k * STEP_US)
    assert drv.frames == 100 and uart.max_asked == 64


class _RaisingUart:
    def any(self) -> int:
        raise OSError(5, "EIO")

    def readinto(self, buf: bytearray, n: int) -> int:
        raise AssertionError("not reached")


class _LyingUart:
    """any() says bytes are there; readinto returns None, then nonsense."""

    def __init__(self) -> None:
        self.answers = [None, -3, 1000, "x", 2.5]

    def any(self) -> int:
        return 10

    def readinto(self, buf: bytearray, n: int):
        return self.answers.pop(0) if self.answers else None


def test_driver_counts_uart_exceptions_and_never_raises() -> None:
    drv = lrf.Lrf(_RaisingUart())
    for k in range(60):
        drv.step(k * STEP_US)
    assert drv.uart_errors == 60 and drv.status == rf.RF_NOT_CONNECTED


def test_driver_takes_none_or_nonsense_from_readinto_as_no_bytes() -> None:
    drv = lrf.Lrf(_LyingUart())
    for k in range(6):
        drv.step(k * STEP_US)
    assert drv.rx_bytes == 2 and drv.uart_errors == 3 and drv.frames == 0


_frames = st.builds(
    encode_frame,
    st.integers(0, 255),
    st.integers(0, 4),
    st.one_of(st.integers(0, 700_000), st.integers(0, 0xFFFFFF)),
    st.integers(0, 255),
)
_pieces = st.lists(st.one_of(st.binary(max_size=40), _frames), max_size=30)


@PROPERTY
@given(
    pieces=_pieces,
    chunks=st.lists(st.integers(0, 100), min_size=1, max_size=40),
    dts=st.lists(st.integers(0, 3_000_000), min_size=1, max_size=40),
    t0=st.integers(0, TICKS_MASK),
)
def test_driver_never_raises_on_arbitrary_bytes_in_arbitrary_chunks(
    pieces: list[bytes], chunks: list[int], dts: list[int], t0: int
) -> None:
    stream = b"".join(pieces)

    class ChunkUart(FakeUart):
        def any(self) -> int:  # arbitrary chunk sizes, some above the driver's bound
            return min(chunks[len(self.data) % len(chunks)], len(self.data))

    uart = ChunkUart(bytearray(stream))
    drv = lrf.Lrf(uart)
    now = t0
    for k in range(len(stream) + 5):
        now = (now + dts[k % len(dts)]) & TICKS_MASK
        drv.step(now)
        assert 0 <= drv.status <= 4 and 0 <= drv.valid_count <= 10
        assert uart.max_asked <= lrf.CHUNK
        if drv.status == rf.RF_GOOD:
            assert 0 <= drv.distance_mm <= drv.max_range_mm
        if not uart.data:
            break
