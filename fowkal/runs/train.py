"""Training entry point: ``fowkal.train(...)`` / ``python -m fowkal train``.

One process on the CPU or one GPU runs MMEngine's ``Runner`` in this process. More processes
(``gpus > 1``, or several nodes) are started through ``torchrun``
(``python -m torch.distributed.run ... -m fowkal train ... --launcher pytorch``), NCCL on GPUs and
gloo on CPUs; this process waits for them and returns the run record their rank 0 wrote.

A run writes into its work dir: ``config.py`` (the resolved config), a checkpoint every epoch,
``loss_log.json`` and, for the KAL methods, ``kaf_log.json`` (:mod:`fowkal.mmpose.hooks`), the results
files of the final evaluation, and at the very end ``run_record.json`` (:mod:`fowkal.runs.record`),
which stores what regenerates the config instead of the ``config.py`` dump
(:mod:`fowkal.runs.runconfig`): the dump stays in the work dir for evaluation, never in a record folder.
``resume=True`` continues a killed run from its last checkpoint: the epoch it was killed in is
redone from its start, with the same data order and augmentation draws (the data loaders must
be single-process, ``num_workers=0``, or not persistent for the draws to match exactly).
"""
from __future__ import annotations

import contextlib
import copy
import json
import numbers
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from . import record as run_record
from .runconfig import prepare_config  # noqa: F401 (part of this module's interface)
from ..losses import METHODS

DEVICES = ("cpu", "cuda")
LAUNCHERS = ("none", "pytorch")
#: Validation images whose predictions the run record keeps (for the book's Fig. 4).
N_PREDICTION_IMAGES = 4


# --------------------------------------------------------------------------- argument checks
def _positive_int(name, value, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_args(method, profile, gpus, nnodes, node_rank, max_iters, device, launcher, master_port):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    _positive_int("gpus", gpus)
    _positive_int("nnodes", nnodes)
    _positive_int("max_iters", max_iters, allow_none=True)
    if isinstance(node_rank, bool) or not isinstance(node_rank, numbers.Integral) \
            or not 0 <= node_rank < nnodes:
        raise ValueError(f"node_rank must be an integer in [0, nnodes={nnodes}), got {node_rank!r}")
    if device is not None and device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} or None (automatic), got {device!r}")
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher must be one of {LAUNCHERS}, got {launcher!r}")
    if master_port is not None:
        _positive_int("master_port", master_port)


def resolve_device(device, gpus: int, *, in_process: bool = True) -> str:
    """'cuda' or 'cpu'; raises before any work when GPUs are asked for and missing."""
    import torch

    n_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device is None:
        if gpus > 1 and n_cuda == 0:
            raise ValueError(f"gpus={gpus} asks for {gpus} GPUs, but torch sees none on this "
                             f"machine; to run {gpus} CPU processes (gloo) say so with "
                             f"device='cpu' (--device cpu)")
        device = "cuda" if n_cuda else "cpu"
    if device == "cuda" and gpus > n_cuda:
        raise ValueError(f"{gpus} GPU(s) asked for, but torch sees {n_cuda} "
                         f"(torch.cuda.is_available() is {torch.cuda.is_available()})")
    if device == "cpu" and n_cuda and in_process:
        # MMEngine moves the model to CUDA whenever torch sees a GPU (launched processes get
        # CUDA_VISIBLE_DEVICES= from us; this process has already asked CUDA)
        raise ValueError("device='cpu' on a machine with GPUs: start Python with "
                         "CUDA_VISIBLE_DEVICES= (empty) to train on the CPU")
    return device


def _check_work_dir(work_dir: Path, resume: bool) -> None:
    held = [name for name in ("last_checkpoint", run_record.RECORD_NAME) if (work_dir / name).exists()]
    if held and not resume:
        raise ValueError(f"work dir {work_dir} already holds a run ({', '.join(held)}); pass "
                         f"resume=True (--resume) to continue it, or choose another work dir")


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


