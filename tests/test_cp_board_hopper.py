"""The closed-loop hopper flight of tests/test_board_hopper.py, through the CircuitPython HAL
(hal/cp_board.py on the stand-ins of tests/cp_standin): the earth-hopper scenario's vehicle
(host dynamics) reading the ESC's duty cycle, the LIDAR-Lite and LSM6DSOX emulators on the
stand-in busio.I2C, the board's clock supervisor.ticks_ms at 1 ms resolution. It arms
without the override, touches down softly, declares LANDED and cuts the engine, every tick
on its deadline."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cp_stand_in import MS_WRAP_START_US, CpBoardRig

from softland.boards.firmware import fsw_module, param_ids
from softland.simulation.dynamics import Dynamics
from softland.simulation.scenario import Scenario, load_scenario
from softland.simulation.sim import firmware_parameters, scenario_dynamics

app = fsw_module("app")
flight = fsw_module("flight")
flags = fsw_module("flags")

PERIOD_S = 0.02
AFTER_CONTACT_S = 5.0


@dataclass
class Hop:
    rig: CpBoardRig
    dyn: Dynamics
    scenario: Scenario
    arm_ack: dict[str, int]
    landed_t_s: float | None
    throttle_after_landed: list[float]


@pytest.fixture(scope="module")
def hop() -> Hop:
    s = load_scenario("earth-hopper")
    dyn = scenario_dynamics(s)
    sensor_m = s.vehicle.sensor_height_m
    bias = s.imu.bias_mps2
    rig = CpBoardRig(
        {"wdt_ms": 1000},
        start_us=MS_WRAP_START_US,  # supervisor.ticks_ms wraps 1 s into the flight
        target=lambda _t: (dyn.height_above_ground_m() + sensor_m, 0.7),
        force=lambda _t: dyn.specific_force_mps2() + bias,
    )
    ids = param_ids()
    for name, value in firmware_parameters(s).items():
        rig.send(app.C_SET_PARAM, ids[name], value)
    rig.close_switch()
    rig.run(20)
    assert all(a["result"] == 0 for a in rig.acks())
    rig.send(app.C_ARM)
    arm_ack = rig.acks(rig.run(1))[0]
    rig.send(app.C_START)
    span = rig.cfg["pwm_max_us"] - rig.cfg["pwm_min_us"]
    landed_t_s = None
    after: list[float] = []
    for _ in range(int(60 / PERIOD_S)):
        rig.run(1)
        # the throttle the ESC sees: its pulse, from the 16-bit duty cycle
        pulse_us = rig.pwm.duty_cycle * 1e6 / (65536 * rig.pwm.frequency)
        throttle = min(1.0, max(0.0, (pulse_us - rig.cfg["pwm_min_us"]) / span))
        if landed_t_s is not None:
            after.append(round(throttle, 3))
        elif rig.app.flight.mode == flight.LANDED:
            landed_t_s = dyn.state.t_s
        dyn.step(throttle, PERIOD_S)
        contact = dyn.first_contact
        if contact is not None and dyn.state.t_s > contact.t_s + AFTER_CONTACT_S:
            break
    return Hop(rig, dyn, s, arm_ack, landed_t_s, after)


def test_with_the_imu_arm_passes_the_preflight_without_the_override_bit(hop: Hop) -> None:
    assert (hop.arm_ack["result"], hop.arm_ack["mode"]) == (0, flight.ARMED)


def test_the_hopper_touches_down_softly_on_every_deadline(hop: Hop) -> None:
    contact = hop.dyn.first_contact
    assert contact is not None
    assert contact.speed_mps < hop.scenario.criteria.max_touchdown_speed_mps
    assert hop.rig.loop.overruns == 0
    assert hop.rig.app.faults == 0
    tel = hop.rig.telemetry()
    descent = [t for t in tel if t["mode"] in (flight.DESCENT, flight.TERMINAL)]
    assert descent and all(t["flags"] & flags.IMU_USED for t in descent)
    assert hop.rig.board.wdt.feeds == len(tel)  # every tick on time fed the watchdog


def test_landed_is_declared_after_touchdown_and_the_engine_cut(hop: Hop) -> None:
    contact = hop.dyn.first_contact
    assert contact is not None and hop.landed_t_s is not None
    assert contact.t_s <= hop.landed_t_s < contact.t_s + 2.0
    assert hop.rig.app.flight.mode == flight.LANDED
    assert hop.throttle_after_landed and set(hop.throttle_after_landed) == {0.0}
    assert hop.rig.board.esc.pulse_us == hop.rig.cfg["pwm_min_us"]
