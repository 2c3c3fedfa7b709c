"""COCO-WholeBody evaluation of a results list, without a model.

``wholebody_ap`` scores predictions in the official COCO-WholeBody results format the way the
dataset's own evaluation and MMPose 1.1.0's ``CocoWholeBodyMetric._do_python_keypoint_eval``
do: one xtcocotools ``COCOeval`` per part (``keypoints_body``, ..., ``keypoints_wholebody``)
with that part's OKS sigmas and ``use_area=True``. Hand AP is the mean of left- and right-hand
AP, as the dataset's authors report it.

OKS tolerances: COCO's OKS divides squared distances by the person's ``area``, so a keypoint's
tolerance grows with sqrt(area). The embedded benchmark stores ``area`` = silhouette area x
``area_scale`` (its parameter, 4 by default: tolerances x2; COCO's own definition is 1; the
annotation file's ``info.params`` records it). ``wholebody_ap(..., area_scale=s)`` scores at
the tolerance of area_scale ``s`` by rescaling the ground-truth areas in memory, and
``ap_at_tolerances`` scores the same results at several (``TOLERANCE_SCALES``). Rescaled areas
also move people between COCO's medium and large ranges: ``AP (M)``/``AP (L)`` follow the scale.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import numbers
import os
import warnings
from pathlib import Path

import numpy as np

from ..parts import ANNOTATION_FIELDS, EVAL_PARTS, SIGMAS

#: COCO keypoint stats in ``COCOeval.stats`` order, named as MMPose names them.
STAT_NAMES = (
    "AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)",
)
#: Order of the returned dict; ``hand`` is derived from the two hands.
RESULT_KEYS = ("body", "foot", "face", "lefthand", "righthand", "hand", "wholebody")
#: The per-part score a result may carry (xtcocotools falls back to ``score`` without it).
PART_SCORE_FIELDS = ("foot_score", "face_score", "lefthand_score", "righthand_score", "wholebody_score")
#: The OKS area scales ``ap_at_tolerances`` scores at by default: COCO's own (1) to tolerance x4 (16,
#: the embedded benchmark's default), in steps of sqrt(2) in tolerance. ~0.5 s each on the benchmark.
TOLERANCE_SCALES = (1.0, 2.0, 4.0, 8.0, 16.0)
#: The generator whose annotation files record their ``area_scale`` (``info.params.area_scale``).
BENCHMARK_GENERATOR = "fowkal.data"


def wholebody_ap(ann_file, results, *, use_area: bool = True, verbose: bool = False,
                 area_scale=None) -> dict:
    """Score COCO-WholeBody ``results`` (a list of dicts or a results JSON path) against ``ann_file``.

    Returns ``{part: {stat: value}}`` for the parts in ``RESULT_KEYS`` and the stats in
    ``STAT_NAMES`` (-1 where COCO leaves a stat undefined, e.g. no medium-size person).
    xtcocotools' progress output is swallowed unless ``verbose``.

    ``area_scale``: score at the OKS tolerance of this area scale (COCO's own: 1; tolerances grow
    with its square root) by rescaling the ground-truth areas from the file's own scale
    (:func:`annotation_area_scale`); None (default) scores the areas as they are.
    """
    ann_path = Path(ann_file)
    if area_scale is not None:
        area_scale = _check_scale(area_scale, "area_scale")
        if not use_area:
            raise ValueError("area_scale rescales the annotations' 'area', which use_area=False does not use")
    results = _load_results(results)
    ann = _load_annotations(ann_path, results, use_area)
    if area_scale is not None:
        ann = _rescaled(ann, area_scale / annotation_area_scale(ann))
    return _score(ann_path, ann, results, use_area, verbose)


def ap_at_tolerances(ann_file, results, scales=TOLERANCE_SCALES, *, verbose: bool = False) -> dict:
    """The same ``results`` scored at several OKS area scales: ``{"1": wholebody_ap(...), "4": ...}``.

    ``scales``: area scales (COCO's own tolerance: 1; the benchmark's areas carry 16 by default);
    the keys are the scales written with ``:g``. The annotation file and the results are read once.
    """
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__"):
        raise TypeError(f"scales must be a sequence of positive numbers, got {scales!r}")
    scales = [_check_scale(s, "scales") for s in scales]
    if not scales:
        raise ValueError("scales is empty: give at least one area scale (COCO's own: 1)")
    keys = [f"{s:g}" for s in scales]
    if len(set(keys)) != len(keys):
        raise ValueError(f"scales repeat a value: {keys}")
    ann_path = Path(ann_file)
    results = _load_results(results)
    ann = _load_annotations(ann_path, results, True)
    own = annotation_area_scale(ann)
    # xtcocotools edits the results it is given: each scale gets its own copy
    return {key: _score(ann_path, _rescaled(ann, s / own), copy.deepcopy(results), True, verbose)
            for key, s in zip(keys, scales)}


def annotation_area_scale(ann) -> float:
    """The area scale of the ``area`` values of an annotation dict or file: the embedded benchmark's
    parameter (``info.params.area_scale`` of a ``fowkal.data`` file), else 1 (COCO's own definition)."""
    if isinstance(ann, (str, os.PathLike)):
        ann = _load_json(Path(ann), "annotation file")
    info = ann.get("info") if isinstance(ann, dict) else None
    if not isinstance(info, dict) or info.get("generator") != BENCHMARK_GENERATOR:
        return 1.0
    params = info.get("params")
    if not isinstance(params, dict) or "area_scale" not in params:
        raise ValueError(f"annotations made by {BENCHMARK_GENERATOR} without info.params.area_scale: "
                         f"cannot tell their OKS scale")
    return _check_scale(params["area_scale"], "the annotation file's info.params.area_scale")


def _check_scale(value, name: str) -> float:
    if not _is_finite_number(value) or value <= 0:
        raise ValueError(f"{name}: an area scale must be a finite number > 0 (COCO's own: 1), got {value!r}")
    return float(value)


def _rescaled(ann: dict, factor: float) -> dict:
    """A copy of ``ann`` whose annotations' areas are multiplied by ``factor``: new annotation dicts, as
    COCOeval writes into the ground truth it scores (the input is left as is)."""
    return dict(ann, annotations=[dict(a, area=a["area"] * factor) for a in ann["annotations"]])


def _load_annotations(ann_path: Path, results: list, use_area: bool) -> dict:
    ann = _load_json(ann_path, "annotation file")
    _check_annotations(ann, ann_path, use_area)
    unknown = sorted({r["image_id"] for r in results} - {img["id"] for img in ann["images"]})
    if unknown:
        raise ValueError(
            f"{len(unknown)} image id(s) in the results are not in {ann_path}: {unknown[:10]}"
        )
    return ann


def _score(ann_path: Path, ann: dict, results: list, use_area: bool, verbose: bool) -> dict:
    from xtcocotools.coco import COCO  # imported late: slow (matplotlib), and bad input fails first

    sigmas = np.asarray(SIGMAS, dtype=float)  # an array: COCOeval computes (sigmas * 2) ** 2
    stats = {}
    out = io.StringIO()
    with contextlib.ExitStack() as quiet:
        if not verbose:
            quiet.enter_context(contextlib.redirect_stdout(out))
            quiet.enter_context(warnings.catch_warnings())
            # the fallback to 'score' for missing part scores is the documented behaviour
            warnings.filterwarnings("ignore", message=".* not found, use 'score' instead")
        coco_gt = COCO(str(ann_path), ann_data=ann)
        coco_dt = coco_gt.loadRes(results)
        for part, idx in {**EVAL_PARTS, "wholebody": None}.items():
            part_sigmas = sigmas if idx is None else sigmas[list(idx)]
            stats[part] = _evaluate(coco_gt, coco_dt, f"keypoints_{part}", part_sigmas, use_area)

    stats["hand"] = [_mean_defined(a, b) for a, b in zip(stats["lefthand"], stats["righthand"])]
    return {key: dict(zip(STAT_NAMES, map(float, stats[key]))) for key in RESULT_KEYS}


def _evaluate(coco_gt, coco_dt, iou_type, sigmas, use_area):
    from xtcocotools.cocoeval import COCOeval

    coco_eval = COCOeval(coco_gt, coco_dt, iou_type, sigmas, use_area=use_area)
    coco_eval.params.useSegm = None
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats


def _mean_defined(left: float, right: float) -> float:
    """Mean of the defined (!= -1) values; -1 if neither hand defines the stat."""
    defined = [v for v in (left, right) if v != -1]
    return float(np.mean(defined)) if defined else -1.0


def format_table(metrics: dict) -> str:
    """Markdown table of body, foot, face, hand and whole-body AP and AR."""
    rows = [("body", "body"), ("foot", "foot"), ("face", "face"), ("hand", "hand"),
            ("wholebody", "whole-body")]
    lines = ["| part | AP | AR |", "|---|---:|---:|"]
    lines += [f"| {label} | {metrics[key]['AP']:.3f} | {metrics[key]['AR']:.3f} |"
              for key, label in rows]
    return "\n".join(lines)


def _load_json(path: Path, what: str):
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} {path} is not valid JSON: {err}") from None


