"""``KAFHeatmapHead``: MMPose's ``HeatmapHead`` plus the KAF branch (:class:`fowkal.kaf_head.KAFHead`)."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy

from ..kaf_head import KAFHead
from ..losses import KAL_METHODS


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
        pixel_shuffle: an integer r >= 2 for a learned sub-pixel upsampling (:class:`SubPixelShuffle`):
            the last conv layer's C channels become C / r² channels at r times the resolution, which
            the 1x1 output layer reads. It has no parameters (the state dict keeps HeatmapHead's
            keys) and costs no more arithmetic than the output layer at the input resolution: the
            CPU profile's 64x48 heatmaps from stride-4 features (``fowkal.configs.geometry``).
            None (default): no upsampling beyond HeatmapHead's deconv layers.
        Other arguments as ``HeatmapHead``; ``loss`` defaults to ``FoWKALLoss(method='fowkal')``.
    """

    def __init__(self, in_channels, out_channels: int, *, kaf_cfg: Optional[dict] = None,
                 loss: dict = dict(type="FoWKALLoss", method="fowkal"), pixel_shuffle: Optional[int] = None,
                 **kwargs):
        if pixel_shuffle is not None:
            kwargs["final_layer"] = _shuffled_final_layer(pixel_shuffle, in_channels, kwargs)
        super().__init__(in_channels, out_channels, loss=loss, **kwargs)
        if pixel_shuffle is not None:
            # appended, parameter-free: the conv layers' state-dict keys stay HeatmapHead's
            if isinstance(self.conv_layers, torch.nn.Sequential):
                self.conv_layers.append(SubPixelShuffle(pixel_shuffle))
            else:
                self.conv_layers = SubPixelShuffle(pixel_shuffle)
        if hasattr(self.loss_module, "check_num_keypoints"):
            self.loss_module.check_num_keypoints(out_channels)
        self.uses_kaf = bool(getattr(self.loss_module, "uses_kaf", False))
        if kaf_cfg and not self.uses_kaf:
            raise ValueError(f"kaf_cfg is given but the loss {type(self.loss_module).__name__} "
                             f"does not use λ (only the KAL methods {KAL_METHODS} do)")
        feature_channels = in_channels if isinstance(in_channels, int) else in_channels[-1]
        self.kaf_head = None
        if self.uses_kaf:
            # built on a copy of the random state, which is then restored: the KAF branch must not shift
            # the draws of the weights initialised after it, so that for one seed every method starts
            # from the same backbone and heatmap-head weights (paired seeds)
            with torch.random.fork_rng(devices=[]):
                self.kaf_head = KAFHead(feature_channels, out_channels, **(kaf_cfg or {}))
        self.last_kaf: Optional[Tensor] = None
        self.last_loss_terms: Optional[dict] = None

    def _log_parts(self) -> Mapping[str, Sequence[int]]:
        found = getattr(self.loss_module, "parts", None)
        return found if found is not None else {}

    def loss(self, feats, batch_data_samples, train_cfg: dict = {}) -> dict:
        """HeatmapHead's loss dict (``loss_kpt``, ``acc_pose`` unless ``train_cfg.compute_acc`` is False),
        with a KAL-family loss also λ per part; ``acc_pose`` is MMPose's ``pose_pck_accuracy``, its
        heatmap maxima found in one pass (:func:`heatmap_pck_accuracy`)."""
        pred = self.forward(feats)
        gt_heatmaps = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        keypoint_weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        if self.kaf_head is None:
            self.last_kaf, self.last_loss_terms = None, None
            losses = dict(loss_kpt=self.loss_module(pred, gt_heatmaps, keypoint_weights))
            if train_cfg.get("compute_acc", True):
                losses.update(acc_pose=heatmap_pck_accuracy(pred, gt_heatmaps, keypoint_weights))
            return losses

        kaf = self.kaf_head(feats[-1])

        terms = self.loss_module.terms(pred, gt_heatmaps, keypoint_weights, kaf)
        kaf = kaf.detach()
        self.last_kaf = kaf
        self.last_loss_terms = dict(awing=terms["awing"].detach().mean(0), mse=terms["mse"].detach().mean(0),
                                    data=terms["data"].detach(), reg=terms["reg"].detach())
        losses = dict(loss_kpt=terms["total"])
        for name, idx in self._log_parts().items():  # logged by MMEngine, not summed ('loss' not in key)
            losses[f"kaf_{name}"] = kaf[:, list(idx)].mean()

        if train_cfg.get("compute_acc", True):
            losses.update(acc_pose=heatmap_pck_accuracy(pred, gt_heatmaps, keypoint_weights))
        return losses


