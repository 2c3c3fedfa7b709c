"""Evaluation entry point: ``fowkal.evaluate(...)`` / ``python -m fowkal evaluate``.

A checkpoint (or a run record, which names its checkpoint and config) is scored on a
COCO-WholeBody dataset with ground-truth person boxes or a detections file, by MMPose's own
``CocoWholeBodyMetric`` (flip test, OKS-NMS and rescoring as the config sets them). That metric
returns only the whole-body numbers, so body, foot, face and hand come from
:func:`fowkal.runs.metrics.wholebody_ap` on the results file the metric writes, and the whole-body AP of
the two is checked to agree.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import uuid
from pathlib import Path

from .metrics import format_table, wholebody_ap
from .record import RECORD_NAME

METRIC_PREFIX = "coco-wholebody"  # CocoWholeBodyMetric's default_prefix


# --------------------------------------------------------------------------- config surgery
def _resolve(path, data_root) -> Path:
    """An absolute path; a relative one is taken inside ``data_root`` when it exists there."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    if data_root is not None and (Path(data_root) / path).exists():
        return (Path(data_root) / path).resolve()
    return path.resolve()


def _rebase(path, old_root, new_root) -> Path:
    """The config's ``path`` (inside its own data root) moved into ``new_root``."""
    path = Path(path)
    if not path.is_absolute():
        return new_root / path
    if old_root and path.is_relative_to(old_root):
        return new_root / path.relative_to(old_root)
    return path


def _wholebody_metric(evaluator_cfg) -> dict:
    """The CocoWholeBodyMetric entry of an evaluator config (a dict or a list of dicts)."""
    entries = evaluator_cfg if isinstance(evaluator_cfg, (list, tuple)) else [evaluator_cfg]
    found = [e for e in entries if isinstance(e, dict) and e.get("type") == "CocoWholeBodyMetric"]
    if not found:
        raise ValueError("the config's evaluator has no CocoWholeBodyMetric: cannot score "
                         "COCO-WholeBody parts")
    return copy.deepcopy(dict(found[0]))


def evaluation_cfgs(cfg, *, use_gt_boxes: bool = True, data_root=None, ann_file=None, det_file=None,
                    img_prefix=None, outfile_prefix, batch_size=None,
                    split: str = "test") -> tuple[dict, dict, dict]:
    """Dataloader and evaluator configs that score a model on ``split`` ('test' or 'val').

    ``data_root``, ``ann_file``, ``img_prefix`` (image folder) and ``det_file`` (used only when
    ``use_gt_boxes`` is False) default to the config's; given a new ``data_root``, the config's
    files are looked for at the same places inside it, and a given relative ``ann_file``/``det_file``
    is taken inside it. Every file is checked here, before any work.
    Returns ``(dataloader_cfg, evaluator_cfg, info)``; info holds the absolute paths used.
    """
    loader = cfg.get(f"{split}_dataloader") or cfg.get("val_dataloader")
    evaluator = cfg.get(f"{split}_evaluator") or cfg.get("val_evaluator")
    if not loader or not evaluator:
        raise ValueError(f"the config has no {split}_dataloader/{split}_evaluator (nor val_*)")
    loader = copy.deepcopy(loader.to_dict() if hasattr(loader, "to_dict") else dict(loader))
    dataset = loader["dataset"]
    old_root = dataset.get("data_root") or ""
    given = data_root if data_root is not None else old_root
    root = Path(given).expanduser()
    if not str(given) or not root.is_dir():
        raise FileNotFoundError(f"data root not found: {root if str(given) else '(none given)'}")
    root = root.resolve()
    moved = data_root is not None

    def config_path(path):  # a path from the config, in the data root evaluated on
        return _rebase(path, old_root, root) if moved else _resolve(path, old_root or None)

    ann = _resolve(ann_file, root) if ann_file is not None else config_path(dataset["ann_file"])
    if not ann.is_file():
        raise FileNotFoundError(f"annotation file not found: {ann}")
    images = root / img_prefix if img_prefix is not None \
        else config_path(dataset.get("data_prefix", {}).get("img", ""))
    if not images.is_dir():
        raise FileNotFoundError(f"image folder not found: {images}")
    det = None
    if not use_gt_boxes:
        if det_file is not None:
            det = _resolve(det_file, root)
        elif dataset.get("bbox_file"):
            det = config_path(dataset["bbox_file"])
        else:
            raise ValueError("use_gt_boxes=False needs a detections file (det_file), and the "
                             "config names none")
        if not det.is_file():
            raise FileNotFoundError(f"detections file not found: {det}")
    dataset.update(data_root=str(root), ann_file=str(ann), data_prefix=dict(img=f"{images}/"),
                   bbox_file=str(det) if det else None, test_mode=True)
    if batch_size is not None:
        loader["batch_size"] = batch_size
    metric = _wholebody_metric(evaluator)
    metric.update(ann_file=str(ann), outfile_prefix=str(outfile_prefix))
    info = {"data_root": str(root), "ann_file": str(ann), "det_file": str(det) if det else None,
            "boxes": "ground truth" if use_gt_boxes else "detections"}
    return loader, metric, info


