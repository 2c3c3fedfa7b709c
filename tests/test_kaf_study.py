"""The KAF noise study (fowkal.studies.kaf_study): variants, measures, the verdict rule, resumable runs."""
import json
import math
from pathlib import Path

import pytest
from scipy import stats

from fowkal.studies import kaf_study
from fowkal import parts
from fowkal.data import DEFAULT_PARAMS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("x, y", [([1, 2, 3, 4], [10, 20, 30, 40]), ([4, 3, 2, 1], [1, 2, 3, 5]),
                                  ([0.3, 0.1, 0.1, 0.5], [2, 2, 7, 1]), ([5, 1, 4, 2, 3], [1, 1, 2, 2, 3])])
def test_spearman_matches_scipy_with_ties(x, y):
    assert kaf_study.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


def test_spearman_of_a_constant_is_nan_and_bad_lengths_are_named():
    assert math.isnan(kaf_study.spearman([1, 2, 3], [2, 2, 2]))
    with pytest.raises(ValueError, match="same length"):
        kaf_study.spearman([1, 2], [1, 2, 3])


def test_noise_variants_reverse_and_uniform():
    default, reverse, uniform = (kaf_study.noise_params(n) for n in ("default", "reverse", "uniform"))
    assert default == {f"noise_{p}": DEFAULT_PARAMS[f"noise_{p}"] for p in kaf_study.NOISE_PARTS}
    names = kaf_study.NOISE_PARTS
    # the reverse variant ranks the parts exactly the other way round, with the same levels
    assert stats.spearmanr([default[f"noise_{p}"] for p in names], [reverse[f"noise_{p}"] for p in names]).statistic == -1
    assert sorted(default.values()) == sorted(reverse.values())
    assert len(set(uniform.values())) == 1
    with pytest.raises(ValueError, match="unknown noise variant 'loud'"):
        kaf_study.noise_params("loud")


def test_record_folders_and_run_order(tmp_path):
    assert kaf_study.record_folder(tmp_path, "default", "kal", "paper", 2) == tmp_path / "cpu" / "kal" / "seed2"
    assert kaf_study.record_folder(tmp_path, "reverse", "fowkal", "barrier", 0) == \
        tmp_path / "kaf-study" / "reverse" / "fowkal-barrier" / "seed0"
    order = kaf_study.plan([0, 1])
    sweep = len(kaf_study.SWEEP_RUNS)
    assert len(order) == 2 * len(kaf_study.STUDY_RUNS)
    # the sweep at every seed first, then the variants, then the strong noise; each seed-major
    assert [s for *_, s in order[:2 * sweep]] == [0] * sweep + [1] * sweep
    assert all(v == "paper" for _, _, v, _ in order[:2 * sweep])
    variants = len(kaf_study.VARIANT_RUNS)
    assert [(n, m, v) for n, m, v, _ in order[2 * sweep:2 * (sweep + variants)]] == kaf_study.VARIANT_RUNS * 2
    assert [(n, m, v, s) for n, m, v, s in order[2 * (sweep + variants):]] == \
        [r + (s,) for s in (0, 1) for r in kaf_study.STRONG_RUNS + kaf_study.COCO_RUNS + kaf_study.PIXEL_RUNS]
    with pytest.raises(ValueError, match="unknown study run"):
        kaf_study.plan([0], [("default", "kal", "nonsense")])


def _entry(kind, epoch, it, part_values):
    mean = [0.0] * parts.NUM_KEYPOINTS
    for name, idx in parts.PARTS.items():
        for k in idx:
            mean[k] = part_values[name]
    return {"kind": kind, "epoch": epoch, "iter": it, "mean": mean, "std": [0.0] * parts.NUM_KEYPOINTS, "n": 4}


def _run(noise, variant, seed, final, ap=0.5):
    start = {p: 0.5 for p in parts.PARTS}
    log = [_entry("iter", 1, 1, start), _entry("epoch", 1, 10, start), _entry("epoch", 2, 20, final)]
    metrics = {p: {"AP": ap, "AR": ap} for p in ("wholebody", "body", "foot", "face", "hand")}
    return dict(noise=noise, method="kal", variant=variant, seed=seed, kaf_log=log,
                record={"metrics": {"gt_boxes": metrics}})


