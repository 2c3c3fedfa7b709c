"""Does the KAF track annotation noise? A controlled study (runs, measures, verdict).

The paper says the keypoint-wise adaptive factor λ (Eq. 6) moves the loss towards AWing where the
annotation variance is low and towards MSE where it is not (Sec. 1), and reads Fig. 5 that way. On
the embedded benchmark we set each part's label noise, so the claim can be tested:

- **noise variants** (:data:`NOISE_VARIANTS`): the benchmark's default (coarse parts noisier
  relative to their size than dense ones), the reverse ranking, the same relative noise for
  every part, and *strong*: the reverse with the dense parts 4x noisier (the face the noisiest part
  in every sense);
- **KAF variants** (:data:`KAF_VARIANTS`): the paper's loss and the non-paper options the loss
  library exposes (no regulariser, λ's gradient kept out of the backbone, the log-barrier, the two
  loss terms on a common scale).

Every run is the train notebook on the cpu profile (:data:`STUDY_RUNS` says which), its record in
``results/kaf-study/<noise>/<method>-<variant>/seed<N>/`` beside a ``study.json`` naming the
variant. The default-noise runs of the paper's loss are the ablation's records
(``results/cpu/<method>/seed<N>``): the same training, so not run twice.

Measures (pure functions of records and KAF logs):

- per part, the mean over its keypoints of the per-keypoint mean λ at every logged point
  (:func:`fowkal.runs.logs.kaf_part_means`); :func:`fraction_below`: the fraction of keypoints whose mean λ is below 0.05.
- :func:`noise_correlation`: Spearman's rank correlation between the final per-part λ and the
  injected noise (as a fraction of the part's size, :data:`fowkal.data.NOISE_SCALE`). The paper's
  reading predicts a negative correlation (less noise, more AWing), and that it flips sign with the
  noise (default vs reverse).

- :func:`push_correlation`: what λ answers to instead. The data term's per-keypoint push on λ
  (``kaf_push.json``, measured on the run's final model by :mod:`fowkal.studies.kaf_push`,
  :func:`measure_pushes`) against λ, over keypoints; with the barrier, :func:`barrier_error`:
  how far λ sits from the optimum the barrier and the push predict.

Verdict rule (:func:`verdict`), per (method, KAF variant), over seeds:
- **collapsed** when, at the end, the median over seeds of the fraction of keypoints with λ < 0.05
  is at least 0.9; else **collapsing** when over the last epoch the mean λ still fell by more than
  a third (:func:`last_epoch_ratio` < 2/3) or the fraction below 0.05 rose by 0.1 or more
  (:func:`low_fraction_rise`): a slower collapse cut short by the schedule; else **stable**;
- **follows noise** when the mean correlation is ≤ −0.6 on the default and on the reverse noise
  (λ ranks the parts inversely to their noise in both, so the order flipped with the noise);
  **against noise** when it is ≥ +0.6 on both; otherwise **unrelated**;
- the ordering needs runs on both the default and the reverse noise, else it is **incomplete**
  (collapse is still judged, on the noises that were run);
- on the *coco* noise alone, the one whose per-keypoint noise follows real annotators'
  disagreement (COCO-WholeBody's OKS sigmas), the same threshold on its own correlation gives the
  **coco ordering** (follows / against / unrelated; **not run** without coco runs). It is one
  benchmark, so it cannot show that the order flips with the noise; it says whether λ ranks the
  parts as the paper's premise would on realistic noise.
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from ..configs.geometry import geometry_overrides
from ..data.params import NOISE_PARTS
from ..jsonfile import write_json_atomic
from ..parts import PARTS
from ..runs.logs import kaf_log
from .kaf_push import PUSH_FILE, barrier_equilibrium

#: The benchmark's per-part training-label noise (std as a fraction of the part's size).
NOISE_VARIANTS = {
    "default": {},  # body 0.025, foot 0.04, face 0.01, hand 0.015 (fowkal.data.DEFAULT_PARAMS)
    "reverse": {"noise_body": 0.015, "noise_foot": 0.01, "noise_face": 0.04, "noise_hand": 0.025},
    "uniform": {"noise_body": 0.02, "noise_foot": 0.02, "noise_face": 0.02, "noise_hand": 0.02},
    # the dense parts 4x the reverse's: the face is then the noisiest part relative to its size *and*
    # in heatmap pixels (about the body's default), the paper's premise turned fully round
    "strong": {"noise_body": 0.015, "noise_foot": 0.01, "noise_face": 0.16, "noise_hand": 0.10},
    # every keypoint's noise from COCO-WholeBody's OKS sigma (how much real annotators disagree, relative
    # to the person's scale): std per coordinate sigma_k x sqrt(visible area) / sqrt(2) (fowkal.data.params);
    # the part levels are then unused, the noise per part is what write_injected_noise measures
    "coco": {"noise_kind": "oks", "noise_oks": 1.0},
}
#: The loss/head options of each KAF variant (dotted config keys of the cpu profile).
KAF_VARIANTS = {
    "paper": {},
    "no_reg": {"model.head.loss.reg_weight": 0.0},
    "detached": {"model.head.kaf_cfg.detach_features": True},
    "barrier": {"model.head.loss.lambda_barrier": 0.01},
    "normalised": {"model.head.loss.term_normalisation": "batch"},
    # not a KAF option: the paper's loss on the CPU profile's old 32x24 heatmaps, same benchmark (the
    # pixel-scale test: the face spans half as many heatmap pixels); JSON lists, as records store them
    "heatmap32": json.loads(json.dumps(geometry_overrides("32x24"))),
}
#: Variants that change the heatmap geometry (their records are 32x24; kept out of the verdict and tables).
PIXEL_VARIANTS = ("heatmap32", )
VARIANT_TITLES = {
    "paper": "the paper's loss", "no_reg": "no regulariser (reg_weight 0)", "detached": "λ gradient kept out of the backbone",
    "barrier": "log-barrier c = 0.01", "normalised": "terms on a common scale",
    "heatmap32": "the paper's loss on 32 × 24 heatmaps (pixel-scale test)",
}
# The study at 64x48. At 32x24 it also ran the uniform noise and the no_reg
# variant (git history); neither moved λ or AP beyond the others, so the 64x48 plan drops them.
#: The noise sweep: KAL and FoWKAL with the paper's loss on the default and the reverse noise (the
#: default-noise runs are the ablation's records).
SWEEP_NOISES = ("default", "reverse")
SWEEP_RUNS = [(noise, method, "paper") for noise in SWEEP_NOISES for method in ("kal", "fowkal")]
#: FoWKAL with the non-paper variants, on the default noise (the strong noise: STRONG_RUNS).
VARIANT_RUNS = [("default", "fowkal", "normalised"), ("default", "fowkal", "barrier"),
                ("default", "fowkal", "detached")]
#: Is the noise just too small to matter? FoWKAL, the paper's loss and the variants, on the strong noise.
STRONG_RUNS = [("strong", "fowkal", "paper"), ("strong", "fowkal", "normalised"), ("strong", "fowkal", "barrier"),
               ("strong", "fowkal", "detached")]
#: The realistic setting: every keypoint's noise from COCO-WholeBody's OKS sigma; the paper's loss and the
#: best variant.
COCO_RUNS = [("coco", "fowkal", "paper"), ("coco", "fowkal", "normalised")]
#: Is the face's high λ a pixel-scale effect? FoWKAL with the paper's loss at 32x24 on the same benchmark.
PIXEL_RUNS = [("default", "fowkal", "heatmap32")]
#: (noise, method, variant) of the study.
STUDY_RUNS = SWEEP_RUNS + VARIANT_RUNS + STRONG_RUNS + COCO_RUNS + PIXEL_RUNS
STUDY_DIR = "kaf-study"
LOW_LAMBDA = 0.05
COLLAPSED_FRACTION = 0.9
#: Not collapsed yet but still collapsing: over the last epoch the mean λ fell below this factor of
#: itself, or the fraction of keypoints below LOW_LAMBDA rose by at least RISING.
FALLING = 2 / 3
RISING = 0.1
FOLLOWS = 0.6


def noise_params(noise: str) -> dict:
    """The benchmark's noise parameters under one variant: the four part levels (fraction of each part's
    size), and for the ``coco`` variant the per-keypoint OKS noise that replaces them."""
    from ..data import DEFAULT_PARAMS

    if noise not in NOISE_VARIANTS:
        raise ValueError(f"unknown noise variant {noise!r}; valid: {', '.join(NOISE_VARIANTS)}")
    levels = {f"noise_{p}": DEFAULT_PARAMS[f"noise_{p}"] for p in NOISE_PARTS}
    levels.update(NOISE_VARIANTS[noise])
    return levels


def record_folder(runs_root, noise: str, method: str, variant: str, seed: int) -> Path:
    """Where a study run's record lives; the paper-loss default-noise runs are the ablation's."""
    runs_root = Path(runs_root)
    if noise == "default" and variant == "paper":
        return runs_root / "cpu" / method / f"seed{seed}"
    return runs_root / STUDY_DIR / noise / f"{method}-{variant}" / f"seed{seed}"


def work_folder(work_root, noise: str, method: str, variant: str, seed: int, ablation_work_root=None) -> Path:
    """Where a study run trains (checkpoints, full logs); the paper-loss default-noise runs are the
    ablation's, in ``ablation_work_root`` (``<root>/cpu/<method>/seed<N>``) when it is given."""
    if noise == "default" and variant == "paper" and ablation_work_root is not None:
        return Path(ablation_work_root) / "cpu" / method / f"seed{seed}"
    return Path(work_root) / noise / f"{method}-{variant}" / f"seed{seed}"


