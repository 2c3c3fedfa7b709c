"""The config a run trains with: prepared, stored in its run record, regenerated from the record.

- :func:`prepare_config`: what every fowkal run adds to ``build_config``'s config (hooks,
  checkpointing, resume, distribution settings).
- :func:`config_block`, :func:`data_block`: the record's ``config`` and ``data`` (what regenerates
  the config, and the data it trained on), written by :mod:`fowkal.runs.train`.
- :func:`regenerate_config`: the config rebuilt from a record alone (``build_config`` with the
  record's arguments and overrides, then :func:`prepare_config` with its run options);
  :func:`regenerated_sha256` its canonical hash, equal to the record's ``config.sha256`` while the
  code builds the same config.
- :func:`train_command`: the command line that trains the run again.

A record's ``config`` block::

    source       the config file, named from the package (fowkal/configs/cpu/fowkal.py)
    args         build_config's arguments: epochs, batch_size, gpus, nnodes, pretrained (file name),
                 from_scratch (records made before it existed lack it: False)
    overrides    train()'s keyword overrides: dotted config keys and build_config's file arguments
    run          prepare_config's options: device, launcher, world_size, max_iters, deterministic
    differences  (only where the code now builds the config differently, e.g. records migrated from
                 schema 1, made before the CPU profile used fowkal.mmpose.data's pipeline twins, or before
                 training used its SeededSampler: those trained with MMEngine's DefaultSampler)
                 dotted keys whose value in the run differs from what the code regenerates, with the
                 value the run had
    sha256       fowkal.runs.record.config_sha256 of the config the run trained with
    command      python -m fowkal train ... (from the repository root)
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from . import record as run_record

#: build_config's arguments a record keeps in ``config.args`` (with the processes: gpus x nnodes).
ARGS = ("epochs", "batch_size", "gpus", "nnodes", "pretrained", "from_scratch", "val_interval")
#: Overrides that are build_config's file arguments (options of their own on the command line).
FILE_ARGS = ("ann_train", "ann_val", "det_file", "gt_boxes", "img_train", "img_val")
#: Keys of a record's ``differences`` that change what the run computes, so its command line sets them: runs
#: made before :class:`fowkal.mmpose.data.SeededSampler` drew their augmentations from the workers' streams.
NUMERIC_DIFFERENCES = ("train_dataloader.sampler.type",)
#: prepare_config's options a record keeps in ``config.run``.
RUN_OPTIONS = ("device", "launcher", "world_size", "max_iters", "deterministic")


def prepare_config(cfg, *, launcher: str, device: str, resume: bool, max_iters, world_size: int,
                   deterministic: bool):
    """The config a fowkal run trains with: hooks, checkpointing, resume, distribution settings."""
    imports = list(cfg.get("custom_imports", {}).get("imports", []))
    for module in ("fowkal.mmpose",):
        if module not in imports:
            imports.append(module)
    cfg.custom_imports = dict(imports=imports, allow_failed_imports=False)
    hooks = [h for h in cfg.get("custom_hooks", [])
             if h.get("type") not in ("KAFLoggingHook", "EpochSeedHook")]
    cfg.custom_hooks = hooks + [dict(type="KAFLoggingHook"), dict(type="EpochSeedHook")]
    checkpoint = cfg.default_hooks.get("checkpoint") or dict(type="CheckpointHook")
    checkpoint.update(interval=1, by_epoch=True)  # resume loses at most the epoch in progress
    cfg.default_hooks.checkpoint = checkpoint
    seed = cfg.get("randomness", {}).get("seed", 0)
    cfg.randomness = dict(seed=seed, deterministic=bool(deterministic), diff_rank_seed=False)
    cfg.resume, cfg.load_from, cfg.launcher = bool(resume), None, launcher
    cfg.env_cfg.dist_cfg = dict(cfg.env_cfg.get("dist_cfg", {}),
                                backend="nccl" if device == "cuda" else "gloo")
    if launcher != "none" and device == "cpu":
        # DDP takes device_ids=None for a CPU module (MMEngine would pass [LOCAL_RANK])
        cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None,
                                     broadcast_buffers=False)
    if max_iters is not None:  # a smoke-test knob: cut every epoch to max_iters iterations
        cfg.train_dataloader.dataset.indices = max_iters * cfg.train_dataloader.batch_size * world_size
    return cfg


# --------------------------------------------------------------------------- what a record stores
def config_block(cfg, *, args: dict, overrides: dict, run: dict) -> dict:
    """The record's ``config`` for a run of ``cfg`` (prepared) built with ``args`` and ``overrides``."""
    unknown = sorted(set(args) - set(ARGS)) + sorted(set(run) ^ set(RUN_OPTIONS))
    if unknown:
        raise ValueError(f"config_block: unexpected or missing argument(s) {unknown}")
    try:
        overrides = json.loads(json.dumps(overrides, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise TypeError(f"a run record keeps the overrides as JSON: {err}") from None
    pretrained = args.get("pretrained")
    return {"source": run_record.package_relative(cfg.fowkal.config_file),
            "args": dict(args, pretrained=None if pretrained is None else Path(pretrained).name),
            "overrides": overrides, "run": dict(run), "sha256": run_record.config_sha256(cfg)}


def data_block(cfg, *, train_samples: int) -> dict:
    """The record's ``data``: the root (portable), the benchmark's identity when it is one (what made it
    and its content hash: :func:`benchmark_identity`), the
    files relative to the root, and how many training samples the run saw."""
    root = Path(cfg.fowkal.data_root)
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    return {"root": run_record.portable_path(root), "benchmark": benchmark_identity(root),
            "ann_train": _under(train.ann_file, root), "img_train": _under(train.data_prefix.get("img"), root),
            "ann_val": _under(val.ann_file, root), "img_val": _under(val.data_prefix.get("img"), root),
            "det_file": _under(val.get("bbox_file"), root), "train_samples": train_samples}


def benchmark_identity(root) -> dict | None:
    """The record's ``data.benchmark``: :func:`fowkal.data.benchmark_identity` (generator version, seed,
    parameters, key and content hash of an embedded benchmark folder; None for another dataset)."""
    from ..data import benchmark_identity as identity

    return identity(root)


def benchmark_key_of(identity: dict) -> str:
    """The cache key a benchmark identity (a record's ``data.benchmark``) names: its generator version,
    seed and parameters through :func:`fowkal.data.benchmark_key`."""
    from ..data import benchmark_key

    params = {k: tuple(v) if isinstance(v, list) else v for k, v in identity["params"].items()}
    return benchmark_key(identity["seed"], params, identity["generator_version"])


def evaluated_benchmark(record: dict) -> tuple[Path, str | None]:
    """The folder of the embedded benchmark a record's run was evaluated on, and None; or, when that
    folder is not on this machine and the benchmark made here (the record's seed and parameters,
    generated on first use) holds other images or labels, that folder and a sentence that says so.

    The images are the same exactly when the content hashes (``data.benchmark.content_sha256``) are:
    a new generator version that changed nothing the model sees raises no doubt.
    """
    from ..data import VAL_ANN, default_benchmark

    recorded = run_record.data_root(record)
    if (recorded / VAL_ANN).is_file():
        return recorded, None
    identity = record["data"].get("benchmark")
    if identity is None:
        raise ValueError(f"the record's data root {record['data']['root']} is not here, and it is not an embedded "
                         "benchmark that could be made here (data.benchmark is null)")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in identity["params"].items()}
    here = default_benchmark(seed=identity["seed"], **params)
    made = benchmark_identity(here)
    if made["content_sha256"] == identity.get("content_sha256"):
        return here, None
    return here, (f"The runs were evaluated on `{recorded.name}`, which is not on this machine; the images drawn "
                  f"are those of `{here.name}` (generator {made['generator_version']}, with the runs' seed and "
                  f"parameters), whose images or labels differ from those the runs saw (generator "
                  f"{identity['generator_version']}): the predictions may not fit the images.")


def _under(path, root: Path):
    """``path`` relative to the data root when inside it (a folder keeps its ``/``), else portable."""
    if path is None:
        return None
    full = Path(path)
    try:
        rel = full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return run_record.portable_path(path)
    return rel + ("/" if str(path).endswith("/") else "")


# --------------------------------------------------------------------------- regenerating
def regenerate_config(record: dict, *, data_root=None, pretrained=None):
    """The ``mmengine.Config`` a record's run trained with, rebuilt from the record alone.

    ``data_root``: a folder to build with instead of the record's (any folder with the same layout
    gives the same canonical hash: the root is a placeholder in it). ``pretrained``: the weights
    file, when the record names one (the record keeps only its name).
    """
    from ..configs import build_config

    if record.get("schema_version", 1) < 2:
        raise ValueError("a schema-1 run record names a config.py dump instead of what regenerates its "
                         "config; it cannot be regenerated")
    config = record["config"]
    args, run = config["args"], config["run"]
    if args.get("pretrained") and pretrained is None:
        raise ValueError(f"the run started from pretrained weights {args['pretrained']!r}: pass pretrained=")
    root = Path(data_root) if data_root is not None else run_record.data_root(record)
    if not root.is_dir():
        raise FileNotFoundError(f"the record's data root {record['data']['root']} is not here ({root}); make it "
                                f"(data.benchmark names the embedded benchmark's parameters) or pass data_root=, "
                                f"any folder with the same layout")
    cfg = build_config(record["method"], record["profile"], data_root=root, seed=record["seed"],
                       epochs=args.get("epochs"), batch_size=args.get("batch_size"),
                       gpus=args.get("gpus", 1) * args.get("nnodes", 1), pretrained=pretrained,
                       from_scratch=bool(args.get("from_scratch", False)), val_interval=args.get("val_interval"),
                       **config["overrides"])
    cfg = prepare_config(cfg, launcher=run["launcher"], device=run["device"], resume=False,
                         max_iters=run["max_iters"], world_size=run["world_size"],
                         deterministic=run["deterministic"])
    if config.get("differences"):
        cfg.merge_from_dict(config["differences"])
    return cfg


def regenerated_sha256(record: dict, *, data_root=None, pretrained=None) -> str:
    """The canonical hash of :func:`regenerate_config`; equal to ``record['config']['sha256']``
    while this code builds the config the run trained with."""
    return run_record.config_sha256(regenerate_config(record, data_root=data_root, pretrained=pretrained))


def train_command(record: dict) -> str:
    """``python -m fowkal train ...`` that trains the record's run again (from the repository root;
    with a pretrained file, its path replaces the name; a multi-node run: on every node, with
    ``--node-rank``)."""
    config = record["config"]
    args, run = config["args"], config["run"]
    cmd = ["python", "-m", "fowkal", "train", "--method", record["method"], "--profile", record["profile"],
           "--seed", str(record["seed"]), "--data-root", _shell_path(record["data"]["root"]),
           "--device", run["device"]]
    for name in ("epochs", "val_interval", "batch_size", "max_iters", "pretrained"):
        value = args.get(name) if name in args else run.get(name)
        if value is not None:
            cmd += ["--" + name.replace("_", "-"), shlex.quote(str(value))]
    if args.get("gpus", 1) != 1 or args.get("nnodes", 1) != 1:
        cmd += ["--gpus", str(args.get("gpus", 1)), "--nnodes", str(args.get("nnodes", 1))]
    if args.get("from_scratch"):
        cmd.append("--from-scratch")
    if run.get("deterministic"):
        cmd.append("--deterministic")
    overrides = dict(config["overrides"])
    # of the recorded differences, the sampler changes what the run draws (the others are identical twins)
    overrides.update({k: v for k, v in (config.get("differences") or {}).items() if k in NUMERIC_DIFFERENCES})
    for name in FILE_ARGS:  # options of their own
        value = overrides.pop(name, None)
        if value is True:
            cmd.append("--" + name.replace("_", "-"))
        elif value not in (None, False):
            cmd += ["--" + name.replace("_", "-"), shlex.quote(str(value))]
    if overrides:
        cmd.append("--cfg-options")
        cmd += [shlex.quote(f"{key}={json.dumps(value)}") for key, value in overrides.items()]
    return " ".join(cmd)


def _shell_path(text: str) -> str:
    """A stored path for a shell: ``$FOWKAL_DATA_ROOT`` falls back to the repo's ``data/``."""
    var = run_record.DATA_ROOT_VAR
    if text == var or text.startswith(var + "/"):
        return '"${FOWKAL_DATA_ROOT:-data}' + text[len(var):] + '"'
    return shlex.quote(text)


__all__ = ["ARGS", "RUN_OPTIONS", "prepare_config", "config_block", "data_block", "benchmark_identity",
           "benchmark_key_of", "evaluated_benchmark",
           "regenerate_config", "regenerated_sha256", "train_command"]
