"""Versions on a MicroPython board: two slots, a manifest of hashes, an atomic switch.

Layout on the board (docs/flashing.md), every path relative to the board's root:

    main.py       the loader (mpside/loader_main.py): runs fw/<active>/main.py, counts the
                  boots of an unconfirmed version and rolls back after MAX_TRIES of them
    fw/state      which slot is active, its version, the previous one, the boot count
    fw/a/, fw/b/  one version each: fsw/, hal/, board_config.py, main.py, manifest

A flash uploads into the slot that is not active (after marking it no longer a rollback
target), has the board hash every file against the manifest, and only then replaces fw/state
(written to fw/state.new and renamed), which is the switch. The loader is replaced the same way,
after the switch, and only when it differs. A reset at any moment boots one whole version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = [
    "LOADER",
    "BoardInfo",
    "BoardState",
    "Manifest",
    "QUERY_SCRIPT",
    "MPY_ARCHES",
    "parse_query",
    "prepare_script",
    "rename_script",
    "verify_script",
]

SLOTS = ("a", "b")
FW = "fw"
MANIFEST = "manifest"
LOADER = Path(__file__).with_name("mpside") / "loader_main.py"
JSON_TAG = "softland-json "
BAD_TAG = "softland-bad "
RM_TAG = "softland-rm "
SWITCHED_TAG = "softland-switched"
# sys.implementation._mpy >> 10, MicroPython's MP_NATIVE_ARCH_* order (mpy-cross -march names)
MPY_ARCHES = (
    None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
    "xtensa", "xtensawin", "rv32imc", "rv64imc",
)  # fmt: skip


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """Every file of one version (path inside the slot, SHA-256); its id hashes the list."""

    entries: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, files: Mapping[str, bytes]) -> Manifest:
        return cls(tuple(sorted((path, sha256_hex(data)) for path, data in files.items())))

    @property
    def body(self) -> str:
        return "".join(f"{digest} {path}\n" for path, digest in self.entries)

    @property
    def version(self) -> str:
        return sha256_hex(self.body.encode())[:12]

    def text(self) -> str:
        return f"softland-manifest 1\nversion {self.version}\n{self.body}"

    def expected(self) -> dict[str, str]:
        """Path -> SHA-256 of every file in a slot holding this version, manifest included."""
        expected = dict(self.entries)
        expected[MANIFEST] = sha256_hex(self.text().encode())
        return expected


@dataclass
class BoardState:
    """fw/state: the active slot and version, the previous one, the boot count."""

    active: str
    version: str
    previous: str = "-"
    previous_version: str = "-"
    previous_confirmed: bool = False
    tries: int = 0
    confirmed: bool = False
    rolled_back: str | None = None  # a version the loader abandoned

    @classmethod
    def parse(cls, text: str | None) -> BoardState | None:
        """The loader's reading of fw/state (None: missing or cut short)."""
        if not text:
            return None
        fields: dict[str, str] = {}
        for line in text.split("\n"):
            parts = line.split(" ", 1)
            if len(parts) == 2:
                fields[parts[0]] = parts[1]
        needed = ("active", "version", "previous", "previous_version", "previous_confirmed")
        if fields.get("end") != "ok" or any(k not in fields for k in (*needed, "tries")):
            return None
        try:
            tries = int(fields["tries"])
        except ValueError:
            return None
        return cls(
            active=fields["active"],
            version=fields["version"],
            previous=fields["previous"],
            previous_version=fields["previous_version"],
            previous_confirmed=fields["previous_confirmed"] == "1",
            tries=tries,
            confirmed=fields.get("confirmed") == "1",
            rolled_back=fields.get("rolled_back"),
        )

    def text(self) -> str:
        """The file, as the loader's _save writes it (sorted keys, then 'end ok')."""
        fields = {
            "active": self.active,
            "version": self.version,
            "previous": self.previous,
            "previous_version": self.previous_version,
            "previous_confirmed": "1" if self.previous_confirmed else "0",
            "tries": str(self.tries),
            "confirmed": "1" if self.confirmed else "0",
        }
        if self.rolled_back:
            fields["rolled_back"] = self.rolled_back
        return "".join(f"{k} {fields[k]}\n" for k in sorted(fields)) + "end ok\n"


@dataclass
class BoardInfo:
    """What the board said: its .mpy support, its state, the hashes of both slots' files."""

    mpy: int | None
    state: BoardState | None
    slots: dict[str, dict[str, str]] = field(default_factory=dict)
    loader: str | None = None  # SHA-256 of the board's main.py
    versions: dict[str, str] = field(default_factory=dict)  # slot -> its manifest's version

    @property
    def mpy_version(self) -> tuple[int, int] | None:
        return None if self.mpy is None else (self.mpy & 0xFF, (self.mpy >> 8) & 3)

    @property
    def mpy_arch(self) -> str | None:
        if self.mpy is None:
            return None
        index = self.mpy >> 10
        return MPY_ARCHES[index] if index < len(MPY_ARCHES) else f"arch#{index}"


