"""The reproduction at convergence: where the cpu profile's learning curves flatten, and the ablation
trained that long.

The ablation's quick profile stops after 3 epochs, far from trained models. :data:`PLATEAU_RUNS` trains
MSE, FoWKAL, KAL, heuristic + FWAHR, the λ = 0 control and the KAF study's best variant (seed 0) for
:data:`PLATEAU_EPOCHS` epochs, the learning-rate steps at the paper's 81 % and 95 % of the schedule,
validating every :data:`PLATEAU_VAL_INTERVAL` epochs (:mod:`fowkal.runs.curve`); :func:`plateau` reads one
record's curve. None was flat over its last third, so :func:`run_length_check` trained the run still
climbing most 1.5x as long (:func:`length_check`); body, foot and face AP still rose by 1.2-2.5 points,
so the cpu profile's ``converged`` schedule (:data:`fowkal.configs.arguments.SCHEDULES`) is that longer one.
:func:`run_converged` trains :data:`CONVERGED_RUNS` (every method and the best variant) at :data:`CONVERGED_SEEDS` in the order
:func:`training_order` gives (the plateau runs at two seeds first, so the seed-to-seed spread of their claims is known early), into one
folder, :data:`FOLDER`, every sample seeded from (seed, epoch, position), so a run resumed anywhere trains
what it would have trained uninterrupted and the methods of one seed see the same samples. A run that has a
record is skipped and a killed one resumes from its checkpoint.
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from ..configs.arguments import SCHEDULES
from ..losses import METHODS
from .ablation import record_folder
from .kaf_study import BEST_VARIANT, KAF_VARIANTS, variant_method
from .notebook import run_train_notebook
from .records import run_records

REPO = Path(__file__).resolve().parents[2]
#: Where the converged ablation's records are committed, under results/ (``<name>/seed<N>/``).
ABLATION_FOLDER = "convergence/ablation"
#: The same folder from the repository root.
FOLDER = f"results/{ABLATION_FOLDER}"
#: The plateau search's records, under results/: the long runs the converged schedule was chosen from, trained
#: with MMEngine's DefaultSampler (augmentations from each loader worker's stream) before training seeded
#: every sample (:class:`fowkal.mmpose.data.SeededSampler`). The ablation trains its own seed 0.
PLATEAU_ABLATION_FOLDER = "convergence/plateau"
PLATEAU_FOLDER = f"results/{PLATEAU_ABLATION_FOLDER}"
#: The plateau search's schedule (epochs, validate every): the steps after epochs 32 and 38.
PLATEAU_EPOCHS, PLATEAU_VAL_INTERVAL = 40, 4
PLATEAU_SEED = 0
#: A curve is flat when its whole-body AP moved less than this (AP points) over the last third of the run.
FLAT_AP = 1.0
#: (name, method, config overrides) of the long runs, in the order they are trained; the last is FoWKAL with
#: the KAF study's best variant, named as the ablation's table names it (``fowkal_normalised``).
PLATEAU_RUNS = (("mse", "mse", {}), ("fowkal", "fowkal", {}), ("kal", "kal", {}),
                ("heuristic_fwahr", "heuristic_fwahr", {}), ("kal_lambda0", "kal_lambda0", {}),
                (variant_method(BEST_VARIANT), "fowkal", KAF_VARIANTS[BEST_VARIANT]))
#: The converged ablation: the plateau runs first, then every other method of the ablation (Tables 2-3 and the
#: three controls).
CONVERGED_RUNS = PLATEAU_RUNS + tuple((m, m, {}) for m in METHODS if m not in {r[0] for r in PLATEAU_RUNS})
#: Config overrides every run of the converged ablation trains with: the backbone and the heatmap head compiled
#: (:class:`fowkal.mmpose.hooks.CompileModelHook`), which made the cpu profile's step ~0.8x as long for MSE and
#: ~0.86x for FoWKAL (``benchmarks/bench_step.py --candidates``). It is other arithmetic than the eager network,
#: so every run of the ablation uses it; the records keep it among their config overrides.
CONVERGED_OVERRIDES = {"custom_hooks": [{"type": "CompileModelHook"}]}
#: The converged schedule's first MSE run, seed 0, trained eager before the ablation compiled its network, under
#: results/: beside the compiled run of the same seed and samples it shows what compiling changed.
EAGER_ABLATION_FOLDER = "convergence/eager"
EAGER_FOLDER = f"results/{EAGER_ABLATION_FOLDER}"
#: Its seeds (:func:`training_order` says in which order they are trained).
CONVERGED_SEEDS = (0, 1, 2)
#: How many seeds the plateau runs get before the other methods' runs start.
EARLY_SEEDS = 2
#: The length check: the plateau run whose full-rate phase still climbed most, trained again from the same seed
#: 1.5x as long, at the converged schedule, into :data:`LONG_FOLDER`. Its final AP moved by :data:`FLAT_AP` or
#: more on body, foot and face, so the converged schedule is the longer one. The committed pair both drew from
#: the workers' streams (``DefaultSampler``); a run made now seeds its samples and pairs with no plateau run.
LENGTH_CHECK_RUNS = (("heuristic_fwahr", "heuristic_fwahr", {}),)
LONG_ABLATION_FOLDER = "convergence/long"
LONG_FOLDER = f"results/{LONG_ABLATION_FOLDER}"


def training_order(runs=CONVERGED_RUNS, seeds=CONVERGED_SEEDS, *, early=PLATEAU_RUNS,
                   early_seeds: int = EARLY_SEEDS) -> list[tuple[tuple, int]]:
    """The ``(run, seed)`` pairs of ``runs`` x ``seeds`` in training order: the runs of ``early`` (the plateau
    runs) at the first ``early_seeds`` seeds, then the other runs at those seeds, then every run at the
    remaining seeds; seed by seed within each group.

    The plateau runs carry the claims the book leads with (FoWKAL against MSE, KAL against its λ = 0 control,
    the best variant against the controls). Trained at two seeds first, their paired differences give a
    seed-to-seed spread after 12 runs instead of 24, so the number of seeds is chosen from it before most
    of the ablation has trained."""
    first, rest = list(seeds[:early_seeds]), list(seeds[early_seeds:])
    early_runs = [r for r in runs if r in early]
    later_runs = [r for r in runs if r not in early]
    return ([(r, s) for s in first for r in early_runs] + [(r, s) for s in first for r in later_runs]
            + [(r, s) for s in rest for r in runs])


def run_converged(*, runs=CONVERGED_RUNS, seeds=CONVERGED_SEEDS, out_dir=FOLDER,
                  work_root="work_dirs/convergence/ablation", notebook="notebooks/train.ipynb", data_root: str = "",
                  epochs: int | None = None, val_interval: int | None = None, compiled: bool = True,
                  log=print) -> int:
    """Train every (run, seed) of ``runs`` x ``seeds`` that has no record in ``out_dir`` yet, one at a time, in
    :func:`training_order`, at the cpu profile's ``converged`` schedule (or ``epochs`` validated every
    ``val_interval``, both given), with :data:`CONVERGED_OVERRIDES` where ``compiled`` (the eager network
    otherwise); returns how many ran."""
    import json

    if (epochs is None) != (val_interval is None):
        raise ValueError(f"give both epochs and val_interval or neither, got epochs={epochs!r}, "
                         f"val_interval={val_interval!r}")
    schedule = dict(schedule="converged") if epochs is None else dict(epochs=int(epochs), val_interval=int(val_interval))
    epochs = SCHEDULES["converged"][0] if epochs is None else int(epochs)
    ran = 0
    for (name, method, overrides), seed in training_order(runs, seeds):
        overrides = {**CONVERGED_OVERRIDES, **overrides} if compiled else overrides
        parameters = dict(method=method, seed=seed, profile="cpu", data_root=data_root,
                          cfg_options=json.dumps(overrides) if overrides else "", **schedule)
        ran += run_train_notebook(record_folder(out_dir, name, seed), Path(work_root) / f"{name}-e{epochs}-seed{seed}",
                                  notebook=notebook, label=f"{name} seed {seed}, {epochs} epochs", log=log,
                                  parameters=parameters)
    return ran


def run_plateau(*, log=print, **kwargs) -> int:
    """The plateau search: :data:`PLATEAU_RUNS` at seed :data:`PLATEAU_SEED`, :data:`PLATEAU_EPOCHS` epochs,
    into :data:`PLATEAU_FOLDER` (:func:`run_converged`)."""
    kwargs = dict(dict(out_dir=PLATEAU_FOLDER, work_root="work_dirs/convergence/plateau"), **kwargs)
    return run_converged(runs=PLATEAU_RUNS, seeds=(PLATEAU_SEED,), epochs=PLATEAU_EPOCHS,
                         val_interval=PLATEAU_VAL_INTERVAL, compiled=False, log=log, **kwargs)


def run_length_check(*, log=print, **kwargs) -> int:
    """The length check: :data:`LENGTH_CHECK_RUNS` at seed :data:`PLATEAU_SEED` and the converged schedule, into
    :data:`LONG_FOLDER` (:func:`run_converged`)."""
    kwargs = dict(dict(out_dir=LONG_FOLDER, work_root="work_dirs/convergence/long"), **kwargs)
    return run_converged(runs=LENGTH_CHECK_RUNS, seeds=(PLATEAU_SEED,), compiled=False, log=log, **kwargs)


def length_check(short: list[dict], long: list[dict]) -> list[dict]:
    """Each (name, seed) with a record in ``short`` and one trained longer in ``long``: its final AP per part at
    each (points, ``short``/``long``), the longer minus the shorter, and whether every part moved less than
    :data:`FLAT_AP`. Records are named by folder (:func:`load_plateau_records`, :func:`load_long_records`);
    those with no twin are left out."""
    rows = []
    shorter = {(r["method"], r["seed"]): r for r in short}
    for r in sorted(long, key=lambda r: (r["method"], r["seed"])):
        other = shorter.get((r["method"], r["seed"]))
        if other is None:
            continue
        if not (r.get("curve") and other.get("curve")):
            raise ValueError(f"run records of {r['method']!r} seed {r['seed']} lack a learning curve")
        epochs = (int(other["schedule"]["epochs"]), int(r["schedule"]["epochs"]))
        if epochs[1] <= epochs[0]:
            raise ValueError(f"{r['method']!r} seed {r['seed']}: the long record trained {epochs[1]} epochs, "
                             f"the short one {epochs[0]}")
        finals = [{part: 100.0 * float(ap) for part, ap in rec["curve"][-1]["AP"].items()} for rec in (other, r)]
        change = {part: finals[1][part] - finals[0][part] for part in finals[0]}
        rows.append(dict(name=r["method"], seed=r["seed"], epochs=epochs, short=finals[0], long=finals[1],
                         change=change, flat=all(abs(v) < FLAT_AP for v in change.values())))
    return rows


def load_long_records(results_dir=None) -> list[dict]:
    """The length check's records (:data:`LONG_FOLDER`), named by folder; [] where none is there yet."""
    return _named_records(_results_root(results_dir) / LONG_ABLATION_FOLDER)


