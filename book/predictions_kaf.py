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
# # Results: predictions and the KAF over training
#
# The paper's Fig. 4 compares the baseline's and FoWKAL's predictions on the same images, and its
# Fig. 5 shows how the keypoint-wise adaptive factors (KAF, the λ of Eq. 6) change during
# training. Here both are drawn from the CPU reproduction's run records: each record keeps the
# predictions for the first four validation images of the benchmark, and each KAL-family run
# (KAL, FoWKAL, KAL + WAHR) logs λ (`kaf_log.json`: per keypoint, the mean and standard
# deviation over the samples of the first batches and of every epoch). The captions name the
# records every figure comes from. The page is executed again whenever the records change.

# %% tags=["hide-input"]
import json

import cv2
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from matplotlib.colors import LogNorm, Normalize
from matplotlib.ticker import FuncFormatter

from fowkal.viz import figures, pages, style, widgets
from fowkal import parts
from fowkal.data import VAL_ANN
from fowkal.losses import KAL_METHODS
from fowkal.runs.logs import kaf_log, kaf_series
from fowkal.runs.runconfig import evaluated_benchmark

style.use_style()
RUNS = pages.runs_dir()
records, missing = pages.run_records(RUNS)
SAVE = pages.writes_figures()  # figures/ gets only what the committed records draw
display(Markdown(f"Run records read from `{pages.repo_relative(RUNS)}`: {len(records)}."
                 if records else pages.missing_records(missing, "This page has no figures until they exist.")))


def by_method(method):
    return sorted((r for r in records if r["method"] == method), key=lambda r: r["seed"])


def caption(record, what=""):
    p = pages.provenance(record)
    return (f"{what}`{p['file']}` ({p['method']}, seed {p['seed']}, commit `{p['commit']}`, "
            f"{p['machine']}, {p['device']})")


# %% [markdown]
# ## Fig. 4: the baseline and FoWKAL on the same images
#
# Rows: the ground truth, the MSE baseline (Table 2's row a) and FoWKAL (row f), trained with
# the same seed; columns: the benchmark's first validation images. Every predicted keypoint is
# drawn (the evaluation scores them all), coloured by part: body, foot, face, hand. The models
# predict with ground-truth person boxes, as in Tables 2 and 3.

# %% tags=["hide-input"]
def benchmark_root(record):
    """The benchmark a record was evaluated on (made here on first use), with a warning box when the
    images made here differ from those the run saw (`fowkal.runs.runconfig.evaluated_benchmark`)."""
    root, problem = evaluated_benchmark(record)
    return root, problem and pages.admonition("Images may differ", problem, kind="warning")


def poses_by_image(predictions, image_ids):
    out = {i: [] for i in image_ids}
    for p in predictions:
        if p["image_id"] in out:
            out[p["image_id"]].append(np.asarray(p["keypoints"], dtype=float))
    return [out[i] for i in image_ids]


def fig4_inputs():
    mse, fowkal = by_method("mse"), by_method("fowkal")
    if not mse or not fowkal:
        absent = [m for m, rs in (("mse", mse), ("fowkal", fowkal)) if not rs]
        return None, pages.admonition("Fig. 4 not drawn", f"No run record of {' or '.join(absent)} in "
                                     f"`{pages.repo_relative(RUNS)}`.", kind="warning", css_class="fowkal-missing")
    seeds = sorted({r["seed"] for r in mse} & {r["seed"] for r in fowkal})
    if not seeds:
        return None, pages.admonition("Fig. 4 not drawn", "The MSE and FoWKAL records share no seed.", kind="warning")
    pair = [next(r for r in rs if r["seed"] == seeds[0]) for rs in (mse, fowkal)]
    if not all(r.get("predictions") for r in pair):
        return None, pages.admonition("Fig. 4 not drawn", "A record keeps no predictions.", kind="warning")
    root, note = benchmark_root(pair[0])
    val = json.loads((root / VAL_ANN).read_text())
    files = {image["id"]: image["file_name"] for image in val["images"]}
    image_ids = sorted({p["image_id"] for p in pair[0]["predictions"]})
    unknown = [i for i in image_ids if i not in files]
    if unknown:
        return None, pages.admonition("Fig. 4 not drawn", f"Images {unknown} of the records are not in "
                                     f"`{root.name}`: the benchmark changed since the runs.", kind="warning")
    gt, gt_visible = [], []
    for image_id in image_ids:
        people = [figures.annotation_keypoints(a) for a in val["annotations"]
                  if a["image_id"] == image_id and a["num_keypoints"] > 0]
        gt.append([xy for xy, _ in people])
        gt_visible.append([labelled for _, labelled in people])
    images = [cv2.imread(str(root / "images" / "val" / files[i]))[..., ::-1] for i in image_ids]
    return dict(pair=pair, seed=seeds[0], root=root, note=note, image_ids=image_ids, images=images,
                gt=gt, gt_visible=gt_visible, files=files, val=val), None