def test_measures_by_hand():
    run = _run("default", "paper", 0, {"body": 0.01, "foot": 0.02, "face": 0.3, "hand": 0.04})
    # 17 + 6 + 42 keypoints below 0.05, the 68 face ones not
    assert kaf_study.fraction_below(run["kaf_log"]) == [0.0, 0.0, pytest.approx(65 / 133)]
    # default noise ranks foot > body > hand > face; λ ranks face > hand > foot > body
    assert kaf_study.noise_correlation(run["kaf_log"], "default") == pytest.approx(
        stats.spearmanr([0.025, 0.04, 0.01, 0.015], [0.01, 0.02, 0.3, 0.04]).statistic)


def test_verdict_rule():
    def inverse(noise, scale=1.0):  # λ ordered against the noise: the paper's reading
        levels = kaf_study.noise_params(noise)
        return {p: scale * (0.1 - levels[f"noise_{p}"]) for p in parts.PARTS}

    follows = [_run(n, "barrier", s, inverse(n)) for n in ("default", "reverse") for s in (0, 1)]
    collapsed = [_run(n, "paper", s, inverse(n, scale=0.01)) for n in ("default", "reverse") for s in (0, 1)]
    fixed = {"body": 0.004, "foot": 0.003, "face": 0.006, "hand": 0.002}  # the same order whatever the noise
    unrelated = [_run(n, "no_reg", s, fixed) for n in ("default", "reverse") for s in (0, 1)]
    only_default = [_run("default", "detached", 0, fixed)]
    rows = kaf_study.summary(follows + collapsed + unrelated + only_default)
    barrier = {r["noise"]: r for r in rows if r["variant"] == "barrier"}
    assert barrier["default"]["face_highest"] == 1.0  # the face is the least noisy part by default
    assert barrier["reverse"]["face_highest"] == 0.0  # and the noisiest in reverse
    v = kaf_study.verdict(rows, "kal", "barrier")
    assert (v["ordering"], v["collapsed"], v["seeds"]) == ("follows noise", False, 2)
    assert v["state"] == "collapsing"  # 0.5 at epoch 1, ≤ 0.1 at epoch 2: still on its way down
    assert v["rho_default"] == pytest.approx(-1.0) and v["rho_reverse"] == pytest.approx(-1.0)
    v = kaf_study.verdict(rows, "kal", "paper")
    assert (v["ordering"], v["collapsed"]) == ("follows noise", True)
    v = kaf_study.verdict(rows, "kal", "no_reg")
    assert v["ordering"] == "unrelated" and v["collapsed"] is True
    assert v["rho_default"] * v["rho_reverse"] < 0  # a fixed order agrees with one noise, not both
    v = kaf_study.verdict(rows, "kal", "detached")  # one noise: collapse judged, ordering not
    assert (v["ordering"], v["collapsed"], v["seeds"]) == ("incomplete", True, 1)
    assert "default noise only" in v["reason"]
    with pytest.raises(ValueError, match="'kal'.*'normalised'"):
        kaf_study.verdict(rows, "kal", "normalised")
    assert (v["coco_ordering"], math.isnan(v["rho_coco"])) == ("not run", True)
    text = kaf_study.verdict_markdown(rows)
    assert "| kal | barrier | -1.00 | -1.00 | collapsing | 0.15 | follows noise | — | not run | 2 |" in text


