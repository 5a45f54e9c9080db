"""Monte Carlo on Dask: the same campaign as the process pool, batches as Parquet shards, lost
workers and failing batches flown again, fingerprints checked on every worker, resume,
`softland mc rerun DIR --failed`, and the command's errors with and without Dask."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cli_run import one_error_line, run_softland

from softland.errors import UserError
from softland.simulation.dispersions import DispersionDraw
from softland.simulation.fingerprint import compute_fingerprint, tree_sha256
from softland.simulation.mc import Campaign, run_campaign, write_campaign
from softland.simulation.mc_dask import (
    Batch,
    DaskOptions,
    dask_available,
    fly_batch,
    fly_dask,
    plan_batches,
    run_campaign_dask,
    run_seeds_dask,
)
from softland.simulation.rerun import load_campaign_dir, rerun_failed
from softland.simulation.scenario import Dispersions, Scenario

NO_DASK = "Dask or pyarrow not installed (pip install -e '.[test]' installs them)"
needs_dask = pytest.mark.skipif(not dask_available(), reason=NO_DASK)

SIGMAS = Dispersions(
    altitude_sigma_m=50.0,
    velocity_sigma_mps=2.0,
    mass_sigma_fraction=0.02,
    thrust_sigma_fraction=0.02,
    sensor_noise_scale_sigma=0.2,
)
RUNS = 8
SEED = 100


@pytest.fixture(scope="module")
def dispersed(nominal: Scenario) -> Scenario:
    return dataclasses.replace(nominal, dispersions=SIGMAS)


@pytest.fixture(scope="module")
def pool_campaign(dispersed: Scenario) -> Campaign:
    """The reference: the campaign flown by the local process pool."""
    return run_campaign(dispersed, RUNS, SEED, workers=2)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A Dask cluster of two worker processes on this machine (one thread each)."""
    if not dask_available():
        pytest.skip(NO_DASK)
    from softland.simulation.mc_dask import dask_client

    with dask_client(DaskOptions(local_workers=2)) as c:
        yield c


def _without_timing(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in ("wall_time_s", "workers", "backend")}


# ------------------------------------------------------------------ shards and fingerprints


@needs_dask
def test_a_shard_gives_back_the_rows_it_was_given(tmp_path: Path) -> None:
    from softland.simulation.shards import read_shards, write_shard

    draw = DispersionDraw(d_altitude_m=-24.157225927178843, mass_factor=1.0039, z=(0.1, -2.5))
    rows = [
        {"index": 3, "seed": 4, "outcome": "landed", "passed": True, "speed": 0.736,
         "ticks": 3322, "resume_ticks": None, "error": None, "draw": draw},
        # an error row lacks the flight's keys; a mixed column is kept as JSON
        {"index": 4, "seed": 5, "outcome": "error", "passed": False, "error": "boom",
         "ticks": 2.5, "draw": DispersionDraw()},
    ]  # fmt: skip
    path = write_shard(rows, tmp_path)
    assert path.name == "runs-00000003-00000004.parquet"
    back = read_shards(tmp_path)
    assert back == {3: rows[0], 4: rows[1]}
    assert type(back[3]["ticks"]) is int and type(back[4]["ticks"]) is float
    assert "speed" not in back[4]


def test_the_fingerprint_names_what_differs(tmp_path: Path) -> None:
    here = compute_fingerprint("cpython", None)
    assert here.differences(compute_fingerprint("cpython", None)) == []
    fake_binary = tmp_path / "micropython"
    fake_binary.write_bytes(b"\x7fELF not the same binary")
    other = dataclasses.replace(
        here,
        firmware="0" * 64,
        micropython="1" * 64,
        micropython_path=str(fake_binary),
        numpy_version="1.0",
    )
    differs = here.differences(other)
    assert [d.split(" (")[0] for d in differs] == [
        "numpy version",
        "firmware files",
        "MicroPython binary",
    ]
    assert f"worker 000000000000 in {here.firmware_dir}" in differs[1]
    assert f"at {fake_binary}" in differs[2]


