"""What drives λ: the data term's per-keypoint push on the KAF, measured on a trained model.

Eq. 6 is linear in λ, so for sample b and keypoint k of part P the data term's gradient is
``∂L/∂λ_bk = Δ_bk / (B·N_P)`` with the **push** ``Δ_bk = ℓ^AW_bk − ℓ^MSE_bk`` (both target- and
pixel-weighted as the loss weights them; with ``term_normalisation='batch'`` the difference of
the two terms' shares). A positive push drives λ_bk towards 0 (MSE). :func:`measure_push` runs a
trained model over training batches (training mode, as the loss saw them) and returns, per
keypoint, the mean push, λ, ℓ^AW, ℓ^MSE and the share of samples in which the keypoint is
labelled; the gradient is taken by autograd, so every loss option is measured as it trains.

With the log-barrier ``c·mean_P[−log λ − log(1 − λ)]`` (same 1/N_P as the data term) the
per-sample optimum solves ``Δ = c·(1/λ − 1/(1 − λ))``: :func:`barrier_equilibrium`. The push is
what λ answers to; the noise reaches λ only through it.
"""
from __future__ import annotations

import math
from pathlib import Path

PUSH_FILE = "kaf_push.json"
#: Training batches a measurement averages over (640 samples; the cpu profile has 113 batches per epoch).
DEFAULT_BATCHES = 20


def barrier_equilibrium(push: float, c: float) -> float:
    """λ in (0, 1) where the barrier's pull balances a push Δ: root of ``Δλ² − (Δ + 2c)λ + c = 0``."""
    if c <= 0:
        raise ValueError(f"barrier weight c must be > 0, got {c}")
    if not math.isfinite(push):
        raise ValueError(f"push must be finite, got {push}")
    if push == 0:
        return 0.5
    return ((push + 2 * c) - math.sqrt(push * push + 4 * c * c)) / (2 * push)


def measure_push(checkpoint, config=None, *, batches: int = DEFAULT_BATCHES, seed: int = 0) -> dict:
    """Mean per-keypoint push, λ, ℓ^AW, ℓ^MSE and labelled share over ``batches`` training batches.

    Args:
        checkpoint: a checkpoint of a KAL-family run (``KAFHeatmapHead``).
        config: its resolved config (default: ``config.py`` beside the checkpoint).
        batches: how many training batches (the loader's order and augmentation drawn from ``seed``).
    """
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    from mmengine.utils import import_modules_from_strings
    from mmpose.registry import MODELS

    from ..runs.checkpoints import trusted_checkpoints

    checkpoint = Path(checkpoint)
    config = Path(config) if config is not None else checkpoint.parent / "config.py"
    for path, what in ((checkpoint, "checkpoint"), (config, "config")):
        if not path.is_file():
            raise FileNotFoundError(f"{what} not found: {path}")
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    cfg = Config.fromfile(str(config))
    if cfg.get("custom_imports"):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope("mmpose")
    model = MODELS.build(cfg.model)
    head = model.head
    if getattr(head, "kaf_head", None) is None:
        raise ValueError(f"{config} trains no KAF (method without λ): there is no push to measure")
    with trusted_checkpoints(checkpoint.parent):
        load_checkpoint(model, str(checkpoint), map_location="cpu", logger="silent")
    model.train()  # BatchNorm on batch statistics, as the loss saw the data
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)  # one process: same draws everywhere
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    part_size = torch.zeros(head.out_channels)
    for idx in head.loss_module.parts.values():
        part_size[list(idx)] = len(idx)

    sums = {name: torch.zeros(head.out_channels, dtype=torch.float64)
            for name in ("push", "lambda", "awing", "mse", "labelled")}
    samples = 0
    for i, batch in enumerate(loader):
        if i == batches:
            break
        data = model.data_preprocessor(batch, training=True)
        samples_ = data["data_samples"]
        with torch.no_grad():
            feats = model.extract_feat(data["inputs"])
            pred = head.forward(feats)
            kaf = head.kaf_head(feats[-1])
        gt = torch.stack([d.gt_fields.heatmaps for d in samples_])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in samples_])
        lam = kaf.detach().requires_grad_()
        terms = head.loss_module.terms(pred, gt, weights, lam)
        (grad,) = torch.autograd.grad(terms["data"], lam)
        n = lam.shape[0]
        push = grad.detach() * n * part_size  # undo the batch mean and the part mean: Δ_bk itself
        if not torch.isfinite(push).all():
            raise FloatingPointError(f"non-finite push in batch {i} of {checkpoint}")
        for name, value in (("push", push), ("lambda", kaf), ("awing", terms["awing"]),
                            ("mse", terms["mse"]), ("labelled", (weights > 0).float())):
            sums[name] += value.detach().to(torch.float64).sum(0)
        samples += n
    if samples == 0:
        raise ValueError(f"the training loader of {config} yielded no batch")
    out = {name: [round(float(v) / samples, 9) for v in total] for name, total in sums.items()}
    return dict(out, samples=samples, batches=min(batches, i + 1), seed=seed, checkpoint=checkpoint.name)


def write_push(record_folder, checkpoint, *, batches: int = DEFAULT_BATCHES) -> Path:
    """Measure the push of a run's final checkpoint into ``<record_folder>/kaf_push.json`` (with the
    resolved ``config.py`` beside the checkpoint, in the run's work dir)."""
    from ..runs.record import git_state
    from ..jsonfile import write_json_atomic

    folder = Path(record_folder)
    result = measure_push(checkpoint, batches=batches)
    result["measured_at"] = git_state()  # the code that measured (the run's own commit is in its record)
    return write_json_atomic(result, folder / PUSH_FILE)


def push_from_work_dir(record_folder, record: dict, work_dir, *, label: str, batches: int | None = None,
                       log=print) -> Path | None:
    """:func:`write_push` of ``record``'s final checkpoint in ``work_dir``, when it is still there and the work
    dir's ``config.py`` is the record's (its canonical hash: no other run trained there since); else None,
    with a line to ``log`` saying why."""
    from mmengine.config import Config

    from ..runs import record as run_record

    work = Path(work_dir)
    checkpoint, config = work / Path(record["files"]["last_checkpoint"] or "").name, work / "config.py"
    if not checkpoint.is_file() or not config.is_file():
        log(f"[push] {label}: no checkpoint in {work}, not measured")
        return None
    if run_record.config_sha256(Config.fromfile(str(config), import_custom_modules=False)) != record["config"]["sha256"]:
        log(f"[push] {label}: {config} is not the record's config (retrained since?), not measured")
        return None
    log(f"[push] {label}: measuring {checkpoint}")
    return write_push(record_folder, checkpoint, batches=batches or DEFAULT_BATCHES)


__all__ = ["PUSH_FILE", "DEFAULT_BATCHES", "barrier_equilibrium", "measure_push", "write_push", "push_from_work_dir"]
