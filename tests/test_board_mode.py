"""Board mode (hal/machine_board.py, hal/board_loop.py): the flight standalone on the board's
clock, LIDAR-Lite bus (and the LSM6DSOX accelerometer on it), ESC output, watchdog and arming
switch, here on the `machine` stand-in of tests/board_standin with the host's LIDAR-Lite and
LSM6DSOX emulators on the bus."""

from __future__ import annotations

import pytest
from board_stand_in import (
    CONFIG,
    PERIOD_US,
    TICKS_MASK,
    BoardRig,
    at_rest,
    esc_pulse,
    hal_module,
    slow_flight,
    tick_gaps,
)

from softland.boards.firmware import fsw_module

app_mod = fsw_module("app")
flight_mod = fsw_module("flight")
params = fsw_module("params")
rf = fsw_module("rangefinder")
flags_mod = fsw_module("flags")
imu_mod = fsw_module("lsm6dsox")
loop_mod = hal_module("board_loop")
mb = hal_module("machine_board")

SAFE_US = CONFIG["pwm_min_us"]


# ---- (a) deadlines, late ticks, watchdog


def test_ticks_start_on_their_deadlines_across_the_clock_wrap() -> None:
    rig = BoardRig()
    rig.run(150)  # starts 2 s before ticks_us wraps at 2^30
    times = [t["time_us"] for t in rig.telemetry()]
    assert len(times) == 150
    assert times[-1] < times[0]  # the wrap was crossed
    assert tick_gaps(times) == [PERIOD_US] * 149
    assert rig.loop.overruns == 0
    assert rig.telemetry()[-1]["overruns"] == 0


def test_the_watchdog_is_fed_once_per_tick_on_time() -> None:
    rig = BoardRig()
    rig.run(150)
    assert rig.board.wdt.feeds == 150
    assert rig.board.wdt.timeout_us == CONFIG["wdt_ms"] * 1000


def test_a_late_tick_runs_at_once_is_counted_and_is_not_fed() -> None:
    rig = BoardRig()
    slow_flight(rig, lambda n: 30_000 if n == 10 else 0)  # tick 10 takes 1.5 periods
    rig.run(20)
    times = [t["time_us"] for t in rig.telemetry()]
    late = [e for e in rig.events() if e["code"] == loop_mod.EV_LATE]
    assert len(late) == 1
    assert 10_000 <= late[0]["arg"] < 11_000  # 30 ms less the 20 ms period, plus bus time
    assert rig.loop.overruns == 1
    assert rig.loop.skipped == 0
    assert 30_000 <= tick_gaps(times)[9] < 31_000  # tick 11 ran as soon as tick 10 ended
    assert [(t - times[0]) & TICKS_MASK for t in times[11:]] == [
        k * PERIOD_US for k in range(11, 20)
    ]  # then back on the grid
    assert rig.board.wdt.feeds == 19


def test_a_tick_late_by_a_period_or_more_skips_the_missed_deadlines() -> None:
    rig = BoardRig()
    slow_flight(rig, lambda n: 50_000 if n == 10 else 0)  # 2.5 periods
    rig.run(20)
    times = [t["time_us"] for t in rig.telemetry()]
    skips = [e["arg"] for e in rig.events() if e["code"] == loop_mod.EV_SKIP]
    assert skips == [1]
    assert rig.loop.skipped == 1
    assert rig.loop.overruns == 1
    # no burst of catch-up ticks: the tick after the late one is on the grid again
    assert [(t - times[0]) & TICKS_MASK for t in times[11:]] == [
        k * PERIOD_US for k in range(12, 21)
    ]
    # the flight saw the long interval as its own overrun (beyond 1.5 periods)
    assert rig.telemetry()[-1]["overruns"] == 1


def test_a_deadline_impossibly_far_ahead_restarts_the_grid_instead_of_sleeping() -> None:
    rig = BoardRig()
    rig.run(5)
    rig.loop.deadline = (rig.clock.ticks_us() + 300_000_000) & TICKS_MASK  # 5 min ahead
    before = rig.clock.now_us
    frames = rig.run(1)
    assert rig.clock.now_us - before < PERIOD_US  # no sleep
    assert [e["arg"] for e in rig.events(frames) if e["code"] == loop_mod.EV_SKIP] == [0]
    rig.run(5)
    assert tick_gaps([t["time_us"] for t in rig.telemetry()][-6:]) == [PERIOD_US] * 5


