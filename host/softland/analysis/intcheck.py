"""Tracing checker for the MicroPython small-int discipline.

On 32-bit MicroPython ports an int outside -2**30 .. 2**30-1 is a heap-allocated big int: slow,
and a ``MemoryError`` while the heap is locked. The firmware keeps every integer in its control
path inside that range, *intermediates included* (``(a * b) >> 12`` must not form a product
above 2**30 even if the shifted result is small).

:func:`instrumented_firmware` imports the firmware package under CPython from its source, with
every integer-producing expression rewritten to pass its result through
:meth:`BoundTracker.check`:

* ``BinOp`` (``+ - * / // % ** << >> & | ^ @``),
* ``UnaryOp`` ``-x`` and ``~x``,
* ``AugAssign`` (``x += e``, ``obj.a -= e``, ``buf[i] |= e``): the new value is checked, the
  target's object and key are evaluated once and in CPython's order, and in-place semantics
  (``list += ...``, ``bytearray += ...``) are kept by using :mod:`operator`'s ``i*`` functions,
* calls of ``abs``, ``min``, ``max``, ``int``, ``round``, ``pow``, ``sum`` and
  ``int.from_bytes``,
* integer literals that are themselves outside the range.

Only ``int`` results are recorded (``bool`` is skipped; ``int`` subclasses are recorded by
value); floats, bytes, lists etc. pass through untouched. Constant sub-expressions that fold to
an in-range value at every step (``1 << 12``, ``-1``) are left alone so CPython still folds
them; they cannot overflow at run time. ``-0x40000000`` is flagged by default (its literal is
2**30); write ``-0x3FFFFFFF - 1``, or pass ``fold_whole_constants=True`` to judge constant
expressions by their final value only (see :func:`transform_tree`).

Comprehensions, lambdas, generator expressions, default arguments and class bodies are
instrumented like any other code. Not checked: ints that enter without arithmetic (arguments
passed in by the host, ``struct.unpack`` results, indexing) until they take part in an
operation; code run through ``exec``/``eval``; and float or other heap use (the heap-locked
MicroPython runs cover that).

Example::

    with instrumented_firmware(Path("firmware")) as tracker:
        from fsw.estimator import Estimator
        run_descent(Estimator())
    tracker.assert_clean()
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import math
import operator
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SMALL_INT_MAX",
    "SMALL_INT_MIN",
    "BoundTracker",
    "Site",
    "Violation",
    "install_helpers",
    "instrument_source",
    "instrumented_firmware",
    "transform_tree",
]

SMALL_INT_MIN = -(2**30)
SMALL_INT_MAX = 2**30 - 1

#: Names injected into every instrumented module's globals. A single leading underscore: no
#: name mangling inside class bodies, and ``from m import *`` does not export them.
CHECK_NAME = "_ic_chk_"
SLICE_NAME = "_ic_slice_"
_TEMP_FMT = "_ic_t{}_"

_IOP_FUNCS: dict[type[ast.operator], str] = {
    ast.Add: "iadd",
    ast.Sub: "isub",
    ast.Mult: "imul",
    ast.MatMult: "imatmul",
    ast.Div: "itruediv",
    ast.FloorDiv: "ifloordiv",
    ast.Mod: "imod",
    ast.Pow: "ipow",
    ast.LShift: "ilshift",
    ast.RShift: "irshift",
    ast.BitOr: "ior",
    ast.BitXor: "ixor",
    ast.BitAnd: "iand",
}
_IOP_NAMES = {op: f"_ic_{fn}_" for op, fn in _IOP_FUNCS.items()}

_HELPERS: dict[str, Any] = {SLICE_NAME: slice}
_HELPERS.update({_IOP_NAMES[op]: getattr(operator, fn) for op, fn in _IOP_FUNCS.items()})

_CHECKED_CALLS = frozenset({"abs", "min", "max", "int", "round", "pow", "sum"})

_BIN_FUNCS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
}
_UNARY_FUNCS: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}


@dataclass(frozen=True)
class Violation:
    """One checked int result outside ``[lo, hi]``."""

    module: str  #: dotted module name, e.g. ``fsw.estimator``
    lineno: int
    col: int  #: 0-based column (``ast`` convention)
    expr: str  #: source text of the checked expression (or statement, for ``AugAssign``)
    value: int

    def __str__(self) -> str:
        return f"{self.module}:{self.lineno}:{self.col}: {self.expr} = {self.value}"


@dataclass(frozen=True)
class Site:
    """An instrumented expression."""

    module: str
    relpath: str  #: path relative to the firmware directory, posix style: ``fsw/estimator.py``
    lineno: int
    col: int
    end_lineno: int | None
    end_col: int | None

    @property
    def where(self) -> str:
        return f"{self.relpath}:{self.lineno}"


class BoundTracker:
    """Records every int produced by instrumented arithmetic.

    ``check(value, site)`` is the hot path: a closure over plain cells (no attribute lookups,
    no containers touched unless a violation is recorded; ~150 ns per checked result on
    CPython 3.11). Statistics are read through the properties below. ``violations`` keeps
    the first ``max_violations`` (100) records; ``violation_count`` counts all of them.

    With ``per_site=True`` the largest ``|value|`` per site is kept as well (see
    :meth:`top_sites`), at the cost of a dict update per checked result.
    """

    def __init__(
        self,
        lo: int = SMALL_INT_MIN,
        hi: int = SMALL_INT_MAX,
        *,
        max_violations: int = 100,
        per_site: bool = False,
    ) -> None:
        if lo > hi:
            raise ValueError(f"empty range [{lo}, {hi}]")
        self.lo = lo
        self.hi = hi
        self.max_violations = max_violations
        self.per_site = per_site
        self.sites: list[Site] = []
        self.violations: list[Violation] = []
        self.site_max: dict[int, int] = {}
        self._sources: dict[str, str] = {}
        self.check: Callable[[Any, int], Any]
        self._stats: Callable[[], tuple[int, int, int, int, int, int]]
        self._reset: Callable[[], None]
        self.check, self._stats, self._reset = self._make_check()

    # -- hot path ---------------------------------------------------------------------------

    def _make_check(
        self,
    ) -> tuple[
        Callable[[Any, int], Any],
        Callable[[], tuple[int, int, int, int, int, int]],
        Callable[[], None],
    ]:
        lo = self.lo
        hi = self.hi
        limit = self.max_violations
        record = self._record
        site_max = self.site_max
        per_site = self.per_site
        n = 0
        nviol = 0
        vmax = 0
        vmin = 0
        smax = -1
        smin = -1

        def check(v: Any, site: int) -> Any:
            nonlocal n, nviol, vmax, vmin, smax, smin
            if type(v) is not int:
                if type(v) is bool or not isinstance(v, int):
                    return v
                check(int(v), site)  # int subclass (IntEnum, IntFlag): record its value
                return v
            n += 1
            if v > vmax:
                vmax = v
                smax = site
            elif v < vmin:
                vmin = v
                smin = site
            if v > hi or v < lo:
                nviol += 1
                if nviol <= limit:
                    record(v, site)
            return v

        def check_per_site(v: Any, site: int) -> Any:
            check(v, site)
            if type(v) is int or (type(v) is not bool and isinstance(v, int)):
                a = -int(v) if v < 0 else int(v)
                if a > site_max.get(site, -1):
                    site_max[site] = a
            return v

        def stats() -> tuple[int, int, int, int, int, int]:
            return n, nviol, vmax, vmin, smax, smin

        def reset() -> None:
            nonlocal n, nviol, vmax, vmin, smax, smin
            n = nviol = vmax = vmin = 0
            smax = smin = -1
            self.violations.clear()
            site_max.clear()

        return (check_per_site if per_site else check), stats, reset

    def _record(self, value: int, site: int) -> None:
        s = self.sites[site]
        self.violations.append(Violation(s.module, s.lineno, s.col, self.expr_of(site), value))

    # -- statistics -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Number of int results checked."""
        return self._stats()[0]

    @property
    def violation_count(self) -> int:
        """Total number of out-of-range results (``violations`` holds only the first ones)."""
        return self._stats()[1]

    @property
    def max_value(self) -> int:
        return self._stats()[2]

    @property
    def min_value(self) -> int:
        return self._stats()[3]

    def _max_site_index(self) -> int:
        _, _, vmax, vmin, smax, smin = self._stats()
        return smax if vmax >= -vmin else smin

    @property
    def max_abs(self) -> int:
        """Largest ``|value|`` of any checked result."""
        _, _, vmax, vmin, _, _ = self._stats()
        return max(vmax, -vmin)

    @property
    def max_site(self) -> str:
        """Where ``max_abs`` was produced, ``"fsw/estimator.py:42"`` (``""`` if nothing yet)."""
        i = self._max_site_index()
        return self.sites[i].where if i >= 0 else ""

    @property
    def max_expr(self) -> str:
        """Source text of the expression that produced ``max_abs``."""
        i = self._max_site_index()
        return self.expr_of(i) if i >= 0 else ""

    @property
    def headroom_bits(self) -> float:
        """``log2(hi / max_abs)``: how many bits of margin the worst intermediate leaves."""
        m = self.max_abs
        return math.inf if m == 0 else math.log2(self.hi / m)

    @property
    def ok(self) -> bool:
        return self.violation_count == 0

    def reset(self) -> None:
        """Zero the statistics (e.g. after initialisation, to measure ticks only)."""
        self._reset()

    def expr_of(self, site: int) -> str:
        s = self.sites[site]
        source = self._sources.get(s.relpath)
        if source is None:
            return "?"
        pos = types.SimpleNamespace(
            lineno=s.lineno, col_offset=s.col, end_lineno=s.end_lineno, end_col_offset=s.end_col
        )
        text = ast.get_source_segment(source, pos)  # type: ignore[arg-type]
        return " ".join(text.split()) if text is not None else "?"

    def top_sites(self, n: int = 10) -> list[tuple[str, str, int]]:
        """``(where, expr, max |value|)`` of the ``n`` sites closest to the bound.

        Needs ``per_site=True``.
        """
        if not self.per_site:
            raise RuntimeError("BoundTracker(per_site=True) is needed for top_sites()")
        ranked = sorted(self.site_max.items(), key=lambda kv: kv[1], reverse=True)[:n]
        return [(self.sites[i].where, self.expr_of(i), a) for i, a in ranked]

    def summary(self) -> str:
        lines = [
            f"{self.count} int results checked against [{self.lo}, {self.hi}]; "
            f"max |value| {self.max_abs} at {self.max_site or '-'} ({self.max_expr or '-'}); "
            f"{self.violation_count} violation(s)"
        ]
        lines += [f"  {v}" for v in self.violations]
        if self.violation_count > len(self.violations):
            lines.append(f"  ... and {self.violation_count - len(self.violations)} more")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        """Raise ``AssertionError`` listing the violations, if any."""
        if self.violation_count:
            raise AssertionError(self.summary())

    # -- registration (used by the transformer) ---------------------------------------------

    def _add_source(self, relpath: str, source: str) -> None:
        self._sources[relpath] = source

    def _register(self, module: str, relpath: str, node: ast.AST) -> int:
        self.sites.append(
            Site(
                module,
                relpath,
                getattr(node, "lineno", 0),
                getattr(node, "col_offset", 0),
                getattr(node, "end_lineno", None),
                getattr(node, "end_col_offset", None),
            )
        )
        return len(self.sites) - 1


