"""Paired comparisons of methods over seeds: Student-t intervals, exact sign-flip tests, Holm's correction.

For seed N every method starts from the same weights and sees the same batches, so the per-seed
differences d_N = AP(method A, seed N) − AP(method B, seed N) are the unit of comparison: their mean,
its standard error s/√n and Student's t with n − 1 degrees of freedom give the interval and the test
(``scipy.stats``). The t-test leans on the differences being normal; the exact sign-flip test does not
(under "no difference" each d_N is as likely positive as negative), but with n seeds its smallest
two-sided p is 2/2ⁿ: 0.0625 at n = 5. Several claims are tested at once, so their p-values are adjusted
by Holm's step-down procedure (:func:`holm`), and each claim's interval is taken at the level Holm
tested it at (:func:`holm_levels`), so that an interval excludes 0 exactly when its claim is decided.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

ALTERNATIVES = ("greater", "less", "two-sided")


@dataclass(frozen=True)
class PairedInterval:
    """Mean of paired differences with its Student-t interval (two-sided, coverage ``level``)."""

    mean: float
    low: float
    high: float
    se: float
    n: int
    level: float

    @property
    def df(self) -> int:
        return self.n - 1

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def p_value(self, alternative: str = "two-sided") -> float:
        """p of the paired t-test of mean 0: 'greater' (mean > 0), 'less' or 'two-sided'."""
        from scipy import stats

        _check_alternative(alternative)
        if self.se == 0.0:  # all differences equal: the sign is certain, or there is nothing
            positive, negative = self.mean > 0, self.mean < 0
            return {"greater": 0.0 if positive else 1.0, "less": 0.0 if negative else 1.0,
                    "two-sided": 0.0 if (positive or negative) else 1.0}[alternative]
        t = self.mean / self.se
        if alternative == "greater":
            return float(stats.t.sf(t, self.df))
        if alternative == "less":
            return float(stats.t.cdf(t, self.df))
        return float(min(1.0, 2.0 * stats.t.sf(abs(t), self.df)))


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _interval(mean: float, se: float, n: int, level: float) -> PairedInterval:
    from scipy import stats

    _check_level(level)
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * se
    return PairedInterval(mean=mean, low=mean - half, high=mean + half, se=se, n=n, level=level)


def _finite_differences(differences: Sequence[float]) -> list[float]:
    values = [float(d) for d in differences]
    if len(values) < 2:
        raise ValueError(f"a paired comparison needs at least 2 differences (seeds), got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"differences must be finite, got {values}")
    return values


def paired_interval(differences: Sequence[float], level: float = 0.95) -> PairedInterval:
    """The mean of paired per-seed differences and its two-sided Student-t interval.

    Args:
        differences: one difference per seed (method A − method B), at least 2, all finite.
        level: coverage of the interval (0.95).

    Returns:
        :class:`PairedInterval` (mean, low, high, se, n, level; ``p_value(alternative)``).
    """
    values = _finite_differences(differences)
    _check_level(level)
    n = len(values)
    mean = math.fsum(values) / n
    se = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) / math.sqrt(n)
    return _interval(mean, se, n, level)


def sign_flip_p(differences: Sequence[float], alternative: str = "two-sided") -> float:
    """The exact sign-flip (permutation) p-value of "the differences are symmetric about 0", with their mean as
    the statistic: all 2ⁿ sign patterns are enumerated (``scipy.stats.permutation_test``), no normality needed.
    Its smallest two-sided value is 2/2ⁿ."""
    import numpy as np
    from scipy import stats

    _check_alternative(alternative)
    values = np.asarray(_finite_differences(differences))
    result = stats.permutation_test((values,), np.mean, permutation_type="samples", alternative=alternative,
                                    n_resamples=np.inf)
    return float(result.pvalue)


def smallest_sign_flip_p(n: int) -> float:
    """The smallest two-sided p the exact sign-flip test can give with ``n`` differences."""
    return min(1.0, 2.0 / 2 ** n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input's order.

    The i-th smallest of m p-values becomes max over j ≤ i of min(1, (m − j + 1)·p_(j)): rejecting
    where the adjusted p < α controls the family-wise error rate at α for any dependence.
    """
    values = [float(p) for p in p_values]
    if not all(0.0 <= p <= 1.0 for p in values):
        raise ValueError(f"p-values must lie in [0, 1], got {values}")
    m = len(values)
    order = sorted(range(m), key=values.__getitem__)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        adjusted[i] = running
    return adjusted


def holm_levels(p_values: Sequence[float], alpha: float = 0.05) -> list[float]:
    """Per hypothesis, the two-sided interval level that agrees with Holm's decisions at ``alpha``.

    Holm compares the i-th smallest p with α/(m − i + 1) and stops at the first that is not below it.
    A rejected hypothesis gets the level of its own step, 1 − α/(m − i + 1): its interval excludes 0. The
    others get the level of the step that stopped, 1 − α/(m − k) with k rejected: their intervals contain
    0. So an interval excludes 0 exactly when Holm rejects its hypothesis (for p-values of the same
    t-tests). Every level is at least 1 − α; Bonferroni's simultaneous level 1 − α/m is the widest.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    adjusted = holm(p_values)
    m = len(adjusted)
    order = sorted(range(m), key=lambda i: (adjusted[i], p_values[i]))
    rejected = sum(1 for p in adjusted if p < alpha)
    levels = [0.0] * m
    for rank, i in enumerate(order):
        levels[i] = 1.0 - alpha / (m - rank) if rank < rejected else 1.0 - alpha / (m - rejected)
    return levels


__all__ = ["PairedInterval", "paired_interval", "sign_flip_p", "smallest_sign_flip_p", "holm", "holm_levels",
           "ALTERNATIVES"]
