"""The CPU profile's training step, per method, today's code against a pinned baseline, side by side.

    .venv/bin/python benchmarks/bench_step.py                 # ~15-30 min on 2 cores
    .venv/bin/python benchmarks/bench_step.py --quick         # smoke run: 2 methods, a few steps

Two worker processes run the same loop, one importing ``fowkal`` from this tree, one from the baseline
commit (``--baseline``, extracted with ``git archive`` into a temporary folder). Each builds, for each of its
methods, the model and optimiser of the CPU profile (``fowkal.configs``, as ``fowkal.train`` does), and one
data loader of the profile (its workers, its pipeline) that feeds every method in turn. The main process
alternates blocks of steps between the two workers (rotating which goes first), so both see the same
machine load; the first block of each is a warm-up (worker start, compilation) and is not kept. In each
round both workers run the baseline's methods (MSE and FoWKAL) in the same rotation: the × baseline ratios
compare those (rows ``current, paired``). Then the current worker runs every method in one rotation: the
× MSE ratios compare those.

A step is what MMEngine's training loop does per iteration: the next batch from the loader, ``train_step``
(data preprocessor, forward, loss, backward, Adam), the logged scalars read out, and the KAF logging hook.
Inside ``train_step`` each part is timed too (the profile: data wait, preprocessor, backbone, heatmap head,
KAF head, loss, accuracy, backward, optimiser, hooks), and the pipeline's CPU time per batch is measured on
one thread in the worker. Times are medians; every ratio is a ratio of medians from the same run. Writes
``figures/bench_step.json`` (rows, ratios, profile, machine, commits, load) and prints the tables. No
assertion on times: shared machines are noisy.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import io
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The ablation's methods, its three controls and the KAF study's best variant (FoWKAL with its terms
#: normalised per batch).
METHODS = ("mse", "awing", "heuristic", "kal", "heuristic_fwahr", "fowkal", "heuristic_wahr", "kal_wahr",
           "kal_lambda0", "kal_lambda1", "fowkal_lambda0", "fowkal_normalised")
VARIANTS = {"fowkal_normalised": ("fowkal", {"model.head.loss.term_normalisation": "batch"})}
#: Options measured beside the profiles' default (``--candidates``), each a method and one or more changes joined by
#: ``+``: ``channels_last``, the model and its input in channels-last memory format (oneDNN's preferred layout
#: for convolutions on the CPU), the heatmaps made contiguous again before the loss (which reads them row by
#: row); ``compile``, the backbone and the heatmap head through ``torch.compile`` (Inductor; compiled on the
#: warm-up steps). Both change the network's arithmetic, so neither is a profile's default; the converged
#: ablation trains with ``compile`` (``fowkal.studies.convergence.CONVERGED_OVERRIDES``).
CANDIDATES = ("mse+channels_last", "fowkal+channels_last", "mse+compile", "mse+channels_last+compile",
              "fowkal+channels_last+compile")
CHANGES = ("channels_last", "compile")
BASELINE_METHODS = ("mse", "fowkal")
#: The commit the speed targets are measured against (the step as it was before the fast data pipeline and
#: the compiled loss kernel).
BASELINE = "730f012"
#: The rows of the current code timed in the same rotation as the baseline's (the × baseline ratios).
PAIRED = "current, paired"
PARTS = ("data_wait", "preprocess", "backbone", "heatmap_head", "kaf_head", "loss", "accuracy", "backward",
         "optimizer", "hooks")
STEP_TARGET, MSE_TARGET, MSE_GOAL = 1.05, 0.67, 0.5


# --------------------------------------------------------------------------- worker (one code version)
class _Timers:
    def __init__(self):
        self.now: dict = {}

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.now[name] = self.now.get(name, 0.0) + time.perf_counter() - start
        return timed


def _worker(tree: Path, methods: list[str], data_root: str) -> None:
    """Serve ``run K [m1,m2,...]`` commands on stdin: K steps of every method (or of those named), rotating,
    answered as one JSON line."""
    # the answers keep the real stdout; everything else printed (xtcocotools, MMEngine) goes to stderr
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def answer(obj) -> None:
        answers.write(json.dumps(obj) + "\n")
        answers.flush()

    sys.path.insert(0, str(tree))
    warnings.simplefilter("ignore")
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpose.registry import MODELS

    import fowkal
    import fowkal.mmpose  # noqa: F401  (registers the head, the loss, the data twins of this version)
    from fowkal.configs import build_config
    from fowkal.mmpose.hooks import KAFLoggingHook

    if Path(fowkal.__file__).resolve().parents[1] != tree.resolve():
        raise RuntimeError(f"imported fowkal from {fowkal.__file__}, not from {tree}")
    with contextlib.suppress(ImportError):
        from fowkal.runs.malloc import retain_freed_memory
        retain_freed_memory()  # as fowkal.train does, before any large tensor
    with contextlib.suppress(ImportError):
        from fowkal.runs.ipc import share_tensors_by_name
        share_tensors_by_name()  # as fowkal.train does, before the loader starts its workers
    init_default_scope("mmpose")
    timers = _Timers()
    cases, loader = {}, None
    for name in methods:
        base, *changes = name.split("+")
        if set(changes) - set(CHANGES):
            raise ValueError(f"unknown change in {name!r}; known: {', '.join(CHANGES)}")
        method, overrides = VARIANTS.get(base, (base, {}))
        cfg = build_config(method, "cpu", data_root=data_root, work_dir=tempfile.mkdtemp(), **overrides)
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).train()
        if "channels_last" in changes:
            _channels_last(model)
        if "compile" in changes:
            _compile(model)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        if loader is None:  # one loader, the profile's, feeds every method
            loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
        head = model.head
        model.data_preprocessor.forward = timers.wrap("preprocess", model.data_preprocessor.forward)
        model.backbone.forward = timers.wrap("backbone", model.backbone.forward)
        head.forward = timers.wrap("heatmap_head", head.forward)
        if getattr(head, "kaf_head", None) is not None:
            head.kaf_head.forward = timers.wrap("kaf_head", head.kaf_head.forward)
        criterion = head.loss_module
        for attr in ("forward", "terms"):
            if hasattr(criterion, attr):
                setattr(criterion, attr, timers.wrap("loss", getattr(criterion, attr)))
        optim.backward = timers.wrap("backward", optim.backward)
        optim.step = timers.wrap("optimizer", optim.step)
        hook = KAFLoggingHook()
        cases[name] = dict(model=model, optim=optim, hook=hook, runner=_FakeRunner(model, cfg.work_dir))
    import mmpose.models.heads.heatmap_heads.heatmap_head as heatmap_head_module
    import fowkal.mmpose.head as kaf_head_module
    for module in (heatmap_head_module, kaf_head_module):
        for name in ("pose_pck_accuracy", "heatmap_pck_accuracy"):  # the baseline's, today's
            if hasattr(module, name):
                setattr(module, name, timers.wrap("accuracy", getattr(module, name)))
    batches = iter(loader)
    order = list(methods)
    answer({"ready": True, "fowkal": str(Path(fowkal.__file__).parent.relative_to(tree))})
    for line in sys.stdin:
        command = line.split()
        if command[0] == "quit":
            return
        if command[0] == "pipeline":
            answer(_pipeline_cpu(loader.dataset, int(command[1])))
            continue
        steps, rows = int(command[1]), []
        chosen = command[2].split(",") if len(command) > 2 else None
        for _ in range(steps):
            for name in (order if chosen is None else [m for m in order if m in chosen]):
                case = cases[name]
                timers.now = {}
                start = time.perf_counter()
                try:
                    batch = next(batches)
                except StopIteration:
                    batches = iter(loader)
                    batch = next(batches)
                got = time.perf_counter()
                outputs = case["model"].train_step(batch, case["optim"])
                logged = {k: float(v) for k, v in outputs.items()}  # as MMEngine's message hub reads them
                hooks_start = time.perf_counter()
                case["hook"].after_train_iter(case["runner"], 0, batch, outputs)
                end = time.perf_counter()
                case["runner"].iter += 1
                parts = dict(timers.now, data_wait=got - start, hooks=end - hooks_start)
                rows.append(dict(method=name, step_s=end - start, parts=parts, loss=logged.get("loss")))
            order = order[1:] + order[:1]
        answer(rows)


def _channels_last(model) -> None:
    """The model's convolutions and input in channels-last layout; the heatmaps out in the usual one."""
    import torch

    model.to(memory_format=torch.channels_last)
    preprocess, head_forward = model.data_preprocessor.forward, model.head.forward

    def preprocess_channels_last(*args, **kwargs):
        out = preprocess(*args, **kwargs)
        out["inputs"] = out["inputs"].contiguous(memory_format=torch.channels_last)
        return out

    model.data_preprocessor.forward = preprocess_channels_last
    model.head.forward = lambda feats: head_forward(feats).contiguous()