# -- AST transformation ---------------------------------------------------------------------

_NOFOLD = object()


def _fold(node: ast.AST) -> Any:
    """Value of a pure numeric constant expression, or ``_NOFOLD``."""
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) in (int, float, bool) else _NOFOLD
    if isinstance(node, ast.UnaryOp):
        ufn = _UNARY_FUNCS.get(type(node.op))
        operand = _fold(node.operand)
        if ufn is None or operand is _NOFOLD:
            return _NOFOLD
        try:
            return ufn(operand)
        except (TypeError, ValueError, OverflowError):
            return _NOFOLD
    if isinstance(node, ast.BinOp):
        bfn = _BIN_FUNCS.get(type(node.op))
        left = _fold(node.left)
        right = _fold(node.right)
        if bfn is None or left is _NOFOLD or right is _NOFOLD:
            return _NOFOLD
        # Refuse to evaluate huge results at transform time; the run-time check handles them.
        if isinstance(node.op, ast.Pow) and (abs(right) > 256 or abs(left) > 2**64):
            return _NOFOLD
        if isinstance(node.op, ast.LShift) and (not isinstance(right, int) or right > 1024):
            return _NOFOLD
        try:
            return bfn(left, right)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError):
            return _NOFOLD
    return _NOFOLD


class _Instrumenter(ast.NodeTransformer):
    def __init__(
        self,
        register: Callable[[ast.AST], int],
        lo: int,
        hi: int,
        fold_whole_constants: bool = False,
    ) -> None:
        self._register = register
        self._lo = lo
        self._hi = hi
        self._whole = fold_whole_constants
        self._ntemp = 0

    # helpers

    def _safe_constant(self, node: ast.AST) -> bool:
        """True if ``node`` folds to a non-int or an in-range int: cannot overflow at run time."""
        value = _fold(node)
        if value is _NOFOLD:
            return False
        if type(value) is bool or not isinstance(value, int):
            return True
        return self._lo <= value <= self._hi

    def _check_call(self, value: ast.expr, site: int, loc: ast.AST) -> ast.Call:
        call = ast.Call(
            func=ast.Name(id=CHECK_NAME, ctx=ast.Load()),
            args=[value, ast.Constant(value=site)],
            keywords=[],
        )
        return ast.copy_location(call, loc)

    def _wrap(self, node: ast.expr) -> ast.Call:
        return self._check_call(node, self._register(node), node)

    def _temp(self) -> str:
        self._ntemp += 1
        return _TEMP_FMT.format(self._ntemp)

    # expressions

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        if self._whole and self._safe_constant(node):
            return node
        self.generic_visit(node)
        if self._safe_constant(node):
            return node
        return self._wrap(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if self._whole and self._safe_constant(node):
            return node
        self.generic_visit(node)
        if not isinstance(node.op, (ast.USub, ast.Invert)) or self._safe_constant(node):
            return node
        return self._wrap(node)

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if type(node.value) is int and not self._lo <= node.value <= self._hi:
            return self._wrap(node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Name) and func.id in _CHECKED_CALLS) or (
            isinstance(func, ast.Attribute)
            and func.attr == "from_bytes"
            and isinstance(func.value, ast.Name)
            and func.value.id == "int"
        ):
            return self._wrap(node)
        return node

    # match patterns may only hold literals: leave them alone

    def visit_match_case(self, node: ast.match_case) -> ast.match_case:
        if node.guard is not None:
            node.guard = self.visit(node.guard)
        body: list[ast.stmt] = []
        for stmt in node.body:
            new = self.visit(stmt)
            if isinstance(new, list):
                body.extend(new)
            elif new is not None:
                body.append(new)
        node.body = body
        return node

    # augmented assignment

    def _key_expr(self, key: ast.expr) -> ast.expr:
        """A subscript key as a value expression (``a:b`` -> ``slice(a, b, None)``)."""
        if isinstance(key, ast.Slice):
            parts = [key.lower, key.upper, key.step]
            args: list[ast.expr] = [
                p if p is not None else ast.Constant(value=None) for p in parts
            ]
            call = ast.Call(func=ast.Name(id=SLICE_NAME, ctx=ast.Load()), args=args, keywords=[])
            return ast.copy_location(call, key)
        if isinstance(key, ast.Tuple) and any(isinstance(e, ast.Slice) for e in key.elts):
            tup = ast.Tuple(elts=[self._key_expr(e) for e in key.elts], ctx=ast.Load())
            return ast.copy_location(tup, key)
        return key

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt | list[ast.stmt]:
        target = node.target
        site = self._register(node)
        iop = ast.Name(id=_IOP_NAMES[type(node.op)], ctx=ast.Load())

        def new_value(current: ast.expr, value: ast.expr) -> ast.Call:
            # current is evaluated before value, as in CPython's ``T op= E``
            inner = ast.Call(func=iop, args=[current, value], keywords=[])
            return self._check_call(ast.copy_location(inner, node), site, node)

        def load(name: str) -> ast.Name:
            return ast.Name(id=name, ctx=ast.Load())

        def assign(name: str, value: ast.expr) -> ast.Assign:
            return ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)

        stmts: list[ast.stmt] = []
        temps: list[str] = []
        if isinstance(target, ast.Name):
            value = self.visit(node.value)
            stmts.append(
                ast.Assign(
                    targets=[ast.Name(id=target.id, ctx=ast.Store())],
                    value=new_value(load(target.id), value),
                )
            )
        elif isinstance(target, ast.Attribute):
            obj = self.visit(target.value)
            value = self.visit(node.value)
            t_obj = self._temp()
            temps.append(t_obj)
            stmts.append(assign(t_obj, obj))
            current = ast.Attribute(value=load(t_obj), attr=target.attr, ctx=ast.Load())
            store = ast.Attribute(value=load(t_obj), attr=target.attr, ctx=ast.Store())
            stmts.append(ast.Assign(targets=[store], value=new_value(current, value)))
        elif isinstance(target, ast.Subscript):
            obj = self.visit(target.value)
            key = self._key_expr(self.visit(target.slice))
            value = self.visit(node.value)
            t_obj = self._temp()
            temps.append(t_obj)
            stmts.append(assign(t_obj, obj))
            if isinstance(key, ast.Constant):
                const_key = key.value

                def key_ref() -> ast.expr:
                    return ast.Constant(value=const_key)

            else:
                t_key = self._temp()
                temps.append(t_key)
                stmts.append(assign(t_key, key))

                def key_ref() -> ast.expr:
                    return load(t_key)

            current = ast.Subscript(value=load(t_obj), slice=key_ref(), ctx=ast.Load())
            store = ast.Subscript(value=load(t_obj), slice=key_ref(), ctx=ast.Store())
            stmts.append(ast.Assign(targets=[store], value=new_value(current, value)))
        else:  # pragma: no cover - the grammar allows no other AugAssign target
            self.generic_visit(node)
            return node
        if temps:
            stmts.append(ast.Delete(targets=[ast.Name(id=t, ctx=ast.Del()) for t in temps]))
        for stmt in stmts:
            ast.copy_location(stmt, node)
        return stmts


