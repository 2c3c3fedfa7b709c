"""COCO-WholeBody v1.0 records for rendered people: annotations, image records, detections.

Field names, order and value types follow ``coco_wholebody_val_v1.0.json``. Visibility flags:
0 = not labelled (out of the frame, or a face seen from behind), 1 = labelled but occluded,
2 = labelled and visible. A part that is not annotatable (``*_valid`` false) has all-zero
keypoints and an all-zero box, as in the real files.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..parts import BODY, FACE, FOOT, KEYPOINT_NAMES, LEFT_HAND, NUM_KEYPOINTS, RIGHT_HAND, SIGMAS, SKELETON
from .render import SUPERSAMPLE, RenderedPerson

CATEGORY_ID = 1
MIN_FACE_PX = 6.0  # smaller faces are not annotated (their landmarks collapse to a blob)
MIN_HAND_PX = 5.0
_NUM_BODY_LINKS = 19  # the person category's skeleton holds the body links only, as in COCO


def category() -> dict:
    return {"supercategory": "person", "id": CATEGORY_ID, "name": "person",
            "keypoints": list(KEYPOINT_NAMES[: len(BODY)]),
            "skeleton": [list(link) for link in SKELETON[:_NUM_BODY_LINKS]]}


def image_record(image_id: int, file_name: str, width: int, height: int) -> dict:
    return {"license": 1, "file_name": file_name, "coco_url": "", "height": height,
            "width": width, "date_captured": "", "flickr_url": "", "id": image_id}


def visibility(person: RenderedPerson) -> np.ndarray:
    """Flags 0/1/2 per keypoint."""
    v = np.where(person.in_frame, np.where(person.seen, 2, 1), 0)
    face = np.array(FACE)
    v[face] = np.where(v[face] == 2, np.where(person.face_point_front, 2, 1), v[face])
    if not person.face_towards:  # from behind: no nose, eyes or face to label
        v[[BODY[0], BODY[1], BODY[2]]] = 0
        v[face] = 0
    return v


def part_validity(person: RenderedPerson, v: np.ndarray) -> dict:
    """Which parts an annotator would label: enough of them in the frame, seen, and big enough."""
    face = v[list(FACE)]
    valid = {
        "face": bool(person.face_towards and (face > 0).sum() >= len(FACE) // 2
                     and (face == 2).sum() >= len(FACE) // 4
                     and person.part_px["face"] >= MIN_FACE_PX),
        "foot": bool((v[list(FOOT)] > 0).any()),
    }
    for name, idx in (("lefthand", LEFT_HAND), ("righthand", RIGHT_HAND)):
        hand = v[list(idx)]
        valid[name] = bool((hand > 0).sum() > len(idx) // 2 and (hand == 2).sum() >= 5
                           and person.part_px["hand"] >= MIN_HAND_PX)
    return valid


def noisy_keypoints(person: RenderedPerson, v: np.ndarray, noise: dict,
                    rng: np.random.Generator) -> np.ndarray:
    """Labels as an annotator would give them: Gaussian jitter (std in pixels) per part, a fraction
    of the part's size (``noise``: part -> fraction), or per keypoint from its OKS sigma
    (``noise = {"oks": factor}``: std ``factor * sigma_k * s / sqrt(2)`` per coordinate, with ``s`` the
    square root of the visible silhouette's area, COCO's scale)."""
    if "oks" in noise:
        scale = math.sqrt(float(person.mask_ss.sum())) / SUPERSAMPLE
        std = noise["oks"] * np.asarray(SIGMAS) * scale / math.sqrt(2.0)
    else:
        std = np.zeros(NUM_KEYPOINTS)
        size = {"body": person.height_px, "foot": person.part_px["foot"],
                "face": person.part_px["face"], "hand": person.part_px["hand"]}
        parts = (("body", BODY), ("foot", FOOT), ("face", FACE), ("hand", LEFT_HAND + RIGHT_HAND))
        for part, idx in parts:
            std[list(idx)] = noise[part] * size[part]
    jitter = rng.normal(0.0, 1.0, (NUM_KEYPOINTS, 2)) * std[:, None]  # drawn for all: stable stream
    return person.keypoints + np.where(v[:, None] > 0, jitter, 0.0)


def _triplets(points: list, v: list, idx, valid=True) -> list:
    """``points``, ``v``: the keypoints and flags as Python lists (``tolist()``: the same values as
    indexing the arrays, without numpy's per-element cost)."""
    out = []
    for k in idx:
        if valid and v[k] > 0:
            out += [round(points[k][0], 2), round(points[k][1], 2), int(v[k])]
        else:
            out += [0.0, 0.0, 0]
    return out


def _part_box(points, v, idx, valid, width, height, margin=0.08) -> list:
    if not valid:
        return [0.0, 0.0, 0.0, 0.0]
    pts = points[[k for k in idx if v[k] > 0]]
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    m = margin * max(x1 - x0, y1 - y0, 1.0)
    x0, y0 = max(x0 - m, 0.0), max(y0 - m, 0.0)
    x1, y1 = min(x1 + m, width - 1.0), min(y1 + m, height - 1.0)
    return [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2),
            round(float(y1 - y0), 2)]


