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
# # Evaluate a checkpoint
#
# A checkpoint (or a run's work dir / run record) on a dataset, with ground-truth boxes or a
# person-detections file: the per-part AP/AR of the official COCO-WholeBody evaluation, and a
# few predictions drawn on the images.
#
# ```bash
# papermill notebooks/evaluate.ipynb out.ipynb -p checkpoint work_dirs/cpu/fowkal/seed0
# ```

# %% tags=["parameters"]
checkpoint: str = ""  # a .pth file, or a run's work dir / run_record.json (required)
data_root: str = ""  # empty: the dataset the run was trained on
ann_file: str = ""  # empty: the config's validation annotations
det_file: str = ""  # person detections (COCO format); empty: ground-truth boxes
num_images: int = 4  # predictions drawn

# %%
from pathlib import Path

if not checkpoint:
    raise ValueError("parameter 'checkpoint' is required: a .pth file, or a run's work dir or run_record.json")
if not Path(checkpoint).exists():
    raise FileNotFoundError(f"parameter 'checkpoint': {checkpoint!r} does not exist")
if data_root and not Path(data_root).is_dir():
    raise FileNotFoundError(f"parameter 'data_root': folder {data_root!r} does not exist")
for name, value in (("ann_file", ann_file), ("det_file", det_file)):
    if value and not Path(value).is_file():
        raise FileNotFoundError(f"parameter {name!r}: file {value!r} does not exist")
if num_images < 0:
    raise ValueError(f"parameter 'num_images' must be >= 0, got {num_images}")

# %%
import fowkal
from fowkal.runs.metrics import format_table
from IPython.display import Markdown

result = fowkal.evaluate(checkpoint, data_root=data_root or None, ann_file=ann_file or None,
                         det_file=det_file or None, use_gt_boxes=not det_file, details=True)
Markdown(format_table(result["metrics"]))

# %% [markdown]
# ## Predictions on a few images

# %%
from fowkal.viz.plots import draw_predictions

draw_predictions(result, num_images=num_images);
