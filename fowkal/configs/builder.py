"""Build the MMEngine config of one (method, profile) run, with data paths and run settings as arguments.

The config files are plain MMPose configs (``paper_base.py``, ``cpu_base.py`` and one tiny
``<profile>/<method>.py`` per method that sets only the loss); this module loads one and fills in
what changes from run to run, checking every path before anything is built.
"""
from __future__ import annotations

import math
from pathlib import Path

from .arguments import DEFAULT_FILES, PROFILES, check_arguments, check_choice, default_work_dir
from ..losses import METHODS

CONFIG_DIR = Path(__file__).resolve().parent
#: Where the paper's learning-rate steps fall in its schedule (epochs 170 and 200 of 210).
PAPER_STEPS = (170 / 210, 200 / 210)
#: About how many validations the cpu profile's learning curve has when ``epochs`` is given.
CURVE_POINTS = 6


def config_file(method: str, profile: str = "cpu") -> Path:
    """The MMPose config file of ``method`` in ``profile`` (usable with MMPose's tools/train.py)."""
    check_choice("method", method, METHODS)
    check_choice("profile", profile, PROFILES)
    return CONFIG_DIR / profile / f"{method}.py"


def build_config(method: str, profile: str = "cpu", *, data_root=None, ann_train=None, ann_val=None,
                 det_file=None, gt_boxes: bool = False, img_train=None, img_val=None, work_dir=None,
                 epochs: int | None = None, batch_size: int | None = None, seed: int = 0, gpus: int = 1,
                 pretrained=None, from_scratch: bool = False, val_interval: int | None = None, **overrides):
    """The resolved ``mmengine.Config`` of one training run.

    Args:
        method: one of ``fowkal.losses.METHODS`` (the paper's Table 2 rows a-f and Table 3 rows, and the
            controls ``kal_lambda0``/``kal_lambda1``/``fowkal_lambda0``).
        profile: one of ``PROFILES`` (``fowkal.configs.arguments``): 'paper' (HRNet-w32 + DARK, 256x192,
            210 epochs, 8 GPUs x 32) or 'cpu' (small HRNet, 128x96, a few minutes on 2 cores).
        data_root: dataset folder. Required for 'paper' (COCO-WholeBody); for 'cpu' the embedded
            benchmark ``fowkal.data.default_benchmark()`` (generated on first use).
        ann_train, ann_val, det_file, img_train, img_val: files/folders, relative to ``data_root``
            unless absolute (defaults: ``DEFAULT_FILES[profile]``).
        gt_boxes: evaluate on ground-truth person boxes instead of the detections file.
        work_dir: output folder (default ``work_dirs/<profile>/<method>-seed<seed>``).
        epochs: training epochs (default: the profile's); the LR steps stay at the paper's 81 % and 95 %
            of the schedule (:data:`PAPER_STEPS`).
        batch_size: crops per process (default: the profile's, 32); the LR is scaled linearly by
            the total batch (``auto_scale_lr``).
        val_interval: validate every this many epochs during training (ground-truth boxes, per-part AP:
            the run record's learning curve, ``fowkal.runs.curve``). Default: the profile's; for 'cpu'
            every epoch, and about :data:`CURVE_POINTS` points when ``epochs`` is given.
        seed: random seed. gpus: processes (GPUs) the run is meant for; recorded, and the
            distributed backend is NCCL when CUDA is available, else gloo.
        pretrained: path of a backbone weights file (ImageNet HRNet-w32 for 'paper'). Never downloaded.
        from_scratch: train the backbone from random weights. The 'paper' profile needs either
            ``pretrained`` or ``from_scratch=True`` (the paper starts from ImageNet weights); the 'cpu'
            profile trains from scratch whatever this says, unless ``pretrained`` is given.
        **overrides: dotted config keys merged last, e.g. ``**{'model.head.loss.reg_weight': 0.5}``.

    Raises:
        ValueError/TypeError naming the bad argument (:func:`fowkal.configs.arguments.check_arguments`);
        FileNotFoundError for a missing path.
    """
    from mmengine.config import Config

    check_arguments(method, profile, data_root=data_root, det_file=det_file, gt_boxes=gt_boxes, epochs=epochs,
                    batch_size=batch_size, seed=seed, gpus=gpus, pretrained=pretrained, from_scratch=from_scratch,
                    val_interval=val_interval)
    epochs = None if epochs is None else int(epochs)
    batch_size = None if batch_size is None else int(batch_size)
    gpus = int(gpus)

    root = _data_root(profile, data_root)
    defaults = DEFAULT_FILES[profile]
    paths = dict(
        ann_train=_file(root, ann_train or defaults["ann_train"], "ann_train (training annotations)"),
        ann_val=_file(root, ann_val or defaults["ann_val"], "ann_val (validation annotations)"),
        img_train=_folder(root, defaults["img_train"] if img_train is None else img_train, "img_train"),
        img_val=_folder(root, defaults["img_val"] if img_val is None else img_val, "img_val"),
        det_file=None if gt_boxes else _file(root, det_file or defaults["det_file"],
                                             "det_file (person detections)"),
    )
    weights = None if pretrained is None else Path(pretrained).expanduser().resolve()

    cfg = Config.fromfile(str(config_file(method, profile)))
    _set_data(cfg, root, paths)
    _set_schedule(cfg, profile, epochs, batch_size, None if val_interval is None else int(val_interval))
    if weights is not None:
        cfg.model.backbone.init_cfg = dict(type="Pretrained", checkpoint=str(weights))
    cfg.randomness = dict(seed=int(seed))
    cfg.env_cfg.dist_cfg.backend = "nccl" if _cuda_available() else "gloo"
    cfg.work_dir = str(Path(work_dir or default_work_dir(profile, method, seed)).resolve())
    cfg.fowkal = dict(method=method, profile=profile, seed=int(seed), gpus=gpus, data_root=str(root),
                      gt_boxes=bool(gt_boxes), pretrained=None if weights is None else str(weights),
                      config_file=str(config_file(method, profile)))
    if overrides:
        unknown = sorted({key.split(".")[0] for key in overrides} - set(cfg.keys()))
        if unknown:
            raise ValueError(f"override(s) of unknown config key(s) {unknown}; top-level keys: {sorted(cfg.keys())}")
        cfg.merge_from_dict(overrides)
        _check_loss(cfg)
    return cfg


