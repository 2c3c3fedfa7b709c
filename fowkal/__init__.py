"""fowkal: Keypoint-wise Adaptive Loss (FoWKAL) for whole-body human pose estimation.

Plain-PyTorch losses and the KAF head (:mod:`fowkal.losses`), the 133-keypoint layout
(:mod:`fowkal.parts`), an embedded benchmark (:mod:`fowkal.data`), MMPose integration
(:mod:`fowkal.mmpose`), and training/evaluation entry points.
"""
from . import parts
from .kaf_head import KAFHead
from .losses import METHODS, awing, build_loss, fwahr_weight, wahr_weight

__version__ = "0.1.0"
__all__ = ["parts", "KAFHead", "METHODS", "awing", "build_loss", "fwahr_weight", "wahr_weight"]