def test_coco_ordering_reads_the_measured_relative_noise():
    # coco has no part levels: its ρ comes from the measured noise relative to each part's size
    relative = {"body": 0.02, "foot": 0.5, "face": 0.07, "hand": 0.15}
    injected = {n: {p: {"relative": v, "heatmap_px": v, "n": 1} for p, v in relative.items()}
                for n in ("coco", "default")}
    follows = {p: 1.0 - v for p, v in relative.items()}  # cleaner part, higher λ: the paper's premise
    against = {p: v for p, v in relative.items()}
    middle = {"body": 0.3, "foot": 0.4, "face": 0.1, "hand": 0.2}  # ρ = +0.4: neither
    runs = ([_run("coco", "paper", s, follows) for s in (0, 1)] + [_run("coco", "barrier", 0, against)]
            + [_run("coco", "normalised", 0, middle), _run("default", "normalised", 0, middle)])
    rows = kaf_study.summary(runs, injected)
    got = {v["variant"]: v for v in kaf_study.verdicts(rows)}
    assert got["paper"]["rho_coco"] == pytest.approx(-1.0) and got["paper"]["coco_ordering"] == "follows noise"
    assert got["barrier"]["coco_ordering"] == "against noise"
    assert got["normalised"]["rho_coco"] == pytest.approx(0.4) and got["normalised"]["coco_ordering"] == "unrelated"
    assert got["normalised"]["ordering"] == "incomplete"  # coco does not stand in for the reverse benchmark
    assert "| +0.40 | unrelated | 1 |" in kaf_study.verdict_markdown(rows)
    # without the measured noise coco's ρ is undefined: neither reading, never a silent "follows"
    assert kaf_study.verdicts(kaf_study.summary(runs))[0]["coco_ordering"] == "unrelated"


@pytest.mark.slow
def test_study_runs_resume_and_measure(tmp_path):
    import papermill

    from fowkal.data import make_benchmark

    bench = make_benchmark(tmp_path / "bench", seed=0, workers=1, train_images=8, val_images=3)
    runs = [("default", "kal", "paper"), ("strong", "fowkal", "normalised")]
    kwargs = dict(seeds=[0], runs_root=tmp_path / "runs", work_root=tmp_path / "work", runs=runs, epochs=1,
                  max_iters=2, data_roots={"default": bench, "strong": bench},
                  notebook=ROOT / "notebooks" / "train.ipynb")
    folders = kaf_study.run_study(**kwargs)
    assert folders[0] == tmp_path / "runs" / "cpu" / "kal" / "seed0"
    study = json.loads((folders[1] / "study.json").read_text())
    assert study["variant"] == "normalised" and study["noise_params"]["noise_face"] == 0.16
    # the record folder holds data only: the record names the variant's overrides and regenerates the
    # config that trained (MMEngine's dump stays in the work dir, never beside the record)
    from fowkal.runs import record as run_record
    from fowkal.runs.runconfig import regenerated_sha256

    record = run_record.load(folders[1])
    assert record["config"]["overrides"] == {"model.head.loss.term_normalisation": "batch"}
    assert regenerated_sha256(record) == record["config"]["sha256"]
    assert "term_normalisation='batch'" in (tmp_path / "work" / "strong" / "fowkal-normalised" / "seed0"
                                            / "config.py").read_text()
    assert sorted(p.name for p in folders[1].iterdir()) == ["curve_log.json", "kaf_log.json", "loss_curve.json",
                                                            "loss_log.json", "run_record.json", "study.json"]
    logged = []
    kaf_study.run_study(**kwargs, log=logged.append)  # everything is there: nothing trains
    assert len(logged) == 2 and all("record exists, skipped" in line for line in logged)
    loaded = kaf_study.load_runs(tmp_path / "runs", [0], runs)
    assert [(r["noise"], r["variant"]) for r in loaded] == [("default", "paper"), ("strong", "normalised")]
    out = tmp_path / "study-out.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "kaf_study.ipynb"), str(out), progress_bar=False,
                               parameters=dict(runs_root=str(tmp_path / "runs"), seeds="0", run_missing=False),
                               cwd=str(tmp_path), kernel_name="python3")
    summary = json.loads((tmp_path / "runs" / "kaf-study" / "summary.json").read_text())
    assert {(r["noise"], r["variant"]) for r in summary["rows"]} >= {("default", "paper"), ("strong", "normalised")}
    # a record in the wrong folder is refused, not measured as another variant
    wrong = tmp_path / "runs" / "kaf-study" / "strong" / "fowkal-barrier" / "seed0"
    wrong.parent.mkdir(parents=True)
    import shutil
    shutil.copytree(folders[1], wrong)
    with pytest.raises(ValueError, match="variant 'barrier' needs model.head.loss.lambda_barrier"):
        kaf_study.load_runs(tmp_path / "runs", [0], [("strong", "fowkal", "barrier")])

    # the push on λ, measured with each run's final checkpoint, beside its record
    push_kwargs = dict(seeds=[0], runs_root=tmp_path / "runs", work_root=tmp_path / "work", runs=runs, batches=1)
    written = kaf_study.measure_pushes(**push_kwargs)
    assert [w.parent for w in written] == folders
    kal = json.loads(written[0].read_text())
    assert len(kal["push"]) == len(kal["lambda"]) == 133 and kal["samples"] > 0 and kal["measured_at"]["commit"]
    assert all(0 < v < 1 for v in kal["lambda"]) and all(0 <= v <= 1 for v in kal["labelled"])
    # KAL's push is ℓ^AW − ℓ^MSE itself (autograd through the loss, undone batch and part means)
    assert kal["push"] == pytest.approx([a - m for a, m in zip(kal["awing"], kal["mse"])], rel=1e-5, abs=1e-7)  # float32
    assert max(kal["push"]) > 0
    # the normalised variant pushes with the difference of shares: of either sign, not ℓ^AW − ℓ^MSE
    normalised = json.loads(written[1].read_text())
    assert normalised["push"] != pytest.approx([a - m for a, m in zip(normalised["awing"], normalised["mse"])], abs=1e-6)
    assert kaf_study.measure_pushes(**push_kwargs) == []  # measured once
    rows = kaf_study.summary(kaf_study.load_runs(tmp_path / "runs", [0], runs))
    # (after 2 Adam steps λ can still be equal for every keypoint: ρ is then undefined, NaN)
    assert all(r["n_push"] == 1 and (math.isnan(r["rho_push"]) or -1 <= r["rho_push"] <= 1) for r in rows)
    # a work dir another run has trained in since is not taken for the record's
    written[0].unlink()
    config = tmp_path / "work" / "default" / "kal-paper" / "seed0" / "config.py"
    config.write_text(config.read_text() + "retrained = True\n")  # (a comment would not change the config)
    logged = []
    assert kaf_study.measure_pushes(**push_kwargs, log=logged.append) == []
    assert any("is not the record's config" in line for line in logged)


