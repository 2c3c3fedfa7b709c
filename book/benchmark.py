# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   fowkal:
#     reads_data: true
# ---

# %% [markdown]
# # The data: dense and coarse keypoints
#
# COCO-WholeBody cannot be downloaded where this book is built, and training HRNet-w32 on it takes
# GPUs. The CPU reproduction therefore trains on an **embedded benchmark**: images of cartoon
# people drawn by `fowkal.data`, annotated with all 133 COCO-WholeBody keypoints and written in the
# COCO-WholeBody v1.0 format, so that MMPose loads and scores them exactly like the real data set
# (same annotation fields, same evaluation with the official per-keypoint tolerances). It is
# generated on first use (about a minute on two cores) and cached under `data/`.
#
# This page shows what the benchmark holds and how its labels were made noisy, then the paper's
# Fig. 1: the training targets of dense and of coarse keypoints.
#
# This page is executed again whenever what it reads changes (the benchmark generator, and the
# real COCO-WholeBody files if you set `FOWKAL_REAL_SAMPLE` / `FOWKAL_EVAL_EXAMPLE`), so it always
# shows the current data.

# %% tags=["hide-input"]
import json
import os
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

from fowkal.viz import figures, pages, style
from fowkal import parts
from fowkal.data import TRAIN_ANN, VAL_ANN, calibration, default_benchmark, read_manifest
from fowkal.viz.contact_sheet import contact_sheet

style.use_style()

# %% [markdown]
# ## What it is

# %%
root = default_benchmark()  # generated on first use, then reused
manifest = read_manifest(root)
train_info = json.loads((root / TRAIN_ANN).read_text())["info"]
val = json.loads((root / VAL_ANN).read_text())

# %% tags=["hide-input"]
counts = manifest["counts"]
params = train_info["params"]
width, height = params["image_size"]
display(Markdown("\n".join([
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
])))

# %% [markdown]
# A contact sheet of validation images, with every person's labels drawn (under each image:
# close-ups of a face and a hand, raw and labelled). It is written to
# `figures/benchmark_contact_sheet.png` by `fowkal.viz.contact_sheet`.

# %%
sheet = contact_sheet(root, style.FIGURES_DIR / "benchmark_contact_sheet.png", split="val")

# %% tags=["hide-input"]
display(Image(filename=str(sheet), width=760))

# %% [markdown]
# ## Label noise, per part
#
# Real annotators disagree, and by different amounts on different parts. The benchmark's training
# labels get Gaussian noise whose size is set per part, relative to the part's own size; the
# validation labels are exact. The values come from the data set's own `info` block (a COCO
# annotation file's header), so they are the ones the training data was made with. The last
# column converts the noise into heatmap pixels of the CPU profile (64 × 48) for the median
# validation person, with the part measured from its labels (an approximation: boxes and
# keypoint distances, not the generator's own lengths).

# %% tags=["hide-input"]
noise = train_info["annotation_noise"]
cpu = figures.PROFILE_SIZES["cpu"]


def part_length_px(ann, part):
    """A rough size of ``part`` of one labelled person, in image pixels."""
    xy, labelled = figures.annotation_keypoints(ann)
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


rows = [f"| part | train label noise (std) | relative to | ≈ heatmap px ({cpu['heatmap_size'][1]}×{cpu['heatmap_size'][0]}) |",
        "|:---|---:|:---|---:|"]
px = {}
for part, std in noise["parts"].items():
    in_heatmap = [std * part_length_px(a, part)
                  * figures.heatmap_scale(a["bbox"], **cpu) for a in val["annotations"]]
    px[part] = float(np.nanmedian(in_heatmap))
    rows.append(f"| {part} | {std:g} | {noise['std_unit'][part]} | {px[part]:.2f} |")
rel = noise["parts"]
coarse_noisier = min(rel["body"], rel["foot"]) > max(rel["face"], rel["hand"])
display(Markdown("\n".join(rows) + f"\n\nNoise kind: {noise['kind']}. Relative to their own size, the coarse parts"
                 + (" are noisier than the dense ones (the paper's premise for treating them differently)"
                    if coarse_noisier else " are not all noisier than the dense ones")
                 + f"; in heatmap pixels of the CPU profile, the noise is {min(px.values()):.2f}–{max(px.values()):.2f}"
                   " px for the median person."))

