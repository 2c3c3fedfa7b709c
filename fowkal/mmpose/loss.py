"""``FoWKALLoss``: the plain-PyTorch losses of :mod:`fowkal.losses` with MMPose's loss interface."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from torch import Tensor, nn

from mmpose.registry import MODELS

from .. import parts as _parts
from ..losses import KAL_METHODS, build_loss


@MODELS.register_module()
class FoWKALLoss(nn.Module):
    """One of the paper's heatmap losses (``fowkal.losses.METHODS``) with MMPose's loss interface.

    Args:
        method: 'mse', 'awing', 'heuristic', 'kal', 'heuristic_fwahr', 'fowkal' (Table 2 a-f),
            'heuristic_wahr', 'kal_wahr' (Table 3), or one of the controls 'kal_lambda0', 'kal_lambda1',
            'fowkal_lambda0' (``fowkal.losses.METHODS``).
        use_target_weight: multiply each keypoint's loss by its visibility weight (MMPose's
            convention; True in the paper's configs).
        parts: part name -> keypoint indices (default ``fowkal.parts.PARTS``, for K = 133).
        **options: passed to :func:`fowkal.losses.build_loss` (``pixel_reduction``, ``reg_weight``,
            ``fwahr_reading``, ``balance``, ``loss_weight``, ...); the fused implementation unless
            ``reference=True``, its pixel pass compiled where that pays off unless ``compiled=False``
            (``fused=True``, which records made before this default keep in their configs, still reads).

    Called as ``loss(output, target, target_weights=None, mask=None, kaf=None)`` with output,
    target ``[B, K, H, W]``, target_weights ``[B, K]`` and, for KAL methods, kaf (λ) ``[B, K]``.
    """

    def __init__(self, method: str = "fowkal", use_target_weight: bool = True,
                 parts: Optional[Mapping[str, Sequence[int]]] = None, **options):
        super().__init__()
        if parts is not None:
            parts = {str(name): tuple(int(i) for i in idx) for name, idx in parts.items()}
        self.method = method
        self.use_target_weight = use_target_weight
        self.criterion = build_loss(method, parts=parts, **options)

    @property
    def uses_kaf(self) -> bool:
        """Whether the loss needs λ (the KAL methods)."""
        return self.method in KAL_METHODS

    @property
    def parts(self) -> Optional[dict]:
        """The part split the loss uses (None for the part-free methods mse and awing)."""
        return getattr(self.criterion, "parts", None)

    def check_num_keypoints(self, num_keypoints: int) -> None:
        """Raise a ValueError now if the loss's parts do not partition ``range(num_keypoints)``."""
        if self.parts is not None:
            try:
                _parts.validate_parts(self.parts, num_keypoints)
            except ValueError as err:
                raise ValueError(f"FoWKALLoss(method={self.method!r}) cannot be used with "
                                 f"{num_keypoints} keypoints: {err}") from None

    def forward(self, output: Tensor, target: Tensor, target_weights: Optional[Tensor] = None,
                mask: Optional[Tensor] = None, kaf: Optional[Tensor] = None) -> Tensor:
        if mask is not None:
            raise ValueError("FoWKALLoss does not support a pixel mask (the paper's losses have none)")
        if target_weights is not None and target_weights.dim() != 2:
            raise ValueError(f"FoWKALLoss needs keypoint-wise target_weights [B, K], got "
                             f"{tuple(target_weights.shape)}")
        if self.uses_kaf and kaf is None:
            raise ValueError(f"method {self.method!r} needs the KAF λ: use type='KAFHeatmapHead' "
                             f"as the head (a plain HeatmapHead passes no λ)")
        weights = target_weights if self.use_target_weight else None
        return self.criterion(output, target, weights, kaf)

    def terms(self, output: Tensor, target: Tensor, target_weights: Optional[Tensor] = None,
              kaf: Optional[Tensor] = None) -> dict:
        """KAL methods: the loss and its pieces (see ``fowkal.losses.KALLoss.terms``)."""
        if not self.uses_kaf:
            raise ValueError(f"terms() is only defined for the KAL methods {KAL_METHODS}, "
                             f"not {self.method!r}")
        weights = target_weights if self.use_target_weight else None
        return self.criterion.terms(output, target, weights, kaf)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, use_target_weight={self.use_target_weight}"


__all__ = ["FoWKALLoss"]
