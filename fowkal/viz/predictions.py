"""The predictions and KAF page's figures from run records: Fig. 4 (the baseline and FoWKAL on the same
images, and close-ups of one person), each part's mean λ over training, and the per-keypoint λ explorer.

Every function takes the records it draws from; a figure that cannot be drawn says why
(:class:`Missing`: a title and a sentence, which the page shows in a box).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import parts
from ..losses import KAL_METHODS
from ..runs.logs import kaf_log, kaf_part_means
from . import figures, style

#: The explorer's parts: every keypoint, or one part.
EXPLORER_PARTS = ("all", *parts.PARTS)
#: The explorer's largest number of frames (about 10 kB each): more runs show one seed per method.
MAX_FRAMES = 240


@dataclass(frozen=True)
class Missing:
    """Why a figure is not drawn: ``title`` and ``text`` (Markdown)."""

    title: str
    text: str


@dataclass
class Fig4Inputs:
    """What Fig. 4 draws: the MSE and FoWKAL records of one ``seed`` (``pair``), the benchmark ``root``
    (``note``: a warning when its images differ from the runs'), the images' ids, pixels and file names, and
    per image the ground-truth poses (``gt``: [133, 2] arrays) and their labelled keypoints (``gt_visible``)."""

    pair: list
    seed: int
    root: Path
    note: str | None
    image_ids: list
    images: list
    gt: list
    gt_visible: list
    files: dict
    val: dict


def by_method(records: list[dict], method: str) -> list[dict]:
    """The records of ``method``, by seed."""
    return sorted((r for r in records if r["method"] == method), key=lambda r: r["seed"])


def poses_by_image(predictions: list[dict], image_ids: list) -> list[list[np.ndarray]]:
    """Per image of ``image_ids``: the predicted poses ([133, 2] arrays) of a record's ``predictions``."""
    out = {i: [] for i in image_ids}
    for p in predictions:
        if p["image_id"] in out:
            out[p["image_id"]].append(np.asarray(p["keypoints"], dtype=float))
    return [out[i] for i in image_ids]


def fig4_inputs(records: list[dict]) -> Fig4Inputs | Missing:
    """Fig. 4's inputs from the MSE and FoWKAL records of their lowest common seed, or why there are none."""
    import cv2

    from ..data import VAL_ANN
    from ..runs.runconfig import evaluated_benchmark

    mse, fowkal = by_method(records, "mse"), by_method(records, "fowkal")
    if not mse or not fowkal:
        absent = [m for m, rs in (("mse", mse), ("fowkal", fowkal)) if not rs]
        return Missing("Fig. 4 not drawn", f"No run record of {' or '.join(absent)}.")
    seeds = sorted({r["seed"] for r in mse} & {r["seed"] for r in fowkal})
    if not seeds:
        return Missing("Fig. 4 not drawn", "The MSE and FoWKAL records share no seed.")
    pair = [next(r for r in rs if r["seed"] == seeds[0]) for rs in (mse, fowkal)]
    if not all(r.get("predictions") for r in pair):
        return Missing("Fig. 4 not drawn", "A record keeps no predictions.")
    root, note = evaluated_benchmark(pair[0])
    val = json.loads((root / VAL_ANN).read_text())
    files = {image["id"]: image["file_name"] for image in val["images"]}
    image_ids = sorted({p["image_id"] for p in pair[0]["predictions"]})
    unknown = [i for i in image_ids if i not in files]
    if unknown:
        return Missing("Fig. 4 not drawn", f"Images {unknown} of the records are not in `{root.name}`: the "
                                           "benchmark changed since the runs.")
    gt, gt_visible = [], []
    for image_id in image_ids:
        people = [figures.annotation_keypoints(a) for a in val["annotations"]
                  if a["image_id"] == image_id and a["num_keypoints"] > 0]
        gt.append([xy for xy, _ in people])
        gt_visible.append([labelled for _, labelled in people])
    images = [cv2.imread(str(root / "images" / "val" / files[i]))[..., ::-1] for i in image_ids]
    return Fig4Inputs(pair=pair, seed=seeds[0], root=root, note=note, image_ids=image_ids, images=images, gt=gt,
                      gt_visible=gt_visible, files=files, val=val)


def fig4_figure(inputs: Fig4Inputs):
    """Fig. 4: rows ground truth, MSE and FoWKAL; columns the images."""
    mse_run, fowkal_run = inputs.pair
    rows = {"ground truth": inputs.gt,
            "MSE (a)": poses_by_image(mse_run["predictions"], inputs.image_ids),
            "FoWKAL (f)": poses_by_image(fowkal_run["predictions"], inputs.image_ids)}
    titles = [f"{inputs.files[i]}: {len(p)} people" for i, p in zip(inputs.image_ids, inputs.gt)]
    return figures.fig4_predictions(inputs.images, rows, titles=titles, visible_rows={"ground truth": inputs.gt_visible})


def closest_pose(poses: list[np.ndarray], target: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """The predicted pose that belongs to a ground-truth person (smallest median distance)."""
    return min(poses, key=lambda xy: np.median(np.hypot(*(xy[labelled] - target[labelled]).T)))


def region(xy: np.ndarray, labelled: np.ndarray, idx, fallback_box) -> tuple:
    """The box (x, y, w, h) around a part's labelled keypoints (at least 4 px a side), else ``fallback_box``."""
    pts = xy[[k for k in idx if labelled[k]]]
    if len(pts) >= 2:
        lo, hi = pts.min(0), pts.max(0)
        return (lo[0], lo[1], max(hi[0] - lo[0], 4), max(hi[1] - lo[1], 4))
    return tuple(fallback_box)


def closeups_figure(inputs: Fig4Inputs):
    """Face, both hands and the feet of the person with the most labelled keypoints, each part alone: the
    ground truth and the pose each run predicted for that person."""
    c, p = max(((c, p) for c in range(len(inputs.image_ids)) for p in range(len(inputs.gt[c]))),
               key=lambda cp: inputs.gt_visible[cp[0]][cp[1]].sum())
    target, labelled = inputs.gt[c][p], inputs.gt_visible[c][p]
    picked = {"ground truth": target}
    for label, run in zip(("MSE (a)", "FoWKAL (f)"), inputs.pair):
        picked[label] = closest_pose(poses_by_image(run["predictions"], inputs.image_ids)[c], target, labelled)
    ann = [a for a in inputs.val["annotations"] if a["image_id"] == inputs.image_ids[c] and a["num_keypoints"] > 0][p]
    regions = [("face", parts.FACE, ann["face_box"], ["face"]),
               ("right hand", parts.RIGHT_HAND, ann["righthand_box"], ["hand"]),
               ("left hand", parts.LEFT_HAND, ann["lefthand_box"], ["hand"]),
               ("feet", parts.FOOT, ann["bbox"], ["body", "foot"])]
    boxes = [region(target, labelled, idx, box) for _, idx, box, _ in regions]
    return figures.fig4_closeups({"image": [inputs.images[c]] * len(regions)},
                                 {label: [pose] * len(regions) for label, pose in picked.items()}, boxes,
                                 column_titles=[name for name, _, _, _ in regions],
                                 column_parts=[shown for _, _, _, shown in regions],
                                 visible_rows={"ground truth": [labelled] * len(regions)})


def kal_runs(records: list[dict]) -> list[dict]:
    """The KAL-family records with a KAF log, by method (in ``KAL_METHODS``' order) and seed."""
    return [r for m in KAL_METHODS for r in by_method(records, m) if r["files"].get("kaf_log")]


def part_curves(runs: list[dict]):
    """The mean λ of each part over training, one panel per KAL-family method, one line per seed."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    methods = [m for m in KAL_METHODS if any(r["method"] == m for r in runs)]
    fig, axes = plt.subplots(1, len(methods), figsize=(style.TEXT_WIDTH_IN, 2.8), sharey=True, squeeze=False)
    lowest = 1.0
    for ax, method in zip(axes[0], methods):
        for n, r in enumerate(r for r in runs if r["method"] == method):
            for part, (its, values) in kaf_part_means(figures.check_kaf_entries(kaf_log(r))).items():
                lowest = min(lowest, *values)
                ax.plot(its, values, color=style.PART_COLORS[part], lw=1.2, alpha=0.85,
                        label=part if n == 0 else None)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("iteration")
    if 0 < lowest < 0.01:  # λ collapsed by decades: a log axis shows how far
        axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylabel("mean λ of the part")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=8)
    return fig


def _run_label(r: dict) -> str:
    return f"{r['method']} s{r['seed']}"


def _norm(values: np.ndarray):
    """A run's colour scale: its logged range, on a log scale when λ spans more than two decades."""
    from matplotlib.colors import LogNorm, Normalize

    lo, hi = float(values.min()), float(values.max())
    if lo > 0 and hi / lo > 100:
        return LogNorm(lo / 1.5, min(1.0, hi * 1.5))
    pad = max(1e-6, 0.05 * (hi - lo))
    return Normalize(max(0.0, lo - pad), min(1.0, hi + pad))


def kaf_explorer(runs: list[dict]):
    """The per-keypoint λ explorer over ``runs`` (KAL-family records): run, part and logged point (the first
    batch, then every epoch). Every KAL-family run when the frames stay few (:data:`MAX_FRAMES`), else the
    lowest seed of each method. Returns ``(widget, shown)``, ``shown`` the runs it offers."""
    from . import widgets

    logs = {id(r): figures.check_kaf_entries(kaf_log(r)) for r in runs}
    points = max(len([e for e in log if e["kind"] == "epoch"]) + 1 for log in logs.values())
    shown = runs
    if len(runs) * points * len(EXPLORER_PARTS) > MAX_FRAMES:
        shown = [next(r for r in runs if r["method"] == m) for m in dict.fromkeys(r["method"] for r in runs)]
    steps = {}  # run label -> its entries: the first batch, then every epoch
    for r in shown:
        log = logs[id(r)]
        steps[_run_label(r)] = [log[0]] + [e for e in log if e["kind"] == "epoch" and e is not log[0]]
    norms = {label: _norm(np.array([e["mean"] for e in chosen])) for label, chosen in steps.items()}
    labels = list(steps)
    first = steps[labels[0]]
    n_points = max(len(c) for c in steps.values())
    point_labels = ["start" if i == 0 else f"epoch {first[i]['epoch']}" if i < len(first) else f"point {i}"
                    for i in range(n_points)]

    def render(run_name, part, point_label):
        chosen = steps[run_name]
        entry = chosen[min(point_labels.index(point_label), len(chosen) - 1)]
        return figures.kaf_frame(entry, part, norm=norms[run_name],
                                 title=f"{run_name}: {figures.kaf_label(entry)}; part: {part}")

    widget = widgets.frame_explorer(
        [("run", labels, "toggle"), ("part", list(EXPLORER_PARTS), "toggle"), ("logged point", point_labels, "slider")],
        render, initial=[next((lab for lab in labels if lab.startswith("fowkal ")), labels[0]), "all", point_labels[-1]])
    return widget, shown


__all__ = ["Missing", "Fig4Inputs", "EXPLORER_PARTS", "MAX_FRAMES", "by_method", "poses_by_image", "fig4_inputs",
           "fig4_figure", "closest_pose", "region", "closeups_figure", "kal_runs", "part_curves", "kaf_explorer"]
