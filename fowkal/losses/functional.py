"""Element-wise pieces of the FoWKAL losses, in plain PyTorch: :func:`awing` (Eq. 2),
:func:`wahr_weight` (WAHR, Luo et al. 2021) and :func:`fwahr_weight` (Eq. 9).

Each maps ``pred``/``target`` of any (equal) shape to a tensor of that shape; half precision is
computed in float32, float64 stays float64. The target is a constant (never differentiated).
Section numbers (§) refer to the loss decisions in ``book/loss_decisions.md``.
"""
from __future__ import annotations

import torch
from torch import Tensor

AWING_DEFAULTS = dict(alpha=2.1, omega=14.0, epsilon=1.0, theta=0.5)
FWAHR_READINGS = ("literal", "gt_tau_target", "gt_tau_pred")


def _check_finite(name: str, x: Tensor) -> None:
    if not torch.isfinite(x).all():
        bad = "NaN" if torch.isnan(x).any() else "inf"
        raise ValueError(f"{name} contains {bad} values")


def _awing_constants(target: Tensor, alpha, omega, epsilon, theta) -> tuple[Tensor, Tensor, Tensor]:
    """Exponent y = α − p and the linear branch's A and C (§2.1), all element-wise in p."""
    y = alpha - target
    ratio_pow = torch.pow(torch.as_tensor(theta / epsilon, dtype=target.dtype, device=target.device), y)
    # A = ω·y·(θ/ε)^(y−1)/(ε·(1 + (θ/ε)^y)); (θ/ε)^(y−1)/ε == (θ/ε)^y/θ saves a pow
    a = omega * y * ratio_pow / (theta * (1.0 + ratio_pow))
    c = theta * a - omega * torch.log1p(ratio_pow)
    return y, a, c


def awing(pred: Tensor, target: Tensor, *, alpha: float = 2.1, omega: float = 14.0,
          epsilon: float = 1.0, theta: float = 0.5) -> Tensor:
    """Adaptive Wing loss, element-wise (Eq. 2; Wang, Bo & Fuxin 2019).

    ``ω·ln(1 + (δ/ε)^(α−p))`` for δ = |p − p̂| < θ, else ``A·δ − C`` (C¹ at θ).

    Args:
        pred: predicted heatmap values p̂, any shape.
        target: ground-truth values p, same shape, in [0, α − 1] (above it the exponent drops
            below 1 and the gradient at δ = 0 is NaN; a ValueError is raised).
        alpha, omega, epsilon, theta: the AWing hyper-parameters (defaults: the AWing paper's).

    Returns:
        Tensor of ``pred``'s shape (float32 for half inputs).
    """
    pred, target = _as_compute_dtype(pred, target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    _check_awing_target(target, alpha)
    target = target.detach()
    delta = (target - pred).abs()
    y, a, c = _awing_constants(target, alpha, omega, epsilon, theta)
    # clamp so the unused log branch never overflows (0·inf would poison the gradient)
    log_branch = omega * torch.log1p(torch.pow(delta.clamp(max=theta) / epsilon, y))
    return torch.where(delta < theta, log_branch, a * delta - c)


def wahr_weight(pred: Tensor, target: Tensor, *, gamma: float = 0.01) -> Tensor:
    """WAHR weight (Luo et al. 2021): ``p^γ·|1 − p̂| + |p̂|·(1 − p^γ)``, element-wise.

    Args:
        pred: predicted heatmap p̂; target: ground truth p ≥ 0, same shape.
        gamma: γ, the softness of the foreground/background split (SWAHR: 0.01).

    Returns:
        Weights of ``pred``'s shape; gradients flow through ``pred`` (as SWAHR's code), not ``target``.
    """
    pred, target = _as_compute_dtype(pred, target)
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    p_gamma = target.detach().clamp(min=0).pow(gamma)
    return p_gamma * (1.0 - pred).abs() + pred.abs() * (1.0 - p_gamma)


def fwahr_weight(pred: Tensor, target: Tensor, *, gamma: float = 0.01, tau: float = 0.01,
                 reading: str = "literal") -> Tensor:
    """FWAHR weight (Eq. 9), element-wise, under one of three readings of Eq. 9 (§6.3).

    - ``'literal'`` (R1, default): WAHR where ``p̂ ≥ 2^(−1/γ)``, else ``τ·p`` (as printed).
    - ``'gt_tau_target'`` (R2): WAHR where ``p ≥ 2^(−1/γ)``, else ``τ·p`` (≈ a hard 0 mask).
    - ``'gt_tau_pred'`` (R3): WAHR where ``p ≥ 2^(−1/γ)``, else ``τ·|p̂|`` (WAHR's background weight × τ).

    Args:
        pred, target: as :func:`wahr_weight`; gamma: γ (0.01); tau: τ (0.01, the paper's).
        reading: one of ``FWAHR_READINGS``.
    """
    if reading not in FWAHR_READINGS:
        raise ValueError(f"unknown FWAHR reading {reading!r}; valid: {', '.join(FWAHR_READINGS)}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    pred, target = _as_compute_dtype(pred, target)
    target = target.detach()
    threshold = 2.0 ** (-1.0 / gamma)  # 7.9e-31 for γ = 0.01: a Python float, exact in fp32 compare
    wahr = wahr_weight(pred, target, gamma=gamma)
    if reading == "literal":
        return torch.where(pred >= threshold, wahr, tau * target)
    if reading == "gt_tau_target":
        return torch.where(target >= threshold, wahr, tau * target)
    return torch.where(target >= threshold, wahr, tau * pred.abs())


def _as_compute_dtype(*xs: Tensor) -> tuple[Tensor, ...]:
    """Upcast half precision to float32 (§9.4); keep float32/float64."""
    out = []
    for x in xs:
        if not isinstance(x, Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point tensor, got dtype {x.dtype}")
        out.append(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x)
    if len({x.dtype for x in out}) > 1:
        out = [x.double() for x in out] if any(x.dtype == torch.float64 for x in out) else out
    return tuple(out)


def _check_target_range(target: Tensor, alpha: float) -> None:
    """Targets must lie in [0, α − 1]: non-negative heatmaps, and AWing's exponent α − p at least 1."""
    if target.numel() and float(target.min()) < 0:
        raise ValueError(f"target heatmaps must be >= 0, got min {float(target.min()):g}")
    _check_awing_target(target, alpha)


def _check_awing_target(target: Tensor, alpha: float) -> None:
    top = float(target.max()) if target.numel() else 0.0
    if top > alpha - 1:
        raise ValueError(
            f"target values reach {top:g} > alpha - 1 = {alpha - 1:g}: the AWing exponent alpha - p "
            f"drops below 1 and its gradient at p_hat = p is NaN (heatmaps scaled by 10 or 255?)"
        )


__all__ = ["awing", "wahr_weight", "fwahr_weight", "AWING_DEFAULTS", "FWAHR_READINGS"]
