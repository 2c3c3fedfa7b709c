"""Training entry point: ``fowkal.train(...)`` / ``python -m fowkal train``.

One process on the CPU or one GPU runs MMEngine's ``Runner`` in this process. More processes
(``gpus > 1``, or several nodes) are started through ``torchrun``
(``python -m torch.distributed.run ... -m fowkal train --options-json '{...}'``: the run's
:class:`~fowkal.runs.options.TrainOptions` as JSON, ``launcher='pytorch'``), NCCL on GPUs and gloo
on CPUs; this process waits for them and returns the run record their rank 0 wrote.

A run writes into its work dir: ``config.py`` (the resolved config), a checkpoint every epoch,
``loss_log.json``, ``loss_curve.json`` and, for the KAL methods, ``kaf_log.json``
(:mod:`fowkal.mmpose.hooks`), ``curve_log.json`` (per-part AP every ``val_interval`` epochs,
:mod:`fowkal.runs.curve`), the results files of the final evaluation, and at the very end
``run_record.json`` (:mod:`fowkal.runs.record`),
which stores what regenerates the config instead of the ``config.py`` dump
(:mod:`fowkal.runs.runconfig`): the dump stays in the work dir for evaluation, never in a record folder.
``resume=True`` continues a killed run from its last checkpoint: the epoch it was killed in is
redone from its start, with the same data order and augmentation draws (the data loaders must
be single-process, ``num_workers=0``, or not persistent for the draws to match exactly).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from . import record as run_record
from .options import TrainOptions
from .runconfig import ARGS, FILE_ARGS, config_block, data_block, prepare_config, train_command

#: Validation images whose predictions the run record keeps (for the book's Fig. 4).
N_PREDICTION_IMAGES = 4


# --------------------------------------------------------------------------- device and work dir
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
def train(*args, **kwargs) -> dict:
    """Train one method in one profile; returns the run record (also written to the work dir).

    ``train(options)`` with a :class:`~fowkal.runs.options.TrainOptions` (every option, its default
    and meaning is a field there), or the keyword form ``train(method, profile, **options)``:
    ``train("fowkal", "cpu", data_root=..., epochs=2, **{"train_dataloader.num_workers": 0})``, where a
    name that is no option is a config override (a dotted or top-level config key, added to
    ``cfg_options``). ``train(options, quiet=True)`` replaces options of an options object.

    Every option is checked before any work (errors name the option and the value). ``gpus`` or
    ``nnodes`` above 1 start ``torchrun``, which is handed the options as JSON.

    Returns:
        The run record (see :mod:`fowkal.runs.record`). On a node other than node 0 of a
        multi-node run whose work dir is not shared, an empty dict.
    """
    if args and isinstance(args[0], TrainOptions):
        if len(args) > 1:
            raise TypeError("train(options) takes no other positional argument")
        options = dataclasses.replace(args[0], **kwargs)
    else:
        options = TrainOptions.from_kwargs(*args, **kwargs)
    return _train(options.validate())


def dry_run(options: TrainOptions, *, out=print):
    """Check a run without training it: validate the options, build and prepare its config, check its work
    dir, and say (``out``) what would run; nothing is written, no GPU is asked for. Returns the config.

    ``python -m fowkal train ... --dry-run``: a command can be tried on a machine that lacks the GPUs
    it asks for (the device is checked when the run starts)."""
    from ..configs import build_config

    options = options.validate()
    processes = options.gpus * options.nnodes
    if processes > 1:
        options.to_json()  # the processes get the options as JSON
    cfg = build_config(**options.config_kwargs())
    _check_work_dir(Path(cfg.work_dir), options.resume)
    device = options.device or ("cuda" if processes > 1 else "cpu")
    cfg = prepare_config(cfg, launcher="pytorch" if processes > 1 else "none", device=device,
                         resume=options.resume, max_iters=options.max_iters, world_size=processes,
                         deterministic=options.deterministic)
    data_root = cfg.fowkal.data_root
    out(f"dry run: {options.method} in the {options.profile} profile, seed {options.seed}: "
        f"{cfg.train_cfg.max_epochs} epoch(s) x {cfg.train_dataloader.batch_size} crops per process, "
        f"{processes} process(es) on {device}; data {data_root}; work dir {cfg.work_dir}"
        f"{' (resumed)' if options.resume else ''}. Options and config are valid; nothing was trained or written.")
    return cfg


def _train(options: TrainOptions) -> dict:
    started = time.time()
    launching = options.launcher == "none" and options.gpus * options.nnodes > 1
    if launching:  # the processes get the options as JSON: fail now on what JSON cannot hold
        try:
            options.to_json()
        except TypeError as err:
            raise TypeError(f"with several processes, the options go to them as JSON: {err}") from None
    device = resolve_device(options.device, options.gpus if options.launcher == "none" else 1,
                            in_process=not launching)
    from ..configs import build_config

    cfg = build_config(**options.config_kwargs())
    if options.launcher == "none":
        _check_work_dir(Path(cfg.work_dir), options.resume)
    # from here on the options say what runs: the work dir and the device resolved
    options = dataclasses.replace(options, work_dir=cfg.work_dir, device=device)
    if launching:
        return _launch(options)
    cfg = prepare_config(cfg, launcher=options.launcher, device=device, resume=options.resume,
                         max_iters=options.max_iters, world_size=_world_size(),
                         deterministic=options.deterministic)
    return _train_here(cfg, options, started=started)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def torchrun_command(options: TrainOptions) -> list:
    """The ``torchrun`` command line that starts this node's processes of the run ``options``
    (``master_port`` set): each runs ``python -m fowkal train --options-json`` with these options,
    ``launcher='pytorch'``."""
    child = dataclasses.replace(options, launcher="pytorch")
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={options.gpus}",
            f"--nnodes={options.nnodes}", f"--node_rank={options.node_rank}",
            f"--master_addr={options.master_addr}", f"--master_port={options.master_port}",
            "-m", "fowkal", "train", "--options-json", child.to_json()]


def _launch(options: TrainOptions) -> dict:
    """Start this node's processes through torchrun (``options``: work dir and device resolved)."""
    if options.master_port is None:
        port = _free_port(options.master_addr) if options.nnodes == 1 else 29500
        options = dataclasses.replace(options, master_port=port)
    cmd = torchrun_command(options)
    env = dict(os.environ)
    if options.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        # share the cores between the processes (torchrun would otherwise set 1 with a warning)
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // options.gpus)))
    work_dir = Path(options.work_dir)
    code = _run_streaming(cmd, env)
    if code != 0:
        raise RuntimeError(f"distributed training failed (torchrun exit code {code}); its log is "
                           f"in {work_dir}")
    record_path = work_dir / run_record.RECORD_NAME
    if not record_path.is_file():
        if options.node_rank > 0:
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


