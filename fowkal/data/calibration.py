"""Part scales of labelled people, to hold the benchmark against real COCO-WholeBody labels.

Per person (one COCO-WholeBody annotation), :func:`measure_person` gives

- ``face_height``: vertical extent of the labelled face landmarks, ``hand_length``: wrist to middle
  fingertip, ``foot_length``: heel to big toe, each over the person's height (the box's height;
  the longer hand / foot where both are labelled, as foreshortening only shortens);
- per heatmap geometry ``g`` (:data:`GEOMETRIES`, MMPose's top-down crop, see
  :mod:`fowkal.data.topdown`): ``face_spacing@g``, the median distance of a face landmark to its
  nearest neighbour, in heatmap pixels; ``foreground@g``, the share of a keypoint's heatmap that
  FWAHR counts as foreground (p^γ ≥ 1/2 for the DARK target of σ = 2, γ = 0.01), and
  ``mean_p_gamma@g``, the mean p^γ over the map, both averaged over the person's keypoints.

:func:`summarize` gives medians, quartiles and a 95 % interval of the median of each measure per
source (real files, the benchmark); :func:`disagreements` lists the medians that differ by more
than a tolerance.
NaN marks a measure a person does not have (e.g. no hand labelled).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np

from ..parts import FACE, KEYPOINT_NAMES, NUM_FACE
from .topdown import annotation_keypoints, nearest_neighbour_distances, parse_bbox, to_heatmap

#: Heatmap geometries, (H x W) of the heatmap: the paper's (256x192 crops; the CPU profile's next
#: 128x96 crops land on the same heatmap) and the CPU profile's today (128x96 crops).
GEOMETRIES = MappingProxyType({
    "64x48": MappingProxyType({"input_size": (192, 256), "heatmap_size": (48, 64)}),
    "32x24": MappingProxyType({"input_size": (96, 128), "heatmap_size": (24, 32)}),
})
SIGMA = 2.0  # the configs' target σ (heatmap pixels)
GAMMA = 0.01  # WAHR/FWAHR's γ (the paper's, hard-coded in SWAHR)
#: Fewer labelled face landmarks than this and their extent no longer spans brow to chin.
MIN_FACE_POINTS = NUM_FACE // 2

PART_MEASURES = ("face_height", "hand_length", "foot_length")
HEATMAP_MEASURES = ("face_spacing", "foreground", "mean_p_gamma")
#: What each measure is, for tables.
DESCRIPTIONS = MappingProxyType({
    "face_height": "face height / person height",
    "hand_length": "hand length / person height",
    "foot_length": "foot length / person height",
    "face_spacing": "face-landmark spacing (heatmap px)",
    "foreground": "FWAHR foreground (share of a heatmap)",
    "mean_p_gamma": "mean p^γ over a heatmap",
})


def _index(name: str) -> int:
    return KEYPOINT_NAMES.index(name)


_SIDES = ("left", "right")
HAND_SPANS = tuple((_index(f"{s}_hand_root"), _index(f"{s}_middle_finger4")) for s in _SIDES)
FOOT_SPANS = tuple((_index(f"{s}_heel"), _index(f"{s}_big_toe")) for s in _SIDES)


def measure_names(geometries: Mapping = GEOMETRIES) -> tuple[str, ...]:
    """Every key :func:`measure_person` returns, in table order."""
    return PART_MEASURES + tuple(f"{m}@{g}" for g in geometries for m in HEATMAP_MEASURES)


def _longest(xy, labelled, spans) -> float:
    lengths = [math.dist(xy[a], xy[b]) for a, b in spans if labelled[a] and labelled[b]]
    return max(lengths) if lengths else math.nan


def fwahr_foreground(xy_heatmap, labelled, heatmap_size, *, sigma: float = SIGMA,
                     gamma: float = GAMMA) -> tuple[np.ndarray, np.ndarray]:
    """Per keypoint that gets a target: (share of its heatmap with p^γ ≥ 1/2, mean p^γ).

    The target is MMPose's DARK Gaussian (``MSRAHeatmap``, ``unbiased=True``): exp(-d²/2σ²) over the
    whole map, in float32 as the codec writes it (it underflows to 0 some 29 px from the keypoint
    for σ = 2). A labelled keypoint whose 3σ square misses the map gets no target (weight 0).
    """
    if sigma <= 0 or gamma <= 0:
        raise ValueError(f"sigma and gamma must be positive, got sigma={sigma}, gamma={gamma}")
    width, height = heatmap_size
    mu = np.asarray(xy_heatmap, dtype=np.float32)[np.asarray(labelled, dtype=bool)]
    radius = 3 * sigma
    misses = ((mu - radius >= (width, height)) | (mu + radius + 1 < 0)).any(1)
    mu = mu[~misses]
    x = np.arange(width, dtype=np.float32)
    y = np.arange(height, dtype=np.float32)
    d2 = (y[None, :, None] - mu[:, None, None, 1]) ** 2 + (x[None, None, :] - mu[:, None, None, 0]) ** 2
    p = np.exp(-d2 / np.float32(2 * sigma ** 2))
    p_gamma = p.astype(np.float64) ** gamma
    return (p_gamma >= 0.5).mean((1, 2)), p_gamma.mean((1, 2))


def measure_person(ann: Mapping, geometries: Mapping = GEOMETRIES, *, sigma: float = SIGMA,
                   gamma: float = GAMMA) -> dict[str, float]:
    """The measures of one COCO-WholeBody annotation (module docstring); NaN where a part is not
    labelled. Raises ValueError for a missing field, a bad box, or no labelled keypoint at all."""
    if "bbox" not in ann:
        raise ValueError(f"annotation {ann.get('id', '?')} has no 'bbox'")
    xy, labelled = annotation_keypoints(ann)
    if not labelled.any():
        raise ValueError(f"annotation {ann.get('id', '?')} has no labelled keypoint: no part to measure")
    person_height = parse_bbox(ann["bbox"])[3]
    face = [k for k in FACE if labelled[k]]
    out = {
        "face_height": (np.ptp(xy[face, 1]) / person_height if len(face) >= MIN_FACE_POINTS
                        else math.nan),
        "hand_length": _longest(xy, labelled, HAND_SPANS) / person_height,
        "foot_length": _longest(xy, labelled, FOOT_SPANS) / person_height,
    }
    for name, geometry in geometries.items():
        xy_heatmap = to_heatmap(xy, ann["bbox"], **geometry)
        spacing = nearest_neighbour_distances(xy_heatmap, labelled)["face"]
        out[f"face_spacing@{name}"] = float(np.median(spacing)) if spacing.size else math.nan
        share, mean = fwahr_foreground(xy_heatmap, labelled, geometry["heatmap_size"], sigma=sigma, gamma=gamma)
        out[f"foreground@{name}"] = float(share.mean()) if share.size else math.nan
        out[f"mean_p_gamma@{name}"] = float(mean.mean()) if mean.size else math.nan
    return out


def median_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval for the median: the order statistics x_(k), x_(n+1-k) with the
    largest k for which P(Binomial(n, 1/2) < k) <= (1 - level) / 2 (coverage >= level).
    (NaN, NaN) where n is too small for any such k (n < 6 at 95 %)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = np.sort(np.asarray(values, dtype=float))
    if np.isnan(x).any():
        raise ValueError("values hold NaN; drop the people without the measure first")
    n, tail, below, k = len(x), (1 - level) / 2, 0.0, 0
    while k < n and below + math.comb(n, k) / 2 ** n <= tail:  # P(B <= k) <= tail: k + 1 qualifies
        below += math.comb(n, k) / 2 ** n
        k += 1
    return (float(x[k - 1]), float(x[n - k])) if k >= 1 else (math.nan, math.nan)


def _people(annotations: Iterable[Mapping]) -> list[Mapping]:
    """The annotations that hold a person with labels: crowd regions and people without any
    labelled keypoint have nothing to measure."""
    people = []
    for ann in annotations:
        if ann.get("iscrowd", 0):
            continue
        if annotation_keypoints(ann)[1].any():
            people.append(ann)
    return people


def summarize(sources: Mapping[str, Iterable[Mapping]], geometries: Mapping = GEOMETRIES, *,
              sigma: float = SIGMA, gamma: float = GAMMA) -> dict[str, dict]:
    """Per source (name -> its annotations) and measure: ``n`` (people with the measure),
    ``median``, ``q1``, ``q3``, ``ci`` (:func:`median_interval`, 95 %) (NaN where n = 0); and
    ``people``, the people measured.

    Crowd regions and people without labels are left out; a source left with nobody raises."""
    out = {}
    for source, anns in sources.items():
        anns = list(anns)
        people = _people(anns)
        if not people:
            raise ValueError(f"source {source!r}: none of its {len(anns)} annotations is a "
                             "person with a labelled keypoint, nothing to measure")
        rows = [measure_person(ann, geometries, sigma=sigma, gamma=gamma) for ann in people]
        stats: dict = {"people": len(people)}
        for measure in measure_names(geometries):
            values = np.array([row[measure] for row in rows], dtype=float)
            values = values[~np.isnan(values)]
            q1, median, q3 = np.percentile(values, (25, 50, 75)) if values.size else (math.nan,) * 3
            stats[measure] = {"n": int(values.size), "median": float(median), "q1": float(q1),
                              "q3": float(q3), "ci": median_interval(values)}
        out[source] = stats
    return out


def disagreements(summary: Mapping[str, dict], reference: str, other: str, *,
                  tolerance: float = 0.25) -> dict[str, float]:
    """Measures whose median in ``other`` differs from ``reference``'s by more than ``tolerance``
    (relative): measure -> other / reference. Measures either source lacks are left out."""
    for name in (reference, other):
        if name not in summary:
            raise KeyError(f"no source {name!r} in the summary; it has {sorted(summary)}")
    out = {}
    for measure, ref in summary[reference].items():
        if measure == "people":
            continue
        value = summary[other][measure]["median"]
        if ref["n"] and summary[other][measure]["n"] and ref["median"] > 0:
            ratio = value / ref["median"]
            if abs(ratio - 1) > tolerance:
                out[measure] = ratio
    return out


def read_people(*paths) -> list[dict]:
    """The annotations of COCO-WholeBody files, each person once (by annotation id: the real
    evaluation example repeats the real sample's people). Raises where one id holds two people."""
    if not paths:
        raise ValueError("read_people needs at least one annotation file")
    people: dict = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or "annotations" not in data:
            raise ValueError(f"{path}: not a COCO annotation file (no 'annotations')")
        for ann in data["annotations"]:
            key = ann.get("id")
            if key is None:
                raise ValueError(f"{path}: an annotation has no 'id'")
            if key in people and people[key] != ann:
                raise ValueError(f"{path}: annotation id {key} differs from the one read before")
            people[key] = ann
    return list(people.values())