def test_measure_noise_sees_only_the_noisy_part(tmp_path):
    from fowkal.data import make_benchmark

    quiet = {f"noise_{p}": 0.0 for p in kaf_study.NOISE_PARTS}
    clean = make_benchmark(tmp_path / "clean", seed=0, workers=1, train_images=6, val_images=1, **quiet)
    noisy = make_benchmark(tmp_path / "noisy", seed=0, workers=1, train_images=6, val_images=1,
                           **dict(quiet, noise_face=0.05))
    measured = kaf_study.measure_noise(noisy, clean)
    assert measured["face"]["n"] > 0 and measured["face"]["image_px"] > 0.1
    assert measured["face"]["heatmap_px"] < measured["face"]["image_px"]  # a crop is smaller than the image
    assert all(measured[p]["image_px"] == 0.0 for p in ("body", "foot", "hand"))
    other = make_benchmark(tmp_path / "other", seed=1, workers=1, train_images=6, val_images=1, **quiet)
    with pytest.raises(ValueError, match="not the noise-free twin"):
        kaf_study.measure_noise(noisy, other)


def test_kaf_positions_put_epoch_means_mid_epoch():
    from fowkal.runs.logs import kaf_part_means, kaf_positions, kaf_series

    start = {p: 0.5 for p in parts.PARTS}
    log = [_entry("iter", 1, 1, start), _entry("iter", 1, 15, dict(start, face=0.1)),
           _entry("epoch", 1, 20, dict(start, face=0.3)), _entry("epoch", 2, 40, dict(start, face=0.05))]
    assert kaf_positions(log) == [1.0, 15.0, 10.0, 30.0]
    xs, ordered = kaf_series(log)
    assert xs == [1.0, 10.0, 15.0, 30.0] and [e["iter"] for e in ordered] == [1, 20, 15, 40]
    xs, face = kaf_part_means(log)["face"]
    assert xs == [1.0, 10.0, 15.0, 30.0] and face == pytest.approx([0.5, 0.3, 0.1, 0.05])


