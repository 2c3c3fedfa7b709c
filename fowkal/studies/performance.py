"""What the performance chapter shows: the loss and training-step benchmarks (``figures/bench_*.json``,
written by ``benchmarks/``), what the CPU reproduction cost (its run records), an estimate of the
paper's run, the command and data layout that start it, and the GPU check's records (``results/gpu/``).

Each function takes the parsed JSON or the records and returns a summary or its Markdown.
"""
from __future__ import annotations

import json
import math
import statistics
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..losses import METHODS
from .records import REPO_ROOT, provenance

__all__ = ["FIGURES_DIR", "GPU_DIR", "UPSTREAM_CONFIG", "read_benchmark", "provenance_line", "shape_title",
           "loss_table", "where_the_time_goes", "train_step_markdown", "targets_markdown", "training_loss_config",
           "geometry_markdown", "cost_markdown", "PaperEstimate", "paper_estimate", "paper_estimate_markdown",
           "loss_cost_text", "backbone_weights", "paper_command", "DATA_FILES", "data_layout_markdown", "methods_text",
           "gpu_records", "gpu_section"]

FIGURES_DIR = REPO_ROOT / "figures"
GPU_DIR = REPO_ROOT / "results" / "gpu"
#: The MMPose config the ``paper`` profile builds on (``fowkal/configs/paper_base.py``'s ``_base_``; a test
#: keeps the two equal): HRNet-w32 + DARK on COCO-WholeBody at 256 x 192.
UPSTREAM_CONFIG = ("mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/"
                   "td-hm_hrnet-w32_dark-8xb64-210e_coco-wholebody-256x192.py")


def read_benchmark(name: str, folder=None) -> dict | None:
    """``<folder>/<name>.json`` (default: ``figures/``), None when it does not exist."""
    path = Path(folder or FIGURES_DIR) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def provenance_line(result: dict) -> str:
    """When, where and on what a benchmark ran, and whether the machine was busy."""
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


def shape_title(shape) -> str:
    """What a benchmarked [B, K, H, W] is."""
    _, _, h, w = shape
    return {(64, 48): "the paper's heatmaps, the CPU profile's (batch of 32)",
            (32, 24): "the heatmaps of the CPU profile's first version"}.get((h, w), "heatmaps")


def _fmt(value, digits=1):
    return "" if value is None else f"{value:.{digits}f}"


def loss_table(result: dict, shape) -> str:
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
        cells = [_fmt(get(method, impl, key), digits) for _, impl, key, digits in columns]
        cells += [_fmt(memory.get((method, "reference")), 2), _fmt(memory.get((method, "fused")), 2)]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    mmpose = ", ".join(f"{name} {_fmt(get(m, 'mmpose', 'ms'))} ms" for m, name in
                       (("mse", "`KeypointMSELoss`"), ("awing", "`AdaptiveWingLoss`")) if (m, "mmpose") in rows)
    floors = [(impl, r) for (m, impl), r in rows.items() if m == "floor"]
    text = f"MMPose, same run: {mmpose}.\n\n" + "\n".join(lines)
    if floors:
        text += "\n\nFloors, every keypoint visible, same run: " + "; ".join(
            f"{impl}: {1e3 * r['median_s']:.1f} ms ({r['ratio_to_mmpose_mse']:.2f} × MMPose MSE)" for impl, r in floors)
    return text


def where_the_time_goes(result: dict) -> str:
    """The profiler's top ops (one thread) of the fused FoWKAL loss and of MMPose's MSE, if recorded ("")."""
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


def train_step_markdown(result: dict) -> str:
    """The training step of the CPU profile's model per method and loss implementation ("" if not measured)."""
    step = result.get("train_step")
    if not step:
        return ""
    lines = ["| method | loss implementation | ms | × mse (reference) | × mse (same implementation) | CPU ms |",
             "|---|---|---:|---:|---:|---:|"]
    for r in step["rows"]:
        lines.append(f"| {r['method']} | {r['implementation']} | {1e3 * r['median_s']:.0f} | "
                     f"{r['ratio_to_mse_reference']:.3f} | {r['ratio_to_mse_same_implementation']:.3f} | "
                     f"{1e3 * r['median_cpu_s']:.0f} |")
    return f"Model: {step['model']}.\n\n" + "\n".join(lines)


