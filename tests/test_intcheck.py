"""Tests of the small-int tracing checker (softland.analysis.intcheck) on synthetic firmware
packages.

Every test builds its own ``fsw`` package under ``tmp_path`` and points the checker at it, so
the real firmware/fsw (if imported elsewhere in this pytest process) is never touched: the
context manager removes and restores any pre-existing ``fsw*`` entries of ``sys.modules``.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import traceback
import types
from pathlib import Path

import pytest

from softland.analysis.intcheck import (
    SMALL_INT_MAX,
    SMALL_INT_MIN,
    BoundTracker,
    Violation,
    install_helpers,
    instrument_source,
    instrumented_firmware,
)

CONST_PRELUDE = """\
try:
    from micropython import const
except ImportError:
    def const(x):
        return x
"""


def make_pkg(tmp_path: Path, files: dict[str, str], package: str = "fsw") -> Path:
    """Write ``files`` (relative to the package dir) and return the firmware dir."""
    root = tmp_path / "fwx"
    pkg = root / package
    pkg.mkdir(parents=True, exist_ok=True)
    files = {"__init__.py": "", **files}
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def line_of(root: Path, rel: str, needle: str, package: str = "fsw") -> int:
    lines = (root / package / rel).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def run_plain(root: Path, rel: str, modname: str) -> dict[str, object]:
    """Execute a synthetic module uninstrumented (for semantic comparisons)."""
    path = root / "fsw" / rel
    ns: dict[str, object] = {"__name__": modname}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    return ns


@pytest.fixture(autouse=True)
def _no_micropython(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force the CPython fallback of ``from micropython import const`` even if some package in
    # the environment provides a ``micropython`` module.
    monkeypatch.setitem(sys.modules, "micropython", None)


FIXED_POINT = """\
    try:
        from micropython import const
    except ImportError:
        def const(x):
            return x

    _Q = const(12)


    def scale(a, b):
        return (a * b) >> _Q


    def scale_safe(a, b):
        return ((a >> 6) * (b >> 6)) >> (_Q - 12)
    """


def test_intermediate_violation_reported_with_line(tmp_path: Path) -> None:
    root = make_pkg(tmp_path, {"fixed.py": FIXED_POINT})
    with instrumented_firmware(root) as tracker:
        from fsw.fixed import scale

        result = scale(40000, 40000)  # product 1.6e9 > 2**30; result 390625 fits
    assert result == (40000 * 40000) >> 12
    assert result <= SMALL_INT_MAX
    line = line_of(root, "fixed.py", "(a * b) >> _Q")
    assert tracker.violation_count == 1
    assert tracker.violations == [
        Violation(module="fsw.fixed", lineno=line, col=12, expr="a * b", value=1_600_000_000)
    ]
    assert tracker.max_abs == 1_600_000_000
    assert tracker.max_site == f"fsw/fixed.py:{line}"
    assert tracker.max_expr == "a * b"
    assert not tracker.ok
    assert tracker.count == 2  # the product and the shift; ``const(12)`` is not arithmetic
    with pytest.raises(AssertionError, match="a \\* b = 1600000000"):
        tracker.assert_clean()


def test_clean_module_reports_nothing(tmp_path: Path) -> None:
    root = make_pkg(tmp_path, {"fixed.py": FIXED_POINT})
    with instrumented_firmware(root) as tracker:
        from fsw.fixed import scale_safe

        assert scale_safe(40000, 40000) == (625 * 625) >> 0
    assert tracker.ok
    assert tracker.violations == []
    assert tracker.violation_count == 0
    assert tracker.count == 5  # two shifts, product, _Q - 12, outer shift
    assert tracker.max_abs == 625 * 625
    tracker.assert_clean()


def test_negative_bound_and_unary_ops(tmp_path: Path) -> None:
    src = """\
    def f(x):
        a = -x
        b = ~x
        c = -x - 1
        return a, b, c
    """
    root = make_pkg(tmp_path, {"neg.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw.neg import f

        assert f(2**30) == (-(2**30), ~(2**30), -(2**30) - 1)
    # -2**30 is the smallest small int; ~2**30 == -2**30 - 1 and -x - 1 are one past it.
    assert sorted(v.expr for v in tracker.violations) == ["-x - 1", "~x"]
    assert all(v.value == SMALL_INT_MIN - 1 for v in tracker.violations)
    assert tracker.max_abs == 2**30 + 1


def test_custom_bounds(tmp_path: Path) -> None:
    root = make_pkg(tmp_path, {"m.py": "def f(x):\n    return x * 2\n"})
    with instrumented_firmware(root, lo=-100, hi=100) as tracker:
        from fsw.m import f

        f(50)
        f(51)
        f(-51)
    assert tracker.lo == -100 and tracker.hi == 100
    assert [v.value for v in tracker.violations] == [102, -102]


def test_augassign_name_attribute_subscript_checked(tmp_path: Path) -> None:
    src = """\
    class State:
        def __init__(self):
            self.acc = 0
            self.buf = [0, 0, 0]


    def run(s, x, i):
        n = x
        n += x
        s.acc += x
        s.buf[i] += x
        s.buf[i + 1] -= x
        s.buf[0] |= 1
        return n
    """
    root = make_pkg(tmp_path, {"aug.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw.aug import State, run

        s = State()
        assert run(s, 2**29, 1) == 2**30
        assert run(s, 2**29, 1) == 2**30
    assert s.acc == 2**30 and s.buf == [1, 2**30, -(2**30)]
    got = sorted((v.lineno, v.value) for v in tracker.violations)
    line_n = line_of(root, "aug.py", "n += x")
    line_acc = line_of(root, "aug.py", "s.acc += x")
    line_buf = line_of(root, "aug.py", "s.buf[i] += x")
    # First call: n reaches exactly 2**30 (one past the max). Second call: n again, acc and
    # buf[1] reach 2**30; buf[2] reaches -2**30, which is still a small int.
    assert got == [
        (line_n, 2**30),
        (line_n, 2**30),
        (line_acc, 2**30),
        (line_buf, 2**30),
    ]
    assert {v.expr for v in tracker.violations} == {"n += x", "s.acc += x", "s.buf[i] += x"}


AUG_ORDER = """\
log = []


