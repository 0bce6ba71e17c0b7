"""Shared timing helpers: medians of repeated measurements, interleaved to share machine noise."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_medians(candidates: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each candidate, alternating them so load drifts hit all alike."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}
