"""Paint one benchmark image: background, clutter, 1..n people, occluders, lighting.

Everything is drawn at ``SUPERSAMPLE`` times the output size and averaged down, so edges are
smooth and keypoints can sit between pixels. Keypoint coordinates use the OpenCV / MMPose
convention: integer coordinates are pixel centres. A label image painted with the same shapes
(one value per person and body segment, 1 for clutter) tells which keypoints are occluded.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..parts import FACE, LEFT_HAND, NUM_KEYPOINTS, RIGHT_HAND
from .figure import Figure, Projection, Shape, build_figure
from .palette import Palette

SUPERSAMPLE = 2
_SHIFT = 4  # OpenCV drawing with 4 fractional bits: 1/16 pixel precision
_CLUTTER = 1
_PERSON_STRIDE = 32  # label = (person + 1) * 32 + segment

_LIMB_SEGMENTS = ("upper_arm", "forearm", "thigh", "shin", "hand", "foot")
SEGMENTS = ("torso", "neck", "head", "face") + tuple(
    f"{s}_{n}" for s in ("l", "r") for n in _LIMB_SEGMENTS)
SEGMENT_ID = {name: i + 1 for i, name in enumerate(SEGMENTS)}


def _keypoint_segments() -> list[tuple[int, ...]]:
    """For each keypoint, the segments that may cover it when it is seen (not occluded)."""
    body = [("face",), ("face",), ("face",), ("head",), ("head",)]
    for joint, near in (("shoulder", ("torso", "neck", "{s}_upper_arm")),
                        ("elbow", ("{s}_upper_arm", "{s}_forearm")),
                        ("wrist", ("{s}_forearm", "{s}_hand")),
                        ("hip", ("torso", "{s}_thigh")),
                        ("knee", ("{s}_thigh", "{s}_shin")),
                        ("ankle", ("{s}_shin", "{s}_foot"))):
        for s in ("l", "r"):
            body.append(tuple(n.format(s=s) for n in near))
    segs = body + [("l_foot", "l_shin")] * 3 + [("r_foot", "r_shin")] * 3 + [("face",)] * len(FACE)
    for s, hand in (("l", LEFT_HAND), ("r", RIGHT_HAND)):  # the root sits under the wrist marker
        segs += [(f"{s}_hand", f"{s}_forearm")] + [(f"{s}_hand",)] * (len(hand) - 1)
    assert len(segs) == NUM_KEYPOINTS
    return [tuple(SEGMENT_ID[n] for n in names) for names in segs]


KEYPOINT_SEGMENTS = _keypoint_segments()
_ALLOWED = np.zeros((NUM_KEYPOINTS, _PERSON_STRIDE), bool)  # keypoint x segment id -> may cover it
for _k, _segs in enumerate(KEYPOINT_SEGMENTS):
    _ALLOWED[_k, list(_segs)] = True


@dataclass
class RenderedPerson:
    """What the annotation needs to know about one painted person (output pixels)."""

    keypoints: np.ndarray  # (133, 2), clean
    in_frame: np.ndarray  # (133,) bool
    seen: np.ndarray  # (133,) bool: not occluded by anything
    face_towards: bool  # the face looks at the camera (else nose/eyes/face are not labelled)
    face_point_front: np.ndarray  # (68,) bool: not hidden by the head itself
    mask: np.ndarray  # (H, W) bool at output resolution (visible pixels), for box and area
    mask_ss: np.ndarray  # same at the supersampled resolution, for the polygon
    height_px: float
    part_px: dict  # face height, hand and foot length in pixels


# ----------------------------------------------------------------------------- drawing
def _fixed(points: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(points) * (1 << _SHIFT)).astype(np.int32)


def _fixed_xy(x: float, y: float) -> tuple[int, int]:
    """One point in fixed point, as :func:`_fixed` (Python's round is round-half-even, like np.rint;
    scaling by 16 is exact): a tuple for cv2.circle without numpy's per-call cost."""
    return round(x * (1 << _SHIFT)), round(y * (1 << _SHIFT))