# %% [markdown]
# ## Fig. 1: one σ for dense and coarse keypoints
#
# The training target of every keypoint is a Gaussian of σ = 2 *heatmap* pixels, whatever the
# part. Below, one validation person as the training pipeline sees it (MMPose's
# `GetBBoxCenterScale`, `TopdownAffine` and `GenerateTarget` with the DARK codec, the transforms
# of the configs), at the CPU profile's heatmap size, the paper's 64 × 48 ("CPU now", from its 128 × 96
# crop), and at the 32 × 24 it predicted until session 5 ("CPU before", the same crop).
# Each heatmap panel shows, per pixel, the largest target over a part's keypoints: (b) the 110
# dense keypoints of face and hands merge into a few blobs, each heatmap "covering" many
# neighbours; (c) the 23 coarse keypoints of body and feet mostly stay apart, except each foot's
# three (toes and heel), which sit close to each other and to the ankle. (d) zooms into the face:
# its 68 keypoints share a few heatmap pixels.

# %% tags=["hide-input"]
files = {image["id"]: image["file_name"] for image in val["images"]}


def fully_labelled(ann):
    """Prefer a person with every part labelled, then the tallest."""
    labelled = figures.annotation_keypoints(ann)[1]
    valid = all(ann[f"{p}_valid"] for p in ("face", "lefthand", "righthand", "foot"))
    return valid, int(labelled.sum()), ann["bbox"][3]


def samples_of(image_bgr, ann):
    xy, labelled = figures.annotation_keypoints(ann)
    return {label: figures.topdown_sample(image_bgr, ann["bbox"], xy, labelled, **size)
            for label, size in figures.HEATMAP_SIZES.items()}


person = max(val["annotations"], key=fully_labelled)
image = cv2.imread(str(root / "images" / "val" / files[person["image_id"]]))
benchmark_samples = samples_of(image, person)
fig = figures.fig1_heatmaps(benchmark_samples)
style.save_figure(fig, "fig1_heatmaps")
plt.show()

# %% [markdown]
# How close are neighbours, in heatmap pixels, over every labelled person of the validation set?
# For each keypoint, the distance to the nearest other keypoint of the same part (of the same
# hand). Where it is below 2.35 px (the half width of the Gaussian at half its height, for σ = 2),
# the neighbour's target is above 0.5 at this keypoint: the two can hardly be told apart by the
# target alone.

# %% tags=["hide-input"]
HALF_MAX_PX = figures.SIGMA * np.sqrt(2 * np.log(2))


def neighbour_table(annotations, label):
    rows = []
    for size in figures.HEATMAP_SIZES.values():
        pooled = {p: [] for p in parts.PARTS}
        for ann in annotations:
            xy, labelled = figures.annotation_keypoints(ann)
            scale = figures.heatmap_scale(ann["bbox"], **size)
            for part, d in figures.nearest_neighbour_distances(xy * scale, labelled).items():
                pooled[part].append(d)
        cells = []
        for part in parts.PARTS:
            d = np.concatenate(pooled[part]) if pooled[part] else np.zeros(0)
            cells.append("—" if d.size == 0 else f"{np.median(d):.1f} px, {np.mean(d < HALF_MAX_PX):.0%}")
        w, h = size["heatmap_size"]
        rows.append(f"| {label} | {h}×{w} | " + " | ".join(cells) + " |")
    return rows


header = ["| people | heatmap | " + " | ".join(parts.PARTS) + " |", "|---|---|" + "---:|" * len(parts.PARTS)]
people = [a for a in val["annotations"] if a["num_keypoints"] > 0]
table_rows = neighbour_table(people, f"benchmark val ({len(people)})")
display(Markdown("\n".join(header + table_rows)
                 + "\n\nEach cell: median nearest-neighbour distance, and the share of keypoints whose"
                   " nearest neighbour is closer than 2.35 px."))

# %% [markdown]
# By this measure the paper's split is clear for the face and the hands (the nearest neighbour a
# fraction of a pixel away, at both sizes) and for the body (pixels apart, more so at 64 × 48).
# The feet lie in between: the three keypoints of a foot are a pixel or two apart, yet the paper
# counts them as coarse, with the body (their annotations also vary more, see the OKS σ in the
# introduction).

