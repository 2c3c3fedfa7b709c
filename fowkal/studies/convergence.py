"""Where do the cpu profile's learning curves flatten? Long runs of a few methods, and the plateau test.

The ablation's quick profile stops after 3 epochs, far from trained models. :data:`PLATEAU_RUNS` trains
MSE, FoWKAL, KAL, heuristic + FWAHR, the λ = 0 control and the KAF study's best variant (seed 0) for
:data:`PLATEAU_EPOCHS` epochs, the learning-rate steps at the paper's 81 % and 95 % of the schedule,
validating every :data:`PLATEAU_VAL_INTERVAL` epochs (:mod:`fowkal.runs.curve`). :func:`run_plateau`
trains what has no record yet, one run at a time (a killed run resumes from its checkpoint), and
:func:`plateau` reads one record's curve: how much whole-body AP changed over the last third of the run.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .ablation import load_records, record_folder
from .kaf_study import BEST_VARIANT, KAF_VARIANTS, variant_method
from .notebook import run_train_notebook

REPO = Path(__file__).resolve().parents[2]
#: Where the long runs' records are committed.
FOLDER = "results/convergence/plateau"
PLATEAU_EPOCHS = 40
PLATEAU_VAL_INTERVAL = 4
PLATEAU_SEED = 0
#: Where the ablation at the converged schedule is committed, under results/ (one folder per method and seed).
ABLATION_FOLDER = "convergence/ablation"
#: A curve is flat when its whole-body AP moved less than this (AP points) over the last third of the run.
FLAT_AP = 1.0
#: (name, method, config overrides) of the long runs, in the order they are trained; the last is FoWKAL with
#: the KAF study's best variant, named as the ablation's table names it (``fowkal_normalised``).
PLATEAU_RUNS = (("mse", "mse", {}), ("fowkal", "fowkal", {}), ("kal", "kal", {}),
                ("heuristic_fwahr", "heuristic_fwahr", {}), ("kal_lambda0", "kal_lambda0", {}),
                (variant_method(BEST_VARIANT), "fowkal", KAF_VARIANTS[BEST_VARIANT]))


def run_plateau(*, out_dir=FOLDER, work_root="work_dirs/convergence", notebook="notebooks/train.ipynb",
                runs=PLATEAU_RUNS, epochs: int = PLATEAU_EPOCHS, val_interval: int = PLATEAU_VAL_INTERVAL,
                seed: int = PLATEAU_SEED, data_root: str = "", log=print) -> int:
    """Train every run of ``runs`` that has no record in ``out_dir`` yet; returns how many ran."""
    import json

    ran = 0
    for name, method, overrides in runs:
        folder = record_folder(out_dir, name, seed)
        work_dir = Path(work_root) / f"{name}-e{epochs}-seed{seed}"
        ran += run_train_notebook(folder, work_dir, notebook=notebook, label=f"{name} seed {seed}, {epochs} epochs",
                                  parameters=dict(method=method, seed=seed, profile="cpu", epochs=epochs,
                                                  val_interval=val_interval, data_root=data_root,
                                                  cfg_options=json.dumps(overrides) if overrides else ""),
                                  log=log)
    return ran


@dataclass(frozen=True)
class Plateau:
    """One record's learning curve at a glance (AP in points).

    ``epochs``/``ap``: the curve's epochs and the part's AP there; ``last_third_change``: AP at the end
    minus AP at the first point at or after two thirds of the schedule; ``flat``: that change's size is
    below :data:`FLAT_AP`; ``best_epoch``: where the curve peaked.
    """

    name: str
    part: str
    epochs: tuple
    ap: tuple
    last_third_change: float
    flat: bool
    best_epoch: int

    def as_dict(self) -> dict:
        return asdict(self)


def plateau(record: dict, *, name: str | None = None, part: str = "wholebody", flat_ap: float = FLAT_AP) -> Plateau:
    """The :class:`Plateau` of ``record``'s learning curve (``record['curve']``) on ``part``."""
    curve = record.get("curve") or []
    if len(curve) < 2:
        raise ValueError(f"run record of {record.get('method')!r} (seed {record.get('seed')}) has "
                         f"{len(curve)} curve point(s); a plateau needs a learning curve of at least 2")
    if part not in curve[0]["AP"]:
        raise ValueError(f"unknown part {part!r}; the curve has {sorted(curve[0]['AP'])}")
    epochs = tuple(int(p["epoch"]) for p in curve)
    ap = tuple(100.0 * float(p["AP"][part]) for p in curve)
    start = 2 * record["schedule"]["epochs"] / 3
    first = next(i for i, e in enumerate(epochs) if e >= start)
    if first == len(epochs) - 1:  # only the final point in the last third: compare with the one before
        first -= 1
    change = ap[-1] - ap[first]
    return Plateau(name=name or record["method"], part=part, epochs=epochs, ap=ap, last_third_change=change,
                   flat=abs(change) < flat_ap, best_epoch=epochs[max(range(len(ap)), key=ap.__getitem__)])


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


def load_plateau_records(out_dir=None) -> tuple[list[dict], list[str]]:
    """The long runs' records under ``out_dir`` (default: :data:`FOLDER`) and their names (their folders)."""
    out_dir = Path(out_dir) if out_dir is not None else REPO / FOLDER
    if not out_dir.is_dir():
        return [], []
    records = load_records(out_dir)
    return records, [Path(r["_path"]).parent.parent.name for r in records]


def load_plateaus(out_dir=None, *, part: str = "wholebody") -> list[Plateau]:
    """:func:`plateau` of every record under ``out_dir`` (default: the repository's :data:`FOLDER`), named
    after its folder (``fowkal_normalised``); [] where none is there yet."""
    records, names = load_plateau_records(out_dir)
    return [plateau(r, name=name, part=part) for r, name in zip(records, names)]


def plateau_markdown(plateaus: list[Plateau]) -> str:
    """One row per long run: AP at each validation, the change over the last third, flat or not."""
    lines = ["| run | epochs | whole-body AP over training | last third | flat (< "
             f"{FLAT_AP:g} AP) | best at epoch |", "|---|---:|---|---:|---|---:|"]
    for p in plateaus:
        path = " → ".join(f"{ap:.1f}" for ap in p.ap)
        lines.append(f"| {p.name} | {p.epochs[-1]} | {path} | {p.last_third_change:+.1f} | "
                     f"{'yes' if p.flat else 'no'} | {p.best_epoch} |")
    return "\n".join(lines)


def converged_records(results_dir=None) -> list[dict]:
    """The converged ablation's records under ``results_dir`` (default: the repository's ``results/``);
    [] where there are none yet."""
    folder = (Path(results_dir) if results_dir is not None else REPO / "results") / ABLATION_FOLDER
    return load_records(folder) if folder.is_dir() else []


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


__all__ = ["ABLATION_FOLDER", "converged_records", "schedule_comparison", "schedule_markdown", "FOLDER", "PLATEAU_EPOCHS", "PLATEAU_VAL_INTERVAL", "PLATEAU_RUNS", "FLAT_AP", "Plateau",
           "run_plateau", "plateau", "load_plateaus", "load_plateau_records", "plateau_markdown", "curve_table",
           "loss_table"]
