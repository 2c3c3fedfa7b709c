"""The book's result figures, reusable outside it: the whole-body skeleton, Fig. 1 (ground-truth
heatmaps of dense and coarse keypoints), Fig. 4 (predictions of two runs on the same images) and
Fig. 5 (the KAF λ over training).

Every function takes plain data (images, keypoint arrays, KAF log entries as written by
:mod:`fowkal.mmpose.hooks`) and returns a matplotlib figure; none reads files or trains. Colours are the
book's (:data:`fowkal.viz.style.PART_COLORS`); call :func:`fowkal.viz.style.use_style` first.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from ..data.topdown import annotation_keypoints, heatmap_scale, nearest_neighbour_distances  # noqa: F401 (pages use them here)
from ..parts import (BODY, FACE, FACE_REGIONS, FOOT, HAND_BONES, LEFT_HAND, NUM_KEYPOINTS, PARTS, RIGHT_HAND,
                     SKELETON)
from .style import PART_COLORS, SIGMA, TEXT_WIDTH_IN

#: Crop and heatmap sizes of the two profiles ((w, h), MMPose order): the same 64x48 heatmaps (sigma 2).
PROFILE_SIZES = {"cpu": dict(input_size=(96, 128), heatmap_size=(48, 64)),
                 "paper": dict(input_size=(192, 256), heatmap_size=(48, 64))}
#: The two heatmap sizes the book compares (Fig. 1): the CPU profile's now (the paper's 64x48) and the
#: 32x24 it had before (CHANGELOG.md), both from its 128x96 crop.
HEATMAP_SIZES = {"CPU now": PROFILE_SIZES["cpu"],
                 "CPU before": dict(input_size=(96, 128), heatmap_size=(24, 32))}
#: Colour map of λ: white = MSE side (λ = 0), blue = AWing side (λ = 1), as in the paper's Fig. 5.
LAMBDA_CMAP = "Blues"
_CLOSED_FACE_REGIONS = ("right_eye", "left_eye", "outer_lip", "inner_lip")
_DOT_SIZE = {"body": 26.0, "foot": 16.0, "face": 4.0, "hand": 7.0}  # scatter sizes (pt²)
_BONE_WIDTH = {"body": 1.6, "foot": 1.1, "face": 0.6, "hand": 0.7}


# --------------------------------------------------------------------------- skeleton
def keypoint_parts() -> np.ndarray:
    """Part name ('body', 'foot', 'face', 'hand') of each of the 133 keypoints."""
    names = np.empty(NUM_KEYPOINTS, dtype=object)
    for name, idx in PARTS.items():
        names[list(idx)] = name
    return names


def wholebody_bones() -> dict[str, list[tuple[int, int]]]:
    """Bones to draw, per part, as 0-based keypoint index pairs: the COCO-WholeBody skeleton
    (body and feet), the face contours of the iBUG-68 regions and the finger chains."""
    bones: dict[str, list[tuple[int, int]]] = {"body": [], "foot": [], "face": [], "hand": []}
    for a, b in SKELETON:  # 1-based
        part = "foot" if max(a, b) > len(BODY) else "body"
        bones[part].append((a - 1, b - 1))
    for region, idx in FACE_REGIONS.items():
        chain = list(idx) + ([idx[0]] if region in _CLOSED_FACE_REGIONS else [])
        bones["face"] += [(FACE[a], FACE[b]) for a, b in zip(chain[:-1], chain[1:])]
    for hand in (LEFT_HAND, RIGHT_HAND):
        bones["hand"] += [(hand[a], hand[b]) for a, b in HAND_BONES]
    return bones


def _hand_template(side: float) -> np.ndarray:
    """21 hand points, root at (0, 0), fingers along +y, thumb towards +x·side (spread hand)."""
    points = [np.zeros(2)]
    thumb = np.array([[0.10, 0.09], [0.19, 0.19], [0.27, 0.29], [0.33, 0.39]])
    points += list(thumb)
    knuckles = [(0.13, 0.30), (0.04, 0.33), (-0.05, 0.32), (-0.13, 0.28)]
    angles = [0.38, 0.12, -0.12, -0.38]  # fan of the four fingers (radians from +y)
    lengths = [1.0, 1.1, 1.0, 0.8]
    for (kx, ky), angle, length in zip(knuckles, angles, lengths):
        direction = np.array([math.sin(angle), math.cos(angle)])
        joint = np.array([kx, ky])
        points.append(joint.copy())
        for step in (0.15, 0.11, 0.09):
            joint = joint + direction * step * length
            points.append(joint.copy())
    xy = np.array(points)
    xy[:, 0] *= side
    return xy


def template_pose() -> np.ndarray:
    """A schematic standing person facing the viewer, ``[133, 2]`` (y down): a whole-body diagram
    whose face and hands are drawn enlarged (about 2x) so that their keypoints can be told apart.

    The subject's left is on the image's right, as in COCO. The face is the benchmark generator's
    iBUG-68 template (:func:`fowkal.data.face.template_2d`).
    """
    from ..data.face import template_2d

    xy = np.zeros((NUM_KEYPOINTS, 2))
    face = template_2d() * 0.42
    xy[list(FACE)] = face
    left_eye, right_eye = face[42:48].mean(0), face[36:42].mean(0)
    body = {
        0: face[30],  # nose: the tip of the nose bridge
        1: left_eye, 2: right_eye,
        3: face[16] + (0.07, 0.0), 4: face[0] - (0.07, 0.0),  # ears beside the temples
        5: (0.50, 0.80), 6: (-0.50, 0.80),  # shoulders
        7: (0.80, 1.45), 8: (-0.80, 1.45),  # elbows
        9: (1.00, 2.05), 10: (-1.00, 2.05),  # wrists
        11: (0.28, 2.15), 12: (-0.28, 2.15),  # hips
        13: (0.33, 3.00), 14: (-0.33, 3.00),  # knees
        15: (0.36, 3.85), 16: (-0.36, 3.85),  # ankles
    }
    for k, point in body.items():
        xy[BODY[k]] = point
    for side, start in ((1.0, 0), (-1.0, 3)):  # big toe (inner), small toe, heel
        xy[FOOT[start]] = (0.27 * side, 4.20)
        xy[FOOT[start + 1]] = (0.50 * side, 4.16)
        xy[FOOT[start + 2]] = (0.40 * side, 3.98)
    for hand, wrist, elbow, side in ((LEFT_HAND, 9, 7, 1.0), (RIGHT_HAND, 10, 8, -1.0)):
        forearm = xy[BODY[wrist]] - xy[BODY[elbow]]
        angle = math.atan2(forearm[0], forearm[1])  # from +y towards +x
        # row vectors: local +y -> along the forearm, local +x -> perpendicular (a rotation)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        local = _hand_template(side) * 1.35
        xy[list(hand)] = local @ rot + xy[BODY[wrist]]
    return xy


#: Axis limits (x0, x1, y1, y0) that frame one part of :func:`template_pose` (None: the whole body).
def part_view(part: str | None, xy: np.ndarray | None = None, margin: float = 0.12):
    """(xlim, ylim) framing ``part`` of the pose ``xy`` (default the template), y pointing down."""
    xy = template_pose() if xy is None else xy
    idx = list(range(NUM_KEYPOINTS)) if part in (None, "all") else list(PARTS[part])
    lo, hi = xy[idx].min(0), xy[idx].max(0)
    pad = margin * max(hi - lo) + 0.05
    return (lo[0] - pad, hi[0] + pad), (hi[1] + pad, lo[1] - pad)


def draw_wholebody(ax, xy, *, visible=None, values=None, cmap=LAMBDA_CMAP, norm=None,
                   parts: Sequence[str] | None = None, dot_scale: float = 1.0,
                   bone_color="0.72", edgecolor="0.25", bone_scale: float = 1.0):
    """Draw one whole-body pose on ``ax``: bones in grey, keypoints as dots.

    Args:
        xy: ``[133, 2]`` keypoint coordinates (image convention; set the axes' y direction yourself).
        visible: ``[133]`` bools; hidden keypoints and their bones are not drawn (default: all).
        values: ``[133]`` numbers to colour the dots by (with ``cmap``/``norm``); default: each
            keypoint in its part's colour (:data:`fowkal.viz.style.PART_COLORS`).
        parts: the parts to draw (default all four).
        dot_scale, bone_scale: multiply the default dot areas and bone widths.

    Returns:
        The last scatter artist (for a colour bar when ``values`` is given).
    """
    from matplotlib.collections import LineCollection

    xy = np.asarray(xy, dtype=float)
    if xy.shape != (NUM_KEYPOINTS, 2):
        raise ValueError(f"xy must have shape ({NUM_KEYPOINTS}, 2), got {xy.shape}")
    visible = np.ones(NUM_KEYPOINTS, bool) if visible is None else np.asarray(visible, bool)
    if visible.shape != (NUM_KEYPOINTS,):
        raise ValueError(f"visible must have shape ({NUM_KEYPOINTS},), got {visible.shape}")
    if values is not None:
        values = np.asarray(values, dtype=float)
        if values.shape != (NUM_KEYPOINTS,):
            raise ValueError(f"values must have shape ({NUM_KEYPOINTS},), got {values.shape}")
    shown = list(PARTS) if parts is None else list(parts)
    unknown = [p for p in shown if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; parts are {list(PARTS)}")
    for part, bones in wholebody_bones().items():
        if part not in shown:
            continue
        segments = [xy[[a, b]] for a, b in bones if visible[a] and visible[b]]
        if segments:
            ax.add_collection(LineCollection(segments, colors=bone_color, zorder=1,
                                             linewidths=_BONE_WIDTH[part] * bone_scale))
    artist = None
    for part in shown:  # coarse parts first: the small face and hand dots stay on top
        idx = [k for k in PARTS[part] if visible[k]]
        if not idx:
            continue
        kwargs = dict(s=_DOT_SIZE[part] * dot_scale, edgecolors=edgecolor,
                      linewidths=0.35 if part in ("face", "hand") else 0.5, zorder=2)
        if values is None:
            artist = ax.scatter(xy[idx, 0], xy[idx, 1], c=PART_COLORS[part], **kwargs)
        else:
            artist = ax.scatter(xy[idx, 0], xy[idx, 1], c=values[idx], cmap=cmap, norm=norm, **kwargs)
    return artist


# --------------------------------------------------------------------------- Fig. 1
def topdown_sample(image_bgr: np.ndarray, bbox_xywh, xy, labelled, *, input_size, heatmap_size,
                   sigma: float = SIGMA) -> dict:
    """One person as the training pipeline sees it: MMPose's ``GetBBoxCenterScale`` (padding
    1.25), ``TopdownAffine`` and ``GenerateTarget`` with the DARK ``MSRAHeatmap`` codec.

    Returns ``crop`` (RGB, input size), ``xy_input`` and ``xy_heatmap`` ([133, 2]),
    ``labelled`` ([133]), ``heatmaps`` ([133, H', W']), ``stride`` (input px per heatmap px),
    ``input_size`` and ``heatmap_size`` ((w, h)).
    """
    from mmpose.datasets.transforms import GenerateTarget, GetBBoxCenterScale, TopdownAffine

    x, y, w, h = (float(v) for v in bbox_xywh)
    if w <= 0 or h <= 0:
        raise ValueError(f"bbox must have a positive width and height, got {list(bbox_xywh)}")
    xy = np.asarray(xy, dtype=np.float32)
    labelled = np.asarray(labelled, dtype=bool)
    results = dict(img=image_bgr, bbox=np.array([[x, y, x + w, y + h]], dtype=np.float32),
                   keypoints=xy[None], keypoints_visible=labelled[None].astype(np.float32))
    codec = dict(type="MSRAHeatmap", input_size=tuple(input_size), heatmap_size=tuple(heatmap_size),
                 sigma=sigma, unbiased=True)
    for transform in (GetBBoxCenterScale(padding=1.25), TopdownAffine(input_size=tuple(input_size)),
                      GenerateTarget(encoder=codec)):
        results = transform(results)
    stride = input_size[0] / heatmap_size[0]
    xy_input = results["transformed_keypoints"][0]
    return dict(crop=results["img"][..., ::-1].copy(), xy_input=xy_input, xy_heatmap=xy_input / stride,
                labelled=labelled, heatmaps=results["heatmaps"], stride=stride,
                input_size=tuple(input_size), heatmap_size=tuple(heatmap_size))


def _dense_coarse_maps(sample: dict):
    heatmaps = sample["heatmaps"]
    dense = heatmaps[list(FACE) + list(LEFT_HAND) + list(RIGHT_HAND)].max(0)
    coarse = heatmaps[list(BODY) + list(FOOT)].max(0)
    return dense, coarse


def _show_heatmap_over_crop(ax, sample, heatmap, title):
    w_in, h_in = sample["input_size"]
    w_hm, h_hm = sample["heatmap_size"]
    s = sample["stride"]
    ax.imshow(sample["crop"].mean(2), cmap="gray", vmin=0, vmax=255, alpha=0.55,
              extent=(-0.5, w_in - 0.5, h_in - 0.5, -0.5))
    # heatmap pixel (i, j) is centred on input pixel (s·i, s·j) (MMPose's codec convention)
    shown = ax.imshow(heatmap, cmap="magma", vmin=0, vmax=1, alpha=0.8, interpolation="nearest",
                      extent=(-0.5 * s, (w_hm - 0.5) * s, (h_hm - 0.5) * s, -0.5 * s))
    ax.set_xlim(-0.5, min(w_in, w_hm * s) - 0.5 * s)  # where both the crop and the heatmap are
    ax.set_ylim(min(h_in, h_hm * s) - 0.5 * s, -0.5)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return shown


def fig1_samples(image_bgr: np.ndarray, ann: Mapping) -> dict:
    """One labelled person as the training pipeline sees it at each of :data:`HEATMAP_SIZES` (for
    :func:`fig1_heatmaps`)."""
    xy, labelled = annotation_keypoints(ann)
    return {label: topdown_sample(image_bgr, ann["bbox"], xy, labelled, **size) for label, size in HEATMAP_SIZES.items()}


def fig1_heatmaps(samples: Mapping[str, dict], *, suptitle: str | None = None):
    """Fig. 1: for each heatmap size (rows), (a) the crop with its labelled keypoints, (b) the
    targets of the dense parts (face, hands), (c) those of the coarse parts (body, feet), each the
    pixel-wise max over the part's heatmaps, and (d) the face at heatmap resolution.

    ``samples``: row label -> :func:`topdown_sample` output.
    """
    import matplotlib.pyplot as plt

    if not samples:
        raise ValueError("fig1_heatmaps needs at least one sample")
    rows = len(samples)
    fig, axes = plt.subplots(rows, 4, figsize=(TEXT_WIDTH_IN, 2.55 * rows + 0.5), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.15]})
    shown = None
    for row, (label, sample) in enumerate(samples.items()):
        ax_crop, ax_dense, ax_coarse, ax_face = axes[row]
        w_in, h_in = sample["input_size"]
        w_hm, h_hm = sample["heatmap_size"]
        ax_crop.imshow(sample["crop"], extent=(-0.5, w_in - 0.5, h_in - 0.5, -0.5))
        draw_wholebody(ax_crop, sample["xy_input"], visible=sample["labelled"], edgecolor="white",
                       dot_scale=0.35 * w_in / 96, bone_scale=0.6, bone_color="0.92")
        ax_crop.set_xlim(-0.5, w_in - 0.5)
        ax_crop.set_ylim(h_in - 0.5, -0.5)
        ax_crop.set_axis_off()
        ax_crop.set_title(f"(a) {label}: input {w_in}×{h_in}", fontsize=9)
        dense, coarse = _dense_coarse_maps(sample)
        _show_heatmap_over_crop(ax_dense, sample, dense, f"(b) face + hands, {h_hm}×{w_hm}")
        shown = _show_heatmap_over_crop(ax_coarse, sample, coarse, f"(c) body + feet, {h_hm}×{w_hm}")
        _face_zoom(ax_face, sample)
    fig.colorbar(shown, ax=axes[:, 1:3].ravel().tolist(), shrink=0.6, location="bottom",
                 label="target p (max over the part's keypoints)", aspect=40)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


def _face_zoom(ax, sample):
    face = [k for k in FACE if sample["labelled"][k]]
    title = "(d) face at heatmap resolution"
    if not face:
        ax.text(0.5, 0.5, "no face labelled", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
        return
    pts = sample["xy_heatmap"][face]
    lo, hi = np.floor(pts.min(0)) - 2, np.ceil(pts.max(0)) + 2
    w_hm, h_hm = sample["heatmap_size"]
    face_map = sample["heatmaps"][face].max(0)
    ax.imshow(face_map, cmap="magma", vmin=0, vmax=1, interpolation="nearest",
              extent=(-0.5, w_hm - 0.5, h_hm - 0.5, -0.5))
    ax.scatter(pts[:, 0], pts[:, 1], s=5, c=PART_COLORS["face"], edgecolors="white", linewidths=0.3)
    ax.set_xlim(lo[0] - 0.5, hi[0] + 0.5)
    ax.set_ylim(hi[1] + 0.5, lo[1] - 0.5)
    ax.set_xticks(np.arange(lo[0] - 0.5, hi[0] + 1, 1), labels=[])
    ax.set_yticks(np.arange(lo[1] - 0.5, hi[1] + 1, 1), labels=[])
    ax.tick_params(length=0)
    ax.grid(True, color="0.6", lw=0.3, alpha=0.6)
    span = pts.max(0) - pts.min(0)
    ax.set_title(f"(d) {len(face)} face keypoints\nwithin {span[0]:.1f}×{span[1]:.1f} heatmap px",
                 fontsize=9)


# --------------------------------------------------------------------------- Fig. 4
def fig4_predictions(images: Sequence[np.ndarray], rows: Mapping[str, Sequence[Sequence[np.ndarray]]],
                     *, titles: Sequence[str] | None = None, visible_rows: Mapping | None = None):
    """Fig. 4: the same images (columns) with the poses of each row drawn over them.

    Args:
        images: RGB images.
        rows: row label -> per image, a list of ``[133, 2]`` poses (e.g. ground truth, then the
            predictions of two runs).
        titles: one per image.
        visible_rows: row label -> per image, a list of ``[133]`` masks (default: all drawn).
    """
    import matplotlib.pyplot as plt

    if not images or not rows:
        raise ValueError("fig4_predictions needs at least one image and one row")
    for label, per_image in rows.items():
        if len(per_image) != len(images):
            raise ValueError(f"row {label!r} has poses for {len(per_image)} images, expected {len(images)}")
    height, width = images[0].shape[:2]
    panel_w = TEXT_WIDTH_IN / len(images)
    fig, axes = plt.subplots(len(rows), len(images), squeeze=False,
                             figsize=(TEXT_WIDTH_IN, len(rows) * panel_w * height / width + 0.4))
    for r, (label, per_image) in enumerate(rows.items()):
        masks = (visible_rows or {}).get(label)
        for c, (image, poses) in enumerate(zip(images, per_image)):
            ax = axes[r, c]
            ax.imshow(image)
            for p, pose in enumerate(poses):
                visible = None if masks is None else masks[c][p]
                draw_wholebody(ax, pose, visible=visible, dot_scale=0.22, bone_scale=0.55,
                               edgecolor="none")
            ax.set_xlim(-0.5, image.shape[1] - 0.5)
            ax.set_ylim(image.shape[0] - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
            if r == 0 and titles:
                ax.set_title(titles[c], fontsize=8)
    return fig


def fig4_closeups(crops: Mapping[str, Sequence[np.ndarray]], rows: Mapping[str, Sequence[np.ndarray]],
                  boxes: Sequence[Sequence[float]], *, column_titles: Sequence[str],
                  visible_rows: Mapping | None = None, column_parts: Sequence | None = None):
    """Close-ups for Fig. 4: square crops (columns; e.g. a face and a hand) of one image each,
    with each row's pose drawn into them.

    Args:
        crops: ``{"image": [RGB image per column]}``.
        rows: row label -> per column, one ``[133, 2]`` pose (image coordinates).
        boxes: per column, the ``(x, y, w, h)`` region to enlarge.
        column_titles: one per column.
        column_parts: per column, the parts to draw (default all; e.g. only the face in a face
            close-up, where the body's eyes and ears would hide its landmarks).
    """
    import matplotlib.pyplot as plt

    images = crops["image"]
    n = len(images)
    if not (len(boxes) == len(column_titles) == n):
        raise ValueError("fig4_closeups needs one box and one title per image")
    fig, axes = plt.subplots(len(rows), n, squeeze=False,
                             figsize=(TEXT_WIDTH_IN, len(rows) * TEXT_WIDTH_IN / n + 0.3))
    for r, (label, poses) in enumerate(rows.items()):
        masks = (visible_rows or {}).get(label)
        for c in range(n):
            ax = axes[r, c]
            x, y, w, h = boxes[c]
            side = max(w, h) * 1.3
            cx, cy = x + w / 2, y + h / 2
            ax.imshow(images[c], interpolation="bilinear")
            draw_wholebody(ax, poses[c], visible=None if masks is None else masks[c],
                           parts=None if column_parts is None else column_parts[c],
                           dot_scale=2.2 * 40 / max(side, 1), bone_scale=1.2, edgecolor="0.15")
            ax.set_xlim(cx - side / 2, cx + side / 2)
            ax.set_ylim(cy + side / 2, cy - side / 2)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
            if r == 0:
                ax.set_title(column_titles[c], fontsize=8)
    return fig


# --------------------------------------------------------------------------- Fig. 5 (KAF)
def check_kaf_entries(entries) -> list[dict]:
    """The entries of a ``kaf_log.json``, sorted by iteration (iteration entries before the epoch
    entry that ends at the same iteration); raises ValueError on a malformed log."""
    if not isinstance(entries, list) or not entries:
        raise ValueError("a KAF log must be a non-empty list of entries")
    for i, entry in enumerate(entries):
        missing = [key for key in ("kind", "epoch", "iter", "mean", "std", "n") if key not in entry]
        if missing:
            raise ValueError(f"KAF log entry {i} lacks {missing}")
        if entry["kind"] not in ("iter", "epoch"):
            raise ValueError(f"KAF log entry {i}: kind must be 'iter' or 'epoch', got {entry['kind']!r}")
        for key in ("mean", "std"):
            values = np.asarray(entry[key], dtype=float)
            if values.shape != (NUM_KEYPOINTS,):
                raise ValueError(f"KAF log entry {i}: {key} has shape {values.shape}, expected ({NUM_KEYPOINTS},)")
            if not np.isfinite(values).all():
                raise ValueError(f"KAF log entry {i}: {key} holds NaN or infinite values")
    return sorted(entries, key=lambda e: (e["iter"], e["kind"] == "epoch"))


def kaf_label(entry: Mapping, short: bool = False) -> str:
    """How the book names one KAF log entry."""
    if entry["kind"] == "iter":
        return f"it {entry['iter']}" if short else f"iteration {entry['iter']} (one batch)"
    return f"ep {entry['epoch']}" if short else f"epoch {entry['epoch']} (mean over it, to it. {entry['iter']})"


def choose_snapshots(entries: Sequence[Mapping], n: int = 5) -> list[dict]:
    """``n`` entries to show over training: the first logged batch, then epoch means spread evenly
    up to the last epoch (fewer when the log is shorter)."""
    entries = check_kaf_entries(list(entries))
    epochs = [e for e in entries if e["kind"] == "epoch"]
    first = entries[0]
    if not epochs:
        picks = np.unique(np.linspace(0, len(entries) - 1, min(n, len(entries))).round().astype(int))
        return [entries[i] for i in picks]
    want = min(n - 1, len(epochs))
    picks = np.unique(np.linspace(0, len(epochs) - 1, want).round().astype(int))
    chosen = [first] + [epochs[i] for i in picks if epochs[i] is not first]
    return chosen[:n]


def minmax(values) -> np.ndarray:
    """Min-max normalised copy of ``values`` (all 0.5 when they are all equal)."""
    values = np.asarray(values, dtype=float)
    lo, hi = values.min(), values.max()
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.full_like(values, 0.5)
    return (values - lo) / (hi - lo)


def fig5_skeletons(snapshots: Sequence[Mapping], *, xy=None):
    """Fig. 5: the mean λ of each keypoint at a few points of training, on a whole-body skeleton:
    top row min-max normalised per snapshot (as in the paper), bottom row absolute."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    if not snapshots:
        raise ValueError("fig5_skeletons needs at least one snapshot")
    xy = template_pose() if xy is None else np.asarray(xy, float)
    n = len(snapshots)
    fig, axes = plt.subplots(2, n, figsize=(TEXT_WIDTH_IN, 6.2), squeeze=False)
    norm = Normalize(0.0, 1.0)
    (x0, x1), (y1, y0) = part_view(None, xy, margin=0.02)
    artist = None
    for c, entry in enumerate(snapshots):
        mean = np.asarray(entry["mean"], dtype=float)
        for r, values in enumerate((minmax(mean), mean)):
            ax = axes[r, c]
            artist = draw_wholebody(ax, xy, values=values, norm=norm, dot_scale=0.75, bone_scale=0.7)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y1, y0)
            ax.set_aspect("equal")
            ax.set_axis_off()
            if r == 0:
                ax.set_title(kaf_label(entry, short=True), fontsize=9)
            else:
                ax.set_title(f"λ {mean.min():.2g}…{mean.max():.2g}", fontsize=8)
    axes[0, 0].text(-0.08, 0.5, "min-max per snapshot", rotation=90, transform=axes[0, 0].transAxes,
                    ha="center", va="center", fontsize=9)
    axes[1, 0].text(-0.08, 0.5, "absolute λ", rotation=90, transform=axes[1, 0].transAxes,
                    ha="center", va="center", fontsize=9)
    bar = fig.colorbar(artist, ax=axes.ravel().tolist(), shrink=0.5, location="bottom", aspect=40)
    bar.set_label("λ: 0 = MSE (white), 1 = AWing (blue); top row: each snapshot scaled to 0…1")
    return fig


