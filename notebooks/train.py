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
method: str = "fowkal"  # mse, awing, heuristic, kal, heuristic_fwahr, fowkal, heuristic_wahr, kal_wahr, kal_lambda0, kal_lambda1, fowkal_lambda0
profile: str = "cpu"  # cpu (embedded benchmark, minutes) or paper (HRNet-w32+DARK 256x192, COCO-WholeBody)
data_root: str = ""  # empty: the embedded benchmark; for paper: the COCO-WholeBody root
ann_train: str = ""  # empty: the profile's layout; relative to data_root unless absolute
ann_val: str = ""  # empty: the profile's layout; relative to data_root unless absolute
det_file: str = ""  # person detections for validation; empty: the profile's
gt_boxes: bool = False  # validate on ground-truth boxes only (no detections)
img_train: str = ""  # empty: the profile's layout; "." is data_root itself
img_val: str = ""  # empty: the profile's layout; "." is data_root itself
work_dir: str = ""  # empty: work_dirs/<profile>/<method>-seed<seed>
schedule: str = "quick"  # cpu profile: quick (3 epochs) or converged (60 epochs, validated every 4)
epochs: int = 0  # 0: the profile's default
val_interval: int = 0  # validate every k epochs (the learning curve); 0: the profile's default
batch_size: int = 0  # per process; 0: the profile's default
seed: int = 0
pretrained: str = ""  # ImageNet HRNet weights file (paper profile); never downloaded
from_scratch: bool = False  # paper profile without pretrained weights: train from random weights on purpose
cfg_options: str = ""  # JSON object of dotted config keys, e.g. '{"model.head.loss.reg_weight": 0}'
gpus: int = 1  # >1 launches one process per GPU through torchrun
device: str = "auto"  # auto, cpu or cuda (cpu with gpus>1: gloo processes on the CPU)
nnodes: int = 1  # multi-node runs: run the notebook on every node with its node_rank
node_rank: int = 0
master_addr: str = "127.0.0.1"  # node 0's address (multi-node runs)
master_port: int = 0  # 0: a free port on one node, 29500 on several
resume: bool = False  # continue a killed run from its last checkpoint
max_iters: int = 0  # >0: cut every epoch to this many iterations (smoke tests)
deterministic: bool = False  # deterministic torch algorithms
quiet: bool = False  # do not print the metric tables

# %%
from fowkal.runs.options import TrainOptions

options = TrainOptions.from_notebook(globals())  # every parameter above, checked before any work
print(options.to_json(indent=1))

# %% [markdown]
# ## Train
# MMEngine's logger streams the progress (loss, ETA) below; a checkpoint is written every epoch.

# %%
from pathlib import Path

import fowkal

record = fowkal.train(options)
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
