"""What the HTTP benchmarks (bench_fanout.py, bench_capacity.py) report their latencies with, so that their
tables mean the same thing by p50 and p99."""

from __future__ import annotations

import math

__all__ = ["fmt_seconds", "percentile"]


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 < p ≤ 100) of ``values``; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fmt_seconds(s: float) -> str:
    """A latency as a table shows it: ms below a second, else seconds; – for none."""
    if math.isnan(s):
        return "–"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"