def _compile(model) -> None:
    """The backbone and the heatmap head's forward through ``torch.compile``, as training's opt-in
    ``CompileModelHook`` does (static shapes; the KAF head and the loss as they are)."""
    from types import SimpleNamespace

    from fowkal.mmpose.hooks import CompileModelHook

    CompileModelHook().before_run(SimpleNamespace(model=model))


class _FakeRunner:
    """What KAFLoggingHook.after_train_iter reads of MMEngine's runner."""

    def __init__(self, model, work_dir):
        self.model, self.work_dir, self.iter, self.epoch = model, work_dir, 1000, 0


def _pipeline_cpu(dataset, samples: int) -> dict:
    """CPU seconds per batch of 32 the profile's pipeline costs, on one thread (as in a loader worker)."""
    import numpy as np
    import random
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    random.seed(0)
    np.random.seed(0)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(samples):
            dataset[i]
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        torch.set_num_threads(threads)
    return dict(samples=samples, cpu_s_per_batch32=cpu / samples * 32, wall_s_per_batch32=wall / samples * 32)


# --------------------------------------------------------------------------- main process
def _baseline_tree(commit: str, into: Path) -> Path:
    """The ``fowkal`` package of ``commit``, extracted under ``into`` (``git archive``)."""
    blob = subprocess.run(["git", "archive", "--format=tar", commit, "fowkal"], cwd=REPO, capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into


class _Worker:
    def __init__(self, label: str, tree: Path, methods, data_root: str):
        self.label = label
        env = dict(os.environ, PYTHONPATH=str(tree))
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", "--tree", str(tree), "--data-root",
                                      data_root, "--methods", ",".join(methods)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
        self.ready = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} worker stopped (exit code {self.proc.wait()})")
        return json.loads(line)

    def ask(self, command: str):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        with contextlib.suppress(Exception):
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def _median(values):
    return statistics.median(values) if values else None


