"""Stand-in `alarm`: sleep_memory, a fixed-length byte store kept across boards built in one
test (as the RAM kept through a reset), indexed and sliced as CircuitPython's SleepMemory:
a slice assignment must keep the length."""

from __future__ import annotations

from typing import Any


class SleepMemory:
    def __init__(self, n: int) -> None:
        self._b = bytearray(n)
        self.writes = 0

    def __len__(self) -> int:
        return len(self._b)

    def __getitem__(self, i: Any) -> Any:
        return self._b[i]

    def __setitem__(self, i: Any, v: Any) -> None:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self._b))
            if step != 1 or stop - start != len(v):
                raise ValueError("Slice and value different lengths.")
        self._b[i] = v
        self.writes += 1

    def clear(self) -> None:
        self._b[:] = bytes(len(self._b))


sleep_memory = SleepMemory(4096)
