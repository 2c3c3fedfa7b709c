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
# # FoWKAL, reproduced
#
# This book accompanies a from-scratch reproduction of *Keypoint-wise Adaptive Loss for Whole-Body
# Human Pose Estimation* (Seong, Lee & Lee, NHN Cloud). The paper changes one thing in a standard
# top-down pose estimator (HRNet-w32 with DARK): the **loss** on its heatmaps. It mixes the mean
# squared error with the Adaptive Wing loss per keypoint, with weights a small head network
# predicts (KAL), and re-weights the pixels of each heatmap (FWAHR); together, FoWKAL.
#
# ## The answer
#
# The reproduction trains every loss of the paper's ablation on a CPU, on a benchmark whose label
# noise it sets, and judges each of the paper's claims by a stated rule. What it finds, computed from
# the committed run records when this book was built:

# %% tags=["hide-input"]
from IPython.display import Markdown, display
from myst_nb import glue

from fowkal.studies import convergence, findings, kaf_report
from fowkal.viz import keypoints, pages, style

style.use_style()

# %%
# the ablation at the converged schedule once every method has its seeds there, the 3-epoch one until then
records, schedule = convergence.leading_records(pages.run_records()[0], convergence.converged_records(pages.runs_dir().parent))
study = kaf_report.load_study(pages.runs_dir().parent)
found = findings.findings(records, study)

# %% tags=["hide-input"]
display(Markdown(findings.findings_markdown(found)))
display(Markdown(findings.limits_markdown(found)))

# %% [markdown]
# The rest of the book derives each loss from its equation, computes every curve with the project's
# own implementation (`fowkal.losses`) and lets you turn the knobs. The code cells are part of the
# text: they show how each quantity is computed (plotting code is folded away; click to unfold).

# %% [markdown]
# ## The problem: 133 keypoints at very different scales
#
# COCO-WholeBody annotates 133 keypoints per person. A top-down estimator crops each person to
# 256 × 192 pixels and predicts one 64 × 48 heatmap per keypoint; the training target is a
# Gaussian of the same width (σ = 2 heatmap pixels) around every keypoint. The four parts of the
# paper, as defined once in `fowkal.parts`:

# %% tags=["hide-input"]
median_sigma = keypoints.median_sigmas()
glue("body_over_face", f"{median_sigma['body'] / median_sigma['face']:.0f}", display=False)
Markdown(keypoints.parts_markdown())

# %% [markdown]
# One σ for all of them is the crux. Body and foot keypoints are *coarse*: a shoulder and an elbow
# lie many heatmap pixels apart, so each Gaussian sits alone. Face and hand keypoints are *dense*:
# 68 face landmarks and 21 joints per hand fit in a region a few heatmap pixels wide, so
# neighbouring Gaussians overlap and a heatmap "covers" several keypoints (the paper's Fig. 1).
# The annotations agree: the official evaluation's per-keypoint tolerances (the OKS σ, which
# COCO-WholeBody set from how much annotators disagree, relative to the person's size) differ
# between parts: the median face keypoint's is {glue:text}`body_over_face` times smaller than the
# median body keypoint's.

# %% tags=["hide-input"]
pages.show_figure(keypoints.oks_sigma_figure(), "keypoint_sigmas")

# %% [markdown]
# The paper's observation is that one loss does not suit both kinds. The Adaptive Wing loss, which
# concentrates on the pixels around the keypoint, helps the dense face and hands but hurts the
# coarse body and feet (its Table 2, rows a and b). Its answer, step by step:
#
# 1. **Heuristic loss**: MSE for body and feet, AWing for face and hands (Eq. 4–5).
# 2. **KAL**: let a head network choose, per keypoint and per image, a mix λ of AWing and MSE,
#    with a regulariser that keeps λ similar within a part (Eq. 6–8).
# 3. **FWAHR**: weight each heatmap pixel so that the background and the easy foreground pixels
#    count less (Eq. 9), after WAHR (Luo et al. 2021).
# 4. **FoWKAL** = KAL + FWAHR (Eq. 10–11).

# %% [markdown]
# ## What is reproduced here
#
# - **The losses**, all of them, in plain PyTorch (`fowkal.losses`): MSE, AWing, the heuristic
#   loss, KAL with its keypoint-wise adaptive factor (KAF) head (`fowkal.kaf_head`), WAHR, FWAHR
#   and FoWKAL, plus the WAHR variants of Table 3. Where the paper can be read more than one way
#   (the balancing factors of Eq. 5, the condition of Eq. 9, the design of the KAF head, sums or
#   means over pixels), the book shows the readings side by side and says which one is the default
#   and why.
# - **The training pipeline**: MMPose 1.1 with HRNet-w32 and DARK, where one parameter picks the
#   loss of each ablation row (`fowkal.mmpose`: the loss and the head with the KAF branch;
#   `fowkal.configs`: the paper's 8-GPU configs and a CPU profile), driven by papermill notebooks.
# - **The ablation** (Tables 2 and 3) on the CPU, its 8 methods and three controls with five
#   paired seeds each, the paper's numbers beside ours and each of its claims judged by a stated
#   rule ({doc}`results`); Figs. 4 and 5 from the same runs ({doc}`predictions_kaf`).
# - **Beyond the paper**: whether the KAF really adapts to annotation noise, tested on benchmark
#   variants whose noise we set, one of them following how much real annotators disagree per
#   keypoint (COCO-WholeBody's OKS σ), and a variant of the KAF judged against the ablation's
#   methods ({doc}`kaf_study`).


# %% [markdown]
# ## How to run it
#
# Everything runs from the repository root. The main job creates `.venv/` first, then trains FoWKAL
# on the embedded benchmark (seed 0; the performance chapter says what a run cost) and builds this book,
# which then shows that run beside the committed one ({ref}`your-run`):
#
# ```bash
# make
# ```
#
# The tests:
#
# ```bash
# make test
# ```
#
# One method of the ablation, on the CPU profile (`--method` takes `mse`, `awing`, `heuristic`,
# `kal`, `heuristic_fwahr`, `fowkal`, `heuristic_wahr`, `kal_wahr`, or the controls `kal_lambda0`,
# `kal_lambda1` and `fowkal_lambda0`; `--seed` the seed):
#
# ```bash
# python -m fowkal train --method kal --seed 1
# ```
#
# The paper's setup (HRNet-w32 + DARK, 256 × 192, COCO-WholeBody, 8 GPUs) needs the data and the
# ImageNet-pretrained HRNet-w32 weights that MMPose's config names ({ref}`paper-command` says which
# file and the data layout):
#
# ```bash
# python -m fowkal train --method fowkal --profile paper --data-root /path/to/coco --gpus 8 \
#     --pretrained /path/to/hrnet_w32-36af842e.pth
# ```
#
# `python -m fowkal train --help` lists every option; the train notebook (`notebooks/train.py`) takes
# the same ones as parameters. To rebuild this book alone (its pages execute when their code or the
# records they read changed, and are cached otherwise; then open `_build/html/index.html`):
#
# ```bash
# make book
# ```

# %% [markdown]
# ## Chapters
#
# ```{tableofcontents}
# ```
