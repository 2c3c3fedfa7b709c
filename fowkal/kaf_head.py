"""The Keypoint-wise Adaptive Factor (KAF) head: features -> λ in (0, 1) per sample and keypoint.

The paper gives no detail beyond "the output of added head network" (Fig. 2); the default is the
design of §5.3 of ``book/loss_decisions.md``: global average pooling of the backbone's last feature map -> Linear -> sigmoid,
initialised so that λ = ``lambda_init`` everywhere at the start.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .parts import NUM_KEYPOINTS

LAMBDA_SOURCES = ("head", "global")


class KAFHead(nn.Module):
    """Predict the KAF λ ``[B, K]`` in (0, 1) from features ``[B, C, H, W]``.

    Args:
        in_channels: C, channels of the feature map (32 for HRNet-w32's high-resolution branch).
        num_keypoints: K (133).
        hidden: width of an optional hidden layer (Linear-ReLU-Linear); None = one Linear (default).
        lambda_init: λ at initialisation (0.5): the last layer starts at weight 0, bias logit(λ0).
        detach_features: stop λ's gradient from reaching the backbone (default False, as the paper).
        source: 'head' (per-sample, from features; default) or 'global' (K learnable logits shared by
            all samples; the features only give the batch size).
    """

    def __init__(self, in_channels: int, num_keypoints: int = NUM_KEYPOINTS, *, hidden: int | None = None,
                 lambda_init: float = 0.5, detach_features: bool = False, source: str = "head"):
        super().__init__()
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
        if not isinstance(num_keypoints, int) or num_keypoints <= 0:
            raise ValueError(f"num_keypoints must be a positive int, got {num_keypoints!r}")
        if not 0.0 < lambda_init < 1.0:
            raise ValueError(f"lambda_init must lie in (0, 1), got {lambda_init}")
        if source not in LAMBDA_SOURCES:
            raise ValueError(f"unknown KAF source {source!r}; valid: {', '.join(LAMBDA_SOURCES)}")
        self.in_channels, self.num_keypoints = in_channels, num_keypoints
        self.detach_features, self.source = detach_features, source
        init_logit = math.log(lambda_init / (1.0 - lambda_init))
        if source == "global":
            self.logits = nn.Parameter(torch.full((num_keypoints,), init_logit))
            return
        layers: list[nn.Module] = []
        width = in_channels
        if hidden:
            layers += [nn.Linear(in_channels, hidden), nn.ReLU(inplace=True)]
            width = hidden
        last = nn.Linear(width, num_keypoints)
        nn.init.zeros_(last.weight)
        nn.init.constant_(last.bias, init_logit)
        self.mlp = nn.Sequential(*layers, last)

    def forward(self, features: Tensor) -> Tensor:
        if not isinstance(features, Tensor) or features.dim() != 4:
            shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
            raise ValueError(f"KAFHead expects features [B, C, H, W], got {shape}")
        if self.source == "global":
            return torch.sigmoid(self.logits).unsqueeze(0).expand(features.shape[0], -1)
        if features.shape[1] != self.in_channels:
            raise ValueError(f"KAFHead built for {self.in_channels} channels, got {features.shape[1]}")
        if self.detach_features:
            features = features.detach()
        pooled = features.mean(dim=(2, 3))
        return torch.sigmoid(self.mlp(pooled.to(self.mlp[-1].weight.dtype)))
