"""The statistics of an experiment's report: confidence intervals and Welch's t-test.

Plain Python (no SciPy in the lock): Student's t distribution through the regularised
incomplete beta function, evaluated by its continued fraction (Lentz's method), and its
quantiles by bisection, which is exact enough for a report and cheap for one request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_CF_ITERATIONS = 300
_CF_EPSILON = 3e-16
_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class Sample:
    """What the mean and the test need of one arm's points: count, mean, sample variance."""

    n: int
    mean: float | None
    variance: float | None


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class WelchTest:
    """B - A of two means, Welch's t statistic, its degrees of freedom and two-sided p-value."""

    difference: float
    t_statistic: float
    degrees_of_freedom: float
    p_value: float


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (converges for x < (a+1)/(a+b+2))."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, _CF_ITERATIONS + 1):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= d * c
        if abs(d * c - 1.0) < _CF_EPSILON:
            break
    return result


def beta_regularised(a: float, b: float, x: float) -> float:
    """Return the regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """Return P(|T| >= |t|) for Student's T with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return min(1.0, beta_regularised(df / 2.0, 0.5, df / (df + t * t)))


def t_quantile(probability: float, df: float) -> float:
    """Return the ``probability`` quantile (above one half) of Student's T with ``df``."""
    alpha = 2.0 * (1.0 - probability)
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > alpha:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_two_sided_p(middle, df) > alpha:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return (low + high) / 2.0


def mean_interval(sample: Sample, *, confidence: float = 0.95) -> Interval | None:
    """Return the t-based confidence interval of the sample's mean; None below two values."""
    if sample.n < 2 or sample.mean is None or sample.variance is None:
        return None
    half = t_quantile(0.5 + confidence / 2.0, sample.n - 1) * math.sqrt(sample.variance / sample.n)
    return Interval(low=sample.mean - half, high=sample.mean + half)


def welch_test(a: Sample, b: Sample) -> WelchTest | None:
    """Return Welch's two-sided t-test of mean(b) - mean(a); None unless both have 2 values."""
    if a.n < 2 or b.n < 2:
        return None
    if a.mean is None or b.mean is None or a.variance is None or b.variance is None:
        return None
    difference = b.mean - a.mean
    va, vb = a.variance / a.n, b.variance / b.n
    squared_error = va + vb
    if squared_error == 0.0:
        # Constant points on both sides: the means are either equal or certainly different.
        same = difference == 0.0
        return WelchTest(
            difference=difference,
            t_statistic=0.0 if same else math.copysign(math.inf, difference),
            degrees_of_freedom=float(a.n + b.n - 2),
            p_value=1.0 if same else 0.0,
        )
    t = difference / math.sqrt(squared_error)
    df = squared_error**2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    return WelchTest(
        difference=difference, t_statistic=t, degrees_of_freedom=df, p_value=t_two_sided_p(t, df)
    )
