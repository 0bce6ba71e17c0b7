"""Shared timing helpers: medians of repeated measurements, interleaved to share machine noise."""

from __future__ import annotations

import ctypes
import statistics
import time
from collections.abc import Callable


def interleaved_samples(
    candidates: dict[str, Callable[[], None]], repeats: int, before_each: Callable[[], object] | None = None
) -> dict[str, list[float]]:
    """Seconds of every call of each candidate, alternating them so load drifts hit all alike:
    sample ``i`` of every candidate comes from the same round. ``before_each`` runs, untimed,
    before every call (e.g. a barrier that starts the same call in several processes at once)."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            if before_each is not None:
                before_each()
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return samples


def interleaved_medians(candidates: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each candidate (see :func:`interleaved_samples`)."""
    samples = interleaved_samples(candidates, repeats)
    return {name: statistics.median(times) for name, times in samples.items()}


def round_ratio_quartiles(numerator: list[float], denominator: list[float]) -> tuple[float, float]:
    """Lower and upper quartiles of the per-round ratios of two interleaved sample lists: how
    much the machine's noise moved the ratio within one run."""
    lower, _, upper = statistics.quantiles([a / b for a, b in zip(numerator, denominator, strict=True)], n=4)
    return lower, upper


def keep_freed_memory() -> bool:
    """Stop glibc's malloc from handing freed heap memory back to the kernel during a benchmark.

    By default glibc trims the top of the heap, and serves blocks of a few hundred KiB with fresh
    ``mmap`` calls, whenever enough memory is free; the next allocations then page-fault it back in,
    one 4 KiB page at a time. A training step frees and allocates its activations every iteration,
    so which of two implementations sharing a process pays for those faults (measured: 0 to ~480
    minor faults per iteration, each side in turn) depends on the other one's last allocations, not
    on its own code. Fixed thresholds keep every freed block in the heap for reuse, for both sides.
    Returns False (and changes nothing) where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's <malloc.h>
    return bool(mallopt(m_trim_threshold, 1 << 30)) and bool(mallopt(m_mmap_threshold, 1 << 26))
