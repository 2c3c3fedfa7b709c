"""The KAF study chapter's sentences and tables (fowkal.studies.kaf_report) and figures (fowkal.viz.kaf_study),
on synthetic runs (test inputs, never results)."""
from __future__ import annotations

import math

import pytest

from fowkal import parts
from fowkal.studies import kaf_report, kaf_study
from fowkal.studies.kaf_report import Study
from test_kaf_study import _entry, _run, push_runs

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def _study(runs, measured=None):
    runs = [r for r in runs if r["variant"] not in kaf_study.PIXEL_VARIANTS]
    return Study(root=None, all_runs=runs, runs=runs, measured=measured or {},
                 rows=kaf_study.summary(runs, measured or None))


def _inverse(noise, scale=1.0):  # λ ordered against the noise: the paper's reading
    levels = kaf_study.noise_params(noise)
    return {p: scale * (0.1 - levels[f"noise_{p}"]) for p in parts.PARTS}


def _fowkal(run, ap):
    metrics = {p: {"AP": ap, "AR": ap} for p in ("wholebody", "body", "foot", "face", "hand")}
    return dict(run, method="fowkal", record={"metrics": {"gt_boxes": metrics}})


def test_verdict_text_states_the_rule_and_the_numbers():
    collapsed = [_fowkal(_run(n, "paper", s, _inverse(n, scale=0.01)), 0.25) for n in ("default", "reverse") for s in (0, 1)]
    follows = [_fowkal(_run(n, "barrier", s, _inverse(n, scale=6)), 0.35) for n in ("default", "reverse") for s in (0, 1)]
    mse = [{"method": "mse", "metrics": {"gt_boxes": {"wholebody": {"AP": ap}}}} for ap in (0.27, 0.29)]
    text = kaf_report.verdict_text(_study(collapsed + follows), mse)
    assert text.startswith("The coco noise has no runs or no measured noise yet")
    assert "**Under the paper's loss the KAF collapses**" in text
    assert f"holds with: {kaf_study.VARIANT_TITLES['barrier']} (fowkal)." in text  # stable and follows the noise
    # the best default variant (barrier, 35.0) against the paper's loss (25.0) and MSE (mean of 27, 29)
    assert "FoWKAL reaches 35.0 whole-body AP with" in text and "against 25.0 with the paper's loss and 28.0 with plain MSE (2 seeds" in text
    assert "ranks the parts inversely to their noise on both benchmarks" in text
    assert kaf_report.verdict_text(_study([]), mse) is None


def test_collapse_and_face_texts_by_hand():
    low = {"body": 0.01, "foot": 0.02, "face": 0.03, "hand": 0.04}  # every keypoint below 0.05
    runs = [dict(_run("default", "paper", s, low)) for s in (0, 1)]
    text = kaf_report.collapse_text(runs)
    # median over the 133 keypoints: the face's 68 of 133 hold the middle -> 0.03
    assert text == "At the end of training: **kal**: 100 % of keypoints below 0.05, median λ 0.03 (2 seeds)."
    assert "kal on default noise 0 of 2" in kaf_report.face_highest_text(kaf_study.summary(runs))  # the hand is highest


def test_noise_table_and_variant_deltas():
    measured = {n: {p: {"heatmap_px": 1.0, "relative": 0.1} for p in kaf_study.NOISE_PARTS} for n in ("default",)}
    table = kaf_report.noise_table_markdown(measured)
    assert "| body | person height" in table and "0.025 (1.00 px) | 0.015 |" in table and "| OKS σ |" in table
    flat = {p: 0.02 for p in parts.PARTS}
    runs = [_fowkal(_run("default", "paper", 0, flat), 0.25), _fowkal(_run("default", "normalised", 0, flat), 0.37)]
    assert "| default | normalised | 1 | +12.0 | +12.0 |" in kaf_report.variant_delta_markdown(kaf_study.summary(runs))
    assert kaf_report.variant_delta_markdown(kaf_study.summary(runs[:1])) == ""


def test_pixel_scale_text_pairs_the_seeds():
    high_face = {"body": 0.01, "foot": 0.01, "face": 0.04, "hand": 0.02}
    flat = {"body": 0.02, "foot": 0.02, "face": 0.02, "hand": 0.02}
    runs = [dict(_run("default", "paper", s, high_face), method="fowkal") for s in (0, 1)]
    assert kaf_report.pixel_scale_text(runs) is None
    runs += [dict(_run("default", "heatmap32", s, flat if s else high_face), method="fowkal") for s in (0, 1)]
    text = kaf_report.pixel_scale_text(runs)
    assert "| 64 × 48 | 2 |" in text and "| 2 of 2 | 3.00, 3.00 |" in text and "| 1 of 2 | 3.00, 1.00 |" in text
    assert "Paired over seeds 0, 1, halving the heatmap changes the face's λ relative to the other parts by -1.00" in text
    assert "The face does not lead in every seed at both sizes" in text


def test_push_response_sums_up_the_ratios():
    runs, measured = push_runs()
    table, sentence = kaf_report.push_response(kaf_study.summary(runs), measured)
    assert "| reverse | kal | paper | 0.67 / 1.00 | 0.30 / 1.00 | 4.00 / 1.50 | 1.60 / 1.00 |" in table
    # the push rises with the noise only for the face (1.5 > 1); body, foot, hand stay at 1.0 (not > 1)
    assert sentence.startswith("The push moves in the noise's direction in 3 of 4 (part, setting) pairs, by at most a factor 1.50")
    assert "differ by a factor 3.0–3.0" in sentence  # 0.06 / 0.02
    assert kaf_report.push_response(kaf_study.summary(runs), {}) is None


def test_records_of_a_study_folder(tmp_path):
    study = kaf_report.load_study(tmp_path / "absent")
    assert (study.all_runs, study.rows, study.measured) == ([], [], {})
    assert study.measured_file == tmp_path / "absent" / "kaf-study" / "injected_noise.json"


# --------------------------------------------------------------------------- figures
def test_figures_draw_every_group():
    import matplotlib.pyplot as plt

    from fowkal.viz import kaf_study as figures

    falling = [_run(n, "paper", s, _inverse(n, scale=0.01)) for n in ("default", "reverse") for s in (0, 1)]
    fig = figures.lambda_dynamics(falling, lambda r: r["noise"])
    titled = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert titled == ["default", "reverse", "fraction of keypoints with λ < 0.05"]
    plt.close(fig)
    fig = figures.sweep_figure(falling, ["kal"])
    assert len(fig.axes) == 2 and "kal, default noise\n2 seeds; ρ = " in fig.axes[0].get_title()
    plt.close(fig)
    assert figures.push_scatter(falling) is None  # no push measured
    mse = [1.0] * parts.NUM_KEYPOINTS
    logged = [dict(r, kaf_log=[dict(e, awing=[2.0] * parts.NUM_KEYPOINTS, mse=mse) if e["kind"] == "epoch" else e
                               for e in r["kaf_log"]]) for r in falling[:2]]
    fig = figures.push_dynamics(logged, lambda r: r["method"])
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel().startswith("push")
    plt.close(fig)
    assert len(kaf_report.runs_with_push_log(logged)) == 2 and kaf_report.runs_with_push_log(falling) == []
