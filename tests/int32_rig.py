"""Property cases for the firmware's per-tick paths on the 32-bit MicroPython runtime.

Hypothesis draws the cases on the host (extreme but legal parameters, state, sensor values,
times and counters); they are encoded as integer lines (softland/boards/mpside/int32_cases.py)
and run in batches: all of them in ONE 32-bit `micropython` process with the heap locked around
each case's ticks, and the same lines in CPython (the firmware imported as on the CPython
runtime).
A case faults on 32 bits when an intermediate leaves -2^30..2^30-1 (an allocation: MemoryError
under the heap lock); its outputs must be bit-identical to CPython's either way.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softland.analysis.bench import MPSIDE_DIR
from softland.boards.firmware import fsw_module
from softland.boards.runtimes import micropython_env

params_mod = fsw_module("params")
P = params_mod
RUNNER = MPSIDE_DIR / "int32_cases.py"

I32_MIN = -(1 << 30)
I32_MAX = (1 << 30) - 1
TICKS_WRAP = 1 << 30
COUNT_WRAP = 1 << 29
FLIGHT_KIND = 0
APP_KIND = 1
FLIGHT_WIDTH = 6
APP_WIDTH = 6

# state limits the firmware keeps (its clamps): a state inside them is one a flight can reach
ALT_MIN, ALT_MAX = -1_000_000, 1_000_000_000
VEL_MAX_Q8 = 38_400_000
SIGMA_MAX = 6_000_000  # fsw/estimator.py _SIGMA_MAX (SIGMA0_MM is at most 5 km)
BIAS_MAX_Q8 = 256_000
INNOV_LIM = 500_000_000  # fsw/estimator.py _INNOV_LIM
PREV_OFF_MAX = 2**28  # fsw/estimator.py _PREV_OFF_MAX
PERF_MIN, PERF_MAX = 2048, 6144
MASS_MIN_Q24, MASS_ONE_Q24 = 1 << 20, 1 << 24
ACC_FS = 627_648  # 64 g


@dataclass(frozen=True)
class Case:
    """One property case: a fresh Flight (kind 0) or App (kind 1), its parameters, its state
    before the first step, and its steps (ticks, or frames for the App)."""

    kind: int
    params: tuple[int, ...]
    setup: tuple[int, ...]
    steps: tuple[tuple[int, ...], ...]

    def line(self, case_id: int) -> str:
        width = FLIGHT_WIDTH if self.kind == FLIGHT_KIND else APP_WIDTH
        flat = [v for step in self.steps for v in step]
        words = [case_id, self.kind, len(self.params), *self.params, len(self.setup)]
        words += [*self.setup, len(self.steps), width, *flat]
        return " ".join(str(w) for w in words)


@dataclass(frozen=True)
class Outcome:
    """What a runtime printed for a case: the exception that escaped ("-" for none), the
    steps completed, the App's fault count and the digest of every step's outputs."""

    fault: str
    steps: int
    app_faults: int
    digest: int


def parse(out: str) -> dict[int, Outcome]:
    results: dict[int, Outcome] = {}
    for row in out.splitlines():
        words = row.split()
        if len(words) == 5 and words[0].lstrip("-").isdigit():
            results[int(words[0])] = Outcome(words[1], int(words[2]), int(words[3]), int(words[4]))
    return results


def run_32bit(
    binary: Path, cases: Sequence[Case], firmware: Path | None = None, timeout: float = 600
) -> dict[int, Outcome]:
    """All cases in one 32-bit MicroPython process (firmware: another firmware/ directory)."""
    env = micropython_env(MPSIDE_DIR)
    if firmware is not None:
        env["MICROPYPATH"] = f"{firmware}:{MPSIDE_DIR}:.frozen"
    text = "".join(c.line(i) + "\n" for i, c in enumerate(cases))
    proc = subprocess.run(
        [str(binary), "-X", "heapsize=2M", str(RUNNER)],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return parse(proc.stdout)


def _runner_module() -> ModuleType:
    fsw_module("app")  # the fsw package as the CPython runtime imports it
    name = "softland_int32_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, RUNNER)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def run_cpython(cases: Sequence[Case]) -> dict[int, Outcome]:
    runner = _runner_module()
    buf = io.StringIO()
    with redirect_stdout(buf):
        for i, c in enumerate(cases):
            print(runner.run_line(c.line(i)))
    return parse(buf.getvalue())


# ---- strategies -------------------------------------------------------------------------


def _ends_or_any(lo: int, hi: int, *special: int) -> st.SearchStrategy[int]:
    """Either end of a range, a few special values inside it, or anything in it."""
    picks = [lo, hi, *(s for s in special if lo <= s <= hi)]
    return st.one_of(st.sampled_from(picks), st.integers(lo, hi))


def _consistent(v: list[int]) -> list[int]:
    """Adjust a parameter set (each value in its range) to pass Params.check's cross checks,
    keeping the values at their ends where possible."""
    if v[P.THR_MIN_Q15] >= v[P.THR_MAX_Q15]:
        v[P.THR_MIN_Q15] = v[P.THR_MAX_Q15] - 1
    if v[P.AMAX0_MM_S2] * v[P.THR_MAX_Q15] // 32768 <= v[P.GRAVITY_MM_S2]:
        v[P.THR_MAX_Q15] = 32767
        v[P.GRAVITY_MM_S2] = min(v[P.GRAVITY_MM_S2], v[P.AMAX0_MM_S2] * 32767 // 32768 - 1)
    if v[P.LAND_ALT_MM] >= v[P.TERM_ALT_MM] and v[P.TERM_ALT_MM] > 0:
        v[P.LAND_ALT_MM] = v[P.TERM_ALT_MM] - 1
    if v[P.BLIND_SINK_MM_S] > v[P.BLIND_MAX_MM_S]:
        v[P.BLIND_SINK_MM_S] = v[P.BLIND_MAX_MM_S]
    return v


@st.composite
def param_sets(draw: st.DrawFn) -> tuple[int, ...]:
    """Every parameter at either end of its range, its default, or anywhere in it; the set
    adjusted to be accepted at ARM."""
    v = [
        draw(_ends_or_any(P.bounds_min(i), P.bounds_max(i), P.default(i))) for i in range(P.COUNT)
    ]
    v = _consistent(v)
    p = P.Params()
    for i, x in enumerate(v):
        assert p.set(i, x) == P.OK
    assert p.check() == P.OK, v
    return tuple(v)


def _near_wrap(wrap: int) -> st.SearchStrategy[int]:
    """A counter's value: small, anywhere, or within a few steps of its wrap."""
    return st.one_of(
        st.integers(0, 10), st.integers(wrap - 40, wrap - 1), st.integers(0, wrap - 1)
    )