# --------------------------------------------------------------------------- entry point
def train(method: str = "fowkal", profile: str = "cpu", *, data_root=None, work_dir=None,
          epochs=None, batch_size=None, seed: int = 0, gpus: int = 1, resume: bool = False,
          pretrained=None, nnodes: int = 1, node_rank: int = 0, master_addr: str = "127.0.0.1",
          master_port=None, max_iters=None, device=None, deterministic: bool = False,
          launcher: str = "none", quiet: bool = False, **overrides) -> dict:
    """Train one method in one profile; returns the run record (also written to the work dir).

    Args:
        method, profile: see ``fowkal.configs.build_config`` (``fowkal.losses.METHODS``; 'cpu' or
            'paper').
        data_root, work_dir, epochs, batch_size, seed, pretrained: passed to ``build_config``
            (``batch_size`` is per process).
        gpus: processes per node: GPUs, or CPU processes with ``device='cpu'``. More than one
            starts ``torchrun``.
        resume: continue the run in ``work_dir`` from its last checkpoint (a fresh start if it has
            none). Without it, a work dir that already holds a run is refused.
        nnodes, node_rank, master_addr, master_port: multi-node runs (torchrun's options); start
            the same call on every node with its own ``node_rank``. ``master_port`` defaults to a
            free port on one node, 29500 on several.
        max_iters: cut every epoch to this many iterations (by training on the first
            ``max_iters x batch_size x processes`` samples); for smoke tests.
        device: 'cpu', 'cuda' or None (CUDA when there is a GPU). GPUs asked for on a machine
            without them raise a ValueError before any work.
        deterministic: MMEngine's ``randomness.deterministic`` (deterministic torch algorithms).
        launcher: 'none'; 'pytorch' is set by torchrun for the processes it starts.
        quiet: do not print the metric tables at the end.
        **overrides: more ``build_config`` arguments (``ann_train``, ``ann_val``, ``det_file``,
            ``gt_boxes``, ``img_train``, ``img_val``) and dotted config keys
            (``**{'train_dataloader.num_workers': 0}``).

    Returns:
        The run record (see :mod:`fowkal.run_record`). On a node other than node 0 of a
        multi-node run whose work dir is not shared, an empty dict.
    """
    started = time.time()
    _check_args(method, profile, gpus, nnodes, node_rank, max_iters, device, launcher, master_port)
    launching = launcher == "none" and gpus * nnodes > 1
    _check_json(overrides)  # the run record keeps them (and torchrun passes them on) as JSON
    device = resolve_device(device, gpus if launcher == "none" else 1, in_process=not launching)
    from ..configs import build_config

    cfg = build_config(method, profile, data_root=data_root, work_dir=work_dir, epochs=epochs,
                       batch_size=batch_size, seed=seed, gpus=gpus * nnodes, pretrained=pretrained,
                       **overrides)
    work = Path(cfg.work_dir)
    if launcher == "none":
        _check_work_dir(work, resume)
    if launching:
        return _launch(method=method, profile=profile, data_root=data_root, work_dir=work,
                       epochs=epochs, batch_size=batch_size, seed=seed, gpus=gpus, resume=resume,
                       pretrained=pretrained, nnodes=nnodes, node_rank=node_rank,
                       master_addr=master_addr, master_port=master_port, max_iters=max_iters,
                       device=device, deterministic=deterministic, quiet=quiet, overrides=overrides)
    cfg = prepare_config(cfg, launcher=launcher, device=device, resume=resume, max_iters=max_iters,
                         world_size=_world_size(), deterministic=deterministic)
    args = dict(epochs=epochs, batch_size=batch_size, gpus=gpus, nnodes=nnodes, pretrained=pretrained)
    return _train_here(cfg, method=method, profile=profile, seed=seed, device=device,
                       launcher=launcher, started=started, max_iters=max_iters, quiet=quiet,
                       args=args, overrides=overrides)


def _check_json(overrides: dict) -> None:
    try:
        json.dumps(overrides)
    except (TypeError, ValueError) as err:
        raise TypeError(f"overrides must be JSON values (the run record keeps them): {err}") from None


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def torchrun_command(*, gpus, nnodes, node_rank, master_addr, master_port, train_args) -> list:
    """The ``torchrun`` command line that starts this node's processes."""
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={gpus}",
            f"--nnodes={nnodes}", f"--node_rank={node_rank}", f"--master_addr={master_addr}",
            f"--master_port={master_port}", "-m", "fowkal", "train", *train_args,
            "--launcher", "pytorch"]


