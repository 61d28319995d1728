"""Weighted ``percentile_cont``: the one definition the SQL and the Python fallback share.

Each value stands for ``weight`` runs. The percentile at ``fraction`` sits at position
``fraction * (total - 1)`` of the expanded, sorted list; the values at the positions' floor
and ceiling rank are the first whose cumulative weight exceeds that rank, and the result
interpolates between them. The SQL statement only picks those two values per fraction
(:mod:`observability.sql`); :func:`percentile_interpolate` turns them into the percentile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

PERCENTILES = (0.5, 0.95, 0.99)
#: A cumulative weight "exceeds" a rank only past this margin: 1 / 0.05 summed 20 times is
#: not exactly 20 in floating point.
EPSILON = 1e-9


def percentile_position(fraction: float, total: float) -> float:
    return fraction * max(total - 1, 0)


def percentile_interpolate(*, fraction: float, total: float, low: float, high: float) -> float:
    """Return the percentile from the values at its position's floor and ceiling rank."""
    position = percentile_position(fraction, total)
    return low + (high - low) * (position - math.floor(position))


def weighted_percentiles(
    values: Iterable[tuple[float, float]], fractions: tuple[float, ...] = PERCENTILES
) -> dict[float, float | None]:
    """Return the percentiles of ``(value, weight)`` pairs as if each value were repeated
    ``weight`` times (with weights all 1 this is exactly ``percentile_cont``)."""
    pairs = sorted(values)
    total = sum(weight for _, weight in pairs)
    if not pairs or total <= 0:
        return dict.fromkeys(fractions)
    cumulative = []
    running = 0.0
    for value, weight in pairs:
        running += weight
        cumulative.append((running, value))

    def at(rank: float) -> float:
        for weight_so_far, value in cumulative:
            if weight_so_far > rank + EPSILON:
                return value
        return cumulative[-1][1]

    result: dict[float, float | None] = {}
    for fraction in fractions:
        position = percentile_position(fraction, total)
        result[fraction] = percentile_interpolate(
            fraction=fraction,
            total=total,
            low=at(math.floor(position)),
            high=at(math.ceil(position)),
        )
    return result