def plan(seeds, runs=STUDY_RUNS) -> list[tuple]:
    """(noise, method, variant, seed) in run order: the sweep for every seed first (its question needs
    the seeds), then the variants, then the rest (strong and coco noise), each group seed-major (a
    partial study has whole seeds)."""
    for noise, method, variant in runs:
        if noise not in NOISE_VARIANTS or variant not in KAF_VARIANTS:
            raise ValueError(f"unknown study run {(noise, method, variant)}")
    later = SWEEP_RUNS + VARIANT_RUNS
    groups = [[r for r in runs if r in SWEEP_RUNS], [r for r in runs if r in VARIANT_RUNS],
              [r for r in runs if r not in later]]
    return [(n, m, v, s) for group in groups for s in seeds for (n, m, v) in group]


def notebook_plan(*, seeds: str = "0,1,2", runs_root: str = "", epochs: int = 0, max_iters: int = 0,
                  push_batches: int = 20, **unused) -> dict:
    """The KAF-study notebook's parameters checked, before any work (its dry run): ``root`` (the folder above
    the study's records), ``seeds`` and ``missing`` (the (noise, method, variant, seed) runs without a record,
    what ``run_missing`` would train). Errors name the parameter."""
    from ..runs.options import parse_seeds

    seed_list = parse_seeds(seeds)
    if epochs < 0 or max_iters < 0 or push_batches < 0:
        raise ValueError("parameters 'epochs', 'max_iters' and 'push_batches' must be >= 0")
    root = Path(runs_root) if runs_root else Path(__file__).resolve().parents[2] / "results"
    if runs_root and not root.is_dir():
        raise FileNotFoundError(f"parameter 'runs_root': folder {runs_root!r} does not exist")
    missing = [run for run in plan(seed_list)
               if not (record_folder(root, *run) / "run_record.json").is_file()]
    return dict(root=root, seeds=seed_list, missing=missing)


