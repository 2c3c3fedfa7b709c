"""A contact sheet of benchmark samples with their keypoints drawn, coloured by part.

Each tile is one image (enlarged) with every annotated person's skeleton, feet, face contours and
hand bones, and under it zoomed crops of the largest person's face and one hand, raw and
annotated, so that the dense keypoints can be seen. Hollow dots are occluded keypoints (v=1).
Works on any COCO-WholeBody folder laid out like the benchmark
(``annotations/wholebody_<split>.json`` and ``images/<split>/``).
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..parts import ANNOTATION_FIELDS, FACE_REGIONS, HAND_BONES, SKELETON
from .style import PART_COLORS as STYLE_COLORS

#: The project's part colours (:data:`fowkal.viz.style.PART_COLORS`) as OpenCV's BGR triples.
PART_COLORS = {part: tuple(int(color[i:i + 2], 16) for i in (5, 3, 1)) for part, color in STYLE_COLORS.items()}
_FIELD_PART = {"keypoints": "body", "foot_kpts": "foot", "face_kpts": "face",
               "lefthand_kpts": "hand", "righthand_kpts": "hand"}
_CLOSED_REGIONS = ("right_eye", "left_eye", "outer_lip", "inner_lip")
_TILE_SCALE = 1.5
_CROP = 120  # zoomed crop size on the sheet
_HEADER = 64


def contact_sheet(root, out_png, *, split: str = "val", n: int = 12, seed: int = 0,
                  columns: int = 4, colors: int | None = 256) -> Path:
    """Draw ``n`` random samples of ``split`` from the benchmark at ``root`` into ``out_png``.

    ``colors``: palette size of the PNG (256 keeps the file small, ~0.7 MB for 12 samples);
    None writes full colour.
    """
    root, out_png = Path(root), Path(out_png)
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if colors is not None and (isinstance(colors, bool) or not isinstance(colors, int)
                               or not 2 <= colors <= 256):
        raise ValueError(f"colors must be None or an integer in 2..256, got {colors!r}")
    for name, value in (("n", n), ("columns", columns), ("seed", seed)):
        lowest = 0 if name == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise ValueError(f"{name} must be a {'non-negative' if name == 'seed' else 'positive'} "
                             f"integer, got {value!r}")
    ann_path = root / "annotations" / f"wholebody_{split}.json"
    if not ann_path.is_file():
        raise ValueError(f"no annotations at {ann_path}: is {root} a benchmark folder?")
    if out_png.suffix.lower() != ".png":
        raise ValueError(f"out_png must end in .png, got {out_png}")
    if not out_png.parent.is_dir():
        raise ValueError(f"folder {out_png.parent} does not exist")
    coco = json.loads(ann_path.read_text())
    by_image = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    images = [img for img in coco["images"] if img["id"] in by_image]
    if not images:
        raise ValueError(f"{ann_path} has no annotated images")
    pick = np.random.default_rng(seed).permutation(len(images))[:n]
    tiles = [_tile(root / "images" / split / images[i]["file_name"], by_image[images[i]["id"]])
             for i in sorted(pick)]
    sheet = _grid(tiles, columns)
    header = _header(sheet.shape[1], f"fowkal benchmark, {split} split: {len(images)} images, "
                                     f"{len(coco['annotations'])} people (showing {len(tiles)})")
    out = np.concatenate([header, sheet], 0)
    if colors is None:
        if not cv2.imwrite(str(out_png), out, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
            raise ValueError(f"could not write {out_png}")
        return out_png
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(out[..., ::-1]))
    rgb.quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                 dither=Image.Dither.FLOYDSTEINBERG).save(out_png, compress_level=9)
    return out_png


def _points(ann, field):
    arr = np.asarray(ann[field], dtype=float).reshape(-1, 3)
    return arr[:, :2], arr[:, 2]


def draw_annotation(img, ann, scale=1.0, offset=(0.0, 0.0), dot=1.0):
    """Draw one COCO-WholeBody annotation on ``img`` (in place); coordinates map by scale/offset."""
    off = np.asarray(offset, dtype=float)

    def px(p):
        return tuple(int(round(c)) for c in ((np.asarray(p) + 0.5) * scale - 0.5 - off) * 16)

    def line(a, b, color, width):
        cv2.line(img, px(a), px(b), color, width, cv2.LINE_AA, 4)

    def dots(points, vis, color, radius):
        r = max(1, int(round(radius * 16)))
        for p, v in zip(points, vis):
            if v > 0:
                cv2.circle(img, px(p), r + 16, (0, 0, 0), -1, cv2.LINE_AA, 4)
                cv2.circle(img, px(p), r, color, -1 if v >= 2 else 1, cv2.LINE_AA, 4)

    allpts = np.concatenate([_points(ann, f)[0] for f in ANNOTATION_FIELDS])
    allvis = np.concatenate([_points(ann, f)[1] for f in ANNOTATION_FIELDS])
    for a, b in SKELETON:  # 1-based, body and feet
        if allvis[a - 1] > 0 and allvis[b - 1] > 0:
            part = "foot" if max(a, b) > 17 else "body"
            line(allpts[a - 1], allpts[b - 1], PART_COLORS[part], 2 if part == "body" else 1)
    face, fvis = _points(ann, "face_kpts")
    for region, idx in FACE_REGIONS.items():
        chain = list(idx) + ([idx[0]] if region in _CLOSED_REGIONS else [])
        for a, b in zip(chain[:-1], chain[1:]):
            if fvis[a] > 0 and fvis[b] > 0:
                line(face[a], face[b], PART_COLORS["face"], 1)
    for field in ("lefthand_kpts", "righthand_kpts"):
        hand, hvis = _points(ann, field)
        for a, b in HAND_BONES:
            if hvis[a] > 0 and hvis[b] > 0:
                line(hand[a], hand[b], PART_COLORS["hand"], 1)
    for field in ANNOTATION_FIELDS:
        pts, vis = _points(ann, field)
        part = _FIELD_PART[field]
        radius = {"body": 2.5, "foot": 2.0, "face": 0.8, "hand": 1.0}[part] * dot
        dots(pts, vis, PART_COLORS[part], radius)


def _tile(image_path, anns):
    img = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {image_path}")
    big = cv2.resize(img, None, fx=_TILE_SCALE, fy=_TILE_SCALE, interpolation=cv2.INTER_CUBIC)
    for ann in anns:
        x, y, w, h = ann["bbox"]
        cv2.rectangle(big, (int(x * _TILE_SCALE), int(y * _TILE_SCALE)),
                      (int((x + w) * _TILE_SCALE), int((y + h) * _TILE_SCALE)), (235, 235, 235), 1)
        draw_annotation(big, ann, scale=_TILE_SCALE)
    crops = []
    person = max(anns, key=lambda a: a["area"] if a["face_valid"] else 0.0)
    hand = max(anns, key=lambda a: max(a["lefthand_box"][2], a["righthand_box"][2]))
    for ann, field in ((person, "face_box"), (hand, _bigger_hand(hand))):
        crops += _zoom(img, ann, ann[field])
    strip = np.concatenate(crops, 1)
    width = max(big.shape[1], strip.shape[1])
    return np.concatenate([_pad_right(big, width), _pad_right(strip, width)], 0)


def _pad_right(img, width):
    return np.pad(img, ((0, 0), (0, width - img.shape[1]), (0, 0)), constant_values=40)


def _bigger_hand(ann):
    return "lefthand_box" if ann["lefthand_box"][2] >= ann["righthand_box"][2] else "righthand_box"


def _zoom(img, ann, box):
    """Raw and annotated close-ups of a face or hand box (blank if the part is not annotated)."""
    x, y, w, h = box
    if w <= 0 or h <= 0:
        blank = np.full((_CROP, _CROP, 3), 40, np.uint8)
        cv2.putText(blank, "not labelled", (8, _CROP // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (200, 200, 200), 1, cv2.LINE_AA)
        return [blank, blank.copy()]
    scale = _CROP / (max(w, h) * 1.3)
    # warpAffine maps source pixel centre p to scale * p + t; put the box centre mid-crop
    tx = (_CROP - 1) / 2 - (x + w / 2) * scale
    ty = (_CROP - 1) / 2 - (y + h / 2) * scale
    m = np.array([[scale, 0.0, tx], [0.0, scale, ty]])
    raw = cv2.warpAffine(img, m, (_CROP, _CROP), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(40, 40, 40))
    annotated = raw.copy()
    offset = (0.5 * scale - 0.5 - tx, 0.5 * scale - 0.5 - ty)  # same mapping in draw_annotation
    draw_annotation(annotated, ann, scale=scale, offset=offset, dot=1.5)
    return [raw, annotated]


def _grid(tiles, columns):
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    rows = []
    for r in range(0, len(tiles), columns):
        row = [np.pad(t, ((0, h - t.shape[0]), (0, w - t.shape[1]), (0, 0)), constant_values=40)
               for t in tiles[r:r + columns]]
        row += [np.full((h, w, 3), 40, np.uint8)] * (columns - len(row))
        rows.append(np.concatenate([np.pad(t, ((4, 4), (4, 4), (0, 0)), constant_values=20)
                                    for t in row], 1))
    return np.concatenate(rows, 0)


def _header(width, title):
    head = np.full((_HEADER, width, 3), 20, np.uint8)
    cv2.putText(head, title, (12, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (240, 240, 240), 1,
                cv2.LINE_AA)
    x = 12
    for part, color in PART_COLORS.items():
        cv2.circle(head, (x + 6, 46), 6, color, -1, cv2.LINE_AA)
        cv2.putText(head, part, (x + 18, 52), cv2.FONT_HERSHEY_SIMPLEX, 0.55, color, 1, cv2.LINE_AA)
        x += 30 + 12 * len(part)
    cv2.putText(head, "filled = visible, hollow = occluded; under each image: face and hand, "
                      "raw and labelled", (x + 10, 52), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (200, 200, 200), 1, cv2.LINE_AA)
    return head
