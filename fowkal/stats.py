"""Paired comparisons of methods over seeds: Student-t intervals and Holm's correction (no scipy).

For seed N every method starts from the same weights and sees the same batches, so the per-seed
differences d_N = AP(method A, seed N) − AP(method B, seed N) are the unit of comparison: their mean,
its standard error s/√n and Student's t with n − 1 degrees of freedom give the interval and the test.
Several claims are tested at once, so their p-values are adjusted by Holm's step-down procedure
before any claim is called reproduced.

Student's t distribution is computed here from the regularised incomplete beta function, so the core
needs no scipy; ``tests/test_stats.py`` checks every function against scipy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

ALTERNATIVES = ("greater", "less", "two-sided")


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast below the mean only
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * result


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    return 1.0 - tail if t > 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The t with P(T ≤ t) = q (bisection on :func:`t_cdf`, to ~1e-12)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level must be in (0, 1), got {q}")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < q:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < q:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


@dataclass(frozen=True)
class PairedInterval:
    """Mean of paired differences with its Student-t interval."""

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
        if alternative not in ALTERNATIVES:
            raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
        if self.se == 0.0:  # all differences equal: the sign is certain, or there is nothing
            positive, negative = self.mean > 0, self.mean < 0
            return {"greater": 0.0 if positive else 1.0, "less": 0.0 if negative else 1.0,
                    "two-sided": 0.0 if (positive or negative) else 1.0}[alternative]
        t = self.mean / self.se
        if alternative == "greater":
            return 1.0 - t_cdf(t, self.df)
        if alternative == "less":
            return t_cdf(t, self.df)
        return min(1.0, 2.0 * (1.0 - t_cdf(abs(t), self.df)))


def paired_interval(differences: Sequence[float], level: float = 0.95) -> PairedInterval:
    """The mean of paired per-seed differences and its two-sided Student-t interval.

    Args:
        differences: one difference per seed (method A − method B), at least 2, all finite.
        level: coverage of the interval (0.95).

    Returns:
        :class:`PairedInterval` (mean, low, high, se, n, level; ``p_value(alternative)``).
    """
    values = [float(d) for d in differences]
    if len(values) < 2:
        raise ValueError(f"a paired interval needs at least 2 differences (seeds), got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"differences must be finite, got {values}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    se = sd / math.sqrt(n)
    half = t_quantile(0.5 + level / 2.0, n - 1) * se
    return PairedInterval(mean=mean, low=mean - half, high=mean + half, se=se, n=n, level=level)


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


__all__ = ["PairedInterval", "paired_interval", "holm", "t_cdf", "t_quantile", "ALTERNATIVES"]
