"""Benchmark the paper's losses (reference and fused) against MMPose's own heatmap losses.

    .venv/bin/python benchmarks/bench_losses.py            # ~2 minutes on 2 cores
    .venv/bin/python benchmarks/bench_losses.py --quick    # ~20 s (CI smoke run)

Measures, in one process, with warm-up and interleaved repetitions (medians; ratios of medians):

1. forward + backward time of every method (``fowkal.losses`` = reference, ``fowkal.losses.fused`` = fused,
   build_loss's default, whose pixel pass is compiled where it pays off; "fused, eager" = the eager pixel pass) and
   of MMPose's ``KeypointMSELoss`` and ``AdaptiveWingLoss`` (``use_target_weight=True``), on the paper's
   heatmaps ``[32, 133, 64, 48]`` and the CPU profile's ``[32, 133, 32, 24]``, float32;
2. extra peak memory of each loss's forward + backward beyond its inputs (the gradient wrt pred
   included), in heatmap-sized float32 buffers (method: see ``MEMORY_METHOD``);
3. one training step (data preprocessor, forward, loss, backward, Adam step) of the CPU profile's model
   with ``fowkal`` vs ``mse``.

Writes ``figures/bench_losses.json`` (table, machine, commit) and prints markdown tables. No assertion
on times: shared machines are noisy; the load average before/after is recorded with the numbers.
"""
from __future__ import annotations

import argparse
import functools
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from fowkal import parts  # noqa: E402
from fowkal.jsonfile import write_json_atomic  # noqa: E402
from fowkal.losses import fused  # noqa: E402
from fowkal.losses import KAL_METHODS, METHODS, build_fused_loss, build_reference_loss  # noqa: E402
from fowkal.parts import NUM_KEYPOINTS  # noqa: E402

PAPER_SHAPE = (32, NUM_KEYPOINTS, 64, 48)  # per-GPU batch, 256x192 input
CPU_PROFILE_SHAPE = (32, NUM_KEYPOINTS, 32, 24)  # fowkal.configs' cpu profile, 128x96 input
QUICK_SHAPE = (8, NUM_KEYPOINTS, 32, 24)
TARGETS = {  # ratios measured in one run, on the paper's heatmaps
    "fowkal_fused_vs_mmpose_awing": 1.0,
    "awing_fused_vs_mmpose_awing": 0.5,
    "fowkal_fused_peak_extra_buffers": 4.0,
    "train_step_fowkal_fused_vs_mse_reference": 1.05,  # mse as the project's reference loss computes it
    "train_step_fowkal_fused_vs_mse_fused": 1.05,  # mse fused too (the fair one now that fused is the default)
    # every method's fused loss at most MMPose's MSE loss (the ceiling: MSE's own cost), worst method
    "every_method_fused_vs_mmpose_mse": 1.0,  # realistic visibility (the inputs above)
    "every_method_fused_all_visible_vs_mmpose_mse": 1.0,  # every keypoint visible (nothing to skip)
}
MEMORY_METHOD = {
    "cpu": "torch.profiler(profile_memory=True) on one thread: peak of the running sum of the CPU "
           "allocator's alloc/free events during one forward + backward (inputs exist before, so only "
           "new memory counts; the gradient wrt pred is included). The fused loss then runs its blocks "
           f"on one thread; with its thread pool each extra thread adds ~20 scratch buffers of "
           f"{fused.BLOCK_ELEMENTS} elements.",
    "cuda": "torch.cuda.max_memory_allocated() minus memory_allocated() before one forward + backward.",
}


# --------------------------------------------------------------------------- inputs and cases
#: Visibility as in the 12 non-empty person instances of the real COCO-WholeBody sample
#: ($FOWKAL_REAL_SAMPLE): a face is labelled in 3/12, each hand in 5/12, the feet in
#: 9/12 (then ~70 % of foot keypoints), body keypoints ~88 % visible. MMPose gives unlabelled keypoints
#: weight 0 and an all-zero target. About 60 % of the keypoints are then invisible, in whole parts.
PART_LABELLED = {"face": 0.25, "left_hand": 5 / 12, "right_hand": 5 / 12, "foot": 0.75}
KEYPOINT_VISIBLE = {"body": 0.88, "foot": 0.7}


