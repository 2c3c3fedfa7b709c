"""Colours of people and scenes (BGR, 0..255), drawn from a random generator.

Both sides of a person get the same colours: MMPose's flip augmentation mirrors the image and
swaps the left/right labels, so a colour code for sides would be contradicted by half of the
training crops. Sides are told apart by anatomy and by chiral edge bands (``figure._edge``).
"""
from __future__ import annotations

import colorsys

import numpy as np

_SKIN = np.array([[205, 222, 245], [160, 190, 230], [120, 160, 210], [90, 125, 175],
                  [60, 85, 130], [45, 60, 95]], dtype=float)  # light .. dark, BGR


def hsv(h: float, s: float, v: float) -> tuple:
    """BGR from hue in degrees, saturation and value in 0..1."""
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360.0, s, v)
    return (b * 255.0, g * 255.0, r * 255.0)


class Palette:
    def person(self, rng: np.random.Generator) -> dict:
        u = rng.uniform
        skin = _SKIN[rng.integers(len(_SKIN))] * u(0.92, 1.08)
        marker_hue = u(0, 360)
        return {
            "skin": tuple(np.clip(skin, 0, 255)),
            "hair": hsv(u(15, 40), u(0.2, 0.8), u(0.05, 0.6)),
            "shirt": hsv(u(0, 360), u(0.1, 0.8), u(0.25, 0.95)),
            "pants": hsv(u(0, 360), u(0.1, 0.7), u(0.15, 0.7)),
            "shoes": hsv(u(0, 360), u(0.0, 0.5), u(0.1, 0.5)),
            "long_sleeves": bool(rng.random() < 0.5),
            "marker": hsv(marker_hue, u(0.75, 1.0), u(0.85, 1.0)),  # joint balls, toe caps
            "glove": hsv(marker_hue + u(-30, 30), u(0.3, 0.7), u(0.8, 1.0)),
            "knuckle": hsv(0, 0, u(0.05, 0.2)),
            "eye_white": hsv(0, 0, u(0.85, 1.0)),
            "iris": hsv(u(0, 360), u(0.3, 0.8), u(0.05, 0.35)),
            "lips": hsv(u(-15, 10), u(0.45, 0.75), u(0.45, 0.8)),
            "mouth": hsv(u(-10, 10), u(0.6, 0.9), u(0.1, 0.3)),
        }

    def muted(self, rng: np.random.Generator) -> tuple:
        """A background / clutter colour."""
        return hsv(rng.uniform(0, 360), rng.uniform(0.0, 0.6), rng.uniform(0.15, 0.95))