def test_a_loop_that_keeps_missing_its_deadline_is_reset_by_the_watchdog() -> None:
    machine = BoardRig().machine
    rig = BoardRig()
    rig.flying()
    slow_flight(rig, lambda n: 25_000)  # every tick now longer than a period
    with pytest.raises(machine.WatchdogBite):
        rig.run(50)
    wdt = rig.board.wdt
    assert wdt.bitten_us - wdt.last_feed_us <= CONFIG["wdt_ms"] * 1000 + 25_000 + PERIOD_US
    assert rig.pwm.pulse_us == SAFE_US  # and the loop left the output safe on its way out


def test_a_board_boots_with_the_esc_built_first_at_its_safe_pulse() -> None:
    rig = BoardRig()
    assert rig.machine.created[0] == "PWM"
    assert rig.pwm.pulse_us == SAFE_US
    assert rig.pwm.freq_hz == 50


# ---- (b) the ESC output


def test_the_esc_holds_the_disarmed_pulse_in_safe_and_armed() -> None:
    rig = BoardRig()
    rig.close_switch()
    rig.run(10)
    rig.send(app_mod.C_ARM, 0, app_mod.ARM_OVERRIDE)
    rig.run(10)
    assert rig.app.flight.mode == flight_mod.ARMED
    assert {us for _, us in rig.pwm.log} == {SAFE_US}


def test_the_esc_follows_the_throttle_in_flight() -> None:
    rig = BoardRig()
    rig.flying()
    rig.pwm.log.clear()
    tel = rig.telemetry(rig.run(30))
    pulses = [us for _, us in rig.pwm.log]
    assert pulses == [esc_pulse(CONFIG, t["throttle_q15"]) for t in tel]
    assert max(pulses) > SAFE_US  # the engine-check burn at minimum throttle


def test_abort_brings_the_esc_to_its_safe_pulse() -> None:
    rig = BoardRig()
    rig.flying()
    rig.run(5)
    assert rig.pwm.pulse_us > SAFE_US
    rig.send(app_mod.C_ABORT)
    rig.run(5)
    assert rig.app.flight.mode == flight_mod.ABORT
    assert rig.pwm.pulse_us == SAFE_US


def test_an_exception_in_the_flight_makes_that_tick_safe_and_is_reported() -> None:
    rig = BoardRig()
    rig.flying()
    rig.run(5)
    tick = rig.app.flight.tick
    calls = []

    def failing(*args: int) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise ZeroDivisionError("injected")
        tick(*args)

    rig.app.flight.tick = failing
    feeds = rig.board.wdt.feeds
    rig.pwm.log.clear()
    frames = rig.run(1)
    assert [us for _, us in rig.pwm.log] == [SAFE_US]
    assert [e["code"] for e in rig.events(frames)] == [flight_mod.EV_FAULT]
    assert rig.telemetry(frames)[0]["faults"] == 1
    assert rig.board.wdt.feeds == feeds  # a faulted tick does not feed the watchdog
    rig.run(1)
    # the next good tick flies again: latching the engine off would turn a transient into
    # a crash; a fault that repeats stops the watchdog's feeds and resets the board
    assert rig.pwm.pulse_us > SAFE_US


def test_opening_the_arming_switch_in_flight_aborts_to_the_safe_pulse() -> None:
    rig = BoardRig()
    rig.flying()
    rig.run(5)
    rig.open_switch()
    frames = rig.run(1)
    assert rig.pwm.pulse_us == SAFE_US
    events = [(e["code"], e["arg"]) for e in rig.events(frames)]
    assert events[:2] == [(loop_mod.EV_INTERLOCK, 0), (flight_mod.EV_MODE, flight_mod.ABORT)]
    rig.close_switch()
    rig.run(5)
    assert rig.app.flight.mode == flight_mod.ABORT  # closing it again does not restart
    assert rig.pwm.pulse_us == SAFE_US


def test_opening_the_arming_switch_when_armed_disarms() -> None:
    rig = BoardRig()
    rig.close_switch()
    rig.run(10)
    rig.send(app_mod.C_ARM, 0, app_mod.ARM_OVERRIDE)
    rig.run(1)
    rig.open_switch()
    rig.run(1)
    assert rig.app.flight.mode == flight_mod.SAFE