def visibility(batch, num_kpts, gen):
    """[B, K] 0/1 target weights with the part-wise pattern above (K = 133), else 75 % i.i.d."""
    if num_kpts != NUM_KEYPOINTS:
        return (torch.rand(batch, num_kpts, generator=gen) > 0.25).float()
    visible = torch.zeros(batch, num_kpts)
    groups = {"body": parts.BODY, "foot": parts.FOOT, "face": parts.FACE, "left_hand": parts.LEFT_HAND,
              "right_hand": parts.RIGHT_HAND}
    for name, idx in groups.items():
        idx = list(idx)
        labelled = torch.rand(batch, 1, generator=gen) < PART_LABELLED.get(name, 1.0)
        shown = torch.rand(batch, len(idx), generator=gen) < KEYPOINT_VISIBLE.get(name, 1.0)
        visible[:, idx] = (labelled & shown).float()
    return visible


def make_inputs(shape, device, seed=0, all_visible=False):
    """A mid-training-like batch: untruncated DARK Gaussians (σ = 2), invisible keypoints as above
    (target 0, weight 0, as MMPose), predictions = 0.8·target + noise, λ in (0, 1)."""
    batch, num_kpts, height, width = shape
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    cy = torch.rand(batch, num_kpts, 1, 1, generator=gen) * height
    cx = torch.rand(batch, num_kpts, 1, 1, generator=gen) * width
    visible = torch.ones(batch, num_kpts) if all_visible else visibility(batch, num_kpts, gen)
    target = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / 8.0) * visible.view(batch, num_kpts, 1, 1)
    pred = 0.8 * target + 0.02 * torch.randn(shape, generator=gen)
    kaf = torch.sigmoid(torch.randn(batch, num_kpts, generator=gen))
    return [t.to(device) for t in (pred, target, visible, kaf)]


def loss_cases(device):
    """(method, implementation, callable(pred, target, tw, kaf)) for every case."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mmcv-lite's missing compiled-ops warning
        from mmpose.models.losses.heatmap_loss import AdaptiveWingLoss, KeypointMSELoss
    mm_mse, mm_awing = KeypointMSELoss(use_target_weight=True), AdaptiveWingLoss(use_target_weight=True)
    cases = [("mse", "mmpose", lambda p, t, w, k: mm_mse(p, t, w)),
             ("awing", "mmpose", lambda p, t, w, k: mm_awing(p, t, w))]
    eager = functools.partial(build_fused_loss, compiled=False)
    for method in METHODS:
        # fused: build_loss's default (the compiled pixel pass where a compiler is present and it pays off);
        # fused, eager: the same loss with the eager pixel pass (the fused loss before the compiled kernel)
        for implementation, build in (("reference", build_reference_loss), ("fused", build_fused_loss),
                                      ("fused, eager", eager)):
            loss = build(method).to(device)
            if method in KAL_METHODS:
                cases.append((method, implementation, lambda p, t, w, k, loss=loss: loss(p, t, w, k)))
            else:
                cases.append((method, implementation, lambda p, t, w, k, loss=loss: loss(p, t, w)))
    return cases


#: what no loss on these tensors can avoid, timed next to the losses (method 'floor')
FLOOR_READ_WRITE = "read pred and target once, write a fresh gradient-sized tensor"
FLOOR_TRANSCENDENTALS = "fused FoWKAL's transcendentals per pixel (pow, log2, exp2, log1p), no other op"


def floor_cases(pred, target):
    """The floors, on the all-visible inputs: any loss's forward + backward reads p̂ and p once and writes
    dL/dp̂ into fresh memory (``pred - target``: one pass, one new tensor, page faults included); fused
    FoWKAL also evaluates 4 transcendentals per pixel (timed alone, into preallocated buffers)."""
    q, p = pred.detach(), target
    x = (q - p).abs().clamp_(max=0.5)  # AWing's clamped |p̂ − p|, made beforehand
    scratch, weight = torch.empty_like(q), torch.empty_like(q)

    def transcendentals():
        torch.pow(p, 0.01, out=weight)
        torch.log1p(torch.log2(x, out=scratch).exp2_(), out=scratch)

    return [("floor", FLOOR_READ_WRITE, lambda: torch.sub(q, p)),
            ("floor", FLOOR_TRANSCENDENTALS, transcendentals)]


def per_method(losses):
    """One row per device, shape and method: reference (before) and fused (after; realistic and all
    keypoints visible) in ms and as ratios to MMPose's MSE and AWing losses of the same run."""
    index = {(r["device"], tuple(r["shape"]), r["method"], r["implementation"]): r for r in losses}
    out = []
    for device, shape in dict.fromkeys((r["device"], tuple(r["shape"])) for r in losses):
        for method in METHODS:
            row = dict(device=device, shape=list(shape), method=method)
            for impl, key in (("reference", "reference"), ("fused", "fused"), ("fused, all visible", "fused_all_visible"),
                              ("fused, eager", "fused_eager")):
                found = index.get((device, shape, method, impl))
                if found:
                    row.update({f"{key}_ms": 1e3 * found["median_s"],
                                f"{key}_vs_mmpose_mse": found["ratio_to_mmpose_mse"],
                                f"{key}_vs_mmpose_awing": found["ratio_to_mmpose_awing"]})
            out.append(row)
    return out


