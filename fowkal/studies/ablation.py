"""Aggregate run records into the paper's Tables 2 and 3 and judge the paper's claims.

Pure functions over run records (JSON dicts written by :mod:`fowkal.runs.record`); no training here.
Our numbers are AP in % (0-100) on whatever dataset the records were evaluated on; the paper's
numbers come from :mod:`fowkal.studies.paper` and are always labelled as the paper's.

The verdict rule is data (:data:`RULE`, stated in words by :func:`rule_text`): seeds pair runs, so each
claim "A beats B on part P" is judged on the per-seed differences AP(A) − AP(B) of the seeds both
methods ran (:mod:`fowkal.studies.stats`: two-sided paired t-tests, Holm over all claims judged together).
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from types import MappingProxyType

from ..jsonfile import write_json_atomic
from .stats import holm, holm_levels, paired_interval, sign_flip_p, smallest_sign_flip_p
from . import paper
from .notebook import COPIED_FILES, run_train_notebook  # noqa: F401 (the ablation's runner)

PARTS = ("wholebody", "body", "foot", "face", "hand")
REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE)

#: The verdict rule. Each claim "A beats B on part P" is a two-sided question: the paired t-test of the
#: per-seed differences AP(A) − AP(B) gives a two-sided p-value, and the p-values of all claims judged
#: together are adjusted by Holm's procedure, one family-wise error rate ``alpha`` for both directions. A
#: claim is *reproduced* when its adjusted p is below ``alpha`` and the mean difference has the paper's
#: sign, *contradicted* when it is below ``alpha`` with the opposite sign, else *inconclusive*. Its interval
#: is taken at the level Holm tested it at (:func:`fowkal.studies.stats.holm_levels`): it excludes 0
#: exactly when the claim is decided, and the paper's Δ is checked against it. Beside the t-test's p, the
#: exact sign-flip p (no normality assumed). Claims with fewer than ``min_seeds`` common seeds are not
#: tested (inconclusive) and do not count in Holm's family.
RULE = MappingProxyType({"alpha": 0.05, "min_seeds": 2, "correction": "holm",
                         "test": "paired Student t on per-seed differences, two-sided",
                         "interval": "Student t at the level of Holm's step"})


#: Questions the paper does not ask, answered with the three controls (KAL with λ fixed at 0 and at 1, FoWKAL
#: with λ fixed at 0; no KAF head): does part normalisation alone (Eq. 8's sum of four part means) move MSE,
#: does KAL's learned factor beat either fixed end, does FWAHR help without a learned factor, and does
#: FoWKAL's factor add to FWAHR? ``(name, better, worse, part, None)``, judged as one Holm family by
#: :func:`claims` (``claim_list=CONTROL_CLAIMS``; no paper Δ).
CONTROL_QUESTIONS = (("part-normalised MSE > MSE", "kal_lambda0", "mse"),
                     ("KAL > part-normalised MSE", "kal", "kal_lambda0"),
                     ("KAL > part-normalised AWing", "kal", "kal_lambda1"),
                     ("FWAHR helps part-normalised MSE", "fowkal_lambda0", "kal_lambda0"),
                     ("FoWKAL > FoWKAL with λ fixed at 0", "fowkal", "fowkal_lambda0"))
CONTROL_CLAIMS = tuple((f"{name} ({part})", better, worse, part, None)
                       for name, better, worse in CONTROL_QUESTIONS for part in PARTS)


def rule_text(rule=RULE) -> str:
    """The verdict rule in words (Markdown), from :data:`RULE`."""
    alpha = rule["alpha"]
    return (f"For a claim \"A beats B on part P\", take the seeds both methods ran (at least "
            f"{rule['min_seeds']}) and their per-seed differences d = AP(A) − AP(B): the same seed means the "
            f"same initial weights and the same batches, so the differences are paired. Their mean is our Δ. "
            f"The paired t-test (n − 1 degrees of freedom) asks the two-sided question \"does A differ from "
            f"B?\"; the p-values of all claims judged together are adjusted by Holm's step-down procedure, so "
            f"the chance of any wrong decision in the family, in either direction, is at most {alpha:g}. "
            f"**Reproduced**: adjusted p < {alpha:g} and Δ has the paper's sign. **Contradicted**: adjusted "
            f"p < {alpha:g} and Δ has the other sign. **Inconclusive**: neither (or fewer than "
            f"{rule['min_seeds']} common seeds). Each interval is the Student-t interval at the level Holm "
            f"tested its claim at (between {100 * (1 - alpha):.0f} % and 1 − {alpha:g}/m for m claims): it "
            f"excludes 0 exactly when the claim is decided, and it is the interval the paper's Δ is checked "
            f"against. The t-test assumes the differences are roughly normal; the exact sign-flip p beside it "
            f"assumes only that, without an effect, a difference is as likely positive as negative. With n "
            f"seeds it cannot go below 2/2ⁿ (0.0625 at n = 5, 0.25 at n = 3), so at five seeds or fewer every "
            f"decided claim rests on the normality of the differences.")


def load_records(folder) -> list[dict]:
    """All run records (``*.json`` with a ``method`` and ``metrics``) under ``folder``, sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"run-record folder {folder} does not exist")
    records = []
    for path in sorted(folder.rglob("run_record.json")) + sorted(folder.glob("*.record.json")):
        record = json.loads(path.read_text())
        record.setdefault("_path", str(path))
        records.append(record)
    return records