def run_study(*, seeds, runs_root, work_root, notebook, runs=STUDY_RUNS, epochs: int = 0, max_iters: int = 0,
              data_roots: dict | None = None, log=print) -> list[Path]:
    """Train every study run that has no record yet (resumable); returns the record folders.

    ``data_roots``: noise variant -> benchmark folder (default: generated and cached by
    :func:`fowkal.data.default_benchmark` with that variant's noise).
    """
    from .notebook import run_train_notebook
    from ..data import default_benchmark

    roots = dict(data_roots or {})
    folders = []
    for noise, method, variant, seed in plan(seeds, runs):
        folder = record_folder(runs_root, noise, method, variant, seed)
        folders.append(folder)
        if (folder / "run_record.json").is_file():
            log(f"[study] {noise}/{method}-{variant} seed {seed}: record exists, skipped")
            continue
        if noise not in roots:
            roots[noise] = default_benchmark(**NOISE_VARIANTS[noise])
        study = dict(noise=noise, noise_params=noise_params(noise), method=method, variant=variant,
                     overrides=KAF_VARIANTS[variant], seed=seed)
        run_train_notebook(folder, work_folder(work_root, noise, method, variant, seed),
                           notebook=notebook, label=f"{noise}/{method}-{variant} seed {seed}", log=log,
                           extra={"study.json": study},
                           parameters=dict(method=method, profile="cpu", seed=seed, epochs=epochs,
                                           max_iters=max_iters, data_root=str(roots[noise]),
                                           cfg_options=json.dumps(KAF_VARIANTS[variant])))
    return folders


def measure_pushes(*, seeds, runs_root, work_root, ablation_work_root=None, runs=STUDY_RUNS,
                   batches: int | None = None, log=print) -> list[Path]:
    """Write ``kaf_push.json`` (:mod:`fowkal.studies.kaf_push`) beside every study record that lacks one and
    whose final checkpoint is still in its work dir; returns the files written. A work dir whose
    ``config.py`` is not the record's (its canonical hash differs: another run trained there since)
    is not measured."""
    from ..runs import record as run_record
    from .kaf_push import push_from_work_dir

    written = []
    for noise, method, variant, seed in plan(seeds, runs):
        folder = record_folder(runs_root, noise, method, variant, seed)
        label = f"{noise}/{method}-{variant} seed {seed}"
        if not (folder / run_record.RECORD_NAME).is_file() or (folder / PUSH_FILE).is_file():
            continue
        work = work_folder(work_root, noise, method, variant, seed, ablation_work_root)
        path = push_from_work_dir(folder, run_record.load(folder), work, label=label, batches=batches, log=log)
        if path is not None:
            written.append(path)
    return written


def load_runs(runs_root, seeds=None, runs=STUDY_RUNS) -> list[dict]:
    """Every study run with a record: dicts of noise, method, variant, seed, record, kaf_log."""
    from ..runs import record as run_record

    out = []
    seen_seeds = sorted({int(p.name[4:]) for p in Path(runs_root).rglob("seed*") if p.name[4:].isdigit()}) \
        if seeds is None else seeds
    for noise, method, variant, seed in plan(seen_seeds, runs):
        folder = record_folder(runs_root, noise, method, variant, seed)
        if not (folder / run_record.RECORD_NAME).is_file():
            continue
        record = run_record.load(folder)
        record["_path"] = str(folder / run_record.RECORD_NAME)
        entries = kaf_log(record)  # raises if the record names a log that is not there
        if entries is None:
            raise FileNotFoundError(f"{folder}: the record names no KAF log")
        _check_variant(record, folder, noise, variant)
        push_file = folder / PUSH_FILE
        push = json.loads(push_file.read_text()) if push_file.is_file() else None
        out.append(dict(noise=noise, method=method, variant=variant, seed=seed, record=record, kaf_log=entries,
                        push=push))
    return out


