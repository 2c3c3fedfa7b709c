"""Training-step cost of the CPU profile at its 64x48 heatmaps vs the 32x24 it had before (CHANGELOG.md).

    .venv/bin/python benchmarks/bench_geometry.py            # ~3 minutes on 2 busy cores
    .venv/bin/python benchmarks/bench_geometry.py --quick    # smoke run: batch 4, 2 repeats, 2 heads

Measures, in one process, with one warm-up and interleaved repetitions (rotating order; medians;
ratios of medians from the same run):

1. **step**: one MMEngine ``train_step`` (data preprocessor, forward, loss, backward, Adam update) of
   the CPU profile's model (``fowkal.configs``: small HRNet + ``KAFHeatmapHead``, 128x96 crops) with
   the profile's loss (fused), for ``fowkal`` and ``mse``, at 32x24 (``geometry_overrides('32x24')``: the earlier profile)
   and at 64x48 with each head of ``fowkal.configs.geometry.HEADS_64x48``;
2. **data**: one batch through the profile's training pipeline (load, augment, crop, GenerateTarget)
   per geometry, in this process (in training, the loader's workers do it on the same cores).

Each malloc mode runs in its own process (``--malloc``): ``default`` (glibc as training runs had
it at 32x24) and ``retain`` (``fowkal.runs.malloc.retain_freed_memory()``: freed memory is reused, so
tensors above glibc's 32 MiB mmap limit, such as a batch of 64x48 heatmaps, stop page-faulting at
every step). Ratios are taken within one process; the two modes' times come from two processes
run one after the other (``retain_vs_default`` says so).

The batch is real: the profile's batch size of the benchmark's first training samples through its
own pipeline, the augmentation seeded so both geometries see the same crops (only the targets'
resolution differs). Writes ``figures/bench_geometry.json`` (rows, ratios, machine, commit, load
average) and prints the tables. No assertion on times: shared machines are noisy.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import tempfile
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_losses import git_commit, machine_info, write_json  # noqa: E402
from fowkal.configs.geometry import DEFAULT_HEAD_64x48, HEADS_64x48, geometry_overrides  # noqa: E402

LOSSES = ("mse", "fowkal")
LIMIT = 1.5  # the target: a 64x48 step costs at most ~1.5x a 32x24 one
BASELINE = "32x24"
MALLOC_MODES = ("default", "retain")


def variants(heads):
    """(name, geometry, head) of the baseline and each 64x48 head."""
    return [(BASELINE, "32x24", None)] + [(f"64x48/{h}", "64x48", h) for h in heads]


def build(method, geometry, head, data_root):
    """(model, config) of the CPU profile with ``geometry``'s overrides, seeded like a run."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import fowkal.mmpose  # noqa: F401  (registers the loss and the head)
    from fowkal.configs import build_config
    from fowkal.configs.geometry import check_geometry

    init_default_scope("mmpose")
    cfg = build_config(method, "cpu", data_root=data_root, **geometry_overrides(geometry, head=head))
    check_geometry(cfg)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).train(), cfg


def real_batch(cfg, batch, seed=0):
    """``batch`` training samples through the config's own pipeline (augmentation seeded), collated,
    and the pipeline itself as a callable that makes such a batch again (for the data timing)."""
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS

    dataset = DATASETS.build(cfg.train_dataloader.dataset)

    def make():
        random.seed(seed)
        np.random.seed(seed)
        return pseudo_collate([dataset[i] for i in range(batch)])

    return make(), make


def time_interleaved(keys, fn, repeats, warmup=1):
    """{key: [(wall, cpu, sys) seconds]}: repetition r runs fn(key) for every key in a rotating order (no
    key always first); the first ``warmup`` repetitions are not kept. CPU = user + system of the process."""
    out = {key: [] for key in keys}
    gc_was_enabled = gc.isenabled()
    try:
        for rep in range(warmup + repeats):
            gc.collect()
            gc.disable()
            order = keys[rep % len(keys):] + keys[:rep % len(keys)]
            for key in order:
                t0, c0 = time.perf_counter(), os.times()
                fn(key)
                t1, c1 = time.perf_counter(), os.times()
                if rep >= warmup:
                    cpu = (c1.user - c0.user) + (c1.system - c0.system)
                    out[key].append((t1 - t0, cpu, c1.system - c0.system))
            gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


def _stats(samples):
    wall, cpu, sys_ = (list(x) for x in zip(*samples))
    return dict(median_s=statistics.median(wall), times_s=wall, median_cpu_s=statistics.median(cpu),
                cpu_times_s=cpu, median_sys_s=statistics.median(sys_))


