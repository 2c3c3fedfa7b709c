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
# records; the page is executed again whenever either changes.

# %% tags=["hide-input"]
import json
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

with warnings.catch_warnings():  # MMEngine's and MMCV's import-time notices are not this page's
    warnings.simplefilter("ignore")
    from mmengine.config import Config

from fowkal.viz import pages, style
from fowkal.configs import builder

style.use_style()
BENCH = style.FIGURES_DIR / "bench_losses.json"
bench = json.loads(BENCH.read_text()) if BENCH.is_file() else None
if bench is None:
    display(Markdown(pages.admonition(
        "No loss benchmark", f"`{pages.repo_relative(BENCH)}` does not exist. Make it with "
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
def provenance_line(result) -> str:
    machine, settings = result["machine"], result["settings"]
    commit = result.get("commit") or {}
    load = settings.get("load_average_before", [float("nan")])[0], settings.get("load_average_after", [float("nan")])[0]
    busy = ""
    if max(load) > machine["logical_cpus"]:
        busy = " (a busy machine: timings move by tens of percent between runs)"
    return (f"Measured {result['created'][:16].replace('T', ' ')} UTC at commit `{(commit.get('commit') or '?')[:8]}`"
            f"{' (dirty)' if commit.get('dirty') else ''} on {machine['cpu']} ({machine['logical_cpus']} logical CPUs,"
            f" {machine['cpu_capability']}, {machine['torch_threads']} torch threads), torch {machine['torch']},"
            f" MMPose {machine['mmpose']}; load average {load[0]:.1f} before, {load[1]:.1f} after{busy}.")


def fmt(value, digits=1):
    return "" if value is None else f"{value:.{digits}f}"


def loss_table(result, shape) -> str:
    """Per method: before (reference) and after (fused, and fused with every keypoint visible), in ms and as
    ratios to MMPose's MSE and AWing losses of the same run; extra peak memory."""
    rows = {(r["method"], r["implementation"]): r for r in result["losses"]
            if r["shape"] == list(shape) and r["device"] == "cpu"}
    memory = {(m["method"], m["implementation"]): m["peak_extra_buffers"] for m in result["memory"]
              if m["shape"] == list(shape) and m["device"] == "cpu"}

    def get(method, implementation, key):
        row = rows.get((method, implementation))
        return None if row is None else (1e3 * row["median_s"] if key == "ms" else row[key])

    methods = [m for m in dict.fromkeys(m for m, _ in rows) if (m, "fused") in rows]
    columns = [("before ms", "reference", "ms", 1), ("× MSE", "reference", "ratio_to_mmpose_mse", 2),
               ("× AWing", "reference", "ratio_to_mmpose_awing", 2), ("**after** ms", "fused", "ms", 1),
               ("× MSE", "fused", "ratio_to_mmpose_mse", 2), ("× AWing", "fused", "ratio_to_mmpose_awing", 2),
               ("after, all visible ms", "fused, all visible", "ms", 1),
               ("× MSE", "fused, all visible", "ratio_to_mmpose_mse", 2)]
    columns = [c for c in columns if any(get(m, c[1], c[2]) is not None for m in methods)]  # drop empty ones
    lines = ["| method | " + " | ".join(c[0] for c in columns) + " | memory before | memory after |",
             "|---|" + "---:|" * (len(columns) + 2)]
    for method in methods:
        cells = [fmt(get(method, impl, key), digits) for _, impl, key, digits in columns]
        cells += [fmt(memory.get((method, "reference")), 2), fmt(memory.get((method, "fused")), 2)]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    mmpose = ", ".join(f"{name} {fmt(get(m, 'mmpose', 'ms'))} ms" for m, name in
                       (("mse", "`KeypointMSELoss`"), ("awing", "`AdaptiveWingLoss`")) if (m, "mmpose") in rows)
    floors = [(impl, r) for (m, impl), r in rows.items() if m == "floor"]
    text = f"MMPose, same run: {mmpose}.\n\n" + "\n".join(lines)
    if floors:
        text += "\n\nFloors, every keypoint visible, same run: " + "; ".join(
            f"{impl}: {1e3 * r['median_s']:.1f} ms ({r['ratio_to_mmpose_mse']:.2f} × MMPose MSE)" for impl, r in floors)
    return text


if bench:
    display(Markdown(provenance_line(bench)))
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in bench["losses"]))
    for shape in shapes:
        b, k, h, w = shape
        name = {(64, 48): "the paper's heatmaps, the CPU profile's since session 5 (batch of 32)",
                (32, 24): "the CPU profile's heatmaps until session 5"}.get((h, w), "heatmaps")
        display(Markdown(f"**{name}**, [B, K, H, W] = {list(shape)}:\n\n" + loss_table(bench, shape)))

# %% tags=["hide-input"]
def where_the_time_goes(result) -> str:
    """The profiler's top ops (one thread) of the fused FoWKAL loss and of MMPose's MSE, if recorded."""
    profile = result.get("profile") or {}
    lines = []
    for case, found in (profile.get("cases") or {}).items():
        top = ", ".join(f"{e['op'].replace('aten::', '')} {e['self_cpu_ms']:.0f}" for e in found["top"][:6])
        lines.append(f"- {case} (total {found['total_self_cpu_ms']:.0f} ms): {top}")
    if not lines:
        return ""
    return (f"Where the time goes: self CPU time (ms) of the top ops, one thread, {profile['shape']} "
            f"(`bench_losses.py --profile`; a first write to fresh memory pays its page faults):\n\n"
            + "\n".join(lines))


if bench and where_the_time_goes(bench):
    display(Markdown(where_the_time_goes(bench)))

# %% tags=["hide-input"]
def median_ms(rows, method, implementation) -> float:
    found = [1e3 * r["median_s"] for r in rows if r["method"] == method and r["implementation"] == implementation]
    return found[0] if found else np.nan


if bench:
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in bench["losses"]))
    fig, axes = plt.subplots(1, len(shapes), figsize=(style.TEXT_WIDTH_IN, 3.4), sharey=True, squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        rows = [r for r in bench["losses"] if tuple(r["shape"]) == shape and r["device"] == "cpu"]
        methods = list(dict.fromkeys(r["method"] for r in rows if r["implementation"] in ("reference", "fused")))
        y = np.arange(len(methods))
        for offset, impl, color in ((-0.2, "reference", style.CURVE_COLORS[0]), (0.2, "fused", style.CURVE_COLORS[1])):
            times = [median_ms(rows, m, impl) for m in methods]
            ax.barh(y + offset, times, height=0.38, color=color,
                    label=f"{'before: reference' if impl == 'reference' else 'after: fused (the default)'}")
        for method, line_style in (("awing", "--"), ("mse", ":")):  # not `style`: that is the module
            mm = median_ms(rows, method, "mmpose")
            if not np.isnan(mm):
                ax.axvline(mm, color="0.3", ls=line_style, lw=1, label=f"MMPose {'MSE' if method == 'mse' else 'AWing'}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(y, methods)
        ax.set_xlabel("ms, forward + backward")
        ax.set_title(f"{list(shape)}", fontsize=9)
    axes[0, 0].invert_yaxis()  # once: the axes share y
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=8)
    style.save_figure(fig, "bench_losses")
    plt.show()

# %% [markdown]
# ## A training step
#
# The same script times a whole training step of the CPU profile's model (MMEngine's
# `train_step`: data preprocessing, forward, loss, backward, Adam update) with the MSE baseline
# and with FoWKAL, each loss in both implementations. "× mse" compares with the MSE baseline's
# step; "CPU" is the process's CPU time over all threads, which another job on the machine
# disturbs less than wall time.

# %% tags=["hide-input"]
if bench and bench.get("train_step"):
    step = bench["train_step"]
    lines = ["| method | loss implementation | ms | × mse (reference) | × mse (same implementation) | CPU ms |",
             "|---|---|---:|---:|---:|---:|"]
    for r in step["rows"]:
        lines.append(f"| {r['method']} | {r['implementation']} | {1e3 * r['median_s']:.0f} | "
                     f"{r['ratio_to_mse_reference']:.3f} | {r['ratio_to_mse_same_implementation']:.3f} | "
                     f"{1e3 * r['median_cpu_s']:.0f} |")
    display(Markdown(f"Model: {step['model']}.\n\n" + "\n".join(lines)))
    targets = bench.get("targets", {})
    if targets:
        rows = ["| target | limit | measured | met |", "|---|---:|---:|---|"]
        for name, t in targets.items():
            value = "n/a" if t["measured"] is None else f"{t['measured']:.3f}"
            rows.append(f"| {name.replace('_', ' ')} | {t['target']} | {value} | {t['met']} |")
        display(Markdown("The project's speed targets for the losses:\n\n" + "\n".join(rows)))

# %% tags=["hide-input"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    loss_cfg = Config.fromfile(str(builder.config_file("fowkal", "cpu"))).model.head.loss
uses_fused = not loss_cfg.get("reference", False) and loss_cfg.get("fused", True) is not False  # build_loss's rule
display(Markdown(
    f"The training configs build the loss as `{dict(loss_cfg)}`, i.e. with the "
    f"**{'fused' if uses_fused else 'reference'}** implementation (`build_loss` is fused unless "
    f"`reference=True` or `fused=False`): the rows '{'fused' if uses_fused else 'reference'}' above are "
    f"the cost the CPU runs paid."))

# %% [markdown]
# ## The step at the paper's heatmap size
#
# Since session 5 the CPU profile predicts 64 × 48 heatmaps instead of 32 × 24: one learned 2 ×
# upsampling in the head, and 4 × the pixels in the targets and the loss. `benchmarks/bench_geometry.py`
# times a training step of both geometries in one process, each 64 × 48 head candidate beside the
# 32 × 24 step (the ratio is what it measures; absolute times move with the machine), with glibc's
# default allocator and with freed memory kept in the process (`fowkal.runs.malloc`, which training
# applies since: a batch of 64 × 48 heatmaps is 52 MiB, above the size glibc serves with fresh pages).

# %% tags=["hide-input"]
GEOMETRY_BENCH = style.FIGURES_DIR / "bench_geometry.json"
geometry_bench = json.loads(GEOMETRY_BENCH.read_text()) if GEOMETRY_BENCH.is_file() else None
if geometry_bench is None:
    display(Markdown(pages.admonition(
        "No geometry benchmark", f"`{pages.repo_relative(GEOMETRY_BENCH)}` does not exist. Make it with "
        "`.venv/bin/python benchmarks/bench_geometry.py`.", kind="warning", css_class="fowkal-missing")))
else:
    modes = geometry_bench["modes"]
    cases = list(dict.fromkeys((r["name"], r["method"]) for r in modes["default"]["rows"]))
    ratio = {(mode, r["name"], r["method"]): r["ratio_to_32x24"] for mode, m in modes.items() for r in m["rows"]}
    chosen = f"64x48/{geometry_bench['settings'].get('default_head', 'shuffle64')}"
    lines = ["| step | method | × 32 × 24, default malloc | × 32 × 24, freed memory kept |", "|---|---|---:|---:|"]
    for name, method in cases:
        if name == "32x24":
            continue
        label = name.replace("64x48/", "64 × 48, ") + (" (the profile's)" if name == chosen else "")
        lines.append(f"| {label} | {method} | {ratio[('default', name, method)]:.2f} | "
                     f"{ratio.get(('retain', name, method), float('nan')):.2f} |")
    commit = (geometry_bench.get("commit") or {}).get("commit") or "?"
    machine = geometry_bench["machine"]
    display(Markdown(f"Measured {geometry_bench['created'][:16].replace('T', ' ')} UTC at commit `{commit[:8]}` on "
                     f"{machine['cpu']} ({machine['logical_cpus']} logical CPUs), median of "
                     f"{geometry_bench['settings'].get('repeats', '?')} steps per case:\n\n" + "\n".join(lines)))

# %% [markdown]
# ## What the CPU reproduction cost (measured)
#
# Each run record keeps its wall time (training and the final evaluations, with ground-truth
# boxes and with detections) and the time of each epoch.

# %% tags=["hide-input"]
records, missing = pages.run_records()
if records:
    by_method = {}
    for r in records:
        by_method.setdefault(r["method"], []).append(r)
    lines = ["| method | runs | wall time per run (min) | epochs | s per epoch (median) | iterations per run |",
             "|---|---:|---:|---:|---:|---:|"]
    for method, runs in by_method.items():
        walls = [r["wall_time_s"] / 60 for r in runs if r.get("wall_time_s") is not None]
        epoch_s = [e["time_s"] for r in runs for e in r.get("losses") or [] if "time_s" in e]
        lines.append(f"| {method} | {len(runs)} | {np.mean(walls):.1f} | {runs[0]['schedule']['epochs']} | "
                     f"{np.median(epoch_s):.0f} | {runs[0]['schedule']['iters']} |")
    total_h = sum(r.get("wall_time_s") or 0 for r in records) / 3600
    machines = sorted({pages.provenance(r)["machine"] for r in records})
    display(Markdown("\n".join(lines) + f"\n\nAll {len(records)} runs: **{total_h:.1f} hours** of wall time "
                     f"on {'; '.join(machines)}, one run at a time."))
else:
    display(Markdown(pages.missing_records(missing, "Their cost is not shown.")))

# %% [markdown]
# ## What the paper's run costs (estimated)
#
# The paper trains HRNet-w32 + DARK at 256 × 192 with 8 GPUs × 32 crops for 210 epochs (Adam,
# learning rate 5e-4, steps at epochs 170 and 200). The number of optimiser steps follows from
# the data: COCO train2017 holds about 150 000 annotated people (the figure the HRNet paper
# gives; COCO-WholeBody labels the same people), and the top-down pipeline trains on one crop per
# person.

# %% tags=["hide-input"]
PEOPLE = 150_000  # COCO train2017 person instances with keypoints (HRNet paper: "150K")
GPUS, PER_GPU, EPOCHS = 8, 32, 210
iters_per_epoch = math.ceil(PEOPLE / (GPUS * PER_GPU))
total_iters = iters_per_epoch * EPOCHS
display(Markdown("\n".join([
    "| quantity | value | how we know |",
    "|:---|---:|:---|",
    f"| crops per step | {GPUS} × {PER_GPU} = {GPUS * PER_GPU} | the paper |",
    f"| steps per epoch | ≈ {iters_per_epoch} | estimated: {PEOPLE:,} people / {GPUS * PER_GPU} |",
    f"| steps in 210 epochs | ≈ {total_iters:,} | estimated |",
    f"| crops seen | ≈ {total_iters * GPUS * PER_GPU / 1e6:.1f} million | estimated |",
    "| time per step on a GPU | not measured | no GPU where this book is built |",
])))

# %% tags=["hide-input"]
if bench:
    paper_rows = {(r["method"], r["implementation"]): r for r in bench["losses"] if r["shape"] == [32, 133, 64, 48]}
    fused = paper_rows.get(("fowkal", "fused"))
    ref = paper_rows.get(("fowkal", "reference"))
    mse = paper_rows.get(("mse", "mmpose"))
    if fused and ref and mse:
        display(Markdown(
            f"What can be measured here is the loss itself at the paper's shape (one GPU's batch of 32), "
            f"on this CPU: FoWKAL costs {1e3 * ref['median_s']:.0f} ms in the reference implementation "
            f"and {1e3 * fused['median_s']:.0f} ms fused, against {1e3 * mse['median_s']:.0f} ms for "
            f"MMPose's MSE. For {total_iters:,} steps of one GPU's batch, that would be ≈ "
            f"{total_iters * fused['median_s'] / 3600:.0f} hours of this CPU for the fused FoWKAL loss "
            f"(≈ {total_iters * ref['median_s'] / 3600:.0f} for the reference), against ≈ "
            f"{total_iters * mse['median_s'] / 3600:.0f} for MSE: fused, the loss is not what makes the paper's "
            f"run expensive; HRNet-w32's forward and backward "
            f"on 256 × 192 crops is. On a GPU, both losses are element-wise work on 13 million values per "
            f"batch; their cost there has not been measured."))

# %% [markdown]
# ## Running the paper's setup
#
# One command per method, from the repository root after `make setup`. The `paper` profile
# is MMPose's HRNet-w32 + DARK COCO-WholeBody config with the loss of the chosen method; 8 GPUs
# start 8 processes through `torchrun` (NCCL). Pretrained weights are never downloaded: pass the
# ImageNet-pretrained HRNet-w32 file that MMPose's config names (below) with `pretrained` (the profile
# refuses to start without it unless `from_scratch` says so).

# %% tags=["hide-input"]
import ast
from pathlib import Path

import mmpose

from fowkal.losses import METHODS

# the MMPose config the paper profile builds on (its `_base_`), and the backbone weights it names
paper_base = ast.parse((builder.CONFIG_DIR / "paper_base.py").read_text())
base_ref = next(ast.literal_eval(node.value)[0] for node in paper_base.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_base_")
upstream_file = Path(mmpose.__file__).parent / ".mim" / "configs" / base_ref.split("::", 1)[1]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    upstream = Config.fromfile(str(upstream_file))
weights = upstream.model.backbone.init_cfg.checkpoint.rsplit("/", 1)[-1]
display(Markdown("\n".join([
    "```bash",
    "papermill notebooks/train.ipynb work_dirs/paper-fowkal.ipynb \\",
    "    -p method fowkal -p profile paper -p data_root /data/coco -p gpus 8 \\",
    f"    -p pretrained /data/weights/{weights}",
    "```",
    "",
    f"`method` takes each row of the ablation ({', '.join(f'`{m}`' for m in METHODS)}); `seed` sets the seed;"
    " `papermill --help-notebook notebooks/train.ipynb` lists every parameter. The base config is MMPose's"
    f" `{upstream_file.name}` (in `{upstream_file.parent.relative_to(upstream_file.parents[3])}`); the pretrained"
    f" backbone it names is `{weights}`, on OpenMMLab's download site (fetch it yourself).",
])))

# %% [markdown]
# The data root must hold COCO-WholeBody v1.0 in MMPose's layout. These are the paths the
# `paper` profile expects (`fowkal.configs.builder.DEFAULT_FILES["paper"]`; each can be
# overridden, e.g. `fowkal.train(..., det_file=...)`):

# %% tags=["hide-input"]
files = builder.DEFAULT_FILES["paper"]
WHAT = {"ann_train": "COCO-WholeBody v1.0 training annotations",
        "ann_val": "COCO-WholeBody v1.0 validation annotations",
        "img_train": "COCO train2017 images",
        "img_val": "COCO val2017 images",
        "det_file": "person detections on val2017 (the AP 56 detector's, as in MMPose's configs)"}
display(Markdown("\n".join(f"- `{files[key]}`: {WHAT[key]}"
                           for key in ("ann_train", "ann_val", "img_train", "img_val", "det_file"))))

# %% [markdown]
# The CPU reproduction, from scratch (the benchmark is generated on first use):
#
# ```bash
# # the virtual environment, once
# make setup
# # one run, a few minutes
# papermill notebooks/train.ipynb out.ipynb -p method fowkal
# # every method x 5 seeds (skips what exists, so it resumes)
# papermill notebooks/ablation.ipynb work_dirs/ablation.ipynb
# # this book
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
from fowkal.viz.style import REPO_ROOT

GPU_DIR = REPO_ROOT / "results" / "gpu"
gpu_records = [json.loads(p.read_text()) for p in sorted(GPU_DIR.glob("*.json"))] if GPU_DIR.is_dir() else []
gpu_records = [r for r in gpu_records if r.get("kind") == "fowkal-gpu-check" and not r.get("tiny")]


def gpu_section(record) -> str:
    dev, versions = record["device"], record.get("versions", {})
    commit = (record.get("git") or {}).get("commit") or "?"
    lines = [f"### {dev.get('name', dev['type'])}, {record['created'][:10]}", "",
             f"Commit `{commit[:8]}`, torch {dev.get('torch')}, CUDA {dev.get('cuda')}, MMPose "
             f"{versions.get('mmpose', '?')}; {record['wall_time_s']:.0f} s in all. Checks: "
             + ", ".join(f"{k.replace('_', ' ')} {'✓' if v else ('–' if v is None else '✗')}"
                         for k, v in record["checks"].items()) + "."]
    if record.get("error"):
        lines += ["", f"**It broke off:** `{record['error'][:300]}`"]
    training = record.get("training")
    if training:
        lines += ["", f"Training, batch {training['batch_size']}, {training['iterations']} iterations, "
                  f"{training['workers']} loader processes ({training['launcher']}):", "",
                  "| method | precision | it/s | data time | peak GPU memory | loss, first → last fifth |",
                  "|---|---|---:|---:|---:|---|"]
        for run in training["runs"]:
            if run["status"] != "ok":
                lines.append(f"| {run['method']} | {run['precision']} | {run.get('reason', run['status'])} | | | |")
                continue
            memory = "" if run["peak_memory_mib"] is None else f"{run['peak_memory_mib'] / 1024:.1f} GiB"
            lines.append(f"| {run['method']} | {run['precision']} | {run['it_per_s']:.2f} | "
                         f"{run['data_time_fraction']:.0%} | {memory} | {run['loss_first']:.4g} → "
                         f"{run['loss_last']:.4g}{'' if run['finite'] else ' (not finite)'} |")
    agreement = record.get("loss_agreement")
    if agreement:
        worst = {d: max(r["fused_grad_rel_err"] for r in agreement["rows"] if r["dtype"] == d)
                 for d in ("float32", "bfloat16")}
        failed = [f"{r['method']} ({r['dtype']})" for r in agreement["rows"] if not r["ok"]]
        where = "GPU" if agreement["device"] == "cuda" else agreement["device"].upper()
        lines += ["", f"Fused against the float64 reference on the {where}: "
                  + ("every method agrees" if not failed else f"**disagrees** for {', '.join(failed)}")
                  + f" (largest gradient error {worst['float32']:.1e} in float32, {worst['bfloat16']:.1e} "
                  f"in bfloat16)."]
    timing = record.get("loss_timing")
    if timing:
        lines += ["", f"Forward + backward on `{timing['shape']}`, float32, ratios within this run:", "",
                  "| method | implementation | ms | × MMPose AWing | × MMPose MSE |", "|---|---|---:|---:|---:|"]
        lines += [f"| {r['method']} | {r['implementation']} | {1e3 * r['median_s']:.2f} | "
                  f"{r['ratio_to_mmpose_awing']:.2f} | {r['ratio_to_mmpose_mse']:.2f} |" for r in timing["rows"]]
    return "\n".join(lines)


if gpu_records:
    for gpu_record in gpu_records:
        display(Markdown(gpu_section(gpu_record)))
else:
    display(Markdown(pages.admonition(
        "No GPU record exists yet",
        "No run of the GPU check is in `results/gpu/`: nothing in this book has been measured on a GPU, and "
        "whether the CUDA path trains has not been shown. To make one, collect the wheels a bare GPU "
        "machine lacks on a machine with the package registries "
        "(`.venv/bin/python benchmarks/gpu/collect.py`, about 4 MiB), then on the GPU machine run "
        "`python3 benchmarks/gpu/check.py --wheels benchmarks/gpu/wheels` (about 5 minutes, no network) and "
        "commit the record it writes to `results/gpu/`; `benchmarks/gpu/README.md` has the details.",
        kind="note", css_class="fowkal-missing")))