def targets_markdown(result: dict) -> str:
    """The project's speed targets for the losses, measured or not ("" if none)."""
    targets = result.get("targets") or {}
    if not targets:
        return ""
    rows = ["| target | limit | measured | met |", "|---|---:|---:|---|"]
    for name, t in targets.items():
        value = "n/a" if t["measured"] is None else f"{t['measured']:.3f}"
        rows.append(f"| {name.replace('_', ' ')} | {t['target']} | {value} | {t['met']} |")
    return "The project's speed targets for the losses:\n\n" + "\n".join(rows)


def training_loss_config(method: str = "fowkal", profile: str = "cpu") -> tuple[dict, bool]:
    """The loss config the training config of ``method`` builds, and whether it is the fused implementation
    (:func:`fowkal.losses.build_loss`'s rule: fused unless ``reference=True`` or ``fused=False``)."""
    from ..configs import builder

    with warnings.catch_warnings():  # MMEngine's and MMCV's import-time notices
        warnings.simplefilter("ignore")
        from mmengine.config import Config

        loss_cfg = Config.fromfile(str(builder.config_file(method, profile))).model.head.loss
    return dict(loss_cfg), not loss_cfg.get("reference", False) and loss_cfg.get("fused", True) is not False


def geometry_markdown(result: dict) -> str:
    """``bench_geometry.json``: each 64 x 48 step as a multiple of the 32 x 24 step, both allocator modes."""
    modes = result["modes"]
    cases = list(dict.fromkeys((r["name"], r["method"]) for r in modes["default"]["rows"]))
    ratio = {(mode, r["name"], r["method"]): r["ratio_to_32x24"] for mode, m in modes.items() for r in m["rows"]}
    chosen = f"64x48/{result['settings'].get('default_head', 'shuffle64')}"
    lines = ["| step | method | × 32 × 24, default malloc | × 32 × 24, freed memory kept |", "|---|---|---:|---:|"]
    for name, method in cases:
        if name == "32x24":
            continue
        label = name.replace("64x48/", "64 × 48, ") + (" (the profile's)" if name == chosen else "")
        lines.append(f"| {label} | {method} | {ratio[('default', name, method)]:.2f} | "
                     f"{ratio.get(('retain', name, method), float('nan')):.2f} |")
    commit = (result.get("commit") or {}).get("commit") or "?"
    machine = result["machine"]
    return (f"Measured {result['created'][:16].replace('T', ' ')} UTC at commit `{commit[:8]}` on "
            f"{machine['cpu']} ({machine['logical_cpus']} logical CPUs), median of "
            f"{result['settings'].get('repeats', '?')} steps per case:\n\n" + "\n".join(lines))


def cost_markdown(records: list[dict]) -> str:
    """Per method: runs, mean wall time, epochs, median seconds per epoch, iterations; then the total."""
    by_method = {}
    for r in records:
        by_method.setdefault(r["method"], []).append(r)
    lines = ["| method | runs | wall time per run (min) | epochs | s per epoch (median) | iterations per run |",
             "|---|---:|---:|---:|---:|---:|"]
    for method, runs in by_method.items():
        walls = [r["wall_time_s"] / 60 for r in runs if r.get("wall_time_s") is not None]
        epoch_s = [e["time_s"] for r in runs for e in r.get("losses") or [] if "time_s" in e]
        lines.append(f"| {method} | {len(runs)} | {statistics.fmean(walls):.1f} | {runs[0]['schedule']['epochs']} | "
                     f"{statistics.median(epoch_s):.0f} | {runs[0]['schedule']['iters']} |")
    total_h = sum(r.get("wall_time_s") or 0 for r in records) / 3600
    machines = sorted({provenance(r)["machine"] for r in records})
    return ("\n".join(lines) + f"\n\nAll {len(records)} runs: **{total_h:.1f} hours** of wall time "
            f"on {'; '.join(machines)}, one run at a time.")


@dataclass(frozen=True)
class PaperEstimate:
    """The paper's schedule (8 GPUs x 32 crops, 210 epochs) over COCO train2017's annotated people."""

    people: int = 150_000  # COCO train2017 person instances with keypoints (HRNet paper: "150K")
    gpus: int = 8
    per_gpu: int = 32
    epochs: int = 210

    @property
    def iters_per_epoch(self) -> int:
        return math.ceil(self.people / (self.gpus * self.per_gpu))

    @property
    def total_iters(self) -> int:
        return self.iters_per_epoch * self.epochs


