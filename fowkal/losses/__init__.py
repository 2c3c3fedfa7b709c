"""The FoWKAL paper's heatmap losses, in plain PyTorch (torch only: no MMPose, MMEngine or matplotlib).

- :mod:`fowkal.losses.functional`: element-wise pieces, :func:`awing` (Eq. 2), :func:`wahr_weight`,
  :func:`fwahr_weight` (Eq. 9);
- :mod:`fowkal.losses.reference`: one autograd class per loss (Eq. 1, 3, 4-5, 6-8, 10-11), the definition;
- :mod:`fowkal.losses.fused`: the same losses in one chunked pass with an analytic backward;
- :func:`build_loss`: a paper ablation row (``METHODS``) to a configured loss.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from torch import nn

from ..kaf_head import KAFHead
from .functional import AWING_DEFAULTS, FWAHR_READINGS, awing, fwahr_weight, wahr_weight
from .fused import build_fused_loss
from .reference import (KAL_METHODS, METHODS, PAPER_ROWS, TERM_NORMALISATIONS, AWingLoss, HeuristicLoss,
                        KALLoss, MSELoss, build_reference_loss)


def build_loss(method: str, *, parts: Mapping[str, Sequence[int]] | None = None, fused: bool = False,
               **options) -> nn.Module:
    """Build the loss of one ablation method.

    Args:
        method: one of ``METHODS``: 'mse', 'awing', 'heuristic', 'kal', 'heuristic_fwahr', 'fowkal'
            (Table 2 a-f), 'heuristic_wahr', 'kal_wahr' (Table 3).
        parts: part name -> keypoint indices (default ``fowkal.parts.PARTS``); used by the part-wise methods.
        fused: False (default): the autograd reference; True: :mod:`fowkal.losses.fused`, same values.
        **options: the loss decisions (``docs/loss-decisions.md`` §12): ``pixel_reduction`` ('mean'),
            ``reg_weight`` (1.0), ``fwahr_reading`` ('literal'), ``detach_weight`` (False), ``balance``
            ('literal'), ``lambda_barrier`` (0), ``term_normalisation`` ('none'), ``gamma``/``tau`` (0.01),
            AWing ``alpha``/``omega``/``epsilon``/``theta``.

    Returns:
        ``nn.Module`` called as ``loss(pred, target, target_weight=None, kaf=None)`` → scalar.
    """
    if fused:
        return build_fused_loss(method, parts=parts, **options)
    return build_reference_loss(method, parts=parts, **options)


__all__ = [
    "awing", "wahr_weight", "fwahr_weight", "build_loss", "build_reference_loss", "build_fused_loss", "METHODS",
    "KAL_METHODS", "PAPER_ROWS", "MSELoss", "AWingLoss", "HeuristicLoss", "KALLoss", "KAFHead", "AWING_DEFAULTS",
    "FWAHR_READINGS", "TERM_NORMALISATIONS",
]
