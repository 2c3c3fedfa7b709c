"""The GPU check: the paper's setting trains on CUDA, and the losses' speed and agreement there.

    python3 benchmarks/gpu/check.py --wheels benchmarks/gpu/wheels     # on the GPU machine (no network)
    .venv/bin/python benchmarks/gpu/check.py --tiny                    # the same code on the CPU (CI, ~1 min)

In one run, on one device:

1. generates a small benchmark (``fowkal.data``) with people drawn at the paper's crop (256x192);
2. trains the paper profile (HRNet-w32 + DARK, 64x48 heatmaps, ``KAFHeatmapHead``, the profile's own loss
   implementation) from scratch for a fixed number of iterations, with mse and fowkal, in float32 and with
   automatic mixed precision (MMEngine's ``AmpOptimWrapper``), each run through ``torchrun`` (1 process,
   NCCL on CUDA, gloo on the CPU) and ``python -m fowkal train``, as users start it; from MMEngine's
   per-iteration log it records iterations per second, data time, peak GPU memory and the losses;
3. compares the fused loss with the reference (values and gradients, float32 and bfloat16 inputs,
   against the reference in float64 on the same inputs);
4. times forward + backward of every method against MMPose's ``KeypointMSELoss`` and ``AdaptiveWingLoss``
   on ``[32, 133, 64, 48]`` (``benchmarks/bench_losses.py``'s code), ratios from this one run.

It writes one JSON record: ``results/gpu/<card>-<date>.json`` for a full CUDA run, else into a temporary
folder (``--out-dir`` chooses). ``--tiny`` (a few iterations, 128x96 crops, small loss shapes) keeps the
code from rotting on machines without a GPU; AMP needs CUDA in MMEngine, so there the AMP runs are
recorded as skipped. ``--wheels DIR`` first installs ``collect.py``'s folder into a private target
folder (``pip --no-index --no-deps``: the machine's torch stays) and restarts itself with it.
Exit status: 0 when every check passed; 1 when one failed or a phase broke off (the record is written
either way, with ``error`` naming the phase; the scratch folder is then kept); 2 for bad arguments, no GPU
with ``--device cuda``, or wheels that do not install.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = REPO / "results" / "gpu"
KIND, SCHEMA_VERSION = "fowkal-gpu-check", 1
INSTALL_ENV = "FOWKAL_GPU_CHECK_INSTALL"  # set for the restarted process: what --wheels installed
SITE_ENV = "FOWKAL_GPU_CHECK_SITE"  # and where (removed at the end)
METHODS = ("mse", "fowkal")
PRECISIONS = ("fp32", "amp")
#: Full run: ~4-6 minutes on one H100-class GPU with 16 cores (4 training runs of ~1 minute, start-up
#: and evaluation included). Tiny: a few iterations on the CPU.
MODES = {
    "full": dict(iters=150, batch=32, crop=(192, 256), workers=8, val_images=8, warmup_iters=30,
                 loss_shape=(32, 133, 64, 48), repeats=20, reference_repeats=10, warmup=3,
                 image_size=(480, 384), person_height=(200.0, 340.0), run_timeout=180, budget_s=420,
                 methods=METHODS),
    "tiny": dict(iters=4, batch=4, crop=(96, 128), workers=0, val_images=2, warmup_iters=2,
                 loss_shape=(4, 133, 32, 24), repeats=2, reference_repeats=1, warmup=1,
                 image_size=(160, 128), person_height=(70.0, 110.0), run_timeout=240, budget_s=900,
                 methods=("fowkal",)),  # the code path of both methods; MSE's run would repeat it
}
#: Agreement of the fused loss with the float64 reference on the same inputs: |value error| / |value| and
#: max |gradient error| / max |gradient|. bfloat16: the gradient comes back rounded to bfloat16 (2^-9).
TOLERANCES = {"float32": dict(value=1e-5, grad=1e-4), "bfloat16": dict(value=1e-4, grad=1e-2)}


# --------------------------------------------------------------------------- arguments
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few iterations, small crops and shapes (CI)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--iters", type=int, help="training iterations per run (default: full 150, tiny 4)")
    parser.add_argument("--batch", type=int, help="crops per iteration (default: full 32 as the paper, tiny 4)")
    parser.add_argument("--workers", type=int, help="data loader processes (default: full 8, tiny 0)")
    parser.add_argument("--budget-s", type=int, help="no training run starts, and none goes on, past this many "
                        "seconds from the start (default: full 420, tiny 900)")
    parser.add_argument("--loss-shape", help="B,K,H,W of the loss comparisons (default: full 32,133,64,48)")
    parser.add_argument("--amp-dtype", choices=("float16", "bfloat16"), default="float16",
                        help="AMP's autocast type (float16 with dynamic loss scaling is MMPose's --amp)")
    parser.add_argument("--out-dir", type=Path, help="where the record goes (default: results/gpu/ for a "
                        "full CUDA run, else a new temporary folder)")
    parser.add_argument("--work-dir", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch folder (logs, checkpoints)")
    parser.add_argument("--wheels", type=Path, help="install collect.py's folder first, then run")
    parser.add_argument("--allow-stale-wheel", action="store_true",
                        help="run the project wheel even if it differs from this checkout's fowkal/")
    args = parser.parse_args(argv)
    mode = dict(MODES["tiny" if args.tiny else "full"])
    for name, low in (("iters", 2), ("batch", 1), ("workers", 0), ("budget_s", 60)):
        value = getattr(args, name)
        if value is not None:
            if value < low:
                parser.error(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
            mode[name] = value
    mode["warmup_iters"] = min(mode["warmup_iters"], max(2, mode["iters"] // 5))
    if args.loss_shape is not None:
        try:
            shape = tuple(int(v) for v in args.loss_shape.split(","))
        except ValueError:
            shape = ()
        if len(shape) != 4 or min(shape) < 1 or shape[1] != 133:
            parser.error(f"--loss-shape must be B,133,H,W with positive sizes, got {args.loss_shape!r}")
        mode["loss_shape"] = shape
    if args.wheels is not None and not (args.wheels / "manifest.json").is_file():
        parser.error(f"--wheels {args.wheels}: no manifest.json there (make the folder with collect.py)")
    if args.out_dir is not None and not args.out_dir.parent.is_dir():
        parser.error(f"--out-dir {args.out_dir}: its parent folder does not exist")
    if args.work_dir is not None and args.work_dir.exists() and any(args.work_dir.iterdir()):
        parser.error(f"--work-dir {args.work_dir} is not empty")
    args.mode = mode
    return args


# --------------------------------------------------------------------------- --wheels: install, restart
def tree_digest(root: Path) -> str:
    """sha256 over the relative paths and bytes of a package folder's Python files (what the wheel holds:
    modules and the MMPose configs; stray files of a checkout and caches do not count)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def install_and_restart(args, argv) -> None:
    """pip-install the collected wheels into a private folder, check them, and exec this script again."""
    wheels = args.wheels.resolve()
    manifest = json.loads((wheels / "manifest.json").read_text())
    for entry in manifest["files"]:
        path = wheels / entry["name"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            _setup_failed(f"{path} is missing or differs from manifest.json; collect again")
    site = Path(tempfile.mkdtemp(prefix="fowkal-gpu-site-"))
    have_pkg_resources = subprocess.run([sys.executable, "-c", "import pkg_resources"],
                                        capture_output=True).returncode == 0
    binaries = [wheels / e["name"] for e in manifest["files"] if e["name"].endswith(".whl")
                and not (have_pkg_resources and e["name"].startswith("setuptools-"))]
    sources = [wheels / e["name"] for e in manifest["files"] if e["name"].endswith(".tar.gz")]
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--no-cache-dir", "--target", str(site)]
    started = time.perf_counter()
    for cmd in (pip + [str(p) for p in binaries], pip + ["--no-build-isolation"] + [str(p) for p in sources]):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(site, ignore_errors=True)
            _setup_failed(f"installing failed:\n{' '.join(cmd)}\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
    matches = None
    if (REPO / "fowkal").is_dir():
        matches = tree_digest(site / "fowkal") == tree_digest(REPO / "fowkal")
        if not matches and not args.allow_stale_wheel:
            shutil.rmtree(site, ignore_errors=True)
            _setup_failed("the project wheel differs from this checkout's fowkal/: run collect.py again "
                          "(or pass --allow-stale-wheel to run the wheel's code anyway)")
    info = {"manifest_created": manifest["created"], "python": manifest["python"],
            "project_commit": manifest["project"], "total_bytes": manifest["total_bytes"],
            "installed": [p.name for p in binaries + sources], "setuptools_from_image": have_pkg_resources,
            "project_matches_checkout": matches, "install_s": round(time.perf_counter() - started, 1)}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    env[INSTALL_ENV] = json.dumps(info)
    env[SITE_ENV] = str(site)
    rest = _drop_option(argv, "--wheels")
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *rest], env)