def _check_variant(record: dict, folder: Path, noise: str, variant: str) -> None:
    """A record must have been trained as its folder says: its config overrides are the variant's
    (the hash test of the committed records checks that the overrides made the config)."""
    if record.get("schema_version", 1) < 2:
        raise ValueError(f"{folder}: a schema-1 run record (it names a config.py dump, not its overrides); "
                         f"the study reads schema 2")
    overrides = record["config"]["overrides"]
    for key, value in KAF_VARIANTS[variant].items():
        if key not in overrides or overrides[key] != value:
            raise ValueError(f"{folder}: variant {variant!r} needs {key}={value!r}, not in the record's config "
                             f"overrides {overrides}")
    extra = sorted(set(overrides) - set(KAF_VARIANTS[variant]))
    if extra:
        raise ValueError(f"{folder}: the record's config overrides {extra} are not variant {variant!r}'s")
    study = folder / "study.json"
    if study.is_file() and json.loads(study.read_text()).get("noise") != noise:
        raise ValueError(f"{folder}: study.json names another noise variant than {noise!r}")


def measure_noise(noisy_root, clean_root, *, heatmap_height: int = 64, aspect: float = 0.75,
                  padding: float = 1.25) -> dict:
    """The label noise a benchmark's training set really carries, per part, against its noise-free twin.

    Returns part -> dict(image_px, heatmap_px, relative, n): the RMS per-axis displacement of the
    labelled keypoints, in image pixels, in heatmap pixels of the cpu profile's crop (the person box
    padded by ``padding`` to ``aspect`` = w/h, mapped to ``heatmap_height`` rows: what the loss sees), and
    relative to the part's size as :mod:`fowkal.data.calibration` measures it on the clean twin (person
    height, foot length, face height, hand length: the units of the noise parameters).
    """
    from ..data import TRAIN_ANN
    from ..data.calibration import measure_person

    noisy = json.loads((Path(noisy_root) / TRAIN_ANN).read_text())["annotations"]
    clean = {a["id"]: a for a in json.loads((Path(clean_root) / TRAIN_ANN).read_text())["annotations"]}
    sums = {p: [0.0, 0.0, 0, 0.0, 0] for p in NOISE_PARTS}
    fields = {"body": ("keypoints",), "foot": ("foot_kpts",), "face": ("face_kpts",),
              "hand": ("lefthand_kpts", "righthand_kpts")}
    ratio_of = {"body": None, "foot": "foot_length", "face": "face_height", "hand": "hand_length"}
    for ann in noisy:
        twin = clean.get(ann["id"])
        if twin is None or twin["image_id"] != ann["image_id"]:
            raise ValueError(f"{clean_root} is not the noise-free twin of {noisy_root} (annotation {ann['id']})")
        w, h = ann["bbox"][2], ann["bbox"][3]
        h = max(h, w / aspect) * padding
        to_heatmap = heatmap_height / h
        try:
            measures = measure_person(twin, geometries={})
        except ValueError:  # nothing labelled: no keypoint to measure either
            measures = {}
        person = twin["bbox"][3]
        for part, names in fields.items():
            size = person if ratio_of[part] is None else measures.get(ratio_of[part], math.nan) * person
            for name in names:
                a, b = ann[name], twin[name]
                for j in range(0, len(a), 3):
                    if a[j + 2] > 0 and b[j + 2] > 0:
                        d2 = (a[j] - b[j]) ** 2 + (a[j + 1] - b[j + 1]) ** 2
                        sums[part][0] += d2
                        sums[part][1] += d2 * to_heatmap ** 2
                        sums[part][2] += 1
                        if math.isfinite(size) and size > 0:
                            sums[part][3] += d2 / size ** 2
                            sums[part][4] += 1
    return {p: dict(image_px=math.sqrt(s0 / (2 * n)) if n else float("nan"),
                    heatmap_px=math.sqrt(s1 / (2 * n)) if n else float("nan"),
                    relative=math.sqrt(s3 / (2 * m)) if m else float("nan"), n=n)
            for p, (s0, s1, n, s3, m) in sums.items()}


def write_injected_noise(runs_root) -> Path:
    """Measure the training labels of every noise variant not yet in ``injected_noise.json`` against a
    noise-free twin (both generated and cached by :func:`fowkal.data.default_benchmark` if missing)
    and write the file with them added."""
    from ..data import default_benchmark

    out = Path(runs_root) / STUDY_DIR / "injected_noise.json"
    injected = json.loads(out.read_text()) if out.is_file() else {}
    missing = [noise for noise in NOISE_VARIANTS if noise not in injected]
    if not missing:
        return out
    clean = default_benchmark(**{f"noise_{p}": 0.0 for p in NOISE_PARTS})
    injected.update({noise: measure_noise(default_benchmark(**NOISE_VARIANTS[noise]), clean) for noise in missing})
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(_no_nan(injected), out)
    return out