_ELLIPSE_T = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)[:, None]
_ELLIPSE_COS, _ELLIPSE_SIN = np.cos(_ELLIPSE_T), np.sin(_ELLIPSE_T)


def _draw(canvas, labels, kind, pts, radii, color, label, chirality=0.0):
    """One shape on the colour canvas (anti-aliased) and the label image (hard edges).

    The arithmetic on single points runs on Python floats: the same IEEE operations, in the same
    order, as numpy's on 2-vectors (the output stays bit for bit the same), at a fraction of the cost.
    """
    color = tuple(float(c) for c in color)
    targets = [(canvas, color, cv2.LINE_AA)]
    if labels is not None:
        targets.append((labels, int(label), cv2.LINE_8))
    if kind == "poly":
        fixed = [_fixed(pts)]
        for img, col, aa in targets:
            cv2.fillPoly(img, fixed, col, aa, _SHIFT)
    elif kind == "disc":
        centre = _fixed_xy(*pts[0].tolist())
        r = max(int(round(radii[0] * (1 << _SHIFT))), 1)
        for img, col, aa in targets:
            cv2.circle(img, centre, r, col, -1, aa, _SHIFT)
    elif kind == "capsule":
        (x0, y0), (x1, y1) = pts.tolist()
        r0, r1 = radii
        dx, dy = x1 - x0, y1 - y0
        norm = max(np.hypot(dx, dy), 1e-6)  # numpy's hypot, as before (math.hypot may round differently)
        nx, ny = -dy / norm, dx / norm
        quad = np.array([[x0 + nx * r0, y0 + ny * r0], [x1 + nx * r1, y1 + ny * r1],
                         [x1 - nx * r1, y1 - ny * r1], [x0 - nx * r0, y0 - ny * r0]])
        fixed = [_fixed(quad)]
        ends = [(_fixed_xy(x0, y0), max(int(round(r0 * (1 << _SHIFT))), 1)),
                (_fixed_xy(x1, y1), max(int(round(r1 * (1 << _SHIFT))), 1))]
        for img, col, aa in targets:
            cv2.fillPoly(img, fixed, col, aa, _SHIFT)
            for centre, r in ends:
                cv2.circle(img, centre, r, col, -1, aa, _SHIFT)
    elif kind == "edge":
        (x0, y0), (x1, y1) = pts.tolist()
        r0, r1 = radii
        dx, dy = x1 - x0, y1 - y0
        norm = max(np.hypot(dx, dy), 1e-6)
        # image y points down, so (-dy, dx) is d turned clockwise as seen on screen
        nx, ny = -dy / norm * chirality, dx / norm * chirality
        band = np.array([[x0 + nx * r0, y0 + ny * r0], [x1 + nx * r1, y1 + ny * r1],
                         [x1 + nx * 0.2 * r1, y1 + ny * 0.2 * r1], [x0 + nx * 0.2 * r0, y0 + ny * 0.2 * r0]])
        fixed = [_fixed(band)]
        for img, col, aa in targets:
            cv2.fillPoly(img, fixed, col, aa, _SHIFT)
    elif kind == "ellipse":
        c, a, b = pts[0], pts[1] - pts[0], pts[2] - pts[0]
        fixed = [_fixed(c + a * _ELLIPSE_COS + b * _ELLIPSE_SIN)]
        for img, col, aa in targets:
            cv2.fillPoly(img, fixed, col, aa, _SHIFT)
    elif kind in ("line", "closed"):
        thickness = max(1, int(round(radii[0])))
        fixed = [_fixed(pts)]
        for img, col, aa in targets:
            cv2.polylines(img, fixed, kind == "closed", col, thickness, aa, _SHIFT)
    else:
        raise ValueError(f"unknown shape kind {kind!r}")


