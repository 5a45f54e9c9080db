"""A closed-loop hopper flight in board mode: the earth-hopper scenario's vehicle (host
dynamics) flown by the board loop on the `machine` stand-in, the dynamics reading the ESC's
pulse, the LIDAR-Lite emulator on the board's bus ranging to the dynamics' ground. No
accelerometer: the flight propagates on its thrust model."""

from __future__ import annotations

import pytest
from board_stand_in import BoardRig

from softland.boards.firmware import fsw_module, param_ids
from softland.simulation.dynamics import Dynamics
from softland.simulation.scenario import load_scenario
from softland.simulation.sim import firmware_parameters

app = fsw_module("app")
flight = fsw_module("flight")

PERIOD_S = 0.02
AFTER_CONTACT_S = 5.0


def _fly() -> tuple[BoardRig, Dynamics]:
    """Upload the scenario's parameters, ARM (override: no accelerometer), START, then fly
    until LANDED or AFTER_CONTACT_S after the first ground contact."""
    s = load_scenario("earth-hopper")
    v = s.vehicle
    dyn = Dynamics(
        gravity_mps2=s.body.g,
        dry_mass_kg=v.mass_kg - v.propellant_kg,
        propellant_kg=v.propellant_kg,
        max_thrust_n=v.max_thrust_n,
        isp_s=v.isp_s,
        throttle_min=v.throttle_min,
        throttle_max=v.throttle_max,
        engine_lag_s=v.engine_lag_s,
        altitude_m=s.initial.altitude_m,
        velocity_mps=s.initial.velocity_mps,
        substeps=20,
    )
    rig = BoardRig(
        {"wdt_ms": 1000},
        target=lambda _t: (dyn.height_above_ground_m() + v.sensor_height_m, 0.7),
    )
    ids = param_ids()
    for name, value in firmware_parameters(s).items():
        rig.send(app.C_SET_PARAM, ids[name], value)
    rig.close_switch()
    rig.run(20)
    assert all(a["result"] == 0 for a in rig.acks())
    rig.send(app.C_ARM, 0, app.ARM_OVERRIDE)
    rig.run(1)
    rig.send(app.C_START)
    span = rig.cfg["pwm_max_us"] - rig.cfg["pwm_min_us"]
    for _ in range(int(60 / PERIOD_S)):
        rig.run(1)
        dyn.step((rig.pwm.pulse_us - rig.cfg["pwm_min_us"]) / span, PERIOD_S)
        contact = dyn.first_contact
        if rig.app.flight.mode == flight.LANDED or (
            contact is not None and dyn.state.t_s > contact.t_s + AFTER_CONTACT_S
        ):
            break
    return rig, dyn


@pytest.fixture(scope="module")
def hop() -> tuple[BoardRig, Dynamics]:
    return _fly()


def test_the_hopper_touches_down_softly_flown_by_the_board_loop(
    hop: tuple[BoardRig, Dynamics],
) -> None:
    rig, dyn = hop
    assert dyn.first_contact is not None
    assert (
        dyn.first_contact.speed_mps
        < load_scenario("earth-hopper").criteria.max_touchdown_speed_mps
    )
    assert rig.loop.overruns == 0
    assert rig.app.faults == 0


@pytest.mark.xfail(
    reason="without an accelerometer the land detector does not see the ground: the velocity "
    "estimate drifts on the thrust model and the engine keeps ~45 % throttle on the ground "
    "(flight core, issue 9: an accelerometer in board mode)",
    strict=True,
)
def test_the_hopper_is_declared_landed_and_the_esc_made_safe(
    hop: tuple[BoardRig, Dynamics],
) -> None:
    rig, _ = hop
    assert rig.app.flight.mode == flight.LANDED
    assert rig.pwm.pulse_us == rig.cfg["pwm_min_us"]