def test_the_firmware_hash_covers_every_firmware_file(tmp_path: Path) -> None:
    import shutil

    from softland.boards.firmware import firmware_dir

    copy = tmp_path / "firmware"
    shutil.copytree(firmware_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert tree_sha256(copy) == tree_sha256(firmware_dir())
    params = copy / "fsw" / "params.py"
    params.write_text(params.read_text() + "\n# one more line\n")
    assert tree_sha256(copy) != tree_sha256(firmware_dir())


def test_the_micropython_binary_is_hashed_only_for_micropython_runtimes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"one build")
    b.write_bytes(b"another build")
    assert compute_fingerprint("micropython", str(a)).micropython != (
        compute_fingerprint("micropython", str(b)).micropython
    )
    assert compute_fingerprint("cpython", str(a)).micropython == ""


def test_batches_are_hundreds_of_runs_and_shrink_towards_the_end() -> None:
    big = plan_batches(None, 100_000, 2)
    assert sum(big) == 100_000
    assert big[:400] == [200] * 400
    assert big == sorted(big, reverse=True) and big[-1] == 1
    small = plan_batches(None, 200, 2)
    assert sum(small) == 200 and small[0] == 25 and len(small) < 50
    assert plan_batches(None, 3, 8) == [1, 1, 1]


def test_a_batch_size_asked_for_is_kept() -> None:
    assert plan_batches(7, 20, 2) == [7, 7, 6]
    with pytest.raises(UserError, match="--batch"):
        plan_batches(0, 10, 2)


# ------------------------------------------------------------------ campaigns on a cluster


@needs_dask
def test_a_dask_campaign_writes_the_same_outputs_as_the_process_pool(
    dispersed: Scenario, pool_campaign: Campaign, client: Any, tmp_path: Path
) -> None:
    campaign, flight = run_campaign_dask(
        dispersed, RUNS, SEED, DaskOptions(batch=3), tmp_path / "dask", client=client
    )
    assert campaign.backend == "dask" and flight.workers == 2
    assert campaign.runs == pool_campaign.runs
    assert _without_timing(campaign.summary()) == _without_timing(pool_campaign.summary())
    dask_paths = write_campaign(campaign, tmp_path / "dask")
    pool_paths = write_campaign(pool_campaign, tmp_path / "pool")
    assert dask_paths["runs"].read_bytes() == pool_paths["runs"].read_bytes()
    assert dask_paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_dask
def test_each_batch_is_written_as_a_shard(
    dispersed: Scenario, pool_campaign: Campaign, client: Any, tmp_path: Path
) -> None:
    from softland.simulation.shards import read_shards

    _, flight = run_campaign_dask(
        dispersed, RUNS, SEED, DaskOptions(batch=3), tmp_path, client=client
    )
    shards = sorted(p.name for p in (tmp_path / "shards").glob("*.parquet"))
    assert shards == [
        "runs-00000000-00000002.parquet",
        "runs-00000003-00000005.parquet",
        "runs-00000006-00000007.parquet",
    ]
    assert sorted(b.shard for b in flight.batches) == shards
    assert {b.worker for b in flight.batches} <= set(client.scheduler_info()["workers"])
    rows = read_shards(tmp_path / "shards")
    for index, row in rows.items():
        expected = pool_campaign.runs[index]
        assert row["telemetry_sha256"] == expected["telemetry_sha256"]
        assert row["draw"].row() == {k: expected[k] for k in row["draw"].row()}


@needs_dask
def test_resume_flies_only_the_runs_no_shard_holds(
    dispersed: Scenario, pool_campaign: Campaign, client: Any, tmp_path: Path
) -> None:
    run_campaign_dask(dispersed, RUNS, SEED, DaskOptions(batch=3), tmp_path, client=client)
    (tmp_path / "shards" / "runs-00000003-00000005.parquet").unlink()  # stopped before it
    campaign, flight = run_campaign_dask(
        dispersed, RUNS, SEED, DaskOptions(batch=3, resume=True), tmp_path, client=client
    )
    assert flight.resumed_runs == 5
    assert [(b.first_index, b.last_index) for b in flight.batches] == [(3, 5)]
    assert campaign.runs == pool_campaign.runs