def summarise(samples: dict, methods, baseline_methods) -> dict:
    """Rows per (code, method), the ratios the targets are about, and the per-part profile."""
    rows = []
    for (code, method), found in sorted(samples.items()):
        steps = [r["step_s"] for r in found]
        parts = {part: _median([r["parts"].get(part, 0.0) for r in found]) for part in PARTS}
        rows.append(dict(code=code, method=method, steps=len(steps), median_step_s=_median(steps),
                         steps_s=[round(s, 4) for s in steps], parts_median_s=parts))
    step = {(r["code"], r["method"]): r["median_step_s"] for r in rows}
    mse_now = step[("current", "mse")]
    per_method = {m: step[("current", m)] / mse_now for m in methods if ("current", m) in step and "+" not in m}
    # a candidate against the same method as adopted, same run
    candidates = {m: step[("current", m)] / step[("current", m.partition("+")[0])] for m in methods
                  if "+" in m and ("current", m) in step and ("current", m.partition("+")[0]) in step}
    paired = {m: step.get((PAIRED, m), step.get(("current", m))) for m in baseline_methods}
    versus_baseline = {m: paired[m] / step[("baseline", m)] for m in baseline_methods
                       if ("baseline", m) in step and paired[m] is not None}
    return dict(rows=rows, ratio_to_mse=per_method, ratio_to_baseline=versus_baseline, candidates=candidates,
                targets=dict(every_method_at_most_mse_times=STEP_TARGET, mse_at_most_baseline_times=MSE_TARGET,
                             mse_goal_baseline_times=MSE_GOAL,
                             every_method_met=all(r <= STEP_TARGET for r in per_method.values()),
                             mse_met=versus_baseline.get("mse", 9.9) <= MSE_TARGET))


def markdown(result: dict) -> str:
    s = result["summary"]
    lines = [f"Training step of the CPU profile (batch 32, 128x96 crops, 64x48 heatmaps), median of "
             f"{result['settings']['rounds']} blocks x {result['settings']['steps']} steps per method after a "
             f"warm-up block, the two code versions alternating; load average "
             f"{result['settings']['load_average_before'][0]:.1f} -> "
             f"{result['settings']['load_average_after'][0]:.1f}", "",
             "| method | code | ms | × MSE (same code) | × baseline |", "|---|---|---:|---:|---:|"]
    paired_code = PAIRED if any(r["code"] == PAIRED for r in s["rows"]) else "current"
    for r in s["rows"]:
        ratio = s["ratio_to_mse"].get(r["method"]) if r["code"] == "current" else None
        base = s["ratio_to_baseline"].get(r["method"]) if r["code"] == paired_code else None
        lines.append(f"| {r['method']} | {r['code']} | {1e3 * r['median_step_s']:.0f} | "
                     f"{'' if ratio is None else f'{ratio:.2f}'} | {'' if base is None else f'{base:.2f}'} |")
    if s.get("candidates"):
        lines += ["", "Options (× the same method without them, same run): " +
                  ", ".join(f"{m} {r:.2f}" for m, r in s["candidates"].items())]
        from fowkal.studies.step_speed import candidate_ratios_to_baseline

        lines += ["Options × baseline (that ratio times the method's × baseline): " +
                  ", ".join(f"{m} {r:.2f}" for m, r in candidate_ratios_to_baseline(result).items())]
    lines += ["", "Where the time goes (median ms per step):", "",
              "| method | code | " + " | ".join(PARTS) + " |", "|---|---|" + "---:|" * len(PARTS)]
    for r in s["rows"]:
        if r["method"] in ("mse", "fowkal"):
            lines.append(f"| {r['method']} | {r['code']} | " +
                         " | ".join(f"{1e3 * (r['parts_median_s'][p] or 0):.0f}" for p in PARTS) + " |")
    pipe = result.get("pipeline") or {}
    for code, found in pipe.items():
        lines.append(f"\nPipeline CPU per batch of 32, one thread, {code}: {1e3 * found['cpu_s_per_batch32']:.0f} ms")
    return "\n".join(lines)


