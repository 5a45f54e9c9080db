"""Board mode on CircuitPython (hal/cp_board.py under hal/board_loop.py): the same loop as on
MicroPython, on CircuitPython's modules (busio, pwmio, digitalio, microcontroller.watchdog,
supervisor.ticks_ms, alarm.sleep_memory), here the stand-ins of tests/cp_standin with the
host's LIDAR-Lite and LSM6DSOX emulators on the stand-in busio.I2C."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from board_stand_in import TICKS_MASK, at_rest, esc_pulse, hal_module, slow_flight, tick_gaps
from cp_stand_in import CONFIG, MS_WRAP_START_US, PERIOD_US, US_WRAP_START_US, CpBoardRig
from cp_standin import state

from softland.boards.catalog import board_config, load_board
from softland.boards.firmware import fsw_module

app_mod = fsw_module("app")
flight_mod = fsw_module("flight")
params = fsw_module("params")
rf = fsw_module("rangefinder")
flags_mod = fsw_module("flags")
imu_mod = fsw_module("lsm6dsox")
loop_mod = hal_module("board_loop")
cp = hal_module("cp_board")

SAFE_US = CONFIG["pwm_min_us"]


# ---- the clock and the deadlines


@pytest.mark.parametrize(
    "start_us", [US_WRAP_START_US, MS_WRAP_START_US], ids=["us-wrap-2^30", "ticks_ms-wrap-2^29"]
)
def test_ticks_start_on_their_deadlines_across_both_clock_wraps(start_us: int) -> None:
    rig = CpBoardRig(start_us=start_us)
    rig.run(150)  # 3 s: past the wrap of the HAL's microseconds, or of supervisor.ticks_ms
    times = [t["time_us"] for t in rig.telemetry()]
    assert len(times) == 150
    assert tick_gaps(times) == [PERIOD_US] * 149
    assert rig.loop.overruns == 0
    wrapped_ms = (rig.clock.now_us // 1000) >> 29 != (start_us // 1000) >> 29
    assert times[-1] < times[0] or wrapped_ms


def test_the_clock_has_millisecond_resolution_and_the_sleeps_are_whole_ms() -> None:
    rig = CpBoardRig()
    t0 = rig.board.ticks_us()
    rig.clock.advance_us(1999)
    assert (rig.board.ticks_us() - t0) & TICKS_MASK == 1000  # 1 ms steps
    rig.clock.advance_us(1)
    assert (rig.board.ticks_us() - t0) & TICKS_MASK == 2000
    sleeps = rig.mods.time.sleeps
    del sleeps[:]
    rig.run(20)
    assert sleeps and all(round(s * 1000) == s * 1000 for s in sleeps)
    assert max(sleeps) <= PERIOD_US / 1e6
    n = len(sleeps)
    rig.board.sleep_us(999)  # under a millisecond: no sleep at all
    assert len(sleeps) == n
    before = rig.clock.now_us
    rig.board.sleep_us(10**9)  # never longer than a period
    assert rig.clock.now_us - before <= PERIOD_US + 1000


def test_a_clock_step_of_minutes_is_bounded_not_an_overflow() -> None:
    rig = CpBoardRig()
    t0 = rig.board.ticks_us()
    rig.clock.advance_us(3_600_000_000)  # an hour without a reading
    d = (rig.board.ticks_us() - t0) & TICKS_MASK
    assert d == 0x7FFFF * 1000  # ~524 s: the loop sees a tick hopelessly late and skips


def test_a_late_tick_runs_at_once_is_counted_and_is_not_fed() -> None:
    rig = CpBoardRig()
    slow_flight(rig, lambda n: 30_000 if n == 10 else 0)
    rig.run(20)
    late = [e for e in rig.events() if e["code"] == loop_mod.EV_LATE]
    assert len(late) == 1 and 10_000 <= late[0]["arg"] <= 12_000
    assert rig.loop.overruns == 1
    assert rig.board.wdt.feeds == 19


def test_the_watchdog_is_started_in_reset_mode_and_fed_once_per_tick_on_time() -> None:
    rig = CpBoardRig()
    assert rig.board.wdt is None  # not before the loop's first tick
    rig.run(150)
    wdt = rig.board.wdt
    assert wdt is rig.mods.microcontroller.watchdog
    assert wdt.mode == rig.mods.watchdog.WatchDogMode.RESET
    assert wdt.timeout == pytest.approx(CONFIG["wdt_ms"] / 1000)
    assert wdt.feeds == 150


def test_a_loop_that_keeps_missing_its_deadline_is_reset_by_the_watchdog() -> None:
    rig = CpBoardRig()
    rig.flying()
    slow_flight(rig, lambda n: 25_000)
    with pytest.raises(state.WatchdogBite):
        rig.run(50)
    assert rig.pwm.pulse_us == SAFE_US


# ---- the ESC output


def test_a_board_boots_with_the_esc_built_first_at_its_safe_pulse() -> None:
    rig = CpBoardRig()
    assert state.created[0] == "PWMOut"
    assert rig.pwm.pin.name == "D5"
    assert rig.pwm.frequency == 50
    assert rig.pwm.pulse_us == SAFE_US


@pytest.mark.parametrize("us, hz", [(1000, 50), (2000, 50), (1500, 50), (2500, 399), (500, 400)])
def test_the_duty_cycle_is_the_pulse_in_integers_below_2_to_the_30(us: int, hz: int) -> None:
    esc = CpBoardRig({"pwm_hz": hz, "pwm_max_us": 2499 if hz > 50 else 2000}).board.esc
    assert us * hz * 1024 < 1 << 30
    duty = esc.duty(us)
    assert isinstance(duty, int) and 0 <= duty <= 65535
    assert abs(duty - us * hz * 65536 / 1e6) < 1  # within one step of 16 bits


def test_the_esc_holds_the_disarmed_pulse_in_safe_and_armed() -> None:
    rig = CpBoardRig()
    rig.close_switch()
    rig.run(10)
    rig.send(app_mod.C_ARM, 0, app_mod.ARM_OVERRIDE)
    rig.run(10)
    assert rig.app.flight.mode == flight_mod.ARMED
    assert {us for _, us in rig.pwm.log} == {SAFE_US}


def test_the_esc_follows_the_throttle_in_flight() -> None:
    rig = CpBoardRig()
    rig.flying()
    rig.pwm.log.clear()
    tel = rig.telemetry(rig.run(30))
    pulses = [us for _, us in rig.pwm.log]
    expected = [esc_pulse(CONFIG, t["throttle_q15"]) for t in tel]
    assert len(pulses) == len(expected) == 30
    # within 1 us: the 16-bit duty cycle of a 20 ms period steps by 0.3 us
    assert all(abs(p - e) <= 1 for p, e in zip(pulses, expected, strict=True))
    assert max(pulses) > SAFE_US


def test_abort_brings_the_esc_to_its_safe_pulse() -> None:
    rig = CpBoardRig()
    rig.flying()
    rig.run(5)
    assert rig.pwm.pulse_us > SAFE_US
    rig.send(app_mod.C_ABORT)
    rig.run(5)
    assert rig.app.flight.mode == flight_mod.ABORT
    assert rig.pwm.pulse_us == SAFE_US


def test_an_exception_in_the_flight_makes_that_tick_safe_and_unfed() -> None:
    rig = CpBoardRig()
    rig.flying()
    rig.run(5)
    tick = rig.app.flight.tick
    calls: list[tuple[int, ...]] = []

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
    assert rig.board.wdt.feeds == feeds


def test_opening_the_arming_switch_in_flight_aborts_to_the_safe_pulse() -> None:
    rig = CpBoardRig()
    rig.flying()
    rig.run(5)
    rig.open_switch()
    frames = rig.run(1)
    assert rig.pwm.pulse_us == SAFE_US
    events = [(e["code"], e["arg"]) for e in rig.events(frames)]
    assert events[:2] == [(loop_mod.EV_INTERLOCK, 0), (flight_mod.EV_MODE, flight_mod.ABORT)]


def test_the_switch_is_pulled_open_and_arm_is_refused_while_it_is() -> None:
    rig = CpBoardRig()
    sw = rig.board.switch._pin
    assert sw.pull == rig.mods.digitalio.Pull.UP  # closes to GND: a broken wire reads open
    rig.run(10)
    rig.send(app_mod.C_ARM, 0, app_mod.ARM_OVERRIDE)
    ack = rig.acks(rig.run(1))[0]
    assert (ack["result"], ack["value"]) == (params.E_PREFLIGHT, app_mod.AR_ARM_SWITCH)


def test_the_led_is_on_in_flight_and_off_after_abort() -> None:
    rig = CpBoardRig()
    rig.flying()
    rig.run(2)
    led = rig.board.led._pin
    assert led.name == "D13" and led.value is True
    rig.send(app_mod.C_ABORT)
    rig.run(2)
    assert led.value is False


# ---- the I2C bus


def test_the_bus_is_locked_for_each_transaction_and_released() -> None:
    rig = CpBoardRig(force=at_rest)
    rig.run(20)
    bus = rig.board.i2c.bus
    assert bus.lock_calls > 20
    assert bus.bus.try_lock()  # released after every transaction
    bus.bus.unlock()
    assert rig.telemetry()[-1]["rf_status"] == rf.RF_GOOD
    assert rig.loop.imu.acc_ok and abs(rig.loop.imu.acc_mm_s2 - 9807) < 50


def test_a_bus_held_by_another_user_fails_the_transaction_after_bounded_tries() -> None:
    rig = CpBoardRig(target_m=30.0)
    rig.flying()
    rig.run(10)
    bus = rig.board.i2c.bus
    bus.held_by_other = True
    calls = bus.lock_calls
    tel = rig.telemetry(rig.run(30))
    assert bus.lock_calls - calls <= 30 * 4 * cp.LOCK_TRIES  # bounded: no spin for ever
    assert rig.board.i2c.lock_failures > 0
    assert tick_gaps([t["time_us"] for t in tel]) == [PERIOD_US] * 29
    assert tel[-1]["rf_status"] == rf.RF_NOT_CONNECTED
    assert all(t["faults"] == 0 for t in tel)
    bus.held_by_other = False
    assert rig.telemetry(rig.run(40))[-1]["rf_status"] == rf.RF_GOOD


def test_a_lidar_pulled_mid_descent_keeps_the_deadline_and_reports_it() -> None:
    rig = CpBoardRig(target_m=30.0)
    rig.flying()
    rig.run(20)
    rig.board.i2c.bus.unplugged = True
    tel = rig.telemetry(rig.run(60))
    assert tick_gaps([t["time_us"] for t in tel]) == [PERIOD_US] * 59
    assert tel[-1]["rf_status"] == rf.RF_NOT_CONNECTED
    assert all(t["faults"] == 0 for t in tel)
    assert rig.app.flight.mode == flight_mod.DESCENT


def test_an_imu_pulled_mid_descent_flies_the_thrust_model() -> None:
    rig = CpBoardRig(target_m=30.0, force=at_rest)
    rig.flying()
    rig.run(20)
    rig.board.i2c.bus.nack_addr = 0x6A
    tel = rig.telemetry(rig.run(60))
    assert not any(t["flags"] & flags_mod.IMU_USED for t in tel)
    assert all(t["rf_status"] == rf.RF_GOOD for t in tel)
    assert rig.app.flight.mode == flight_mod.DESCENT


def test_a_bus_without_pull_ups_at_boot_leaves_a_board_that_runs_safe() -> None:
    rig = CpBoardRig(emulator=False)  # busio.I2C raises: nothing on the bus
    assert isinstance(rig.board.i2c, cp.NoBus)
    assert rig.board.bus_error is not None
    tel = rig.telemetry(rig.run(20))
    assert tick_gaps([t["time_us"] for t in tel]) == [PERIOD_US] * 19
    assert tel[-1]["rf_status"] == rf.RF_NOT_CONNECTED
    assert rig.pwm.pulse_us == SAFE_US


def test_the_bus_wrapper_allocates_nothing_per_transaction() -> None:
    rig = CpBoardRig(force=at_rest)
    rig.run(5)
    i2c = rig.board.i2c
    w, r = bytearray(2), bytearray(6)
    # the stand-in bus copies bytes (CPython): measure the wrapper's own lines only
    tracemalloc.start()
    snap0 = tracemalloc.take_snapshot()
    for _ in range(50):
        i2c.writeto_mem(0x6A, 0x10, w)
        i2c.readfrom_mem_into(0x6A, 0x28, r)
    snap1 = tracemalloc.take_snapshot()
    tracemalloc.stop()
    cp_file = str(Path(cp.__file__))
    grown = [
        s
        for s in snap1.compare_to(snap0, "lineno")
        if s.traceback[0].filename == cp_file and s.size_diff > 0
    ]
    assert grown == []


# ---- persistence in alarm.sleep_memory


def test_a_watchdog_reset_mid_descent_resumes_from_sleep_memory() -> None:
    CpBoardRig().mods.alarm.sleep_memory.clear()
    rig = CpBoardRig({"backup": "sleep_memory"})
    rig.flying()
    rig.run(20)
    assert rig.mods.alarm.sleep_memory.writes >= 20  # a record every tick
    after = CpBoardRig({"backup": "sleep_memory"}, start_us=rig.clock.now_us + 500_000)
    after.close_switch()
    frames = after.run(1)
    assert after.app.resumed
    assert after.app.flight.mode == flight_mod.DESCENT
    assert any(e["code"] == flight_mod.EV_RESUMED for e in after.events(frames))


def test_backup_none_keeps_nothing_and_auto_uses_sleep_memory_where_the_port_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CpBoardRig({"backup": "none"}).board.backup is None
    assert isinstance(CpBoardRig({"backup": "auto"}).board.backup, cp.SleepMemoryBackup)

    class NotAvailable:  # older SAMD ports: "Sleep Memory not available"
        def __len__(self) -> int:
            raise NotImplementedError("Sleep Memory not available")

    rig = CpBoardRig({"backup": "none"})
    monkeypatch.setattr(rig.mods.alarm, "sleep_memory", NotAvailable())
    assert cp.CircuitPythonBoard(dict(rig.cfg, backup="auto"), rig.mods).backup is None
    with pytest.raises(ValueError, match="sleep_memory"):
        cp.CircuitPythonBoard(dict(rig.cfg, backup="sleep_memory"), rig.mods)


# ---- the configuration


def test_the_feather_board_files_give_a_configuration_the_hal_accepts() -> None:
    for name in ("feather_rp2040", "feather_m4"):
        scope: dict = {}
        exec(board_config(load_board(name), "board"), scope)
        cfg = cp.config(scope["CONFIG"])
        assert cfg["hal"] == "circuitpython"
        assert (cfg["i2c_scl"], cfg["i2c_sda"], cfg["pwm_pin"]) == ("SCL", "SDA", "D5")
        assert (cfg["arm_pin"], cfg["led_pin"], cfg["imu"]) == ("D6", "LED", "lsm6dsox")
        rig = CpBoardRig(cfg, force=at_rest)  # and builds a board that flies
        rig.run(10)
        assert rig.loop.imu.acc_ok


@pytest.mark.parametrize(
    "key, value",
    [
        ("hal", "machine"),
        ("pwm_pin", 7),  # a GPIO number: CircuitPython names its pins
        ("arm_pin", "board.D6"),
        ("pwm_min_us", 2000),
        ("loop_hz", 20),
        ("wdt_ms", 30),
        ("backup", "rtc"),
        ("imu", "bmi088"),
    ],
)
def test_the_configuration_refuses_bad_values_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        cp.config({**CONFIG, key: value})


def test_a_pin_the_board_does_not_have_is_named_at_boot() -> None:
    with pytest.raises(ValueError, match="board.D99"):
        CpBoardRig({"arm_pin": "D99"})
