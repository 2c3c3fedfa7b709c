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
# # Running the paper's setup
#
# The paper trains HRNet-w32 + DARK at 256 × 192 on COCO-WholeBody with 8 GPUs × 32 crops for 210
# epochs (Adam, learning rate 5e-4, steps at epochs 170 and 200). The `paper` profile is MMPose's config
# of that model with the loss of the chosen method. This page says what such a run costs (estimated: there
# is no GPU where this book is built), the commands that start it, and the data it expects.

# %% tags=["hide-input"]
from fowkal.studies import performance
from fowkal.viz import pages, style

style.use_style()

# %% [markdown]
# ## What it costs (estimated)
#
# The number of optimiser steps follows from the data: COCO train2017 holds about 150 000 annotated
# people (the HRNet paper's figure; COCO-WholeBody labels the same people), and the top-down pipeline
# trains on one crop per person.

# %%
estimate = performance.paper_estimate()

# %% tags=["hide-input"]
bench = performance.read_benchmark("bench_losses")
pages.show(performance.paper_estimate_markdown(estimate), bench and performance.loss_cost_text(bench, estimate))

# %% [markdown]
# (paper-command)=
# ## The commands
#
# One command per method, from the repository root after `make setup`: 8 GPUs start 8 processes
# through `torchrun` (NCCL). Pretrained weights are never downloaded: pass the ImageNet-pretrained
# HRNet-w32 file that MMPose's config names with `--pretrained` (the profile refuses to start without it
# unless `--from-scratch` says so).

# %%
base_config, weights = performance.backbone_weights()

# %% tags=["hide-input"]
pages.show(performance.paper_command(weights),
           f"`--method` takes each row of the ablation ({performance.methods_text()}); `--seed` sets the seed; "
           "`python -m fowkal train --help` lists every option (the train notebook takes the same ones as "
           f"parameters). The base config is MMPose's `{base_config}`; the pretrained backbone it names is "
           f"`{weights}`, on OpenMMLab's download site (fetch it yourself).")

# %% [markdown]
# The data root must hold COCO-WholeBody v1.0 in MMPose's layout, at these paths
# (`fowkal.configs.builder.DEFAULT_FILES["paper"]`; each can be overridden, e.g.
# `fowkal.train(..., det_file=...)`):

# %% tags=["hide-input"]
pages.show(performance.data_layout_markdown())

# %% [markdown]
# The CPU reproduction needs none of this: the benchmark is generated on first use. After `make setup`,
# one run takes a few minutes,
#
# ```bash
# python -m fowkal train --method fowkal
# ```
#
# every method × 5 seeds is `papermill notebooks/ablation.ipynb work_dirs/ablation.ipynb` (it skips what
# exists, so it resumes), and `make book` builds this book. The ablation writes one folder per run,
# `results/cpu/<method>/seed<N>/` (the run record, which stores what regenerates the run's config and its
# hash, and the KAF and loss logs), and the tables beside them. Checkpoints, MMEngine's `config.py` and the
# executed train notebook stay in the work dirs.

# %% [markdown]
# ## On a GPU
#
# `benchmarks/gpu/check.py` is ready for a GPU machine (`benchmarks/gpu/README.md`): on one CUDA device it
# trains the `paper` profile (from scratch) through `torchrun` and NCCL for 150 iterations with `mse` and
# `fowkal`, in float32 and with mixed precision, checks the fused loss against the reference there, and
# times every loss against MMPose's on `[32, 133, 64, 48]`. Its records are kept in `results/gpu/`.

# %% tags=["hide-input"]
gpu_records = performance.gpu_records()
pages.show(*map(performance.gpu_section, gpu_records))
if not gpu_records:
    pages.show(pages.missing(
        "No GPU record exists yet",
        "No run of the GPU check is in `results/gpu/`: nothing in this book has been measured on a GPU, and "
        "whether the CUDA path trains has not been shown. To make one, collect the wheels a bare GPU machine "
        "lacks on a machine with the package registries (`.venv/bin/python benchmarks/gpu/collect.py`, about "
        "4 MiB), then on the GPU machine run `python3 benchmarks/gpu/check.py --wheels benchmarks/gpu/wheels` "
        "(about 5 minutes, no network) and commit the record it writes to `results/gpu/`.", kind="note"))
