"""What the data chapter shows about the embedded benchmark: what it holds, how noisy its labels are in
heatmap pixels, how close neighbouring keypoints lie on the heatmaps, and how its people compare with real
COCO-WholeBody people (:mod:`fowkal.data.calibration`'s measures, with what would close a gap).

Functions take the benchmark's annotation files (parsed JSON) and heatmap geometries (``{"input_size":
(w, h), "heatmap_size": (w, h)}``, as :data:`fowkal.viz.figures.PROFILE_SIZES`) and return Markdown or numbers.
"""
from __future__ import annotations

import math

import numpy as np

from .. import parts
from ..data import calibration
from ..data.topdown import annotation_keypoints, heatmap_scale, nearest_neighbour_distances

__all__ = ["SIGMA", "HALF_MAX_PX", "description_markdown", "part_length_px", "noise_markdown", "fully_labelled",
           "neighbour_rows", "neighbour_header", "calibration_markdown", "proposal", "disagreement_markdown",
           "foreground_text", "REAL_FILES", "real_annotation_files"]

SIGMA = 2.0  # the DARK target's σ in heatmap pixels
#: Half width at half maximum of the σ = 2 target: a neighbour closer than this has a target above 0.5 here.
HALF_MAX_PX = SIGMA * math.sqrt(2 * math.log(2))


def description_markdown(root, manifest: dict, train_info: dict) -> str:
    """What the benchmark holds: images, people, views, occlusion, detections (from its manifest and
    the training annotations' ``info``)."""
    counts, params = manifest["counts"], train_info["params"]
    width, height = params["image_size"]
    return "\n".join([
        f"Benchmark `{root.name}` (generator {manifest['generator_version']}, seed {manifest['seed']}):",
        "",
        "| split | images | people | labels |",
        "|:---|---:|---:|:---|",
        f"| train | {counts['train']['images']} | {counts['train']['persons']} | noisy (below) |",
        f"| val | {counts['val']['images']} | {counts['val']['persons']} | "
        + ("exact" if params["val_noise"] == 0 else f"noisy ({params['val_noise']:g}× the train noise)") + " |",
        "",
        f"Images are {width}×{height} pixels with {params['persons_per_image'][0]}–{params['persons_per_image'][1]}"
        f" people each, {params['person_height'][0]:g}–{params['person_height'][1]:g} px tall. Heads are drawn"
        f" {params['head_size']:g} of the body height, hands {params['hand_size']:g} and feet"
        f" {params['foot_size']:g} (ankle to toes), the sizes of real COCO-WholeBody people (see the"
        " calibration below). People are seen from"
        f" behind ({params['back_view_prob']:.0%}: no face labelled), strongly rotated ({params['rotation_prob']:.0%}),"
        f" cut by the image border ({params['truncation_prob']:.0%}) or partly hidden behind an object"
        f" ({params['occluder_prob']:.0%}). The validation set comes with simulated person detections (box jitter"
        f" {params['det_jitter']:.0%} of the box size, {params['det_miss_rate']:.0%} of people missed,"
        f" {params['det_false_positives']:g} false boxes per image on average), like the person detections the"
        " paper evaluates with.",
    ])


def part_length_px(ann: dict, part: str) -> float:
    """A rough size of ``part`` of one labelled person, in image pixels (NaN where it is not labelled)."""
    xy, labelled = annotation_keypoints(ann)
    if part == "body":
        return ann["bbox"][3]
    if part == "face":
        return ann["face_box"][3] if ann["face_valid"] else np.nan
    if part == "hand":
        sides = [max(ann[f"{s}hand_box"][2:]) for s in ("left", "right") if ann[f"{s}hand_valid"]]
        return max(sides) if sides else np.nan
    heel_toe = [np.hypot(*(xy[parts.FOOT[h]] - xy[parts.FOOT[t]]))
                for t, h in ((0, 2), (3, 5)) if labelled[parts.FOOT[t]] and labelled[parts.FOOT[h]]]
    return max(heel_toe) if heel_toe else np.nan


