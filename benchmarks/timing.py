"""Timing helpers shared by the benchmarks: best of several rounds."""

from __future__ import annotations

import time
from typing import Callable


def time_rounds(fn: Callable[[], object], number: int, repeat: int) -> list[float]:
    """Seconds per call of ``fn`` in each of ``repeat`` rounds of ``number`` calls.

    The machine is shared, so callers report the best round (the least
    disturbed one) and the median as a sign of the noise.
    """
    per_call = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        per_call.append((time.perf_counter() - start) / number)
    return per_call


def calls_for(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of ``fn`` fill about ``seconds``, after one warm-up call."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    return max(1, int(seconds / once))


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return 0.5 * (ordered[middle - 1] + ordered[middle])