def run(args):
    """One malloc mode, in this process: (rows, data rows, the heads' configs)."""
    from mmengine.optim import OptimWrapper

    cases, data_cases, configs = [], {}, {}
    for name, geometry, head in variants(args.heads):
        for method in LOSSES:
            model, cfg = build(method, geometry, head, args.data_root)
            batch = cfg.train_dataloader.batch_size if args.batch is None else args.batch
            if geometry not in data_cases:
                data_cases[geometry] = real_batch(cfg, batch)
            heatmaps = list(data_cases[geometry][0]["data_samples"][0].gt_fields.heatmaps.shape)
            if heatmaps[1:] != ([64, 48] if geometry == "64x48" else [32, 24]):
                raise RuntimeError(f"{name}: the pipeline made targets {heatmaps}, not {geometry}")
            optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-4))
            cases.append(dict(name=name, geometry=geometry, head=head, method=method, model=model, optim=optim,
                              batch=batch, head_params=sum(p.numel() for p in model.head.parameters()),
                              heatmaps=heatmaps))
            configs[name] = dict(cfg.model.head, decoder=dict(cfg.model.head.decoder))

    def step(i):
        case = cases[i]
        case["model"].train_step(data_cases[case["geometry"]][0], case["optim"])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        print(f"[bench] malloc {args.malloc}: {len(cases)} training steps x {args.repeats} (+1 warm-up) ...",
              file=sys.stderr, flush=True)
        steps = time_interleaved(list(range(len(cases))), step, args.repeats)
        loads = None
        if not args.no_data:
            print(f"[bench] malloc {args.malloc}: data pipeline x {args.repeats} ...", file=sys.stderr, flush=True)
            loads = time_interleaved(list(data_cases), lambda g: data_cases[g][1](), args.repeats)
    rows = [dict({k: case[k] for k in ("name", "geometry", "head", "method", "batch", "head_params", "heatmaps")},
                 **_stats(steps[i])) for i, case in enumerate(cases)]
    base = {r["method"]: r for r in rows if r["name"] == BASELINE}
    for r in rows:
        r["ratio_to_32x24"] = r["median_s"] / base[r["method"]]["median_s"]
        r["cpu_ratio_to_32x24"] = r["median_cpu_s"] / base[r["method"]]["median_cpu_s"]
        r["within_limit"] = r["ratio_to_32x24"] <= LIMIT
    data = None
    if loads is not None:
        data = [dict(geometry=g, **_stats(loads[g])) for g in data_cases]
        for d in data:
            d["ratio_to_32x24"] = d["median_s"] / data[0]["median_s"]
    return rows, data, configs


def markdown(result):
    s = result["settings"]
    lines = []
    for mode, found in result["modes"].items():
        rows = found["rows"]
        lines += ["", f"Training step, malloc {mode} (train_step: preprocess, forward, loss, backward, Adam), CPU "
                      f"profile model, batch {rows[0]['batch']} real crops 128x96, median of {s['repeats']} after 1 "
                      f"warm-up, interleaved; load average {found['load_average_before'][0]:.1f} -> "
                      f"{found['load_average_after'][0]:.1f}; peak RSS of the process (all cases) "
                      f"{found['peak_rss_mib']:.0f} MiB", "",
                  "| geometry / head | loss | head params | ms | × 32x24 | CPU ms | CPU × 32x24 | sys ms | ≤ 1.5x |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            lines.append(f"| {r['name']} | {r['method']} | {r['head_params']} | {1e3 * r['median_s']:.0f} | "
                         f"{r['ratio_to_32x24']:.2f} | {1e3 * r['median_cpu_s']:.0f} | {r['cpu_ratio_to_32x24']:.2f} | "
                         f"{1e3 * r['median_sys_s']:.0f} | {'yes' if r['within_limit'] else 'NO'} |")
        if found.get("data"):
            lines += ["", f"Data pipeline, malloc {mode}, one batch (load, augment, crop, GenerateTarget), this process:",
                      "", "| geometry | ms | × 32x24 | CPU ms |", "|---|---:|---:|---:|"]
            lines += [f"| {d['geometry']} | {1e3 * d['median_s']:.0f} | {d['ratio_to_32x24']:.2f} | "
                      f"{1e3 * d['median_cpu_s']:.0f} |" for d in found["data"]]
    if result.get("retain_vs_default"):
        lines += ["", "retain / default, same case (two processes, one after the other: indicative only):", "",
                  "| geometry / head | loss | retain ms / default ms | × today's (32x24, default) |", "|---|---|---:|---:|"]
        lines += [f"| {r['name']} | {r['method']} | {r['ratio']:.2f} | {r['ratio_to_today']:.2f} |"
                  for r in result["retain_vs_default"]]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 4, 2 repeats, two heads")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions per case (default 7, quick 2)")
    parser.add_argument("--batch", type=int, default=None, help="crops per step (default: the profile's, 32)")
    parser.add_argument("--heads", nargs="+", default=None, choices=sorted(HEADS_64x48),
                        help=f"64x48 heads to compare (default: all; quick: {DEFAULT_HEAD_64x48} and deconv16_conv64)")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="benchmark folder (default: fowkal.data.default_benchmark(), i.e. $FOWKAL_DATA_ROOT)")
    parser.add_argument("--no-data", action="store_true", help="skip the data-pipeline timing")
    parser.add_argument("--malloc", choices=(*MALLOC_MODES, "both"), default="both",
                        help="glibc malloc as today (default), retaining freed memory (retain), or each in its "
                             "own process (both, the default)")
    parser.add_argument("--out", type=Path, default=REPO / "figures" / "bench_geometry.json", help="JSON output")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one mode, raw rows
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    if args.out.exists() and args.out.is_dir():
        parser.error(f"--out is a directory: {args.out}")
    if args.data_root is not None and not args.data_root.is_dir():
        parser.error(f"--data-root is not a folder: {args.data_root}")
    args.repeats = args.repeats or (2 if args.quick else 7)
    if args.quick and args.batch is None:
        args.batch = 4
    args.heads = args.heads or ([DEFAULT_HEAD_64x48, "deconv16_conv64"] if args.quick else list(HEADS_64x48))
    return args