def run(args) -> dict:
    from fowkal.data import default_benchmark

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_losses import git_commit, machine_info

    data_root = str(default_benchmark())
    samples: dict = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = _baseline_tree(args.baseline, Path(tmp) / "baseline")
        workers = [_Worker("current", REPO, args.methods, data_root),
                   _Worker("baseline", baseline, args.baseline_methods, data_root)]
        try:
            for w in workers:  # warm-up block: worker start, first batches, compilation
                w.ask(f"run {args.steps}")
            # × baseline: both workers run the same methods in the same rotation, blocks alternating. × MSE:
            # every method in one rotation of the current worker. (A current block of 13 methods against a
            # baseline block of 2 made the loader's wait differ between the two and the ratio drift.)
            paired = ",".join(args.baseline_methods)
            rotation = set(args.methods) != set(args.baseline_methods)  # else the paired rows are the rotation
            for block in range(args.rounds):
                for w in (workers if block % 2 == 0 else workers[::-1]):
                    code = PAIRED if w.label == "current" and rotation else w.label
                    for row in w.ask(f"run {args.steps} {paired}"):
                        samples.setdefault((code, row["method"]), []).append(row)
                if rotation:
                    for row in workers[0].ask(f"run {args.steps}"):
                        samples.setdefault(("current", row["method"]), []).append(row)
                print(f"[bench_step] block {block + 1}/{args.rounds} done", file=sys.stderr, flush=True)
            pipeline = {w.label: w.ask(f"pipeline {args.pipeline_samples}") for w in workers}
        finally:
            for w in workers:
                w.close()
    result = dict(kind="fowkal-bench-step", created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  settings=dict(steps=args.steps, rounds=args.rounds, baseline=args.baseline,
                                methods=list(args.methods), baseline_methods=list(args.baseline_methods),
                                load_average_before=list(load_before), load_average_after=list(os.getloadavg())),
                  summary=summarise(samples, args.methods, args.baseline_methods), pipeline=pipeline,
                  machine=machine_info(), commit=git_commit(), compiled_loss=_compiled_available())
    return result


def _compiled_available() -> bool:
    from fowkal.losses import compiled_kernel_available

    return compiled_kernel_available("cpu")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: mse and fowkal, 2 steps x 1 block")
    parser.add_argument("--steps", type=int, default=6, help="steps per method and block (default 6)")
    parser.add_argument("--rounds", type=int, default=4, help="blocks per worker after the warm-up (default 4)")
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})")
    parser.add_argument("--methods", default=",".join(METHODS), help="methods of the current code")
    parser.add_argument("--candidates", action="store_true",
                        help="also time options beside the default: " + ", ".join(CANDIDATES))
    parser.add_argument("--pipeline-samples", type=int, default=96)
    parser.add_argument("--out", type=Path, default=REPO / "figures" / "bench_step.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in args.methods if m not in METHODS + CANDIDATES]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    if args.quick:
        args.methods, args.steps, args.rounds, args.pipeline_samples = ["mse", "fowkal"], 2, 1, 8
    if args.candidates and not args.worker:
        args.methods += [c for c in CANDIDATES if c not in args.methods]
    args.baseline_methods = [m for m in BASELINE_METHODS if m in args.methods] or ["mse"]
    if args.steps < 1 or args.rounds < 1:
        parser.error("--steps and --rounds must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        _worker(args.tree, args.methods, args.data_root)
        return 0
    sys.path.insert(0, str(REPO))
    result = run(args)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_losses import write_json

    write_json(result, args.out)
    print(markdown(result))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
