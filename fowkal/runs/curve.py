"""The learning curve of a training run: per-part AP on the validation set every few epochs.

:class:`LearningCurveHook` scores the model after every ``train_cfg.val_interval``-th epoch but the last
(the final evaluation of :mod:`fowkal.runs.train` scores that one, and adds it to the curve) with
ground-truth person boxes, at the annotations' own OKS tolerance: the numbers of the tables, so a
curve ends where its record's ``metrics['gt_boxes']`` are. It takes the place of MMEngine's validation
loop. Its entries travel inside the checkpoints (a resumed run keeps the points its checkpoint had) and
are written to ``curve_log.json`` in the work dir as they come.

Validating does not change what is trained: the model is put back into training mode by the next
epoch, and :class:`~fowkal.mmpose.hooks.EpochSeedHook` reseeds every epoch's draws.
"""
from __future__ import annotations

import time
from pathlib import Path

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ..jsonfile import write_json_atomic
from .metrics import RESULT_KEYS

CURVE_LOG = "curve_log.json"
CHECKPOINT_KEY = "fowkal_curve"
#: Per part and per validation, what the curve keeps of ``fowkal.runs.metrics.wholebody_ap``'s numbers.
STATS = ("AP", "AR")


def curve_point(epoch: int, iteration: int, metrics: dict, seconds: float | None = None) -> dict:
    """One entry of the curve: ``{epoch, iter, time_s, AP: {part: ...}, AR: {part: ...}}`` from the per-part
    metrics of :func:`fowkal.runs.evaluate.part_metrics` (fractions, as they are there)."""
    missing = [part for part in RESULT_KEYS if part not in metrics]
    if missing:
        raise ValueError(f"curve point of epoch {epoch}: metrics lack part(s) {missing}")
    point = {"epoch": epoch, "iter": iteration, "time_s": None if seconds is None else round(seconds, 3)}
    for stat in STATS:
        point[stat] = {part: round(float(metrics[part][stat]), 6) for part in RESULT_KEYS}
    return point


class LearningCurveHook(Hook):
    """Validate with ground-truth boxes every ``interval`` epochs of training (not after the last).

    Args:
        cfg: the run's resolved config (its val split and evaluator are scored).
        interval: epochs between validations (``train_cfg.val_interval``).
        max_epochs: the schedule's length; its last epoch is left to the final evaluation.
        file: the curve's JSON file in the work dir.
    """

    # after_train_epoch runs before CheckpointHook (VERY_LOW) saves the epoch, so the epoch's point is
    # inside its checkpoint: a run killed while validating redoes the epoch and the point
    priority = "LOW"

    def __init__(self, cfg, interval: int, max_epochs: int, file: str = CURVE_LOG):
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"val_interval must be a positive int, got {interval!r}")
        self.cfg, self.interval, self.max_epochs, self.file = cfg, interval, max_epochs, file
        self.entries: list = []

    def due(self, epoch: int) -> bool:
        """Whether the epoch ``epoch`` (1-based, done) is validated here."""
        return epoch % self.interval == 0 and epoch < self.max_epochs

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = list(self.entries)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, "_resume", False):  # load_from (fine-tuning) starts a new curve
            self.entries = list(checkpoint.get(CHECKPOINT_KEY, []))

    def before_train(self, runner) -> None:
        self.entries = [e for e in self.entries if e["epoch"] <= runner.epoch]
        self._write(runner)  # a resumed run's file drops what its killed predecessor scored later

    def after_train_epoch(self, runner) -> None:
        epoch = runner.epoch + 1
        if not self.due(epoch):
            return
        from .evaluate import evaluation_cfgs, part_metrics, run_test_loop

        started = time.perf_counter()
        folder = Path(runner.work_dir) / "curve"
        if is_main_process():
            folder.mkdir(exist_ok=True)
        prefix = folder / f"val_gt_epoch{epoch}"
        loader, metric, info = evaluation_cfgs(self.cfg, use_gt_boxes=True, outfile_prefix=prefix, split="val")
        # MMPose's metric writes the results file (rescored, OKS-NMS) and scores nothing: the parts are
        # scored once, below (the final evaluation also checks MMPose's whole-body AP against them)
        run_test_loop(runner, loader, dict(metric, format_only=True))
        if is_main_process():
            metrics = part_metrics(info["ann_file"], f"{prefix}.keypoints.json")
            self.entries.append(curve_point(epoch, runner.iter, metrics, time.perf_counter() - started))
            runner.logger.info(f"epoch {epoch}: whole-body AP {100 * metrics['wholebody']['AP']:.1f} "
                               f"(ground-truth boxes; learning curve in {self.file})")
        self._write(runner)

    def _write(self, runner) -> None:
        if is_main_process():
            write_json_atomic(self.entries, Path(runner.work_dir) / self.file)