def part_metrics(ann_file, results_file, mmpose_metrics: dict | None = None) -> dict:
    """Per-part AP/AR of a results file, checked against the whole-body AP MMPose reported."""
    metrics = wholebody_ap(ann_file, results_file)
    reported = (mmpose_metrics or {}).get(f"{METRIC_PREFIX}/AP")
    if reported is not None and not math.isclose(reported, metrics["wholebody"]["AP"], abs_tol=1e-9):
        raise RuntimeError(f"whole-body AP disagrees: CocoWholeBodyMetric {reported} vs "
                           f"wholebody_ap {metrics['wholebody']['AP']} on {results_file}")
    return metrics


def run_test_loop(runner, loader_cfg: dict, metric_cfg: dict, *, quiet: bool = True) -> dict:
    """Score ``runner``'s current model (all processes take part; rank 0 gets the numbers)."""
    from mmengine.runner import TestLoop

    loop = TestLoop(runner, loader_cfg, metric_cfg)
    # xtcocotools prints its tables with print(); MMEngine's own log lines are unaffected
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        return dict(loop.run())


# --------------------------------------------------------------------------- entry point
def _find_inputs(source, config):
    """(checkpoint path, config path or None) from a checkpoint, a run record or a run's folder."""
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / RECORD_NAME
    if not path.exists():
        raise FileNotFoundError(f"checkpoint or run record not found: {path}")
    if path.suffix == ".json":
        from .record import load

        files = load(path)["files"]
        checkpoint = files.get("last_checkpoint")
        if not checkpoint or not Path(checkpoint).is_file():
            raise FileNotFoundError(f"run record {path} names checkpoint {checkpoint}, which is "
                                    f"not there (records copied without checkpoints cannot be "
                                    f"re-evaluated)")
        return Path(checkpoint), Path(config or files["config"])
    if config is None and (path.parent / "config.py").is_file():
        config = path.parent / "config.py"  # the resolved config fowkal.train writes
    return path, (Path(config) if config is not None else None)


def _load_config(checkpoint: Path, config: Path | None):
    from mmengine.config import Config

    if config is not None:
        if not config.is_file():
            raise FileNotFoundError(f"config not found: {config}")
        return Config.fromfile(str(config))
    from .checkpoints import trusted_checkpoints

    with trusted_checkpoints(checkpoint.parent):
        from mmengine.runner.checkpoint import _load_checkpoint

        meta = _load_checkpoint(str(checkpoint), map_location="cpu").get("meta", {})
    if "cfg" not in meta:
        raise ValueError(f"{checkpoint} holds no config; pass config=")
    return Config.fromstring(meta["cfg"], file_format=".py")


