"""The report's statistics: Student's t, the mean's interval and Welch's test."""

from __future__ import annotations

import math
import statistics

import pytest

from strategies.experiment_stats import (
    Sample,
    beta_regularised,
    mean_interval,
    t_quantile,
    t_two_sided_p,
    welch_test,
)


def _sample(values: list[float]) -> Sample:
    return Sample(
        n=len(values), mean=statistics.fmean(values), variance=statistics.variance(values)
    )


@pytest.mark.parametrize(
    ("df", "quantile"),
    # Student's t at 97.5 %, from the published tables.
    [(1, 12.706204736), (4, 2.776445105), (10, 2.228138852), (30, 2.042272456), (120, 1.97993)],
)
def test_the_975_quantile_of_student_t_matches_the_tables(df, quantile):
    assert t_quantile(0.975, df) == pytest.approx(quantile, rel=1e-6)
    assert t_two_sided_p(quantile, df) == pytest.approx(0.05, rel=1e-4)


def test_student_t_tends_to_the_normal_distribution():
    z, df = 1.959963985, 1e6
    # The first term of the Cornish-Fisher expansion is all that is left at a million.
    assert t_quantile(0.975, df) == pytest.approx(z + (z**3 + z) / (4 * df), rel=1e-9)


def test_the_two_sided_p_of_student_t_matches_its_closed_form_for_3_degrees():
    # F(t) = 1/2 + (u / (1 + u^2) + atan(u)) / pi with u = t / sqrt(3).
    for t in (0.3, 1.0, 2.5, 6.0):
        u = t / math.sqrt(3)
        cdf = 0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi
        assert t_two_sided_p(t, 3) == pytest.approx(2 * (1 - cdf), rel=1e-10)
    assert t_two_sided_p(0.0, 3) == 1.0


def test_the_regularised_incomplete_beta_is_a_distribution_function():
    assert beta_regularised(2, 3, 0.0) == 0.0
    assert beta_regularised(2, 3, 1.0) == 1.0
    # I_x(1, 1) = x and I_x(a, b) = 1 - I_(1-x)(b, a).
    assert beta_regularised(1, 1, 0.37) == pytest.approx(0.37, rel=1e-12)
    assert beta_regularised(2.5, 0.5, 0.8) == pytest.approx(1 - beta_regularised(0.5, 2.5, 0.2))


def test_the_mean_interval_is_the_t_interval():
    sample = _sample([1, 2, 3, 4, 5])
    half = 2.776445105 * math.sqrt(2.5 / 5)

    interval = mean_interval(sample)

    assert (interval.low, interval.high) == pytest.approx((3 - half, 3 + half), rel=1e-8)
    assert mean_interval(Sample(n=1, mean=4.0, variance=None)) is None


def test_welch_on_identical_arms_finds_no_difference():
    same = _sample([3, 5, 8, 1, 9, 4])

    test = welch_test(same, same)

    assert (test.difference, test.t_statistic, test.p_value) == (0.0, 0.0, 1.0)


def test_welch_on_very_different_arms_is_significant():
    test = welch_test(_sample([1, 2, 1, 2, 1, 2, 1, 2]), _sample([9, 10, 9, 11, 10, 9, 10, 11]))

    assert test.difference == pytest.approx(8.375)
    assert test.p_value < 0.01


def test_welch_matches_a_worked_example():
    # a: mean 3, variance 2.5; b: mean 6, variance 10; n = 5 each.
    a, b = _sample([1, 2, 3, 4, 5]), _sample([2, 4, 6, 8, 10])
    t = 3 / math.sqrt(2.5 / 5 + 10 / 5)
    df = (2.5 / 5 + 10 / 5) ** 2 / ((2.5 / 5) ** 2 / 4 + (10 / 5) ** 2 / 4)

    test = welch_test(a, b)

    assert (test.t_statistic, test.degrees_of_freedom) == pytest.approx((t, df))
    assert df == pytest.approx(5.882352941)
    assert test.p_value == pytest.approx(t_two_sided_p(t, df))
    assert test.p_value == pytest.approx(0.1075, abs=5e-4)


def test_welch_needs_two_values_per_arm_and_settles_constant_arms():
    assert welch_test(Sample(n=1, mean=1.0, variance=None), _sample([1, 2])) is None
    constant = welch_test(_sample([2, 2, 2]), _sample([5, 5]))
    assert (constant.p_value, constant.t_statistic) == (0.0, math.inf)
    assert welch_test(_sample([2, 2]), _sample([2, 2, 2])).p_value == 1.0