def run_mode(args):
    """This process runs one malloc mode (``--child``): its rows, with the load average around them."""
    applied = False
    if args.malloc == "retain":
        from fowkal.runs.malloc import retain_freed_memory

        applied = retain_freed_memory()
        if not applied:
            raise SystemExit("--malloc retain: this platform's malloc has no mallopt (glibc only)")
    load_before = os.getloadavg()
    rows, data, heads = run(args)
    import resource

    return dict(malloc=args.malloc, malloc_applied=applied, load_average_before=list(load_before),
                load_average_after=list(os.getloadavg()), rows=rows, data=data, heads=heads,
                # every case's model lives in this process: an upper bound for one run's peak
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def child_argv(args, mode, out):
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--malloc", mode, "--out", str(out),
            "--repeats", str(args.repeats), "--heads", *args.heads]
    if args.batch is not None:
        argv += ["--batch", str(args.batch)]
    if args.data_root is not None:
        argv += ["--data-root", str(args.data_root)]
    if args.no_data:
        argv.append("--no-data")
    return argv


def compare_modes(modes):
    """Per case: retain / default, and retain / today's step (32x24, default malloc); two processes."""
    if set(MALLOC_MODES) - set(modes):
        return None
    default = {(r["name"], r["method"]): r for r in modes["default"]["rows"]}
    out = []
    for r in modes["retain"]["rows"]:
        out.append(dict(name=r["name"], method=r["method"], ratio=r["median_s"] / default[(r["name"], r["method"])]["median_s"],
                        ratio_to_today=r["median_s"] / default[(BASELINE, r["method"])]["median_s"]))
    return out


def main(argv=None):
    args = parse_args(argv)
    if args.child:  # one mode, in this process: raw rows for the parent
        if args.malloc == "both":
            raise SystemExit("--child runs one malloc mode")
        write_json(run_mode(args), args.out)
        return
    started, load_before = time.perf_counter(), os.getloadavg()
    modes = {}
    with tempfile.TemporaryDirectory(prefix="bench-geometry-") as scratch:
        for mode in (MALLOC_MODES if args.malloc == "both" else (args.malloc,)):
            out = Path(scratch, f"{mode}.json")
            done = subprocess.run(child_argv(args, mode, out), cwd=REPO)
            if done.returncode != 0:
                raise SystemExit(f"the {mode!r} malloc run failed (exit status {done.returncode})")
            modes[mode] = json.loads(out.read_text())
    heads = {name: cfg for found in modes.values() for name, cfg in found.pop("heads").items()}
    result = dict(
        schema=1, created=datetime.now(timezone.utc).isoformat(timespec="seconds"), commit=git_commit(),
        machine=machine_info(),
        settings=dict(repeats=args.repeats, warmup=1, quick=args.quick, limit=LIMIT, dtype="float32",
                      load_average_before=list(load_before), load_average_after=list(os.getloadavg()),
                      batch="real: the first training samples of the benchmark through the profile's pipeline "
                            "(augmentation seeded: the same crops at both geometries)",
                      timing="MMEngine train_step (data preprocessor, forward, loss, backward, Adam update); "
                             "repetitions interleaved across cases, order rotated; median; one process per "
                             "malloc mode", wall_s=None),
        heads=heads, modes=modes, retain_vs_default=compare_modes(modes))
    result["settings"]["wall_s"] = time.perf_counter() - started
    write_json(result, args.out)
    print(markdown(result))
    print(f"\nwrote {args.out} ({result['settings']['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