def _paint_person(canvas, labels, proj: Projection, person_label: int, face_towards: bool):
    shapes: list[Shape] = proj.figure.shapes
    # project every shape's points in one go (many tiny matrix products are slow)
    ends = np.cumsum([len(shape.points) for shape in shapes])
    all_pts, all_depth = proj.to_image(np.concatenate([shape.points for shape in shapes]))
    starts = np.concatenate([[0], ends[:-1]])
    mean_depth = np.add.reduceat(all_depth, starts) / (ends - starts)
    front_face = proj.face_point_visible()
    order = []
    for i, shape in enumerate(shapes):
        if shape.segment == "face" and not face_towards:
            continue  # the back of the head: hair only
        start = starts[i]
        pts = all_pts[start:ends[i]]
        z = (all_depth[start] if shape.kind == "ellipse" else mean_depth[i]) + shape.z_bias
        if shape.face_index and shape.kind == "line":  # draw only the runs the head does not hide
            front = front_face[list(shape.face_index)]
            for run in _runs(front):
                if len(run) > 1:
                    order.append((z, i, pts[run]))
            continue
        order.append((z, i, pts))
    order.sort(key=lambda item: (item[0], item[1]))
    for _, i, pts in order:
        shape = shapes[i]
        color = shape.color
        if not face_towards and shape.segment == "head" and shape.kind == "ellipse":
            color = _hair_color(shapes)
        radii = tuple(r * proj.scale for r in shape.radius)
        _draw(canvas, labels, shape.kind, pts, radii, color,
              person_label + SEGMENT_ID[shape.segment], shape.chirality)


def _runs(flags) -> list[list[int]]:
    """Index runs of consecutive True values."""
    runs, current = [], []
    for i, flag in enumerate(flags):
        if flag:
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [])


def _hair_color(shapes):
    return next(s.color for s in shapes if s.segment == "head" and s.kind == "ellipse")


# ----------------------------------------------------------------------------- scene
def _background(rng, width, height, palette: Palette, n_shapes: int):
    """Two-colour gradient, blotchy low-frequency colour, random shapes and a floor line."""
    c0, c1 = np.array(palette.muted(rng)), np.array(palette.muted(rng))
    angle = rng.uniform(0, 2 * np.pi)
    lw, lh = width // 8, height // 8  # smooth content: compute small, enlarge
    ys, xs = np.mgrid[0:lh, 0:lw].astype(np.float64)
    t = (np.cos(angle) * xs / lw + np.sin(angle) * ys / lh)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    img = c0 + (c1 - c0) * t[..., None]
    blotch = rng.uniform(-35, 35, (rng.integers(2, 6), rng.integers(2, 6), 3))
    img += cv2.resize(blotch, (lw, lh), interpolation=cv2.INTER_CUBIC)
    small = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    canvas = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:  # a floor / horizon
        y = rng.uniform(0.4, 0.9) * height
        floor = np.array([[0, y + rng.uniform(-0.1, 0.1) * height], [width, y],
                          [width, height], [0, height]])
        _draw(canvas, None, "poly", floor, (), palette.muted(rng), 0)
    for _ in range(n_shapes):
        _draw_clutter(rng, canvas, None, palette, width, height,
                      size=rng.uniform(0.05, 0.35) * min(width, height), label=0)
    return canvas