def transform_tree(
    tree: ast.Module,
    register: Callable[[ast.AST], int],
    lo: int,
    hi: int,
    fold_whole_constants: bool = False,
) -> ast.Module:
    """Instrument ``tree`` in place; ``register(node)`` returns the site id of ``node``.

    Constant expressions: by default (stepwise) a constant sub-expression is left uninstrumented
    only if every step of it stays in ``[lo, hi]``; ``-0x40000000`` and ``(1 << 40) >> 20`` are
    flagged because they go through an out-of-range value, the way a parser that folds only
    small ints (older MicroPython) leaves them as run-time big-int operations. With
    ``fold_whole_constants`` only the final value counts (MicroPython 1.2x/mpy-cross fold
    constant expressions with big-int intermediates at compile time).
    """
    new = _Instrumenter(register, lo, hi, fold_whole_constants).visit(tree)
    ast.fix_missing_locations(new)
    return new


def instrument_source(
    source: str,
    filename: str,
    tracker: BoundTracker,
    module: str = "__main__",
    relpath: str | None = None,
    fold_whole_constants: bool = False,
) -> types.CodeType:
    """Compile ``source`` instrumented for ``tracker``.

    Execute the code in a namespace prepared with :func:`install_helpers`.
    """
    rel = relpath if relpath is not None else filename
    tracker._add_source(rel, source)
    tree = ast.parse(source, filename=filename)

    def register(node: ast.AST) -> int:
        return tracker._register(module, rel, node)

    tree = transform_tree(tree, register, tracker.lo, tracker.hi, fold_whole_constants)
    return compile(tree, filename, "exec", dont_inherit=True)


