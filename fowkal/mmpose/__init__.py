"""MMPose integration: the FoWKAL losses and the KAF heatmap head in MMPose's registry.

Importing this package registers, in ``mmpose.registry.MODELS``:

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

Tested with mmpose 1.1.0 (mmcv-lite 2.1.0, torch 2.14.1) and mmpose 1.3.2 (full mmcv 2.1.0,
mmdet 3.2.0, torch 2.1.0), both on mmengine 0.10.7 (``make test`` runs both stacks). It relies only on
HeatmapHead's constructor, ``forward`` and the ``gt_fields.heatmaps`` /
``gt_instance_labels.keypoint_weights`` data-sample fields, which are the same in both.

It also registers the hooks of a fowkal training run (:mod:`fowkal.mmpose.hooks`) and faster twins of
three MMPose data-pipeline pieces with identical outputs (:mod:`fowkal.mmpose.data`: ``FastCocoWholeBodyDataset``,
``FastRandomBBoxTransform``, ``FastMSRAHeatmap``), which the CPU profile uses, and ``SeededSampler``, which
seeds every training sample from (seed, epoch, position) so that a resumed run draws the same samples.
"""
from __future__ import annotations

import warnings

import mmpose

from ..losses import METHODS
from . import data, hooks  # noqa: F401  (registers the data pipeline's twins and the hooks)
from .head import KAFHeatmapHead
from .loss import FoWKALLoss

TESTED_MMPOSE = ("1.1.0", "1.3.2")
if not mmpose.__version__.startswith("1."):
    warnings.warn(f"fowkal.mmpose is written for mmpose 1.x (tested {', '.join(TESTED_MMPOSE)}); "
                  f"found {mmpose.__version__}")

__all__ = ["FoWKALLoss", "KAFHeatmapHead", "METHODS", "TESTED_MMPOSE"]
