"""One COCO-WholeBody person as MMPose's top-down pipeline sees it, in plain numpy.

- :func:`annotation_keypoints`: the 133 keypoints of an annotation and which are labelled;
- :func:`crop_box`, :func:`to_heatmap`, :func:`heatmap_scale`: the crop of ``GetBBoxCenterScale``
  (the box padded by 1.25) and ``TopdownAffine`` (fitted to the input's aspect ratio), and where an
  image point lands on the heatmap of the ``MSRAHeatmap`` codec;
- :func:`nearest_neighbour_distances`: how far each keypoint is from its nearest neighbour of the
  same part.

No augmentation (shift, scale, rotation, flip): the geometry of validation, and of training on
average. The drawing side (``fowkal.viz.figures``) builds on these.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..parts import ANNOTATION_FIELDS, BODY, FACE, FOOT, LEFT_HAND, NUM_KEYPOINTS, RIGHT_HAND

#: MMPose's ``GetBBoxCenterScale`` default: the crop is the box enlarged by 25 %.
PADDING = 1.25


def annotation_keypoints(ann: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """``([133, 2] xy, [133] labelled)`` of one COCO-WholeBody annotation.

    Labelled means v > 0, as MMPose's loader reads it (real hand labels carry confidences < 1).
    """
    missing = [field for field in ANNOTATION_FIELDS if field not in ann]
    if missing:
        raise ValueError(f"annotation {ann.get('id', '?')} lacks the COCO-WholeBody field(s) {missing}")
    xy = np.zeros((NUM_KEYPOINTS, 2))
    labelled = np.zeros(NUM_KEYPOINTS, bool)
    for field, idx in ANNOTATION_FIELDS.items():
        values = np.asarray(ann[field], dtype=float).reshape(-1, 3)
        if len(values) != len(idx):
            raise ValueError(f"annotation field {field!r} has {len(values)} keypoints, expected {len(idx)}")
        xy[list(idx)] = values[:, :2]
        labelled[list(idx)] = values[:, 2] > 0
    return xy, labelled


def parse_bbox(bbox_xywh) -> tuple[float, float, float, float]:
    """``(x, y, w, h)`` as floats; raises ValueError for anything but four numbers with w, h > 0."""
    try:
        x, y, w, h = (float(v) for v in bbox_xywh)
    except (TypeError, ValueError):
        raise ValueError(f"bbox must be [x, y, w, h], got {bbox_xywh!r}") from None
    if not (w > 0 and h > 0):
        raise ValueError(f"bbox must have a positive width and height, got {list(bbox_xywh)}")
    return x, y, w, h


def crop_box(bbox_xywh, *, input_size, padding: float = PADDING) -> tuple[np.ndarray, np.ndarray]:
    """``(centre, size)`` of MMPose's crop of a person box, in image pixels: the box padded, then
    widened or heightened to the aspect ratio of ``input_size`` ((w, h), MMPose order)."""
    x, y, w, h = parse_bbox(bbox_xywh)
    centre = np.array([x + 0.5 * w, y + 0.5 * h])
    aspect = input_size[0] / input_size[1]
    w, h = w * padding, h * padding
    size = (w, w / aspect) if w > h * aspect else (h * aspect, h)
    return centre, np.array(size)


def heatmap_scale(bbox_xywh, *, input_size, heatmap_size, padding: float = PADDING) -> float:
    """Heatmap pixels per image pixel for a person box (MMPose's crop: padded, aspect fixed)."""
    return heatmap_size[1] / crop_box(bbox_xywh, input_size=input_size, padding=padding)[1][1]


def to_heatmap(xy, bbox_xywh, *, input_size, heatmap_size, padding: float = PADDING) -> np.ndarray:
    """Image points ``[..., 2]`` in heatmap pixels: ``TopdownAffine`` maps the crop's centre to the
    input's centre (w/2, h/2), and the codec divides by the stride (input / heatmap size)."""
    centre, size = crop_box(bbox_xywh, input_size=input_size, padding=padding)
    heatmap = np.asarray(heatmap_size, dtype=float)
    return (np.asarray(xy, dtype=float) - centre) * (heatmap / size) + 0.5 * heatmap


def nearest_neighbour_distances(xy_heatmap, labelled) -> dict[str, np.ndarray]:
    """Per part: for every labelled keypoint, the distance (heatmap px) to the nearest other
    labelled keypoint of the same part (hands: of the same hand)."""
    xy_heatmap = np.asarray(xy_heatmap, dtype=float)
    labelled = np.asarray(labelled, dtype=bool)
    groups = {"body": BODY, "foot": FOOT, "face": FACE, "hand": (LEFT_HAND, RIGHT_HAND)}
    out = {}
    for part, idx in groups.items():
        distances = []
        for group in (idx if part == "hand" else (idx,)):
            pts = xy_heatmap[[k for k in group if labelled[k]]]
            if len(pts) < 2:
                continue
            d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
            np.fill_diagonal(d, np.inf)
            distances.append(d.min(1))
        out[part] = np.concatenate(distances) if distances else np.zeros(0)
    return out
