"""The drop capture: the samples of one tabletop drop and what they mean, and its file.

File format (text, CSV below a commented header, so a spreadsheet or pandas reads it)::

    # softland drop capture 1
    # sensor: lidarlite
    # variant: v3
    # source: board /dev/ttyACM0
    # samples: 2000
    # rate_hz: 268.4
    # i2c_hz: 400000
    # release_us: 1234567          (or "none": no release pin)
    # bus_errors: 0
    # timeouts: 0
    # units: t_us=us since the first trigger, dt_us=us, distance_cm=cm, status=STATUS byte,
    #        flags=bits (1 bias-corrected, 2 bus error, 4 busy timeout, 8 released)
    t_us,dt_us,distance_cm,status,flags
    0,3812,201,32,1
    ...
    # end

``t_us`` is the sample's trigger time on the board's clock (ticks_us, unwrapped) relative to
the first trigger; the distance was read back ``dt_us`` later. ``release_us`` is on the same
time base. A file that stops before ``# end`` or holds fewer rows than ``samples`` is truncated
and is refused (``read_capture`` raises UserError naming what is wrong).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from softland.errors import UserError

MAGIC = "# softland drop capture 1"
COLUMNS = ("t_us", "dt_us", "distance_cm", "status", "flags")
F_BIAS = 1
F_BUS_ERROR = 2
F_TIMEOUT = 4
F_RELEASED = 8
UNITS = (
    "t_us=us since the first trigger, dt_us=us, distance_cm=cm, status=STATUS byte, "
    "flags=bits (1 bias-corrected, 2 bus error, 4 busy timeout, 8 released)"
)
TICKS_PERIOD = 1 << 30


@dataclass
class DropCapture:
    """One capture. Arrays are int64, one entry a sample."""

    variant: str
    source: str
    t_us: np.ndarray
    dt_us: np.ndarray
    distance_cm: np.ndarray
    status: np.ndarray
    flags: np.ndarray
    sensor: str = "lidarlite"
    i2c_hz: int = 0
    release_us: int | None = None
    bus_errors: int = 0
    timeouts: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.t_us)
        for name in COLUMNS:
            arr = np.asarray(getattr(self, name), dtype=np.int64)
            if len(arr) != n:
                raise ValueError(f"column {name} has {len(arr)} samples, t_us has {n}")
            setattr(self, name, arr)

    @property
    def samples(self) -> int:
        return len(self.t_us)

    @property
    def rate_hz(self) -> float:
        if self.samples < 2:
            return 0.0
        return float(1e6 / np.median(np.diff(self.t_us)))

    @property
    def valid(self) -> np.ndarray:
        """Samples with a distance: no bus error, no timeout, not 0 (stuck) or 1 (no return)."""
        bad = (self.flags & (F_BUS_ERROR | F_TIMEOUT)) != 0
        return ~bad & (self.distance_cm > 1)


def unwrap_ticks(ticks: np.ndarray) -> np.ndarray:
    """2^30-wrapping tick stamps, in order, as a monotonic int64 series from 0."""
    t = np.asarray(ticks, dtype=np.int64)
    if len(t) == 0:
        return t
    steps = np.diff(t) % TICKS_PERIOD
    return np.concatenate([[0], np.cumsum(steps)])


def write_capture(path: Path, cap: DropCapture) -> None:
    lines = [
        MAGIC,
        f"# sensor: {cap.sensor}",
        f"# variant: {cap.variant}",
        f"# source: {cap.source}",
        f"# samples: {cap.samples}",
        f"# rate_hz: {cap.rate_hz:.1f}",
        f"# i2c_hz: {cap.i2c_hz}",
        f"# release_us: {'none' if cap.release_us is None else cap.release_us}",
        f"# bus_errors: {cap.bus_errors}",
        f"# timeouts: {cap.timeouts}",
    ]
    lines += [f"# {k}: {v}" for k, v in cap.extra.items()]
    lines += [f"# units: {UNITS}", ",".join(COLUMNS)]
    cols = np.stack([getattr(cap, c) for c in COLUMNS], axis=1)
    lines += [",".join(str(int(v)) for v in row) for row in cols]
    lines.append("# end")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _int(path: Path, key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{path}: header {key!r} is not an integer: {value!r}") from None


def read_capture(path: Path) -> DropCapture:
    """Read a capture file; UserError (one line) for a missing, foreign, malformed or truncated
    file."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise UserError(f"capture {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"capture {path} cannot be read: {exc}") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != MAGIC:
        raise UserError(f"{path} is not a softland drop capture (first line {MAGIC!r} missing)")
    header: dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i].startswith("#"):
        key, _, value = lines[i][1:].partition(":")
        header[key.strip()] = value.strip()
        i += 1
    for key in ("variant", "samples", "source"):
        if key not in header:
            raise UserError(f"{path}: header line '# {key}: ...' missing")
    if i >= len(lines) or lines[i].strip() != ",".join(COLUMNS):
        raise UserError(f"{path}: column line {','.join(COLUMNS)!r} missing after the header")
    declared = _int(path, "samples", header["samples"])
    rows: list[list[int]] = []
    ended = False
    for lineno, line in enumerate(lines[i + 1 :], start=i + 2):
        if line.strip() == "# end":
            ended = True
            break
        parts = line.split(",")
        try:
            if len(parts) != len(COLUMNS):
                raise ValueError
            rows.append([int(p) for p in parts])
        except ValueError:
            if lineno == len(lines):  # the last line, cut mid-row: reported as truncated
                break
            raise UserError(f"{path}:{lineno}: malformed sample row {line!r}") from None
    if not ended or len(rows) != declared:
        raise UserError(
            f"{path}: truncated capture: the header says {declared} samples, "
            f"{len(rows)} complete rows found{'' if ended else ' and no end marker'}"
        )
    data = np.array(rows, dtype=np.int64).reshape(-1, len(COLUMNS))
    release = header.get("release_us", "none")
    known = {
        "sensor", "variant", "source", "samples", "rate_hz", "i2c_hz", "release_us",
        "bus_errors", "timeouts", "units",
    }  # fmt: skip
    return DropCapture(
        variant=header["variant"],
        source=header["source"],
        sensor=header.get("sensor", "lidarlite"),
        t_us=data[:, 0],
        dt_us=data[:, 1],
        distance_cm=data[:, 2],
        status=data[:, 3],
        flags=data[:, 4],
        i2c_hz=_int(path, "i2c_hz", header.get("i2c_hz", "0")),
        release_us=None if release == "none" else _int(path, "release_us", release),
        bus_errors=_int(path, "bus_errors", header.get("bus_errors", "0")),
        timeouts=_int(path, "timeouts", header.get("timeouts", "0")),
        extra={k: v for k, v in header.items() if k not in known and k},
    )