def length_markdown(rows: list[dict]) -> str:
    """One row per (run, part) of :func:`length_check`: final AP at both lengths and the change."""
    lines = ["| run | part | final AP | final AP, trained longer | change | < {:g} AP |".format(FLAT_AP),
             "|---|---|---:|---:|---:|---|"]
    for row in rows:
        short, long = row["epochs"]
        for part, change in row["change"].items():
            lines.append(f"| {row['name']} (seed {row['seed']}) | {part} | {row['short'][part]:.1f} ({short} ep.) "
                         f"| {row['long'][part]:.1f} ({long} ep.) | {change:+.1f} | "
                         f"{'yes' if abs(change) < FLAT_AP else 'no'} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Plateau:
    """One record's learning curve at a glance (AP in points).

    ``epochs``/``ap``: the curve's epochs and the part's AP there; ``last_third_change``: AP at the end
    minus AP at the first point at or after two thirds of the schedule; ``flat``: that change's size is
    below :data:`FLAT_AP`; ``best_epoch``: where the curve peaked.

    A step schedule makes the curve a staircase, so the last third (which holds both learning-rate steps)
    mixes two things: whether the full-rate phase had levelled off, and what the steps add. They are
    read apart: ``step_epoch``, the first step (:func:`fowkal.configs.builder.lr_steps`);
    ``before_step_change``, AP at the last point at or before it minus AP at the first point of that
    phase's last third; ``step_gain``, AP at the end minus AP before the step; ``final_change``, the last
    interval's change (None when the curve has no point between the step and the end).
    """

    name: str
    part: str
    epochs: tuple
    ap: tuple
    last_third_change: float
    flat: bool
    best_epoch: int
    step_epoch: int
    before_step_change: float | None
    step_gain: float | None
    final_change: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def _change_over_last_third(epochs, ap, end: int) -> float | None:
    """AP at the last point at or before ``end`` minus AP at the first point at or after two thirds of it."""
    inside = [i for i, e in enumerate(epochs) if e <= end]
    if len(inside) < 2:
        return None
    first = next(i for i in inside if epochs[i] >= 2 * end / 3)
    first = min(first, inside[-1] - 1)  # only the last point in the last third: compare with the one before
    return ap[inside[-1]] - ap[first]


def plateau(record: dict, *, name: str | None = None, part: str = "wholebody", flat_ap: float = FLAT_AP) -> Plateau:
    """The :class:`Plateau` of ``record``'s learning curve (``record['curve']``) on ``part``."""
    from ..configs.builder import lr_steps

    curve = record.get("curve") or []
    if len(curve) < 2:
        raise ValueError(f"run record of {record.get('method')!r} (seed {record.get('seed')}) has "
                         f"{len(curve)} curve point(s); a plateau needs a learning curve of at least 2")
    if part not in curve[0]["AP"]:
        raise ValueError(f"unknown part {part!r}; the curve has {sorted(curve[0]['AP'])}")
    epochs = tuple(int(p["epoch"]) for p in curve)
    ap = tuple(100.0 * float(p["AP"][part]) for p in curve)
    change = _change_over_last_third(epochs, ap, epochs[-1])
    step = lr_steps(int(record["schedule"]["epochs"]))[0]
    before = [i for i, e in enumerate(epochs) if e <= step]
    after = [i for i, e in enumerate(epochs) if e > step]
    return Plateau(name=name or record["method"], part=part, epochs=epochs, ap=ap, last_third_change=change,
                   flat=abs(change) < flat_ap, best_epoch=epochs[max(range(len(ap)), key=ap.__getitem__)],
                   step_epoch=step, before_step_change=_change_over_last_third(epochs, ap, step),
                   step_gain=ap[-1] - ap[before[-1]] if before and after else None,
                   final_change=ap[-1] - ap[-2] if len(after) >= 2 else None)


def curve_table(records: list[dict], names: list[str] | None = None):
    """The records' learning curves as one long ``pandas.DataFrame``: ``name, seed, epoch, iter, part, AP``
    (AP in points), one row per record, validation and part. ``names``: one label per record (default:
    its method). Records without a curve (made before records carried one) are left out."""
    import pandas as pd

    names = names or [r["method"] for r in records]
    rows = [dict(name=name, seed=r.get("seed"), epoch=p["epoch"], iter=p["iter"], part=part, AP=100.0 * ap)
            for name, r in zip(names, records) for p in r.get("curve") or [] for part, ap in p["AP"].items()]
    return pd.DataFrame(rows, columns=["name", "seed", "epoch", "iter", "part", "AP"])


def loss_table(records: list[dict], names: list[str] | None = None):
    """The records' finer training-loss logs (``loss_curve``) as one ``pandas.DataFrame``: ``name, seed, epoch,
    iter, loss``, ``iter`` the last iteration of each window."""
    import pandas as pd

    names = names or [r["method"] for r in records]
    rows = [dict(name=name, seed=r.get("seed"), epoch=e["epoch"], iter=e["iter"], loss=e.get("loss"))
            for name, r in zip(names, records) for e in r.get("loss_curve") or []]
    return pd.DataFrame(rows, columns=["name", "seed", "epoch", "iter", "loss"])


def load_plateau_records(results_dir=None) -> tuple[list[dict], list[str]]:
    """The plateau search's records (:data:`PLATEAU_RUNS` at :data:`PLATEAU_SEED`, :data:`PLATEAU_FOLDER` under
    ``results_dir``, default: the repository's ``results/``) and their names, in the plan's order; those not
    trained are left out."""
    order = [name for name, _, _ in PLATEAU_RUNS]
    records = [r for r in _named_records(_results_root(results_dir) / PLATEAU_ABLATION_FOLDER) if r["seed"] == PLATEAU_SEED
               and r["method"] in order]
    records.sort(key=lambda r: order.index(r["method"]))
    return records, [r["method"] for r in records]


def _results_root(results_dir) -> Path:
    """``results_dir``, or the repository's ``results/`` when None."""
    return Path(results_dir) if results_dir is not None else REPO / "results"


def _named_records(folder: Path) -> list[dict]:
    """The records under ``folder`` (checked, their files absolute: :func:`fowkal.studies.records.run_records`),
    each with ``method`` set to its folder's name (a KAF variant trains method ``fowkal`` but is its own row:
    ``fowkal_normalised``)."""
    return [dict(r, method=Path(r["_path"]).parent.parent.name) for r in run_records(folder)[0]]


def load_plateaus(results_dir=None, *, part: str = "wholebody") -> list[Plateau]:
    """:func:`plateau` of every long run's record (:func:`load_plateau_records`), named after its folder
    (``fowkal_normalised``); [] where none is there yet."""
    records, names = load_plateau_records(results_dir)
    return [plateau(r, name=name, part=part) for r, name in zip(records, names)]


def plateau_markdown(plateaus: list[Plateau]) -> str:
    """One row per long run: AP at each validation; the change over the last third and whether that is flat;
    the full-rate phase's last third, what the learning-rate steps added, and the last interval."""
    def signed(value):
        return "—" if value is None else f"{value:+.1f}"

    lines = [f"| run | whole-body AP over training (epoch: AP) | last third | flat (< {FLAT_AP:g} AP) | "
             "before the first step, last third | the steps' gain | last interval | best at epoch |",
             "|---|---|---:|---|---:|---:|---:|---:|"]
    for p in plateaus:
        path = " → ".join(f"{e}: {ap:.1f}" for e, ap in zip(p.epochs, p.ap))
        lines.append(f"| {p.name} | {path} | {signed(p.last_third_change)} | {'yes' if p.flat else 'no'} | "
                     f"{signed(p.before_step_change)} (to epoch {p.step_epoch}) | {signed(p.step_gain)} | "
                     f"{signed(p.final_change)} | {p.best_epoch} |")
    return "\n".join(lines)


def converged_records(results_dir=None) -> list[dict]:
    """The converged ablation's records under ``results_dir`` (default: the repository's ``results/``), each
    named after its folder (:func:`_named_records`); [] where there are none yet."""
    return _named_records(_results_root(results_dir) / ABLATION_FOLDER)


def trained_records(results_dir=None) -> list[dict]:
    """The trained models for figures and per-run summaries, all of one schedule: the converged ablation's
    (:func:`converged_records`) once it holds every (name, seed) of the plateau search, the plateau search's
    40-epoch records (:data:`PLATEAU_FOLDER`) until then (so a figure never sets a 60-epoch model beside a
    40-epoch one). Not for paired comparisons, which take the ablation's records only."""
    ablation = converged_records(results_dir)
    plateau_runs = _named_records(_results_root(results_dir) / PLATEAU_ABLATION_FOLDER)
    have = {(r["method"], r["seed"]) for r in ablation}
    return ablation if all((r["method"], r["seed"]) in have for r in plateau_runs) else plateau_runs


def converged_complete(converged: list[dict], seeds: int = len(CONVERGED_SEEDS)) -> bool:
    """Whether every method of the ablation (:data:`fowkal.losses.METHODS`) has at least ``seeds`` common seeds
    in the converged records."""
    common = None
    for method in METHODS:
        have = {r["seed"] for r in converged if r["method"] == method}
        common = have if common is None else common & have
    return bool(common) and len(common) >= seeds


def leading_records(quick: list[dict], converged: list[dict], *, seeds: int = len(CONVERGED_SEEDS)) -> tuple[list[dict], str]:
    """The records the book's tables and verdicts come from, and the schedule's name: the converged ablation's
    (its methods of :data:`fowkal.losses.METHODS`) once it is complete (:func:`converged_complete`), the
    3-epoch ablation's until then."""
    if converged_complete(converged, seeds):
        return [r for r in converged if r["method"] in METHODS], f"converged schedule ({SCHEDULES['converged'][0]} epochs)"
    return quick, "quick profile (3 epochs)"


def seeds_to_decide(rows: list[dict], *, alpha: float = 0.05, most: int = 30) -> list[dict]:
    """How many paired seeds each claim would need, from the spread its differences show so far.

    ``rows``: :func:`fowkal.studies.ablation.claims` rows. Per claim with at least 2 seeds: ``n``, the mean
    difference ``d`` and the sample sd of the differences ``sd``; ``decide``: the fewest seeds at which a
    two-sided t interval at Holm's strictest level (``1 - alpha / m``, m the family's tested claims, which
    every claim can be tested at) would exclude 0 were ``d`` and ``sd`` the truth, or None beyond ``most``
    (an effect too small for its spread).
    """
    from scipy import stats

    tested = [r for r in rows if len(r.get("differences") or []) >= 2]
    level = 1.0 - alpha / max(1, len(tested))
    out = []
    for r in tested:
        differences = r["differences"]
        n, d, sd = len(differences), statistics.fmean(differences), statistics.stdev(differences)
        decide = next((k for k in range(2, most + 1)
                       if abs(d) > stats.t.ppf(0.5 + level / 2, k - 1) * sd / k ** 0.5), None)
        out.append(dict(claim=r["claim"], n=n, d=d, sd=sd, decide=decide))
    return out


def seeds_markdown(needs: list[dict]) -> str:
    """One row per claim: seeds now, Δ, the sd of its paired differences and the seeds it would need."""
    lines = ["| claim | seeds | Δ | sd of the differences | seeds to decide |", "|:---|---:|---:|---:|---:|"]
    for r in needs:
        decide = "more than 30" if r["decide"] is None else str(r["decide"])
        lines.append(f"| {r['claim']} | {r['n']} | {r['d']:+.1f} | {r['sd']:.1f} | {decide} |")
    return "\n".join(lines)


def schedule_comparison(quick_records: list[dict], converged_records: list[dict], claim_list=None) -> list[dict]:
    """Every claim judged at both schedules (each as its own Holm family, :func:`fowkal.studies.ablation.claims`):
    rows ``{claim, paper_delta, quick, converged, flipped}``, ``quick``/``converged`` the claim's row at that
    schedule, ``flipped`` whether the verdict changed (None while the converged claim is untested)."""
    from .ablation import aggregate, claims

    quick = claims(aggregate(quick_records), claim_list=claim_list) if quick_records else None
    converged = claims(aggregate(converged_records), claim_list=claim_list) if converged_records else None
    rows = []
    for i, row in enumerate(quick or converged or []):
        q = quick[i] if quick else None
        c = converged[i] if converged else None
        tested = c is not None and c["p"] is not None and q is not None and q["p"] is not None
        rows.append(dict(claim=row["claim"], paper_delta=row["paper_delta"], quick=q, converged=c,
                         flipped=(q["verdict"] != c["verdict"]) if tested else None))
    return rows


def schedule_markdown(rows: list[dict], *, quick_label: str = "3 epochs", converged_label: str = "converged") -> str:
    """The claims at both schedules: Δ [interval] and verdict at each, and whether the verdict flipped."""
    from .ablation import interval_text

    def cell(row):
        return "—" if row is None else f"{interval_text(row)}, {row['verdict']}"

    lines = [f"| claim | paper Δ | {quick_label} | {converged_label} | flipped |", "|:---|---:|---:|---:|:---|"]
    for r in rows:
        paper_delta = "—" if r["paper_delta"] is None else f"{r['paper_delta']:+.1f}"
        flipped = {True: "**yes**", False: "no", None: "—"}[r["flipped"]]
        lines.append(f"| {r['claim']} | {paper_delta} | {cell(r['quick'])} | {cell(r['converged'])} | {flipped} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the KAF at both schedules
def kaf_runs(records: list[dict]) -> list[dict]:
    """The KAL-family records among ``records`` (named as :func:`converged_records` names them) as the KAF
    study's runs (:func:`fowkal.studies.kaf_study.summary`'s input): default noise, the paper's KAF unless the
    record is the best variant's; ``push`` from ``kaf_push.json`` beside the record where it was measured."""
    import json

    from ..runs.logs import kaf_log
    from .kaf_push import PUSH_FILE

    best = variant_method(BEST_VARIANT)
    runs = []
    for r in records:
        entries = kaf_log(r)
        if entries is None:
            continue
        method, variant = ("fowkal", BEST_VARIANT) if r["method"] == best else (r["method"], "paper")
        push_file = Path(r["_path"]).parent / PUSH_FILE
        runs.append(dict(noise="default", method=method, variant=variant, seed=r["seed"], record=r,
                         kaf_log=entries, push=json.loads(push_file.read_text()) if push_file.is_file() else None))
    return runs


def kaf_at_both_schedules(quick_runs: list[dict], converged_runs: list[dict]) -> list[dict]:
    """For every (method, KAF variant) with converged runs: the KAF study's summary row and λ state
    (collapsed / collapsing / stable, :func:`fowkal.studies.kaf_study.verdict`) after 3 epochs and at the
    converged schedule, as ``{method, variant, quick, converged}`` (``quick`` None where the 3-epoch runs
    lack the setting)."""
    from .kaf_study import summary, verdict

    def by_setting(runs):
        rows = summary(runs)
        return {(r["method"], r["variant"]): dict(r, state=verdict(rows, r["method"], r["variant"])["state"])
                for r in rows}

    quick, converged = by_setting([r for r in quick_runs if r["noise"] == "default"]), by_setting(converged_runs)
    return [dict(method=m, variant=v, quick=quick.get((m, v)), converged=row) for (m, v), row in converged.items()]


def kaf_schedule_markdown(rows: list[dict], *, quick_label: str = "3 epochs",
                          converged_label: str = "converged") -> str:
    """One line per setting and schedule: seeds, the share of keypoints with λ < 0.05 at the end and the λ
    state, the final λ per part, in how many seeds the face's λ is the highest, ρ(λ, push) where measured."""
    from .kaf_study import NOISE_PARTS

    lines = ["| method | KAF | schedule | seeds | λ < 0.05 | λ state | " + " | ".join(f"λ {p}" for p in NOISE_PARTS)
             + " | face highest | ρ(λ, push) |", "|---|---|---|---:|---:|---|" + "---:|" * len(NOISE_PARTS) + "---:|---:|"]
    for row in rows:
        for label, r in ((quick_label, row["quick"]), (converged_label, row["converged"])):
            if r is None:
                continue
            push = "—" if not r["n_push"] else f"{r['rho_push']:+.2f} ({r['n_push']})"
            lines.append(f"| {row['method']} | {row['variant']} | {label} | {r['n']} | {r['low_fraction']:.2f} | "
                         f"{r['state']} | " + " | ".join(f"{r['final_lambda'][p]:.3g}" for p in NOISE_PARTS)
                         + f" | {r['face_highest'] * r['n']:.0f}/{r['n']} | {push} |")
    return "\n".join(lines)


def eager_pairs(results_dir=None) -> list[tuple[dict, dict]]:
    """``(eager, compiled)`` records: each run of :data:`EAGER_FOLDER` with the converged ablation's run of the
    same name and seed, where it has one."""
    root = _results_root(results_dir)
    compiled = {(r["method"], r["seed"]): r for r in converged_records(root)}
    return [(eager, compiled[(eager["method"], eager["seed"])]) for eager in _named_records(root / EAGER_ABLATION_FOLDER)
            if (eager["method"], eager["seed"]) in compiled]


def eager_curve_table(pairs: list[tuple[dict, dict]], part: str = "foot"):
    """The learning curves of ``pairs`` (:func:`eager_pairs`) on ``part``: a ``pandas.DataFrame`` indexed by epoch,
    one AP column per run (``<name> seed <N>, eager`` and ``..., compiled``); None where no pair has a curve."""
    if not pairs:
        return None
    records = [r for pair in pairs for r in pair]
    names = [f"{e['method']} seed {e['seed']}, {kind}" for e, _ in pairs for kind in ("eager", "compiled")]
    table = curve_table(records, names)
    table = table[table["part"] == part]
    if table.empty:  # records made before they carried a curve
        return None
    return table.pivot(index="epoch", columns="name", values="AP").reindex(columns=names)


def curve_markdown(table) -> str:
    """A table of :func:`eager_curve_table` (epoch rows, one AP column per run) as Markdown."""
    lines = ["| epoch | " + " | ".join(table.columns) + " |", "|---:|" + "---:|" * len(table.columns)]
    lines += [f"| {epoch} | " + " | ".join("—" if v != v else f"{v:.1f}" for v in row) + " |"
              for epoch, row in zip(table.index, table.itertuples(index=False))]
    return "\n".join(lines)


def part_by_seed_markdown(records: list[dict], part: str = "foot") -> str:
    """``part``'s AP (GT boxes, %) of every record, a row per method and a column per seed, as Markdown."""
    from .ablation import aggregate

    table = aggregate(records)
    seeds = sorted({s for parts in table.values() for s in parts[part]["seeds"]})
    lines = ["| method | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---:|" * len(seeds)]
    for method, parts in table.items():
        cell = dict(zip(parts[part]["seeds"], parts[part]["values"]))
        lines.append(f"| {method} | " + " | ".join(f"{cell[s]:.1f}" if s in cell else "—" for s in seeds) + " |")
    return "\n".join(lines)


def eager_comparison(pairs: list[tuple[dict, dict]]) -> list[dict]:
    """Each eager run beside the compiled run of the same name and seed (``pairs``, :func:`eager_pairs`: same
    initial weights and samples): per (name, seed, part) the final AP (GT boxes, %) of both and the
    compiled − eager difference; [] where no pair is there yet."""
    from .ablation import PARTS, record_ap

    rows = []
    for eager, twin in pairs:
        for part in PARTS:
            a, b = record_ap(eager, part), record_ap(twin, part)
            rows.append(dict(name=eager["method"], seed=eager["seed"], part=part, eager=a, compiled=b, change=b - a))
    return rows


def eager_markdown(rows: list[dict]) -> str:
    """:func:`eager_comparison` as a Markdown table."""
    lines = ["| run | seed | part | eager AP | compiled AP | compiled − eager |", "|---|---:|---|---:|---:|---:|"]
    lines += [f"| {r['name']} | {r['seed']} | {r['part']} | {r['eager']:.1f} | {r['compiled']:.1f} | {r['change']:+.1f} |"
              for r in rows]
    return "\n".join(lines)


def measure_converged_pushes(*, out_dir=FOLDER, work_root="work_dirs/convergence/ablation", batches: int | None = None,
                             log=print) -> list[Path]:
    """Write ``kaf_push.json`` (:mod:`fowkal.studies.kaf_push`) beside every KAL-family record of the
    converged ablation that lacks one and whose final checkpoint is still in its work dir (the work dirs of
    :func:`run_converged`); returns the files written."""
    from .kaf_push import PUSH_FILE, push_from_work_dir

    epochs = SCHEDULES["converged"][0]
    written = []
    for run in kaf_runs(_named_records(Path(out_dir))):
        record, folder = run["record"], Path(run["record"]["_path"]).parent
        if (folder / PUSH_FILE).is_file():
            continue
        work = Path(work_root) / f"{record['method']}-e{epochs}-seed{record['seed']}"
        path = push_from_work_dir(folder, record, work, label=f"{record['method']} seed {record['seed']}",
                                  batches=batches, log=log)
        if path is not None:
            written.append(path)
    return written


__all__ = ["part_by_seed_markdown", "curve_markdown", "eager_pairs", "eager_curve_table", "eager_comparison", "eager_markdown", "seeds_to_decide", "seeds_markdown", "converged_complete", "leading_records", "kaf_runs", "kaf_at_both_schedules", "kaf_schedule_markdown", "measure_converged_pushes", "ABLATION_FOLDER", "CONVERGED_OVERRIDES", "EAGER_ABLATION_FOLDER", "EAGER_FOLDER", "CONVERGED_RUNS", "CONVERGED_SEEDS", "run_converged", "training_order", "EARLY_SEEDS", "converged_records", "trained_records", "schedule_comparison", "schedule_markdown", "FOLDER", "PLATEAU_FOLDER", "PLATEAU_ABLATION_FOLDER", "LONG_FOLDER", "LONG_ABLATION_FOLDER",
           "LENGTH_CHECK_RUNS", "run_length_check", "length_check", "length_markdown", "load_long_records", "PLATEAU_EPOCHS", "PLATEAU_VAL_INTERVAL", "PLATEAU_RUNS", "FLAT_AP", "Plateau",
           "run_plateau", "plateau", "load_plateaus", "load_plateau_records", "plateau_markdown", "curve_table",
           "loss_table"]