# --------------------------------------------------------------------------- the best variant, judged
#: The study's best variant (highest whole-body AP in the study's first, 32x24 runs), judged as a method of the
#: ablation: FoWKAL with it, paired by seed against these methods of the ablation.
BEST_VARIANT = "normalised"
JUDGED_AGAINST = ("mse", "awing", "fowkal")
ABLATION_SEEDS = 5  # the judgement needs this many common seeds


def variant_method(variant: str = BEST_VARIANT, method: str = "fowkal") -> str:
    """The name a study variant takes as a method of the ablation's table, e.g. ``fowkal_normalised``."""
    return f"{method}_{variant}"


def variant_claims(variant: str = BEST_VARIANT, method: str = "fowkal", against=JUDGED_AGAINST,
                   parts=("wholebody", "body", "foot", "face", "hand")) -> list[tuple]:
    """The claims "FoWKAL with ``variant`` beats B on part P" for every B of ``against`` and every part:
    ``(name, better, worse, part, None)`` for :func:`fowkal.studies.ablation.claims` (no paper Δ)."""
    name = variant_method(variant, method)
    return [(f"{method}-{variant} > {other} ({part})", name, other, part, None) for other in against for part in parts]


def variant_table(ablation_records: list[dict], runs: list[dict], variant: str = BEST_VARIANT,
                  method: str = "fowkal", noise: str = "default") -> dict:
    """The ablation's table (:func:`fowkal.studies.ablation.aggregate`) with the study's ``variant`` runs
    (``noise``) added as the method :func:`variant_method`; a record's geometry must match the ablation's."""
    from .ablation import aggregate

    name = variant_method(variant, method)
    extra = [dict(r["record"], method=name) for r in runs
             if r["noise"] == noise and r["method"] == method and r["variant"] == variant]
    geometries = {json_key(r.get("geometry")) for r in ablation_records + extra}
    if len(geometries) > 1:
        raise ValueError(f"the ablation's records and the {variant} runs were trained at different heatmap "
                         f"geometries {sorted(geometries)}: they cannot be paired")
    return aggregate(ablation_records + extra)


def json_key(value) -> str:
    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------- measures
def fraction_below(entries: list, threshold: float = LOW_LAMBDA) -> list[float]:
    """At each logged point: the fraction of keypoints whose mean λ (over samples) is below ``threshold``."""
    return [sum(v < threshold for v in e["mean"]) / len(e["mean"]) for e in entries]


def _epochs(entries: list) -> list:
    """The per-epoch entries of a KAF log (the per-batch ones left out)."""
    return [e for e in entries if e["kind"] == "epoch"]


def last_epoch_ratio(entries: list) -> float:
    """Mean λ over keypoints at the last epoch over that at the epoch before (NaN with one epoch):
    well below 1, λ is still on its way down when training stops. (The mean, not the median: when
    the 68 face keypoints go one way and the rest the other, the median is a face keypoint's.)"""
    epochs = _epochs(entries)
    if len(epochs) < 2:
        return float("nan")
    return statistics.fmean(epochs[-1]["mean"]) / statistics.fmean(epochs[-2]["mean"])


def low_fraction_rise(entries: list, threshold: float = LOW_LAMBDA) -> float:
    """How much the fraction of keypoints with λ < ``threshold`` grew over the last epoch (NaN with one)."""
    epochs = _epochs(entries)
    if len(epochs) < 2:
        return float("nan")
    below = fraction_below(epochs[-2:], threshold)
    return below[1] - below[0]


def final_part_lambda(entries: list, parts=PARTS) -> dict:
    """Per part, the mean λ of the last logged epoch."""
    last = _epochs(entries)[-1]
    return {name: statistics.fmean(last["mean"][k] for k in idx) for name, idx in parts.items()}


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"spearman needs two sequences of the same length >= 2, got {len(x)} and {len(y)}")
    rx, ry = _ranks(x), _ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return float("nan") if sx == 0 or sy == 0 else sxy / (sx * sy)


def _ranks(values) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def noise_correlation(entries: list, noise: str, injected: dict | None = None, *, unit: str = "heatmap_px") -> float:
    """Spearman ρ between the final per-part λ and the part's injected noise: relative to the part's
    size (the noise parameters; NaN for uniform noise), or, given ``injected`` (the content of
    ``injected_noise.json``), the measured noise in ``unit`` (``heatmap_px``, or ``relative`` to the
    part's size). A noise variant without part levels (``coco``) needs ``injected``: NaN without it."""
    lam = final_part_lambda(entries)
    if injected is not None:
        levels = {f"noise_{p}": injected[noise][p][unit] for p in NOISE_PARTS}
    elif noise_params(noise).get("noise_kind", "part") != "part":
        return float("nan")
    else:
        levels = noise_params(noise)
    return spearman([lam[p] for p in NOISE_PARTS], [levels[f"noise_{p}"] for p in NOISE_PARTS])