def paper_estimate() -> PaperEstimate:
    return PaperEstimate()


def paper_estimate_markdown(e: PaperEstimate) -> str:
    return "\n".join([
        "| quantity | value | how we know |",
        "|:---|---:|:---|",
        f"| crops per step | {e.gpus} × {e.per_gpu} = {e.gpus * e.per_gpu} | the paper |",
        f"| steps per epoch | ≈ {e.iters_per_epoch} | estimated: {e.people:,} people / {e.gpus * e.per_gpu} |",
        f"| steps in {e.epochs} epochs | ≈ {e.total_iters:,} | estimated |",
        f"| crops seen | ≈ {e.total_iters * e.gpus * e.per_gpu / 1e6:.1f} million | estimated |",
        "| time per step on a GPU | not measured | no GPU where this book is built |",
    ])


def loss_cost_text(result: dict, e: PaperEstimate) -> str:
    """The loss alone at the paper's shape, scaled to the paper's number of steps ("" if not measured)."""
    paper_rows = {(r["method"], r["implementation"]): r for r in result["losses"] if r["shape"] == [32, 133, 64, 48]}
    fused, ref, mse = paper_rows.get(("fowkal", "fused")), paper_rows.get(("fowkal", "reference")), paper_rows.get(("mse", "mmpose"))
    if not (fused and ref and mse):
        return ""
    total = e.total_iters
    return (f"What can be measured here is the loss itself at the paper's shape (one GPU's batch of 32), "
            f"on this CPU: FoWKAL costs {1e3 * ref['median_s']:.0f} ms in the reference implementation "
            f"and {1e3 * fused['median_s']:.0f} ms fused, against {1e3 * mse['median_s']:.0f} ms for "
            f"MMPose's MSE. For {total:,} steps of one GPU's batch, that would be ≈ "
            f"{total * fused['median_s'] / 3600:.0f} hours of this CPU for the fused FoWKAL loss "
            f"(≈ {total * ref['median_s'] / 3600:.0f} for the reference), against ≈ "
            f"{total * mse['median_s'] / 3600:.0f} for MSE: fused, the loss is not what makes the paper's "
            f"run expensive; HRNet-w32's forward and backward "
            f"on 256 × 192 crops is. On a GPU, both losses are element-wise work on 13 million values per "
            f"batch; their cost there has not been measured.")


def backbone_weights() -> tuple[str, str]:
    """(the upstream config's file name, the file name of the ImageNet HRNet-w32 weights it names), read
    through MMEngine's config hub."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mmengine.hub import get_config

        upstream = get_config(UPSTREAM_CONFIG)
    return UPSTREAM_CONFIG.rsplit("/", 1)[-1], upstream.model.backbone.init_cfg.checkpoint.rsplit("/", 1)[-1]


def paper_command(weights: str, method: str = "fowkal", data_root: str = "/data/coco", gpus: int = 8) -> str:
    """The command that trains ``method`` in the paper's setting (a ``bash`` block)."""
    return ("```bash\n"
            f"python -m fowkal train --method {method} --profile paper --data-root {data_root} --gpus {gpus} \\\n"
            f"    --pretrained /data/weights/{weights}\n```")


#: The data files of the ``paper`` profile, in words.
DATA_FILES = {"ann_train": "COCO-WholeBody v1.0 training annotations",
              "ann_val": "COCO-WholeBody v1.0 validation annotations",
              "img_train": "COCO train2017 images",
              "img_val": "COCO val2017 images",
              "det_file": "person detections on val2017 (the AP 56 detector's, as in MMPose's configs)"}


def data_layout_markdown() -> str:
    """The paths the ``paper`` profile expects under its data root (``fowkal.configs.builder.DEFAULT_FILES``)."""
    from ..configs import builder

    files = builder.DEFAULT_FILES["paper"]
    return "\n".join(f"- `{files[key]}`: {what}" for key, what in DATA_FILES.items())


def methods_text() -> str:
    return ", ".join(f"`{m}`" for m in METHODS)


def gpu_records(folder=None) -> list[dict]:
    """The GPU check's records (``results/gpu/*.json``, not the tiny self-tests)."""
    folder = Path(folder or GPU_DIR)
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return [r for r in found if r.get("kind") == "fowkal-gpu-check" and not r.get("tiny")]


def gpu_section(record: dict) -> str:
    """One GPU check record: device and versions, checks, training speed, fused-vs-reference agreement, timing."""
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