def install_helpers(namespace: dict[str, Any], tracker: BoundTracker) -> None:
    """Put the names instrumented code refers to into ``namespace`` (a module's globals)."""
    namespace.update(_HELPERS)
    namespace[CHECK_NAME] = tracker.check


# -- import machinery -----------------------------------------------------------------------


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


class _Loader(importlib.abc.Loader):
    def __init__(self, tracker: BoundTracker, root: Path, fold_whole_constants: bool) -> None:
        self.tracker = tracker
        self.root = root
        self.fold_whole_constants = fold_whole_constants

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # default module creation

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None and spec.origin is not None
        path = Path(spec.origin)
        if path.is_dir():  # package directory without __init__.py
            return
        source = importlib.util.decode_source(path.read_bytes())
        try:
            relpath = path.relative_to(self.root).as_posix()
        except ValueError:
            relpath = path.as_posix()
        code = instrument_source(
            source, str(path), self.tracker, spec.name, relpath, self.fold_whole_constants
        )
        install_helpers(module.__dict__, self.tracker)
        exec(code, module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, root: Path, package: str, loader: _Loader) -> None:
        self.root = root
        self.package = package
        self.loader = loader

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not _in_package(fullname, self.package):
            return None
        parts = fullname.split(".")
        if len(parts) == 1 or not path:
            dirs = [self.root.joinpath(*parts[:-1])]
        else:
            dirs = [Path(p) for p in path]
        name = parts[-1]
        for d in dirs:
            pkg_dir = d / name
            init = pkg_dir / "__init__.py"
            if init.is_file():
                return importlib.util.spec_from_file_location(
                    fullname, init, loader=self.loader, submodule_search_locations=[str(pkg_dir)]
                )
            mod = d / (name + ".py")
            if mod.is_file():
                return importlib.util.spec_from_file_location(fullname, mod, loader=self.loader)
            if pkg_dir.is_dir():
                spec = importlib.machinery.ModuleSpec(fullname, self.loader, is_package=True)
                spec.origin = str(pkg_dir)
                spec.submodule_search_locations = [str(pkg_dir)]
                return spec
        # Never fall through to the normal path finders: that would mix in uninstrumented code.
        raise ModuleNotFoundError(f"No module named {fullname!r} in {self.root}", name=fullname)