# %% [markdown]
# ## The same on real COCO-WholeBody images
#
# With the environment variable `FOWKAL_REAL_SAMPLE` pointing at a folder of real COCO-WholeBody
# images and annotations (the 4-image sample from MMPose's test data has the layout), the book
# draws the same figure for a real person. Those images are only rendered into the built book,
# never copied into the repository or into `figures/`.

# %% tags=["hide-input"]
real_root = os.environ.get("FOWKAL_REAL_SAMPLE", "")
real_ann = Path(real_root) / "test_coco_wholebody.json" if real_root else None
if not real_root:
    display(Markdown(pages.admonition(
        "Real sample not shown",
        "`FOWKAL_REAL_SAMPLE` is not set, so this build shows the benchmark only. Set it to the folder "
        "holding `test_coco_wholebody.json` and its images, then rebuild.", kind="note")))
elif not real_ann.is_file():
    display(Markdown(pages.admonition(
        "Real sample not found",
        f"`FOWKAL_REAL_SAMPLE` is set to `{real_root}`, but `{real_ann.name}` is not there.", kind="warning")))
else:
    real = json.loads(real_ann.read_text())
    real_files = {image["id"]: image["file_name"] for image in real["images"]}
    real_person = max(real["annotations"], key=fully_labelled)
    real_image = cv2.imread(str(Path(real_root) / real_files[real_person["image_id"]]))
    fig = figures.fig1_heatmaps(samples_of(real_image, real_person),
                                suptitle=f"COCO val2017 image {real_person['image_id']} (COCO-WholeBody v1.0 labels)")
    plt.show()  # shown in the built book only; never saved to figures/
    real_people = [a for a in real["annotations"] if a["num_keypoints"] > 0]
    display(Markdown("\n".join(header + table_rows
                               + neighbour_table(real_people, f"real sample ({len(real_people)})"))
                     + "\n\nSame measure as above, benchmark and real sample side by side."))

# %% [markdown]
# Since session 5 the benchmark draws heads, hands and feet at the sizes of real people (the
# calibration below), so its dense parts crowd the heatmaps about as much as COCO's do: a face
# (0.087 of the person's height, whose box fills about 4/5 of the crop's height) is about 2 heatmap
# pixels tall at 32 × 24 and 4–5 at 64 × 48. The contrast the paper builds on, dense parts whose
# targets overlap next to coarse ones whose targets stand alone, holds in both.

# %% [markdown]
# ## Calibrated against real people
#
# Are the benchmark's people built like real ones, and do their dense parts crowd the heatmaps as
# much as real ones do? The same code (`fowkal.data.calibration`) measures the benchmark's validation
# people and the real COCO-WholeBody people the book can read (`FOWKAL_REAL_SAMPLE` and
# `FOWKAL_EVAL_EXAMPLE`: 26 people of 5 COCO val2017 images, each counted once):
#
# - face height (vertical extent of the labelled face landmarks, brow to chin), hand length (wrist to
#   middle fingertip) and foot length (heel to big toe), each over the person's height (its box);
# - at the paper's heatmap (64 × 48, also the CPU profile's since session 5) and the 32 × 24 the CPU
#   profile had before, in heatmap pixels of MMPose's top-down crop: the median distance of a
#   face landmark to its nearest neighbour, and the share of a keypoint's heatmap that FWAHR treats as
#   foreground (p^γ ≥ 1/2 for the σ = 2 DARK target, γ = 0.01: within 23.5 px of the keypoint),
#   with the mean p^γ over the map, averaged over each person's keypoints.

# %%
REAL_FILES = {"FOWKAL_REAL_SAMPLE": "test_coco_wholebody.json", "FOWKAL_EVAL_EXAMPLE": "example_gt.json"}
real_files = [Path(os.environ[var]) / name for var, name in REAL_FILES.items()
              if os.environ.get(var) and (Path(os.environ[var]) / name).is_file()]
calib_sources = {"real": calibration.read_people(*real_files)} if real_files else {}
calib_sources["benchmark"] = val["annotations"]
calib = calibration.summarize(calib_sources)

# %% tags=["hide-input"]
def num(measure, value):
    """A value as the table prints it: heatmap pixels to 2 decimals, shares and ratios to 3."""
    return f"{value:.{2 if measure.startswith('face_spacing') else 3}f}"


def cell(measure, stats):
    if stats["n"] == 0:
        return "—"
    return (f"{num(measure, stats['median'])} ({num(measure, stats['q1'])}–{num(measure, stats['q3'])}),"
            f" n = {stats['n']}")