def _check_loss(cfg) -> None:
    """Build the head's loss once, so a misspelt or invalid loss option fails now, not mid-run."""
    from ..losses import build_loss

    loss = dict(cfg.model.head.get("loss", {}))
    if loss.get("type") != "FoWKALLoss":
        return
    options = {k: v for k, v in loss.items() if k not in ("type", "use_target_weight", "method")}
    try:
        build_loss(loss.get("method", "fowkal"), **options)
    except (TypeError, ValueError) as err:
        raise ValueError(f"invalid loss in the config (model.head.loss = {loss}): {err}") from None


# --------------------------------------------------------------------------- pieces
def _data_root(profile: str, data_root) -> Path:
    """The data root (checked by ``check_arguments``); the cpu profile's default is the embedded benchmark."""
    if data_root is None:
        from ..data import default_benchmark

        return Path(default_benchmark()).resolve()
    return Path(data_root).expanduser().resolve()


def _file(root: Path, path, what: str) -> str:
    full = root / Path(path).expanduser()  # an absolute path replaces the root
    if not full.is_file():
        raise FileNotFoundError(f"{what} not found: {full}")
    return str(full)


def _folder(root: Path, path, what: str) -> str:
    full = root / Path(path).expanduser()
    if not full.is_dir():
        raise FileNotFoundError(f"{what} image folder not found: {full}")
    return str(full) + "/"


def _set_data(cfg, root: Path, paths: dict) -> None:
    for loader, ann, img in (("train_dataloader", "ann_train", "img_train"),
                             ("val_dataloader", "ann_val", "img_val"),
                             ("test_dataloader", "ann_val", "img_val")):
        dataset = cfg[loader].dataset
        dataset.data_root = str(root)
        dataset.ann_file = paths[ann]
        dataset.data_prefix = dict(img=paths[img])
        if loader != "train_dataloader":
            dataset.bbox_file = paths["det_file"]
    for evaluator in ("val_evaluator", "test_evaluator"):
        cfg[evaluator].ann_file = paths["ann_val"]


def _set_schedule(cfg, profile: str, epochs, batch_size, val_interval) -> None:
    if batch_size is not None:
        cfg.train_dataloader.batch_size = batch_size
    if val_interval is not None:
        cfg.train_cfg.val_interval = val_interval
    if epochs is None:
        return
    base = cfg.train_cfg.max_epochs  # the file's schedule length
    cfg.train_cfg.max_epochs = epochs
    if val_interval is None:
        # the cpu profile's curve keeps about CURVE_POINTS points at any length; 'paper' keeps MMPose's 10
        cfg.train_cfg.val_interval = math.ceil(epochs / CURVE_POINTS) if profile == "cpu" \
            else min(cfg.train_cfg.get("val_interval", 1), epochs)
    for scheduler in cfg.param_scheduler:
        if scheduler.get("by_epoch", True) and scheduler.type == "MultiStepLR":
            scheduler.end = epochs
            # the paper's steps (170 and 200 of 210 epochs) at any length: its 3-epoch file says [2, 3]
            fractions = PAPER_STEPS if profile == "cpu" else [m / base for m in scheduler.milestones]
            scheduler.milestones = lr_steps(epochs, fractions)


def lr_steps(epochs: int, fractions=PAPER_STEPS) -> list[int]:
    """The epochs after which the learning rate steps down, at ``fractions`` of a schedule of ``epochs``
    (the paper's 170 and 200 of 210 by default: ``lr_steps(40)`` is ``[32, 38]``)."""
    return [max(1, min(epochs, round(f * epochs))) for f in fractions]


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