def _launch(*, work_dir: Path, gpus, nnodes, node_rank, master_addr, master_port, device, overrides,
            **options) -> dict:
    if master_port is None:
        master_port = _free_port(master_addr) if nnodes == 1 else 29500
    args = ["--work-dir", str(work_dir), "--device", device, "--gpus", str(gpus),
            "--nnodes", str(nnodes), "--node-rank", str(node_rank)]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args += [flag] if value else []
        elif value is not None:
            args += [flag, str(value)]
    if overrides:
        args += ["--overrides-json", json.dumps(overrides)]
    cmd = torchrun_command(gpus=gpus, nnodes=nnodes, node_rank=node_rank, master_addr=master_addr,
                           master_port=master_port, train_args=args)
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        # share the cores between the processes (torchrun would otherwise set 1 with a warning)
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // gpus)))
    code = _run_streaming(cmd, env)
    if code != 0:
        raise RuntimeError(f"distributed training failed (torchrun exit code {code}); its log is "
                           f"in {work_dir}")
    record_path = work_dir / run_record.RECORD_NAME
    if not record_path.is_file():
        if node_rank > 0:
            return {}
        raise RuntimeError(f"distributed training ended without a run record in {work_dir}")
    return run_record.load(record_path)


def _run_streaming(cmd: list, env: dict) -> int:
    """Run ``cmd``, copying its output line by line to ``sys.stdout`` (a notebook shows it too)."""
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
    return proc.returncode


def _train_here(cfg, *, method, profile, seed, device, launcher, started, max_iters, quiet, args,
                overrides) -> dict:
    import torch.distributed as torch_dist
    from mmengine.dist import barrier, get_dist_info, is_main_process
    from mmengine.runner import Runner
    from mmengine.utils import import_modules_from_strings

    from ..mmpose.hooks import KAFLoggingHook
    from .checkpoints import trusted_checkpoints
    from .runconfig import config_block

    if launcher == "pytorch" and device == "cpu" and not torch_dist.is_initialized():
        torch_dist.init_process_group("gloo")  # MMEngine's init_dist would call torch.cuda.set_device
    import_modules_from_strings(**cfg.custom_imports)
    work_dir = Path(cfg.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    runner_cfg = copy.deepcopy(cfg)
    if cfg.train_cfg.get("val_interval", 1) >= cfg.train_cfg.max_epochs:
        # validating only after the last epoch: the final evaluation below does that (and more)
        runner_cfg.val_cfg = runner_cfg.val_dataloader = runner_cfg.val_evaluator = None
    # MMEngine names its logger and visualizer instances after the experiment (to the second):
    # unique names keep two runs started in one process apart
    runner_cfg.experiment_name = f"{work_dir.name}-{uuid.uuid4().hex[:8]}"
    if isinstance(runner_cfg.get("visualizer"), dict):
        runner_cfg.visualizer.pop("name", None)
    with _restoring_torch_flags():
        runner = Runner.from_cfg(runner_cfg)
        _, world_size = get_dist_info()
        # the record's config block before training: a config it cannot hash fails now, not at the end
        config = config_block(cfg, args=args, overrides=overrides,
                              run=dict(device=device, launcher=launcher, world_size=world_size,
                                       max_iters=max_iters, deterministic=bool(cfg.randomness.deterministic)))
        if is_main_process():
            cfg.dump(str(work_dir / "config.py"))  # for evaluate/kaf_push in the work dir; never committed
        log_hook = next(h for h in runner.hooks if isinstance(h, KAFLoggingHook))
        with trusted_checkpoints(work_dir):
            runner.train()
        metrics, predictions, results = _final_evaluation(runner, cfg, work_dir)
    record_path = work_dir / run_record.RECORD_NAME
    if is_main_process():
        record = _record(cfg, runner, log_hook, method=method, profile=profile, seed=seed,
                         device=device, world_size=world_size, launcher=launcher, started=started,
                         max_iters=max_iters, metrics=metrics, predictions=predictions,
                         results=results, config=config)
        run_record.write(record, record_path)
        if not quiet:
            _print_metrics(metrics, record_path)
    barrier()
    record = run_record.load(record_path)
    if launcher == "pytorch":
        torch_dist.destroy_process_group()
    return record


@contextlib.contextmanager
def _restoring_torch_flags():
    """MMEngine's ``randomness.deterministic`` switches torch-wide flags: undo them after the run."""
    import torch

    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1:]


