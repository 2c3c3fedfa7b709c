# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Does the KAF track annotation noise? (the study beyond the paper)
#
# Trains KAL and FoWKAL on benchmark variants whose per-part label noise we set (default, reverse),
# FoWKAL with the non-paper KAF variants of the loss library (terms on a common scale, log-barrier,
# detached features) on the default noise and on a strong-noise variant where the face is the
# noisiest part in every sense, and FoWKAL (paper loss, terms on a common scale) on the *coco* noise,
# every keypoint's noise from COCO-WholeBody's OKS sigma (`fowkal.studies.kaf_study.STUDY_RUNS`);
# then measures, from the run records
# and KAF logs, whether λ ranks the parts by their noise and whether it collapses. The rule of the
# verdict is in `fowkal.studies.kaf_study`'s docstring and printed below. Runs whose record exists are
# skipped, so the study resumes where it stopped; the default-noise runs of the paper's loss are
# the ablation's (`results/cpu`).
#
# ```bash
# papermill notebooks/kaf_study.ipynb work_dirs/kaf_study.ipynb                 # every run, 3 seeds (36 runs beside the ablation's; ~3 min each on a 2-core machine)
# papermill notebooks/kaf_study.ipynb out.ipynb -p run_missing False          # only measure the records there are
# ```

# %% tags=["parameters"]
seeds: str = "0,1,2"
runs_root: str = ""  # empty: results (committed); the study's records go to <runs_root>/kaf-study
work_root: str = "work_dirs/kaf-study"  # checkpoints and full logs (not committed)
run_missing: bool = True  # False: measure the records there are, train nothing
epochs: int = 0  # 0: the cpu profile's default
max_iters: int = 0  # >0: tiny runs (tests)
ablation_work_root: str = "work_dirs/ablation"  # where the ablation trained (the default-noise paper-loss checkpoints)
push_batches: int = 20  # training batches per push measurement; 0: measure no push

# %%
from pathlib import Path

from fowkal.studies import kaf_study

# every parameter checked before any work (the notebook's dry run: kaf_study.notebook_plan)
plan = kaf_study.notebook_plan(seeds=seeds, runs_root=runs_root, epochs=epochs, max_iters=max_iters,
                               push_batches=push_batches)
root, seed_list = plan["root"], plan["seeds"]
repo = Path(kaf_study.__file__).resolve().parents[2]  # fowkal/studies/kaf_study.py -> the repo
print(f"records under: {root}\nseeds: {seed_list}\nruns per seed: {len(kaf_study.STUDY_RUNS)}\n"
      f"runs without a record: {len(plan['missing'])}")

# %% [markdown]
# The noise the training labels really carry, per part, measured against a noise-free copy of the
# benchmark (generated once, cached), in image and heatmap pixels; the book shows it beside the
# noise parameters.

# %%
import json

noise_file = root / kaf_study.STUDY_DIR / "injected_noise.json"
if run_missing and max_iters == 0:
    kaf_study.write_injected_noise(root)  # measures only the variants the file does not have yet
if noise_file.is_file():
    print(noise_file.read_text())

# %% [markdown]
# ## Run what is missing
#
# Each run is the train notebook (cpu profile) with the variant's benchmark as its data root and
# the variant's options as `cfg_options`; `study.json` beside the record names the variant.

# %%
if run_missing:
    kaf_study.run_study(seeds=seed_list, runs_root=root, work_root=work_root,
                        notebook=repo / "notebooks" / "train.ipynb", epochs=epochs, max_iters=max_iters)

# %% [markdown]
# ## What λ answers to: the push
#
# Eq. 6 is linear in λ: the data term pushes each λ_k with ℓ^AW_k − ℓ^MSE_k (`fowkal.studies.kaf_push`).
# For every record without `kaf_push.json` whose final checkpoint is still in its work dir, the
# push is measured on `push_batches` training batches with the final model and written beside the
# record (records without checkpoints, e.g. in a fresh clone, are skipped and say so).

# %%
if push_batches:
    kaf_study.measure_pushes(seeds=seed_list, runs_root=root, work_root=work_root,
                             ablation_work_root=ablation_work_root, batches=push_batches)

# %% [markdown]
# ## Measure
#
# Per (noise, method, variant): Spearman's ρ between the final per-part λ and the injected noise
# (fraction of the part's size; mean ± sd over seeds; "ρ px": against the measured noise in heatmap pixels), the final λ per part, the median fraction
# of keypoints with λ < 0.05 at the end, AP (%, ground-truth boxes) and, where measured, the push:
# ρ(λ, push) over the labelled keypoints, the mean push per part and, with the barrier, the median
# relative distance of λ from the barrier's optimum for its push.

# %%
from IPython.display import Markdown, display

runs = kaf_study.load_runs(root, seed_list)
rows = kaf_study.summary(runs, json.loads(noise_file.read_text()) if noise_file.is_file() else None)
print(f"{len(runs)} run records")
display(Markdown(kaf_study.summary_markdown(rows)))

# %% [markdown]
# ## Verdict
#
# The rule, from `fowkal.studies.kaf_study`: **collapsed** if the median fraction of keypoints with
# λ < 0.05 at the end is ≥ 0.9, else **collapsing** if over the last epoch the mean λ fell by more
# than a third or that fraction rose by 0.1 or more, else **stable**; λ **follows noise** if ρ ≤ −0.6 on both the default and the
# reverse noise (the paper's reading: less noise, more AWing, and the order flips with the
# noise), **against noise** if ρ ≥ +0.6 on both, **unrelated** otherwise. The **coco ordering**
# applies the same threshold to the coco noise's own ρ (realistic per-keypoint noise, one benchmark).

# %%
display(Markdown(kaf_study.verdict_markdown(rows)))
written = kaf_study.write_summary(rows, root / kaf_study.STUDY_DIR)
print("written:", written)