if records:
    fig4, fig4_problem = fig4_inputs()
else:
    fig4, fig4_problem = None, pages.missing_records(missing, "Fig. 4 is not drawn.", first=False)
if fig4 is None:
    display(Markdown(fig4_problem))
else:
    if fig4["note"]:
        display(Markdown(fig4["note"]))
    mse_run, fowkal_run = fig4["pair"]
    rows = {"ground truth": fig4["gt"],
            "MSE (a)": poses_by_image(mse_run["predictions"], fig4["image_ids"]),
            "FoWKAL (f)": poses_by_image(fowkal_run["predictions"], fig4["image_ids"])}
    titles = [f"{fig4['files'][i]}: {len(p)} people" for i, p in zip(fig4["image_ids"], fig4["gt"])]
    fig = figures.fig4_predictions(fig4["images"], rows, titles=titles,
                                   visible_rows={"ground truth": fig4["gt_visible"]})
    if SAVE:
        style.save_figure(fig, "fig4_predictions")
    plt.show()
    ap = {r["method"]: 100 * r["metrics"]["gt_boxes"]["wholebody"]["AP"] for r in fig4["pair"]}
    display(Markdown(f"Seed {fig4['seed']}. Whole-body AP of these two runs on the whole validation set: "
                     f"MSE {ap['mse']:.1f}, FoWKAL {ap['fowkal']:.1f}. Records: "
                     + "; ".join(caption(r) for r in fig4["pair"]) + "."))

# %% [markdown]
# Close-ups of one person (the one with the most labelled keypoints among these images): the
# face, both hands (the subject's right and left) and the feet with the ankles, each with only
# that part drawn.

# %% tags=["hide-input"]
def closest_pose(poses, target, labelled):
    """The predicted pose that belongs to a ground-truth person (smallest median distance)."""
    return min(poses, key=lambda xy: np.median(np.hypot(*(xy[labelled] - target[labelled]).T)))


def region(xy, labelled, idx, fallback_box):
    pts = xy[[k for k in idx if labelled[k]]]
    if len(pts) >= 2:
        lo, hi = pts.min(0), pts.max(0)
        return (lo[0], lo[1], max(hi[0] - lo[0], 4), max(hi[1] - lo[1], 4))
    return tuple(fallback_box)


if fig4 is not None:
    best = max(((c, p) for c in range(len(fig4["image_ids"])) for p in range(len(fig4["gt"][c]))),
               key=lambda cp: fig4["gt_visible"][cp[0]][cp[1]].sum())
    c, p = best
    target, labelled = fig4["gt"][c][p], fig4["gt_visible"][c][p]
    picked = {"ground truth": target}
    for label, run in zip(("MSE (a)", "FoWKAL (f)"), fig4["pair"]):
        picked[label] = closest_pose(poses_by_image(run["predictions"], fig4["image_ids"])[c], target, labelled)
    ann = [a for a in fig4["val"]["annotations"] if a["image_id"] == fig4["image_ids"][c] and a["num_keypoints"] > 0][p]
    regions = [("face", parts.FACE, ann["face_box"], ["face"]),
               ("right hand", parts.RIGHT_HAND, ann["righthand_box"], ["hand"]),
               ("left hand", parts.LEFT_HAND, ann["lefthand_box"], ["hand"]),
               ("feet", parts.FOOT, ann["bbox"], ["body", "foot"])]
    boxes = [region(target, labelled, idx, box) for _, idx, box, _ in regions]
    fig = figures.fig4_closeups({"image": [fig4["images"][c]] * len(regions)},
                                {label: [pose] * len(regions) for label, pose in picked.items()}, boxes,
                                column_titles=[name for name, _, _, _ in regions],
                                column_parts=[shown for _, _, _, shown in regions],
                                visible_rows={"ground truth": [labelled] * len(regions)})
    if SAVE:
        style.save_figure(fig, "fig4_closeups")
    plt.show()