def record_ap(record: dict, part: str, *, boxes: str = "gt_boxes", stat: str = "AP") -> float:
    """AP (in %) of one record for one part; ``boxes`` "gt_boxes" or "detections" selects the evaluation."""
    metrics = record["metrics"]
    metrics = metrics.get(boxes, metrics) if isinstance(metrics, dict) and boxes in metrics else metrics
    if part not in metrics:
        raise KeyError(f"run record {record.get('_path', '?')} has no {part!r} metrics (has {sorted(metrics)})")
    return 100.0 * float(metrics[part][stat])


def aggregate(records: list[dict], *, boxes: str = "gt_boxes", stat: str = "AP") -> dict:
    """method -> part -> dict(mean, std, n, values, seeds) over the records' seeds."""
    table: dict = {}
    for record in records:
        method = record["method"]
        for part in PARTS:
            cell = table.setdefault(method, {}).setdefault(part, {"values": [], "seeds": []})
            cell["values"].append(record_ap(record, part, boxes=boxes, stat=stat))
            cell["seeds"].append(record.get("seed"))
    for method, parts in table.items():
        for part, cell in parts.items():
            seeds = cell["seeds"]
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"method {method!r} has duplicate seeds {seeds}: one record per (method, seed)")
            values = cell["values"]
            cell["n"] = len(values)
            cell["mean"] = statistics.fmean(values)
            cell["std"] = statistics.stdev(values) if len(values) > 1 else float("nan")
    return table


def paired_difference(table: dict, better: str, worse: str, part: str, rule=RULE) -> dict:
    """The per-seed differences ``better − worse`` on ``part`` over the common seeds: their mean, the paired
    t-test's two-sided p and the exact sign-flip p (None where fewer than ``min_seeds``); the interval is
    set by :func:`claims` (its level depends on the family)."""
    nan = float("nan")
    empty = dict(d=nan, low=nan, high=nan, level=None, n=0, seeds=[], differences=[], p=None, p_sign_flip=None)
    if better not in table or worse not in table:
        return dict(empty, reason="missing runs")
    a, b = table[better][part], table[worse][part]
    by_seed = dict(zip(b["seeds"], b["values"]))
    seeds = [s for s in a["seeds"] if s in by_seed]
    diffs = [va - by_seed[s] for s, va in zip(a["seeds"], a["values"]) if s in by_seed]
    if len(diffs) < rule["min_seeds"]:
        mean = sum(diffs) / len(diffs) if diffs else nan
        return dict(empty, d=mean, n=len(diffs), seeds=seeds, differences=diffs,
                    reason=f"fewer than {rule['min_seeds']} common seeds")
    interval = paired_interval(diffs)
    return dict(empty, d=interval.mean, n=interval.n, seeds=seeds, differences=diffs, p=interval.p_value(),
                p_sign_flip=sign_flip_p(diffs), reason="")


