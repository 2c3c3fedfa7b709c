"""An iBUG-68 face template in 3D, in head units (face spans x in [-1, 1], y down, z to the viewer).

The 68 points follow the iBUG-68 order (``fowkal.parts.FACE_REGIONS``): jaw 0-16 from the
subject's right temple round the chin to the left temple, brows 17-26, nose bridge 27-30, nose
base 31-35, eyes 36-47, outer lip 48-59, inner lip 60-67. Image-left is the subject's right (a
person facing the camera), so x < 0 holds the right-side points.
"""
from __future__ import annotations

import numpy as np

from ..parts import FACE_REGIONS, NUM_FACE


def _jaw() -> np.ndarray:
    t = np.linspace(0.0, np.pi, 17)
    x = -np.cos(t) * 0.92
    # a slightly squared chin: the sine raised to a power < 1 keeps the cheeks wide
    y = -0.22 + 1.22 * np.sin(t) ** 0.8
    return np.stack([x, y], 1)


def _brow(side: int) -> np.ndarray:
    x = np.linspace(0.80, 0.16, 5) * side  # right brow (side=-1) runs outer -> inner
    y = -0.50 - 0.10 * np.sin(np.linspace(0.2, np.pi - 0.4, 5))
    pts = np.stack([x, y], 1)
    return pts if side < 0 else pts[::-1]  # left brow runs inner -> outer


_RIGHT_EYE = np.array([[-0.64, -0.26], [-0.51, -0.33], [-0.35, -0.33],
                       [-0.22, -0.25], [-0.35, -0.19], [-0.51, -0.19]])
_NOSE_BRIDGE = np.array([[0.0, -0.32], [0.0, -0.16], [0.0, 0.0], [0.0, 0.15]])
_NOSE_BASE = np.array([[-0.20, 0.25], [-0.10, 0.28], [0.0, 0.30], [0.10, 0.28], [0.20, 0.25]])
_OUTER_LIP = np.array([[-0.40, 0.58], [-0.25, 0.50], [-0.10, 0.47], [0.0, 0.49], [0.10, 0.47],
                       [0.25, 0.50], [0.40, 0.58], [0.26, 0.68], [0.12, 0.72], [0.0, 0.73],
                       [-0.12, 0.72], [-0.26, 0.68]])
_INNER_LIP = np.array([[-0.31, 0.58], [-0.11, 0.555], [0.0, 0.56], [0.11, 0.555],
                       [0.31, 0.58], [0.11, 0.605], [0.0, 0.61], [-0.11, 0.605]])


def template_2d() -> np.ndarray:
    """The neutral 68-point face, shape (68, 2)."""
    left_eye = _RIGHT_EYE[[3, 2, 1, 0, 5, 4]] * [-1, 1]  # mirror, keeping iBUG order 42..47
    pts = np.concatenate([_jaw(), _brow(-1), _brow(1), _NOSE_BRIDGE, _NOSE_BASE,
                          _RIGHT_EYE, left_eye, _OUTER_LIP, _INNER_LIP])
    assert len(pts) == NUM_FACE
    return pts


def depth(points_2d: np.ndarray) -> np.ndarray:
    """Depth of face points on an ellipsoidal head, with the nose sticking out."""
    x, y = points_2d[:, 0], points_2d[:, 1] - 0.15
    z = 0.75 * np.sqrt(np.clip(1.0 - (x / 1.0) ** 2 - (y / 1.15) ** 2, 0.0, None))
    nose = np.array(FACE_REGIONS["nose_bridge"] + FACE_REGIONS["nose_base"])
    bridge_height = np.array([0.08, 0.16, 0.26, 0.34, 0.10, 0.14, 0.16, 0.14, 0.10])
    z[nose] += bridge_height
    return z


def expression(rng: np.random.Generator) -> np.ndarray:
    """A random face: neutral template with brow raise, eye opening, smile and mouth opening."""
    pts = template_2d().copy()
    brows = np.array(FACE_REGIONS["right_brow"] + FACE_REGIONS["left_brow"])
    pts[brows, 1] -= rng.uniform(-0.04, 0.10)
    for eye in ("right_eye", "left_eye"):
        idx = np.array(FACE_REGIONS[eye])
        centre = pts[idx, 1].mean()
        pts[idx, 1] = centre + (pts[idx, 1] - centre) * rng.uniform(0.3, 1.3)
    mouth = np.array(FACE_REGIONS["outer_lip"] + FACE_REGIONS["inner_lip"])
    corners = np.array([48, 54, 60, 64])
    pts[corners, 1] -= rng.uniform(-0.04, 0.08)  # smile (up) or frown (down)
    width = rng.uniform(0.85, 1.2)
    pts[mouth, 0] *= width
    opening = rng.uniform(0.0, 0.22) if rng.random() < 0.6 else 0.0
    lower = np.array([55, 56, 57, 58, 59, 65, 66, 67])
    pts[lower, 1] += opening
    pts += rng.normal(0.0, 0.012, pts.shape)  # individual face shape
    return pts