def test_write_injected_noise_measures_every_variant(tmp_path, monkeypatch):
    import fowkal.data
    from fowkal.data import make_benchmark

    made = {}

    def tiny_benchmark(**params):  # stands in for the cached full-size benchmarks
        key = tuple(sorted(params.items()))
        if key not in made:
            made[key] = make_benchmark(tmp_path / f"b{len(made)}", seed=0, workers=1, train_images=4, val_images=1,
                                       **params)
        return made[key]

    monkeypatch.setattr(fowkal.data, "default_benchmark", tiny_benchmark)
    out = kaf_study.write_injected_noise(tmp_path / "runs")
    injected = json.loads(out.read_text())
    assert set(injected) == set(kaf_study.NOISE_VARIANTS)
    # a file that has every variant is left as it is; a missing variant is measured and added
    made_before = len(made)
    kaf_study.write_injected_noise(tmp_path / "runs")
    assert len(made) == made_before and json.loads(out.read_text()) == injected
    del injected["strong"]
    out.write_text(json.dumps(injected))
    assert set(json.loads(kaf_study.write_injected_noise(tmp_path / "runs").read_text())) == set(kaf_study.NOISE_VARIANTS)
    # the strong variant: the face is the noisiest part in heatmap pixels too
    strong = json.loads(out.read_text())["strong"]
    assert max(kaf_study.NOISE_PARTS, key=lambda p: strong[p]["heatmap_px"]) == "face"
    # relative to the part's size (measured on the clean twin), the default face noise is its parameter, 0.01
    assert 0.005 < injected["default"]["face"]["relative"] < 0.02
    assert all(math.isfinite(injected["coco"][p]["relative"]) for p in kaf_study.NOISE_PARTS)
    # the face is 4x noisier relative to its size in the reverse variant than by default
    ratio = injected["reverse"]["face"]["image_px"] / injected["default"]["face"]["image_px"]
    assert 3.0 < ratio < 5.0


def test_rho_against_measured_pixel_noise():
    injected = {n: {p: {"heatmap_px": v, "image_px": v, "n": 1} for p, v in zip(kaf_study.NOISE_PARTS, levels)}
                for n, levels in (("default", (0.6, 0.1, 0.04, 0.05)), ("reverse", (0.4, 0.03, 0.16, 0.08)))}
    # λ in the same order as the pixel noise of the default benchmark: body > foot > hand > face
    run = _run("default", "paper", 0, {"body": 0.4, "foot": 0.3, "face": 0.1, "hand": 0.2})
    assert kaf_study.noise_correlation(run["kaf_log"], "default", injected) == pytest.approx(1.0)
    (row,) = kaf_study.summary([run], injected)
    assert row["rho_px"] == pytest.approx(1.0) and row["rho"] == pytest.approx(stats.spearmanr(
        [0.4, 0.3, 0.1, 0.2], [0.025, 0.04, 0.01, 0.015]).statistic)
    assert math.isnan(kaf_study.summary([run])[0]["rho_px"])


def test_barrier_equilibrium_balances_the_push():
    from fowkal.studies.kaf_push import barrier_equilibrium

    c = 0.01
    previous = 1.0
    for push in (-0.5, -0.01, 0.0, 0.001, 0.02, 0.06, 3.0):
        lam = barrier_equilibrium(push, c)
        assert 0 < lam < previous  # more push towards MSE, lower λ
        assert push == pytest.approx(c * (1 / lam - 1 / (1 - lam)), abs=1e-12)  # ∂/∂λ of data + barrier = 0
        previous = lam
    assert barrier_equilibrium(0.0, c) == 0.5 and barrier_equilibrium(100.0, c) == pytest.approx(c / 100, rel=0.03)
    with pytest.raises(ValueError, match="barrier weight c"):
        barrier_equilibrium(0.1, 0.0)
    with pytest.raises(ValueError, match="push must be finite"):
        barrier_equilibrium(float("nan"), c)