def _draw_clutter(rng, canvas, labels, palette, width, height, size, label, centre=None):
    """A random object: box, blob, polygon, a stick chain looking like a limb, or a pole."""
    if centre is None:
        centre = rng.uniform([0, 0], [width, height])
    color = palette.muted(rng)
    kind = rng.choice(5, p=[0.25, 0.25, 0.2, 0.15, 0.15])
    if kind == 0:  # box, rotated
        a = rng.uniform(0, np.pi)
        w, h = size * rng.uniform(0.4, 1.2, 2)
        corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        _draw(canvas, labels, "poly", corners @ rot.T + centre, (), color, label)
    elif kind == 1:  # blob
        _draw(canvas, labels, "disc", centre[None], (size * rng.uniform(0.25, 0.6),), color, label)
    elif kind == 2:  # irregular polygon
        n = rng.integers(3, 8)
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = size * rng.uniform(0.25, 0.6, n)
        pts = centre + np.column_stack([np.cos(ang) * rad, np.sin(ang) * rad])
        _draw(canvas, labels, "poly", pts, (), color, label)
    elif kind == 3:  # limb-like chain of sticks (a distractor for arms and legs)
        p = centre.copy()
        width_px = size * rng.uniform(0.06, 0.15)
        direction = rng.uniform(0, 2 * np.pi)
        for _ in range(rng.integers(1, 4)):
            direction += rng.uniform(-1.2, 1.2)
            q = p + size * rng.uniform(0.3, 0.6) * np.array([np.cos(direction), np.sin(direction)])
            _draw(canvas, labels, "capsule", np.array([p, q]), (width_px, width_px), color, label)
            p = q
    else:  # pole / table edge crossing the scene
        a = rng.uniform(0, np.pi)
        d = np.array([np.cos(a), np.sin(a)]) * size * 1.5
        w = size * rng.uniform(0.04, 0.12)
        _draw(canvas, labels, "capsule", np.array([centre - d, centre + d]), (w, w), color, label)


def _boxes_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-9)


def _place(rng, fig: Figure, params: dict, width, height, taken):
    """Viewpoint, size and position of one person; avoids covering earlier people completely."""
    ss = SUPERSAMPLE
    d = np.deg2rad
    if rng.random() < params["back_view_prob"]:
        yaw = np.pi + d(rng.uniform(-50, 50))
    else:
        yaw = d(np.clip(rng.normal(0, 35), -80, 80))
    strong = rng.random() <= params["rotation_prob"]
    roll = d(rng.uniform(-70, 70)) if strong else d(rng.uniform(-12, 12))
    lo, hi = params["person_height"]
    height_px = rng.uniform(lo, hi)
    probe = fig.project(yaw, roll, height_px, (0.0, 0.0))
    pts = probe.keypoints
    margin = 0.06 * height_px
    x0, y0 = pts.min(0) - margin
    x1, y1 = pts.max(0) + margin
    truncate = rng.random() < params["truncation_prob"]
    slack = 0.35 if truncate else 0.0
    box = None
    for _ in range(12):
        lo_x, hi_x = -x0 - slack * (x1 - x0), width - x1 + slack * (x1 - x0)
        lo_y, hi_y = -y0 - slack * (y1 - y0), height - y1 + slack * (y1 - y0)
        ox = rng.uniform(min(lo_x, hi_x), max(lo_x, hi_x))
        oy = rng.uniform(min(lo_y, hi_y), max(lo_y, hi_y))
        box = (x0 + ox, y0 + oy, x1 + ox, y1 + oy)
        if all(_boxes_iou(box, other) < 0.35 for other in taken):
            break
    taken.append(box)
    offset_ss = np.array([ox, oy]) * ss + (ss - 1) / 2.0  # output pixel centres -> supersampled
    return fig.project(yaw, roll, height_px * ss, offset_ss), height_px


def _finish(canvas_ss, rng, width, height):
    """Average down to the output size, then light, colour cast, blur and sensor noise.

    In place where possible; the random draws and every rounding are those of the plain expressions
    (a float64 product cast to float32 on output is the float64 product then ``astype``)."""
    img = cv2.resize(canvas_ss, (width, height), interpolation=cv2.INTER_AREA)
    a = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(a) * (np.arange(width) / width - 0.5)[None, :]
            + np.sin(a) * (np.arange(height) / height - 0.5)[:, None])
    gain = rng.uniform(0.65, 1.25) * (1.0 + rng.uniform(0.0, 0.5) * ramp)
    cast = rng.uniform(0.85, 1.15, 3)
    out = img.astype(np.float32)
    out *= np.multiply(gain[..., None], cast, out=np.empty(out.shape, np.float32), casting="same_kind")
    noise = rng.standard_normal(out.shape, dtype=np.float32)
    noise *= np.float32(rng.uniform(1.0, 5.0))
    out += noise
    img = np.clip(np.rint(out, out=out), 0, 255, out=out).astype(np.uint8)
    gamma = rng.uniform(0.8, 1.25)
    lut = np.array([round(255.0 * (i / 255.0) ** gamma) for i in range(256)], np.uint8)
    img = cv2.LUT(img, lut)
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.0))
    return img


