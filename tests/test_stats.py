"""fowkal.studies.stats: paired intervals and p-values against scipy's t-test, the sign-flip test by
enumeration, Holm by its definition, and intervals that agree with Holm's decisions."""
from __future__ import annotations

import itertools
import math
import random

import pytest

from fowkal.studies.stats import holm, holm_levels, paired_interval, sign_flip_p, smallest_sign_flip_p

scipy_stats = pytest.importorskip("scipy.stats")


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


def _sign_flip_by_enumeration(d):
    observed = abs(sum(d) / len(d))
    hits = sum(abs(sum(s * x for s, x in zip(signs, d)) / len(d)) >= observed - 1e-12
               for signs in itertools.product((1, -1), repeat=len(d)))
    return hits / 2 ** len(d)


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_sign_flip_p_is_the_exact_enumeration(n):
    rng = random.Random(n)
    for _ in range(5):
        d = [rng.gauss(0.5, 1.0) for _ in range(n)]
        assert sign_flip_p(d) == pytest.approx(_sign_flip_by_enumeration(d), abs=1e-12)
    same_sign = [abs(rng.gauss(1.0, 1.0)) + 0.1 for _ in range(n)]
    assert sign_flip_p(same_sign) == pytest.approx(smallest_sign_flip_p(n))  # the floor: 2 of 2^n patterns
    assert sign_flip_p(same_sign, "greater") == pytest.approx(1 / 2 ** n)


def test_the_sign_flip_floor_at_five_seeds_is_above_five_percent():
    assert smallest_sign_flip_p(5) == 0.0625 and smallest_sign_flip_p(3) == 0.25 and smallest_sign_flip_p(1) == 1.0


def test_holm_levels_give_intervals_that_exclude_zero_exactly_where_holm_rejects():
    rng = random.Random(1)
    for m in (1, 2, 5, 14):
        for _ in range(40):
            families = [[rng.gauss(rng.choice([0.0, 0.5, 2.0]), 1.0) for _ in range(rng.choice([3, 5, 8]))]
                        for _ in range(m)]
            p = [paired_interval(d).p_value() for d in families]
            for alpha in (0.05, 0.1):
                levels = holm_levels(p, alpha)
                rejected = {i for i, a in enumerate(holm(p)) if a < alpha}
                for i, (d, level) in enumerate(zip(families, levels)):
                    assert 1 - alpha - 1e-12 <= level <= 1 - alpha / m + 1e-12
                    interval = paired_interval(d, level=level)
                    assert (not interval.contains(0.0)) == (i in rejected), (i, p, levels)


def test_holm_levels_worked_example():
    # 3 claims, alpha 0.05: p = 0.001 rejected at step 1 (level 1 - 0.05/3); 0.02 rejected at step 2 (1 - 0.05/2);
    # 0.2 not rejected: the step that stopped, 1 - 0.05/1
    assert holm_levels([0.2, 0.001, 0.02]) == pytest.approx([0.95, 1 - 0.05 / 3, 0.975])
    assert holm_levels([0.3, 0.4]) == pytest.approx([1 - 0.05 / 2] * 2)  # nothing rejected: Bonferroni's level
    with pytest.raises(ValueError, match="alpha"):
        holm_levels([0.1], alpha=5)
