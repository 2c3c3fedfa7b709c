"""MMEngine hooks of a fowkal training run (registered in MMPose's ``HOOKS``).

- :class:`KAFLoggingHook` writes ``kaf_log.json`` (per-keypoint λ, mean and std over the samples
  seen, at a few iterations and every epoch: the data of the book's Fig. 5), ``loss_log.json``
  (per-epoch means of the training loss and of everything else the model logs) and
  ``loss_curve.json`` (the same means over every ``loss_interval`` iterations). Its logs travel
  inside the checkpoints, so a resumed run continues them exactly where its checkpoint stopped.
- :class:`EpochSeedHook` reseeds the random generators at every epoch start from (seed, epoch), so
  the augmentation of an epoch does not depend on whether the run was resumed before it.
- :class:`RankWeightsHook` saves every process's final weights (checks data-parallel training).
- :class:`CompileModelHook` (opt-in) runs the backbone's and the heatmap head's forward through
  ``torch.compile``: ``cfg_options={"custom_hooks": [{"type": "CompileModelHook"}]}``. It changes the
  network's arithmetic, so its runs pair only with runs made with it.

Use from a config: ``custom_imports = dict(imports=['fowkal.mmpose'])`` and, e.g.,
``custom_hooks = [dict(type='KAFLoggingHook'), dict(type='EpochSeedHook')]``.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.utils import set_random_seed
from mmpose.registry import HOOKS

from ..jsonfile import write_json_atomic

KAF_LOG = "kaf_log.json"
LOSS_LOG = "loss_log.json"
LOSS_CURVE = "loss_curve.json"
#: Iterations per entry of the finer training-loss log (MMEngine's logger interval of the profiles).
LOSS_INTERVAL = 20
#: Iterations (1-based, counted over the whole run) that get their own λ entry.
KAF_ITERS = (1, 10, 50, 100, 200, 500, 1000)
CHECKPOINT_KEY = "fowkal_logs"


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


class _Moments:
    """Running count, sum and sum of squares per keypoint (float64, summed over processes)."""

    def __init__(self):
        self.n, self.total, self.total_sq = 0, None, None

    def add(self, values: torch.Tensor) -> None:
        values = values.detach().to(torch.float64)
        if self.total is None:
            self.total, self.total_sq = torch.zeros_like(values[0]), torch.zeros_like(values[0])
        self.n += values.shape[0]
        self.total += values.sum(0)
        self.total_sq += (values * values).sum(0)

    def reduced(self) -> Optional[dict]:
        """Mean and population std over the samples of every process (a collective call)."""
        if self.total is None:
            return None
        packed = torch.cat([self.total.new_tensor([self.n]), self.total, self.total_sq])
        all_reduce(packed, op="sum")
        n, k = int(packed[0].item()), self.total.numel()
        mean = packed[1:1 + k] / n
        var = (packed[1 + k:] / n - mean * mean).clamp_min(0.0)
        return {"mean": _rounded(mean), "std": _rounded(var.sqrt()), "n": n}


def _rounded(values: torch.Tensor, digits: int = 6) -> list:
    return [round(float(v), digits) for v in values.cpu()]


@HOOKS.register_module()
class KAFLoggingHook(Hook):
    """Log the KAF λ and the training losses to small JSON files in the work dir.

    ``kaf_log.json``: a list of ``{kind, epoch, iter, mean: [K], std: [K], n}``; ``kind`` is
    ``'iter'`` (the batch of iteration ``iter``, for the iterations in ``iters``) or ``'epoch'``
    (every sample of epoch ``epoch``; ``iter`` = iterations done at its end). λ is absolute (as the
    head predicts it), mean and population std over samples, over all processes. ``'epoch'`` entries
    also carry ``awing`` and ``mse`` ([K]): the epoch's mean of the per-keypoint batch means of ℓ^AW
    and ℓ^MSE as the loss weights them (``last_loss_terms``), whose difference is the data term's push
    on λ (``fowkal.studies.kaf_push``). Written only when the head keeps ``last_kaf``
    (``KAFHeatmapHead`` with a KAL method); otherwise left out.

    ``loss_log.json``: a list of ``{epoch, iter, iters, time_s, loss, ...}``, one per epoch: the
    mean over the epoch's iterations (and processes) of every scalar the model returns
    (``loss``, ``loss_kpt``, ``acc_pose``, ``kaf_<part>``).

    ``loss_curve.json``: the same means over windows of ``loss_interval`` iterations (a window also
    ends with its epoch), ``{epoch, iter, iters, loss, ...}``, ``iter`` the window's last iteration.
    """

    priority = "LOW"  # after_train_epoch runs before CheckpointHook (VERY_LOW) saves the epoch

    def __init__(self, iters: Sequence[int] = KAF_ITERS, kaf_file: str = KAF_LOG,
                 loss_file: str = LOSS_LOG, loss_interval: int = LOSS_INTERVAL, curve_file: str = LOSS_CURVE):
        if any(not isinstance(i, int) or i < 1 for i in iters):
            raise ValueError(f"KAFLoggingHook iters must be positive ints, got {list(iters)}")
        if isinstance(loss_interval, bool) or not isinstance(loss_interval, int) or loss_interval < 1:
            raise ValueError(f"KAFLoggingHook loss_interval must be a positive int, got {loss_interval!r}")
        self.iters = frozenset(iters)
        self.kaf_file, self.loss_file, self.curve_file = kaf_file, loss_file, curve_file
        self.loss_interval = loss_interval
        self.kaf_entries: list = []
        self.loss_entries: list = []
        self.curve_entries: list = []
        self._window_sums: dict = {}
        self._window_iters = 0
        self._epoch_kaf = _Moments()
        self._epoch_terms = {"awing": _Moments(), "mse": _Moments()}
        self._loss_sums: dict = {}
        self._epoch_iters = 0
        self._epoch_start = 0.0
        self.start_epoch = 0  # epochs already done when this session started (a resumed run)

    # -- run state across resumes
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # copies: the checkpoint must hold the logs as they are now
        checkpoint[CHECKPOINT_KEY] = {"kaf": list(self.kaf_entries),
                                      "losses": list(self.loss_entries),
                                      "loss_curve": list(self.curve_entries)}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # only a resumed run continues the logs; load_from (fine-tuning) starts new ones
        if getattr(runner, "_resume", False) and CHECKPOINT_KEY in checkpoint:
            logs = checkpoint[CHECKPOINT_KEY]
            self.kaf_entries, self.loss_entries = list(logs["kaf"]), list(logs["losses"])
            self.curve_entries = list(logs.get("loss_curve", []))

    def before_train(self, runner) -> None:
        self.start_epoch = runner.epoch
        self._write(runner)  # a resumed run's files drop what its killed predecessor logged later

    # -- accumulation
    def before_train_epoch(self, runner) -> None:
        self._epoch_kaf = _Moments()
        self._epoch_terms = {"awing": _Moments(), "mse": _Moments()}
        self._loss_sums = {}
        self._epoch_iters = 0
        self._window_sums, self._window_iters = {}, 0
        self._epoch_start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        for key, value in (outputs or {}).items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = float(value.detach())
                self._loss_sums[key] = self._loss_sums.get(key, 0.0) + value
                self._window_sums[key] = self._window_sums.get(key, 0.0) + value
        self._epoch_iters += 1
        self._window_iters += 1
        if (runner.iter + 1) % self.loss_interval == 0:
            self._close_window(runner)
        kaf = getattr(unwrap(runner.model).head, "last_kaf", None)
        if kaf is None:
            return
        self._epoch_kaf.add(kaf)
        terms = getattr(unwrap(runner.model).head, "last_loss_terms", None) or {}
        for name, moments in self._epoch_terms.items():
            if name in terms:
                moments.add(terms[name].unsqueeze(0))  # one batch mean per iteration
        if runner.iter + 1 in self.iters:
            batch = _Moments()
            batch.add(kaf)
            self._add_kaf_entry(runner, "iter", runner.epoch + 1, runner.iter + 1, batch.reduced())

    def after_train_epoch(self, runner) -> None:
        if self._window_iters:
            self._close_window(runner, iteration=runner.iter)
        stats = self._epoch_kaf.reduced()
        if stats is not None:
            terms = {name: moments.reduced() for name, moments in self._epoch_terms.items()}
            self.kaf_entries.append({"kind": "epoch", "epoch": runner.epoch + 1, "iter": runner.iter, **stats,
                                     **{name: t["mean"] for name, t in terms.items() if t is not None}})
        self.loss_entries.append({"epoch": runner.epoch + 1, "iter": runner.iter,
                                  "iters": self._epoch_iters,
                                  "time_s": round(time.perf_counter() - self._epoch_start, 3),
                                  **self._mean_losses(runner, self._loss_sums, self._epoch_iters)})
        self._write(runner)

    def _close_window(self, runner, iteration: Optional[int] = None) -> None:
        """One ``loss_curve`` entry: the means over the iterations since the last one (in this epoch)."""
        self.curve_entries.append({"epoch": runner.epoch + 1,
                                   "iter": runner.iter + 1 if iteration is None else iteration,
                                   "iters": self._window_iters,
                                   **self._mean_losses(runner, self._window_sums, self._window_iters)})
        self._window_sums, self._window_iters = {}, 0

    def _mean_losses(self, runner, loss_sums: dict, iters: int) -> dict:
        keys = sorted(loss_sums)
        if not keys:
            return {}
        device = next(unwrap(runner.model).parameters()).device
        sums = torch.tensor([loss_sums[k] for k in keys] + [iters],
                            dtype=torch.float64, device=device)
        all_reduce(sums, op="sum")
        means = (sums[:-1] / sums[-1]).tolist()
        if not all(math.isfinite(m) for m in means):
            runner.logger.warning(f"non-finite mean training loss in epoch {runner.epoch + 1}")
        return {k: (round(m, 8) if math.isfinite(m) else None) for k, m in zip(keys, means)}

    def _add_kaf_entry(self, runner, kind, epoch, iteration, stats) -> None:
        self.kaf_entries.append({"kind": kind, "epoch": epoch, "iter": iteration, **stats})
        self._write(runner)

    def _write(self, runner) -> None:
        if not is_main_process():
            return
        work_dir = Path(runner.work_dir)
        if self.kaf_entries:
            write_json_atomic(self.kaf_entries, work_dir / self.kaf_file)
        else:  # e.g. a run restarted from scratch after being killed in its first epoch
            (work_dir / self.kaf_file).unlink(missing_ok=True)
        write_json_atomic(self.loss_entries, work_dir / self.loss_file)
        write_json_atomic(self.curve_entries, work_dir / self.curve_file)


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Seed python, numpy and torch with ``runner.seed + epoch`` (+ rank) before every epoch.

    MMEngine seeds once per process, so a resumed run would draw other augmentations than the
    run it continues; reseeding per epoch makes epoch e's draws the same either way.
    """

    priority = "VERY_HIGH"

    def __init__(self, diff_rank_seed: bool = False):
        self.diff_rank_seed = diff_rank_seed

    def before_train_epoch(self, runner) -> None:
        set_random_seed(runner.seed + runner.epoch, diff_rank_seed=self.diff_rank_seed)