def test_push_measures_by_hand():
    k = parts.NUM_KEYPOINTS
    part_of = {i: name for name, idx in parts.PARTS.items() for i in idx}
    base = {"body": 0.06, "foot": 0.045, "face": 0.018, "hand": 0.062}
    push_values = [base[part_of[i]] for i in range(k)]
    from fowkal.studies.kaf_push import barrier_equilibrium

    lam = [barrier_equilibrium(v, 0.01) for v in push_values]  # λ exactly at the barrier's optimum
    push = dict(push=push_values, **{"lambda": lam}, labelled=[1.0] * k, awing=push_values, mse=[0.0] * k)
    assert kaf_study.push_correlation(push) == pytest.approx(-1.0)
    assert kaf_study.part_push(push) == pytest.approx(base)
    assert kaf_study.barrier_error(push, 0.01) == pytest.approx(0.0, abs=1e-12)
    doubled = dict(push, **{"lambda": [2 * v for v in lam]})
    assert kaf_study.barrier_error(doubled, 0.01) == pytest.approx(1.0)
    # unlabelled keypoints (no data, no push) stay out of the correlation
    hidden = dict(push, labelled=[0.0] * 17 + [1.0] * (k - 17), **{"lambda": [0.9] * 17 + lam[17:]})
    assert kaf_study.push_correlation(hidden) == pytest.approx(-1.0)
    run = _run("default", "barrier", 0, {"body": 0.1, "foot": 0.2, "face": 0.3, "hand": 0.05})
    row, = kaf_study.summary([dict(run, push=push)])
    assert row["n_push"] == 1 and row["rho_push"] == pytest.approx(-1.0) and row["barrier_error"] == pytest.approx(0)
    assert kaf_study.barrier_weight("barrier") == 0.01 and kaf_study.barrier_weight("paper") == 0.0
    assert "| default | kal | barrier | 1 | -1.00 | 0.06 | 0.045 | 0.018 | 0.062 | 0 % |" in kaf_study.push_markdown([row])
    without, = kaf_study.summary([dict(run, push=None)])
    assert without["n_push"] == 0 and kaf_study.push_markdown([without]).count("\n") == 1


def test_measure_push_names_missing_inputs(tmp_path):
    from fowkal.studies.kaf_push import measure_push

    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        measure_push(tmp_path / "epoch_3.pth")
    (tmp_path / "epoch_3.pth").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="config not found"):
        measure_push(tmp_path / "epoch_3.pth")


def push_runs():
    """Two KAL runs with the paper's loss (default and reverse noise, seed 0) whose push on λ is one level per
    part, the face's growing by half when its noise quadruples, and the noise measured in each setting."""
    k = parts.NUM_KEYPOINTS
    part_of = {i: name for name, idx in parts.PARTS.items() for i in idx}

    def push_of(levels):
        values = [levels[part_of[i]] for i in range(k)]
        return dict(push=values, **{"lambda": [0.01] * k}, labelled=[1.0] * k, awing=values, mse=[0.0] * k)

    final = {"body": 0.1, "foot": 0.2, "face": 0.3, "hand": 0.05}
    default = {"body": 0.06, "foot": 0.04, "face": 0.02, "hand": 0.06}
    runs = [dict(_run("default", "paper", 0, final), push=push_of(default)),
            dict(_run("reverse", "paper", 0, final), push=push_of(dict(default, face=0.03)))]
    injected = {n: {p: {"heatmap_px": v} for p, v in zip(kaf_study.NOISE_PARTS, levels)}
                for n, levels in (("default", (0.6, 0.1, 0.04, 0.05)), ("reverse", (0.4, 0.03, 0.16, 0.08)))}
    return runs, injected


def test_push_response_compares_two_noises():
    runs, injected = push_runs()
    rows = kaf_study.summary(runs)
    response = kaf_study.push_response(rows, "kal", "paper", injected)
    assert response["face"] == pytest.approx({"noise_ratio": 4.0, "push_ratio": 1.5})
    assert response["body"]["push_ratio"] == pytest.approx(1.0)
    assert kaf_study.push_response(rows, "kal", "barrier", injected) is None
    assert kaf_study.push_response(kaf_study.summary([runs[0]]), "kal", "paper", injected) is None


