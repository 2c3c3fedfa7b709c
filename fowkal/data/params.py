"""The benchmark's parameters: defaults, meaning, and validation before anything is written."""
from __future__ import annotations

import math
import numbers
from types import MappingProxyType

#: Bump when the generator's output changes for the same seed and parameters: it names the cache
#: (``benchmark_key``), and tests/test_data_generation.py pins the content of a small benchmark of
#: this version, so a change of output without a bump fails there. What each version changed: CHANGELOG.md.
GENERATOR_VERSION = "2.0.0"

#: Parts whose training labels get their own noise level (the paper's four parts).
NOISE_PARTS = ("body", "foot", "face", "hand")

#: What each part's annotation noise is measured against (std = noise * this length).
NOISE_SCALE = MappingProxyType({
    "body": "person height (crown to sole, standing)",
    "foot": "foot length (heel to toes)",
    "face": "face height (brow line to chin)",
    "hand": "hand length (wrist to middle finger tip)",
})

DEFAULT_PARAMS = MappingProxyType({
    "train_images": 1800,          # 2 people per image on average: ~3600 training people
    "val_images": 260,             # ~520 validation people
    "image_size": (320, 256),      # width, height in pixels
    "persons_per_image": (1, 3),   # inclusive range
    "person_height": (100.0, 200.0),  # standing height in pixels, uniform
    # Part sizes over the person's height, calibrated against real COCO-WholeBody people (the
    # benchmark chapter's calibration table; before generator 2.0.0: head 0.2, hand 0.12, foot 0.125).
    "head_size": 0.13,             # head height (a real adult: ~0.13)
    "hand_size": 0.10,             # hand length (a real adult: ~0.11)
    "foot_size": 0.09,             # foot segment, ankle to toes' line (drawn heel to big toe ~1.1x it)
    "back_view_prob": 0.1,         # people seen from behind (no face labelled)
    "rotation_prob": 0.1,          # strong in-plane rotation (up to 70 degrees)
    "truncation_prob": 0.1,        # people partly out of the frame
    "occluder_prob": 0.3,          # an object in front of a person
    # Train-label noise per part: Gaussian std as a fraction of the part's size (NOISE_SCALE).
    # Coarse parts are noisier relative to their size than dense ones (the paper's premise).
    "noise_body": 0.025,
    "noise_foot": 0.04,
    "noise_face": 0.01,
    "noise_hand": 0.015,
    # 'part': the four levels above. 'oks': every keypoint's std follows COCO-WholeBody's official OKS
    # sigma (fowkal.parts.SIGMAS, derived from how much annotators disagree, relative to the person's
    # scale): per coordinate noise_oks x sigma_k x sqrt(visible area) / sqrt(2), so the expected squared
    # displacement is (noise_oks x sigma_k x s)^2, the sigma's own definition; the part levels are unused.
    "noise_kind": "part",
    "noise_oks": 1.0,
    "val_noise": 0.0,              # validation-label noise, as a multiple of the train noise
    # The OKS scale: 'area' = visible silhouette area x area_scale (COCO's definition: 1).
    # OKS tolerances grow with sqrt(area_scale). 4 (tolerance x2) is the tightest at which the CPU
    # profile's 3-epoch MSE baseline (64x48 heatmaps, calibrated people) scores every part well off
    # the floor: whole-body AP 0.28, foot 0.14, body 0.32, face 0.35, hand 0.40 (seed 0;
    # at 2: 0.13 and foot 0.04; at COCO's 1: 0.03). Every record also scores its predictions at
    # 1, 2, 4, 8 and 16 (fowkal.runs.metrics.ap_at_tolerances). With the earlier 32x24 heatmaps: 16.
    "area_scale": 4.0,
    "det_jitter": 0.05,            # simulated person detector: box centre/size jitter (of box size)
    "det_miss_rate": 0.03,         # people the detector misses
    "det_false_positives": 0.5,    # mean false boxes per validation image
    "image_format": "jpg",         # jpg (like COCO) or png
    "jpeg_quality": 92,
})

_INT_RANGES = {"train_images": (1, 1_000_000), "val_images": (1, 1_000_000),
               "jpeg_quality": (50, 100)}
_INT_PAIRS = {"image_size": (32, 4096), "persons_per_image": (1, 9)}
_PROBABILITIES = ("back_view_prob", "rotation_prob", "truncation_prob", "occluder_prob",
                  "det_miss_rate")
_NON_NEGATIVE = tuple(f"noise_{p}" for p in NOISE_PARTS) + ("noise_oks", "val_noise", "det_jitter",
                                                               "det_false_positives")
NOISE_KINDS = ("part", "oks")
_FRACTIONS = {"head_size": (0.05, 0.4), "hand_size": (0.03, 0.3), "foot_size": (0.03, 0.3),
              "area_scale": (0.01, 100.0)}


def validate_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return int(seed)


def validate_params(params: dict) -> dict:
    """Defaults merged with ``params``, checked; raises TypeError/ValueError naming the problem."""
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise TypeError(f"unknown benchmark parameter(s) {unknown}; "
                        f"known: {sorted(DEFAULT_PARAMS)}")
    out = dict(DEFAULT_PARAMS)
    out.update(params)
    for name, (lo, hi) in _INT_RANGES.items():
        out[name] = _int(name, out[name], lo, hi)
    for name, (lo, hi) in _INT_PAIRS.items():
        out[name] = _pair(name, out[name], lambda n, v: _int(n, v, lo, hi))
        if name == "persons_per_image" and out[name][0] > out[name][1]:
            raise ValueError(f"persons_per_image: min {out[name][0]} > max {out[name][1]}")
    for name in _PROBABILITIES:
        out[name] = _float(name, out[name], 0.0, 1.0)
    for name in _NON_NEGATIVE:
        out[name] = _float(name, out[name], 0.0, math.inf, what="a non-negative number")
    for name, (lo, hi) in _FRACTIONS.items():
        out[name] = _float(name, out[name], lo, hi)
    width, height = out["image_size"]
    out["person_height"] = _pair("person_height", out["person_height"],
                                 lambda n, v: _float(n, v, 16.0, 4.0 * height))
    if out["person_height"][0] > out["person_height"][1]:
        raise ValueError(f"person_height: min {out['person_height'][0]} > max "
                         f"{out['person_height'][1]}")
    if out["noise_kind"] not in NOISE_KINDS:
        raise ValueError(f"noise_kind must be one of {NOISE_KINDS}, got {out['noise_kind']!r}")
    if out["image_format"] not in ("jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png', got {out['image_format']!r}")
    return out


def _int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


def _float(name, value, lo, hi, what=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be {what or f'in [{lo}, {hi}]'}, got {value}")
    return value


def _pair(name, value, check):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name} must be a pair (min, max) / (width, height), got {value!r}")
    return tuple(check(name, v) for v in value)