#: torch < 2.2's Inductor, with grad disabled on the CPU, folds each eval-mode batch norm into its convolution
#: using the weights of compile time and reuses that graph after training changed them (validation would score
#: stale weights); later torch folds only when asked to freeze the weights (2.2 on, by the fix's date; 2.14
#: tested). There, evaluation runs eager.
NO_GRAD_GRAPH_KEEPS_WEIGHTS = torch.__version__ < (2, 2)


@HOOKS.register_module()
class CompileModelHook(Hook):
    """Compile the backbone's and the heatmap head's forward with ``torch.compile`` (Inductor) before the run.

    On the CPU profile this made MSE's training step ~0.8x as long (``benchmarks/bench_step.py --candidates``,
    ``mse+compile``): Inductor fuses the batch norms and activations around oneDNN's convolutions. The KAF head
    and the loss stay as they are (the loss compiles its own pixel pass). Compilation takes a minute or more on
    two cores, once per process for training and once more for evaluation (and for a last batch of another
    size, with static shapes). Other arithmetic than the eager network: not the profiles' default. On torch
    older than 2.2 only training compiles (:data:`NO_GRAD_GRAPH_KEEPS_WEIGHTS`).

    Args:
        dynamic (bool): compile for dynamic shapes (one graph for every batch size, slower kernels). Default:
            False.
    """

    priority = "VERY_HIGH"

    def __init__(self, dynamic: bool = False):
        self.dynamic = bool(dynamic)

    def before_run(self, runner) -> None:
        model = unwrap(runner.model)
        for part in (model.backbone, model.head):
            if not getattr(part, "fowkal_compiled", False):  # once, whatever calls before_run again
                compiled = torch.compile(part.forward, dynamic=self.dynamic)
                part.forward = _with_grad_only(compiled, part.forward) if NO_GRAD_GRAPH_KEEPS_WEIGHTS else compiled
                part.fowkal_compiled = True


def _with_grad_only(compiled, eager):
    """``compiled`` where autograd records (training), ``eager`` under ``no_grad`` (validation, test)."""
    def forward(*args, **kwargs):
        return (compiled if torch.is_grad_enabled() else eager)(*args, **kwargs)
    return forward


@HOOKS.register_module()
class RankWeightsHook(Hook):
    """Save each process's final model state to ``rank_weights/rank<r>.pth`` in the work dir.

    Data-parallel training must end with the same parameters in every process; this makes that
    checkable (BatchNorm running statistics are per process unless SyncBN is used).
    """

    def after_train(self, runner) -> None:
        rank, _ = get_dist_info()
        folder = Path(runner.work_dir) / "rank_weights"
        folder.mkdir(exist_ok=True)
        state = {k: v.detach().cpu() for k, v in unwrap(runner.model).state_dict().items()}
        torch.save(state, folder / f"rank{rank}.pth")
