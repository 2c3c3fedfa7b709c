"""The reference heatmap losses of the FoWKAL paper, in plain PyTorch: the definition the fused
twin (:mod:`fowkal.losses.fused`) is tested against.

Element-wise pieces live in :mod:`fowkal.losses.functional`.
Losses (one class each): :class:`MSELoss` (Eq. 1), :class:`AWingLoss` (Eq. 3), :class:`HeuristicLoss`
(Eq. 4-5), :class:`KALLoss` (Eq. 6-8; with FWAHR weighting it is FoWKAL, Eq. 10-11).
:func:`build_reference_loss` maps the paper's ablation rows (``METHODS``) to configured losses.

Conventions (the book's appendix ``book/loss_decisions.md``; section numbers below refer to it):
- ``pred``, ``target``: ``[B, K, H, W]``; ``target_weight``: ``[B, K]``; ``kaf`` (λ): ``[B, K]`` in [0, 1].
- Per keypoint, ``ℓ_bk = tw_bk · R_ij[W · f(p, p̂)]`` with R the pixel mean (default, MMPose parity) or sum
  (the equations as printed); then the method's keypoint/part reduction, then the batch mean (§3.3).
- The loss is computed in float32 (float64 stays float64) whatever the input dtype (§9.4); the target and
  the target weight are constants (never differentiated).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from .. import parts as _parts
from .functional import (FWAHR_READINGS, _as_compute_dtype, _check_finite, _check_target_range, awing, fwahr_weight,
                         wahr_weight)

PIXEL_REDUCTIONS = ("mean", "sum")
WEIGHTINGS = ("none", "wahr", "fwahr")
HEURISTIC_BALANCES = ("literal", "swapped")
#: KAL's optional (non-paper) rescaling of ℓ^AW and ℓ^MSE before they are mixed (``term_normalisation``).
TERM_NORMALISATIONS = ("none", "batch")


# --------------------------------------------------------------------------- the losses
class _HeatmapLoss(nn.Module):
    """Shared input checks, dtype handling and the per-keypoint term ℓ_bk."""

    uses_parts = False
    uses_kaf = False

    def __init__(self, *, pixel_reduction: str = "mean", weighting: str = "none", gamma: float = 0.01,
                 tau: float = 0.01, fwahr_reading: str = "literal", detach_weight: bool = False,
                 alpha: float = 2.1, omega: float = 14.0, epsilon: float = 1.0, theta: float = 0.5,
                 loss_weight: float = 1.0, check_inputs: bool = True):
        super().__init__()
        _choice("pixel_reduction", pixel_reduction, PIXEL_REDUCTIONS)
        _choice("weighting", weighting, WEIGHTINGS)
        _choice("fwahr_reading", fwahr_reading, FWAHR_READINGS)
        for name, value in dict(omega=omega, epsilon=epsilon, theta=theta, gamma=gamma).items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not alpha > 1:
            raise ValueError(f"alpha must be > 1 (targets live in [0, alpha - 1]), got {alpha}")
        if tau < 0:
            raise ValueError(f"tau must be >= 0, got {tau}")
        self.pixel_reduction, self.weighting = pixel_reduction, weighting
        self.gamma, self.tau, self.fwahr_reading, self.detach_weight = gamma, tau, fwahr_reading, detach_weight
        self.awing_params = dict(alpha=alpha, omega=omega, epsilon=epsilon, theta=theta)
        self.loss_weight, self.check_inputs = loss_weight, check_inputs

    # -- pieces
    def pixel_weight(self, pred: Tensor, target: Tensor) -> Tensor | None:
        """W of Eq. 9/10 (None when the method has no pixel weighting)."""
        if self.weighting == "none":
            return None
        if self.weighting == "wahr":
            w = wahr_weight(pred, target, gamma=self.gamma)
        else:
            w = fwahr_weight(pred, target, gamma=self.gamma, tau=self.tau, reading=self.fwahr_reading)
        return w.detach() if self.detach_weight else w

    def per_keypoint(self, elementwise: Tensor, weight: Tensor | None, target_weight: Tensor | None) -> Tensor:
        """ℓ_bk = tw_bk · R_ij[W · f]: ``[B, K, H, W]`` → ``[B, K]``."""
        if weight is not None:
            elementwise = elementwise * weight
        reduced = elementwise.mean(dim=(2, 3)) if self.pixel_reduction == "mean" else elementwise.sum(dim=(2, 3))
        return reduced if target_weight is None else reduced * target_weight

    def mse_term(self, pred, target, weight, target_weight) -> Tensor:
        return self.per_keypoint((pred - target) ** 2, weight, target_weight)

    def awing_term(self, pred, target, weight, target_weight) -> Tensor:
        return self.per_keypoint(awing(pred, target, **self.awing_params), weight, target_weight)

    # -- entry point
    def forward(self, pred: Tensor, target: Tensor, target_weight: Tensor | None = None,
                kaf: Tensor | None = None) -> Tensor:
        pred, target, target_weight, kaf = self._prepare(pred, target, target_weight, kaf)
        return self.loss_weight * self._loss(pred, target, target_weight, kaf)

    def _loss(self, pred, target, target_weight, kaf) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self, pred, target, target_weight, kaf, *, scan: bool | None = None):
        """Shapes, dtypes and λ checked; with ``scan`` (default: ``check_inputs``) the values too."""
        scan = self.check_inputs if scan is None else scan
        for name, x in (("pred", pred), ("target", target)):
            if not isinstance(x, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
            if x.dim() != 4:
                raise ValueError(f"{name} must have shape [B, K, H, W], got {tuple(x.shape)}")
        if pred.shape != target.shape:
            raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
        batch, num_kpts = pred.shape[:2]
        pred, target = _as_compute_dtype(pred, target)
        target = target.detach()
        if target_weight is not None:
            target_weight = self._vector("target_weight", target_weight, batch, num_kpts, pred).detach()
        if self.uses_kaf:
            if kaf is None:
                raise ValueError(f"{type(self).__name__} needs kaf (λ, shape [B, K]) but got none; "
                                 f"pass the KAF head's output")
            kaf = self._vector("kaf", kaf, batch, num_kpts, pred)
        elif kaf is not None:
            raise ValueError(f"{type(self).__name__} does not use kaf; got one (did you mean a KAL method?)")
        if self.uses_parts:
            self._parts_for(num_kpts)
        if scan:
            _check_finite("pred", pred)
            _check_finite("target", target)
            if target_weight is not None:
                _check_finite("target_weight", target_weight)
                if (target_weight < 0).any():
                    raise ValueError("target_weight must be >= 0")
            if kaf is not None:
                _check_finite("kaf", kaf)
                if (kaf < 0).any() or (kaf > 1).any():
                    raise ValueError(f"kaf (λ) must lie in [0, 1], got range "
                                     f"[{float(kaf.min()):g}, {float(kaf.max()):g}]")
            _check_target_range(target, self.awing_params["alpha"])
        return pred, target, target_weight, kaf

    @staticmethod
    def _vector(name: str, x, batch: int, num_kpts: int, like: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() == 1 and x.shape[0] == num_kpts:  # one value per keypoint, shared over the batch
            x = x.unsqueeze(0).expand(batch, num_kpts)
        if tuple(x.shape) != (batch, num_kpts):
            raise ValueError(f"{name} must have shape [B, K] = [{batch}, {num_kpts}], got {tuple(x.shape)}")
        return x.to(like.dtype)


class MSELoss(_HeatmapLoss):
    """Mean squared error over all pixels and keypoints (Eq. 1; Table 2 row a).

    With binary ``target_weight`` and ``pixel_reduction='mean'`` it equals MMPose's
    ``KeypointMSELoss(use_target_weight=True)``: ``mean_{b,k,i,j} tw·(p̂ − p)²``.

    Args:
        pixel_reduction: 'mean' (default, MMPose scale) or 'sum' (Eq. 1 as printed).
        weighting: 'none' (default), 'wahr' or 'fwahr' pixel weights W.
        loss_weight: overall factor (1.0).
    Shapes: pred, target ``[B, K, H, W]``; target_weight ``[B, K]``. Returns a scalar.
    """

    def _loss(self, pred, target, target_weight, kaf):
        return self.mse_term(pred, target, self.pixel_weight(pred, target), target_weight).mean()


class AWingLoss(_HeatmapLoss):
    """Adaptive Wing loss averaged over pixels and keypoints (Eq. 3; Table 2 row b).

    With binary ``target_weight`` it equals MMPose's ``AdaptiveWingLoss(use_target_weight=True)``.

    Args:
        alpha, omega, epsilon, theta: AWing hyper-parameters (2.1, 14, 1, 0.5).
        pixel_reduction, weighting, loss_weight: as :class:`MSELoss`.
    Shapes: pred, target ``[B, K, H, W]``; target_weight ``[B, K]``. Returns a scalar.
    """

    def _loss(self, pred, target, target_weight, kaf):
        return self.awing_term(pred, target, self.pixel_weight(pred, target), target_weight).mean()


class _PartLoss(_HeatmapLoss):
    uses_parts = True

    def __init__(self, parts: Mapping[str, Sequence[int]] | None = None, **options):
        super().__init__(**options)
        self.parts = dict(_parts.PARTS if parts is None else parts)
        self._validated_for: int | None = None
        self._index_cache: dict = {}

    def _parts_for(self, num_kpts: int) -> dict[str, tuple[int, ...]]:
        if self._validated_for != num_kpts:
            self.parts = _parts.validate_parts(self.parts, num_kpts)
            self._validated_for = num_kpts
        return self.parts

    def _index(self, names: tuple[str, ...], device) -> Tensor:
        key = (names, device)
        if key not in self._index_cache:
            idx = [i for n in names for i in self.parts[n]]
            self._index_cache[key] = torch.tensor(idx, dtype=torch.long, device=device)
        return self._index_cache[key]


class HeuristicLoss(_PartLoss):
    """The heuristic part-wise loss (Eq. 4-5; Table 2 rows c and e, Table 3).

    MSE on the coarse parts (body, foot) and AWing on the dense ones (face, hand), each averaged over
    its keypoints, combined with the balancing factors λ_fh = N_fh/N and λ_bf = N_bf/N:

    - ``balance='literal'`` (default, Eq. 5 as printed): ``λ_fh·L_bf + λ_bf·L_fh``.
    - ``balance='swapped'``: ``λ_bf·L_bf + λ_fh·L_fh`` (= the uniform mean over all keypoints).

    Args:
        parts: part name -> keypoint indices (default ``fowkal.parts.PARTS``).
        coarse_parts, dense_parts: which parts get MSE and AWing (default body+foot, face+hand).
        balance: 'literal' or 'swapped'. Other options as :class:`AWingLoss`.
    """

    def __init__(self, parts=None, *, balance: str = "literal", coarse_parts=("body", "foot"),
                 dense_parts=("face", "hand"), **options):
        super().__init__(parts, **options)
        _choice("balance", balance, HEURISTIC_BALANCES)
        self.balance = balance
        self.coarse_parts, self.dense_parts = tuple(coarse_parts), tuple(dense_parts)
        missing = [n for n in self.coarse_parts + self.dense_parts if n not in self.parts]
        if missing:
            raise ValueError(f"heuristic loss needs parts {missing}, not in parts {list(self.parts)}")
        if set(self.coarse_parts) | set(self.dense_parts) != set(self.parts):
            raise ValueError(f"coarse_parts {self.coarse_parts} + dense_parts {self.dense_parts} "
                             f"must cover all parts {list(self.parts)}")

    def _loss(self, pred, target, target_weight, kaf):
        coarse = self._index(self.coarse_parts, pred.device)
        dense = self._index(self.dense_parts, pred.device)
        weight = self.pixel_weight(pred, target)

        def pick(x, idx):
            return None if x is None else x.index_select(1, idx)

        l_bf = self.mse_term(pred[:, coarse], target[:, coarse], pick(weight, coarse),
                             pick(target_weight, coarse)).mean(dim=1)
        l_fh = self.awing_term(pred[:, dense], target[:, dense], pick(weight, dense),
                               pick(target_weight, dense)).mean(dim=1)
        return self.combine(l_bf, l_fh, len(coarse), len(dense))

    def combine(self, l_bf: Tensor, l_fh: Tensor, n_bf: int, n_fh: int) -> Tensor:
        """Eq. 5 from the per-sample means ``[B]`` of the coarse (body, foot: MSE) and dense (face, hand:
        AWing) groups of ``n_bf`` and ``n_fh`` keypoints: each weighted by the other group's share
        ('literal', as printed) or by its own ('swapped'), then the batch mean."""
        lam_fh, lam_bf = n_fh / (n_bf + n_fh), n_bf / (n_bf + n_fh)
        if self.balance == "literal":
            per_sample = lam_fh * l_bf + lam_bf * l_fh
        else:
            per_sample = lam_bf * l_bf + lam_fh * l_fh
        return per_sample.mean()


class KALLoss(_PartLoss):
    """Keypoint-wise Adaptive Loss (Eq. 6-8); with ``weighting='fwahr'`` it is FoWKAL (Eq. 10-11).

    Per sample: ``Σ_part mean_{k∈part}[λ_k·ℓ^AW_k + (1 − λ_k)·ℓ^MSE_k] + ρ·Σ_part Var_pop(λ_part)``,
    then the batch mean (§5.2). λ comes from the KAF head (``kaf``, ``[B, K]`` or ``[K]``, in [0, 1]).

    Args:
        parts: part name -> keypoint indices (default ``fowkal.parts.PARTS``), must partition 0..K-1.
        reg_weight: ρ, the weight of the regulariser L_reg (Eq. 7; 1.0 as printed).
        lambda_barrier: non-paper anti-collapse term ``−c·[log λ + log(1 − λ)]`` (part means), 0 = off.
        term_normalisation: non-paper. 'none' (default, Eq. 6) or 'batch': ℓ^AW and ℓ^MSE are each divided
            by their batch mean over all keypoints (detached) before Eq. 6 mixes them, so both terms are on
            a common scale; ∂L/∂λ_k then has either sign (AWing's share minus MSE's share) instead of
            always pushing λ to 0 (§5.4). The logged ``awing``/``mse`` terms stay unscaled.
        weighting: 'none' (KAL), 'fwahr' (FoWKAL), 'wahr' (Table 3).
        fixed_lambda: non-paper control: λ fixed at this value in [0, 1] for every keypoint, no KAF head
            (``kaf`` must be None). 0 gives part-normalised MSE, 1 part-normalised AWing: Eq. 8's four part
            means without a learned factor (the ablation's ``kal_lambda0``/``kal_lambda1``/``fowkal_lambda0``).
        Other options as :class:`AWingLoss`.
    """

    uses_kaf = True

    def __init__(self, parts=None, *, reg_weight: float = 1.0, lambda_barrier: float = 0.0,
                 term_normalisation: str = "none", fixed_lambda: float | None = None, **options):
        super().__init__(parts, **options)
        if reg_weight < 0 or lambda_barrier < 0:
            raise ValueError(f"reg_weight and lambda_barrier must be >= 0, got {reg_weight}, {lambda_barrier}")
        _choice("term_normalisation", term_normalisation, TERM_NORMALISATIONS)
        if fixed_lambda is not None:
            if isinstance(fixed_lambda, bool) or not 0.0 <= float(fixed_lambda) <= 1.0:
                raise ValueError(f"fixed_lambda must be a number in [0, 1] (or None), got {fixed_lambda!r}")
            if lambda_barrier:
                raise ValueError("lambda_barrier acts on a learned λ: not with fixed_lambda")
            self.uses_kaf = False  # λ is a constant: no KAF head, no kaf argument
        self.fixed_lambda = None if fixed_lambda is None else float(fixed_lambda)
        self.reg_weight, self.lambda_barrier = reg_weight, lambda_barrier
        self.term_normalisation = term_normalisation

    def _prepare(self, pred, target, target_weight, kaf, *, scan: bool | None = None):
        pred, target, target_weight, kaf = super()._prepare(pred, target, target_weight, kaf, scan=scan)
        if self.fixed_lambda is not None:  # the constant λ, as a [B, K] map (its regulariser is 0)
            kaf = pred.new_full(pred.shape[:2], self.fixed_lambda)
        return pred, target, target_weight, kaf

    def terms(self, pred, target, target_weight=None, kaf=None) -> dict[str, Tensor]:
        """The loss and its pieces (for logging): per-keypoint ℓ^AW, ℓ^MSE ``[B, K]``, data, reg, total."""
        pred, target, target_weight, kaf = self._prepare(pred, target, target_weight, kaf)
        weight = self.pixel_weight(pred, target)
        l_aw = self.awing_term(pred, target, weight, target_weight)
        l_mse = self.mse_term(pred, target, weight, target_weight)
        return self.combine(kaf, l_aw, l_mse)

    def combine(self, kaf: Tensor, l_aw: Tensor, l_mse: Tensor, adaptive: Tensor | None = None) -> dict[str, Tensor]:
        """Eq. 6-8 from the per-keypoint terms ``[B, K]``: part means, regulariser, barrier.

        ``adaptive``: the blend ``λ·ℓ^AW + (1 − λ)·ℓ^MSE`` when the caller computed it already (the fused
        loss does, in its pixel pass); only without term normalisation, which rescales the terms first.
        """
        aw, mse = l_aw, l_mse
        if self.term_normalisation == "batch":  # a scale, not a path for gradients: detached means
            if adaptive is not None:
                raise ValueError("combine(adaptive=...) is the blend of unscaled terms: not with "
                                 "term_normalisation='batch'")
            aw = l_aw / l_aw.detach().mean().clamp_min(1e-12)
            mse = l_mse / l_mse.detach().mean().clamp_min(1e-12)
        if adaptive is None:
            adaptive = kaf * aw + (1.0 - kaf) * mse
        data = kaf.new_zeros(kaf.shape[0])
        reg = kaf.new_zeros(kaf.shape[0])
        barrier = kaf.new_zeros(kaf.shape[0])
        for name in self.parts:
            idx = self._index((name,), kaf.device)
            lam = kaf.index_select(1, idx)
            data = data + adaptive.index_select(1, idx).mean(dim=1)
            reg = reg + lam.var(dim=1, correction=0)  # population variance (Eq. 7)
            if self.lambda_barrier:
                lam_c = lam.clamp(1e-6, 1 - 1e-6)
                barrier = barrier - (lam_c.log() + (1 - lam_c).log()).mean(dim=1)
        total = data + self.reg_weight * reg + self.lambda_barrier * barrier
        return dict(awing=l_aw, mse=l_mse, data=data.mean(), reg=reg.mean(), total=self.loss_weight * total.mean())

    def forward(self, pred, target, target_weight=None, kaf=None):
        return self.terms(pred, target, target_weight, kaf)["total"]


# --------------------------------------------------------------------------- the ablation methods
#: method name -> (loss class, fixed options): Table 2 rows a-f, Table 3's WAHR rows and the three controls.
METHODS: dict[str, tuple[type, dict]] = {
    "mse": (MSELoss, {}),
    "awing": (AWingLoss, {}),
    "heuristic": (HeuristicLoss, {"weighting": "none"}),
    "kal": (KALLoss, {"weighting": "none"}),
    "heuristic_fwahr": (HeuristicLoss, {"weighting": "fwahr"}),
    "fowkal": (KALLoss, {"weighting": "fwahr"}),
    "heuristic_wahr": (HeuristicLoss, {"weighting": "wahr"}),
    "kal_wahr": (KALLoss, {"weighting": "wahr"}),
    # controls (not in the paper): KAL's part-normalised sum (Eq. 8) with λ fixed, no KAF head; the last
    # with FWAHR too (FoWKAL without its factor): separates FWAHR from the learned λ
    "kal_lambda0": (KALLoss, {"weighting": "none", "fixed_lambda": 0.0}),
    "kal_lambda1": (KALLoss, {"weighting": "none", "fixed_lambda": 1.0}),
    "fowkal_lambda0": (KALLoss, {"weighting": "fwahr", "fixed_lambda": 0.0}),
}
#: Paper rows of each method.
PAPER_ROWS = {"mse": "Table 2 (a)", "awing": "Table 2 (b)", "heuristic": "Table 2 (c)", "kal": "Table 2 (d)",
              "heuristic_fwahr": "Table 2 (e)", "fowkal": "Table 2 (f)", "heuristic_wahr": "Table 3",
              "kal_wahr": "Table 3", "kal_lambda0": "control", "kal_lambda1": "control",
              "fowkal_lambda0": "control"}
#: The methods whose λ comes from a KAF head (the KAL family without the fixed-λ controls).
KAL_METHODS = tuple(m for m, (cls, fixed) in METHODS.items() if cls is KALLoss and "fixed_lambda" not in fixed)
#: The controls: KAL with λ fixed at 0 (part-normalised MSE) and at 1 (part-normalised AWing), and FoWKAL with
#: λ fixed at 0 (part-normalised MSE weighted by FWAHR).
CONTROL_METHODS = tuple(m for m, (cls, fixed) in METHODS.items() if "fixed_lambda" in fixed)

_COMMON_OPTIONS = {"pixel_reduction", "gamma", "tau", "fwahr_reading", "detach_weight", "alpha", "omega",
                   "epsilon", "theta", "loss_weight", "check_inputs"}
_CLASS_OPTIONS = {
    MSELoss: set(),
    AWingLoss: set(),
    HeuristicLoss: {"balance", "coarse_parts", "dense_parts"},
    KALLoss: {"reg_weight", "lambda_barrier", "term_normalisation"},
}


def build_reference_loss(method: str, *, parts: Mapping[str, Sequence[int]] | None = None, **options) -> nn.Module:
    """Build the loss of one ablation method.

    Args:
        method: one of ``METHODS``: 'mse', 'awing', 'heuristic', 'kal', 'heuristic_fwahr', 'fowkal'
            (Table 2 a-f), 'heuristic_wahr', 'kal_wahr' (Table 3).
        parts: part name -> keypoint indices (default ``fowkal.parts.PARTS``); used by the part-wise methods.
        **options: the loss decisions (§12): ``pixel_reduction`` ('mean'), ``reg_weight`` (1.0),
            ``fwahr_reading`` ('literal'), ``detach_weight`` (False), ``balance`` ('literal'),
            ``lambda_barrier`` (0), ``term_normalisation`` ('none'), ``gamma``/``tau`` (0.01), AWing ``alpha``/``omega``/``epsilon``/``theta``.
            (:func:`fowkal.losses.build_loss` builds the fused twin of this loss by default.)

    Returns:
        ``nn.Module`` called as ``loss(pred, target, target_weight=None, kaf=None)`` → scalar.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    cls, fixed = METHODS[method]
    allowed = _COMMON_OPTIONS | _CLASS_OPTIONS[cls]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"method {method!r} does not take option(s) {unknown}; valid: {sorted(allowed)}")
    if cls in (MSELoss, AWingLoss):
        if parts is not None:
            _parts.validate_parts(parts, max(i for idx in parts.values() for i in idx) + 1)
        return cls(**fixed, **options)
    return cls(parts, **fixed, **options)


def _choice(name: str, value, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


__all__ = [
    "build_reference_loss", "METHODS", "KAL_METHODS", "PAPER_ROWS", "MSELoss", "AWingLoss", "HeuristicLoss",
    "KALLoss", "TERM_NORMALISATIONS",
]