# --------------------------------------------------------------------------- measurements
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_backward(fn, pred, target, tw, kaf):
    pred.grad = kaf.grad = None
    fn(pred, target, tw, kaf).backward()


def time_interleaved(cases, run, repeats, warmup, device):
    """Wall seconds per case, and the process's CPU seconds (all threads; less sensitive to other processes
    on a busy machine): repetition r runs, in a rotating order, every case i with r < warmup + repeats[i]
    (``repeats``: one count per case, or one for all); the warm-up repetitions are not kept."""
    repeats = [repeats] * len(cases) if isinstance(repeats, int) else list(repeats)
    times = {i: [] for i in range(len(cases))}
    cpu_times = {i: [] for i in range(len(cases))}
    gc_was_enabled = gc.isenabled()
    try:
        for rep in range(warmup + max(repeats)):
            gc.collect()
            gc.disable()
            order = list(range(len(cases)))
            order = order[rep % len(order):] + order[:rep % len(order)]  # no case always runs first
            for i in order:
                if rep >= warmup + repeats[i]:
                    continue
                _sync(device)
                start, start_cpu = time.perf_counter(), time.process_time()
                run(cases[i])
                _sync(device)
                if rep >= warmup:
                    times[i].append(time.perf_counter() - start)
                    cpu_times[i].append(time.process_time() - start_cpu)
            gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
    return times, cpu_times


def peak_extra_bytes(fn, device):
    """Peak memory allocated during fn() beyond what existed before (see MEMORY_METHOD)."""
    if device.type == "cuda":
        _sync(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    from torch.profiler import ProfilerActivity, profile

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the allocator reports to the profiler only from the profiled thread
    try:
        with warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            warnings.simplefilter("ignore")
            fn()
    finally:
        torch.set_num_threads(threads)
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU)
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


#: memory is measured for MMPose's losses, every fused loss and the reference's mse, awing and fowkal (the
#: other reference methods would add ~20 s on one thread for the same picture: ~10-17 buffers)
MEMORY_CASES = {("mse", "mmpose"), ("awing", "mmpose"), ("mse", "reference"), ("awing", "reference"),
                ("fowkal", "reference")} | {(m, impl) for m in METHODS for impl in ("fused", "fused, all visible")}


