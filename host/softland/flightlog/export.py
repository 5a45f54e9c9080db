"""`softland log export`: a flight log as ULog (formats, parameters, events), CSV or Parquet.

Time: the records' tick clock (time_us, wrapping at 2^30 us) unwrapped into one monotonic
microsecond timeline; a clock that went back (a board that rebooted with its clock) continues
one tick period after the last tick. A command record takes the time of the tick before it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from softland.boards.firmware import fsw_module, param_ids
from softland.boards.hostlink import MODES
from softland.errors import UserError
from softland.flightlog.reader import F_BOOT, K_CMD, K_TICK, FlightLogData, Record
from softland.flightlog.ulog import LOG_INFO, LOG_WARNING, Topic, ULogWriter

FORMATS = ("ulog", "csv", "parquet")
_WRAP = 1 << 30
_ULOG_TYPES = {"i32": "int32_t", "u16": "uint16_t", "u8": "uint8_t"}


def command_names() -> dict[int, str]:
    app = fsw_module("app")
    return {v: k[2:] for k, v in vars(app).items() if k.startswith("C_") and isinstance(v, int)}


def timeline_us(log: FlightLogData) -> list[int]:
    """One monotonic timestamp (us, from 1) per record of log.records."""
    out: list[int] = []
    now = 1
    last: int | None = None
    step = 20_000
    for r in log.records:
        if r.telem is not None:
            t = r.telem["time_us"]
            if last is not None:
                d = (t - last) % _WRAP
                if d < _WRAP // 2:
                    step = d if d > 0 else step
                    now += d
                else:
                    now += step
            last = t
        out.append(now)
    return out


def decode_command(log: FlightLogData, r: Record) -> dict[str, int]:
    assert r.cmd is not None and r.ack is not None
    i32 = int.from_bytes
    return {
        "code": r.cmd[0],
        "param_id": r.cmd[1],
        "value": i32(r.cmd[2:6], "little", signed=True),
        "result": r.ack[2],
        "mode": r.ack[3],
        "ack_value": i32(r.ack[4:8], "little", signed=True),
    }


def parameters(log: FlightLogData) -> dict[str, int]:
    """The firmware's parameters as this log leaves them: the defaults of the firmware in
    this checkout, then every SET_PARAM the log's commands show accepted."""
    p = fsw_module("params")
    values = list(p.Params().v)
    names = {v: k for k, v in param_ids().items()}
    set_code = fsw_module("app").C_SET_PARAM
    for r in log.commands():
        c = decode_command(log, r)
        if c["code"] == set_code and c["result"] == 0 and c["param_id"] < len(values):
            values[c["param_id"]] = c["ack_value"]
    return {names[i]: v for i, v in enumerate(values) if i in names}


def events(log: FlightLogData) -> list[tuple[int, int, str]]:
    """(record position, level, text): boots, commands and mode changes."""
    names = command_names()
    out: list[tuple[int, int, str]] = []
    boots = {b.position: b for b in log.boots()}
    mode = None
    for i, r in enumerate(log.records):
        if i in boots:
            lost = boots[i].unlogged_ticks
            more = "" if lost is None else f", {lost} tick(s) unlogged before it"
            level = LOG_WARNING if lost else LOG_INFO
            out.append((i, level, f"boot at record {r.seq}{more}"))
        if r.kind == K_CMD:
            c = decode_command(log, r)
            name = names.get(c["code"], f"command {c['code']}")
            result = "ok" if c["result"] == 0 else f"refused ({c['result']})"
            out.append((i, LOG_INFO, f"{name} id {c['param_id']} value {c['value']}: {result}"))
        elif r.telem is not None and r.telem["mode"] != mode:
            m = r.telem["mode"]
            if mode is not None:
                old = MODES[mode] if mode < len(MODES) else mode
                new = MODES[m] if m < len(MODES) else m
                out.append((i, LOG_INFO, f"mode {old} -> {new}"))
            mode = m
    return out


