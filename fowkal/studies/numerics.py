"""Does a change of the training code's numerics move AP? Paired seeds of the quick profile, old against new.

A change that alters the arithmetic of a training run (the compiled loss kernel sums in another order than
the eager fused pass) makes the same seed follow another trajectory. That is harmless only if AP stays
within what seeds alone move it by. :data:`PLAN` reruns MSE and FoWKAL at seeds 0-2 of the quick profile
with today's code (:func:`run_plan`: resumable, skips finished records, one run at a time), and
:func:`compare` pairs each with the committed record of the same method and seed (same initial weights,
same batches): per part, the per-seed differences new − committed, their mean with its 95 % Student-t
interval, and the committed records' seed-to-seed standard deviation σ. Run again with other arithmetic,
training follows another trajectory, so a rerun is at best another draw of the same seed's distribution:
its difference to the committed run then has standard deviation √2·σ. The change "keeps AP" on a part
when every per-seed difference lies within ±1.96·√2·σ, where 95 % of such draws land. (The interval of the
mean is no test at 3 seeds: its half-width is 4.3 standard errors.) MSE, whose loss path did not change,
is the control: it shows what another machine and commit alone do.
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from .stats import paired_interval
from .ablation import PARTS, aggregate, load_records, record_folder
from .convergence import CONVERGED_OVERRIDES
from .notebook import run_train_notebook

REPO = Path(__file__).resolve().parents[2]
#: A redraw of the same seed lands within ±REDRAW_Z·√2·σ of the committed run 95 % of the time.
REDRAW_Z = 1.96
PLAN = tuple((method, seed) for method in ("mse", "fowkal") for seed in (0, 1, 2))
#: Where the reruns' records are committed (beside the ablation's results/cpu).
FOLDER = "results/numerics"
#: A second check, of a later change of the compiled pass: WAHR's p^γ computed as 2^(γ·log2 p), which moves the
#: FWAHR and WAHR losses' values by rounding (MSE's path did not change: FoWKAL only). Its reruns are compared
#: with the committed records as the first check's are.
EXP2_PLAN = tuple(("fowkal", seed) for seed in (0, 1, 2))
EXP2_FOLDER = "results/numerics-exp2"
#: The committed quick-profile records trained with MMEngine's DefaultSampler (before SeededSampler): reruns
#: that pair with them draw their samples the same way (and must run uninterrupted, as they did).
COMMITTED_SAMPLER = {"train_dataloader.sampler.type": "DefaultSampler"}
#: A third check, of the compiled network (:class:`fowkal.mmpose.hooks.CompileModelHook`, which the converged
#: ablation trains with): MSE and FoWKAL at seeds 0-2, sampled as the committed records, compared with them. Its
#: FoWKAL reruns carry the second check's change of p^γ too (the loss as it is today).
COMPILED_PLAN = PLAN
COMPILED_FOLDER = "results/numerics-compiled"
COMPILED_OPTIONS = {**COMMITTED_SAMPLER, **CONVERGED_OVERRIDES}


def run_plan(*, out_dir=FOLDER, work_root="work_dirs/numerics", notebook="notebooks/train.ipynb", plan=PLAN,
             cfg_options: dict | None = None, log=print) -> int:
    """Train every (method, seed) of ``plan`` with the quick profile that has no record in ``out_dir`` yet
    (a killed run resumes from its checkpoint); returns how many ran. ``cfg_options``: dotted config keys
    for every run (e.g. :data:`COMMITTED_SAMPLER`)."""
    ran = 0
    extra = {"cfg_options": json.dumps(cfg_options)} if cfg_options else {}
    for method, seed in plan:
        folder = record_folder(out_dir, method, seed)
        work_dir = Path(work_root) / f"{method}-seed{seed}"
        ran += run_train_notebook(folder, work_dir, notebook=notebook, label=f"{method} seed {seed}",
                                  parameters=dict(method=method, seed=seed, profile="cpu", **extra), log=log)
    return ran


def run_exp2_plan(*, log=print, **kwargs) -> int:
    """The second check's reruns (:data:`EXP2_PLAN`, into :data:`EXP2_FOLDER`), sampled as the committed records."""
    kwargs.setdefault("out_dir", EXP2_FOLDER)
    kwargs.setdefault("work_root", "work_dirs/numerics-exp2")
    return run_plan(plan=EXP2_PLAN, cfg_options=COMMITTED_SAMPLER, log=log, **kwargs)


def run_compiled_plan(*, log=print, **kwargs) -> int:
    """The third check's reruns (:data:`COMPILED_PLAN`, into :data:`COMPILED_FOLDER`), the network compiled and
    the samples drawn as the committed records'."""
    kwargs.setdefault("out_dir", COMPILED_FOLDER)
    kwargs.setdefault("work_root", "work_dirs/numerics-compiled")
    return run_plan(plan=COMPILED_PLAN, cfg_options=COMPILED_OPTIONS, log=log, **kwargs)


