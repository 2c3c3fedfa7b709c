"""fowkal: Keypoint-wise Adaptive Loss (FoWKAL) for whole-body human pose estimation.

Plain-PyTorch losses and the KAF head (:mod:`fowkal.losses`), the 133-keypoint layout
(:mod:`fowkal.parts`), an embedded benchmark (:mod:`fowkal.data`), MMPose integration
(:mod:`fowkal.mmpose`), and training/evaluation entry points.
"""
import types

from . import parts
from .kaf_head import KAFHead
from .losses import METHODS, awing, build_loss, fwahr_weight, wahr_weight

__version__ = "0.1.0"
__all__ = ["parts", "KAFHead", "METHODS", "awing", "build_loss", "fwahr_weight", "wahr_weight",
           "train", "evaluate"]

#: Entry points that need MMPose, imported on first use so that ``import fowkal`` stays light.
_LAZY = ("train", "evaluate")


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        function = getattr(import_module(f".{name}", __name__), name)
        globals()[name] = function  # the import bound the submodule to this name; the function wins
        return function
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _EntryPointModule(types.ModuleType):
    """``fowkal.train``/``fowkal.evaluate`` share their name with their module; whichever one the
    package attribute ends up naming (an earlier ``import fowkal.train`` binds the module), calling
    it calls the function."""

    def __call__(self, *args, **kwargs):
        return getattr(self, self.__name__.rpartition(".")[2])(*args, **kwargs)