def rows(log: FlightLogData) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per record (tick or command), its columns named as in telemetry.csv."""
    lay = log.layout
    columns = ["record", "offset", "seq", "kind", "boot", "timestamp_us"]
    columns += [f"given_{n}" for n in lay.given]
    columns += list(lay.telem)
    command_cols = ["cmd_code", "cmd_param_id", "cmd_value", "ack_result", "ack_mode", "ack_value"]
    columns += command_cols
    out = []
    for r, ts in zip(log.records, timeline_us(log), strict=True):
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(
            record=r.index,
            offset=r.offset,
            seq=r.seq,
            kind="tick" if r.kind == K_TICK else "command" if r.kind == K_CMD else r.kind,
            boot=1 if r.flags & F_BOOT else 0,
            timestamp_us=ts,
        )
        if r.given is not None:
            row.update({f"given_{k}": v for k, v in r.given.items()})
        if r.telem is not None:
            row.update(r.telem)
        if r.kind == K_CMD:
            c = decode_command(log, r)
            row.update(zip(command_cols, c.values(), strict=True))
        out.append(row)
    return columns, out


def to_csv(log: FlightLogData) -> bytes:
    columns, data = rows(log)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(data)
    return buf.getvalue().encode()


def write_parquet(log: FlightLogData, out: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("parquet export needs pyarrow: pip install pyarrow") from None
    columns, data = rows(log)
    table = pa.table({c: [row[c] for row in data] for c in columns})
    pq.write_table(table, out)


def _topic_values(fields: Iterable[str], values: dict[str, int]) -> list[int]:
    return [values[f] for f in fields]


def to_ulog(log: FlightLogData) -> bytes:
    lay = log.layout
    times = timeline_us(log)
    w = ULogWriter(times[0] if times else 0)
    telem = w.add_topic(
        Topic(
            "softland_telemetry",
            [("int32_t", "seq")] + [(_ULOG_TYPES[f.kind], n) for n, f in lay.telem.items()],
        )
    )
    given = w.add_topic(
        Topic(
            "softland_flight_input",
            [("int32_t", "seq")] + [(_ULOG_TYPES[f.kind], n) for n, f in lay.given.items()],
        )
    )
    command_fields = [
        ("uint8_t", "code"),
        ("uint8_t", "param_id"),
        ("int32_t", "value"),
        ("uint8_t", "result"),
        ("uint8_t", "mode"),
        ("int32_t", "ack_value"),
    ]
    command = w.add_topic(Topic("softland_command", [("int32_t", "seq"), *command_fields]))
    w.info("sys_name", "softland")
    w.info("ver_sw", lay.firmware)
    w.info("softland_log_format", str(lay.format))
    w.info("softland_log_source", Path(log.path).name)
    for name, value in parameters(log).items():
        w.parameter(name, value)
    w.start_data()
    evs: dict[int, list[tuple[int, str]]] = {}
    for pos, level, text in events(log):
        evs.setdefault(pos, []).append((level, text))
    for i, (r, ts) in enumerate(zip(log.records, times, strict=True)):
        for level, text in evs.get(i, []):
            w.log(ts, text, level)
        if r.telem is not None:
            w.data(telem, ts, [r.seq, *_topic_values(lay.telem, r.telem)])
        if r.given is not None:
            w.data(given, ts, [r.seq, *_topic_values(lay.given, r.given)])
        if r.kind == K_CMD:
            c = decode_command(log, r)
            w.data(command, ts, [r.seq, *(c[n] for _, n in command_fields)])
    return w.to_bytes()


def export(log: FlightLogData, fmt: str, out: Path) -> None:
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}' (use one of: {', '.join(FORMATS)})")
    try:
        if fmt == "parquet":
            write_parquet(log, out)
        elif fmt == "csv":
            out.write_bytes(to_csv(log))
        else:
            out.write_bytes(to_ulog(log))
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}") from None