# Board side, shared by every script: hash a file, replace a file by renaming a complete copy.
_BOARD_LIB = """\
import os, sys, hashlib, binascii
def _h(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(1024)
            if not b:
                break
            h.update(b)
    return binascii.hexlify(h.digest()).decode()
def _put(p, text):
    with open(p + '.new', 'w') as f:
        f.write(text)
    os.rename(p + '.new', p)
def _walk(d, out, base):
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return
    for e in entries:
        p = d + '/' + e[0]
        if e[1] == 0x4000:
            _walk(p, out, base)
        else:
            out[p[len(base) + 1:]] = p
"""

QUERY_SCRIPT = (
    _BOARD_LIB
    + f"""\
def _q():
    import json
    r = {{'mpy': getattr(sys.implementation, '_mpy', None), 'slots': {{}}, 'versions': {{}}}}
    for s in {SLOTS!r}:
        files = {{}}
        _walk('{FW}/' + s, files, '{FW}/' + s)
        r['slots'][s] = {{k: _h(p) for k, p in files.items()}}
        try:
            with open('{FW}/' + s + '/{MANIFEST}') as f:
                f.readline()
                r['versions'][s] = f.readline().split()[1]
        except (OSError, IndexError):
            pass
    for k, p in (('state', '{FW}/state'), ('state_new', '{FW}/state.new')):
        try:
            with open(p) as f:
                r[k] = f.read()
        except OSError:
            r[k] = None
    try:
        r['loader'] = _h('main.py')
    except OSError:
        r['loader'] = None
    print('{JSON_TAG}' + json.dumps(r))
_q()
"""
)


def parse_query(stdout: str) -> BoardInfo | None:
    """The query script's answer, or None when it did not print one."""
    for line in stdout.splitlines():
        if line.startswith(JSON_TAG):
            raw = json.loads(line[len(JSON_TAG) :])
            state = BoardState.parse(raw.get("state")) or BoardState.parse(raw.get("state_new"))
            return BoardInfo(
                mpy=raw.get("mpy"),
                state=state,
                slots={slot: dict(hashes) for slot, hashes in raw.get("slots", {}).items()},
                loader=raw.get("loader"),
                versions=dict(raw.get("versions", {})),
            )
    return None


def prepare_script(slot: str, dirs: Sequence[str], keep: Sequence[str], state: str | None) -> str:
    """Before uploading into `slot`: write `state` (the slot no longer a rollback target), make
    the directories, delete files in the slot that the new version does not have."""
    put = f"_put('{FW}/state', {state!r})\n" if state is not None else ""
    base = f"{FW}/{slot}"
    return (
        _BOARD_LIB
        + put
        + f"""\
def _prep(base, dirs, keep):
    for d in ['{FW}', base] + [base + '/' + d for d in dirs]:
        try:
            os.mkdir(d)
        except OSError:
            pass
    files = {{}}
    _walk(base, files, base)
    for k, p in files.items():
        if k not in keep:
            os.remove(p)
            print('{RM_TAG}' + k)
_prep({base!r}, {list(dirs)!r}, {tuple(sorted(keep))!r})
"""
    )


def verify_script(slot: str, expected: Mapping[str, str], state: str | None) -> str:
    """Hash every file of `slot` on the board; on any mismatch name it and fail, else write
    `state` (the switch)."""
    put = f"    _put('{FW}/state', {state!r})\n    print('{SWITCHED_TAG}')\n" if state else ""
    return (
        _BOARD_LIB
        + f"""\
def _verify(base, expected):
    bad = []
    for k, want in expected.items():
        try:
            got = _h(base + '/' + k)
        except OSError:
            got = None
        if got != want:
            bad.append(k)
    for k in bad:
        print('{BAD_TAG}' + k)
    if bad:
        raise OSError('softland: ' + str(len(bad)) + ' files differ from the manifest')
{put}_verify({f"{FW}/{slot}"!r}, {dict(sorted(expected.items()))!r})
"""
    )


def rename_script(pairs: Sequence[tuple[str, str]]) -> str:
    """Rename each complete temporary copy over its target (the loader; repaired files)."""
    return "import os\n" + "".join(f"os.rename({a!r}, {b!r})\n" for a, b in pairs)


def remote_parent_dirs(paths: Sequence[str]) -> list[str]:
    """Every directory the slot-relative `paths` need, parents first."""
    dirs: set[str] = set()
    for path in paths:
        parent = PurePosixPath(path).parent
        while str(parent) != ".":
            dirs.add(parent.as_posix())
            parent = parent.parent
    return sorted(dirs, key=lambda d: (d.count("/"), d))
