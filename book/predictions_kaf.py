# ---
# jupyter:
#   fowkal:
#     reads_data: true
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: fowkal
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Results: predictions and the KAF over training
#
# The paper's Fig. 4 compares the baseline's and FoWKAL's predictions on the same images, and its
# Fig. 5 shows how the keypoint-wise adaptive factors (KAF, the λ of Eq. 6) change during
# training. Here both are drawn from the CPU reproduction's run records: each record keeps the
# predictions for the first four validation images of the benchmark, and each KAL-family run
# (KAL, FoWKAL, KAL + WAHR) logs λ (`kaf_log.json`: per keypoint, the mean and standard
# deviation over the samples of the first batches and of every epoch). Figs. 4 and 5 come from trained
# models as in the paper where there are the runs they need: the ablation at the converged schedule
# ({doc}`convergence`), or the 40-epoch plateau search until the ablation has trained its runs; and from the
# 3-epoch ablation otherwise; the captions name the records
# every figure comes from and how long they trained.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from fowkal.runs.logs import kaf_log
from fowkal.studies import convergence
from fowkal.viz import figures, pages, predictions, style

style.use_style()
RUNS = pages.runs_dir()
records, missing = pages.run_records(RUNS)
converged = convergence.trained_records(RUNS.parent)  # trained models (one schedule), where they exist
SAVE = pages.writes_figures()  # figures/ gets only what the committed records draw
display(Markdown(f"Run records read from `{pages.repo_relative(RUNS)}`: {len(records)}."
                 if records else pages.missing_records(missing, "This page has no figures until they exist.")))

# %% [markdown]
# ## Fig. 4: the baseline and FoWKAL on the same images
#
# Rows: the ground truth, the MSE baseline (Table 2's row a) and FoWKAL (row f), trained with
# the same seed; columns: the benchmark's first validation images. Every predicted keypoint is
# drawn (the evaluation scores them all), coloured by part: body, foot, face, hand. The models
# predict with ground-truth person boxes, as in Tables 2 and 3.

# %% tags=["hide-input"]
fig4 = predictions.fig4_inputs(converged) if converged else None
if not isinstance(fig4, predictions.Fig4Inputs):  # no converged MSE and FoWKAL pair yet: the 3-epoch runs
    fig4 = predictions.fig4_inputs(records) if records else None
if fig4 is None:
    display(Markdown(pages.missing_records(missing, "Fig. 4 is not drawn.", first=False)))
elif isinstance(fig4, predictions.Missing):
    display(Markdown(pages.admonition(fig4.title, f"{fig4.text} (records: `{pages.repo_relative(RUNS)}`)",
                                      kind="warning", css_class="fowkal-missing")))
else:
    if fig4.note:
        display(Markdown(pages.admonition("Images may differ", fig4.note, kind="warning")))
    pages.show_figure(predictions.fig4_figure(fig4), "fig4_predictions")
    ap = {r["method"]: 100 * r["metrics"]["gt_boxes"]["wholebody"]["AP"] for r in fig4.pair}
    display(Markdown(f"Seed {fig4.seed}, {fig4.pair[0]['schedule']['epochs']} epochs of training. Whole-body AP "
                     "of these two runs on the whole validation set: "
                     f"MSE {ap['mse']:.1f}, FoWKAL {ap['fowkal']:.1f}. Records: "
                     + "; ".join(pages.record_caption(r) for r in fig4.pair) + "."))

# %% [markdown]
# Close-ups of one person (the one with the most labelled keypoints among these images): the
# face, both hands (the subject's right and left) and the feet with the ankles, each with only
# that part drawn.

# %% tags=["hide-input"]
if isinstance(fig4, predictions.Fig4Inputs):
    pages.show_figure(predictions.closeups_figure(fig4), "fig4_closeups")

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
kal_runs = predictions.kal_runs(records)
fowkal_runs = ([r for r in predictions.kal_runs(converged) if r["method"] == "fowkal"]  # trained models first
               or [r for r in kal_runs if r["method"] == "fowkal"])
if not records:
    display(Markdown(pages.missing_records(missing, "Fig. 5 and the λ explorer are not drawn.", first=False)))
elif not fowkal_runs:
    display(Markdown(pages.admonition("Fig. 5 not drawn", "No FoWKAL record with a KAF log in "
                                     f"`{pages.repo_relative(RUNS)}`.", kind="warning", css_class="fowkal-missing")))
else:
    entries = figures.check_kaf_entries(kaf_log(fowkal_runs[0]))
    pages.show_figure(figures.fig5_skeletons(figures.choose_snapshots(entries, n=5)), "fig5_kaf_skeletons")
    display(Markdown(f"From {pages.record_caption(fowkal_runs[0], 'the KAF log of ')}, "
                     f"{fowkal_runs[0]['schedule']['epochs']} epochs of training."))

# %% [markdown]
# Every keypoint at every logged point: the first batches (`it`), then the mean over each epoch
# (`ep`). Left, absolute λ (on a log colour scale when it spans more than two decades); right,
# each column min-max normalised as in the paper.

# %% tags=["hide-input"]
if fowkal_runs:
    pages.show_figure(figures.fig5_heatmap(entries), "fig5_kaf_heatmap")

# %% [markdown]
# The mean λ of each part over training, for every KAL-family run (one line per seed): the first
# batches at their iteration, then each epoch's mean at the middle of its epoch.

# %% tags=["hide-input"]
if kal_runs:
    pages.show_figure(predictions.part_curves(kal_runs), "kaf_part_means")
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
if kal_runs:
    kaf_explorer, shown_runs = predictions.kaf_explorer(kal_runs)
    if len(shown_runs) < len(kal_runs):
        display(Markdown(f"Showing the lowest seed of each method ({len(shown_runs)} of {len(kal_runs)} KAL-family "
                         "runs) to keep the page light."))
    display(kaf_explorer)
else:
    display(Markdown(pages.missing_records(missing, "The λ explorer is not drawn.", first=False) if not records else
                     pages.admonition("No KAF logs", "No KAL-family record with a KAF log.", kind="warning",
                                     css_class="fowkal-missing")))