def render_image(rng: np.random.Generator, params: dict) -> tuple[np.ndarray, list[RenderedPerson]]:
    """One image (H, W, 3 uint8 BGR) and its people in drawing order (far to near)."""
    width, height = params["image_size"]
    ss = SUPERSAMPLE
    W, H = width * ss, height * ss
    palette = Palette()
    canvas = _background(rng, W, H, palette, int(rng.integers(3, 12)))
    labels = np.zeros((H, W), np.uint16)
    n_min, n_max = params["persons_per_image"]
    count = int(rng.integers(n_min, n_max + 1))
    placed, taken = [], []
    for _ in range(count):
        fig = build_figure(rng, head_size=params["head_size"], hand_size=params["hand_size"],
                           foot_size=params["foot_size"], palette=palette)
        proj, height_px = _place(rng, fig, params, width, height, taken)
        placed.append((height_px, proj))
    placed.sort(key=lambda item: item[0])  # smaller people are further away: painted first
    for p, (_, proj) in enumerate(placed):
        _paint_person(canvas, labels, proj, (p + 1) * _PERSON_STRIDE, _faces_camera(proj))
    for p, (height_px, proj) in enumerate(placed):
        if rng.random() < params["occluder_prob"]:  # something in front of this person
            k = rng.integers(NUM_KEYPOINTS)
            _draw_clutter(rng, canvas, labels, palette, W, H, size=rng.uniform(0.15, 0.4) *
                          height_px * ss, label=_CLUTTER, centre=proj.keypoints[k])
    owner = labels // _PERSON_STRIDE  # 0: background or clutter, p + 1: person p
    people = [_measure(proj, p, labels, owner, height_px, width, height)
              for p, (height_px, proj) in enumerate(placed)]
    return _finish(canvas, rng, width, height), people


def _faces_camera(proj: Projection) -> bool:
    return bool(proj.face_normals_z[27] > 0.15)  # the top of the nose bridge looks at us


def _measure(proj: Projection, p: int, labels, owner, height_px, width, height) -> RenderedPerson:
    ss = SUPERSAMPLE
    kp_ss = proj.keypoints
    keypoints = (kp_ss - (ss - 1) / 2.0) / ss
    in_frame = ((keypoints[:, 0] >= 0) & (keypoints[:, 0] <= width - 1)
                & (keypoints[:, 1] >= 0) & (keypoints[:, 1] <= height - 1))
    H, W = labels.shape
    xy = np.rint(kp_ss).astype(int)
    dy, dx = np.mgrid[-1:2, -1:2]
    xs = np.clip(xy[:, 0, None] + dx.ravel(), 0, W - 1)  # (133, 9): each keypoint's 3x3 patch
    ys = np.clip(xy[:, 1, None] + dy.ravel(), 0, H - 1)
    patch = labels[ys, xs].astype(int)
    own = owner[ys, xs] == (p + 1)
    allowed = _ALLOWED[np.arange(NUM_KEYPOINTS)[:, None], patch % _PERSON_STRIDE]
    seen = in_frame & ((own & allowed).sum(1) >= 3)
    mask_ss = owner == (p + 1)
    coverage = cv2.resize(mask_ss.astype(np.uint8) * 4, (width, height),
                          interpolation=cv2.INTER_AREA)
    mask = coverage >= 2  # at least half of the output pixel is this person
    part = proj.figure.part_size
    scale = height_px
    return RenderedPerson(keypoints=keypoints, in_frame=in_frame, seen=seen,
                          face_towards=_faces_camera(proj),
                          face_point_front=proj.face_point_visible(), mask=mask, mask_ss=mask_ss,
                          height_px=height_px,
                          part_px={k: v * scale for k, v in part.items()})
