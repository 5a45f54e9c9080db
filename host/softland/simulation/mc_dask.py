"""Monte Carlo on a Dask cluster: batches of seeded runs as tasks, results as Parquet shards.

The campaign is the one softland.simulation.mc flies in a process pool, spread wider: run i
still flies run seed ``seed + i`` through ``mc.run_one``, so the rows, summary.json and
runs.csv are the same whatever the backend. What Dask adds:

- **Batches**: one task flies a batch of runs (``batch`` runs, hundreds by default), so the
  scheduler's per-task cost is paid once per batch, not per run.
- **Shards**: the client writes each finished batch to ``DIR/shards/runs-FIRST-LAST.parquet``
  (softland.simulation.shards) as it arrives; a campaign stopped midway keeps them, and
  ``resume=True`` flies only the runs no shard holds. ``_manifest.json`` there names the campaign
  the shards belong to; a resume into another campaign's shards is refused.
- **Lost workers**: a batch whose worker dies is handed to another worker by the scheduler
  (up to its ``distributed.scheduler.allowed-failures``); a batch that raises is retried
  (``retries``). A batch lost for good is recorded as runs with outcome "error", so
  ``softland mc rerun DIR --failed`` flies it again; it writes no shard, so a resume does too.
- **Same code everywhere**: before flying, every worker computes its fingerprint
  (softland.simulation.fingerprint) and the client refuses a cluster where one differs,
  naming the worker and what differs; every batch checks it again (a worker that joined
  later).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from softland.errors import UserError
from softland.simulation.dispersions import dispersed_run_with_draw
from softland.simulation.fingerprint import (
    MICROPYTHON_RUNTIMES,
    Fingerprint,
    compute_fingerprint,
)
from softland.simulation.mc import (
    ERROR_OUTCOME,
    Campaign,
    ProgressFn,
    RunSpec,
    assemble_campaign,
    check_campaign_args,
    run_one,
)
from softland.simulation.scenario import Scenario

INSTALL_HINT = "pip install softland[dask]"
DEFAULT_BATCH = 200  # runs per task at most (fewer towards the end: plan_batches)
TAIL_SHARE = 4  # a guided batch is the remaining runs / (TAIL_SHARE x workers)
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2


def dask_available() -> bool:
    """True when dask.distributed and pyarrow import."""
    try:
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def require_dask(option: str) -> None:
    """A UserError naming the extra to install, unless Dask and pyarrow are there."""
    if not dask_available():
        raise UserError(
            f"{option} needs Dask and pyarrow, which are not installed: {INSTALL_HINT}"
        )


@dataclass(frozen=True)
class DaskOptions:
    """Where and how to fly on Dask.

    scheduler: address of a running scheduler (tcp://HOST:8786); else local_workers worker
    processes are started on this machine (a LocalCluster, one thread each). batch: runs per
    task (None: DEFAULT_BATCH at most, shrinking towards the end: plan_batches)."""

    scheduler: str | None = None
    local_workers: int | None = None
    batch: int | None = None
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    resume: bool = False

    def describe(self) -> str:
        if self.scheduler:
            return f"dask {self.scheduler}"
        return f"dask local cluster ({self.local_workers} workers)"


class FingerprintMismatch(RuntimeError):
    """A worker flies with other firmware, binary or host code than the client."""


@dataclass(frozen=True)
class Batch:
    """One task: runs (campaign index, run seed) of a scenario, and what the client flies
    with (its fingerprint, checked on the worker before the first run)."""

    scenario: Scenario
    runs: tuple[tuple[int, int], ...]
    runtime: str
    micropython: str | None
    controller: str | None
    fingerprint: Fingerprint

    @property
    def name(self) -> str:
        return f"runs {self.runs[0][0]}..{self.runs[-1][0]}"


@dataclass
class BatchRecord:
    """How one batch went: where it flew, how long its runs took there, and its shard."""

    first_index: int
    last_index: int
    runs: int
    worker: str = ""
    compute_s: float = 0.0
    shard: str = ""
    error: str = ""


@dataclass
class DaskFlight:
    """The rows a Dask flight produced (by campaign index) and what happened to each batch."""

    rows: dict[int, dict[str, Any]]
    batches: list[BatchRecord] = field(default_factory=list)
    resumed_runs: int = 0
    workers: int = 0
    wall_time_s: float = 0.0


# ----------------------------------------------------------------- on the workers


def worker_micropython(runtime: str, client_binary: str | None) -> str | None:
    """The MicroPython binary this machine flies with: the client's path when it exists here,
    else this machine's own (the same lookup as `softland sim`); None for cpython. The
    fingerprint compares the bytes, not the path."""
    if runtime not in MICROPYTHON_RUNTIMES:
        return None
    if client_binary and Path(client_binary).is_file():
        return client_binary
    from softland.boards.runtimes import resolve_runtime

    return resolve_runtime(runtime, None)[1]


def worker_fingerprint(runtime: str, client_binary: str | None) -> dict[str, str]:
    """This worker's fingerprint (run on every worker by Client.run)."""
    return compute_fingerprint(runtime, worker_micropython(runtime, client_binary)).as_dict()


def fly_batch(batch: Batch) -> dict[str, Any]:
    """The task: check this worker's fingerprint, then fly every run of the batch.

    Returns {"rows": [run_one rows with "index"], "worker": address, "compute_s": seconds}.
    """
    binary = worker_micropython(batch.runtime, batch.micropython)
    mine = compute_fingerprint(batch.runtime, binary)
    differs = batch.fingerprint.differences(mine)
    if differs:
        raise FingerprintMismatch(
            f"{_worker_address()} differs from this client: {', '.join(differs)}"
        )
    t0 = time.perf_counter()
    rows = []
    for index, seed in batch.runs:
        row = run_one(RunSpec(batch.scenario, seed, batch.runtime, binary, batch.controller))
        row["index"] = index
        rows.append(row)
    return {"rows": rows, "worker": _worker_address(), "compute_s": time.perf_counter() - t0}


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "this process"


# ----------------------------------------------------------------- on the client


@contextmanager
def dask_client(options: DaskOptions) -> Iterator[Any]:
    """A connected distributed.Client: to options.scheduler, or to a LocalCluster of
    options.local_workers processes started (and closed) here. An unreachable scheduler is a
    UserError after options.connect_timeout_s."""
    require_dask("--scheduler" if options.scheduler else "--dask-workers")
    import dask
    from distributed import Client, LocalCluster

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # connection retries and worker deaths: said by us
    cluster = None
    try:
        if options.scheduler:
            client = _connect(Client, options.scheduler, options.connect_timeout_s)
        else:
            n = options.local_workers or 1
            # a task goes to a worker only when it has a free thread: with the default
            # (1.1) each one-thread worker holds a second batch that an idle worker could fly
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,  # the sim holds the GIL: one run per process
                    processes=True,
                    dashboard_address=":0",  # any free port: never clash with another cluster
                    silence_logs=logging.CRITICAL,
                )
            client = Client(cluster, set_as_default=False)
            client.wait_for_workers(n, timeout=max(60.0, options.connect_timeout_s))
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
        quiet.setLevel(level)