def compare(new_records: list[dict], committed_records: list[dict], *, boxes: str = "gt_boxes") -> list[dict]:
    """Per method and part: the paired differences new − committed over their common seeds.

    Returns rows ``{method, part, seeds, differences, mean, low, high, seed_sd, bound, kept}``: ``seed_sd`` is
    the sample standard deviation σ of the committed records' AP over all their seeds, ``bound`` 1.96·√2·σ,
    ``kept`` whether every per-seed difference lies within ±``bound`` (None without 2 committed seeds).
    """
    new, old = aggregate(new_records, boxes=boxes), aggregate(committed_records, boxes=boxes)
    rows = []
    for method in sorted(new):
        if method not in old:
            raise ValueError(f"no committed records of {method!r} to compare with")
        for part in PARTS:
            a, b = new[method][part], old[method][part]
            seeds = sorted(set(a["seeds"]) & set(b["seeds"]))
            diffs = [a["values"][a["seeds"].index(s)] - b["values"][b["seeds"].index(s)] for s in seeds]
            sd = statistics.stdev(b["values"]) if len(b["values"]) >= 2 else None
            bound = None if sd is None else REDRAW_Z * math.sqrt(2.0) * sd
            row = dict(method=method, part=part, seeds=seeds, differences=diffs, seed_sd=sd, bound=bound,
                       mean=None, low=None, high=None,
                       kept=None if bound is None or not diffs else all(abs(d) <= bound for d in diffs))
            if len(diffs) >= 2:
                interval = paired_interval(diffs)
                row.update(mean=interval.mean, low=interval.low, high=interval.high)
            rows.append(row)
    return rows


def load(out_dir=None, committed_dir=None) -> list[dict]:
    """:func:`compare` of the records under ``out_dir`` (default: the repository's ``results/numerics``) against
    those under ``committed_dir`` (``results/cpu``); [] where no rerun is there yet."""
    out_dir = Path(out_dir) if out_dir is not None else REPO / FOLDER
    committed_dir = Path(committed_dir) if committed_dir is not None else REPO / "results" / "cpu"
    if not out_dir.is_dir():
        return []
    found = load_records(out_dir)
    return compare(found, load_records(committed_dir)) if found else []


def load_exp2() -> list[dict]:
    """:func:`load` of the second check's reruns (:data:`EXP2_FOLDER`) against the committed records."""
    return load(REPO / EXP2_FOLDER)


def load_compiled() -> list[dict]:
    """:func:`load` of the third check's reruns (:data:`COMPILED_FOLDER`) against the committed records."""
    return load(REPO / COMPILED_FOLDER)


def load_compiled_against_exp2() -> list[dict]:
    """:func:`compare` of the third check's FoWKAL reruns (compiled) with the second check's (eager, the same loss
    code): what compiling the network alone changed; σ is then the second check's spread over its 3 seeds."""
    compiled = [r for r in load_records(REPO / COMPILED_FOLDER) if r["method"] in {m for m, _ in EXP2_PLAN}]
    return compare(compiled, load_records(REPO / EXP2_FOLDER)) if compiled else []


def markdown(rows: list[dict]) -> str:
    """The comparison as a Markdown table (AP in %)."""
    lines = ["| method | part | seeds | new − committed, per seed | mean [95 % CI] | committed seed sd σ | "
             "±1.96·√2·σ | every seed within |", "|---|---|---|---|---|---:|---:|---|"]
    for r in rows:
        ci = "—" if r["mean"] is None else f"{r['mean']:+.1f} [{r['low']:+.1f}, {r['high']:+.1f}]"
        sd = "—" if r["seed_sd"] is None else f"{r['seed_sd']:.1f}"
        bound = "—" if r["bound"] is None else f"{r['bound']:.1f}"
        kept = {True: "yes", False: "no", None: "—"}[r["kept"]]
        diffs = ", ".join(f"{d:+.1f}" for d in r["differences"])
        lines.append(f"| {r['method']} | {r['part']} | {len(r['seeds'])} | {diffs} | {ci} | {sd} | {bound} | {kept} |")
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    """One sentence: how many method-part rows kept their AP, and which did not, with their differences."""
    judged = [r for r in rows if r["kept"] is not None]
    if not judged:
        return "No part can be judged yet (it needs reruns and at least 2 committed seeds)."
    moved = [r for r in judged if not r["kept"]]
    text = (f"{len(judged) - len(moved)} of {len(judged)} method-part rows kept their AP "
            f"(every seed within ±{REDRAW_Z}·√2·σ)")
    if not moved:
        return text + "."
    named = "; ".join(f"{r['method']} {r['part']} ({', '.join(f'{d:+.2f}' for d in r['differences'])} "
                      f"against ±{r['bound']:.2f})" for r in moved)
    return f"{text}; outside: {named}."


__all__ = ["PLAN", "FOLDER", "EXP2_PLAN", "EXP2_FOLDER", "COMMITTED_SAMPLER", "COMPILED_PLAN", "COMPILED_FOLDER",
           "COMPILED_OPTIONS", "run_plan", "run_exp2_plan", "run_compiled_plan", "compare", "load", "load_exp2",
           "load_compiled", "load_compiled_against_exp2", "markdown", "summary"]
