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
from IPython.display import Image, Markdown, display

from fowkal.data import TRAIN_ANN, VAL_ANN, calibration, default_benchmark, read_manifest
from fowkal.studies import benchmark, results
from fowkal.viz import figures, pages, style
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
params = train_info["params"]
display(Markdown(benchmark.description_markdown(root, manifest, train_info)))

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
display(Markdown(benchmark.noise_markdown(train_info, val["annotations"], figures.PROFILE_SIZES["cpu"])))

# %% [markdown]
# ## Fig. 1: one σ for dense and coarse keypoints
#
# The training target of every keypoint is a Gaussian of σ = 2 *heatmap* pixels, whatever the
# part. Below, one validation person as the training pipeline sees it (MMPose's
# `GetBBoxCenterScale`, `TopdownAffine` and `GenerateTarget` with the DARK codec, the transforms
# of the configs), at the CPU profile's heatmap size, the paper's 64 × 48 ("CPU now", from its 128 × 96
# crop), and at the 32 × 24 of the profile's first version ("CPU before", the same crop).
# Each heatmap panel shows, per pixel, the largest target over a part's keypoints: (b) the 110
# dense keypoints of face and hands merge into a few blobs, each heatmap "covering" many
# neighbours; (c) the 23 coarse keypoints of body and feet mostly stay apart, except each foot's
# three (toes and heel), which sit close to each other and to the ankle. (d) zooms into the face:
# its 68 keypoints share a few heatmap pixels.

# %% tags=["hide-input"]
files = {image["id"]: image["file_name"] for image in val["images"]}
person = max(val["annotations"], key=benchmark.fully_labelled)
image = cv2.imread(str(root / "images" / "val" / files[person["image_id"]]))
benchmark_samples = figures.fig1_samples(image, person)
pages.show_figure(figures.fig1_heatmaps(benchmark_samples), "fig1_heatmaps")

# %% [markdown]
# How close are neighbours, in heatmap pixels, over every labelled person of the validation set?
# For each keypoint, the distance to the nearest other keypoint of the same part (of the same
# hand). Where it is below 2.35 px (the half width of the Gaussian at half its height, for σ = 2),
# the neighbour's target is above 0.5 at this keypoint: the two can hardly be told apart by the
# target alone.

# %% tags=["hide-input"]
people = [a for a in val["annotations"] if a["num_keypoints"] > 0]
table_rows = benchmark.neighbour_rows(people, f"benchmark val ({len(people)})", figures.HEATMAP_SIZES)
display(Markdown("\n".join(benchmark.neighbour_header() + table_rows)
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
    real_person = max(real["annotations"], key=benchmark.fully_labelled)
    real_image = cv2.imread(str(Path(real_root) / real_files[real_person["image_id"]]))
    pages.show_figure(figures.fig1_heatmaps(  # shown in the built book only; never saved to figures/
        figures.fig1_samples(real_image, real_person),
        suptitle=f"COCO val2017 image {real_person['image_id']} (COCO-WholeBody v1.0 labels)"))
    real_people = [a for a in real["annotations"] if a["num_keypoints"] > 0]
    display(Markdown("\n".join(benchmark.neighbour_header() + table_rows
                               + benchmark.neighbour_rows(real_people, f"real sample ({len(real_people)})", figures.HEATMAP_SIZES))
                     + "\n\nSame measure as above, benchmark and real sample side by side."))

# %% [markdown]
# The benchmark draws heads, hands and feet at the sizes of real people (the
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
# - at the paper's heatmap (64 × 48, also the CPU profile's) and the 32 × 24 of the CPU profile's
#   first version, in heatmap pixels of MMPose's top-down crop: the median distance of a
#   face landmark to its nearest neighbour, and the share of a keypoint's heatmap that FWAHR treats as
#   foreground (p^γ ≥ 1/2 for the σ = 2 DARK target, γ = 0.01: within 23.5 px of the keypoint),
#   with the mean p^γ over the map, averaged over each person's keypoints.

# %%
real_files = benchmark.real_annotation_files()  # $FOWKAL_REAL_SAMPLE's and $FOWKAL_EVAL_EXAMPLE's, where set
calib_sources = {"real": calibration.read_people(*real_files)} if real_files else {}
calib_sources["benchmark"] = val["annotations"]
calib = calibration.summarize(calib_sources)

# %% tags=["hide-input"]
people_line = ", ".join(f"{n}: {calib[n]['people']} people with labels" for n in calib)
display(Markdown(pages.wide_table(benchmark.calibration_markdown(calib))
                 + f"\n\nEach cell: median (quartiles) over the people that have the part ({people_line})."))
if "real" not in calib:
    display(Markdown(pages.admonition(
        "No real people to compare with",
        "Neither `FOWKAL_REAL_SAMPLE` nor `FOWKAL_EVAL_EXAMPLE` names a folder with its annotation file, so "
        "this build measures the benchmark only. Set them (see the README) and rebuild.", kind="note")))

# %% [markdown]
# Where a median of the benchmark is more than 25 % off the real one, a line below says by how much,
# whether the real people are enough to tell (the benchmark's median outside the real median's 95 %
# interval, a distribution-free one from order statistics), and which benchmark parameter would
# close the gap. The head, hand and foot sizes (at the top of the page) were chosen so that the three
# medians meet the real ones; every run record of the tables was trained on this calibrated
# benchmark. (An earlier version of the benchmark drew heads 0.2 of the body height, hands 0.12 and
# feet 0.125: faces 1.52 × and feet 1.41 × the real ones, hands 1.17 ×.)

# %% tags=["hide-input"]
if "real" in calib:
    display(Markdown(benchmark.disagreement_markdown(calib, params)))

# %% [markdown]
# The FWAHR foreground is a matter of the heatmap size, not of the people: σ = 2 gives every
# keypoint 23.5 px of foreground around it, whatever the person.

# %% tags=["hide-input"]
display(Markdown(benchmark.foreground_text(calib)))

# %% [markdown]
# (cpu-geometry)=
# ## The CPU profile, and how its AP is scored
#
# It predicts the paper's **64 × 48 heatmaps, σ = 2**, from a 128 × 96 crop (one learned 2 × upsampling in
# the head, `fowkal.configs.geometry`). The benchmark's heads, hands and feet have real people's sizes, and
# the OKS tolerance is widened 2 × (`area_scale` 4, the tightest at which MSE scores every part well off
# the floor); AP at COCO's own tolerance is shown too. An earlier version predicted 32 × 24 heatmaps, on
# which FWAHR could not act; git keeps its records (`results/cpu/` at `1f713e9`).

# %% tags=["hide-input"]
records, missing = pages.run_records()
if not records:
    pages.show(pages.missing_records(missing, "The AP at each tolerance is not shown."))
else:
    tolerances = results.tolerance_table(records)
    pages.show(f"Heatmap geometry the records state: {results.geometry_text(records)}.",
               tolerances and "Whole-body AP (%, ground-truth boxes, mean over seeds) of the same predictions at "
               "several OKS tolerances (a keypoint's tolerance grows with the square root of the area scale):\n\n"
               + pages.wide_table(tolerances))