def bench_losses(shape, device, repeats, reference_repeats, warmup, measure_memory):
    pred, target, tw, kaf = make_inputs(shape, device)
    pred.requires_grad_()
    kaf.requires_grad_()
    cases = loss_cases(device)
    # the worst case for the fused loss, which skips keypoints of weight 0: every keypoint visible
    pred_all, target_all, tw_all, kaf_all = make_inputs(shape, device, all_visible=True)
    pred_all.requires_grad_()
    kaf_all.requires_grad_()
    all_visible = set()
    for method in METHODS:
        fused_fn = next(fn for m, impl, fn in cases if (m, impl) == (method, "fused"))
        all_visible.add(len(cases))
        cases.append((method, "fused, all visible", fused_fn))
    floors = floor_cases(pred_all, target_all)
    first_floor = len(cases)
    cases += floors

    def run(index):
        if index >= first_floor:
            cases[index][2]()
            return
        inputs = (pred_all, target_all, tw_all, kaf_all) if index in all_visible else (pred, target, tw, kaf)
        forward_backward(cases[index][2], *inputs)

    counts = [reference_repeats if impl == "reference" else repeats for _, impl, _ in cases]
    times, cpu_times = time_interleaved(list(range(len(cases))), run, counts, warmup, device)
    medians = {(m, impl): statistics.median(times[i]) for i, (m, impl, _) in enumerate(cases)}
    mm_awing, mm_mse = medians[("awing", "mmpose")], medians[("mse", "mmpose")]
    buffer_bytes = shape[0] * shape[1] * shape[2] * shape[3] * 4
    rows, memory = [], []
    for i, (method, implementation, fn) in enumerate(cases):
        median = medians[(method, implementation)]
        rows.append(dict(device=device.type, shape=list(shape), method=method, implementation=implementation,
                         median_s=median, repeats=counts[i], times_s=times[i], cpu_times_s=cpu_times[i],
                         median_cpu_s=statistics.median(cpu_times[i]), mmpose_awing_median_s=mm_awing,
                         mmpose_mse_median_s=mm_mse, ratio_to_mmpose_awing=median / mm_awing,
                         ratio_to_mmpose_mse=median / mm_mse))
        if measure_memory and (method, implementation) in MEMORY_CASES:
            inputs = (pred_all, target_all, tw_all, kaf_all) if i in all_visible else (pred, target, tw, kaf)
            forward_backward(fn, *inputs)  # warm (plans, caches) outside the measurement
            inputs[0].grad = inputs[3].grad = None
            peak = peak_extra_bytes(lambda: forward_backward(fn, *inputs), device)
            memory.append(dict(device=device.type, shape=list(shape), method=method,
                               implementation=implementation, peak_extra_bytes=peak,
                               peak_extra_buffers=peak / buffer_bytes))
    pred.grad = kaf.grad = pred_all.grad = kaf_all.grad = None
    return rows, memory, float(1 - tw.mean())