# ---- (c) commands from the host


def test_arm_with_the_switch_open_is_refused_with_the_reason_even_with_override() -> None:
    rig = BoardRig()
    rig.run(10)
    rig.send(app_mod.C_ARM, 0, app_mod.ARM_OVERRIDE)
    frames = rig.run(1)
    assert rig.acks(frames) == [
        {
            "code": app_mod.C_ARM,
            "id": 0,
            "result": params.E_PREFLIGHT,
            "mode": flight_mod.SAFE,
            "value": app_mod.AR_ARM_SWITCH,
        }
    ]
    refused = [e["arg"] for e in rig.events(frames) if e["code"] == flight_mod.EV_ARM_REFUSED]
    assert refused == [app_mod.AR_ARM_SWITCH]
    assert rig.app.flight.mode == flight_mod.SAFE


def test_arm_without_an_accelerometer_needs_the_override_bit() -> None:
    rig = BoardRig()
    rig.close_switch()
    rig.run(10)
    rig.send(app_mod.C_ARM)
    frames = rig.run(1)
    assert rig.acks(frames)[0]["result"] == params.E_PREFLIGHT
    assert rig.acks(frames)[0]["value"] == flight_mod.AR_IMU


def test_a_tick_frame_from_the_host_is_refused_in_board_mode() -> None:
    rig = BoardRig()
    rig.run(1)
    rig.inp.pending += rig.host.tick_frame(0, 1000, rf.RF_GOOD, 0, False)
    tel = rig.telemetry(rig.run(1))
    assert rig.app.flight.ticks == 2  # the board's own ticks only
    assert tel[0]["link_errors"] == 1


def test_ping_answers_with_the_board_ticks() -> None:
    rig = BoardRig()
    rig.run(7)
    rig.send(app_mod.C_PING)
    assert rig.acks(rig.run(1))[0]["value"] == 7


def test_the_loop_period_follows_loop_hz_and_the_lidar_is_the_range_source() -> None:
    rig = BoardRig({"loop_hz": 100})
    assert rig.app.params.v[params.PERIOD_MS] == 10
    assert rig.app.params.v[params.RF_SOURCE] == 1
    rig.run(20)
    assert tick_gaps([t["time_us"] for t in rig.telemetry()]) == [10_000] * 19


# ---- (e) the LIDAR-Lite pulled mid-descent


def test_a_lidar_pulled_mid_descent_keeps_the_deadline_and_reports_it() -> None:
    rig = BoardRig(target_m=30.0)
    rig.flying()
    rig.run(20)
    assert rig.telemetry()[-1]["rf_status"] == rf.RF_GOOD
    rig.board.i2c.unplugged = True  # every transaction: OSError(ENODEV)
    tel = rig.telemetry(rig.run(60))
    assert tick_gaps([t["time_us"] for t in tel]) == [PERIOD_US] * 59
    assert rig.loop.overruns == 0
    assert {t["rf_status"] for t in tel} <= {rf.RF_NO_DATA, rf.RF_NOT_CONNECTED}
    assert tel[-1]["rf_status"] == rf.RF_NOT_CONNECTED
    assert tel[-1]["rf_errors"] > tel[0]["rf_errors"]
    assert all(t["faults"] == 0 for t in tel)
    assert rig.app.flight.mode == flight_mod.DESCENT  # flying on, on the thrust model


# ---- persistence and the configuration


def test_a_watchdog_reset_mid_descent_resumes_from_the_rtc_store() -> None:
    rig = BoardRig({"backup": "rtc"})
    rig.machine.clear_rtc()
    rig.flying()
    rig.run(20)
    t = rig.clock.now_us
    after = BoardRig({"backup": "rtc"}, start_us=t + 500_000)  # same RTC memory
    after.close_switch()
    frames = after.run(1)
    assert after.app.resumed
    assert after.app.flight.mode == flight_mod.DESCENT
    assert any(e["code"] == flight_mod.EV_RESUMED for e in after.events(frames))


def test_the_configuration_names_a_missing_key() -> None:
    cfg = dict(CONFIG)
    del cfg["pwm_pin"]
    with pytest.raises(ValueError, match="pwm_pin"):
        mb.config(cfg)