TIME = st.one_of(
    st.integers(TICKS_WRAP - 3_000_000, TICKS_WRAP - 1),  # about to wrap
    st.integers(0, TICKS_WRAP - 1),
    st.integers(I32_MIN, I32_MAX),  # whatever the link carries, negative included
)
I32 = st.integers(I32_MIN, I32_MAX)
RANGE_MM = st.one_of(
    st.sampled_from([0, 1, -1, 1000, 100_000_000, 100_000_001, I32_MAX, I32_MIN]),
    st.integers(1, 100_000_000),
    I32,
)
STATUS = st.one_of(st.integers(0, 4), st.integers(0, 255))
ACC = st.one_of(
    st.sampled_from([I32_MIN, I32_MAX, ACC_FS, ACC_FS + 1, -ACC_FS, -ACC_FS - 1, 0, 1620]),
    st.integers(-40_000, 40_000),
    st.integers(-ACC_FS, ACC_FS),
    I32,
)
ACC_OK = st.sampled_from([1, 1, 1, 0, 255])
AGE_MS = st.one_of(
    st.sampled_from([-1, 0, 500, 501, (1 << 29) // 1000, I32_MIN, I32_MAX]),
    st.integers(-1, 600),
    I32,
)


@st.composite
def tick_times(draw: st.DrawFn, period_ms: int, first: int, n: int) -> list[int]:
    """n tick times after `first`: on time, late (up to past the resume limit), early
    (dt zero or negative), wildly off, or whatever the link carries."""
    period = period_ms * 1000
    dt = st.one_of(
        st.just(period),
        st.sampled_from([0, -1, period // 2, 2 * period, 4 * period, 101 * period]),
        st.integers(-period, 5 * period),
        st.integers(95 * period, 105 * period),  # around the resume limit (100 steps)
        st.integers(-(1 << 29), (1 << 29) - 1),  # anywhere in the signed half-range
    )
    times = []
    now = first
    for _ in range(n):
        if draw(st.integers(0, 9)) == 0:
            now = draw(TIME)
        else:
            now = (now + draw(dt)) & (TICKS_WRAP - 1)
        times.append(now)
    return times


MODES = st.sampled_from([0, 1, 2, 2, 2, 3, 3, 3, 4, 5])


@st.composite
def flight_cases(draw: st.DrawFn, max_ticks: int = 24) -> Case:
    v = draw(param_sets())
    mode = draw(MODES)
    last_us = draw(TIME)
    throttle = draw(_ends_or_any(v[P.THR_MIN_Q15], v[P.THR_MAX_Q15]))
    setup = {
        "mode": mode,
        "resuming": draw(st.sampled_from([0, 0, 1])),
        "started": draw(st.sampled_from([1, 1, 1, 0])),
        "last_us": last_us,
        "ticks": draw(_near_wrap(TICKS_WRAP)),
        "overruns": draw(_near_wrap(COUNT_WRAP)),
        "engine": draw(st.sampled_from([0, 1, 1])),
        "throttle": throttle,
        "steady": draw(st.sampled_from([0, 24, 25, 100])),
        "check_ms": draw(_ends_or_any(0, v[P.CAL_MS])),
        "alt_mm": draw(_ends_or_any(ALT_MIN, ALT_MAX, 0, 1000, 3_000_000)),
        "vel_q8": draw(_ends_or_any(-VEL_MAX_Q8, VEL_MAX_Q8, 0)),
        "sigma_mm": draw(_ends_or_any(0, SIGMA_MAX, 200)),
        "blind": draw(st.sampled_from([0, 1])),
        "blind_ms": draw(_ends_or_any(0, 1_000_000)),
        "vin_q8": draw(_ends_or_any(-VEL_MAX_Q8, VEL_MAX_Q8, 0)),
        "perf_q12": draw(_ends_or_any(PERF_MIN, PERF_MAX, 4096)),
        "mass_q24": draw(_ends_or_any(MASS_MIN_Q24, MASS_ONE_Q24)),
        "integ_q8": draw(_ends_or_any(-(v[P.AMAX0_MM_S2] << 7), v[P.AMAX0_MM_S2] << 7, 0)),
        "scatter_q4": draw(_ends_or_any(0, 50_000 << 4)),
        "acc_bias_q8": draw(_ends_or_any(-BIAS_MAX_Q8, BIAS_MAX_Q8, 0)),
        "bias_q8": draw(_ends_or_any(-BIAS_MAX_Q8, BIAS_MAX_Q8, 0)),
        "thr_lag": draw(_ends_or_any(0, 32767)),
        "last_thr": draw(st.one_of(st.just(throttle), st.integers(0, 32767))),
        "clk_ms": draw(_near_wrap(TICKS_WRAP)),
        # the left track's offset is clamped to +/-2^28; a candidate's is an innovation
        # beyond the gate, at most _INNOV_LIM
        "prev_off": draw(_ends_or_any(-PREV_OFF_MAX, PREV_OFF_MAX, 0)),
        "cand_off": draw(_ends_or_any(1, INNOV_LIM, 400_000)),
        "tracks": draw(st.integers(0, 3)),
        "clear_ms": draw(_ends_or_any(0, 980)),  # guidance: a second clears the blind band
    }
    n = draw(st.integers(1, max_ticks))
    times = draw(tick_times(v[P.PERIOD_MS], last_us & (TICKS_WRAP - 1), n))
    steps = tuple(
        (t, draw(RANGE_MM), draw(STATUS), draw(ACC), draw(ACC_OK), draw(AGE_MS)) for t in times
    )
    return Case(FLIGHT_KIND, v, tuple(setup[k] for k in FLIGHT_SETUP), steps)


FLIGHT_SETUP: tuple[str, ...] = _runner_module().FLIGHT_SETUP
APP_SETUP: tuple[str, ...] = _runner_module().APP_SETUP
SEL_TICK, SEL_BAD_CRC, SEL_SHORT_TICK, SEL_COMMAND, SEL_SERIAL, SEL_I2C_RESP, SEL_REPLAY = range(7)


@st.composite
def app_cases(draw: st.DrawFn, max_frames: int = 24, fail_writes: bool = False) -> Case:
    """An App (link codec, flight, telemetry, persistence) fed frames: ticks with extreme
    fields, corrupted and short ones, commands with any code, id and value, serial bytes,
    stray I2C answers, replays; its counters start near their wrap."""
    v = draw(param_sets())
    setup = {
        "mode": draw(st.sampled_from([0, 1, 2, 2, 2])),
        "backup": draw(st.sampled_from([0, 1])),
        "ticks": draw(_near_wrap(TICKS_WRAP)),
        "overruns": draw(_near_wrap(COUNT_WRAP)),
        "enc_frames": draw(_near_wrap(COUNT_WRAP)),
        "dec_counters": draw(_near_wrap(COUNT_WRAP)),
        "faults": draw(_near_wrap(COUNT_WRAP)),
        "bad_frames": draw(_near_wrap(COUNT_WRAP)),
        "fail_every": draw(st.integers(1, 4)) if fail_writes else 0,
        "dev_counters": draw(_near_wrap(COUNT_WRAP)),
        "rf_source": draw(st.sampled_from([0, 0, 1, 2])),
    }
    n = draw(st.integers(1, max_frames))
    times = draw(tick_times(v[P.PERIOD_MS], draw(TIME) & (TICKS_WRAP - 1), n))
    sel = st.sampled_from([SEL_TICK] * 6 + list(range(1, 7)))
    steps = tuple(
        (draw(sel), t, draw(RANGE_MM), draw(STATUS), draw(ACC), draw(ACC_OK)) for t in times
    )
    return Case(APP_KIND, v, tuple(setup[k] for k in APP_SETUP), steps)


def draw_cases(strategy: st.SearchStrategy[Case], n: int) -> list[Case]:
    """n cases from hypothesis, deterministic (derandomized)."""
    cases: list[Case] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Case) -> None:
        cases.append(case)

    collect()
    return cases


def examples(default: int) -> int:
    """Cases per property: SOFTLAND_PROP_EXAMPLES when set (a larger run), else default."""
    return int(os.environ.get("SOFTLAND_PROP_EXAMPLES", default))


def firmware_copy(dest: Path, source: Path) -> Path:
    """A copy of the firmware's fsw package under dest (to plant a fault in)."""
    (dest / "fsw").mkdir(parents=True)
    for f in (source / "fsw").glob("*.py"):
        (dest / "fsw" / f.name).write_bytes(f.read_bytes())
    return dest


def overflow_sites(
    cases: Sequence[Case], ids: Sequence[int], firmware: Path | None = None
) -> list[str]:
    """Where the given cases leave -2^30..2^30-1: the cases re-run under CPython with every
    firmware arithmetic result traced (softland.analysis.intcheck); one line per distinct site."""
    from softland.analysis.intcheck import instrumented_firmware
    from softland.boards.firmware import firmware_dir

    seen: dict[str, str] = {}
    with instrumented_firmware(firmware or firmware_dir()) as tracker:
        spec = importlib.util.spec_from_file_location("int32_cases_traced", RUNNER)
        assert spec is not None and spec.loader is not None
        runner = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(runner)
        with redirect_stdout(io.StringIO()):
            for i in ids:
                tracker.reset()
                runner.run_line(cases[i].line(i))
                for v in tracker.violations:
                    key = f"{v.module}:{v.lineno}: {v.expr}"
                    seen.setdefault(key, f"{key} = {v.value} (case {i})")
    return sorted(seen.values())


@dataclass(frozen=True)
class Batch:
    """Cases and what each runtime gave for them (by case index)."""

    cases: list[Case]
    mp32: dict[int, Outcome]
    cpython: dict[int, Outcome]

    def fault_ids(self) -> list[int]:
        """Cases where an exception escaped on 32 bits, a step did not run, or the App counted
        a fault (it catches exceptions, a MemoryError included, and counts them)."""
        faults_at = APP_SETUP.index("faults")
        bad = []
        for i, c in enumerate(self.cases):
            got = self.mp32.get(i)
            if (
                got is None
                or got.fault != "-"
                or got.steps != len(c.steps)
                or (c.kind == APP_KIND and got.app_faults != c.setup[faults_at])
            ):
                bad.append(i)
        return bad

    def faults(self) -> list[str]:
        return [f"case {i}: {self.mp32.get(i)}: {self.cases[i].line(i)}" for i in self.fault_ids()]

    def mismatches(self) -> list[str]:
        return [
            f"case {i}: 32-bit {self.mp32.get(i)} != CPython {self.cpython.get(i)}"
            for i in range(len(self.cases))
            if self.mp32.get(i) != self.cpython.get(i)
        ]

    def ticks(self) -> int:
        return sum(len(c.steps) for c in self.cases)


def run_batch(binary: Path, cases: list[Case], firmware: Path | None = None) -> Batch:
    return Batch(cases, run_32bit(binary, cases, firmware), run_cpython(cases))


def flight_setup(**state: int) -> tuple[int, ...]:
    base = dict.fromkeys(FLIGHT_SETUP, 0)
    base.update(
        mode=2, started=1, sigma_mm=200, alt_mm=3_000_000, perf_q12=4096,
        mass_q24=MASS_ONE_Q24,
    )  # fmt: skip
    base.update(state)
    return tuple(base[k] for k in FLIGHT_SETUP)


def app_setup(**state: int) -> tuple[int, ...]:
    base = dict.fromkeys(APP_SETUP, 0)
    base.update(mode=2, backup=1)
    base.update(state)
    return tuple(base[k] for k in APP_SETUP)


def params_with(**values: int) -> tuple[int, ...]:
    v = [P.default(i) for i in range(P.COUNT)]
    for name, x in values.items():
        v[getattr(P, name.upper())] = x
    return tuple(v)


def ticks_at(
    first: int, dt: int, n: int, acc: int, range_mm: int = 0
) -> tuple[tuple[int, ...], ...]:
    return tuple((((first + k * dt) & (TICKS_WRAP - 1)), range_mm, 3, acc, 1, 0) for k in range(n))


G64 = ACC_FS
PERIOD_US = 20_000
RF_GOOD = 4


def ranged_ticks(n: int, range_mm: int, acc: int) -> tuple[tuple[int, ...], ...]:
    """n ticks on time with the same Good range (a hovering vehicle: consistent ranges)."""
    return tuple((k * PERIOD_US, range_mm, RF_GOOD, acc, 1, 0) for k in range(1, n + 1))


# the widest handover sigma and innovation: sigma at its 6 km limit, NSIGMA_Q4 160, GATE_MM
# 1000 m, so the gate lets an innovation of 19 km through; the ranges agree with the motion
# (hovering: the accelerometer reads gravity), so after the consistency test's training the
# acquisition path takes them (docs/architecture.md "Acquiring the altitude")
WIDE = {"nsigma_q4": 160, "gate_mm": 1_000_000, "max_range_mm": 100_000_000, "clearance_mm": 0}

# The overflows the 32-bit review found, and the others this work found, each as one case
# (state and inputs a flight can meet; see docs/architecture.md "32-bit integer discipline")
REGRESSIONS: dict[str, Case] = {
    # control.py learn(): full-scale specific force in the engine check, low AMAX0
    "learn_full_scale_accel_low_amax0": Case(
        FLIGHT_KIND,
        params_with(amax0_mm_s2=1000, gravity_mm_s2=162),
        flight_setup(engine=1, throttle=6554, last_thr=6554, steady=24, check_ms=1000),
        ticks_at(PERIOD_US, PERIOD_US, 3, 32000),
    ),
    # flight.py tick(): blind inertial velocity on the first tick after a 100-period outage
    "blind_velocity_after_long_resume": Case(
        FLIGHT_KIND,
        params_with(),
        flight_setup(
            mode=3, blind=1, resuming=1, sigma_mm=SIGMA_MAX, alt_mm=1000, vin_q8=-VEL_MAX_Q8
        ),
        ticks_at(100 * PERIOD_US, PERIOD_US, 2, -G64),
    ),
    # flight.py tick(): bias and gravity taken from a link-saturated accelerometer sample
    "accel_at_the_link_limits": Case(
        FLIGHT_KIND,
        params_with(),
        flight_setup(acc_bias_q8=-BIAS_MAX_Q8, engine=1, throttle=32767),
        ticks_at(PERIOD_US, PERIOD_US, 1, I32_MAX)
        + ticks_at(2 * PERIOD_US, PERIOD_US, 1, I32_MIN),
    ),
    # flight.py: Flight.ticks reaching 2^30
    "tick_counter_at_its_wrap": Case(
        FLIGHT_KIND,
        params_with(),
        flight_setup(ticks=TICKS_WRAP - 2),
        ticks_at(0, PERIOD_US, 4, 0),
    ),
    # flight.py: overruns at their wrap, ticks late
    "overrun_counter_at_its_wrap": Case(
        FLIGHT_KIND,
        params_with(),
        flight_setup(overruns=COUNT_WRAP - 2),
        ticks_at(3 * PERIOD_US, 3 * PERIOD_US, 4, 0),
    ),
    # estimator.py update(): a range far below an estimate at its ceiling (the innovation at
    # -_INNOV_LIM) against the left track and the candidate at their extreme offsets
    "second_tracks_at_their_extreme_offsets": Case(
        FLIGHT_KIND,
        params_with(),
        flight_setup(alt_mm=ALT_MAX, prev_off=PREV_OFF_MAX, cand_off=INNOV_LIM, tracks=3),
        ticks_at(PERIOD_US, PERIOD_US, 4, 0, range_mm=1),
    ),
    # ... and a range far above an estimate at its floor (innovation ~ +MAX_RANGE_MM)
    "second_tracks_against_the_farthest_range": Case(
        FLIGHT_KIND,
        params_with(max_range_mm=100_000_000),
        flight_setup(alt_mm=ALT_MIN, prev_off=-PREV_OFF_MAX, cand_off=1, tracks=3),
        ticks_at(PERIOD_US, PERIOD_US, 4, 0, range_mm=100_000_000),
    ),
    # estimator.py predict(): its millisecond clock at 2^30
    "estimator_clock_at_its_wrap": Case(
        FLIGHT_KIND,
        params_with(),
        flight_setup(clk_ms=TICKS_WRAP - 1),
        ticks_at(0, PERIOD_US, 3, 0),
    ),
    # fixmath.py ticks_diff(): a negative time from the link after one near 2^30
    "negative_link_time_after_wrap": Case(
        FLIGHT_KIND,
        params_with(),
        flight_setup(last_us=TICKS_WRAP - 1),
        ((I32_MIN, 0, 3, 0, 1, 0), (I32_MAX, 0, 3, 0, 1, 0)),
    ),
    # estimator.py update(): sigma at 6 km, the ground 18 km below the estimate (the alpha
    # term and sigma's shrink formed in halves), then acquisition; guidance's 160/16 x sigma
    "acquisition_at_the_sigma_limit_ground_below": Case(
        FLIGHT_KIND,
        params_with(**WIDE),
        flight_setup(sigma_mm=SIGMA_MAX, alt_mm=118_000_000, engine=1, throttle=16384),
        ranged_ticks(30, 100_000_000, 1620),
    ),
    # ... the ground 18 km above an estimate at its lower limit
    "acquisition_at_the_sigma_limit_ground_above": Case(
        FLIGHT_KIND,
        params_with(**WIDE),
        flight_setup(sigma_mm=SIGMA_MAX, alt_mm=ALT_MIN, engine=1, throttle=16384),
        ranged_ticks(30, 17_000_000, 1620),
    ),
    # guidance.py / flight.py: the blind band cleared at the top of the altitude range, back
    # to DESCENT on the schedule (its cm branch)
    "blind_band_cleared_at_the_altitude_limit": Case(
        FLIGHT_KIND,
        params_with(sigma_grow_mm_s=0),
        flight_setup(mode=3, blind=1, sigma_mm=200, alt_mm=ALT_MAX, engine=1, clear_ms=960),
        ticks_at(PERIOD_US, PERIOD_US, 3, 1620),
    ),
    # link.py / app.py: frame, error and fault counters at their wrap, bad frames arriving
    "app_counters_at_their_wrap": Case(
        APP_KIND,
        params_with(),
        app_setup(
            ticks=TICKS_WRAP - 2,
            overruns=COUNT_WRAP - 1,
            enc_frames=COUNT_WRAP - 1,
            dec_counters=COUNT_WRAP - 1,
            faults=0,
            bad_frames=COUNT_WRAP - 1,
            dev_counters=COUNT_WRAP - 1,
            rf_source=1,
        ),  # fmt: skip
        tuple(
            (sel, k * PERIOD_US, 1000, 4, 1620, 1)
            for k, sel in enumerate((SEL_TICK, SEL_BAD_CRC, SEL_SHORT_TICK, SEL_REPLAY) * 3)
        ),
    ),
}
