"""Injected device faults, as the emulators share them: a fault is a name, a window
``[start_s, end_s)`` and parameters checked against the emulator's table of
``{fault name: {parameter: (validator, default)}}``. Each validator takes (fault, parameter,
value) and returns the value or raises ValueError naming the fault and the parameter."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

Validator = Callable[[str, str, Any], Any]
FaultTable = Mapping[str, Mapping[str, tuple[Validator, Any]]]


def number(fault: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"fault {fault!r}: {name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"fault {fault!r}: {name} must be finite, got {value!r}")
    return value


def probability(fault: str, name: str, value: Any) -> float:
    v = number(fault, name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"fault {fault!r}: {name} must be within 0..1, got {value!r}")
    return v


def non_negative(fault: str, name: str, value: Any) -> float:
    v = number(fault, name, value)
    if v < 0.0:
        raise ValueError(f"fault {fault!r}: {name} must be >= 0, got {value!r}")
    return v


def positive(fault: str, name: str, value: Any) -> float:
    v = number(fault, name, value)
    if v <= 0.0:
        raise ValueError(f"fault {fault!r}: {name} must be > 0, got {value!r}")
    return v


def optional_non_negative(fault: str, name: str, value: Any) -> float | None:
    return None if value is None else non_negative(fault, name, value)


def boolean(fault: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"fault {fault!r}: {name} must be true or false, got {value!r}")
    return value


def nack_kind(fault: str, name: str, value: Any) -> str:
    if value not in ("data", "address"):
        raise ValueError(f"fault {fault!r}: {name} must be 'data' or 'address', got {value!r}")
    return str(value)


def defaults(table: FaultTable) -> Mapping[str, Mapping[str, Any]]:
    """fault name -> {parameter: default}"""
    return MappingProxyType(
        {
            name: MappingProxyType({p: d for p, (_, d) in params.items()})
            for name, params in table.items()
        }
    )


@dataclass(frozen=True)
class FaultSpec:
    """One scheduled fault: active on ``[start_s, end_s)`` (``end_s`` None: for ever)."""

    name: str
    start_s: float
    end_s: float | None
    params: Mapping[str, Any]

    @property
    def start_us(self) -> int:
        return round(self.start_s * 1e6)

    @property
    def end_us(self) -> int | None:
        return None if self.end_s is None else round(self.end_s * 1e6)

    def active_at(self, t_us: int) -> bool:
        end = self.end_us
        return self.start_us <= t_us and (end is None or t_us < end)


Spec = TypeVar("Spec", bound=FaultSpec)


def parse(
    table: FaultTable,
    spec: type[Spec],
    name: str,
    start_s: float,
    end_s: float | None,
    params: Mapping[str, Any],
) -> Spec:
    """Validate a fault (name, window, params) against `table` and fill in the defaults."""
    if name not in table:
        raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(table)}")
    start = non_negative(name, "start_s", start_s)
    end = None
    if end_s is not None:
        end = number(name, "end_s", end_s)
        if end <= start:
            raise ValueError(f"fault {name!r}: end_s ({end_s!r}) must be after start_s ({start})")
    allowed_params = table[name]
    unknown = sorted(set(params) - set(allowed_params))
    if unknown:
        allowed = ", ".join(allowed_params) if allowed_params else "none"
        raise ValueError(
            f"fault {name!r}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}"
        )
    resolved = {
        p: check(name, p, params[p]) if p in params else default
        for p, (check, default) in allowed_params.items()
    }
    return spec(name, start, end, MappingProxyType(resolved))
