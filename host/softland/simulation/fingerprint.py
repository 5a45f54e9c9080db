"""What a machine flies a campaign run with, hashed: the firmware, the MicroPython binary, and
the host code that simulates the descent.

A run's result depends on every byte of the firmware, on the unix-port binary that hosts it
(for the MicroPython runtimes), on the host simulation (softland's own sources) and on numpy's
random streams. Two machines that agree on all of them fly any seed to the same telemetry
hash, so a campaign spread over several machines is the campaign one machine would fly. The
Dask backend (softland.simulation.mc_dask) computes this on the client and on every worker and
refuses to fly where they differ.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import softland
from softland.boards.firmware import firmware_dir

MICROPYTHON_RUNTIMES = ("micropython", "micropython32")
# file kinds that make up the firmware and the host package (bytecode caches are not)
_SOURCE_SUFFIXES = (".py", ".mpy", ".toml", ".json")

# what each field is, for the mismatch message
FIELD_NAMES = {
    "softland_version": "softland version",
    "softland_sources": "softland host sources",
    "numpy_version": "numpy version",  # its random streams make the noise and dispersions
    "firmware": "firmware files",
    "micropython": "MicroPython binary",
}


@dataclass(frozen=True)
class Fingerprint:
    """Hashes (sha256, hex) and versions that decide a run's result on one machine.

    micropython is the binary's hash for the MicroPython runtimes and "" for cpython;
    firmware_dir and micropython_path say where they were found (not compared: two machines
    may keep the same files in different places)."""

    softland_version: str
    softland_sources: str
    numpy_version: str
    firmware: str
    micropython: str
    firmware_dir: str = ""
    micropython_path: str = ""

    def differences(
        self, other: Fingerprint, mine: str = "client", theirs: str = "worker"
    ) -> list[str]:
        """What differs from `other`, one phrase per field, e.g. "firmware files (client
        1a2b3c4d5e6f, worker 9f8e7d6c5b4a in /srv/fw)"; empty when they match."""
        out = []
        for name, label in FIELD_NAMES.items():
            a, b = getattr(self, name), getattr(other, name)
            if a != b:
                where = ""
                if name == "firmware" and other.firmware_dir:
                    where = f" in {other.firmware_dir}"
                elif name == "micropython" and other.micropython_path:
                    where = f" at {other.micropython_path}"
                out.append(f"{label} ({mine} {_short(a)}, {theirs} {_short(b)}{where})")
        return out

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _short(value: str) -> str:
    if not value:
        return "none"
    return value[:12] if len(value) == 64 else value


def tree_sha256(root: Path) -> str:
    """sha256 over the relative path and bytes of every source file under root, sorted."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in _SOURCE_SUFFIXES and "__pycache__" not in p.parts
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def compute_fingerprint(runtime: str, micropython: str | None) -> Fingerprint:
    """This machine's fingerprint for flying `runtime` (micropython: the binary's path, for
    the MicroPython runtimes)."""
    fw = firmware_dir()
    binary = ""
    if runtime in MICROPYTHON_RUNTIMES and micropython:
        binary = file_sha256(Path(micropython))
    return Fingerprint(
        softland_version=softland.__version__,
        softland_sources=tree_sha256(Path(softland.__file__).resolve().parent),
        numpy_version=np.__version__,
        firmware=tree_sha256(fw),
        micropython=binary,
        firmware_dir=str(fw),
        micropython_path=micropython or "",
    )
