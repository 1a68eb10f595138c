"""Small statistics helpers: percentiles, medians of repeats, Medley/peer ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` percentile (0..1) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    weight = position - low
    return ordered[low] * (1.0 - weight) + ordered[high] * weight


def median_of(values: Sequence[float]) -> float:
    """`statistics.median` of the finite values; NaN when none is finite."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return float(statistics.median(finite))


def ratio(medley: float, peer: float) -> float:
    """Medley / peer, NaN when either side is missing or the peer is zero."""
    if not (math.isfinite(medley) and math.isfinite(peer)) or peer == 0:
        return math.nan
    return medley / peer


def format_number(value: float) -> str:
    """Compact human formatting: thousands separators for big numbers, 3 digits for small."""
    if not math.isfinite(value):
        return "—"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_ratio(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.2f}x"


def format_share(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.0%}"