def claims(table: dict, rule=RULE, claim_list=None) -> list[dict]:
    """Every claim of ``claim_list`` (default :data:`fowkal.studies.paper.CLAIMS`; each ``(name, better,
    worse, part, paper_delta)``, ``paper_delta`` None for a claim the paper does not make), judged by
    :data:`RULE` as one Holm family: the paper's Δ, our paired Δ, the two-sided p (``p``) and its Holm
    adjustment (``p_holm``), the exact sign-flip p (``p_sign_flip``, unadjusted) and the smallest it could be
    (``p_sign_flip_floor``), the interval at the level of Holm's step (``low``, ``high``, ``level``), the
    verdict ("reproduced": ``better`` beats ``worse``) and whether the paper's Δ lies inside the interval."""
    rows = [dict(claim=name, better=better, worse=worse, part=part, paper_delta=paper_delta,
                 **paired_difference(table, better, worse, part, rule))
            for name, better, worse, part, paper_delta in (paper.CLAIMS if claim_list is None else claim_list)]
    tested = [row for row in rows if row["p"] is not None]
    p_values = [row["p"] for row in tested]
    for row, adjusted, level in zip(tested, holm(p_values), holm_levels(p_values, rule["alpha"])):
        interval = paired_interval(row["differences"], level=level)
        row.update(p_holm=adjusted, level=level, low=interval.low, high=interval.high,
                   p_sign_flip_floor=smallest_sign_flip_p(row["n"]))
    for row in rows:
        if row["p"] is None:
            row.update(p_holm=None, p_sign_flip_floor=None, verdict=INCONCLUSIVE, paper_inside=None)
            continue
        decided = row["p_holm"] < rule["alpha"]
        row["verdict"] = (INCONCLUSIVE if not decided else REPRODUCED if row["d"] > 0 else CONTRADICTED)
        row["paper_inside"] = (None if row["paper_delta"] is None else
                               row["low"] <= row["paper_delta"] <= row["high"])
    return rows


def interval_text(row: dict) -> str:
    """Our Δ and its interval, e.g. ``+1.3 [−0.9, +3.5]`` (``—`` without runs)."""
    if math.isnan(row["d"]):
        return "—"
    if math.isnan(row["low"]):
        return f"{row['d']:+.1f} (n={row['n']})"
    return f"{row['d']:+.1f} [{row['low']:+.1f}, {row['high']:+.1f}]"


def _cell(table, method, part) -> str:
    cell = table.get(method, {}).get(part)
    if cell is None:
        return "—"
    if cell["n"] < 2:
        return f"{cell['mean']:.1f} (n=1)"
    return f"{cell['mean']:.1f} ± {cell['std']:.1f}"


def table2_markdown(table: dict) -> str:
    """Table 2: the paper's AP beside ours (mean ± sample std over seeds)."""
    head = "| row | method | " + " | ".join(f"{p} (paper) | {p} (ours)" for p in PARTS) + " | seeds |"
    sep = "|" + "---|" * (3 + 2 * len(PARTS))
    lines = [head, sep]
    for method, label in paper.TABLE2_ROWS.items():
        ours = [_cell(table, method, p) for p in PARTS]
        theirs = [f"{paper.TABLE2[method][p]:.1f}" for p in PARTS]
        n = table.get(method, {}).get("wholebody", {}).get("n", 0)
        cells = [x for pair in zip(theirs, ours) for x in pair]
        lines.append(f"| {label.split(' ')[0]} | {' '.join(label.split(' ')[1:])} | " + " | ".join(cells) + f" | {n} |")
    return "\n".join(lines)


def table3_markdown(table: dict) -> str:
    """Table 3: whole-body AP, WAHR vs FWAHR, paper beside ours."""
    lines = ["| method | whole-body AP (paper) | whole-body AP (ours) | seeds |", "|---|---|---|---|"]
    for method, label in paper.TABLE3_ROWS.items():
        n = table.get(method, {}).get("wholebody", {}).get("n", 0)
        lines.append(f"| {label} | {paper.TABLE3[method]:.1f} | {_cell(table, method, 'wholebody')} | {n} |")
    return "\n".join(lines)


