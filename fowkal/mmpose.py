"""MMPose integration: the FoWKAL losses and the KAF heatmap head in MMPose's registry.

Importing this module registers, in ``mmpose.registry.MODELS``:

- ``FoWKALLoss``: a thin adapter over :func:`fowkal.losses.build_loss`
  (``dict(type='FoWKALLoss', method='fowkal', **options)``), called by MMPose heads as
  ``loss(pred, gt_heatmaps, keypoint_weights)``, plus ``kaf=`` for the KAL methods.
- ``KAFHeatmapHead``: MMPose's ``HeatmapHead`` plus the KAF branch (:class:`fowkal.KAFHead` on the
  head's input, the backbone's last feature map). λ enters the loss during training only;
  ``forward``/``predict`` (and so flip test, evaluation, deployment) are HeatmapHead's own.

Use it from any MMPose config::

    custom_imports = dict(imports=['fowkal.mmpose'], allow_failed_imports=False)
    model = dict(head=dict(type='KAFHeatmapHead', in_channels=32, out_channels=133,
                           loss=dict(type='FoWKALLoss', method='fowkal'), decoder=codec))

Tested with mmpose 1.1.0 / mmengine 0.10.7; it relies only on HeatmapHead's constructor, ``forward``
and the ``gt_fields.heatmaps`` / ``gt_instance_labels.keypoint_weights`` data-sample fields,
which are unchanged through mmpose 1.3.
"""
from __future__ import annotations

import warnings
from typing import Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

import mmpose
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy

from . import parts as _parts
from .kaf_head import KAFHead
from .losses import KAL_METHODS, METHODS, build_loss

TESTED_MMPOSE = "1.1.0"
if not mmpose.__version__.startswith("1."):
    warnings.warn(f"fowkal.mmpose is written for mmpose 1.x (tested {TESTED_MMPOSE}); "
                  f"found {mmpose.__version__}")


@MODELS.register_module()
class FoWKALLoss(nn.Module):
    """One of the paper's heatmap losses (``fowkal.losses.METHODS``) with MMPose's loss interface.

    Args:
        method: 'mse', 'awing', 'heuristic', 'kal', 'heuristic_fwahr', 'fowkal' (Table 2 a-f),
            'heuristic_wahr' or 'kal_wahr' (Table 3).
        use_target_weight: multiply each keypoint's loss by its visibility weight (MMPose's
            convention; True in the paper's configs).
        parts: part name -> keypoint indices (default ``fowkal.parts.PARTS``, for K = 133).
        **options: passed to :func:`fowkal.losses.build_loss` (``pixel_reduction``, ``reg_weight``,
            ``fwahr_reading``, ``balance``, ``loss_weight``, ...).

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


@MODELS.register_module()
class KAFHeatmapHead(HeatmapHead):
    """MMPose's ``HeatmapHead`` with the KAF branch of the FoWKAL paper (Fig. 2).

    With a KAL-family loss (``FoWKALLoss`` with method kal, fowkal or kal_wahr) the head owns a
    :class:`fowkal.KAFHead` that maps its input feature map (the backbone's last one, the tensor
    the heatmap layers consume) to λ ``[B, K]``; ``loss`` passes λ to the loss. With any other loss
    no KAF branch is built: the head is then HeatmapHead exactly (same parameters, same state dict).
    ``forward`` and ``predict`` are never changed, so inference and flip test ignore λ.

    After each training step (``loss``) the head keeps, for logging:

    - ``last_kaf``: λ of the batch, detached ``[B, K]`` (None for non-KAL methods);
    - ``last_loss_terms``: KAL methods only: per-keypoint batch means of ℓ^AWing and ℓ^MSE (``[K]``),
      the data term and the regulariser (detached scalars); None otherwise.

    The loss dict also carries the mean λ of each part (``kaf_body``, ...), which MMEngine logs.

    Args:
        kaf_cfg: options of :class:`fowkal.KAFHead` (``hidden``, ``lambda_init``,
            ``detach_features``, ``source``); ``in_channels``/``num_keypoints`` come from the head.
        Other arguments as ``HeatmapHead``; ``loss`` defaults to ``FoWKALLoss(method='fowkal')``.
    """

    def __init__(self, in_channels, out_channels: int, *, kaf_cfg: Optional[dict] = None,
                 loss: dict = dict(type="FoWKALLoss", method="fowkal"), **kwargs):
        super().__init__(in_channels, out_channels, loss=loss, **kwargs)
        if hasattr(self.loss_module, "check_num_keypoints"):
            self.loss_module.check_num_keypoints(out_channels)
        self.uses_kaf = bool(getattr(self.loss_module, "uses_kaf", False))
        if kaf_cfg and not self.uses_kaf:
            raise ValueError(f"kaf_cfg is given but the loss {type(self.loss_module).__name__} "
                             f"does not use λ (only the KAL methods {KAL_METHODS} do)")
        feature_channels = in_channels if isinstance(in_channels, int) else in_channels[-1]
        self.kaf_head = (KAFHead(feature_channels, out_channels, **(kaf_cfg or {}))
                         if self.uses_kaf else None)
        self.last_kaf: Optional[Tensor] = None
        self.last_loss_terms: Optional[dict] = None

    def _log_parts(self) -> Mapping[str, Sequence[int]]:
        found = getattr(self.loss_module, "parts", None)
        return found if found is not None else {}

    def loss(self, feats, batch_data_samples, train_cfg: dict = {}) -> dict:
        if self.kaf_head is None:
            self.last_kaf, self.last_loss_terms = None, None
            return super().loss(feats, batch_data_samples, train_cfg)

        pred = self.forward(feats)
        kaf = self.kaf_head(feats[-1])
        gt_heatmaps = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        keypoint_weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])

        terms = self.loss_module.terms(pred, gt_heatmaps, keypoint_weights, kaf)
        kaf = kaf.detach()
        self.last_kaf = kaf
        self.last_loss_terms = dict(awing=terms["awing"].detach().mean(0), mse=terms["mse"].detach().mean(0),
                                    data=terms["data"].detach(), reg=terms["reg"].detach())
        losses = dict(loss_kpt=terms["total"])
        for name, idx in self._log_parts().items():  # logged by MMEngine, not summed ('loss' not in key)
            losses[f"kaf_{name}"] = kaf[:, list(idx)].mean()

        if train_cfg.get("compute_acc", True):
            _, avg_acc, _ = pose_pck_accuracy(output=to_numpy(pred), target=to_numpy(gt_heatmaps),
                                              mask=to_numpy(keypoint_weights) > 0)
            losses.update(acc_pose=torch.tensor(avg_acc, device=gt_heatmaps.device))
        return losses


__all__ = ["FoWKALLoss", "KAFHeatmapHead", "METHODS", "TESTED_MMPOSE"]