def push_correlation(push: dict) -> float:
    """Spearman ρ over the labelled keypoints between λ and the push measured with it (``kaf_push.json``);
    −1: the more a keypoint's data term pushes λ towards MSE, the lower its λ."""
    keep = [k for k, share in enumerate(push["labelled"]) if share > 0]
    return spearman([push["lambda"][k] for k in keep], [push["push"][k] for k in keep])


def part_push(push: dict, parts=PARTS) -> dict:
    """Per part, the mean over its keypoints of the mean push (``kaf_push.json``)."""
    return {name: statistics.fmean(push["push"][k] for k in idx) for name, idx in parts.items()}


def barrier_weight(variant: str) -> float:
    """The log-barrier's c in a KAF variant (0 without the barrier)."""
    return float(KAF_VARIANTS[variant].get("model.head.loss.lambda_barrier", 0.0))


def barrier_error(push: dict, c: float) -> float:
    """Median over labelled keypoints of |λ − λ*(Δ)| / λ*(Δ), λ* the barrier's equilibrium for the
    keypoint's mean push (:func:`fowkal.studies.kaf_push.barrier_equilibrium`)."""
    errors = []
    for lam, delta, share in zip(push["lambda"], push["push"], push["labelled"]):
        if share > 0:
            predicted = barrier_equilibrium(delta, c)
            errors.append(abs(lam - predicted) / predicted)
    return statistics.median(errors)


def _mean_sd(values) -> tuple[float, float, int]:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return float("nan"), float("nan"), 0
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else float("nan")), len(values)


def summary(runs: list[dict], injected: dict | None = None) -> list[dict]:
    """One row per (noise, method, variant): seeds, ρ (mean, sd), final λ per part, fraction < 0.05, AP;
    with ``injected`` (``injected_noise.json``) also ``rho_px``, ρ against the noise in heatmap pixels.
    The runs of :data:`PIXEL_VARIANTS` (another heatmap geometry) are left out: see :func:`pixel_scale`."""
    from .ablation import record_ap

    groups: dict = {}
    for run in runs:
        if run["variant"] in PIXEL_VARIANTS:
            continue
        groups.setdefault((run["noise"], run["method"], run["variant"]), []).append(run)
    rows = []
    for (noise, method, variant), members in groups.items():
        relative = injected is not None and noise_params(noise).get("noise_kind", "part") != "part" \
            and "relative" in injected.get(noise, {}).get("body", {})
        rho = _mean_sd([noise_correlation(r["kaf_log"], noise, injected, unit="relative") if relative
                        else noise_correlation(r["kaf_log"], noise) for r in members])
        finals = [final_part_lambda(r["kaf_log"]) for r in members]
        low = [fraction_below(r["kaf_log"])[-1] for r in members]
        rho_px = _mean_sd([noise_correlation(r["kaf_log"], noise, injected) for r in members]) if injected \
            else (float("nan"),) * 3
        rows.append(dict(
            noise=noise, method=method, variant=variant, seeds=sorted(r["seed"] for r in members),
            rho=rho[0], rho_sd=rho[1], n=len(members), rho_px=rho_px[0],
            final_lambda={p: statistics.fmean(f[p] for f in finals) for p in NOISE_PARTS},
            low_fraction=statistics.median(low),
            last_epoch_ratio=statistics.median(last_epoch_ratio(r["kaf_log"]) for r in members),
            low_fraction_rise=statistics.median(low_fraction_rise(r["kaf_log"]) for r in members),
            # Fig. 5's reading: the face is the part closest to AWing
            face_highest=sum(max(f, key=f.get) == "face" for f in finals) / len(finals),
            ap={p: statistics.fmean(record_ap(r["record"], p) for r in members)
                for p in ("wholebody", "body", "foot", "face", "hand")},
            ap_sd={p: (statistics.stdev(record_ap(r["record"], p) for r in members) if len(members) > 1
                       else float("nan")) for p in ("wholebody", "body", "foot", "face", "hand")},
            **_push_summary([r["push"] for r in members if r.get("push")], variant)))
    return rows


def pixel_scale(runs: list[dict], variant: str = "heatmap32", method: str = "fowkal", noise: str = "default") -> dict:
    """Is the face's λ high because of its pixel scale? The paper's loss at the profile's 64x48 and at
    ``variant``'s geometry, same benchmark, paired by seed: per geometry the seeds, the final λ per part
    (seed means), how many seeds have the face highest, and the face's λ over the mean of the other parts
    (per seed) -> dict(geometry -> dict(seeds, final_lambda, face_highest, face_ratio))."""
    out = {}
    for label, wanted in (("64x48", "paper"), ("32x24", variant)):
        members = sorted((r for r in runs if (r["noise"], r["method"], r["variant"]) == (noise, method, wanted)),
                         key=lambda r: r["seed"])
        finals = [final_part_lambda(r["kaf_log"]) for r in members]
        out[label] = dict(
            seeds=[r["seed"] for r in members],
            final_lambda={p: statistics.fmean(f[p] for f in finals) for p in NOISE_PARTS} if finals else {},
            face_highest=sum(max(f, key=f.get) == "face" for f in finals),
            face_ratio=[f["face"] / statistics.fmean(f[p] for p in NOISE_PARTS if p != "face") for f in finals])
    return out