@contextmanager
def instrumented_firmware(
    firmware_dir: Path | str,
    package: str = "fsw",
    lo: int = SMALL_INT_MIN,
    hi: int = SMALL_INT_MAX,
    *,
    tracker: BoundTracker | None = None,
    fold_whole_constants: bool = False,
) -> Iterator[BoundTracker]:
    """Import ``package`` (and its submodules) from ``firmware_dir`` instrumented.

    Inside the context ``import fsw.x`` / ``from fsw.x import y`` yield fresh instrumented
    modules; anything outside the package imports normally. On exit every ``package*`` entry of
    ``sys.modules`` is removed and the entries that existed before are put back.

    Pass ``tracker`` to accumulate into an existing :class:`BoundTracker` (its ``lo``/``hi``
    are used then). ``fold_whole_constants``: see :func:`transform_tree`.
    """
    root = Path(firmware_dir).resolve()
    if not ((root / package).is_dir() or (root / (package + ".py")).is_file()):
        raise FileNotFoundError(f"no package {package!r} in {root}")
    if tracker is None:
        tracker = BoundTracker(lo, hi)
    saved = {name: mod for name, mod in sys.modules.items() if _in_package(name, package)}
    for name in saved:
        del sys.modules[name]
    finder = _Finder(root, package, _Loader(tracker, root, fold_whole_constants))
    sys.meta_path.insert(0, finder)
    try:
        yield tracker
    finally:
        for i, f in enumerate(sys.meta_path):
            if f is finder:
                del sys.meta_path[i]
                break
        for name in [n for n in sys.modules if _in_package(n, package)]:
            del sys.modules[name]
        sys.modules.update(saved)