# --------------------------------------------------------------------------- training step
def _cpu_profile_model(method, fused_loss, device):
    """The CPU profile's model (fowkal.configs, small HRNet + KAFHeatmapHead) with its loss."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmpose.registry import MODELS

        import fowkal.mmpose  # noqa: F401  (registers FoWKALLoss, KAFHeatmapHead)
        from fowkal.configs import config_file

        init_default_scope("mmpose")
        cfg = Config.fromfile(str(config_file(method, "cpu")))
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).to(device).train()
    # explicit either way: the cpu configs already ask for the fused loss (fused=True)
    model.head.loss_module.criterion = (build_fused_loss if fused_loss else build_reference_loss)(method)
    codec = cfg.model.head.decoder
    (in_w, in_h), (hm_w, hm_h) = codec.input_size, codec.heatmap_size
    return model, (in_h, in_w), (hm_h, hm_w)


def _train_batch(batch, image_hw, heatmap_hw, seed=1):
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample

    gen = torch.Generator().manual_seed(seed)
    _, target, tw, _ = make_inputs((batch, NUM_KEYPOINTS) + tuple(heatmap_hw), "cpu", seed)
    samples = []
    for b in range(batch):
        sample = PoseDataSample(metainfo=dict(input_size=image_hw[::-1]))
        sample.gt_fields = PixelData(heatmaps=target[b])
        sample.gt_instance_labels = InstanceData(keypoint_weights=tw[b:b + 1])
        samples.append(sample)
    images = [torch.randint(0, 256, (3,) + tuple(image_hw), dtype=torch.uint8, generator=gen) for _ in range(batch)]
    return dict(inputs=images, data_samples=samples)


class _StandInModel(torch.nn.Module):
    """Used only if the CPU profile's model cannot be built: 128x96 images -> 3 convs -> 32x24 heatmaps."""

    def __init__(self, method, fused_loss):
        super().__init__()
        from fowkal.kaf_head import KAFHead

        def block(c_in, c_out, stride):
            return [torch.nn.Conv2d(c_in, c_out, 3, stride, 1), torch.nn.BatchNorm2d(c_out), torch.nn.ReLU()]

        self.features = torch.nn.Sequential(*block(3, 32, 2), *block(32, 64, 2), *block(64, 32, 1))
        self.heatmaps = torch.nn.Conv2d(32, NUM_KEYPOINTS, 1)
        self.kaf = KAFHead(32) if method in KAL_METHODS else None
        self.loss = (build_fused_loss if fused_loss else build_reference_loss)(method)

    def train_step(self, data, optim):
        features = self.features(data["inputs"])
        kaf = self.kaf(features) if self.kaf is not None else None
        loss = self.loss(self.heatmaps(features), data["target"], data["weight"], kaf)
        optim.update_params(loss)
        return loss


def bench_train_step(batch, device, repeats, warmup):
    from mmengine.optim import OptimWrapper

    variants = [("mse", "reference"), ("mse", "fused"), ("fowkal", "reference"), ("fowkal", "fused")]
    steps = []
    try:
        for method, implementation in variants:
            model, image_hw, heatmap_hw = _cpu_profile_model(method, implementation == "fused", device)
            steps.append((model, OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-4))))
        data = _train_batch(batch, image_hw, heatmap_hw)
        model_text = (f"fowkal.configs cpu profile: small HRNet + KAFHeatmapHead, batch {batch}, input "
                      f"{image_hw[0]}x{image_hw[1]}, heatmaps {heatmap_hw[0]}x{heatmap_hw[1]}, Adam; "
                      f"step = MMEngine train_step (preprocess, forward, loss, backward, update)")
    except Exception as err:  # the configs are optional for this benchmark: say so and carry on
        print(f"[bench] cpu-profile model unavailable ({type(err).__name__}: {err}); using a stand-in",
              file=sys.stderr)
        torch.manual_seed(0)
        steps = [(model, OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-4)))
                 for model in (_StandInModel(m, impl == "fused").to(device) for m, impl in variants)]
        _, target, tw, _ = make_inputs((batch, NUM_KEYPOINTS, 32, 24), device, seed=1)
        data = dict(inputs=torch.randn(batch, 3, 128, 96, device=device), target=target, weight=tw)
        model_text = (f"STAND-IN (cpu-profile model unavailable: {type(err).__name__}): 3 convs + 1x1 head "
                      f"(+ KAF head for fowkal), batch {batch}, input 128x96, heatmaps 32x24, Adam")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times, cpu_times = time_interleaved(steps, lambda step: step[0].train_step(data, step[1]), repeats,
                                            warmup, device)
    medians = [statistics.median(times[i]) for i in range(len(steps))]
    cpu_medians = [statistics.median(cpu_times[i]) for i in range(len(steps))]
    same = [variants.index(("mse", impl)) for _, impl in variants]
    rows = [dict(method=m, implementation=impl, median_s=medians[i], times_s=times[i], median_cpu_s=cpu_medians[i],
                 cpu_times_s=cpu_times[i], ratio_to_mse_reference=medians[i] / medians[0],  # the project's mse
                 ratio_to_mse_same_implementation=medians[i] / medians[same[i]],
                 cpu_ratio_to_mse_reference=cpu_medians[i] / cpu_medians[0],
                 cpu_ratio_to_mse_same_implementation=cpu_medians[i] / cpu_medians[same[i]])
            for i, (m, impl) in enumerate(variants)]
    return dict(model=model_text, device=device.type, batch=batch, rows=rows)


