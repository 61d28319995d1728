"""The bins of the points histogram: one definition that the SQL and the Python path share.

Whole-number points get whole-number bins: 1, 5 and 10 points fall in the bins "1", "5" and
"10", not in bins from 1 to 1.9 and 4.6 to 5.5. A range of fewer than ``POINTS_BINS`` whole
numbers gets one bin per number; a wider one bins of a whole width. Other points share
``POINTS_BINS`` bins of equal width. The last bin is closed (it holds the highest value).

The two sides of a comparison are binned over the union of their ranges, so that their bins
have the same edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

POINTS_BINS = 10


@dataclass(frozen=True, slots=True)
class PointsRange:
    """The lowest and highest points of a window's ok runs, and whether all are whole."""

    lo: float
    hi: float
    integral: bool

    def union(self, other: PointsRange | None) -> PointsRange:
        if other is None:
            return self
        return PointsRange(
            lo=min(self.lo, other.lo),
            hi=max(self.hi, other.hi),
            integral=self.integral and other.integral,
        )


@dataclass(frozen=True, slots=True)
class PointsBins:
    lo: float
    hi: float
    width: float
    count: int
    integral: bool

    def index(self, value: float) -> int:
        """Return the bin of ``value`` (values outside the range go to the nearest bin)."""
        return min(max(math.floor((value - self.lo) / self.width), 0), self.count - 1)

    def edges(self) -> list[tuple[float, float]]:
        """Return each bin's ``(start, end)``; the last one ends at ``hi``, inclusive."""
        return [
            (
                self.lo + index * self.width,
                self.hi if index == self.count - 1 else self.lo + (index + 1) * self.width,
            )
            for index in range(self.count)
        ]


def points_bins(points: PointsRange, *, most: int = POINTS_BINS) -> PointsBins:
    """Return the bins of a range (:data:`observability.sql` computes the same in SQL)."""
    span = points.hi - points.lo
    if span <= 0:
        width, count = 1.0, 1
    elif points.integral:
        width = 1.0 if span < most else float(math.ceil(span / most))
        count = min(math.floor(span / width) + 1, most)
    else:
        width, count = span / most, most
    return PointsBins(
        lo=points.lo, hi=points.hi, width=width, count=count, integral=points.integral
    )