def _load_results(results) -> list[dict]:
    """The results as a fresh list (xtcocotools edits them in place), checked field by field."""
    if isinstance(results, (str, os.PathLike)):
        results = _load_json(Path(results), "results file")
    if not isinstance(results, (list, tuple)):
        raise TypeError(
            f"results must be a list of dicts (COCO-WholeBody results format) or a path, "
            f"got {type(results).__name__}"
        )
    if len(results) == 0:
        raise ValueError("results are empty: nothing to evaluate")
    for i, res in enumerate(results):
        _check_result(i, res)
    return copy.deepcopy(list(results))


def _check_result(i: int, res) -> None:
    if not isinstance(res, dict):
        raise TypeError(f"result {i} is a {type(res).__name__}, expected a dict")
    required = ("image_id", "category_id", "score", *ANNOTATION_FIELDS)
    missing = [field for field in required if field not in res]
    if missing:
        raise ValueError(f"result {i} lacks field(s) {missing}")
    _check_keypoints(f"result {i}", res)
    for field in ("score", *PART_SCORE_FIELDS):
        if field in res and not _is_finite_number(res[field]):
            raise ValueError(f"result {i}: {field!r} is {res[field]!r}, expected a finite number")


def _check_keypoints(where: str, item: dict) -> None:
    for field, idx in ANNOTATION_FIELDS.items():
        values = item[field]
        if not isinstance(values, (list, tuple)) or len(values) != 3 * len(idx):
            count = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
            raise ValueError(
                f"{where}: {field!r} has {count} values, expected {3 * len(idx)} "
                f"({len(idx)} keypoints x (x, y, score))"
            )
        try:
            finite = np.isfinite(np.asarray(values, dtype=float)).all()
        except (TypeError, ValueError):
            finite = False
        if not finite:
            raise ValueError(f"{where}: {field!r} holds NaN, inf or a non-number")


def _is_finite_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_annotations(ann, path: Path, use_area: bool) -> None:
    if not isinstance(ann, dict) or not {"images", "annotations", "categories"} <= ann.keys():
        raise ValueError(f"{path} is not a COCO annotation file (needs images, annotations, categories)")
    for ann_ in ann["annotations"]:
        where = f"{path} annotation {ann_.get('id')}"
        missing = [field for field in ANNOTATION_FIELDS if field not in ann_]
        if missing:
            raise ValueError(f"{where} lacks {missing}: not a COCO-WholeBody annotation file")
        _check_keypoints(where, ann_)
        if use_area and "area" not in ann_:
            raise ValueError(f"{where} has no 'area'; pass use_area=False to use the box instead")