class Box:
    def __init__(self):
        self.v = 0
        self.items = [0, 2**29]
        self.raw = bytearray(4)

    def __getattr__(self, name):
        raise AttributeError(name)


class Watched:
    def __init__(self):
        self._v = 5

    @property
    def v(self):
        log.append("get")
        return self._v

    @v.setter
    def v(self, value):
        log.append("set")
        self._v = value


box = Box()
watched = Watched()


def obj():
    log.append("obj")
    return box


def wobj():
    log.append("wobj")
    return watched


def key():
    log.append("key")
    return 1


def val(x):
    log.append("val")
    return x


def run():
    obj().v += val(7)
    obj().items[key()] += val(1 << 29)
    obj().raw[key():key() + 2] += b""
    obj().raw[0] |= val(0x80)
    wobj().v += val(1)
    obj().items[key()] >>= val(30)
    return box.v, box.items, bytes(box.raw), watched._v
"""


def test_augassign_evaluates_target_once_and_in_cpython_order(tmp_path: Path) -> None:
    root = make_pkg(tmp_path, {"order.py": AUG_ORDER})
    expected_ns = run_plain(root, "order.py", "plain_order")
    expected = expected_ns["run"]()  # type: ignore[operator]
    expected_log = list(expected_ns["log"])  # type: ignore[call-overload]
    with instrumented_firmware(root) as tracker:
        order = importlib.import_module("fsw.order")
        assert order.run() == expected
        assert order.log == expected_log
    # Every target object/key expression evaluated exactly once per statement.
    assert order.log.count("obj") == 5
    assert order.log.count("wobj") == 1
    assert order.log.count("key") == 4
    assert expected_log[-7:] == ["wobj", "get", "val", "set", "obj", "key", "val"]
    # The subscript result 2**30 is flagged, at the AugAssign line.
    line = line_of(root, "order.py", "obj().items[key()] += val(1 << 29)")
    assert [(v.lineno, v.value) for v in tracker.violations] == [(line, 2**30)]
    # No temporaries left behind in the module namespace.
    assert not [k for k in vars(order) if k.startswith("_ic_t")]


def test_augassign_keeps_inplace_semantics_and_scopes(tmp_path: Path) -> None:
    src = """\
    counter = 0
    items = [1]
    alias = items
    items += [2]
    data = bytearray(b"ab")
    view = data
    data += b"cd"


    def bump(n):
        global counter
        counter += n
        return counter


    def make():
        total = 0

        def add(x):
            nonlocal total
            total += x
            return total

        return add


    class K:
        base = 10
        base *= 3
        scale = base * 2
    """
    root = make_pkg(tmp_path, {"scope.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw import scope

        assert scope.alias is scope.items and scope.items == [1, 2]
        assert scope.view is scope.data and scope.data == bytearray(b"abcd")
        assert scope.bump(3) == 3 and scope.bump(4) == 7 and scope.counter == 7
        add = scope.make()
        assert add(5) == 5 and add(6) == 11
        assert scope.K.base == 30 and scope.K.scale == 60
        assert not [k for k in vars(scope.K) if k.startswith("_ic_")]
    assert tracker.ok
    assert tracker.count == 6  # counter x2, total x2, base x2; list/bytearray += are not ints


def test_non_int_values_not_flagged(tmp_path: Path) -> None:
    src = """\
    def mix():
        b = b"ab" + b"cd" * 3
        s = "x" * 5
        f = 1.5e12 * 3.0 + 2.0**40
        g = 10**12 / 7
        lst = [0] * 4 + [1]
        t = (1, 2) + (3,)
        flag = True + False
        big_float = -f
        acc = 0.0
        acc += 1e15
        m = max(1e12, 2e12)
        return b, s, f, g, lst, t, flag, big_float, acc, m
    """
    root = make_pkg(tmp_path, {"mix.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw.mix import mix

        out = mix()
    assert out[0] == b"abcdcdcd" and out[4] == [0, 0, 0, 0, 1]
    # Only ``True + False`` (an int) and ``10**12`` (an int, and too big) produce ints.
    assert tracker.violation_count == 1
    assert tracker.violations[0].expr == "10**12"


def test_checked_calls_and_literals(tmp_path: Path) -> None:
    src = """\
    BIG = 3000000000
    MASK = (1 << 40) >> 20


    def calls(x, f):
        a = abs(x)
        b = max(x, 0)
        c = min(x, 0)
        d = int(f)
        e = int.from_bytes(b"\\xff\\xff\\xff\\xff", "little")
        return a, b, c, d, e
    """
    root = make_pkg(tmp_path, {"calls.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw import calls

        assert calls.MASK == 1 << 20
        calls.calls(-(2**30), 3e9)
    by_expr = {v.expr: v.value for v in tracker.violations}
    assert by_expr == {
        "3000000000": 3_000_000_000,
        "1 << 40": 1 << 40,
        "abs(x)": 2**30,
        "int(f)": 3_000_000_000,
        'int.from_bytes(b"\\xff\\xff\\xff\\xff", "little")': 2**32 - 1,
    }
    # max(x, 0) == 0 and min(x, 0) == -2**30 are fine.


def test_constant_folding_not_counted(tmp_path: Path) -> None:
    src = """\
    def f(x):
        return x * (1 << 12) + (-1) + ~0 - 4096 * 4096
    """
    root = make_pkg(tmp_path, {"fold.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw.fold import f

        assert f(3) == 3 * 4096 - 1 - 1 - 4096 * 4096
    # x * 4096, + -1, + ~0, - 16777216: four run-time results; the constants are folded.
    assert tracker.count == 4
    assert tracker.ok


def test_constant_expressions_stepwise_or_whole(tmp_path: Path) -> None:
    src = """\
    I32_MIN = -0x40000000
    PORTABLE_MIN = -0x3FFFFFFF - 1
    MASK = (1 << 40) >> 20
    TOO_BIG = 1 << 30
    """
    root = make_pkg(tmp_path, {"consts.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw import consts

        assert consts.I32_MIN == consts.PORTABLE_MIN == SMALL_INT_MIN
    assert sorted(v.expr for v in tracker.violations) == ["0x40000000", "1 << 30", "1 << 40"]
    with instrumented_firmware(root, fold_whole_constants=True) as tracker2:
        from fsw import consts  # noqa: F811

        assert consts.MASK == 1 << 20
    assert [v.expr for v in tracker2.violations] == ["1 << 30"]


def test_comprehensions_lambdas_and_generators(tmp_path: Path) -> None:
    src = """\
    def squares(xs):
        return [x * x for x in xs]


    def total(xs):
        return sum(x << 20 for x in xs)


    SCALE = lambda v: v * 65536  # noqa: E731


    class Table:
        rows = {k: k * 40000 for k in (1, 30000)}
    """
    root = make_pkg(tmp_path, {"comp.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw import comp

        comp.squares([10, 40000])
        comp.total([1, 2000])
        comp.SCALE(20000)
    lines = {v.expr: v.lineno for v in tracker.violations}
    assert lines == {
        "k * 40000": line_of(root, "comp.py", "k * 40000"),
        "x * x": line_of(root, "comp.py", "x * x"),
        "x << 20": line_of(root, "comp.py", "x << 20"),
        "sum(x << 20 for x in xs)": line_of(root, "comp.py", "sum(x << 20"),
        "v * 65536": line_of(root, "comp.py", "v * 65536"),
    }


def test_const_fallback_and_real_micropython_const(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = CONST_PRELUDE + textwrap.dedent(
        """\
        _GAIN = const(3 << 12)
        LIMIT = const(1 << 20)


        def gain(x):
            return (x * _GAIN) >> 12
        """
    )
    root = make_pkg(tmp_path, {"gains.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw import gains

        assert gains.const(5) == 5  # the CPython fallback was defined
        assert gains.gain(1000) == 3000 and gains.LIMIT == 1 << 20
    assert tracker.ok

    # With a ``micropython`` module providing const, that one is used; still instrumented.
    fake = types.ModuleType("micropython")
    fake.const = lambda x: x  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "micropython", fake)
    with instrumented_firmware(root) as tracker2:
        from fsw import gains as gains2

        assert gains2.const is fake.const
        gains2.gain(10**6)
    assert gains2 is not gains
    assert tracker2.violation_count == 1  # 1e6 * 12288


def test_sys_modules_restored_and_real_package_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_pkg(tmp_path, {"fixed.py": FIXED_POINT, "other.py": "X = 1\n"})
    # Stand-ins for a previously imported (real, uninstrumented) firmware package.
    real_pkg = types.ModuleType("fsw")
    real_pkg.__path__ = []  # type: ignore[attr-defined]
    real_fixed = types.ModuleType("fsw.fixed")
    for name in list(sys.modules):
        if name == "fsw" or name.startswith("fsw."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fsw", real_pkg)
    monkeypatch.setitem(sys.modules, "fsw.fixed", real_fixed)
    before = dict(sys.modules)
    meta_before = list(sys.meta_path)

    with instrumented_firmware(root) as tracker:
        assert "fsw" not in sys.modules and "fsw.fixed" not in sys.modules
        import fsw.fixed
        import fsw.other

        inst_fixed = fsw.fixed
        assert sys.modules["fsw"] is not real_pkg
        assert sys.modules["fsw.fixed"] is inst_fixed is not real_fixed
        assert "_ic_chk_" in vars(inst_fixed)
        assert Path(inst_fixed.__file__) == (root / "fsw" / "fixed.py").resolve()
        inst_fixed.scale(40000, 40000)

    assert sys.modules["fsw"] is real_pkg
    assert sys.modules["fsw.fixed"] is real_fixed
    assert "fsw.other" not in sys.modules
    assert {k: v for k, v in sys.modules.items() if k.startswith("fsw")} == {
        "fsw": real_pkg,
        "fsw.fixed": real_fixed,
    }
    assert sys.meta_path == meta_before
    assert {k for k in sys.modules if k.startswith("fsw")} == {
        k for k in before if k.startswith("fsw")
    }
    assert not hasattr(real_pkg, "other")
    assert tracker.violation_count == 1
    # Nothing (no bytecode cache) written into the firmware tree.
    assert not list(root.rglob("__pycache__"))


def test_sys_modules_restored_on_exception(tmp_path: Path) -> None:
    root = make_pkg(tmp_path, {"boom.py": "def f():\n    return 1 // 0\n"})
    saved = {k: v for k, v in sys.modules.items() if k == "fsw" or k.startswith("fsw.")}
    meta_before = list(sys.meta_path)
    with pytest.raises(ZeroDivisionError) as excinfo:
        with instrumented_firmware(root):
            from fsw.boom import f

            f()
    assert {k: v for k, v in sys.modules.items() if k == "fsw" or k.startswith("fsw.")} == saved
    assert sys.meta_path == meta_before
    # Tracebacks point at the firmware file and line.
    last = traceback.extract_tb(excinfo.tb)[-1]
    assert Path(last.filename) == (root / "fsw" / "boom.py").resolve()
    assert last.lineno == 2
    assert last.line == "return 1 // 0"


def test_subpackages_and_intra_package_imports(tmp_path: Path) -> None:
    files = {
        "__init__.py": "from fsw.link import Decoder\nVERSION = 1 + 1\n",
        "link.py": """\
            class Decoder:
                def crc(self, data):
                    c = 0xFFFF
                    for b in data:
                        c ^= b << 8
                        for _ in range(8):
                            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
                    return c
            """,
        "ctl/__init__.py": "from .pi import step\n",
        "ctl/pi.py": """\
            from fsw.link import Decoder
            from fsw.ctl import gains


            def step(err):
                return (err * gains.KP) >> 12
            """,
        "ctl/gains.py": "KP = 5 << 12\n",
        "ns/mod.py": "Y = 2 * 3\n",  # directory without __init__.py
    }
    root = make_pkg(tmp_path, files)
    with instrumented_firmware(root) as tracker:
        import fsw
        from fsw.ctl import step
        from fsw.ns import mod

        assert fsw.VERSION == 2 and mod.Y == 6
        # a synthetic bitwise CRC-16/CCITT-FALSE (as the LRF sensor's; the real link uses a
        # CRC-32 in C): its values stay within the small ints
        assert fsw.Decoder().crc(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE check value
        assert step(1000) == 5000
        assert sys.modules["fsw.ctl.pi"].Decoder is fsw.Decoder
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("fsw.missing")
    assert tracker.ok
    assert tracker.count > 9 * 8
    assert {s.relpath for s in tracker.sites} >= {"fsw/link.py", "fsw/ctl/pi.py"}


def test_violation_list_capped(tmp_path: Path) -> None:
    src = "def f(n):\n    for i in range(n):\n        x = (i + 2**29) * 2\n"
    root = make_pkg(tmp_path, {"many.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw.many import f

        f(150)
    assert tracker.violation_count == 150  # every product, 2**30 + 2 * i
    assert len(tracker.violations) == 100
    assert [v.value for v in tracker.violations] == [2**30 + 2 * i for i in range(100)]
    assert "and 50 more" in tracker.summary()


def test_reset_and_shared_tracker(tmp_path: Path) -> None:
    root = make_pkg(tmp_path, {"fixed.py": FIXED_POINT})
    tracker = BoundTracker(per_site=True)
    with instrumented_firmware(root, tracker=tracker) as t:
        assert t is tracker
        from fsw.fixed import scale, scale_safe

        scale(40000, 40000)
        scale_safe(4000, 4000)
        top = tracker.top_sites(2)
        assert top[0][1:] == ("a * b", 1_600_000_000)
        assert top[1][1:] == ("(a * b) >> _Q", 390_625)
        tracker.reset()
        assert (tracker.count, tracker.violation_count, tracker.max_abs) == (0, 0, 0)
        assert tracker.violations == [] and tracker.max_site == ""
        scale_safe(4000, 4000)
    assert tracker.ok and tracker.max_abs == 62 * 62
    assert tracker.headroom_bits > 18


def test_instrument_source_directly() -> None:
    tracker = BoundTracker(-1000, 1000)
    code = instrument_source("y = x * x\n", "<snippet>", tracker, module="snippet")
    ns: dict[str, object] = {"x": 40}
    install_helpers(ns, tracker)
    exec(code, ns)
    assert ns["y"] == 1600
    assert tracker.violations == [Violation("snippet", 1, 4, "x * x", 1600)]


def test_int_subclass_recorded_by_value(tmp_path: Path) -> None:
    src = "import enum\n\n\nclass F(enum.IntFlag):\n    A = 1\n\n\ndef f():\n    return -F.A\n"
    root = make_pkg(tmp_path, {"flags.py": src})
    with instrumented_firmware(root) as tracker:
        from fsw.flags import f

        assert f() == -1
    assert tracker.count == 1 and tracker.max_abs == 1


def test_missing_package_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        with instrumented_firmware(tmp_path / "nowhere"):
            pass