# --------------------------------------------------------------------------- profile, machine, output
def profile_top_ops(shape, device, rows=12):
    """Where the time goes: the profiler's top ops (self CPU time) of one forward + backward of fused fowkal
    (also with every keypoint visible), reference fowkal and MMPose's AWing and MSE, on one thread (the
    profiler sees only the profiled thread; with one thread the fused loss runs every block there). First
    touches of fresh memory (page faults) are charged to the op that writes the memory first."""
    from torch.profiler import ProfilerActivity, profile

    pred, target, tw, kaf = make_inputs(shape, device)
    pred.requires_grad_()
    kaf.requires_grad_()
    all_visible = make_inputs(shape, device, all_visible=True)
    all_visible[0].requires_grad_()
    all_visible[3].requires_grad_()
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for method, implementation, fn in loss_cases(device):
            if (method, implementation) not in (("fowkal", "fused"), ("awing", "mmpose"), ("fowkal", "reference"),
                                                ("mse", "mmpose")):
                continue
            variants = [("", (pred, target, tw, kaf))]
            if (method, implementation) == ("fowkal", "fused"):  # and its worst case: nothing to skip
                variants.append((", all visible", all_visible))
            for suffix, inputs in variants:
                forward_backward(fn, *inputs)
                with warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU]) as prof:
                    warnings.simplefilter("ignore")
                    forward_backward(fn, *inputs)
                ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
                out[f"{method}/{implementation}{suffix}"] = dict(
                    total_self_cpu_ms=sum(e.self_cpu_time_total for e in ops) / 1e3,
                    top=[dict(op=e.key, self_cpu_ms=e.self_cpu_time_total / 1e3, calls=e.count)
                         for e in ops[:rows]])
    finally:
        torch.set_num_threads(threads)
    return dict(shape=list(shape), threads=1, cases=out)


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import mmpose

    return dict(cpu=cpu, logical_cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                cpu_capability=torch.backends.cpu.get_cpu_capability(), python=platform.python_version(),
                torch=torch.__version__, mmpose=mmpose.__version__, platform=platform.platform(),
                cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)


def git_commit():
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "fowkal", "benchmarks"], cwd=REPO,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return dict(commit=None, dirty=None)
    return dict(commit=head.stdout.strip() or None, dirty=bool(dirty.stdout.strip()))


def check_targets(losses, memory, train):
    def ratio(method, implementation, to="awing"):
        rows = [r for r in losses if r["device"] == "cpu" and tuple(r["shape"]) == PAPER_SHAPE
                and (r["method"], r["implementation"]) == (method, implementation)]
        return rows[0][f"ratio_to_mmpose_{to}"] if rows else None

    def worst(implementation):
        found = [ratio(m, implementation, "mse") for m in METHODS]
        return None if None in found else max(found)

    peak = [m["peak_extra_buffers"] for m in memory if m["method"] == "fowkal" and tuple(m["shape"]) == PAPER_SHAPE
            and m["implementation"] in ("fused", "fused, all visible")]
    step = [r for r in (train or {}).get("rows", []) if (r["method"], r["implementation"]) == ("fowkal", "fused")]
    measured = {"fowkal_fused_vs_mmpose_awing": ratio("fowkal", "fused"),
                "awing_fused_vs_mmpose_awing": ratio("awing", "fused"),
                "fowkal_fused_peak_extra_buffers": max(peak) if peak else None,
                "train_step_fowkal_fused_vs_mse_reference": step[0]["ratio_to_mse_reference"] if step else None,
                "train_step_fowkal_fused_vs_mse_fused": step[0]["ratio_to_mse_same_implementation"] if step else None,
                "every_method_fused_vs_mmpose_mse": worst("fused"),
                "every_method_fused_all_visible_vs_mmpose_mse": worst("fused, all visible")}
    return {name: dict(target=limit, measured=measured[name],
                       met=None if measured[name] is None else measured[name] <= limit)
            for name, limit in TARGETS.items()}