def _part_bands(ax, axis: str = "y"):
    """Separators and labels of the four parts along the keypoint axis of a heatmap."""
    for name, idx in PARTS.items():
        if name == "hand":
            spans = [(LEFT_HAND[0], LEFT_HAND[-1], "left hand"), (RIGHT_HAND[0], RIGHT_HAND[-1], "right hand")]
        else:
            spans = [(idx[0], idx[-1], name)]
        for lo, hi, label in spans:
            if axis == "y":
                ax.axhline(lo - 0.5, color="white", lw=0.8)
            mid = (lo + hi) / 2
            ax.annotate(label, xy=(0, mid), xycoords=("axes fraction", "data"), xytext=(-4, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=8,
                        color=PART_COLORS[name])


#: Fig. 5's heat map labels every n-th column, n the smallest that labels at most this many (more overlap at the
#: text width), and the last column besides.
MAX_FIG5_TICKS = 24


def fig5_heatmap(entries: Sequence[Mapping]):
    """Fig. 5, keypoint × logged point: the mean λ of every keypoint at every entry of the log,
    absolute (left) and min-max normalised per entry (right)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, Normalize

    entries = check_kaf_entries(list(entries))
    means = np.array([e["mean"] for e in entries], dtype=float).T  # [K, entries]
    lo, hi = means.min(), means.max()
    log_scale = lo > 0 and hi / lo > 100  # λ spread over decades: a log colour scale shows it
    abs_norm = LogNorm(lo, hi) if log_scale else Normalize(0.0, 1.0)
    normalised = np.stack([minmax(col) for col in means.T], 1)
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, 4.6), sharey=True)
    labels = [kaf_label(e, short=True) for e in entries]
    # a long run logs a point per epoch: every step-th column and the last one are labelled
    step = max(1, -(-len(labels) // MAX_FIG5_TICKS))
    ticks = sorted(set(range(0, len(labels), step)) | {len(labels) - 1})
    abs_title = "absolute λ" + (" (log colour scale)" if log_scale else "")
    for ax, data, norm, title in ((axes[0], means, abs_norm, abs_title),
                                  (axes[1], normalised, Normalize(0, 1), "min-max normalised per column")):
        image = ax.imshow(data, aspect="auto", cmap=LAMBDA_CMAP, norm=norm, interpolation="nearest")
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.grid(False)
        fig.colorbar(image, ax=ax, location="bottom", shrink=0.8, aspect=30, pad=0.02)
        _part_bands(ax)
    axes[0].set_yticks([])
    axes[0].set_ylabel("keypoint", labelpad=62)
    return fig


# --------------------------------------------------------------------------- λ explorer frame
def kaf_frame(entry: Mapping, part: str, *, norm, title: str, xy=None, dpi: int = 95) -> bytes:
    """One frame of the per-keypoint λ explorer: the skeleton framed on ``part`` ('all' or a part),
    coloured by this entry's mean λ (colour scale ``norm``), and the λ of the part's keypoints
    (mean ± std over the samples the entry covers)."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter

    from .style import figure_png

    if part != "all" and part not in PARTS:
        raise ValueError(f"part must be 'all' or one of {list(PARTS)}, got {part!r}")
    xy = template_pose() if xy is None else np.asarray(xy, float)
    mean = np.asarray(entry["mean"], dtype=float)
    std = np.asarray(entry["std"], dtype=float)
    # fixed axes positions: an explorer renders hundreds of frames, and automatic layout is most
    # of a frame's cost
    with mpl.rc_context({"figure.constrained_layout.use": False, "savefig.bbox": "standard"}):
        fig = plt.figure(figsize=(6.4, 2.75))  # ~600 px wide: the column's width, fonts legible
        ax_pose = fig.add_axes((0.0, 0.04, 0.34, 0.84))
        cax = fig.add_axes((0.345, 0.14, 0.013, 0.68))
        ax_values = fig.add_axes((0.54, 0.16, 0.44, 0.70))
        shown_parts = list(PARTS) if part == "all" else [part]
        zoom = {"all": 0.8, "body": 1.0, "foot": 3.0, "face": 6.0, "hand": 2.6}[part]
        artist = draw_wholebody(ax_pose, xy, values=mean, norm=norm, parts=shown_parts, dot_scale=zoom,
                                bone_scale=min(zoom, 2.0))
        (x0, x1), (y1, y0) = part_view(None if part == "all" else part, xy)
        ax_pose.set_xlim(x0, x1)
        ax_pose.set_ylim(y1, y0)
        ax_pose.set_aspect("equal")
        ax_pose.set_axis_off()
        fig.colorbar(artist, cax=cax)
        cax.set_ylabel("mean λ", fontsize=8)
        cax.tick_params(labelsize=7)
        idx = np.arange(NUM_KEYPOINTS) if part == "all" else np.asarray(PARTS[part])
        names = keypoint_parts()
        colors = [PART_COLORS[names[k]] for k in idx]
        log_scale = isinstance(norm, LogNorm)
        low = np.minimum(std[idx], mean[idx] * 0.999) if log_scale else std[idx]  # stay > 0 on a log axis
        ax_values.errorbar(idx, mean[idx], yerr=[low, std[idx]], fmt="none", ecolor="0.6", lw=0.8, zorder=1)
        ax_values.scatter(idx, mean[idx], c=colors, s=10 if part in ("all", "face") else 22, zorder=2)
        if log_scale:
            ax_values.set_yscale("log")
            ax_values.yaxis.set_minor_formatter(NullFormatter())
        ax_values.set_ylim(norm.vmin, norm.vmax)
        ax_values.set_xlabel("keypoint index", fontsize=8)
        ax_values.set_ylabel("λ, mean ± std over samples", fontsize=8)
        ax_values.tick_params(labelsize=7)
        fig.suptitle(title, fontsize=9)
        return figure_png(fig, dpi=dpi)