def noise_markdown(train_info: dict, annotations: list[dict], size: dict) -> str:
    """The training labels' noise per part, relative to the part's size and in heatmap pixels of ``size`` for
    the median person of ``annotations``, and whether the coarse parts are the noisier ones."""
    noise = train_info["annotation_noise"]
    rows = [f"| part | train label noise (std) | relative to | ≈ heatmap px ({size['heatmap_size'][1]}×{size['heatmap_size'][0]}) |",
            "|:---|---:|:---|---:|"]
    px = {}
    for part, std in noise["parts"].items():
        in_heatmap = [std * part_length_px(a, part) * heatmap_scale(a["bbox"], **size) for a in annotations]
        px[part] = float(np.nanmedian(in_heatmap))
        rows.append(f"| {part} | {std:g} | {noise['std_unit'][part]} | {px[part]:.2f} |")
    rel = noise["parts"]
    coarse_noisier = min(rel["body"], rel["foot"]) > max(rel["face"], rel["hand"])
    return ("\n".join(rows) + f"\n\nNoise kind: {noise['kind']}. Relative to their own size, the coarse parts"
            + (" are noisier than the dense ones (the paper's premise for treating them differently)"
               if coarse_noisier else " are not all noisier than the dense ones")
            + f"; in heatmap pixels of the CPU profile, the noise is {min(px.values()):.2f}–{max(px.values()):.2f}"
              " px for the median person.")


def fully_labelled(ann: dict):
    """Sort key that prefers a person with every part labelled, then the most labels, then the tallest."""
    labelled = annotation_keypoints(ann)[1]
    valid = all(ann[f"{p}_valid"] for p in ("face", "lefthand", "righthand", "foot"))
    return valid, int(labelled.sum()), ann["bbox"][3]


def neighbour_header() -> list[str]:
    return ["| people | heatmap | " + " | ".join(parts.PARTS) + " |", "|---|---|" + "---:|" * len(parts.PARTS)]


def neighbour_rows(annotations: list[dict], label: str, sizes: dict) -> list[str]:
    """Per heatmap size: each part's median distance from a keypoint to its nearest neighbour of the same
    part, in heatmap pixels, and the share closer than :data:`HALF_MAX_PX`."""
    rows = []
    for size in sizes.values():
        pooled = {p: [] for p in parts.PARTS}
        for ann in annotations:
            xy, labelled = annotation_keypoints(ann)
            scale = heatmap_scale(ann["bbox"], **size)
            for part, d in nearest_neighbour_distances(xy * scale, labelled).items():
                pooled[part].append(d)
        cells = []
        for part in parts.PARTS:
            d = np.concatenate(pooled[part]) if pooled[part] else np.zeros(0)
            cells.append("—" if d.size == 0 else f"{np.median(d):.1f} px, {np.mean(d < HALF_MAX_PX):.0%}")
        w, h = size["heatmap_size"]
        rows.append(f"| {label} | {h}×{w} | " + " | ".join(cells) + " |")
    return rows


def _num(measure, value):
    """A value as the table prints it: heatmap pixels to 2 decimals, shares and ratios to 3."""
    return f"{value:.{2 if measure.startswith('face_spacing') else 3}f}"


def _cell(measure, stats):
    if stats["n"] == 0:
        return "—"
    return f"{_num(measure, stats['median'])} ({_num(measure, stats['q1'])}–{_num(measure, stats['q3'])}), n = {stats['n']}"


def _label(measure):
    """(what, heatmap) of a measure name such as 'foreground@64x48'."""
    name, _, geometry = measure.partition("@")
    return calibration.DESCRIPTIONS[name], geometry.replace("x", " × ") if geometry else ""


def _text(measure):
    what, geometry = _label(measure)
    return f"{what} at {geometry}" if geometry else what