def evaluate(checkpoint_or_run_record, *, data_root=None, ann_file=None, det_file=None,
             use_gt_boxes: bool = True, img_prefix=None, config=None, work_dir=None,
             batch_size=None, quiet: bool = False, details: bool = False) -> dict:
    """Score a trained model on a COCO-WholeBody dataset; returns and prints per-part AP/AR.

    Args:
        checkpoint_or_run_record: an MMEngine checkpoint (``.pth``), a run record (``.json``) or a
            run's work dir (holding ``run_record.json``).
        data_root, ann_file: the dataset (default: the config's test split). A relative
            ``ann_file`` or ``det_file`` is looked up inside ``data_root`` first; given only a
            new ``data_root``, the config's files are looked for at the same places inside it.
        det_file: person detections (COCO results format); used when ``use_gt_boxes`` is False
            (default: the config's ``bbox_file``).
        use_gt_boxes: crop people at their ground-truth boxes (True) or at the detections.
        img_prefix: image folder inside ``data_root`` ('' = the data root itself).
        config: the config the checkpoint was trained with (default: the run's ``config.py``
            next to the checkpoint, else the copy inside the checkpoint).
        work_dir: where the results file and logs go (default: ``eval/`` beside the checkpoint).
        batch_size: evaluation batch size (default: the config's).
        quiet: do not print the table.
        details: return ``{'metrics', 'results_file', 'ann_file', 'image_dir', 'boxes'}`` instead
            of the metrics alone (for drawing the predictions).

    Returns:
        ``{part: {'AP', 'AR', ...}}`` for body, foot, face, lefthand, righthand, hand (the mean of
        the two hands) and wholebody, as :func:`fowkal.runs.metrics.wholebody_ap` returns them.
    """
    if det_file is not None and use_gt_boxes:
        raise ValueError("det_file is given but use_gt_boxes=True: pass use_gt_boxes=False to "
                         "evaluate on the detections")
    checkpoint, config_path = _find_inputs(checkpoint_or_run_record, config)
    cfg = _load_config(checkpoint, config_path)
    work_dir = Path(work_dir) if work_dir is not None else checkpoint.parent / "eval"
    prefix = work_dir / f"{checkpoint.stem}_{'gt' if use_gt_boxes else 'det'}"
    loader, metric, info = evaluation_cfgs(cfg, use_gt_boxes=use_gt_boxes, data_root=data_root,
                                           ann_file=ann_file, det_file=det_file,
                                           img_prefix=img_prefix, outfile_prefix=prefix,
                                           batch_size=batch_size)
    from mmengine.runner import Runner
    from mmengine.utils import import_modules_from_strings

    from .checkpoints import trusted_checkpoints

    if cfg.get("custom_imports"):
        import_modules_from_strings(**cfg.custom_imports)
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg.work_dir, cfg.load_from, cfg.resume, cfg.launcher = str(work_dir), str(checkpoint), False, "none"
    cfg.test_dataloader, cfg.test_evaluator = loader, metric
    cfg.test_cfg = cfg.get("test_cfg") or {}
    cfg.experiment_name = f"eval-{uuid.uuid4().hex[:8]}"  # own logger/visualizer instances
    if isinstance(cfg.get("visualizer"), dict):
        cfg.visualizer.pop("name", None)
    runner = Runner.from_cfg(cfg)
    # xtcocotools prints its tables with print(); MMEngine's log lines are unaffected
    with trusted_checkpoints(checkpoint.parent), contextlib.redirect_stdout(io.StringIO()):
        reported = runner.test()
    metrics = part_metrics(info["ann_file"], f"{prefix}.keypoints.json", reported)
    if not quiet:
        print(f"{checkpoint} on {info['ann_file']} ({info['boxes']} boxes):")
        print(format_table(metrics))
    if details:
        image_dir = Path(info["data_root"]) / (loader["dataset"].get("data_prefix") or {}).get("img", "")
        return {"metrics": metrics, "results_file": f"{prefix}.keypoints.json", "ann_file": info["ann_file"],
                "image_dir": str(image_dir), "boxes": info["boxes"]}
    return metrics


# `import fowkal.evaluate` binds this module to the name fowkal.evaluate: make it call evaluate() too