# %% [markdown]
# ## Fig. 5: the KAF over training
#
# λ near 1 makes a keypoint's loss AWing, λ near 0 makes it MSE (Eq. 6); the paper's Fig. 5
# colours λ from white (MSE) to blue (AWing) on the skeleton, **min-max normalised per pose**, so
# that it shows which keypoints lean towards AWing relative to the others, not how far. Below,
# the same for the FoWKAL run, at the first logged batch and at epoch ends, drawn on a schematic
# whole-body skeleton whose face and hands are enlarged; the second row shows the absolute
# values on a fixed 0–1 scale. Our log keeps the mean over the samples of a batch or an epoch,
# not single poses. The {doc}`part_losses` chapter derives why λ can only be pushed down (towards
# MSE) under the paper's objective; the absolute row shows how far it went. Whether the face's
# relative lean towards AWing reflects cleaner face labels, as the paper reads it, is tested in
# {doc}`kaf_study`, where we set the label noise of every part.

# %% tags=["hide-input"]
kal_runs = [r for m in KAL_METHODS for r in by_method(m) if r["files"].get("kaf_log")]
fowkal_runs = [r for r in kal_runs if r["method"] == "fowkal"]
if not records:
    display(Markdown(pages.missing_records(missing, "Fig. 5 and the λ explorer are not drawn.", first=False)))
elif not fowkal_runs:
    display(Markdown(pages.admonition("Fig. 5 not drawn", "No FoWKAL record with a KAF log in "
                                     f"`{pages.repo_relative(RUNS)}`.", kind="warning", css_class="fowkal-missing")))
else:
    run = fowkal_runs[0]
    entries = figures.check_kaf_entries(kaf_log(run))
    fig = figures.fig5_skeletons(figures.choose_snapshots(entries, n=5))
    if SAVE:
        style.save_figure(fig, "fig5_kaf_skeletons")
    plt.show()
    display(Markdown(f"From {caption(run, 'the KAF log of ')}."))

# %% [markdown]
# Every keypoint at every logged point: the first batches (`it`), then the mean over each epoch
# (`ep`). Left, absolute λ (on a log colour scale when it spans more than two decades); right,
# each column min-max normalised as in the paper.

# %% tags=["hide-input"]
if fowkal_runs:
    fig = figures.fig5_heatmap(entries)
    if SAVE:
        style.save_figure(fig, "fig5_kaf_heatmap")
    plt.show()

# %% [markdown]
# The mean λ of each part over training, for every KAL-family run (one line per seed): the first
# batches at their iteration, then each epoch's mean at the middle of its epoch.

# %% tags=["hide-input"]
def part_curves(runs):
    methods = [m for m in KAL_METHODS if any(r["method"] == m for r in runs)]
    fig, axes = plt.subplots(1, len(methods), figsize=(style.TEXT_WIDTH_IN, 2.8), sharey=True, squeeze=False)
    lowest = 1.0
    for ax, method in zip(axes[0], methods):
        for n, r in enumerate(r for r in runs if r["method"] == method):
            its, log = kaf_series(figures.check_kaf_entries(kaf_log(r)))
            for part, idx in parts.PARTS.items():
                values = [float(np.mean(np.asarray(e["mean"])[list(idx)])) for e in log]
                lowest = min(lowest, *values)
                ax.plot(its, values, color=style.PART_COLORS[part], lw=1.2, alpha=0.85,
                        label=part if n == 0 else None)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("iteration")
    if 0 < lowest < 0.01:  # λ collapsed by decades: a log axis shows how far
        axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylabel("mean λ of the part")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=8)
    return fig