@needs_dask
def test_resume_refuses_the_shards_of_another_campaign(
    dispersed: Scenario, client: Any, tmp_path: Path
) -> None:
    run_campaign_dask(dispersed, 2, SEED, DaskOptions(), tmp_path, client=client)
    with pytest.raises(UserError, match="another campaign .*seed"):
        run_campaign_dask(
            dispersed, 2, SEED + 1, DaskOptions(resume=True), tmp_path, client=client
        )


def fail_once(batch: Batch) -> dict[str, Any]:
    """A task that raises the first time it sees each batch (a marker file per batch in the
    directory $SOFTLAND_TEST_MARKERS), then flies it."""
    marker = Path(os.environ["SOFTLAND_TEST_MARKERS"]) / f"{batch.runs[0][0]}"
    if not marker.exists():
        marker.touch()
        raise OSError("a failure on purpose, the first time")
    return fly_batch(batch)


def always_fail(batch: Batch) -> dict[str, Any]:
    raise MemoryError("this batch never flies")


def _set_environ(name: str, value: str) -> None:
    os.environ[name] = value


@pytest.fixture
def test_tasks(client: Any, tmp_path: Path) -> Path:
    """fail_once and always_fail sent to the workers by value (this module is not importable
    there), with a marker directory they see."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    markers = tmp_path / "markers"
    markers.mkdir()
    client.run(_set_environ, "SOFTLAND_TEST_MARKERS", str(markers))
    os.environ["SOFTLAND_TEST_MARKERS"] = str(markers)
    return markers


@needs_dask
def test_a_batch_that_fails_is_retried(
    dispersed: Scenario, pool_campaign: Campaign, client: Any, test_tasks: Path, tmp_path: Path
) -> None:
    pairs = [(i, SEED + i) for i in range(4)]
    flight = fly_dask(
        client, dispersed, pairs, "cpython", None, "firmware", tmp_path / "shards",
        batch=2, retries=1, task=fail_once,
    )  # fmt: skip
    assert sorted(p.name for p in test_tasks.iterdir()) == ["0", "2"]  # each failed once
    assert [b.error for b in flight.batches] == ["", ""]
    assert [flight.rows[i]["telemetry_sha256"] for i in range(4)] == [
        r["telemetry_sha256"] for r in pool_campaign.runs[:4]
    ]


@needs_dask
def test_a_batch_lost_for_good_is_recorded_as_errors_that_rerun_flies(
    dispersed: Scenario, pool_campaign: Campaign, client: Any, test_tasks: Path, tmp_path: Path
) -> None:
    pairs = [(i, SEED + i) for i in range(3)]
    flight = fly_dask(
        client, dispersed, pairs, "cpython", None, "firmware", tmp_path / "shards",
        batch=3, retries=0, task=always_fail,
    )  # fmt: skip
    assert "MemoryError: this batch never flies" in flight.batches[0].error
    assert list((tmp_path / "shards").glob("*.parquet")) == []  # a resume flies it too
    rows = [flight.rows[i] for i in range(3)]
    assert {r["outcome"] for r in rows} == {"error"}
    from softland.simulation.mc import assemble_campaign

    lost = assemble_campaign(dispersed, rows, SEED, "cpython", "firmware", 2, 1.0)
    assert [r["d_altitude_m"] for r in lost.runs] == [
        r["d_altitude_m"] for r in pool_campaign.runs[:3]
    ]  # the draws are still the runs' own
    write_campaign(lost, tmp_path / "lost")

    earlier = dataclasses.replace(load_campaign_dir(tmp_path / "lost"), scenario=dispersed)

    def fly_on_the_cluster(s: Scenario, pairs: Any, runtime: str, mp: str | None) -> Campaign:
        shards = tmp_path / "rerun" / "shards"
        return run_seeds_dask(
            s, pairs, DaskOptions(), shards, runtime, mp, "firmware", client=client
        )[0]

    rerun = rerun_failed(earlier, fly_on_the_cluster)
    compared = rerun.comparison()
    assert [(c["index"], c["seed"]) for c in compared] == pairs
    assert [c["outcome_before"] for c in compared] == ["error"] * 3
    assert [c["outcome_now"] for c in compared] == [r["outcome"] for r in pool_campaign.runs[:3]]
    assert [r["telemetry_sha256"] for r in rerun.campaign.runs] == [
        r["telemetry_sha256"] for r in pool_campaign.runs[:3]
    ]


@needs_dask
def test_a_worker_with_other_firmware_is_refused_by_name(
    dispersed: Scenario, tmp_path: Path
) -> None:
    import shutil

    from distributed import Client, LocalCluster

    from softland.boards.firmware import firmware_dir

    changed = tmp_path / "firmware"
    shutil.copytree(firmware_dir(), changed, ignore=shutil.ignore_patterns("__pycache__"))
    (changed / "fsw" / "params.py").write_text(
        (changed / "fsw" / "params.py").read_text() + "\n# edited on one machine only\n"
    )
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            dashboard_address=":0",
            env={"SOFTLAND_FIRMWARE": str(changed)},
        ) as cluster,
        Client(cluster, set_as_default=False) as other,
    ):
        worker = next(iter(other.scheduler_info()["workers"]))
        with pytest.raises(UserError) as error:
            run_campaign_dask(dispersed, 2, SEED, DaskOptions(), tmp_path / "o", client=other)
    message = str(error.value)
    assert message.startswith(f"not flying: worker {worker} differs from this client")
    assert f"firmware files (client {compute_fingerprint('cpython', None).firmware[:12]}" in (
        message
    )
    assert str(changed) in message
    assert not list((tmp_path / "o").glob("shards/*.parquet"))


@needs_dask
def test_a_batch_whose_worker_is_killed_mid_batch_is_flown_again(
    dispersed: Scenario, pool_campaign: Campaign, client: Any, tmp_path: Path
) -> None:
    # last in this file: it leaves the module's cluster with a new worker process
    pids = client.run(os.getpid)
    killed: dict[str, Any] = {}

    def kill_a_busy_worker(done: int, total: int, row: dict[str, Any]) -> None:
        if killed:
            return
        busy = {a: keys for a, keys in client.processing().items() if keys and a in pids}
        if busy:
            address, keys = sorted(busy.items())[0]
            os.kill(pids[address], signal.SIGKILL)
            killed.update(address=address, keys=list(keys))

    campaign, flight = run_campaign_dask(
        dispersed,
        RUNS,
        SEED,
        DaskOptions(batch=2),
        tmp_path,
        client=client,
        progress=kill_a_busy_worker,
    )
    assert killed, "no worker was busy when the first batch finished"
    assert all(b.error == "" for b in flight.batches)
    assert killed["address"] not in {b.worker for b in flight.batches[1:]}
    assert campaign.runs == pool_campaign.runs
    assert len(list((tmp_path / "shards").glob("*.parquet"))) == RUNS // 2


# ------------------------------------------------------------------ the command


_softland = partial(run_softland, columns=1000)  # one line per message, however long


_one_error_line = partial(one_error_line, exit_code=None)


@needs_dask
def test_cli_campaign_on_a_local_dask_cluster_matches_the_process_pool(tmp_path: Path) -> None:
    common = ("mc", "earth-hopper", "--runs", "4", "--seed", "5", "--quiet")
    dask = _softland(*common, "--dask-workers", "2", "--batch", "2", "--out", str(tmp_path / "d"))
    assert dask.returncode == 0, dask.stderr
    pool = _softland(*common, "--workers", "2", "--out", str(tmp_path / "p"))
    assert pool.returncode == 0, pool.stderr
    assert (tmp_path / "d" / "runs.csv").read_bytes() == (tmp_path / "p" / "runs.csv").read_bytes()
    assert "dask: 2 batch(es) of up to 2 runs on 2 worker(s)" in dask.stderr
    assert len(list((tmp_path / "d" / "shards").glob("runs-*.parquet"))) == 2
    record = json.loads((tmp_path / "d" / "shards" / "_batches.json").read_text())
    assert [b["runs"] for b in record["batches"]] == [2, 2]
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["backend"] == "dask"


@needs_dask
def test_cli_an_interrupted_campaign_keeps_its_shards_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "d"
    common = ("mc", "earth-hopper", "--runs", "6", "--seed", "5", "--quiet", "--out", str(out))
    first = subprocess.Popen(
        [sys.executable, "-m", "softland.cli", *common, "--dask-workers", "1", "--batch", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "1000"},
    )
    deadline = time.monotonic() + 240
    while not list(out.glob("shards/runs-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    kept = sorted(p.name for p in out.glob("shards/runs-*.parquet"))
    assert first.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "add --resume to fly only the rest" in stderr
    assert 1 <= len(kept) < 3 and not (out / "runs.csv").exists()

    resumed = _softland(*common, "--dask-workers", "1", "--batch", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{2 * len(kept)} run(s) resumed from earlier shards" in resumed.stderr
    pool = _softland(*common[:-1], str(tmp_path / "p"))
    assert pool.returncode == 0, pool.stderr
    assert (out / "runs.csv").read_bytes() == (tmp_path / "p" / "runs.csv").read_bytes()


@needs_dask
def test_cli_unreachable_scheduler_is_one_line_within_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port on this machine that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    proc = _softland(
        "mc", "nominal", "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "2",
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert f"no Dask scheduler answered at tcp://127.0.0.1:{port} within 2 s" in line
    assert elapsed < 60  # the deadline holds (generous: interpreter start on a loaded machine)


@needs_dask
def test_cli_a_server_that_is_not_a_scheduler_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as server:  # accepts, then says nothing Dask understands
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        proc = _softland(
            "mc", "nominal", "--scheduler", address, "--connect-timeout", "2",
            "--out", str(tmp_path / "o"),
        )  # fmt: skip
    assert proc.returncode == 2
    assert f"no Dask scheduler answered at {address} within 2 s" in _one_error_line(proc)


def test_cli_dask_options_without_dask_say_what_to_install(tmp_path: Path) -> None:
    # Dask made unimportable in the child, whether or not it is installed here
    code = (
        "import sys; sys.modules['distributed'] = None; sys.modules['pyarrow'] = None; "
        "from softland.cli import main; sys.argv[0] = 'softland'; main()"
    )
    for option in (("--dask-workers", "2"), ("--scheduler", "tcp://127.0.0.1:8786")):
        proc = subprocess.run(
            [sys.executable, "-c", code, "mc", "nominal", *option, "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "1000"},
        )
        assert proc.returncode == 2
        line = _one_error_line(proc)
        assert f"{option[0]} needs Dask and pyarrow" in line
        assert "pip install softland[dask]" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scheduler", "tcp://127.0.0.1:1", "--dask-workers", "2"), "not both"),
        (("--workers", "2", "--dask-workers", "2"), "--workers sizes the local process pool"),
        (("--batch", "10"), "--batch: only with Dask"),
        (("--resume",), "--resume: only with Dask"),
        (("--dask-workers", "2", "--batch", "0"), "--batch must be positive"),
        (("--dask-workers", "two"), "--dask-workers must be an integer"),
        (("--scheduler", "x", "--connect-timeout", "-1"), "--connect-timeout must be positive"),
    ],
)
def test_cli_bad_dask_options_are_one_line(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    proc = _softland("mc", "nominal", *args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert message in _one_error_line(proc)


def test_cli_rerun_flies_the_failed_seeds_again(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    first = _softland(
        "mc", "stuck", "--controller", "naive", "--runs", "2", "--seed", "3", "--quiet",
        "--out", str(out),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    proc = _softland("mc", "rerun", str(out), "--failed", "--quiet")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "rerun-failed" / "summary.json").read_text())
    assert summary["seeds"] == [3, 4] and summary["controller"] == "naive"
    assert summary["same_telemetry"] == 2 and summary["passed_now"] == 0
    assert "0 of 2 pass now; 2 have the same outcome, 2 the same telemetry hash" in proc.stdout
    assert (out / "rerun-failed" / "runs.csv").read_text().count("\n") == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("rerun", "{tmp}"), "say which runs to fly again"),
        (("rerun", "{tmp}/none", "--failed"), "summary.json not found"),
    ],
)
def test_cli_rerun_bad_input_is_one_line(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    proc = _softland("mc", *(a.format(tmp=tmp_path) for a in args))
    assert proc.returncode == 2
    assert message in _one_error_line(proc)
