"""MMPose configs of the paper and CPU profiles, one per method, and a builder.

    from fowkal.configs import build_config
    cfg = build_config("fowkal", "cpu", epochs=2, seed=1)       # an mmengine.Config
    cfg = build_config("mse", "paper", data_root="data/coco", gpus=8)

Files: ``paper_base.py`` (inherits MMPose's HRNet-w32 DARK COCO-WholeBody config),
``cpu_base.py`` (inherits ``paper_base.py``), and ``<profile>/<method>.py``, which set only the loss.
``arguments.py`` defines the profiles and the checks of ``build_config``'s arguments, once.
"""
from ..losses import METHODS
from .arguments import DEFAULT_FILES, PROFILES, check_arguments
from .builder import CONFIG_DIR, build_config, config_file

__all__ = ["CONFIG_DIR", "DEFAULT_FILES", "METHODS", "PROFILES", "build_config", "check_arguments", "config_file"]