def measure_label(measure):
    """(what, heatmap) of a measure name such as 'foreground@64x48'."""
    name, _, geometry = measure.partition("@")
    return calibration.DESCRIPTIONS[name], geometry.replace("x", " × ") if geometry else ""


def measure_text(measure):
    what, geometry = measure_label(measure)
    return f"{what} at {geometry}" if geometry else what


names = list(calib)
have_real = "real" in calib
rows = ["| measure | heatmap | " + " | ".join(names) + " |" + (" benchmark / real |" if have_real else ""),
        "|:---|:---|" + "---:|" * (len(names) + have_real)]
for measure in calibration.measure_names():
    what, geometry = measure_label(measure)
    ratio = ""
    if have_real:
        real_m, bench_m = calib["real"][measure], calib["benchmark"][measure]
        ratio = f" {bench_m['median'] / real_m['median']:.2f} |" if real_m["n"] and bench_m["n"] else " — |"
    rows.append(f"| {what} | {geometry or '—'} | " + " | ".join(cell(measure, calib[n][measure]) for n in names)
                + " |" + ratio)
people_line = ", ".join(f"{n}: {calib[n]['people']} people with labels" for n in names)
display(Markdown(pages.wide_table("\n".join(rows))
                 + f"\n\nEach cell: median (quartiles) over the people that have the part ({people_line})."))
if not have_real:
    display(Markdown(pages.admonition(
        "No real people to compare with",
        "Neither `FOWKAL_REAL_SAMPLE` nor `FOWKAL_EVAL_EXAMPLE` names a folder with its annotation file, so "
        "this build measures the benchmark only. Set them (see the README) and rebuild.", kind="note")))

# %% [markdown]
# Where a median of the benchmark is more than 25 % off the real one, a line below says by how much,
# whether the real people are enough to tell (the benchmark's median outside the real median's 95 %
# interval, a distribution-free one from order statistics), and which benchmark parameter would
# close the gap. Until session 5 the benchmark drew heads 0.2 of the body height, hands 0.12 and
# feet 0.125: faces 1.52 × and feet 1.41 × the real ones (hands 1.17 ×). It now draws them at 0.13,
# 0.10 and 0.09, chosen so that the three medians meet the real ones; every run record of the tables
# was trained on this calibrated benchmark.

# %% tags=["hide-input"]
def proposal(measure, ratio):
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


if have_real:
    off = calibration.disagreements(calib, "real", "benchmark", tolerance=0.25)
    lines = []
    for measure, ratio in off.items():
        real_m, bench_m = calib["real"][measure], calib["benchmark"][measure]
        lo, hi = real_m["ci"]
        interval = f"{num(measure, lo)}–{num(measure, hi)} ({real_m['n']} people)"
        if np.isnan(lo):
            sure = f"too few real people ({real_m['n']}) for an interval"
        elif lo <= bench_m["median"] <= hi:
            sure = f"but the real median's 95 % interval, {interval}, holds the benchmark's: more real people must tell"
        else:
            sure = f"outside the real median's 95 % interval, {interval}"
        lines.append(f"- **{measure_text(measure)}**: benchmark {num(measure, bench_m['median'])}, real"
                     f" {num(measure, real_m['median'])} ({ratio:.2f} ×), {sure}."
                     f" Proposed: {proposal(measure, ratio)}.")
    agree = [measure_text(m) for m in calibration.measure_names() if m not in off and calib["real"][m]["n"]]
    closing = f"Within 25 % of the real median: {'; '.join(agree)}." if agree else ""
    display(Markdown("\n".join(lines or ["Every median is within 25 % of the real one."]) + "\n\n" + closing))

# %% [markdown]
# The FWAHR foreground is a matter of the heatmap size, not of the people: σ = 2 gives every
# keypoint 23.5 px of foreground around it, whatever the person.

# %% tags=["hide-input"]
share = {(n, g): calib[n][f"foreground@{g}"]["median"] for n in names for g in calibration.GEOMETRIES}
display(Markdown(" ".join(
    f"On {g.replace('x', ' × ')}, " + " and ".join(f"{share[n, g]:.0%} ({n})" for n in names)
    + " of a keypoint's heatmap is foreground." for g in calibration.GEOMETRIES)
    + " Where nearly the whole map is foreground, FWAHR's split of foreground and background has"
      " almost nothing to act on."))
