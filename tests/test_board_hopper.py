"""A closed-loop hopper flight in board mode: the earth-hopper scenario's vehicle (host
dynamics) flown by the board loop on the `machine` stand-in, the dynamics reading the ESC's
pulse, the LIDAR-Lite emulator on the board's bus ranging to the dynamics' ground and the
LSM6DSOX emulator beside it (0x6A) sampling the dynamics' specific force. With the
accelerometer the flight arms without the override, lands, declares LANDED and cuts the
engine; without one (board configuration "imu": "none") it touches down as softly but never
sees the ground, which is why board mode flies with the IMU."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from board_stand_in import BoardRig

from softland.boards.firmware import fsw_module, param_ids
from softland.simulation.dynamics import Dynamics
from softland.simulation.scenario import Scenario, load_scenario
from softland.simulation.sim import firmware_parameters, scenario_dynamics

app = fsw_module("app")
flight = fsw_module("flight")
flags = fsw_module("flags")
imu_driver = fsw_module("lsm6dsox")
loop_mod = pytest.importorskip("board_stand_in").hal_module("board_loop")

PERIOD_S = 0.02
AFTER_CONTACT_S = 5.0


@dataclass
class Hop:
    rig: BoardRig
    dyn: Dynamics
    scenario: Scenario
    arm_ack: dict[str, int]
    landed_t_s: float | None  # dynamics time when the flight first reported LANDED
    throttle_after_landed: list[float]  # ESC throttle (0..1) on every tick after it


def _fly(with_imu: bool, imu_lost_at_m: float | None = None) -> Hop:
    """Upload the scenario's parameters, ARM (the override bit only without an IMU), START,
    then fly until AFTER_CONTACT_S after the first ground contact. imu_lost_at_m: the IMU
    NACKs every transaction from that height above the ground down."""
    s = load_scenario("earth-hopper")
    dyn = scenario_dynamics(s)
    sensor_m = s.vehicle.sensor_height_m
    bias = s.imu.bias_mps2  # the scenario's accelerometer bias, on the up axis
    rig = BoardRig(
        {"wdt_ms": 1000},
        target=lambda _t: (dyn.height_above_ground_m() + sensor_m, 0.7),
        force=(lambda _t: dyn.specific_force_mps2() + bias) if with_imu else None,
    )
    ids = param_ids()
    for name, value in firmware_parameters(s).items():
        rig.send(app.C_SET_PARAM, ids[name], value)
    rig.close_switch()
    rig.run(20)
    assert all(a["result"] == 0 for a in rig.acks())
    rig.send(app.C_ARM, 0, 0 if with_imu else app.ARM_OVERRIDE)
    arm_ack = rig.acks(rig.run(1))[0]
    rig.send(app.C_START)
    span = rig.cfg["pwm_max_us"] - rig.cfg["pwm_min_us"]
    landed_t_s = None
    after: list[float] = []
    for _ in range(int(60 / PERIOD_S)):
        if imu_lost_at_m is not None and dyn.height_above_ground_m() < imu_lost_at_m:
            rig.board.i2c.nack_addr = 0x6A  # the IMU pulled off the bus
        rig.run(1)
        throttle = (rig.pwm.pulse_us - rig.cfg["pwm_min_us"]) / span
        if landed_t_s is not None:
            after.append(throttle)
        elif rig.app.flight.mode == flight.LANDED:
            landed_t_s = dyn.state.t_s
        dyn.step(throttle, PERIOD_S)
        contact = dyn.first_contact
        if contact is not None and dyn.state.t_s > contact.t_s + AFTER_CONTACT_S:
            break
    return Hop(rig, dyn, s, arm_ack, landed_t_s, after)


@pytest.fixture(scope="module")
def hop() -> Hop:
    return _fly(with_imu=True)


@pytest.fixture(scope="module")
def hop_without_imu() -> Hop:
    return _fly(with_imu=False)


def test_with_the_imu_arm_passes_the_preflight_without_the_override_bit(hop: Hop) -> None:
    assert hop.arm_ack["result"] == 0
    assert hop.arm_ack["mode"] == flight.ARMED
    codes = [e["code"] for e in hop.rig.events()]
    assert flight.EV_ARM_OVERRIDE not in codes
    # the IMU's health as the host saw it: probed, then good
    imu_events = [e["arg"] for e in hop.rig.events() if e["code"] == loop_mod.EV_IMU]
    assert imu_events[:2] == [imu_driver.ACC_NO_DATA, imu_driver.ACC_GOOD]


def test_with_the_imu_the_hopper_touches_down_softly(hop: Hop) -> None:
    contact = hop.dyn.first_contact
    assert contact is not None
    assert contact.speed_mps < hop.scenario.criteria.max_touchdown_speed_mps
    assert hop.rig.loop.overruns == 0  # every tick on its deadline, IMU and LIDAR on the bus
    assert hop.rig.app.faults == 0
    tel = hop.rig.telemetry()
    descent = [t for t in tel if t["mode"] in (flight.DESCENT, flight.TERMINAL)]
    assert descent and all(t["flags"] & flags.IMU_USED for t in descent)


def test_with_the_imu_landed_is_declared_after_touchdown_and_the_engine_cut(hop: Hop) -> None:
    contact = hop.dyn.first_contact
    assert contact is not None and hop.landed_t_s is not None
    assert contact.t_s <= hop.landed_t_s < contact.t_s + 2.0
    assert hop.rig.app.flight.mode == flight.LANDED
    assert hop.throttle_after_landed and set(hop.throttle_after_landed) == {0.0}
    assert hop.rig.pwm.pulse_us == hop.rig.cfg["pwm_min_us"]  # the safe pulse


def test_without_an_imu_the_hopper_touches_down_but_never_sees_the_ground(
    hop_without_imu: Hop,
) -> None:
    # the documented behaviour without an accelerometer (docs/architecture.md, "Board mode"):
    # ARM needs the override bit, the touchdown is soft, but on the ground the velocity
    # estimate drifts on the thrust model, the land detector's speed condition never holds
    # and the engine keeps burning
    hop = hop_without_imu
    contact = hop.dyn.first_contact
    assert hop.arm_ack["result"] == 0  # with the override bit
    assert any(e["code"] == flight.EV_ARM_OVERRIDE for e in hop.rig.events())
    assert contact is not None
    assert contact.speed_mps < hop.scenario.criteria.max_touchdown_speed_mps
    assert hop.landed_t_s is None
    assert hop.rig.app.flight.mode in (flight.DESCENT, flight.TERMINAL)
    assert hop.rig.pwm.pulse_us > hop.rig.cfg["pwm_min_us"] + 300  # ~45 % throttle, grounded


def test_an_imu_pulled_mid_descent_falls_back_to_the_thrust_model() -> None:
    hop = _fly(with_imu=True, imu_lost_at_m=15.0)
    rig = hop.rig
    assert rig.loop.overruns == 0  # NACKs are quick: the loop keeps its deadline
    assert rig.app.faults == 0  # no fault: the driver turns the NACK into health
    assert rig.loop.imu.status == imu_driver.ACC_NOT_CONNECTED
    imu_events = [e["arg"] for e in rig.events() if e["code"] == loop_mod.EV_IMU]
    assert imu_events[-1] == imu_driver.ACC_NOT_CONNECTED
    tel = rig.telemetry()
    flying = [t for t in tel if t["mode"] in (flight.DESCENT, flight.TERMINAL)]
    used = [bool(t["flags"] & flags.IMU_USED) for t in flying]
    # the accelerometer, then (after the pull) the thrust model for good, without an abort
    k = used.index(False)
    assert k > 0 and not any(used[k:])
    assert all(t["mode"] != flight.ABORT for t in tel)
    contact = hop.dyn.first_contact
    assert contact is not None
    assert contact.speed_mps < hop.scenario.criteria.max_touchdown_speed_mps
    # and, as without an IMU, the ground is not seen: no LANDED (docs/architecture.md,
    # "Board mode": the engine burns on until the switch is opened or ABORT is sent)
    assert hop.landed_t_s is None