def _push_summary(pushes: list[dict], variant: str) -> dict:
    """The push columns of a summary row (NaN/None when no run of the setting has its push measured)."""
    if not pushes:
        return dict(n_push=0, rho_push=float("nan"), rho_push_sd=float("nan"), part_push=None,
                    barrier_error=float("nan"))
    rho = _mean_sd([push_correlation(p) for p in pushes])
    per_part = [part_push(p) for p in pushes]
    c = barrier_weight(variant)
    return dict(n_push=len(pushes), rho_push=rho[0], rho_push_sd=rho[1],
                part_push={name: statistics.fmean(pp[name] for pp in per_part) for name in NOISE_PARTS},
                barrier_error=statistics.median(barrier_error(p, c) for p in pushes) if c else float("nan"))


def verdict(rows: list[dict], method: str, variant: str) -> dict:
    """The module's rule (see its docstring) for one (method, KAF variant)."""
    by_noise = {r["noise"]: r for r in rows if r["method"] == method and r["variant"] == variant}
    if not by_noise:
        raise ValueError(f"no study rows for method {method!r}, variant {variant!r}")
    # collapse is a property of each run, judged on whatever noise was run; the ordering needs two noises
    collapsed = statistics.median(r["low_fraction"] for r in by_noise.values()) >= COLLAPSED_FRACTION
    ratio = statistics.median(r["last_epoch_ratio"] for r in by_noise.values())
    rise = statistics.median(r["low_fraction_rise"] for r in by_noise.values())
    state = "collapsed" if collapsed else ("collapsing" if ratio < FALLING or rise >= RISING else "stable")
    coco = dict(rho_coco=by_noise["coco"]["rho"] if "coco" in by_noise else float("nan"),
                coco_ordering=_ordering(by_noise["coco"]["rho"]) if "coco" in by_noise else "not run")
    if "default" not in by_noise or "reverse" not in by_noise:
        return dict(method=method, variant=variant, collapsed=collapsed, state=state, last_epoch_ratio=ratio,
                    ordering="incomplete", **coco,
                    seeds=min(r["n"] for r in by_noise.values()),
                    reason=f"runs on {' and '.join(sorted(by_noise))} noise only; the ordering needs default and reverse")
    rho_default, rho_reverse = by_noise["default"]["rho"], by_noise["reverse"]["rho"]
    orderings = {_ordering(rho_default), _ordering(rho_reverse)}
    ordering = orderings.pop() if len(orderings) == 1 else "unrelated"  # both benchmarks must agree
    seeds = min(r["n"] for r in by_noise.values())
    return dict(method=method, variant=variant, collapsed=collapsed, state=state, last_epoch_ratio=ratio,
                ordering=ordering, **coco,
                rho_default=rho_default, rho_reverse=rho_reverse, seeds=seeds,
                reason="" if seeds >= 2 else "fewer than 2 seeds")


def _ordering(rho: float) -> str:
    """One benchmark's reading of a mean ρ(λ, noise): the paper's (≤ −0.6), its opposite (≥ +0.6) or neither
    (NaN, an undefined ρ, is neither)."""
    return "follows noise" if rho <= -FOLLOWS else "against noise" if rho >= FOLLOWS else "unrelated"