def claims_markdown(table: dict, *, rows: list[dict] | None = None, keep_together=lambda text: text) -> str:
    """The claims table: paper's Δ, ours with its interval (at the level of Holm's step), seeds, the t-test's p
    adjusted by Holm, the exact sign-flip p (unadjusted), verdict, and whether the paper's Δ lies inside (a miss
    in bold). ``rows``: :func:`claims` of ``table`` when given already; ``keep_together``: applied to the cells
    that must not wrap (the book's non-breaking spaces)."""
    lines = ["| claim | paper Δ | our Δ [interval] | level | seeds | p, t-test (Holm) | p, sign-flip (exact) | "
             "verdict | paper Δ inside |", "|:---|---:|---:|---:|---:|---:|---:|:---|:---|"]
    for row in claims(table) if rows is None else rows:
        p = "—" if row["p_holm"] is None else f"{row['p_holm']:.3f}"
        flip = "—" if row["p_sign_flip"] is None else f"{row['p_sign_flip']:.3f}"
        level = "—" if row["level"] is None else f"{100 * row['level']:.1f} %"
        inside = "—" if row["paper_inside"] is None else ("yes" if row["paper_inside"] else "**no**")
        paper_delta = "—" if row["paper_delta"] is None else f"{row['paper_delta']:+.1f}"
        lines.append(f"| {row['claim']} | {paper_delta} | {keep_together(interval_text(row))} | "
                     f"{keep_together(level)} | {row['n']} | {p} | {flip} | {keep_together(row['verdict'])} | "
                     f"{inside} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- running the ablation

def record_folder(out_dir, method: str, seed: int) -> Path:
    """Where the committed record of one (method, seed) run lives."""
    return Path(out_dir) / method / f"seed{seed}"


def notebook_plan(*, profile: str = "cpu", methods: str = "all", seeds: str = "0,1,2,3,4", records_dir: str = "",
                  epochs: int = 0, max_iters: int = 0, **unused) -> dict:
    """The ablation notebook's parameters checked, before any work (its dry run): ``out_dir``, ``methods``,
    ``seeds`` and ``missing`` (the (method, seed) runs without a record there, what ``run_missing`` would train).
    Errors name the parameter."""
    from ..configs import PROFILES
    from ..losses import METHODS
    from ..runs.options import parse_seeds

    if profile not in PROFILES:
        raise ValueError(f"parameter 'profile' is {profile!r}; valid: {', '.join(PROFILES)}")
    method_list = list(METHODS) if methods.strip() == "all" else [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in method_list if m not in METHODS]
    if bad or not method_list:
        raise ValueError(f"parameter 'methods' names unknown method(s) {bad}; valid: {', '.join(METHODS)}")
    seed_list = parse_seeds(seeds)
    if epochs < 0 or max_iters < 0:
        raise ValueError("parameters 'epochs' and 'max_iters' must be >= 0")
    out_dir = Path(records_dir) if records_dir else Path(__file__).resolve().parents[2] / "results" / profile
    missing = [(m, s) for s in seed_list for m in method_list
               if not (record_folder(out_dir, m, s) / "run_record.json").is_file()]
    return dict(out_dir=out_dir, methods=method_list, seeds=seed_list, missing=missing)


def run_ablation(*, methods, seeds, profile: str = "cpu", out_dir, work_root, notebook, epochs: int = 0,
                 max_iters: int = 0, data_root: str = "", log=print) -> list[Path]:
    """Run ``notebook`` (the train notebook) through papermill for every (method, seed).

    A run whose record already exists in ``out_dir`` is skipped, so an interrupted ablation resumes;
    a run whose work dir holds checkpoints but no record (killed) continues with ``resume=True``.
    Each run's executed notebook is kept beside its work dir (``<work_dir>.train.ipynb``) as its log.
    Returns the record folders.
    """
    from ..losses import METHODS

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; valid methods: {', '.join(METHODS)}")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    folders = []
    for seed in seeds:  # seed-major: a partial ablation has every method at the first seeds
        for method in methods:
            folder = record_folder(out_dir, method, seed)
            folders.append(folder)
            run_train_notebook(folder, Path(work_root) / profile / method / f"seed{seed}", notebook=notebook,
                               label=f"{method} seed {seed}", log=log,
                               parameters=dict(method=method, profile=profile, seed=seed, epochs=epochs,
                                               max_iters=max_iters, data_root=data_root))
    return folders


def write_tables(table: dict, out_dir) -> Path:
    """Write Tables 2/3 and the claim verdicts (markdown and JSON) next to the records."""
    out = Path(out_dir)
    text = "\n\n".join(["## Table 2", table2_markdown(table), "## Table 3", table3_markdown(table),
                        "## Claims", claims_markdown(table)])
    (out / "tables.md").write_text(text + "\n")
    # what JSON cannot hold (a missing cell's object, an undefined NaN statistic) is written as null
    data = json.loads(json.dumps({"table": table, "claims": claims(table)}, default=lambda x: None),
                      parse_constant=lambda name: None)
    write_json_atomic(data, out / "tables.json")
    return out / "tables.md"
