# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Train one method
#
# Trains one loss of the paper's ablation through MMPose and writes a run record.
# By default: the `cpu` profile on the embedded benchmark (generated on first use), a few minutes
# on a laptop CPU. The paper's setup is one set of parameters away:
#
# ```bash
# papermill notebooks/train.ipynb out.ipynb -p method fowkal                       # CPU, embedded benchmark
# papermill notebooks/train.ipynb out.ipynb -p method fowkal -p profile paper \
#     -p data_root /data/coco -p gpus 8 -p pretrained hrnetv2_w32_imagenet.pth      # the paper's 8-GPU run
# ```
#
# `papermill --help-notebook notebooks/train.ipynb` lists the parameters.

# %% tags=["parameters"]
method: str = "fowkal"  # mse, awing, heuristic, kal, heuristic_fwahr, fowkal, heuristic_wahr, kal_wahr
profile: str = "cpu"  # cpu (embedded benchmark, minutes) or paper (HRNet-w32+DARK 256x192, COCO-WholeBody)
data_root: str = ""  # empty: the embedded benchmark; for paper: the COCO-WholeBody root
work_dir: str = ""  # empty: work_dirs/<profile>/<method>-seed<seed>
gpus: int = 1  # >1 launches one process per GPU through torchrun
device: str = "auto"  # auto, cpu or cuda (cpu with gpus>1: gloo processes on the CPU)
epochs: int = 0  # 0: the profile's default
batch_size: int = 0  # per GPU; 0: the profile's default
seed: int = 0
pretrained: str = ""  # ImageNet HRNet weights file (paper profile); never downloaded
max_iters: int = 0  # >0: stop after this many iterations (smoke tests)
resume: bool = False  # continue a killed run from its last checkpoint
cfg_options: str = ""  # JSON object of dotted config keys, e.g. '{"model.head.loss.reg_weight": 0}'

# %%
from fowkal.runs.options import check_train_params

train_kwargs = check_train_params(method=method, profile=profile, data_root=data_root, work_dir=work_dir,
                                  gpus=gpus, epochs=epochs, batch_size=batch_size, seed=seed,
                                  pretrained=pretrained, max_iters=max_iters, device=device,
                                  cfg_options=cfg_options)
train_kwargs

# %% [markdown]
# ## Train
# MMEngine's logger streams the progress (loss, ETA) below; a checkpoint is written every epoch.

# %%
from pathlib import Path

import fowkal

record = fowkal.train(**train_kwargs, resume=resume)
print("run record:", Path(record["files"]["config"]).parent / "run_record.json")

# %% [markdown]
# ## Per-part AP/AR (COCO-WholeBody evaluation)

# %%
from fowkal.runs.logs import metrics_markdown
from IPython.display import Markdown

Markdown(metrics_markdown(record))

# %% [markdown]
# ## Loss curve and KAF trajectory

# %%
from fowkal.viz.plots import plot_run

plot_run(record);