def test_collapse_states():
    start = {p: 0.5 for p in parts.PARTS}

    def log(*epochs):
        return [_entry("iter", 1, 1, start)] + [_entry("epoch", i + 1, 10 * (i + 1), {p: v for p in parts.PARTS})
                                                 for i, v in enumerate(epochs)]

    assert kaf_study.last_epoch_ratio(log(0.3, 0.15)) == pytest.approx(0.5)
    assert math.isnan(kaf_study.last_epoch_ratio(log(0.3))) and math.isnan(kaf_study.low_fraction_rise(log(0.3)))
    assert kaf_study.low_fraction_rise(log(0.3, 0.06, 0.04)) == pytest.approx(1.0)
    cases = {"paper": (0.05, 0.01), "detached": (0.09, 0.055), "barrier": (0.14, 0.13)}
    runs = []
    for variant, epochs in cases.items():
        for noise in ("default", "reverse"):
            runs.append(dict(_run(noise, variant, 0, start), kaf_log=log(0.3, *epochs)))

    def split(face, rest):  # the face falls towards MSE while the rest rise towards AWing: no collapse
        values = {p: (face if p == "face" else rest) for p in parts.PARTS}
        return _entry("epoch", 0, 0, values)["mean"]

    for noise in ("default", "reverse"):
        entries = log(0.3, 0.3, 0.3)
        entries[-2]["mean"], entries[-1]["mean"] = split(0.02, 0.90), split(0.011, 0.97)
        runs.append(dict(_run(noise, "normalised", 0, start), kaf_log=entries))
    rows = kaf_study.summary(runs)
    states = {v: kaf_study.verdict(rows, "kal", v)["state"] for v in list(cases) + ["normalised"]}
    assert states == {"paper": "collapsed", "detached": "collapsing", "barrier": "stable", "normalised": "stable"}
    assert "| kal | detached | — | — | collapsing | 0.61 |" in kaf_study.verdict_markdown(rows)  # equal λ: ρ undefined
    # a slow fall that pushes many keypoints under 0.05 in the last epoch is collapsing too
    slow = []
    for noise in ("default", "reverse"):
        entries = log(0.3, 0.07, 0.07)
        entries[-1]["mean"] = split(0.04, 0.07)  # mean λ × 0.79 only, but half the keypoints crossed 0.05
        slow.append(dict(_run(noise, "no_reg", 0, start), kaf_log=entries))
    assert kaf_study.verdict(kaf_study.summary(slow), "kal", "no_reg")["state"] == "collapsing"


def test_ap_table_has_seed_spread():
    final = {p: 0.01 for p in parts.PARTS}
    runs = [_run("default", "paper", s, final, ap=ap) for s, ap in enumerate((0.50, 0.54))]
    row, = kaf_study.summary(runs)
    assert row["ap"]["face"] == pytest.approx(52.0) and row["ap_sd"]["face"] == pytest.approx(2.828, abs=1e-3)
    assert "| default | kal | paper | 2 | 52.0 ± 2.8 |" in kaf_study.ap_markdown([row])
    single, = kaf_study.summary(runs[:1])
    assert "| default | kal | paper | 1 | 50.0 | 50.0 |" in kaf_study.ap_markdown([single])


def test_push_part_means_reads_the_data_terms_per_epoch():
    from fowkal.parts import NUM_KEYPOINTS, PARTS
    from fowkal.runs.logs import push_part_means

    awing = [float(k % 7) for k in range(NUM_KEYPOINTS)]
    entries = [{"kind": "iter", "epoch": 1, "iter": 1, "mean": [0.5] * NUM_KEYPOINTS},
               {"kind": "epoch", "epoch": 2, "iter": 20, "mean": [0.2] * NUM_KEYPOINTS, "awing": awing,
                "mse": [0.5] * NUM_KEYPOINTS},
               {"kind": "epoch", "epoch": 1, "iter": 10, "mean": [0.4] * NUM_KEYPOINTS, "awing": [2.0] * NUM_KEYPOINTS,
                "mse": [1.0] * NUM_KEYPOINTS}]
    pushes = push_part_means(entries)
    assert set(pushes) == set(PARTS)
    face = pushes["face"]
    assert face["epochs"] == [1, 2] and face["push"][0] == 1.0
    expected = sum(awing[k] for k in PARTS["face"]) / len(PARTS["face"]) - 0.5
    assert abs(face["push"][1] - expected) < 1e-12 and face["mse"] == [1.0, 0.5]
    # a log from before the terms were logged has no push
    assert push_part_means([{k: v for k, v in e.items() if k not in ("awing", "mse")} for e in entries]) == {}


