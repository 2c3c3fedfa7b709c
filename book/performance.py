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
# # Performance and reproducibility
#
# What the losses and a training step cost (measured), what the CPU reproduction cost (measured,
# from its run records), what the paper's full run would cost (estimated: there is no GPU where
# this book is built), and the exact commands and data layout to run it. The numbers are read
# from `figures/bench_losses.json`, written by `benchmarks/bench_losses.py`, and from the run
# records by `fowkal.studies.performance`; the page is executed again whenever either changes.

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from fowkal.studies import performance
from fowkal.viz import pages, style
from fowkal.viz.curves import learning_curves
from fowkal.viz.performance import loss_times_figure

style.use_style()

# %%
bench = performance.read_benchmark("bench_losses")  # figures/bench_losses.json

# %% tags=["hide-input"]
if bench is None:
    display(Markdown(pages.admonition(
        "No loss benchmark", "`figures/bench_losses.json` does not exist. Make it with "
        "`.venv/bin/python benchmarks/bench_losses.py` (about 4 minutes on two cores).",
        kind="warning", css_class="fowkal-missing")))

# %% [markdown]
# ## The losses, forward and backward
#
# `benchmarks/bench_losses.py` times each loss (forward + backward on fixed inputs, float32, the
# median of 5 repetitions, 3 for the slow reference implementation) in one process, next to
# MMPose's own `KeypointMSELoss` and `AdaptiveWingLoss`. *Before* is the reference implementation,
# `fowkal.losses.reference` (plain autograd, the definition; `build_loss(method, reference=True)`);
# *after* is the fused one, `fowkal.losses.fused` (one blocked pass with an analytic backward, tested
# equal to the reference to float64 precision, gradients included), which `build_loss(method)`
# returns. Ratios are to MMPose's losses timed in the same run. The inputs mark about two thirds of
# the keypoints invisible, as in real COCO-WholeBody annotations (faces and hands are often
# unlabelled); the fused loss skips those, so its worst case (every keypoint visible) is listed too.
# Extra peak memory is counted in heatmap-sized buffers (B·K·H·W floats; the gradient with respect
# to the prediction, which any loss must produce, included).

# %% tags=["hide-input"]
if bench:
    display(Markdown(performance.provenance_line(bench)))
    for shape in dict.fromkeys(tuple(r["shape"]) for r in bench["losses"]):
        display(Markdown(f"**{performance.shape_title(shape)}**, [B, K, H, W] = {list(shape)}:\n\n"
                         + performance.loss_table(bench, shape)))
    if performance.where_the_time_goes(bench):
        display(Markdown(performance.where_the_time_goes(bench)))
    pages.show_figure(loss_times_figure(bench), "bench_losses")

# %% [markdown]
# ## A training step
#
# The same script times a whole training step of the CPU profile's model (MMEngine's
# `train_step`: data preprocessing, forward, loss, backward, Adam update) with the MSE baseline
# and with FoWKAL, each loss in both implementations. "× mse" compares with the MSE baseline's
# step; "CPU" is the process's CPU time over all threads, which another job on the machine
# disturbs less than wall time.

# %% tags=["hide-input"]
if bench and performance.train_step_markdown(bench):
    display(Markdown(performance.train_step_markdown(bench)))
    if performance.targets_markdown(bench):
        display(Markdown(performance.targets_markdown(bench)))

# %%
loss_cfg, fused = performance.training_loss_config("fowkal", "cpu")

# %% tags=["hide-input"]
used = "fused" if fused else "reference"
display(Markdown(f"The training configs build the loss as `{loss_cfg}`, i.e. with the **{used}** implementation "
                 f"(`build_loss` is fused unless `reference=True` or `fused=False`): the rows '{used}' above are "
                 "the cost the CPU runs paid."))

# %% [markdown]
# (step-profile)=
# ## A training step, part by part
#
# `benchmarks/bench_step.py` measures the training step as MMEngine's loop runs it: the next batch
# from the profile's data loader (its two worker processes share the two cores with the model), MMEngine's
# `train_step` (data preprocessor, forward, loss, backward, Adam), the logged scalars read out and the
# KAF logging hook. Two worker processes run the same loop side by side, one with this code and one with
# the code as it was before the changes below (the *baseline*, a pinned commit extracted by the
# script), alternating blocks of steps so that both see the same machine; every method of the ablation
# and the KAF study's best variant run in the current worker, MSE and FoWKAL in the baseline one. Inside
# each step, every part is timed on its own (the profile), and the pipeline's CPU time per batch is
# measured on one thread, as a loader worker runs it.
#
# What changed, and why each is kept:
#
# - **The data pipeline** (`fowkal.mmpose.data`): three MMPose pieces have twins with the same outputs,
#   bit for bit (tested against MMPose's own on the benchmark): the DARK target encoder evaluates all
#   keypoints' Gaussians in one array expression, the dataset stops deep-copying the keypoint metadata
#   into every sample, the box augmentation draws its truncated normals without SciPy's per-call overhead,
#   and training packs no raw annotation into its samples. On two cores the loader's workers take their
#   CPU time from the model.
# - **The loss's pixel pass** (`fowkal.losses.compiled`): for the losses with AWing or a pixel weight,
#   one compiled loop per pixel instead of ~40 eager element-wise passes; MSE keeps its eager pass, which
#   skips unlabelled keypoints and is already cheaper. The compiled pass sums in another order, so runs
#   are not bit-identical to the eager pass: the check below shows what that does to AP.

