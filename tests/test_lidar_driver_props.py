"""Property tests of fsw.lidarlite: random sequences of bus results (valid answers, NACK, short
ACK, OSError, bus timeouts, MemoryError, 0xFF, random bytes) and irregular step times never
make step() raise, never exceed the transaction budget, keep status in 0..4 and valid_count
in 0..10; once the bus is healthy again the driver is back to GOOD."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lidar_fake import DT, LL, OUTCOMES, RF, TICKS_MASK, FakeLidar, Rig

results = st.lists(
    st.one_of(st.sampled_from(OUTCOMES), st.binary(min_size=1, max_size=17)),
    max_size=400,
)
# worst case back to GOOD on a healthy bus, at one transaction per step: garbage made the probe
# take a v3HP for a v3, so 10 reads (trigger, pointer, read: 3 steps each) fail the v3 health
# check; then a reset (1), the reboot wait (2), the probe (4), configure (2), trigger, pointer,
# read
RECOVERY_STEPS = 3 * LL.RESET_ERRORS + 13


def check(drv: object) -> None:
    assert 0 <= drv.status <= 4
    assert 0 <= drv.valid_count <= RF.VALID_COUNT_MAX
    assert 0 <= drv.tx_last <= drv.max_tx
    assert drv.tx_max <= drv.max_tx


@settings(max_examples=150, deadline=None)
@given(
    script=results,
    variant=st.sampled_from(["v3", "v3hp"]),
    max_tx=st.integers(1, 6),
)
def test_random_bus_results_never_raise_and_stay_in_budget(
    script: list, variant: str, max_tx: int
) -> None:
    rig = Rig(FakeLidar(variant), max_tx=max_tx)
    rig.bus.script.extend(script)
    while rig.bus.script:
        rig.step()  # Rig.step asserts the budget and the ranges
    rig.good(RECOVERY_STEPS)


@settings(max_examples=150, deadline=None)
@given(
    plan=st.lists(
        st.tuples(
            st.integers(0, 250_000),  # time since the previous step, us
            st.lists(st.sampled_from(OUTCOMES), max_size=6),
            st.sampled_from(["none", "lockup", "stuck_busy", "stuck_zero", "frozen", "ff"]),
            st.one_of(st.none(), st.integers(0, 0xFFFF)),
        ),
        max_size=120,
    ),
    variant=st.sampled_from(["v3", "v3hp", "absent"]),
)
def test_faults_and_irregular_step_times_never_raise(plan: list, variant: str) -> None:
    bus = FakeLidar("v3" if variant == "absent" else variant, present=variant != "absent")
    drv = LL.LidarLite(bus)
    t = 0
    for gap, outcomes, fault, cm in plan:
        t += gap
        bus.now = t
        bus.script.extend(outcomes)
        bus.cm = cm
        if fault == "ff":
            bus.ff_reads = not bus.ff_reads
        elif fault != "none":
            setattr(bus, fault, True)
        before = bus.tx
        drv.step(t & TICKS_MASK)
        assert bus.tx - before == drv.tx_last
        check(drv)
        if drv.status == RF.RF_GOOD:
            assert drv.distance_mm == 10 * ((bus.regs[0x0F] << 8) | bus.regs[0x10])
            assert LL.MIN_CM * 10 <= drv.distance_mm <= LL.MAX_CM * 10
    # healthy again: GOOD within a bounded number of 50 Hz steps
    bus.script.clear()
    bus.present, bus.ff_reads, bus.cm = True, False, 321
    bus.power_cycle()  # clears the latched faults, as a reset would
    rig = Rig(bus, t=t + DT, drv=drv)
    rig.good(RECOVERY_STEPS)
    assert drv.distance_mm == 3210