@pytest.mark.parametrize(
    "key, value",
    [("pwm_min_us", 2000), ("pwm_max_us", 3000), ("loop_hz", 20), ("wdt_ms", 30)],
)
def test_the_configuration_refuses_values_out_of_range(key: str, value: int) -> None:
    with pytest.raises(ValueError, match=key):
        mb.config(dict(CONFIG, **{key: value}))


def test_the_configuration_fills_the_defaults() -> None:
    cfg = mb.config({"i2c_scl": 5, "i2c_sda": 4, "pwm_pin": 15})
    assert cfg["i2c_timeout_us"] == 2000
    assert (cfg["pwm_hz"], cfg["pwm_min_us"], cfg["pwm_max_us"]) == (50, 1000, 2000)
    assert cfg["arm_pin"] is None  # no switch fitted: never arms


# ---- (f) the accelerometer on the LIDAR's bus


def _busy_us(rig: BoardRig, n: int) -> list[int]:
    """n ticks one by one: each tick's work on the board's clock (from its start after the
    sleep to its end), bus transactions included."""
    busy = []
    for _ in range(n):
        start = rig.telemetry(rig.run(1))[0]["time_us"]
        busy.append((rig.clock.ticks_us() - start) & TICKS_MASK)
    return busy


def test_with_an_imu_the_ticks_keep_their_deadlines_across_the_clock_wrap() -> None:
    rig = BoardRig(force=at_rest)
    busy = _busy_us(rig, 150)
    times = [t["time_us"] for t in rig.telemetry()]
    assert times[-1] < times[0]  # the wrap was crossed
    assert tick_gaps(times) == [PERIOD_US] * 149
    assert rig.loop.overruns == 0
    # the LIDAR-Lite's and the IMU's transactions together: under 1 ms of bus time a tick
    assert max(busy) < PERIOD_US // 4
    assert rig.loop.imu.tx_max <= 3


def test_the_imu_health_is_reported_at_boot_and_arm_needs_no_override() -> None:
    rig = BoardRig(force=at_rest)
    rig.close_switch()
    frames = rig.run(10)
    health = [e["arg"] for e in rig.events(frames) if e["code"] == loop_mod.EV_IMU]
    assert health == [imu_mod.ACC_NO_DATA, imu_mod.ACC_GOOD]  # probed, then sampling
    assert rig.loop.imu.acc_ok and abs(rig.loop.imu.acc_mm_s2 - 9807) < 50
    rig.send(app_mod.C_ARM)
    ack = rig.acks(rig.run(1))[0]
    assert (ack["result"], ack["mode"]) == (params.OK, flight_mod.ARMED)


def test_the_imu_mounting_and_address_come_from_the_configuration() -> None:
    rig = BoardRig(
        {"imu_addr": 0x6B, "imu_up_axis": "x", "imu_up_sign": -1, "imu_fs_g": 8},
        force=at_rest,
    )
    assert rig.imu is not None
    rig.imu.address = 0x6B  # SA0 high
    rig.imu.up_axis, rig.imu.up_sign = 0, -1  # mounted with x pointing down
    rig.run(10)
    driver = rig.loop.imu
    assert driver.acc_ok and abs(driver.acc_mm_s2 - 9807) < 50
    assert rig.imu.full_scale_g == 8


def _flying_with_the_engine_felt() -> BoardRig:
    """A flying board whose accelerometer feels what the commanded engine gives (the thrust
    model's specific force): a board at rest on the table reads 1 g against an engine the
    flight commands, which the accelerometer monitor rightly distrusts (docs/imu.md)."""
    holder: list[BoardRig] = []

    def felt(t_s: float) -> float:
        fl = holder[0].app.flight if holder else None
        if fl is None or fl.mode not in (flight_mod.DESCENT, flight_mod.TERMINAL):
            return at_rest(t_s)
        return fl._thr_lag * fl.ctrl.a_max_mm_s2 / 32767 / 1000

    rig = BoardRig(target_m=30.0, force=felt)
    holder.append(rig)
    rig.flying()
    return rig