# %% tags=["hide-input"]
from fowkal.studies import convergence, numerics, step_speed
from fowkal.viz.step_speed import step_profile_figure

step_bench = performance.read_benchmark("bench_step")
if step_bench is None:
    display(Markdown(pages.admonition(
        "No step benchmark", "`figures/bench_step.json` does not exist. Make it with "
        "`.venv/bin/python benchmarks/bench_step.py`.", kind="warning", css_class="fowkal-missing")))
else:
    display(Markdown(performance.provenance_line(step_bench)))
    display(Markdown(step_speed.step_markdown(step_bench)))
    display(Markdown(step_speed.targets_markdown(step_bench)))
    display(Markdown("Where the time goes, median ms per step:\n\n" + step_speed.profile_markdown(step_bench)))
    pages.show_figure(step_profile_figure(step_bench), "bench_step_profile")

# %% [markdown]
# ### Does the compiled loss move AP?
#
# MSE and FoWKAL were trained again at seeds 0-2 of the quick profile with this code, on another
# machine than the committed ablation's (`results/numerics/`), and each run is paired with the committed
# record of the same method and seed. MSE, whose arithmetic did not change, shows what another machine
# alone does (oneDNN picks its kernels by CPU); FoWKAL adds the compiled kernel. Other arithmetic sends
# training down another trajectory, so a rerun is at best another draw of the same seed: its difference to
# the committed run has standard deviation √2·σ, σ the committed records' seed-to-seed spread. A part keeps
# its AP when every seed's difference lies within ±1.96·√2·σ (at 3 seeds the interval of the mean, 4.3
# standard errors wide on each side, tells nothing).

# %% tags=["hide-input"]
numeric_rows = numerics.load()
display(Markdown(numerics.markdown(numeric_rows) if numeric_rows else "No reruns are committed yet."))

# %% [markdown]
# (plateau)=
# ## How long to train: where the learning curves flatten
#
# The ablation's quick profile stops after 3 epochs, long before its models are trained. To find a
# schedule at which they are, six methods (MSE, FoWKAL, KAL, heuristic + FWAHR, the λ = 0 control and the
# KAF study's best variant; seed 0) are trained for 40 epochs, the learning-rate steps at the paper's
# 81 % and 95 % of the schedule, and validated every 4 epochs (`fowkal.studies.convergence`; the records
# are in `results/convergence/plateau/`). A curve counts as flat when its whole-body AP (ground-truth
# boxes, the tables' tolerance) moved less than 1 point over the last third of the run.

# %% tags=["hide-input"]
plateau_records, plateau_names = convergence.load_plateau_records()
if plateau_records:
    plateaus = [convergence.plateau(r, name=name) for r, name in zip(plateau_records, plateau_names)]
    display(Markdown(convergence.plateau_markdown(plateaus)))
    pages.show_figure(learning_curves(convergence.curve_table(plateau_records, plateau_names),
                                      convergence.loss_table(plateau_records, plateau_names)), "plateau_curves")
else:
    display(Markdown(pages.admonition(
        "No long runs yet", "`results/convergence/plateau/` holds no record. Make them (one after the other, "
        "resumable; 6-8 hours on two cores):\n\n```bash\n.venv/bin/python -c 'from fowkal.studies.convergence "
        "import run_plateau; run_plateau()'\n```", kind="note", css_class="fowkal-missing")))

# %% [markdown]
# ## The step at the paper's heatmap size
#
# The CPU profile predicts the paper's 64 × 48 heatmaps: one learned 2 × upsampling in the head, and
# 4 × the pixels of 32 × 24 (what the profile's HRNet gives without it, and what its first version
# predicted) in the targets and the loss. `benchmarks/bench_geometry.py` times a training step of both
# geometries in one process, each 64 × 48 head candidate beside the 32 × 24 step (the ratio is what
# it measures; absolute times move with the machine), with glibc's default allocator and with freed
# memory kept in the process (`fowkal.runs.malloc`, which training applies: a batch of 64 × 48
# heatmaps is 52 MiB, above the size glibc serves with fresh pages).

# %% tags=["hide-input"]
geometry_bench = performance.read_benchmark("bench_geometry")
display(Markdown(performance.geometry_markdown(geometry_bench) if geometry_bench else pages.admonition(
    "No geometry benchmark", "`figures/bench_geometry.json` does not exist. Make it with "
    "`.venv/bin/python benchmarks/bench_geometry.py`.", kind="warning", css_class="fowkal-missing")))