def _segmentation(mask_ss: np.ndarray) -> list:
    """Outer polygons of the visible person, in output pixels."""
    ss = SUPERSAMPLE
    contours, _ = cv2.findContours(mask_ss.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for contour in contours:
        approx = cv2.approxPolyDP(contour, 1.5, True).reshape(-1, 2)
        if len(approx) >= 3:
            pts = (approx - (ss - 1) / 2.0) / ss
            polys.append([round(float(c), 2) for c in pts.ravel()])
    return polys


def person_annotation(person: RenderedPerson, *, image_id: int, ann_id: int, width: int,
                      height: int, noise: dict, rng: np.random.Generator,
                      area_scale: float = 1.0) -> dict | None:
    """One COCO-WholeBody annotation, or None when nothing of the person is visible.

    ``area`` (the OKS scale) is the visible silhouette's area times ``area_scale``.
    """
    if not person.mask.any():
        return None
    v = visibility(person)
    valid = part_validity(person, v)
    points = noisy_keypoints(person, v, noise, rng)
    clean = person.keypoints
    ys, xs = np.nonzero(person.mask)
    x0, y0, x1, y1 = xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5
    x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
    area = float(person.mask_ss.sum()) / SUPERSAMPLE ** 2 * area_scale
    v_list, points = v.tolist(), points.tolist()
    return {
        "segmentation": _segmentation(person.mask_ss),
        "num_keypoints": int((v[list(BODY)] > 0).sum()),
        "area": round(area, 2),
        "iscrowd": 0,
        "keypoints": _triplets(points, v_list, BODY),
        "image_id": image_id,
        "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
        "category_id": CATEGORY_ID,
        "id": ann_id,
        "face_box": _part_box(clean, v, FACE, valid["face"], width, height),
        "lefthand_box": _part_box(clean, v, LEFT_HAND, valid["lefthand"], width, height),
        "righthand_box": _part_box(clean, v, RIGHT_HAND, valid["righthand"], width, height),
        "lefthand_kpts": _triplets(points, v_list, LEFT_HAND, valid["lefthand"]),
        "righthand_kpts": _triplets(points, v_list, RIGHT_HAND, valid["righthand"]),
        "face_kpts": _triplets(points, v_list, FACE, valid["face"]),
        "face_valid": valid["face"],
        "lefthand_valid": valid["lefthand"],
        "righthand_valid": valid["righthand"],
        "foot_valid": valid["foot"],
        "foot_kpts": _triplets(points, v_list, FOOT, valid["foot"]),
    }


def detections(annotations: list, *, image_id: int, width: int, height: int, params: dict,
               rng: np.random.Generator) -> list:
    """A simulated person detector on one image: jittered true boxes, a few duplicates with low
    scores, some misses, and false positives, in the format of COCO's
    ``COCO_val2017_detections_AP_H_56_person.json``."""
    jitter = params["det_jitter"]
    boxes = []
    for ann in annotations:
        x, y, w, h = ann["bbox"]
        draws = rng.normal(0.0, 1.0, 9)
        uniforms = rng.uniform(0.0, 1.0, 4)
        if uniforms[0] < params["det_miss_rate"]:
            continue
        # hard (occluded, truncated) people score lower
        visible = min(1.0, ann["num_keypoints"] / 12.0)
        score = 0.55 + 0.45 * visible - abs(draws[0]) * 0.08
        boxes.append((_jittered(x, y, w, h, draws[1:5], jitter), min(max(score, 0.2), 1.0)))
        if uniforms[1] < 0.25:  # a second, worse box on the same person
            worse = _jittered(x, y, w, h, draws[5:9], 3.0 * jitter)
            boxes.append((worse, 0.05 + 0.4 * uniforms[2]))
    for _ in range(rng.poisson(params["det_false_positives"])):
        h = rng.uniform(0.2, 0.8) * height
        w = h * rng.uniform(0.3, 0.8)
        x, y = rng.uniform(0, width - w * 0.5), rng.uniform(0, height - h * 0.5)
        boxes.append(((x, y, w, h), float(rng.uniform(0.02, 0.6) ** 1.5)))
    out = []
    for (x, y, w, h), score in sorted(boxes, key=lambda b: -b[1]):
        x0, y0 = min(max(x, 0.0), width - 2.0), min(max(y, 0.0), height - 2.0)
        x1, y1 = min(x + w, float(width)), min(y + h, float(height))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        out.append({"bbox": [round(x0, 3), round(y0, 3), round(x1 - x0, 3), round(y1 - y0, 3)],
                    "category_id": CATEGORY_ID, "image_id": image_id,
                    "score": round(float(score), 6)})
    return out


def _jittered(x, y, w, h, draws, jitter):
    cx, cy = x + w / 2 + draws[0] * jitter * w, y + h / 2 + draws[1] * jitter * h
    w, h = w * np.exp(draws[2] * jitter), h * np.exp(draws[3] * jitter)
    return float(cx - w / 2), float(cy - h / 2), float(w), float(h)