def _setup_failed(message: str) -> None:
    print(f"check: {message}", file=sys.stderr)
    raise SystemExit(2)


def _drop_option(argv, name):
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out


# --------------------------------------------------------------------------- 1. the benchmark
def make_data(root: Path, mode: dict) -> dict:
    from fowkal.data import make_benchmark, read_manifest

    started = time.perf_counter()
    # ~2 people per image, some unlabelled or cut off: 1.5 usable per image is a safe count
    train_images = math.ceil(mode["iters"] * mode["batch"] / 1.5) + 4
    params = dict(train_images=train_images, val_images=mode["val_images"], image_size=mode["image_size"],
                  person_height=mode["person_height"])
    make_benchmark(root, seed=0, workers=max(1, min(8, os.cpu_count() or 1)), **params)
    manifest = read_manifest(root)
    return {"params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
            "counts": manifest.get("counts"), "seconds": round(time.perf_counter() - started, 1)}


# --------------------------------------------------------------------------- 2. training
def run_overrides(bench_root: Path, mode: dict, precision: str, amp_dtype: str) -> dict:
    """build_config arguments and dotted config keys of one training run of the check."""
    from fowkal.configs import build_config
    from fowkal.data import TRAIN_ANN, VAL_ANN, image_prefix

    workers = mode["workers"]
    overrides = {
        "ann_train": TRAIN_ANN, "ann_val": VAL_ANN, "img_train": image_prefix("train"),
        "img_val": image_prefix("val"), "gt_boxes": True,
        # MMEngine's log, every iteration, unsmoothed: the per-iteration times, memory and losses
        "default_hooks.logger.interval": 1, "log_processor.window_size": 1,
        # the paper warms up over 500 of ~125k iterations; a short run warms up over its first fifth
        "param_scheduler.0.end": mode["warmup_iters"],
        "train_dataloader.num_workers": workers, "train_dataloader.persistent_workers": workers > 0,
    }
    for loader in ("val_dataloader", "test_dataloader"):
        overrides.update({f"{loader}.num_workers": min(workers, 2), f"{loader}.persistent_workers": False})
    if precision == "amp":  # as MMPose's tools/train.py --amp
        overrides.update({"optim_wrapper.type": "AmpOptimWrapper", "optim_wrapper.loss_scale": "dynamic"})
        if amp_dtype != "float16":
            overrides["optim_wrapper.dtype"] = amp_dtype
    crop = list(mode["crop"])
    if tuple(crop) != (192, 256):  # the paper's crop is the config's; another one is set everywhere
        heatmap = [crop[0] // 4, crop[1] // 4]
        cfg = build_config("mse", "paper", data_root=bench_root, from_scratch=True, **{k: overrides[k] for k in (
            "ann_train", "ann_val", "img_train", "img_val", "gt_boxes")})
        overrides.update({"codec.input_size": crop, "codec.heatmap_size": heatmap,
                          "model.head.decoder.input_size": crop, "model.head.decoder.heatmap_size": heatmap})
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            for i, step in enumerate(cfg[loader].dataset.pipeline):
                key = f"{loader}.dataset.pipeline.{i}"
                if step["type"] == "TopdownAffine":
                    overrides[f"{key}.input_size"] = crop
                elif step["type"] == "GenerateTarget":
                    overrides.update({f"{key}.encoder.input_size": crop, f"{key}.encoder.heatmap_size": heatmap})
    return overrides


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_run(method: str, precision: str, *, bench_root: Path, work: Path, mode: dict, device: str,
              amp_dtype: str, timeout: float) -> dict:
    """One run through torchrun (1 process) and ``python -m fowkal train``; its per-iteration numbers."""
    import fowkal
    from fowkal.runs import record as run_record
    from fowkal.runs.options import TrainOptions
    from fowkal.runs.train import torchrun_command

    overrides = run_overrides(bench_root, mode, precision, amp_dtype)
    # no ImageNet weights on a lent machine: from scratch, said in the record
    # from_kwargs: the file arguments among the overrides are options, the dotted keys config overrides
    options = TrainOptions.from_kwargs(method, "paper", data_root=str(bench_root), work_dir=str(work), epochs=1,
                                       batch_size=mode["batch"], max_iters=mode["iters"], device=device, gpus=1,
                                       quiet=True, from_scratch=True, master_addr="127.0.0.1",
                                       master_port=_free_port(), **overrides).validate()
    cmd = torchrun_command(options)
    package_parent = str(Path(fowkal.__file__).resolve().parents[1])  # the children run this same fowkal
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    work.mkdir(parents=True)
    log = work.parent / f"{work.name}.log"
    started = time.perf_counter()
    with open(log, "w") as out:
        try:
            code = subprocess.run(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = f"stopped after {timeout:.0f} s"
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"training {method}/{precision} failed ({code}); the end of {log}:\n"
                           f"{log.read_text()[-4000:]}")
    record = run_record.load(work / run_record.RECORD_NAME)
    return dict(method=method, precision=precision, status="ok", wall_s=round(wall, 1),
                amp_dtype=amp_dtype if precision == "amp" else None, **iteration_stats(work, mode["iters"]),
                device=record["device"], loss_implementation=loss_implementation(work))


def loss_implementation(work: Path) -> str:
    from mmengine.config import Config

    loss = Config.fromfile(str(work / "config.py")).model.head.loss
    reference = loss.get("reference", False) or loss.get("fused") is False  # build_loss's rule: fused by default
    return f"{loss.get('method')}, {'reference' if reference else 'fused'}"


def iteration_stats(work: Path, iters: int) -> dict:
    """Per-iteration time, data time, memory and loss from MMEngine's scalars.json (window 1)."""
    logs = sorted(work.glob("*/vis_data/scalars.json"))
    if not logs:
        raise RuntimeError(f"no MMEngine scalars.json under {work}")
    rows = [json.loads(line) for line in logs[-1].read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "loss" in r and "time" in r]
    if len(rows) != iters:
        raise RuntimeError(f"{work}: {len(rows)} logged training iterations, expected {iters} "
                           f"(too few training people in the benchmark?)")
    skip = max(1, iters // 10)  # the first iterations pay for cuDNN/cuBLAS set-up and allocator growth
    times, data = [r["time"] for r in rows[skip:]], [r["data_time"] for r in rows[skip:]]
    losses = [float(r["loss"]) for r in rows]
    window = max(1, iters // 5)
    first, last = statistics.fmean(losses[:window]), statistics.fmean(losses[-window:])
    memory = [r["memory"] for r in rows if "memory" in r]
    return dict(iters=len(rows), timed_iters=len(times), it_per_s=round(len(times) / sum(times), 3),
                time_median_s=round(statistics.median(times), 4),
                data_time_median_s=round(statistics.median(data), 4),
                data_time_fraction=round(sum(data) / sum(times), 3),
                peak_memory_mib=max(memory) if memory else None,
                finite=all(map(math.isfinite, losses)), loss_first=round(first, 7), loss_last=round(last, 7),
                falls=last < first, losses=[round(v, 7) for v in losses])


def training(bench_root: Path, work: Path, mode: dict, device: str, amp_dtype: str, deadline: float,
             save) -> dict:
    """The four runs; ``save(result)`` after each, so that a run cut off by the caller's limit keeps the rest."""
    result = {"profile": "paper", "model": "HRNet-w32 + DARK, KAFHeatmapHead", "pretrained": None,
              "from_scratch": True, "launcher": f"torchrun, 1 process, {'nccl' if device == 'cuda' else 'gloo'}",
              "entry_point": "python -m fowkal train --profile paper --gpus 1 --launcher pytorch",
              "crop_wh": list(mode["crop"]), "heatmap_wh": [mode["crop"][0] // 4, mode["crop"][1] // 4],
              "batch_size": mode["batch"], "iterations": mode["iters"], "workers": mode["workers"],
              "lr_schedule": f"the profile's Adam (lr 5e-4 for a batch of 256, scaled linearly: auto_scale_lr); "
                             f"linear warm-up over the first {mode['warmup_iters']} iterations instead of 500",
              "timing": "MMEngine's per-iteration log (window 1); it/s over all but the first 10% of iterations",
              "runs": []}
    for precision in PRECISIONS:
        for method in mode["methods"]:
            if precision == "amp" and device != "cuda":
                result["runs"].append(dict(method=method, precision=precision, status="skipped",
                                           reason="MMEngine's AmpOptimWrapper needs CUDA"))
                continue
            left = deadline - time.perf_counter()
            if left < 30:
                raise RuntimeError(f"the time budget ({mode['budget_s']} s) is spent before {method}/{precision}")
            row = train_run(method, precision, bench_root=bench_root, work=work / f"{method}-{precision}",
                            mode=mode, device=device, amp_dtype=amp_dtype, timeout=min(mode["run_timeout"], left))
            print(f"[check] {method:6s} {precision:4s} {row['it_per_s']:7.2f} it/s, data {row['data_time_fraction']:.0%}"
                  f" of the time, peak {row['peak_memory_mib']} MiB, loss {row['loss_first']:.3g} -> "
                  f"{row['loss_last']:.3g} ({row['wall_s']} s with start-up and evaluation)", flush=True)
            result["runs"].append(row)
            save(result)
    return result


# --------------------------------------------------------------------------- 3. agreement, 4. timings
def agreement_inputs(shape, device, seed=0):
    """bench_losses' mid-training inputs, with 5% of the pixels pushed far off (AWing's linear branch)."""
    import torch
    import bench_losses

    pred, target, tw, kaf = bench_losses.make_inputs(shape, "cpu", seed)
    gen = torch.Generator().manual_seed(seed + 1)
    far = torch.rand(shape, generator=gen) < 0.05
    pred = torch.where(far, pred + 0.7 * torch.randn(shape, generator=gen), pred)
    return [t.to(device) for t in (pred, target, tw, kaf)]


def _value_and_grads(loss, pred, target, tw, kaf):
    import torch

    pred = pred.detach().clone().requires_grad_()
    kaf = None if kaf is None else kaf.detach().clone().requires_grad_()
    value = loss(pred, target, tw, kaf)
    grads = torch.autograd.grad(value, [pred] + ([kaf] if kaf is not None else []))
    return value.detach(), [g.detach() for g in grads]


def _rel(a, b) -> float:
    a, b = a.double(), b.double()
    scale = float(b.abs().max())
    return float((a - b).abs().max()) / scale if scale > 0 else float((a - b).abs().max())


def loss_agreement(shape, device) -> dict:
    from fowkal.losses import KAL_METHODS, METHODS as ALL_METHODS, build_fused_loss, build_reference_loss
    import torch

    pred, target, tw, kaf = agreement_inputs(shape, device)
    rows = []
    for method in ALL_METHODS:
        lam = kaf if method in KAL_METHODS else None
        reference, fused = build_reference_loss(method), build_fused_loss(method)
        for dtype, name in ((torch.float32, "float32"), (torch.bfloat16, "bfloat16")):
            p, t = pred.to(dtype), target.to(dtype)  # both losses see the same (rounded) inputs
            truth = _value_and_grads(reference, p.double(), t.double(), tw.double(),
                                     None if lam is None else lam.double())
            ref32 = _value_and_grads(reference, p.float(), t.float(), tw, lam)
            new = _value_and_grads(fused, p, t, tw, lam)
            tol = TOLERANCES[name]
            row = dict(method=method, dtype=name, value=float(truth[0]),
                       fused_value_rel_err=_rel(new[0], truth[0]), reference32_value_rel_err=_rel(ref32[0], truth[0]),
                       fused_grad_rel_err=_rel(new[1][0], truth[1][0]),
                       reference32_grad_rel_err=_rel(ref32[1][0], truth[1][0]),
                       fused_grad_dtype=str(new[1][0].dtype).replace("torch.", ""))
            if lam is not None:
                row["fused_kaf_grad_rel_err"] = _rel(new[1][1], truth[1][1])
            row["ok"] = bool(row["fused_value_rel_err"] <= tol["value"] and row["fused_grad_rel_err"] <= tol["grad"]
                             and row.get("fused_kaf_grad_rel_err", 0.0) <= tol["grad"])
            rows.append(row)
    return {"shape": list(shape), "device": str(pred.device.type), "tolerances": TOLERANCES,
            "truth": "the reference (fowkal.losses.reference) in float64 on the same inputs, rounded to the dtype",
            "rows": rows, "all_ok": all(r["ok"] for r in rows)}


def loss_timing(shape, device, mode) -> dict:
    import torch
    import bench_losses

    started = time.perf_counter()
    rows, memory, invisible = bench_losses.bench_losses(tuple(shape), torch.device(device), mode["repeats"],
                                                        mode["reference_repeats"], mode["warmup"], True)
    keep = ("method", "implementation", "median_s", "repeats", "ratio_to_mmpose_awing", "ratio_to_mmpose_mse")
    return {"shape": list(shape), "device": device, "dtype": "float32", "invisible_fraction": round(invisible, 3),
            "method": "forward + backward, interleaved repetitions after warm-up, medians; ratios of medians "
                      "from this run (benchmarks/bench_losses.py)",
            "rows": [{k: r[k] for k in keep} for r in rows],
            "memory": [{k: m[k] for k in ("method", "implementation", "peak_extra_buffers")} for m in memory],
            "seconds": round(time.perf_counter() - started, 1)}


# --------------------------------------------------------------------------- the record
def device_info(device: str) -> dict:
    import torch

    info = {"type": device, "torch": torch.__version__}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(name=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gib=round(props.total_memory / 2**30, 1), multiprocessors=props.multi_processor_count,
                    cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), nccl=_nccl_version())
    return info


def _nccl_version():
    import torch

    try:
        version = torch.cuda.nccl.version()
    except (AttributeError, RuntimeError):
        return None
    return ".".join(map(str, version)) if isinstance(version, tuple) else str(version)


def record_path(out_dir: Path, device: dict, tiny: bool) -> Path:
    card = "cpu" if device["type"] == "cpu" else re.sub(r"[^a-z0-9]+", "-", device["name"].lower()).strip("-")
    stem = f"{card}{'-tiny' if tiny else ''}-{datetime.now(timezone.utc):%Y-%m-%d}"
    path, n = out_dir / f"{stem}.json", 2
    while path.exists():  # never overwrite an earlier record of the same day
        path, n = out_dir / f"{stem}-{n}.json", n + 1
    return path


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.wheels is not None:
        install_and_restart(args, argv)  # does not return
    started = time.perf_counter()
    sys.path.insert(1, str(HERE.parent))  # bench_losses (after fowkal's own location: see below)
    import torch

    import fowkal  # noqa: F401  (first, so that bench_losses's sys.path entry for the checkout cannot shadow it)
    from fowkal.jsonfile import write_json_atomic
    from fowkal.runs.record import git_state, machine, package_versions

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        print("check: --device cuda, but torch sees no GPU", file=sys.stderr)
        return 2
    real = device == "cuda" and not args.tiny
    out_dir = args.out_dir or (RESULTS if real else Path(tempfile.mkdtemp(prefix="fowkal-gpu-record-")))
    # absolute: the training runs in subprocesses whose working folder is not this one
    work = (args.work_dir or Path(tempfile.mkdtemp(prefix="fowkal-gpu-check-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    mode = args.mode
    installed = json.loads(os.environ[INSTALL_ENV]) if INSTALL_ENV in os.environ else None
    info = device_info(device)
    print(f"[check] {'tiny' if args.tiny else 'full'} run on {info.get('name', 'the CPU')}; scratch {work}", flush=True)
    record = {"kind": KIND, "schema_version": SCHEMA_VERSION, "tiny": args.tiny, "device": info,
              "versions": package_versions(), "machine": machine(), "git": git_state(REPO),
              "fowkal_from": "wheels (collect.py)" if installed else "this environment", "wheels": installed}
    record["phases"] = phases = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(out_dir, info, args.tiny)
    deadline = started + mode["budget_s"]

    def save(name=None, value=None):
        """Rewrite the record (whole, atomically): one cut off by a time limit keeps every finished phase."""
        if name is not None:
            record[name] = value
        record["checks"] = summary(record, args.tiny)
        record["wall_time_s"] = round(time.perf_counter() - started, 1)
        record["created"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_json_atomic(record, path)

    steps = (("benchmark", lambda: make_data(work / "benchmark", mode)),
             ("training", lambda: training(work / "benchmark", work / "runs", mode, device, args.amp_dtype,
                                           deadline, lambda result: save("training", result))),
             ("loss_agreement", lambda: loss_agreement(mode["loss_shape"], device)),
             ("loss_timing", lambda: loss_timing(mode["loss_shape"], device, mode)))
    record["error"] = "did not finish"  # until it has: a record cut off mid-way says so
    for name, step in steps:
        t = time.perf_counter()
        try:
            value = step()
        except Exception as err:  # a partial record still says what ran (device minutes are scarce)
            traceback.print_exc()
            record["error"] = f"{name}: {type(err).__name__}: {str(err)[-3000:]}"
            print(f"check: {name} failed; the scratch folder {work} is kept", file=sys.stderr)
            break
        phases[f"{name}_s"] = round(time.perf_counter() - t, 1)
        save(name, value)
    else:
        del record["error"]
    save()
    if not args.keep_work and args.work_dir is None and "error" not in record:
        shutil.rmtree(work, ignore_errors=True)
    if os.environ.get(SITE_ENV, "").startswith(tempfile.gettempdir()):  # everything is imported by now
        shutil.rmtree(os.environ[SITE_ENV], ignore_errors=True)
    ok = all(v is not False for v in record["checks"].values())
    print(f"[check] {'all checks passed' if ok else 'A CHECK FAILED'}: {record['checks']}")
    print(f"[check] record: {path} ({record['wall_time_s']} s)")
    return 0 if ok else 1


def summary(record: dict, tiny: bool) -> dict:
    runs = [r for r in record.get("training", {}).get("runs", []) if r["status"] == "ok"]
    return {"completed": "error" not in record, "training_ran": bool(runs),
            "losses_finite": bool(runs) and all(r["finite"] for r in runs),
            # a loss that falls over a few iterations is asked only of a full run
            "losses_fall": None if tiny else bool(runs) and all(r["falls"] for r in runs),
            "fused_agrees_with_reference": record.get("loss_agreement", {}).get("all_ok", False)}


if __name__ == "__main__":
    sys.exit(main())