def test_an_imu_pulled_mid_descent_keeps_the_deadline_and_flies_the_thrust_model() -> None:
    rig = _flying_with_the_engine_felt()
    tel = rig.telemetry(rig.run(20))
    assert all(t["flags"] & flags_mod.IMU_USED for t in tel)
    rig.board.i2c.nack_addr = 0x6A  # the IMU pulled: every transaction to it NACKs
    frames = rig.run(60)
    tel = rig.telemetry(frames)
    assert tick_gaps([t["time_us"] for t in tel]) == [PERIOD_US] * 59
    assert rig.loop.overruns == 0
    assert not any(t["flags"] & flags_mod.IMU_USED for t in tel)  # acc_ok 0: thrust model
    assert all(t["faults"] == 0 for t in tel)
    assert all(t["rf_status"] == rf.RF_GOOD for t in tel)  # the LIDAR-Lite is untouched
    health = [e["arg"] for e in rig.events(frames) if e["code"] == loop_mod.EV_IMU]
    assert health == [imu_mod.ACC_NO_DATA, imu_mod.ACC_NOT_CONNECTED]
    assert rig.app.flight.mode == flight_mod.DESCENT  # flying on
    rig.board.i2c.nack_addr = -1  # plugged back in: found, configured, used again
    tel = rig.telemetry(rig.run(40))
    assert tel[-1]["flags"] & flags_mod.IMU_USED


def test_a_stalled_imu_falls_back_to_the_thrust_model_and_recovers() -> None:
    rig = _flying_with_the_engine_felt()
    rig.run(10)
    assert rig.imu is not None
    t = rig.clock.now_s
    rig.imu.inject("dropout", t, t + 0.3)  # no new samples for 300 ms
    tel = rig.telemetry(rig.run(40))
    used = [bool(t["flags"] & flags_mod.IMU_USED) for t in tel]
    assert not all(used) and used[-1]
    assert all(t["faults"] == 0 for t in tel)


def test_the_configuration_has_no_imu_unless_it_says_so() -> None:
    cfg = mb.config({"i2c_scl": 5, "i2c_sda": 4, "pwm_pin": 15})
    assert cfg["imu"] == "none"
    assert (cfg["imu_addr"], cfg["imu_fs_g"], cfg["imu_up_axis"], cfg["imu_up_sign"]) == (
        0x6A,
        16,
        "z",
        1,
    )
    assert BoardRig().loop.imu is None


@pytest.mark.parametrize(
    "key, value",
    [
        ("imu", "bmi088"),
        ("imu_addr", 0x62),  # the LIDAR-Lite's
        ("imu_fs_g", 3),
        ("imu_up_axis", "w"),
        ("imu_up_axis", 2),  # a letter, not an index
        ("imu_up_sign", 0),
        ("i2c_timeout_us", 3000),  # 7 transactions x 3 ms: beyond a 20 ms period
    ],
)
def test_the_imu_configuration_refuses_bad_values_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        mb.config({**CONFIG, "imu": "lsm6dsox", key: value})


# ---- the host disconnected mid-descent


def test_a_host_gone_mid_descent_leaves_the_flight_on_its_deadline_and_the_output_flying() -> None:
    # the host armed and started the descent, then went away half-way through a frame: the
    # board flies on by itself (no command is needed to land), on time, feeding the watchdog,
    # the engine following the flight, and drops the half frame once the console is quiet
    rig = BoardRig(target_m=30.0)
    rig.flying()
    rig.run(5)
    feeds = rig.board.wdt.feeds
    half = rig.host.command_frame(app_mod.C_ABORT)[:7]  # the host died 7 bytes into a frame
    rig.inp.pending += half
    rig.pwm.log.clear()
    tel = rig.telemetry(rig.run(60))
    assert tick_gaps([t["time_us"] for t in tel]) == [PERIOD_US] * 59
    assert rig.loop.overruns == 0
    assert rig.board.wdt.feeds == feeds + 60
    assert rig.app.flight.mode == flight_mod.DESCENT  # the half ABORT was never acted on
    assert rig.app.dec.truncated == 1  # dropped after the quiet ticks, counted
    assert tel[-1]["link_errors"] >= 1  # and the telemetry says the link lost a frame
    # the engine follows the flight (its check burn, then the coast), never forced safe
    pulses = [us for _, us in rig.pwm.log]
    assert pulses == [esc_pulse(CONFIG, t["throttle_q15"]) for t in tel]
    assert max(pulses) > SAFE_US