def calibration_markdown(calib: dict) -> str:
    """:func:`fowkal.data.calibration.summarize`'s table: median (quartiles) per source, and benchmark / real."""
    names = list(calib)
    have_real = "real" in calib
    rows = ["| measure | heatmap | " + " | ".join(names) + " |" + (" benchmark / real |" if have_real else ""),
            "|:---|:---|" + "---:|" * (len(names) + have_real)]
    for measure in calibration.measure_names():
        what, geometry = _label(measure)
        ratio = ""
        if have_real:
            real_m, bench_m = calib["real"][measure], calib["benchmark"][measure]
            ratio = f" {bench_m['median'] / real_m['median']:.2f} |" if real_m["n"] and bench_m["n"] else " — |"
        rows.append(f"| {what} | {geometry or '—'} | " + " | ".join(_cell(measure, calib[n][measure]) for n in names)
                    + " |" + ratio)
    return "\n".join(rows)


def proposal(measure: str, ratio: float, params: dict) -> str:
    """The benchmark change that would bring ``measure``'s median to the real one."""
    name = measure.partition("@")[0]
    if name == "face_height":
        return (f"draw heads `head_size` = {params['head_size'] / ratio:.2f} of the body height instead of"
                f" {params['head_size']:g} (the face landmarks span a fixed share of the drawn head)")
    if name == "hand_length":
        return f"`hand_size` = {params['hand_size'] / ratio:.2f} instead of {params['hand_size']:g}"
    if name == "foot_length":
        return f"`foot_size` = {params['foot_size'] / ratio:.3f} instead of {params['foot_size']:g}"
    if name == "face_spacing":
        return "none of its own: the spacing scales with the face, so the head size above closes it too"
    return "none: this is set by where the keypoints fall in the crop, not by the benchmark"


def disagreement_markdown(calib: dict, params: dict, tolerance: float = 0.25) -> str:
    """Each measure whose benchmark median is more than ``tolerance`` off the real one: by how much, whether the
    real people are enough to tell, and the parameter that would close it; then the measures within it."""
    off = calibration.disagreements(calib, "real", "benchmark", tolerance=tolerance)
    lines = []
    for measure, ratio in off.items():
        real_m, bench_m = calib["real"][measure], calib["benchmark"][measure]
        lo, hi = real_m["ci"]
        interval = f"{_num(measure, lo)}–{_num(measure, hi)} ({real_m['n']} people)"
        if np.isnan(lo):
            sure = f"too few real people ({real_m['n']}) for an interval"
        elif lo <= bench_m["median"] <= hi:
            sure = f"but the real median's 95 % interval, {interval}, holds the benchmark's: more real people must tell"
        else:
            sure = f"outside the real median's 95 % interval, {interval}"
        lines.append(f"- **{_text(measure)}**: benchmark {_num(measure, bench_m['median'])}, real"
                     f" {_num(measure, real_m['median'])} ({ratio:.2f} ×), {sure}."
                     f" Proposed: {proposal(measure, ratio, params)}.")
    agree = [_text(m) for m in calibration.measure_names() if m not in off and calib["real"][m]["n"]]
    closing = f"Within 25 % of the real median: {'; '.join(agree)}." if agree else ""
    return "\n".join(lines or ["Every median is within 25 % of the real one."]) + "\n\n" + closing


def foreground_text(calib: dict) -> str:
    """The share of a keypoint's heatmap that FWAHR treats as foreground, per geometry and source."""
    names = list(calib)
    share = {(n, g): calib[n][f"foreground@{g}"]["median"] for n in names for g in calibration.GEOMETRIES}
    return " ".join(
        f"On {g.replace('x', ' × ')}, " + " and ".join(f"{share[n, g]:.0%} ({n})" for n in names)
        + " of a keypoint's heatmap is foreground." for g in calibration.GEOMETRIES) + (
        " Where nearly the whole map is foreground, FWAHR's split of foreground and background has"
        " almost nothing to act on.")


#: The real COCO-WholeBody annotation files the chapter reads where the environment names their folders.
REAL_FILES = {"FOWKAL_REAL_SAMPLE": "test_coco_wholebody.json", "FOWKAL_EVAL_EXAMPLE": "example_gt.json"}


def real_annotation_files() -> list:
    """The files of :data:`REAL_FILES` whose folder the environment names and that exist."""
    import os
    from pathlib import Path

    return [Path(os.environ[var]) / name for var, name in REAL_FILES.items()
            if os.environ.get(var) and (Path(os.environ[var]) / name).is_file()]