# %% [markdown]
# ## What the CPU reproduction cost (measured)
#
# Each run record keeps its wall time (training and the final evaluations, with ground-truth
# boxes and with detections) and the time of each epoch.

# %% tags=["hide-input"]
records, missing = pages.run_records()
display(Markdown(performance.cost_markdown(records) if records
                 else pages.missing_records(missing, "Their cost is not shown.")))

# %% [markdown]
# ## What the paper's run costs (estimated)
#
# The paper trains HRNet-w32 + DARK at 256 × 192 with 8 GPUs × 32 crops for 210 epochs (Adam,
# learning rate 5e-4, steps at epochs 170 and 200). The number of optimiser steps follows from
# the data: COCO train2017 holds about 150 000 annotated people (the figure the HRNet paper
# gives; COCO-WholeBody labels the same people), and the top-down pipeline trains on one crop per
# person.

# %%
estimate = performance.paper_estimate()

# %% tags=["hide-input"]
display(Markdown(performance.paper_estimate_markdown(estimate)))
if bench and performance.loss_cost_text(bench, estimate):
    display(Markdown(performance.loss_cost_text(bench, estimate)))

# %% [markdown]
# (paper-command)=
# ## Running the paper's setup
#
# One command per method, from the repository root after `make setup`. The `paper` profile
# is MMPose's HRNet-w32 + DARK COCO-WholeBody config with the loss of the chosen method; 8 GPUs
# start 8 processes through `torchrun` (NCCL). Pretrained weights are never downloaded: pass the
# ImageNet-pretrained HRNet-w32 file that MMPose's config names (below) with `--pretrained` (the
# profile refuses to start without it unless `--from-scratch` says so).

# %%
base_config, weights = performance.backbone_weights()

# %% tags=["hide-input"]
display(Markdown(performance.paper_command(weights) + "\n\n"
                 f"`--method` takes each row of the ablation ({performance.methods_text()}); `--seed` sets the seed; "
                 "`python -m fowkal train --help` lists every option (the train notebook takes the same ones as "
                 f"parameters). The base config is MMPose's `{base_config}`; the pretrained backbone it names is "
                 f"`{weights}`, on OpenMMLab's download site (fetch it yourself)."))

# %% [markdown]
# The data root must hold COCO-WholeBody v1.0 in MMPose's layout. These are the paths the
# `paper` profile expects (`fowkal.configs.builder.DEFAULT_FILES["paper"]`; each can be
# overridden, e.g. `fowkal.train(..., det_file=...)`):

# %% tags=["hide-input"]
display(Markdown(performance.data_layout_markdown()))

# %% [markdown]
# The CPU reproduction, from scratch (the benchmark is generated on first use): `make setup` makes
# the virtual environment, then one run takes a few minutes,
#
# ```bash
# python -m fowkal train --method fowkal
# ```
#
# every method × 5 seeds (`papermill notebooks/ablation.ipynb work_dirs/ablation.ipynb`; it skips
# what exists, so it resumes), and this book:
#
# ```bash
# make book
# ```
#
# The ablation writes one folder per run into `results/cpu/<method>/seed<N>/` (the run record and
# the KAF and loss logs; the record stores what regenerates the run's config, and the config's hash)
# and the aggregated tables beside them; this book reads those folders. Checkpoints, MMEngine's
# `config.py` and the executed train notebook stay in the work dirs.

# %% [markdown]
# ## On a GPU
#
# Everything above ran on CPUs. The paper's setting is built for GPUs, which this book's machines
# lack; one is lent only now and then. `benchmarks/gpu/check.py` is ready for such a loan
# (`benchmarks/gpu/README.md`): on one CUDA device it trains the `paper` profile (HRNet-w32 + DARK,
# 256 × 192 crops, from scratch) through `torchrun` and NCCL for 150 iterations with `mse` and `fowkal`,
# in float32 and with mixed precision, checks the fused loss against the reference there, and times
# every loss against MMPose's on `[32, 133, 64, 48]`. Its records are kept in `results/gpu/`.

# %% tags=["hide-input"]
for gpu_record in performance.gpu_records():
    display(Markdown(performance.gpu_section(gpu_record)))
if not performance.gpu_records():
    display(Markdown(pages.admonition(
        "No GPU record exists yet",
        "No run of the GPU check is in `results/gpu/`: nothing in this book has been measured on a GPU, and "
        "whether the CUDA path trains has not been shown. To make one, collect the wheels a bare GPU "
        "machine lacks on a machine with the package registries "
        "(`.venv/bin/python benchmarks/gpu/collect.py`, about 4 MiB), then on the GPU machine run "
        "`python3 benchmarks/gpu/check.py --wheels benchmarks/gpu/wheels` (about 5 minutes, no network) and "
        "commit the record it writes to `results/gpu/`; `benchmarks/gpu/README.md` has the details.",
        kind="note", css_class="fowkal-missing")))
