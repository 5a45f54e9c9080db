"""Campaign results as Parquet shards: one file per finished batch of runs, read back exactly.

A shard holds one row per run: its campaign ``index``, every key of the run's result (the sim
summary, or the error) as a typed column, and its dispersion draw unrounded (``draw.<field>``,
``draw.z``). Reading a shard gives back the same Python values (ints stay ints, floats are
float64 both ways, absent keys stay absent), so a campaign merged from shards writes the same
runs.csv, byte for byte, as one flown in a single process pool. Columns whose values are not
all of one simple type are stored as JSON text (named in the file's metadata).

Shards are written to a temporary name and renamed, so a campaign stopped midway leaves only
whole shards; ``_manifest.json`` beside them says which campaign they belong to (see
softland.simulation.mc_dask for resuming).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from softland.errors import UserError
from softland.simulation.dispersions import DispersionDraw

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - the [dask] extra; callers check dask_available()
    pa = pq = None

SHARD_GLOB = "runs-*.parquet"
MANIFEST = "_manifest.json"
BATCHES = "_batches.json"  # where each batch flew (written by `softland mc`)
_JSON_COLUMNS_KEY = b"softland.json_columns"
_DRAW_FIELDS = tuple(f.name for f in dataclasses.fields(DispersionDraw) if f.name != "z")
_ABSENT = "_absent"  # per row: the result keys that row does not have


def shard_name(first_index: int, last_index: int) -> str:
    return f"runs-{first_index:08d}-{last_index:08d}.parquet"


def _kind(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "null"
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind in (bool, int, float, str):
            return kind.__name__
    return "json"


_ARROW_TYPES = {"bool": "bool_", "int": "int64", "float": "float64", "str": "string"}


def rows_to_table(rows: list[dict[str, Any]]) -> Any:
    """A pyarrow Table of run rows (each with "index", the result keys and "draw")."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys and k not in ("index", "draw"))
    columns: dict[str, Any] = {"index": pa.array([r["index"] for r in rows], pa.int64())}
    json_columns = []
    for key in keys:
        values = [row.get(key) for row in rows]
        kind = _kind(values)
        if kind == "null":
            columns[key] = pa.nulls(len(rows))
        elif kind == "json":
            json_columns.append(key)
            columns[key] = pa.array([json.dumps(v) for v in values], pa.string())
        else:
            columns[key] = pa.array(values, getattr(pa, _ARROW_TYPES[kind])())
    columns[_ABSENT] = pa.array(
        [[k for k in keys if k not in row] for row in rows], pa.list_(pa.string())
    )
    draws = [row["draw"] for row in rows]
    for name in _DRAW_FIELDS:
        columns[f"draw.{name}"] = pa.array([getattr(d, name) for d in draws], pa.float64())
    columns["draw.z"] = pa.array([list(d.z) for d in draws], pa.list_(pa.float64()))
    table = pa.table(columns)
    return table.replace_schema_metadata({_JSON_COLUMNS_KEY: json.dumps(json_columns).encode()})


def table_to_rows(table: Any) -> list[dict[str, Any]]:
    """The rows rows_to_table was given, values and key sets unchanged."""
    meta = table.schema.metadata or {}
    json_columns = set(json.loads(meta.get(_JSON_COLUMNS_KEY, b"[]")))
    data = table.to_pydict()
    absent = data.pop(_ABSENT)
    draw_values = {name: data.pop(f"draw.{name}") for name in _DRAW_FIELDS}
    z = data.pop("draw.z")
    indices = data.pop("index")
    rows = []
    for i, index in enumerate(indices):
        skip = set(absent[i])
        row: dict[str, Any] = {"index": index}
        for key, values in data.items():
            if key in skip:
                continue
            value = values[i]
            row[key] = json.loads(value) if key in json_columns else value
        row["draw"] = DispersionDraw(
            **{name: draw_values[name][i] for name in _DRAW_FIELDS}, z=tuple(z[i])
        )
        rows.append(row)
    return rows


def write_shard(rows: list[dict[str, Any]], shard_dir: Path) -> Path:
    """Write rows (one batch, by index) as a shard named for its first and last index, whole or
    not at all (a temporary file renamed)."""
    indices = [r["index"] for r in rows]
    path = shard_dir / shard_name(min(indices), max(indices))
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(rows_to_table(rows), tmp)
    os.replace(tmp, path)
    return path


def read_shards(shard_dir: Path) -> dict[int, dict[str, Any]]:
    """Every row of every shard in shard_dir, by campaign index."""
    rows: dict[int, dict[str, Any]] = {}
    for path in sorted(shard_dir.glob(SHARD_GLOB)):
        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
            raise UserError(f"cannot read shard {path}: {exc}") from None
        for row in table_to_rows(table):
            rows[row["index"]] = row
    return rows


def clear_shards(shard_dir: Path) -> None:
    """Remove the shards and manifest of an earlier campaign in shard_dir (nothing else)."""
    for path in [*shard_dir.glob(SHARD_GLOB), *shard_dir.glob("*.parquet.tmp")]:
        path.unlink()
    (shard_dir / MANIFEST).unlink(missing_ok=True)
    (shard_dir / BATCHES).unlink(missing_ok=True)


def write_manifest(shard_dir: Path, manifest: dict[str, Any]) -> None:
    (shard_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(shard_dir: Path) -> dict[str, Any] | None:
    path = shard_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