@contextmanager
def checked_client(options: DaskOptions, runtime: str, micropython: str | None) -> Iterator[Any]:
    """dask_client whose every worker has been checked against this machine's fingerprint
    for flying `runtime` (check_workers): connect and check before showing any progress."""
    with dask_client(options) as client:
        check_workers(client, compute_fingerprint(runtime, micropython), runtime, micropython)
        yield client


def _connect(client_class: Any, address: str, timeout_s: float) -> Any:
    """A Client of the scheduler at address, or a UserError within about timeout_s: the
    address is probed first (connection and handshake under one deadline), so a silent or
    foreign server fails as clearly as a closed port."""
    try:
        asyncio.run(asyncio.wait_for(_probe(address, timeout_s), timeout_s))
    except (ValueError, TypeError) as exc:
        raise UserError(f"bad Dask scheduler address {address!r}: {_first_line(exc)}") from None
    except (OSError, asyncio.TimeoutError):
        raise UserError(
            f"no Dask scheduler answered at {address} within {timeout_s:g} s "
            "(is `dask scheduler` running there, and the port open?)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - whatever a foreign server's bytes make of it
        raise UserError(
            f"{address} did not answer as a Dask scheduler ({_first_line(exc)})"
        ) from None
    try:
        client = client_class(address, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise UserError(
            f"no Dask scheduler answered at {address} within {timeout_s:g} s: {_first_line(exc)}"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (OSError, TimeoutError):
        client.close()
        raise UserError(
            f"the Dask scheduler at {address} has no workers after {timeout_s:g} s "
            f"(start some: dask worker {address})"
        ) from None
    return client


async def _probe(address: str, timeout_s: float) -> None:
    from distributed.comm import connect

    comm = await connect(address, timeout=timeout_s)
    await comm.close()


def _error_text(exc: BaseException) -> str:
    """The message of an error a worker sent back (Dask wraps one it cannot unpickle, such
    as an ImportError of softland itself, in a plain Exception holding its repr)."""
    if type(exc) is Exception and exc.args:
        return str(exc.args[0])
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def check_workers(
    client: Any, expected: Fingerprint, runtime: str, micropython: str | None
) -> list[str]:
    """Every worker's fingerprint against the client's; their addresses, or one UserError
    naming each worker that differs and what differs."""
    results = client.run(worker_fingerprint, runtime, micropython, on_error="return")
    if not results:
        raise UserError("the Dask cluster has no workers")
    problems = []
    for address, result in sorted(results.items()):
        if isinstance(result, BaseException):
            problems.append(
                f"worker {address} cannot run softland's check ({_error_text(result)}): "
                "is the same softland installed there?"
            )
            continue
        differs = expected.differences(Fingerprint(**result))
        if differs:
            problems.append(f"worker {address} differs from this client: {', '.join(differs)}")
    if problems:
        raise UserError(
            "not flying: "
            + "; ".join(problems)
            + " (every worker needs the client's softland, firmware and MicroPython binary)"
        )
    return sorted(results)


def plan_batches(requested: int | None, runs: int, workers: int) -> list[int]:
    """Runs per task, in submission order.

    requested: that many each (the last takes the rest). Else guided: each batch is the
    remaining runs / (TAIL_SHARE x workers), at most DEFAULT_BATCH, so a big campaign flies
    in batches of DEFAULT_BATCH and the batches shrink towards the end: the last to finish
    is short, and no worker waits long for the others (with equal batches it could wait for
    a whole one)."""
    if requested is not None:
        if requested < 1:
            raise UserError(f"--batch must be positive, got {requested}")
        return [min(requested, runs - k) for k in range(0, runs, requested)]
    sizes = []
    remaining = runs
    while remaining > 0:
        size = min(DEFAULT_BATCH, remaining, math.ceil(remaining / (TAIL_SHARE * max(1, workers))))
        sizes.append(size)
        remaining -= size
    return sizes


def fly_dask(
    client: Any,
    scenario: Scenario,
    runs: list[tuple[int, int]],
    runtime: str,
    micropython: str | None,
    controller: str | None,
    shard_dir: Path,
    *,
    batch: int | None = None,
    retries: int = DEFAULT_RETRIES,
    resume: bool = False,
    manifest: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    task: Callable[[Batch], dict[str, Any]] = fly_batch,
) -> DaskFlight:
    """Fly runs (campaign index, run seed) on the cluster behind client, batch by batch, each
    finished batch written as a shard in shard_dir; returns every run's row by index.

    resume: keep the shards already in shard_dir (their manifest must equal `manifest`) and
    fly only the runs they lack; else they are removed first. task: what a worker runs for a
    batch (fly_batch; a test passes one that fails on purpose)."""
    from distributed import as_completed

    from softland.simulation import shards

    expected = compute_fingerprint(runtime, micropython)
    workers = check_workers(client, expected, runtime, micropython)
    manifest = {**(manifest or {}), "fingerprint": expected.as_dict()}
    shard_dir.mkdir(parents=True, exist_ok=True)
    flight = DaskFlight(rows={}, workers=len(workers))
    if resume:
        earlier = shards.read_manifest(shard_dir)
        if earlier is not None and earlier != manifest:
            differs = sorted(
                k for k in set(earlier) | set(manifest) if earlier.get(k) != manifest.get(k)
            )
            raise UserError(
                f"the shards in {shard_dir} belong to another campaign (different "
                f"{', '.join(differs)}): run without --resume to start afresh"
            )
        wanted = {index for index, _ in runs}
        flight.rows = {i: r for i, r in shards.read_shards(shard_dir).items() if i in wanted}
        flight.resumed_runs = len(flight.rows)
    else:
        shards.clear_shards(shard_dir)
    shards.write_manifest(shard_dir, manifest)

    todo = [(index, seed) for index, seed in runs if index not in flight.rows]
    batches = []
    start = 0
    for size in plan_batches(batch, len(todo), len(workers)):
        chunk = tuple(todo[start : start + size])
        batches.append(Batch(scenario, chunk, runtime, micropython, controller, expected))
        start += size
    done = 0
    total = len(runs)
    if progress is not None:
        for row in flight.rows.values():
            done += 1
            progress(done, total, row)
    t0 = time.perf_counter()
    futures = {
        client.submit(task, b, retries=retries, key=f"softland {b.name} {uuid.uuid4().hex}"): b
        for b in batches
    }
    try:
        for future in as_completed(futures, loop=client.loop):
            b = futures[future]
            record = BatchRecord(b.runs[0][0], b.runs[-1][0], len(b.runs))
            if future.status != "finished":
                # an error after its retries (KilledWorker: it killed workers), or cancelled
                exc = future.exception() if future.status == "error" else None
                if isinstance(exc, FingerprintMismatch):
                    raise UserError(f"not flying: worker {exc}") from None
                record.error = (
                    _first_line(exc) if exc is not None else f"the task was {future.status}"
                )
                rows = _lost_rows(b, record.error)
            else:
                result = future.result()
                rows = result["rows"]
                record.worker, record.compute_s = result["worker"], result["compute_s"]
                record.shard = shards.write_shard(rows, shard_dir).name
            future.release()
            flight.batches.append(record)
            for row in rows:
                flight.rows[row["index"]] = row
                done += 1
                if progress is not None:
                    progress(done, total, row)
    except BaseException:
        client.cancel(list(futures))
        raise
    flight.wall_time_s = time.perf_counter() - t0
    return flight


def _lost_rows(batch: Batch, message: str) -> list[dict[str, Any]]:
    """Rows for a batch no worker could fly: outcome "error", with each run's draw."""
    rows = []
    for index, seed in batch.runs:
        _, draw = dispersed_run_with_draw(batch.scenario, seed)
        rows.append(
            {
                "index": index,
                "seed": seed,
                "outcome": ERROR_OUTCOME,
                "passed": False,
                "error": f"batch lost on the cluster: {message}",
                "draw": draw,
            }
        )
    return rows


def campaign_manifest(
    scenario: Scenario, seed: int, runtime: str, controller: str | None
) -> dict[str, Any]:
    """What a shard directory's runs depend on besides the code (compared on resume)."""
    import hashlib

    return {
        "scenario": scenario.name,
        "scenario_sha256": hashlib.sha256(repr(scenario).encode()).hexdigest(),
        "seed": seed,
        "runtime": runtime,
        "controller": controller or "firmware",
    }


def run_seeds_dask(
    scenario: Scenario,
    runs: list[tuple[int, int]],
    options: DaskOptions,
    shard_dir: Path,
    runtime: str = "cpython",
    micropython: str | None = None,
    controller: str | None = None,
    progress: ProgressFn | None = None,
    seed: int | None = None,
    scenario_ref: str = "",
    client: Any = None,
) -> tuple[Campaign, DaskFlight]:
    """Fly chosen runs, (campaign index, run seed) each, on the cluster options name (or on
    `client`), shards in shard_dir: a Campaign whose rows keep those indices, and how the
    batches went. seed: the campaign seed (default: the first run's seed minus its index)."""
    seed = runs[0][1] - runs[0][0] if seed is None else seed
    runtime_name, binary, controller = check_campaign_args(
        len(runs), seed, runtime, micropython, controller
    )
    manifest = campaign_manifest(scenario, seed, runtime_name, controller)

    def fly(c: Any) -> DaskFlight:
        return fly_dask(
            c,
            scenario,
            runs,
            runtime_name,
            binary,
            controller,
            Path(shard_dir),
            batch=options.batch,
            retries=options.retries,
            resume=options.resume,
            manifest=manifest,
            progress=progress,
        )

    if client is not None:
        flight = fly(client)
    else:
        with dask_client(options) as c:
            flight = fly(c)
    campaign = assemble_campaign(
        scenario,
        [flight.rows[index] for index, _ in runs],
        seed,
        runtime_name,
        controller,
        flight.workers,
        flight.wall_time_s,
        scenario_ref,
        backend="dask",
    )
    return campaign, flight


def run_campaign_dask(
    scenario: Scenario,
    runs: int,
    seed: int,
    options: DaskOptions,
    out_dir: Path,
    runtime: str = "cpython",
    controller: str | None = None,
    progress: ProgressFn | None = None,
    micropython: str | None = None,
    scenario_ref: str = "",
    client: Any = None,
) -> tuple[Campaign, DaskFlight]:
    """run_campaign on Dask: the same Campaign (same rows), flown in batches on the cluster
    options name (or on `client`), shards in out_dir/shards."""
    check_campaign_args(runs, seed, runtime, micropython, controller)
    return run_seeds_dask(
        scenario,
        [(i, seed + i) for i in range(runs)],
        options,
        Path(out_dir) / "shards",
        runtime=runtime,
        micropython=micropython,
        controller=controller,
        progress=progress,
        seed=seed,
        scenario_ref=scenario_ref,
        client=client,
    )
