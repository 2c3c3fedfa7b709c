"""fowkal.stats against scipy: Student's t, paired intervals and p-values; Holm by its definition."""
from __future__ import annotations

import itertools
import math
import random

import pytest

from fowkal.stats import holm, paired_interval, t_cdf, t_quantile

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 30, 250])
def test_t_distribution_matches_scipy(df):
    for t in (-40.0, -6.1, -2.0, -0.3, 0.0, 0.7, 1.96, 4.5, 60.0):
        assert t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), rel=1e-9, abs=1e-13)
    for q in (0.001, 0.025, 0.05, 0.5, 0.9, 0.975, 0.995, 0.9995):
        assert t_quantile(q, df) == pytest.approx(scipy_stats.t.ppf(q, df), rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("n", [2, 3, 5, 8])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_paired_interval_matches_scipy(n, level):
    rng = random.Random(n * 100 + int(level * 100))
    differences = [rng.gauss(1.0, 2.0) for _ in range(n)]
    got = paired_interval(differences, level=level)
    sem = scipy_stats.sem(differences)
    low, high = scipy_stats.t.interval(level, n - 1, loc=sum(differences) / n, scale=sem)
    assert (got.low, got.high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert got.se == pytest.approx(sem, rel=1e-12) and got.df == n - 1
    for alternative in ("greater", "less", "two-sided"):
        expected = scipy_stats.ttest_1samp(differences, 0.0, alternative=alternative).pvalue
        assert got.p_value(alternative) == pytest.approx(expected, rel=1e-8, abs=1e-14), alternative


def test_paired_interval_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        paired_interval([1.0])
    with pytest.raises(ValueError, match="finite"):
        paired_interval([1.0, math.nan])
    with pytest.raises(ValueError, match="level"):
        paired_interval([1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="alternative"):
        paired_interval([1.0, 2.0]).p_value("bigger")


def test_identical_differences_have_a_certain_sign():
    got = paired_interval([0.5, 0.5, 0.5])
    assert (got.low, got.high) == (0.5, 0.5)
    assert got.p_value("greater") == 0.0 and got.p_value("less") == 1.0


def test_the_interval_contains_its_mean_and_widens_with_fewer_seeds():
    d = [0.4, 1.1, -0.2, 0.9, 0.6]
    five, three = paired_interval(d), paired_interval(d[:3])
    assert five.contains(five.mean) and not five.contains(five.high + 1e-9)
    assert (three.high - three.low) > (five.high - five.low)


def _holm_rejections(p_values, alpha):
    """Holm's step-down procedure as usually stated: walk up the sorted p-values, stop at the first
    p_(i) > alpha / (m - i)."""
    m = len(p_values)
    rejected = set()
    for rank, i in enumerate(sorted(range(m), key=p_values.__getitem__)):
        if p_values[i] > alpha / (m - rank):
            break
        rejected.add(i)
    return rejected


def test_holm_adjusted_p_values_reject_exactly_what_the_procedure_rejects():
    rng = random.Random(0)
    for m in (1, 2, 5, 14):
        for _ in range(50):
            p = [rng.random() ** 3 for _ in range(m)]
            adjusted = holm(p)
            assert all(a >= q for a, q in zip(adjusted, p)) and all(a <= 1 for a in adjusted)
            for alpha in (0.01, 0.05, 0.1, 0.2):
                assert {i for i, a in enumerate(adjusted) if a <= alpha} == _holm_rejections(p, alpha)


def test_holm_worked_example_and_bonferroni_bound():
    # the smallest of 4 is multiplied by 4, the next by 3 (but never below its predecessor), ...
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    for p in itertools.product([0.001, 0.02, 0.3], repeat=3):
        assert all(a <= min(1.0, 3 * q) for a, q in zip(holm(list(p)), p))
    with pytest.raises(ValueError, match="p-values"):
        holm([0.5, 1.2])