def heatmap_maximum(heatmaps: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """MMPose's ``get_heatmap_maximum`` of ``[B, K, H, W]`` heatmaps in one pass over them.

    Returns ``(locs [B, K, 2] float32 (x, y), vals [B, K])`` as MMPose's: NumPy's argmax per heatmap (the first
    maximum; the first NaN where there is one), the value read at that index (which is what ``amax`` returns),
    ``-1`` where the maximum is <= 0. MMPose scans each heatmap twice (argmax, then amax); on the CPU profile's
    [32, 133, 64, 48] heatmaps the second scan is ~40 % of the accuracy's cost.
    """
    batch, num_kpts, height, width = heatmaps.shape
    flat = to_numpy(heatmaps.detach()).reshape(batch * num_kpts, -1)
    index = np.argmax(flat, axis=1)
    vals = np.take_along_axis(flat, index[:, None], axis=1)[:, 0]
    locs = np.stack((index % width, index // width), axis=-1).astype(np.float32)
    locs[vals <= 0.0] = -1
    return locs.reshape(batch, num_kpts, 2), vals.reshape(batch, num_kpts)


def heatmap_pck_accuracy(pred: Tensor, target: Tensor, keypoint_weights: Tensor, thr: float = 0.05) -> Tensor:
    """MMPose's ``pose_pck_accuracy(pred, target, keypoint_weights > 0)`` (the training log's ``acc_pose``):
    the heatmap maxima from :func:`heatmap_maximum`, the PCK from MMPose's ``keypoint_pck_accuracy``, with
    its default normalisation by the heatmap size. A 0-d tensor on ``target``'s device."""
    batch, num_kpts, height, width = pred.shape
    if num_kpts == 0:
        return torch.tensor(0, device=target.device)
    pred_locs, _ = heatmap_maximum(pred)
    gt_locs, _ = heatmap_maximum(target)
    normalize = np.tile(np.array([[height, width]]), (batch, 1))
    _, avg_acc, _ = keypoint_pck_accuracy(pred_locs, gt_locs, to_numpy(keypoint_weights) > 0, thr, normalize)
    return torch.tensor(avg_acc, device=target.device)


class SubPixelShuffle(torch.nn.Module):
    """``torch.nn.PixelShuffle(factor)`` written as a reshape and a permute: the same values and gradients.

    ``[B, C·r², H, W]`` -> ``[B, C, H·r, W·r]``, output pixel ``(h·r + i, w·r + j)`` of channel ``c`` being
    input channel ``c·r² + i·r + j`` at ``(h, w)``. Spelled out because torch 2.1's compiler mis-states the
    strides of ``pixel_unshuffle`` (the backward of ``pixel_shuffle``) on the channels-last gradients its
    convolutions produce, and fails its own stride check; views and a permute compile on every torch.

    Args:
        factor (int): the upsampling factor r (>= 2).
    """

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] % self.factor ** 2:
            raise ValueError(f"SubPixelShuffle({self.factor}) needs [B, C, H, W] with C divisible by "
                             f"{self.factor ** 2}, got shape {tuple(x.shape)}")
        b, c, h, w = x.shape
        r = self.factor
        x = x.reshape(b, c // r ** 2, r, r, h, w).permute(0, 1, 4, 2, 5, 3)  # [B, C, H, r, W, r]
        return x.reshape(b, c // r ** 2, h * r, w * r)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


def _shuffled_final_layer(factor, in_channels, kwargs) -> dict:
    """The output layer's arguments when a SubPixelShuffle(factor) precedes it (its input has C / factor² channels)."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
        raise ValueError(f"pixel_shuffle must be an integer >= 2 (the upsampling factor) or None, got {factor!r}")
    final = kwargs.get("final_layer", dict(kernel_size=1))
    if final is None:
        raise ValueError("pixel_shuffle needs the output layer (final_layer is None)")
    channels = (kwargs.get("conv_out_channels") or kwargs.get("deconv_out_channels", (256, 256, 256)) or
                [in_channels if isinstance(in_channels, int) else in_channels[-1]])[-1]
    if channels % factor ** 2:
        raise ValueError(f"pixel_shuffle={factor} needs the channels before it ({channels}) divisible by "
                         f"{factor ** 2}")
    return dict(dict(final), in_channels=channels // factor ** 2)


__all__ = ["KAFHeatmapHead", "SubPixelShuffle", "heatmap_maximum", "heatmap_pck_accuracy"]
