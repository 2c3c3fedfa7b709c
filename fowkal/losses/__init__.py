"""The FoWKAL paper's heatmap losses, in plain PyTorch (torch only: no MMPose, MMEngine or matplotlib).

- :mod:`fowkal.losses.functional`: element-wise pieces, :func:`awing` (Eq. 2), :func:`wahr_weight`,
  :func:`fwahr_weight` (Eq. 9);
- :mod:`fowkal.losses.reference`: one autograd class per loss (Eq. 1, 3, 4-5, 6-8, 10-11), the definition;
- :mod:`fowkal.losses.fused`: the same losses in one chunked pass with an analytic backward;
- :func:`build_loss`: a paper ablation row (``METHODS``) to a configured loss, fused unless
  ``reference=True``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from torch import nn

from ..kaf_head import KAFHead
from .functional import AWING_DEFAULTS, FWAHR_READINGS, awing, fwahr_weight, wahr_weight
from .compiled import compiled_kernel_available
from .fused import build_fused_loss
from .reference import (CONTROL_METHODS, KAL_METHODS, METHODS, PAPER_ROWS, TERM_NORMALISATIONS, AWingLoss,
                        HeuristicLoss, KALLoss, MSELoss, build_reference_loss)


def build_loss(method: str, *, parts: Mapping[str, Sequence[int]] | None = None, reference: bool = False,
               fused: bool | None = None, compiled: bool = True, **options) -> nn.Module:
    """Build the loss of one ablation method: the fused implementation unless ``reference=True``.

    Args:
        method: one of ``METHODS``: 'mse', 'awing', 'heuristic', 'kal', 'heuristic_fwahr', 'fowkal'
            (Table 2 a-f), 'heuristic_wahr', 'kal_wahr' (Table 3), and the controls 'kal_lambda0',
            'kal_lambda1' (KAL's part-normalised sum with λ fixed at 0 or 1, no KAF head) and 'fowkal_lambda0'
            (FoWKAL's with λ fixed at 0, no KAF head).
        parts: part name -> keypoint indices (default ``fowkal.parts.PARTS``); used by the part-wise methods.
        reference: False (default): :mod:`fowkal.losses.fused`, one pass with an analytic backward; True:
            :mod:`fowkal.losses.reference`, plain autograd, the definition the fused loss is tested against
            (same values and gradients; it falls back to the reference itself where it cannot serve an input:
            double backward, forward-mode AD, ``torch.func`` transforms).
        fused: the former switch, still accepted: True = the default, False = ``reference=True``.
        compiled: fused losses only: True (default) computes the pixel pass with the compiled kernel of
            :mod:`fowkal.losses.compiled` where a compiler is present (values to rounding), False with the
            eager fused pass (bit-identical to earlier versions).
        **options: the loss decisions (§12 of ``book/loss_decisions.md``): ``pixel_reduction`` ('mean'),
            ``reg_weight`` (1.0), ``fwahr_reading`` ('literal'), ``detach_weight`` (False), ``balance``
            ('literal'), ``lambda_barrier`` (0), ``term_normalisation`` ('none'), ``gamma``/``tau`` (0.01),
            AWing ``alpha``/``omega``/``epsilon``/``theta``.

    Returns:
        ``nn.Module`` called as ``loss(pred, target, target_weight=None, kaf=None)`` → scalar.
    """
    for name, flag in (("reference", reference), ("fused", fused)):
        if flag is not None and not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if fused is not None:
        if reference and fused:
            raise ValueError("build_loss: reference=True and fused=True contradict each other; pass one")
        reference = not fused
    if reference:
        return build_reference_loss(method, parts=parts, **options)
    return build_fused_loss(method, parts=parts, compiled=compiled, **options)


__all__ = [
    "awing", "wahr_weight", "fwahr_weight", "build_loss", "build_reference_loss", "build_fused_loss", "METHODS",
    "KAL_METHODS", "CONTROL_METHODS", "PAPER_ROWS", "MSELoss", "AWingLoss", "HeuristicLoss", "KALLoss", "KAFHead",
    "AWING_DEFAULTS", "FWAHR_READINGS", "TERM_NORMALISATIONS", "compiled_kernel_available",
]
