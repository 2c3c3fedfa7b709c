"""fowkal: Keypoint-wise Adaptive Loss (FoWKAL) for whole-body human pose estimation.

The package is layered; a module may import from its own layer and the layers below it, never above
(``tests/test_layout.py`` checks it, and that no two files import each other in a cycle):

====  ==========================================  ===================================================
 0    ``parts``, ``kaf_head``, ``losses``,         plain-PyTorch core: the 133-keypoint layout, the KAF
      ``jsonfile``                                 head, the losses (torch, numpy)
 1    ``data``                                     the embedded benchmark generator (numpy, OpenCV)
 2    ``mmpose``                                   MMPose adapter: registered loss, head and hooks
 3    ``configs``                                  MMPose configs, one per profile and method
 4    ``runs``                                     options, training, launch, checkpoints, evaluation,
                                                   metrics, run records
 5    ``studies``                                  the paper's numbers, the ablation, its statistics
                                                   (scipy), the KAF study, convergence
 6    ``viz``                                      every drawing function and the book's page helpers
====  ==========================================  ===================================================

``__main__`` modules are command-line entry points above every layer. ``import fowkal`` and
``import fowkal.losses`` load neither MMPose, MMEngine, mmcv nor matplotlib; :func:`train` and
:func:`evaluate` import the run layer when first called.
"""
from . import parts
from .kaf_head import KAFHead
from .losses import METHODS, awing, build_loss, fwahr_weight, wahr_weight

__version__ = "0.1.0"
__all__ = ["parts", "KAFHead", "METHODS", "awing", "build_loss", "fwahr_weight", "wahr_weight",
           "train", "evaluate"]


def train(*args, **kwargs) -> dict:
    """Train one method; see :func:`fowkal.runs.train.train` (imports MMPose on first call)."""
    from .runs.train import train as run_train

    return run_train(*args, **kwargs)


def evaluate(*args, **kwargs) -> dict:
    """Evaluate a checkpoint or run record; see :func:`fowkal.runs.evaluate.evaluate`."""
    from .runs.evaluate import evaluate as run_evaluate

    return run_evaluate(*args, **kwargs)