# --------------------------------------------------------------------------- final evaluation
def _final_evaluation(runner, cfg, work_dir: Path):
    """Val metrics with ground-truth boxes, and with detections when the config has a det file."""
    from mmengine.dist import is_main_process

    from .evaluate import evaluation_cfgs, part_metrics, run_test_loop

    metrics, results = {}, {}
    has_det = bool(cfg.val_dataloader.dataset.get("bbox_file"))
    for name, use_gt in (("gt_boxes", True), ("detections", False)):
        if not use_gt and not has_det:
            metrics[name], results[name] = None, None
            continue
        prefix = work_dir / f"val_{'gt' if use_gt else 'det'}"
        loader, metric, info = evaluation_cfgs(cfg, use_gt_boxes=use_gt, outfile_prefix=prefix,
                                               split="val")
        reported = run_test_loop(runner, loader, metric)
        results[name] = f"{prefix.name}.keypoints.json"
        metrics[name] = part_metrics(info["ann_file"], f"{prefix}.keypoints.json", reported) \
            if is_main_process() else None
    predictions = _predictions(cfg, work_dir / results["gt_boxes"]) if is_main_process() else None
    return metrics, predictions, results


def _predictions(cfg, results_file: Path) -> list:
    """Predicted keypoints of every person in the first few val images (sorted by image id)."""
    from ..parts import ANNOTATION_FIELDS, NUM_KEYPOINTS

    ann = json.loads(Path(cfg.val_dataloader.dataset.ann_file).read_text())
    files = {img["id"]: img["file_name"] for img in ann["images"]}
    chosen = sorted(files)[:N_PREDICTION_IMAGES]
    out = []
    for res in json.loads(results_file.read_text()):
        if res["image_id"] not in chosen:
            continue
        xy = [[0.0, 0.0] for _ in range(NUM_KEYPOINTS)]
        scores = [0.0] * NUM_KEYPOINTS
        for field, idx in ANNOTATION_FIELDS.items():
            values = res[field]
            for j, k in enumerate(idx):
                xy[k] = [round(values[3 * j], 2), round(values[3 * j + 1], 2)]
                scores[k] = round(values[3 * j + 2], 4)
        out.append({"image_id": res["image_id"], "file_name": files[res["image_id"]],
                    "score": round(res["score"], 4), "keypoints": xy, "keypoint_scores": scores})
    return sorted(out, key=lambda p: (p["image_id"], -p["score"]))


# --------------------------------------------------------------------------- the record
def _record(cfg, runner, log_hook, *, method, profile, seed, device, world_size, launcher, started,
            max_iters, metrics, predictions, results, config) -> dict:
    from .runconfig import data_block, train_command

    work_dir = Path(cfg.work_dir)
    checkpoints = sorted((p.name for p in work_dir.glob("epoch_*.pth")),
                         key=lambda name: int(name[len("epoch_"):-len(".pth")]))
    last = (work_dir / "last_checkpoint")
    last_checkpoint = Path(last.read_text().strip()).name if last.is_file() else None
    record = {
        "schema_version": run_record.SCHEMA_VERSION,
        "kind": run_record.KIND,
        "method": method,
        "profile": profile,
        "seed": seed,
        "created": run_record.utc_now(),
        "config": config,
        "git": run_record.git_state(),
        "versions": run_record.package_versions(),
        "device": run_record.device_info(device, world_size),
        "launcher": launcher,
        "machine": run_record.machine(),
        "wall_time_s": round(time.time() - started, 1),
        "resumed_from_epoch": log_hook.start_epoch or None,
        "schedule": {"epochs": cfg.train_cfg.max_epochs, "iters": runner.iter,
                     "batch_size": cfg.train_dataloader.batch_size, "processes": world_size,
                     "max_iters": max_iters, "deterministic": cfg.randomness.deterministic},
        "data": data_block(cfg, train_samples=len(runner.train_dataloader.dataset)),
        "losses": log_hook.loss_entries,
        "metrics": metrics,
        "predictions": predictions,
        "files": {
            "config": "config.py",
            "kaf_log": log_hook.kaf_file if log_hook.kaf_entries else None,
            "loss_log": log_hook.loss_file,
            "checkpoints": checkpoints,
            "last_checkpoint": last_checkpoint,
            "results_gt_boxes": results["gt_boxes"],
            "results_detections": results["detections"],
        },
    }
    record["config"]["command"] = train_command(record)
    return record


def _print_metrics(metrics: dict, record_path: Path) -> None:
    from .metrics import format_table

    for name, title in (("gt_boxes", "ground-truth boxes"), ("detections", "detections")):
        if metrics.get(name):
            print(f"\nval AP/AR with {title}:\n{format_table(metrics[name])}")
    print(f"\nrun record: {record_path}")

