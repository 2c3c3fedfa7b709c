"""Does this code train the same numbers as a pinned commit? Losses and accuracy, iteration by iteration.

    .venv/bin/python benchmarks/same_numbers.py                             # FoWKAL, seed 0, 3 epochs x 12 its
    .venv/bin/python benchmarks/same_numbers.py --baseline HEAD --tiny      # smoke run: small benchmark, 1 x 2

A speed-up that claims to keep the arithmetic must keep what a run trains: the same seed, machine and
data give the same losses at every iteration. This trains each epoch of the CPU profile cut to ``--iters``
iterations (``fowkal train --max-iters``) twice, one after the other on the same machine: once with this
tree's ``fowkal``, once with the baseline commit's (extracted by ``bench_step.py``'s ``git archive`` helper),
each logging every iteration. It then compares MMEngine's logged scalars (``loss``, ``loss_kpt``,
``acc_pose`` and the rest) of every iteration, for exact equality, and writes ``figures/same_numbers.json``
(the iterations compared, the first difference if any, commits, machine). Exit status 0: every logged
number equal; 1: some differ (the JSON says where).

The runs use the profile's own data loading (its worker processes and seeds), as the real runs do; no
deterministic-algorithms switch, since the claim is about the runs that make the records.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KIND = "fowkal-same-numbers"
#: The default baseline: the commit that trains the converged ablation (``results/convergence/ablation``), whose
#: records every later run of it is paired with.
BASELINE = "80049cc"
#: What is compared: every scalar MMEngine logs per training iteration except the timings and the LR
#: (times differ by nature; the LR is the schedule's, not the arithmetic's).
SKIPPED_KEYS = {"time", "data_time", "eta", "epoch", "iter", "step", "memory", "lr", "base_lr"}


def train_command(work_dir: Path, args) -> list[str]:
    command = [sys.executable, "-m", "fowkal", "train", "--method", args.method, "--seed", str(args.seed),
               "--work-dir", str(work_dir), "--max-iters", str(args.iters), "--quiet",
               "--cfg-options", "default_hooks.logger.interval=1"]
    if args.data_root:
        command[4:4] = ["--data-root", str(args.data_root)]
    if args.tiny:  # one epoch of --iters iterations
        command[4:4] = ["--epochs", "1"]
    return command


def logged_iterations(work_dir: Path) -> list[dict]:
    """MMEngine's per-iteration training scalars (``vis_data/scalars.json``), timings left out."""
    found = sorted(work_dir.glob("*/vis_data/scalars.json"))
    if not found:
        raise FileNotFoundError(f"no MMEngine scalars under {work_dir}: the run did not log")
    rows = [json.loads(line) for line in found[-1].read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k not in SKIPPED_KEYS} | {"step": r.get("step")}
            for r in rows if "loss" in r]


def compare(current: list[dict], baseline: list[dict]) -> dict:
    """Exact comparison of two runs' logged iterations: counts, the keys compared, the first difference."""
    first = None
    if len(current) != len(baseline):
        first = dict(step=None, key="iterations", current=len(current), baseline=len(baseline))
    for a, b in zip(current, baseline):
        if first is not None:
            break
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                first = dict(step=a.get("step"), key=key, current=a.get(key), baseline=b.get(key))
                break
    keys = sorted(set().union(*current, *baseline) - {"step"}) if current or baseline else []
    return dict(iterations=min(len(current), len(baseline)), keys=keys, equal=first is None and bool(current),
                first_difference=first)


def run(args) -> dict:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_losses import git_commit, machine_info
    from bench_step import _baseline_tree

    with tempfile.TemporaryDirectory(prefix="same-numbers-") as scratch:
        scratch = Path(scratch)
        data_root = args.data_root
        if data_root is None:  # one dataset for both trees, made by this one (the baseline's would make its own)
            sys.path.insert(0, str(REPO))
            from fowkal.data import default_benchmark, make_benchmark

            data_root = (make_benchmark(scratch / "bench", seed=0, workers=1, train_images=64, val_images=2)
                         if args.tiny else default_benchmark())
        args.data_root = data_root
        trees = {"current": REPO, "baseline": _baseline_tree(args.baseline, scratch / "baseline")}
        logged = {}
        for label, tree in trees.items():
            work_dir = scratch / f"work-{label}"
            print(f"[same_numbers] training {args.iters} iterations of {args.method} with the {label} code",
                  file=sys.stderr, flush=True)
            env = dict(os.environ, PYTHONPATH=str(tree))
            done = subprocess.run(train_command(work_dir, args), cwd=tree, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"the {label} run failed (exit status {done.returncode}):\n{done.stderr[-3000:]}")
            logged[label] = logged_iterations(work_dir)
    commit = subprocess.run(["git", "rev-parse", args.baseline], cwd=REPO, capture_output=True, text=True).stdout
    return dict(kind=KIND, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                settings=dict(method=args.method, seed=args.seed, iters=args.iters, tiny=args.tiny,
                              baseline=args.baseline, baseline_commit=commit.strip() or None,
                              benchmark="tiny" if args.tiny else "the embedded benchmark"),
                comparison=compare(logged["current"], logged["baseline"]), machine=machine_info(),
                commit=git_commit())


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare with (default "
                        f"{BASELINE}, the one that trains the converged ablation's records)")
    parser.add_argument("--method", default="fowkal", help="the loss (default fowkal)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iters", type=int, default=12, help="training iterations (default 12)")
    parser.add_argument("--tiny", action="store_true", help="a small generated benchmark, 2 iterations (CI)")
    parser.add_argument("--data-root", type=Path, help="dataset folder (default: the embedded benchmark)")
    parser.add_argument("--out", type=Path, default=REPO / "figures" / "same_numbers.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from fowkal.losses import METHODS

    if args.method not in METHODS:
        parser.error(f"unknown method {args.method!r}; choose from {', '.join(METHODS)}")
    if args.tiny:
        args.iters = min(args.iters, 2)
    if args.iters < 1:
        parser.error("--iters must be >= 1")
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{args.baseline}^{{commit}}"], cwd=REPO,
                      capture_output=True).returncode != 0:
        parser.error(f"--baseline {args.baseline!r} is not a commit of this repository")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = run(args)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_losses import write_json

    write_json(result, args.out)
    found = result["comparison"]
    verdict = "every logged number equal" if found["equal"] else f"they differ: {found['first_difference']}"
    print(f"[same_numbers] {found['iterations']} iterations of {args.method}, keys {', '.join(found['keys'])}: "
          f"{verdict}")
    return 0 if found["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