def markdown(result):
    lines = []
    for device, shape in dict.fromkeys((r["device"], tuple(r["shape"])) for r in result.get("per_method", [])):
        lines += ["", f"Per method, {device}, [B, K, H, W] = {list(shape)}: before = reference (autograd), after = "
                      f"fused (build_loss's default: the compiled pixel pass where it pays off), eager = the fused "
                      f"loss's eager pixel pass; ms and × MMPose MSE / × MMPose AWing of the same run", "",
                  "| method | before ms | × MSE | × AWing | after ms | × MSE | × AWing | after, all visible ms | × MSE "
                  "| eager ms | × MSE |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["per_method"]:
            if (r["device"], tuple(r["shape"])) != (device, shape):
                continue
            cells = [r["method"]]
            for key, ratios in (("reference", ("mse", "awing")), ("fused", ("mse", "awing")),
                                ("fused_all_visible", ("mse",)), ("fused_eager", ("mse",))):
                cells.append(f"{r[f'{key}_ms']:.1f}" if f"{key}_ms" in r else "")
                cells += [f"{r[f'{key}_vs_mmpose_{to}']:.2f}" if f"{key}_ms" in r else "" for to in ratios]
            lines.append("| " + " | ".join(cells) + " |")
    memory = {(m["device"], tuple(m["shape"]), m["method"], m["implementation"]): m["peak_extra_buffers"]
              for m in result["memory"]}
    groups = list(dict.fromkeys((r["device"], tuple(r["shape"])) for r in result["losses"]))  # run order
    for device, shape in groups:
        lines += ["", f"Loss forward + backward, {device}, float32, [B, K, H, W] = {list(shape)} "
                      f"(median of {result['settings']['repeats']}, reference: of "
                      f"{result['settings']['reference_repeats']}; ratios of medians)", "",
                  "| method | implementation | ms | × MMPose AWing | × MMPose MSE | extra peak memory (heatmaps) |",
                  "|---|---|---:|---:|---:|---:|"]
        for r in result["losses"]:
            if (r["device"], tuple(r["shape"])) != (device, shape):
                continue
            mem = memory.get((device, shape, r["method"], r["implementation"]))
            lines.append(f"| {r['method']} | {r['implementation']} | {1e3 * r['median_s']:.1f} | "
                         f"{r['ratio_to_mmpose_awing']:.2f} | {r['ratio_to_mmpose_mse']:.2f} | "
                         f"{'' if mem is None else f'{mem:.2f}'} |")
    train = result.get("train_step")
    if train:
        lines += ["", f"Training step: {train['model']} (wall time; CPU = the process's CPU time, all threads)", "",
                  "| method | loss implementation | ms | × mse (reference) | × mse (same implementation) | "
                  "CPU ms | CPU × mse (reference) | CPU × mse (same implementation) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in train["rows"]:
            lines.append(f"| {r['method']} | {r['implementation']} | {1e3 * r['median_s']:.0f} | "
                         f"{r['ratio_to_mse_reference']:.3f} | {r['ratio_to_mse_same_implementation']:.3f} | "
                         f"{1e3 * r['median_cpu_s']:.0f} | {r['cpu_ratio_to_mse_reference']:.3f} | "
                         f"{r['cpu_ratio_to_mse_same_implementation']:.3f} |")
    if result.get("profile"):
        lines += ["", f"Profile, one thread, {result['profile']['shape']}: top ops by self CPU time (ms, calls)"]
        for case, found in result["profile"]["cases"].items():
            top = ", ".join(f"{e['op'].replace('aten::', '')} {e['self_cpu_ms']:.0f} ({e['calls']})"
                            for e in found["top"][:8])
            lines.append(f"- {case} (total {found['total_self_cpu_ms']:.0f} ms): {top}")
    lines += ["", "| target | limit | measured | met |", "|---|---:|---:|---|"]
    for name, t in result["targets"].items():
        value = "n/a" if t["measured"] is None else f"{t['measured']:.3f}"
        lines.append(f"| {name} | {t['target']} | {value} | {'n/a' if t['met'] is None else t['met']} |")
    return "\n".join(lines)


def write_json(result, out: Path):
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(result, out)  # never a half-written file


# --------------------------------------------------------------------------- entry point
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small shape, 2 repeats (CI smoke run, ~20 s)")
    parser.add_argument("--out", type=Path, default=REPO / "figures" / "bench_losses.json", help="JSON output")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repetitions per case (default 5, quick 2; the reference losses: at most 3)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto = cpu, plus cuda when a GPU is present")
    parser.add_argument("--profile", action="store_true", help="also record the top ops of fused and reference "
                                                              "fowkal and MMPose AWing, one thread (where the "
                                                              "time goes)")
    parser.add_argument("--no-train-step", action="store_true", help="skip the training-step benchmark")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if args.out.exists() and args.out.is_dir():
        parser.error(f"--out is a directory: {args.out}")
    return args


def main(argv=None):
    args = parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    reference_repeats = min(repeats, 3)  # the reference losses are the slow ones (~10x the fused)
    devices = [torch.device("cpu")] if args.device in ("auto", "cpu") else []
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    shapes = [QUICK_SHAPE] if args.quick else [PAPER_SHAPE, CPU_PROFILE_SHAPE]
    started, load_before = time.perf_counter(), os.getloadavg()
    losses, memory, invisible = [], [], {}
    for device in devices:
        for shape in shapes:
            print(f"[bench] losses on {device.type} {list(shape)} ...", file=sys.stderr, flush=True)
            rows, mem, hidden = bench_losses(shape, device, repeats, reference_repeats, warmup=1,
                                             measure_memory=shape == shapes[0])
            losses += rows
            memory += mem
            invisible[f"{device.type} {list(shape)}"] = hidden
    train = None
    if not args.no_train_step:
        print("[bench] training step ...", file=sys.stderr, flush=True)
        train = bench_train_step(QUICK_SHAPE[0] if args.quick else 32, devices[0], repeats, warmup=1)
    profile = profile_top_ops(shapes[0], devices[0]) if args.profile else None
    result = dict(
        schema=1, created=datetime.now(timezone.utc).isoformat(timespec="seconds"), commit=git_commit(),
        machine=machine_info(),
        settings=dict(repeats=repeats, reference_repeats=reference_repeats, warmup=1, quick=args.quick, dtype="float32",
                      fused_block_elements=fused.BLOCK_ELEMENTS, load_average_before=list(load_before),
                      load_average_after=list(os.getloadavg()), wall_s=None,
                      timing="forward + backward of the loss on fixed inputs (pred.grad reset each time); "
                             "repetitions interleaved across cases, order rotated; median",
                      inputs="untruncated DARK Gaussians (sigma 2), pred = 0.8 target + N(0, 0.02^2); "
                             "invisible keypoints (weight 0, target 0) drawn part-wise as in the real sample: "
                             f"part labelled {PART_LABELLED}, keypoint visible {KEYPOINT_VISIBLE}",
                      invisible_fraction=invisible),
        memory_method=MEMORY_METHOD, losses=losses, per_method=per_method(losses), memory=memory, train_step=train,
        profile=profile)
    result["targets"] = check_targets(losses, memory, train)
    result["settings"]["wall_s"] = time.perf_counter() - started
    write_json(result, args.out)
    print(markdown(result))
    print(f"\nwrote {args.out} ({result['settings']['wall_s']:.0f} s; load average "
          f"{load_before[0]:.1f} -> {result['settings']['load_average_after'][0]:.1f})")


if __name__ == "__main__":
    main()