def _fmt(value, digits=2, signed=True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def lambda_markdown(rows: list[dict]) -> str:
    """Per setting: ρ, the final λ per part (3 significant digits: it spans decades), the fraction of
    keypoints below 0.05 and how often the face is the part closest to AWing."""
    lines = ["| noise | method | variant | seeds | ρ | ρ px | λ body | λ foot | λ face | λ hand | λ<0.05 | face top |",
             "|" + "---|" * 12]
    for r in rows:
        rho = _fmt(r["rho"]) + ("" if math.isnan(r["rho_sd"]) else f" ± {r['rho_sd']:.2f}")
        lam = [f"{r['final_lambda'][p]:.3g}" for p in NOISE_PARTS]
        lines.append(f"| {r['noise']} | {r['method']} | {r['variant']} | {r['n']} | {rho} | {_fmt(r['rho_px'])} | "
                     + " | ".join(lam)
                     + f" | {r['low_fraction']:.2f} | {r['face_highest'] * r['n']:.0f}/{r['n']} |")
    return "\n".join(lines)


def ap_markdown(rows: list[dict]) -> str:
    """Per setting: AP (%, ground-truth boxes), mean ± sample sd over seeds."""
    names = ("wholebody", "body", "foot", "face", "hand")
    lines = ["| noise | method | KAF variant | seeds | " + " | ".join(f"AP {p}" for p in names) + " |",
             "|" + "---|" * (4 + len(names))]
    for r in rows:
        cells = [f"{r['ap'][p]:.1f}" + ("" if math.isnan(r["ap_sd"][p]) else f" ± {r['ap_sd'][p]:.1f}") for p in names]
        lines.append(f"| {r['noise']} | {r['method']} | {r['variant']} | {r['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(rows: list[dict]) -> str:
    """The tables: λ per setting, AP per setting and, where measured, the push per setting."""
    pushes = push_markdown(rows)
    return lambda_markdown(rows) + "\n\n" + ap_markdown(rows) + ("\n\n" + pushes if pushes.count("\n") > 1 else "")


def verdicts(rows: list[dict]) -> list[dict]:
    """The verdict of every (method, variant) that has runs, in the study's order."""
    variants = list(KAF_VARIANTS)
    pairs = sorted({(r["method"], r["variant"]) for r in rows}, key=lambda mv: (mv[0], variants.index(mv[1])))
    return [verdict(rows, m, v) for m, v in pairs]


def verdict_markdown(rows: list[dict]) -> str:
    lines = ["| method | KAF variant | ρ default | ρ reverse | λ state | mean λ, last epoch × | λ ordering | ρ coco "
             "| coco ordering | seeds |", "|---|---|---|---|---|---|---|---|---|---|"]
    for v in verdicts(rows):
        note = f" ({v['reason']})" if v["reason"] else ""
        lines.append(f"| {v['method']} | {v['variant']} | {_fmt(v.get('rho_default'))} | "
                     f"{_fmt(v.get('rho_reverse'))} | {v['state']} | {_fmt(v['last_epoch_ratio'], signed=False)} | "
                     f"{v['ordering']}{note} | {_fmt(v['rho_coco'])} | {v['coco_ordering']} | {v.get('seeds', 0)} |")
    return "\n".join(lines)


def push_response(rows: list[dict], method: str, variant: str, injected: dict, *, base: str = "default",
                  other: str = "reverse") -> dict | None:
    """Does the noise move the push? Per part, from noise ``base`` to ``other``: the ratio of the
    measured label noise (heatmap px, ``injected_noise.json``) and the ratio of the mean push (seed
    means). None unless both settings have measured pushes."""
    found = {r["noise"]: r for r in rows if r["method"] == method and r["variant"] == variant and r["n_push"]}
    if base not in found or other not in found:
        return None
    return {part: dict(noise_ratio=injected[other][part]["heatmap_px"] / injected[base][part]["heatmap_px"],
                       push_ratio=found[other]["part_push"][part] / found[base]["part_push"][part])
            for part in NOISE_PARTS}


def push_markdown(rows: list[dict]) -> str:
    """Per setting with measured pushes: ρ(λ, push) over keypoints, the mean push per part and, with the
    barrier, how far λ is from the barrier's equilibrium for its push."""
    lines = ["| noise | method | variant | measured | ρ(λ, push) | push body | push foot | push face | push hand "
             "| λ vs barrier optimum |", "|" + "---|" * 10]
    for r in rows:
        if not r["n_push"]:
            continue
        rho = _fmt(r["rho_push"]) + ("" if math.isnan(r["rho_push_sd"]) else f" ± {r['rho_push_sd']:.2f}")
        pushes = " | ".join(f"{r['part_push'][p]:.3g}" for p in NOISE_PARTS)
        error = "—" if math.isnan(r["barrier_error"]) else f"{100 * r['barrier_error']:.0f} %"
        lines.append(f"| {r['noise']} | {r['method']} | {r['variant']} | {r['n_push']} | {rho} | {pushes} | {error} |")
    return "\n".join(lines)


def _no_nan(obj):
    """JSON has no NaN: undefined values (ρ on uniform noise, sd of one seed) become null."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_no_nan(v) for v in obj]
    return obj


def write_summary(rows: list[dict], out_dir) -> Path:
    """Write the summary and verdicts (Markdown and JSON) to ``out_dir``; returns the Markdown file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = "## Summary\n\n" + summary_markdown(rows) + "\n\n## Verdict\n\n" + verdict_markdown(rows) + "\n"
    (out / "summary.md").write_text(text)
    data = _no_nan({"rows": rows, "verdicts": verdicts(rows)})
    write_json_atomic(data, out / "summary.json")
    return out / "summary.md"


__all__ = ["BEST_VARIANT", "JUDGED_AGAINST", "STUDY_DIR", "ABLATION_SEEDS", "VARIANT_TITLES", "NOISE_PARTS", "LOW_LAMBDA", "COLLAPSED_FRACTION", "variant_method", "variant_claims", "variant_table", "NOISE_VARIANTS", "KAF_VARIANTS", "SWEEP_NOISES", "SWEEP_RUNS", "VARIANT_RUNS", "STRONG_RUNS", "COCO_RUNS", "PIXEL_RUNS", "PIXEL_VARIANTS", "STUDY_RUNS", "pixel_scale", "noise_params", "record_folder", "plan", "run_study",
           "load_runs", "measure_noise", "write_injected_noise", "fraction_below", "final_part_lambda", "spearman", "noise_correlation",
           "summary", "verdict", "verdicts", "lambda_markdown", "ap_markdown", "summary_markdown", "verdict_markdown", "write_summary",
           "work_folder", "measure_pushes", "push_correlation", "part_push", "barrier_weight", "barrier_error", "push_markdown",
           "push_response", "last_epoch_ratio", "low_fraction_rise"]