if kal_runs:
    fig = part_curves(kal_runs)
    if SAVE:
        style.save_figure(fig, "kaf_part_means")
    plt.show()
    display(Markdown("Records: " + "; ".join(f"`{pages.provenance(r)['file']}`" for r in kal_runs) + "."))

# %% [markdown]
# ## Explore λ per keypoint: run, epoch, part
#
# Pick a run (a KAL-family method and seed), a point of training and a part: the skeleton shows
# each keypoint's mean λ, the plot beside it the mean ± standard deviation over the samples of
# that batch or epoch. The colour scale and the y axis are fixed per run (its lowest to highest
# logged mean λ, on a log scale when that spans more than two decades), so moving the slider
# shows how λ moves. Like the other explorers, the pictures were
# drawn when the book was built; the controls work without a kernel.

# %% tags=["hide-input"]
EXPLORER_PARTS = ["all"] + list(parts.PARTS)
MAX_FRAMES = 240  # keeps the page light: about 10 kB per frame


def explorer_runs(runs):
    """The runs the explorer offers: every KAL-family record if the frames stay few, else one seed
    (the lowest) per method."""
    logs = {id(r): figures.check_kaf_entries(kaf_log(r)) for r in runs}
    points = max(len([e for e in log if e["kind"] == "epoch"]) + 1 for log in logs.values())
    if len(runs) * points * len(EXPLORER_PARTS) > MAX_FRAMES:
        runs = [next(r for r in runs if r["method"] == m) for m in dict.fromkeys(r["method"] for r in runs)]
    return runs, logs


def run_label(r):
    return f"{r['method']} s{r['seed']}"


if kal_runs:
    shown_runs, logs = explorer_runs(kal_runs)
    steps = {}  # run label -> its entries: the first batch, then every epoch
    for r in shown_runs:
        log = logs[id(r)]
        chosen = [log[0]] + [e for e in log if e["kind"] == "epoch" and e is not log[0]]
        steps[run_label(r)] = chosen
    norms = {}  # per run: its logged range, on a log scale when λ spans more than two decades
    for label, chosen in steps.items():
        values = np.array([e["mean"] for e in chosen])
        lo, hi = float(values.min()), float(values.max())
        if lo > 0 and hi / lo > 100:
            norms[label] = LogNorm(lo / 1.5, min(1.0, hi * 1.5))
        else:
            pad = max(1e-6, 0.05 * (hi - lo))
            norms[label] = Normalize(max(0.0, lo - pad), min(1.0, hi + pad))
    n_points = max(len(c) for c in steps.values())

    labels = list(steps)
    first = steps[labels[0]]
    point_labels = ["start" if i == 0 else f"epoch {first[i]['epoch']}" if i < len(first) else f"point {i}"
                    for i in range(n_points)]

    def render(run_name, part, point_label):
        chosen = steps[run_name]
        entry = chosen[min(point_labels.index(point_label), len(chosen) - 1)]
        return figures.kaf_frame(entry, part, norm=norms[run_name],
                                 title=f"{run_name}: {figures.kaf_label(entry)}; part: {part}")

    kaf_explorer = widgets.frame_explorer(
        [("run", labels, "toggle"), ("part", EXPLORER_PARTS, "toggle"), ("logged point", point_labels, "slider")],
        render, initial=[next((l for l in labels if l.startswith("fowkal ")), labels[0]), "all", point_labels[-1]])
    if len(shown_runs) < len(kal_runs):
        display(Markdown(f"Showing the lowest seed of each method ({len(shown_runs)} of {len(kal_runs)} KAL-family "
                         "runs) to keep the page light."))
    display(kaf_explorer)
else:
    display(Markdown(pages.missing_records(missing, "The λ explorer is not drawn.", first=False) if not records else
                     pages.admonition("No KAF logs", "No KAL-family record with a KAF log.", kind="warning",
                                     css_class="fowkal-missing")))