def _train_here(cfg, options: TrainOptions, *, started: float) -> dict:
    import torch.distributed as torch_dist
    from mmengine.dist import barrier, get_dist_info, is_main_process
    from mmengine.runner import Runner
    from mmengine.utils import import_modules_from_strings

    from ..mmpose.hooks import KAFLoggingHook
    from .checkpoints import trusted_checkpoints
    from .curve import LearningCurveHook
    from .ipc import share_tensors_by_name
    from .malloc import retain_freed_memory

    # before any large tensor: 64x48 heatmap batches (52 MiB) would page-fault at every step otherwise
    retained = retain_freed_memory()
    # before the loaders start their workers: a batch's few hundred tensors without a socket round trip each
    share_tensors_by_name()
    launcher, device = options.launcher, options.device
    if launcher == "pytorch" and device == "cpu" and not torch_dist.is_initialized():
        torch_dist.init_process_group("gloo")  # MMEngine's init_dist would call torch.cuda.set_device
    import_modules_from_strings(**cfg.custom_imports)
    work_dir = Path(cfg.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    runner_cfg = copy.deepcopy(cfg)
    # the learning curve (LearningCurveHook) validates during training and the final evaluation below
    # after it: MMEngine's validation loop (and the best checkpoint it would pick) is not used
    runner_cfg.val_cfg = runner_cfg.val_dataloader = runner_cfg.val_evaluator = None
    if isinstance(runner_cfg.get("default_hooks", {}).get("checkpoint"), dict):
        runner_cfg.default_hooks.checkpoint.pop("save_best", None)
    # MMEngine names its logger and visualizer instances after the experiment (to the second):
    # unique names keep two runs started in one process apart
    runner_cfg.experiment_name = f"{work_dir.name}-{uuid.uuid4().hex[:8]}"
    if isinstance(runner_cfg.get("visualizer"), dict):
        runner_cfg.visualizer.pop("name", None)
    with _restoring_torch_flags():
        runner = Runner.from_cfg(runner_cfg)
        curve_hook = LearningCurveHook(cfg, int(cfg.train_cfg.get("val_interval", cfg.train_cfg.max_epochs)),
                                       cfg.train_cfg.max_epochs)
        runner.register_hook(curve_hook)
        _, world_size = get_dist_info()
        # the record's config block before training: a config it cannot hash fails now, not at the end
        config = config_block(cfg, args=_record_args(options), overrides=_record_overrides(options),
                              run=dict(device=device, launcher=launcher, world_size=world_size,
                                       max_iters=options.max_iters,
                                       deterministic=bool(cfg.randomness.deterministic)))
        if is_main_process():
            cfg.dump(str(work_dir / "config.py"))  # for evaluate/kaf_push in the work dir; never committed
        log_hook = next(h for h in runner.hooks if isinstance(h, KAFLoggingHook))
        _reset_loss_kernel()
        with trusted_checkpoints(work_dir):
            runner.train()
        metrics, by_scale, predictions, results = _final_evaluation(runner, cfg, work_dir)
    record_path = work_dir / run_record.RECORD_NAME
    if is_main_process():
        record = _record(cfg, runner, log_hook, curve_hook, method=options.method, profile=options.profile,
                         seed=options.seed, device=device, world_size=world_size, launcher=launcher,
                         started=started, max_iters=options.max_iters, metrics=metrics, by_scale=by_scale,
                         predictions=predictions, results=results, config=config,
                         retained_freed_memory=retained)
        run_record.write(record, record_path)
        if not options.quiet:
            _print_metrics(metrics, record_path)
    barrier()
    record = run_record.load(record_path)
    if launcher == "pytorch":
        torch_dist.destroy_process_group()
    return record


def _record_args(options: TrainOptions) -> dict:
    """build_config's arguments a record keeps (``fowkal.runs.runconfig.ARGS``, each an option)."""
    return {name: getattr(options, name) for name in ARGS}


def _record_overrides(options: TrainOptions) -> dict:
    """The run's file arguments that differ from the profile's layout, then its config overrides."""
    files = {name: getattr(options, name) for name in FILE_ARGS if getattr(options, name) not in (None, False)}
    return {**files, **options.cfg_options}


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
    """Val metrics with ground-truth boxes, and with detections when the config has a det file; on the
    embedded benchmark (whose areas carry an ``area_scale``), the same predictions scored at the OKS
    tolerances of ``fowkal.runs.metrics.TOLERANCE_SCALES``, COCO's own included (``by_scale``; None
    for annotations at COCO's own scale, e.g. COCO-WholeBody: ``metrics`` are at COCO's tolerance)."""
    from mmengine.dist import is_main_process

    from .evaluate import evaluation_cfgs, part_metrics, run_test_loop
    from .metrics import annotation_area_scale, ap_at_tolerances

    metrics, results = {}, {}
    by_scale = {"annotation_area_scale": None}
    has_det = bool(cfg.val_dataloader.dataset.get("bbox_file"))
    for name, use_gt in (("gt_boxes", True), ("detections", False)):
        if not use_gt and not has_det:
            metrics[name], results[name], by_scale[name] = None, None, None
            continue
        prefix = work_dir / f"val_{'gt' if use_gt else 'det'}"
        loader, metric, info = evaluation_cfgs(cfg, use_gt_boxes=use_gt, outfile_prefix=prefix,
                                               split="val")
        reported = run_test_loop(runner, loader, metric)
        results[name] = f"{prefix.name}.keypoints.json"
        metrics[name] = part_metrics(info["ann_file"], f"{prefix}.keypoints.json", reported) \
            if is_main_process() else None
        by_scale[name] = None
        if is_main_process():
            by_scale["annotation_area_scale"] = own = annotation_area_scale(info["ann_file"])
            if own != 1.0:
                by_scale[name] = ap_at_tolerances(info["ann_file"], f"{prefix}.keypoints.json")
    predictions = _predictions(cfg, work_dir / results["gt_boxes"]) if is_main_process() else None
    return metrics, by_scale, predictions, results


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
def _record(cfg, runner, log_hook, curve_hook, *, method, profile, seed, device, world_size, launcher, started,
            max_iters, metrics, by_scale, predictions, results, config, retained_freed_memory) -> dict:
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
        # the heatmap geometry the model was trained with ((w, h), MMPose's order; sigma in heatmap pixels)
        "geometry": {"input_size": list(cfg.model.head.decoder.input_size),
                     "heatmap_size": list(cfg.model.head.decoder.heatmap_size),
                     "sigma": cfg.model.head.decoder.sigma},
        "retained_freed_memory": retained_freed_memory,  # fowkal.runs.malloc (affects speed only)
        # the fused loss's pixel pass: 'compiled' (fowkal.losses.compiled) or 'eager' (rounding differs)
        "loss_kernel": _loss_kernel(),
        "schedule": {"epochs": cfg.train_cfg.max_epochs, "iters": runner.iter,
                     "batch_size": cfg.train_dataloader.batch_size, "processes": world_size,
                     "max_iters": max_iters, "deterministic": cfg.randomness.deterministic},
        "data": data_block(cfg, train_samples=len(runner.train_dataloader.dataset)),
        "losses": log_hook.loss_entries,
        # the training loss every few iterations, and per-part AP every val_interval epochs (the last
        # point is the final evaluation's ground-truth-box metrics below)
        "loss_curve": log_hook.curve_entries,
        "curve": _curve(curve_hook, metrics, epoch=cfg.train_cfg.max_epochs, iteration=runner.iter),
        "metrics": metrics,
        # the same predictions at other OKS tolerances: {box mode: {area scale: metrics}} (COCO's own: "1")
        "metrics_by_area_scale": by_scale,
        "predictions": predictions,
        "files": {
            "config": "config.py",
            "kaf_log": log_hook.kaf_file if log_hook.kaf_entries else None,
            "loss_log": log_hook.loss_file,
            "loss_curve": log_hook.curve_file,
            "curve_log": curve_hook.file,
            "checkpoints": checkpoints,
            "last_checkpoint": last_checkpoint,
            "results_gt_boxes": results["gt_boxes"],
            "results_detections": results["detections"],
        },
    }
    record["config"]["command"] = train_command(record)
    return record


def _curve(curve_hook, metrics: dict, *, epoch: int, iteration: int) -> list:
    from .curve import curve_point

    final = [curve_point(epoch, iteration, metrics["gt_boxes"])] if metrics.get("gt_boxes") else []
    return [*curve_hook.entries, *final]


def _loss_kernel():
    from ..losses.compiled import KERNEL_USED

    return KERNEL_USED["last"]


def _reset_loss_kernel() -> None:
    from ..losses.compiled import KERNEL_USED

    KERNEL_USED["last"] = None


def _print_metrics(metrics: dict, record_path: Path) -> None:
    from .metrics import format_table

    for name, title in (("gt_boxes", "ground-truth boxes"), ("detections", "detections")):
        if metrics.get(name):
            print(f"\nval AP/AR with {title}:\n{format_table(metrics[name])}")
    print(f"\nrun record: {record_path}")