def test_the_best_variant_is_judged_paired_against_the_ablation():
    from fowkal.studies import ablation

    def record(method, seed, ap, geometry=(48, 64)):
        metrics = {part: {"AP": ap / 100, "AR": ap / 100} for part in ablation.PARTS}
        return {"method": method, "seed": seed, "metrics": {"gt_boxes": metrics},
                "geometry": {"input_size": [96, 128], "heatmap_size": list(geometry), "sigma": 2}}

    seeds = range(5)
    base = {"mse": 50.0, "awing": 53.0, "fowkal": 45.0}
    noise = [0.3, -0.2, 0.1, -0.4, 0.2]
    records = [record(m, s, ap + noise[s]) for m, ap in base.items() for s in seeds]
    # the variant: 2 points over AWing in every seed (plus a per-seed wobble), far over FoWKAL
    runs = [dict(noise="default", method="fowkal", variant="normalised", seed=s,
                 record=record("fowkal", s, 55.0 + noise[s] + 0.1 * (-1) ** s)) for s in seeds]
    table = kaf_study.variant_table(records, runs)
    assert kaf_study.variant_method() == "fowkal_normalised" and table["fowkal_normalised"]["wholebody"]["n"] == 5
    rows = ablation.claims(table, claim_list=kaf_study.variant_claims())
    assert len(rows) == 3 * len(ablation.PARTS)
    verdicts = {(r["worse"], r["part"]): r["verdict"] for r in rows}
    assert verdicts[("awing", "wholebody")] == verdicts[("fowkal", "face")] == ablation.REPRODUCED
    assert all(r["paper_delta"] is None and r["paper_inside"] is None for r in rows)
    assert "fowkal-normalised > mse (wholebody) | — |" in ablation.claims_markdown(table, rows=rows)
    # records of another geometry cannot be paired with the ablation's
    with pytest.raises(ValueError, match="different heatmap geometries"):
        kaf_study.variant_table(records, [dict(runs[0], record=record("fowkal", 0, 55.0, geometry=(24, 32)))])


def test_pixel_scale_compares_the_face_at_both_geometries_and_stays_out_of_the_summary():
    high_face = {"body": 0.01, "foot": 0.01, "face": 0.04, "hand": 0.02}
    flat = {"body": 0.02, "foot": 0.02, "face": 0.02, "hand": 0.02}
    runs = [dict(_run("default", "paper", s, high_face), method="fowkal") for s in (0, 1)]
    runs += [dict(_run("default", "heatmap32", s, flat if s else high_face), method="fowkal") for s in (0, 1)]
    found = kaf_study.pixel_scale(runs)
    assert found["64x48"]["seeds"] == found["32x24"]["seeds"] == [0, 1]
    assert found["64x48"]["face_highest"] == 2 and found["32x24"]["face_highest"] == 1
    assert found["64x48"]["face_ratio"] == pytest.approx([3.0, 3.0])  # 0.04 over the mean of 0.01, 0.01, 0.02
    assert found["32x24"]["face_ratio"] == pytest.approx([3.0, 1.0])
    assert {row["variant"] for row in kaf_study.summary(runs)} == {"paper"}  # the 32x24 runs stay out
    assert kaf_study.KAF_VARIANTS["heatmap32"]["model.head.decoder.heatmap_size"] == [24, 32]


def test_the_notebook_plan_checks_parameters_and_lists_the_missing_runs(tmp_path):
    plan = kaf_study.notebook_plan(seeds="0", runs_root=str(tmp_path))
    assert plan["root"] == tmp_path and plan["seeds"] == [0]
    assert plan["missing"] == kaf_study.plan([0])  # nothing there yet: every run of seed 0
    with pytest.raises(FileNotFoundError, match="parameter 'runs_root'"):
        kaf_study.notebook_plan(runs_root=str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="must be >= 0"):
        kaf_study.notebook_plan(push_batches=-1)
