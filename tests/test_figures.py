"""The book's result figures (fowkal.viz.figures) and the result pages' record handling (fowkal.viz.pages).

Run records here are synthetic dicts in the run-record schema (test inputs, never results); the
result pages are executed as plain scripts (their .py source) with the records folder pointed at
a temporary folder through FOWKAL_RUNS_DIR, so they never touch figures/.
"""
from __future__ import annotations

import json
import runpy
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from fowkal.viz import figures, pages, style  # noqa: E402
from fowkal.parts import BODY, FACE, FOOT, LEFT_HAND, NUM_KEYPOINTS, RIGHT_HAND  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- skeleton
def test_bones_stay_inside_their_parts():
    bones = figures.wholebody_bones()
    assert len(bones["body"]) == 19 and len(bones["foot"]) == 6 and len(bones["hand"]) == 40
    assert all(a in FACE and b in FACE for a, b in bones["face"])
    assert all(a in BODY and b in BODY for a, b in bones["body"])
    assert all(b in FOOT for a, b in bones["foot"])  # each foot keypoint hangs from its ankle
    for a, b in bones["hand"]:
        assert (a in LEFT_HAND and b in LEFT_HAND) or (a in RIGHT_HAND and b in RIGHT_HAND)
    # closed contours: eyes and lips end where they start
    assert (FACE[41], FACE[36]) in bones["face"] and (FACE[59], FACE[48]) in bones["face"]


def test_template_pose_is_a_standing_person_facing_the_viewer():
    xy = figures.template_pose()
    assert xy.shape == (NUM_KEYPOINTS, 2) and np.isfinite(xy).all()
    left, right = 5, 6  # shoulders: the subject's left is on the image's right (COCO)
    assert xy[BODY[left], 0] > 0 > xy[BODY[right], 0]
    assert xy[FACE, 1].max() < xy[BODY[5], 1] < xy[BODY[11], 1] < xy[BODY[13], 1] < xy[BODY[15], 1]
    assert xy[list(FOOT), 1].min() > xy[BODY[15], 1] - 0.2  # feet at the ankles
    # each hand starts at its wrist, the left hand on the left wrist
    assert np.allclose(xy[LEFT_HAND[0]], xy[BODY[9]]) and np.allclose(xy[RIGHT_HAND[0]], xy[BODY[10]])
    # drawn enlarged, the dense parts' keypoints are told apart (no two coincide)
    for idx in (FACE, LEFT_HAND):
        d = np.hypot(*(xy[list(idx)][:, None] - xy[list(idx)][None]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        assert d.min() > 0.01


def test_part_view_frames_the_part():
    xy = figures.template_pose()
    (x0, x1), (y1, y0) = figures.part_view("face", xy)
    face = xy[list(FACE)]
    assert x0 < face[:, 0].min() and x1 > face[:, 0].max() and y0 < face[:, 1].min() and y1 > face[:, 1].max()
    (wx0, wx1), _ = figures.part_view(None, xy)
    assert wx1 - wx0 > 2 * (x1 - x0)


def test_draw_wholebody_draws_the_visible_keypoints_only():
    import matplotlib.pyplot as plt

    xy = figures.template_pose()
    visible = np.ones(NUM_KEYPOINTS, bool)
    visible[list(FACE)] = False
    fig, ax = plt.subplots()
    figures.draw_wholebody(ax, xy, visible=visible)
    drawn = sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets") and c.get_offsets().ndim == 2
                and c.__class__.__name__ == "PathCollection")
    assert drawn == NUM_KEYPOINTS - len(FACE)
    figures.draw_wholebody(ax, xy, values=np.linspace(0, 1, NUM_KEYPOINTS), parts=["hand"])
    plt.close(fig)
    with pytest.raises(ValueError, match="shape"):
        figures.draw_wholebody(ax, xy[:17])
    with pytest.raises(ValueError, match="unknown part"):
        figures.draw_wholebody(ax, xy, parts=["tail"])
    with pytest.raises(ValueError, match="values must have shape"):
        figures.draw_wholebody(ax, xy, values=[1.0, 2.0])


# --------------------------------------------------------------------------- Fig. 1 pieces
def test_topdown_sample_puts_each_target_peak_on_its_keypoint():
    pytest.importorskip("mmpose")
    image = np.full((256, 320, 3), 127, np.uint8)
    xy = np.zeros((NUM_KEYPOINTS, 2), np.float32)
    labelled = np.zeros(NUM_KEYPOINTS, bool)
    xy[BODY[0]], xy[BODY[15]], xy[FACE[30]] = (150, 60), (140, 200), (152, 66)
    labelled[[BODY[0], BODY[15], FACE[30]]] = True
    sample = figures.topdown_sample(image, [100, 40, 100, 180], xy, labelled, **figures.PROFILE_SIZES["cpu"])
    assert sample["crop"].shape == (128, 96, 3) and sample["heatmaps"].shape == (NUM_KEYPOINTS, 64, 48)
    for k in (BODY[0], BODY[15], FACE[30]):
        peak = np.unravel_index(sample["heatmaps"][k].argmax(), (64, 48))
        assert np.allclose(peak[::-1], sample["xy_heatmap"][k], atol=0.51)
    assert sample["heatmaps"][BODY[1]].max() == 0  # unlabelled: no target
    with pytest.raises(ValueError, match="positive width"):
        figures.topdown_sample(image, [0, 0, 0, 10], xy, labelled, **figures.PROFILE_SIZES["cpu"])


# --------------------------------------------------------------------------- Fig. 5 pieces
def _kaf_log(epochs=3, iters=(1, 10), decay=1.0):
    rng = np.random.default_rng(0)
    entries = []
    for it in iters:
        entries.append(dict(kind="iter", epoch=1, iter=it, mean=list(np.full(NUM_KEYPOINTS, 0.5)),
                            std=[0.0] * NUM_KEYPOINTS, n=8))
    for e in range(1, epochs + 1):
        mean = 0.5 * np.exp(-decay * e * rng.uniform(0.5, 1.5, NUM_KEYPOINTS))
        entries.append(dict(kind="epoch", epoch=e, iter=10 * e, mean=list(mean), std=list(0.1 * mean), n=80))
    return entries


def test_check_kaf_entries_sorts_and_rejects_bad_logs():
    log = _kaf_log()
    shuffled = [log[3], log[0], log[2], log[1], log[4]]
    ordered = figures.check_kaf_entries(shuffled)
    # iteration 10's batch comes before epoch 1 (which also ends at iteration 10)
    assert [(e["kind"], e["iter"]) for e in ordered] == [("iter", 1), ("iter", 10), ("epoch", 10), ("epoch", 20),
                                                         ("epoch", 30)]
    with pytest.raises(ValueError, match="non-empty"):
        figures.check_kaf_entries([])
    bad = dict(log[0], mean=[0.5] * 17)
    with pytest.raises(ValueError, match="shape"):
        figures.check_kaf_entries([bad])
    with pytest.raises(ValueError, match="NaN"):
        figures.check_kaf_entries([dict(log[0], std=[float("nan")] * NUM_KEYPOINTS)])
    with pytest.raises(ValueError, match="kind"):
        figures.check_kaf_entries([dict(log[0], kind="step")])
    with pytest.raises(ValueError, match="lacks"):
        figures.check_kaf_entries([{k: v for k, v in log[0].items() if k != "n"}])


def test_choose_snapshots_starts_at_the_first_batch_and_ends_at_the_last_epoch():
    log = _kaf_log(epochs=12)
    chosen = figures.choose_snapshots(log, n=5)
    assert len(chosen) == 5 and chosen[0]["kind"] == "iter" and chosen[0]["iter"] == 1
    assert chosen[-1]["kind"] == "epoch" and chosen[-1]["epoch"] == 12
    assert [e["epoch"] for e in chosen[1:]] == sorted({e["epoch"] for e in chosen[1:]})
    short = figures.choose_snapshots(_kaf_log(epochs=2, iters=(1,)), n=5)
    assert [e["kind"] for e in short] == ["iter", "epoch", "epoch"]


def test_minmax_scales_each_pose_and_keeps_constant_poses_neutral():
    assert np.allclose(figures.minmax([2.0, 4.0, 3.0]), [0.0, 1.0, 0.5])
    assert np.allclose(figures.minmax(np.full(5, 0.5)), 0.5)


def test_fig5_figures_and_explorer_frames():
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, Normalize

    log = _kaf_log(epochs=4, decay=3.0)
    fig = figures.fig5_skeletons(figures.choose_snapshots(log, n=3))
    assert len([ax for ax in fig.axes if ax.get_title()]) == 6  # 3 snapshots x (normalised, absolute)
    plt.close(fig)
    fig = figures.fig5_heatmap(log)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (NUM_KEYPOINTS, len(log))
    plt.close(fig)
    long_log = _kaf_log(epochs=60, decay=3.0)  # a converged run's log: too many points to label each
    fig = figures.fig5_heatmap(long_log)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert fig.axes[0].images[0].get_array().shape == (NUM_KEYPOINTS, len(long_log))
    assert len(long_log) > figures.MAX_FIG5_TICKS >= len(labels) - 1 and len(labels) >= figures.MAX_FIG5_TICKS // 2
    assert labels[0] == figures.kaf_label(long_log[0], short=True)
    assert labels[-1] == figures.kaf_label(long_log[-1], short=True)  # the last point is always named
    plt.close(fig)
    first, last = figures.check_kaf_entries(log)[0], figures.check_kaf_entries(log)[-1]
    a = figures.kaf_frame(first, "all", norm=Normalize(0, 0.6), title="a")
    b = figures.kaf_frame(last, "all", norm=Normalize(0, 0.6), title="a")
    c = figures.kaf_frame(last, "face", norm=LogNorm(1e-6, 0.6), title="a")
    assert a.startswith(PNG) and b.startswith(PNG) and c.startswith(PNG)
    assert len({a, b, c}) == 3


# --------------------------------------------------------------------------- record handling (fowkal.viz.pages)
def _metrics(ap):
    parts = ("body", "foot", "face", "lefthand", "righthand", "hand", "wholebody")
    return {p: {"AP": ap, "AR": min(1.0, ap + 0.05)} for p in parts}


def synthetic_record(method, seed, ap, *, data_root="/nowhere", predictions=None, kaf=False):
    """A run record with the schema's fields (test input, not a result)."""
    return {
        "schema_version": 2, "kind": "fowkal-run", "method": method, "profile": "cpu", "seed": seed,
        "created": "2026-01-01T00:00:00Z",
        "config": {"source": f"fowkal/configs/cpu/{method}.py", "args": {}, "overrides": {}, "run": {},
                   "sha256": "0" * 64},
        "git": {"commit": "abcdef0123456789", "dirty": seed == 1},
        "versions": {"torch": "2.14.1", "mmpose": "1.1.0"}, "device": {"type": "cpu", "processes": 1},
        "machine": {"cpu_count": 2, "platform": "Linux-test"}, "wall_time_s": 60.0 + seed,
        "schedule": {"epochs": 2, "iters": 20, "batch_size": 8},
        "data": {"root": data_root}, "losses": [{"epoch": 1, "iter": 10, "time_s": 5.0, "loss": 0.1}],
        "metrics": {"gt_boxes": _metrics(ap), "detections": _metrics(ap - 0.01)},
        "predictions": predictions or [],
        "files": {"config": "config.py", "kaf_log": "kaf_log.json" if kaf else None, "loss_log": "loss_log.json"},
    }


def write_records(folder: Path, records, kaf_logs=None):
    for record in records:
        out = folder / record["method"] / f"seed{record['seed']}"
        out.mkdir(parents=True)
        (out / "run_record.json").write_text(json.dumps(record))
        if record["files"]["kaf_log"]:
            (out / "kaf_log.json").write_text(json.dumps((kaf_logs or {}).get(record["method"], _kaf_log())))
    return folder


def test_run_records_say_why_there_are_none(tmp_path):
    records, why = pages.run_records(tmp_path / "absent")
    assert records == [] and "does not exist" in why
    records, why = pages.run_records(tmp_path)
    assert records == [] and "holds no" in why
    note = pages.missing_records(why, "Nothing is shown.")
    assert "fowkal-missing" in note and "No run records yet" in note and "papermill notebooks/ablation.ipynb" in note
    write_records(tmp_path, [synthetic_record("mse", 0, 0.5), synthetic_record("mse", 1, 0.6)])
    records, why = pages.run_records(tmp_path)
    assert why is None and [r["seed"] for r in records] == [0, 1]
    assert records[0]["_path"].endswith("mse/seed0/run_record.json")
    (tmp_path / "mse" / "seed1" / "run_record.json").write_text('{"kind": "other"}')
    with pytest.raises(ValueError, match="not a fowkal run record"):
        pages.run_records(tmp_path)


def test_runs_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(pages.RUNS_DIR_ENV, raising=False)
    assert pages.runs_dir() == pages.DEFAULT_RUNS_DIR and pages.writes_figures()
    monkeypatch.setenv(pages.RUNS_DIR_ENV, str(tmp_path))
    assert pages.runs_dir() == tmp_path.resolve() and not pages.writes_figures()


def test_provenance_and_admonition():
    p = pages.provenance(dict(synthetic_record("kal", 1, 0.4), _path=str(REPO / "x" / "run_record.json")))
    assert p["commit"] == "abcdef01 (dirty)" and p["file"] == "x/run_record.json" and "2 CPUs" in p["machine"]
    assert pages.provenance(dict(synthetic_record("kal", 0, 0.4), git=None))["commit"] == "unknown"
    with pytest.raises(ValueError, match="admonition kind"):
        pages.admonition("t", "x", kind="shout")
    assert pages.nbsp("1 ± 2") == "1\u00a0±\u00a02"


# --------------------------------------------------------------------------- the result pages, run as scripts
def _run_page(name, monkeypatch, runs_dir):
    """Execute book/<name>.py (a jupytext percent script); return the Markdown it displayed and
    how many explorers."""
    import IPython.display

    shown = []
    monkeypatch.setenv(pages.RUNS_DIR_ENV, str(runs_dir))
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(objs))
    monkeypatch.setattr("matplotlib.pyplot.show", lambda *a, **k: None)
    # the page's figures/ is an empty folder of this call's own (a build beside it writes the real one)
    written = Path(tempfile.mkdtemp(prefix="figures-"))
    monkeypatch.setattr(style, "FIGURES_DIR", written)
    try:
        runpy.run_path(str(REPO / "book" / f"{name}.py"), run_name="__page__")
        changed = {p.name for p in written.iterdir()}
    finally:
        shutil.rmtree(written)
    assert changed <= {"bench_losses.png"}, f"{name} wrote {changed} into figures/ from test records"
    explorers = sum("fowkal-explorer" in getattr(o, "_dom_classes", ()) for o in shown)
    text = "\n".join(o.data for o in shown if isinstance(getattr(o, "data", None), str))
    return text, explorers


def test_results_page_without_records_says_so(tmp_path, monkeypatch):
    text, _ = _run_page("results", monkeypatch, tmp_path / "none")
    assert text.count("No run records yet") >= 4  # Table 1 ours, Tables 2/3, claims, provenance
    assert "HRNet-w32+DARK+FoWKAL" in text  # the paper's Table 1 is still shown
    assert "| ours |" not in text


def test_results_page_aggregates_the_records(tmp_path, monkeypatch):
    records = [synthetic_record(m, s, ap) for m, base in (("mse", 0.40), ("fowkal", 0.50), ("awing", 0.42))
               for s, ap in ((0, base), (1, base + 0.02), (2, base + 0.04))]
    write_records(tmp_path, records)
    text, _ = _run_page("results", monkeypatch, tmp_path)
    assert "No run records yet" not in text
    # whole-body AP of mse: mean of 40, 42, 44 = 42.0, sample std 2.0
    assert "42.0\u00a0±\u00a02.0" in text
    # fowkal 50, 52, 54 against mse 40, 42, 44, seed by seed: 10, 10, 10, a certain gain; the paper's +3.4
    # lies outside our interval; awing vs mse: 2, 2, 2 on every part (claims tested: these and MSE vs AWing).
    # Five claims, all p = 0: Holm rejects each at its own step (levels 99 %, 98.75 %, ..., 95 %, ties in order);
    # three seeds of one sign: the exact sign-flip p is 2/8
    assert ("| FoWKAL beats the MSE baseline (whole-body) | +3.4 | +10.0\u00a0[+10.0,\u00a0+10.0] | 99.0\u00a0% | 3 | "
            "0.000 | 0.250 | reproduced | **no** |") in text
    assert "| MSE beats AWing on body | +1.8 | −2.0" not in text  # a real minus is not what Python prints
    assert ("| MSE beats AWing on body | +1.8 | -2.0\u00a0[-2.0,\u00a0-2.0] | 97.5\u00a0% | 3 | 0.000 | 0.250 | "
            "contradicted | **no** |") in text
    assert "The paper's Δ lies inside our interval for 0 of the 5 claims tested" in text
    listed, _ = _run_page("run_records", monkeypatch, tmp_path)  # each record with its commit (dirty: *)
    assert "abcdef01*" in listed and "mse/seed2/run_record.json" not in listed  # records in the standard layout


def test_predictions_page_draws_from_records(tmp_path, monkeypatch):
    pytest.importorskip("mmpose")
    from fowkal.data import make_benchmark

    bench = make_benchmark(tmp_path / "bench", seed=0, train_images=1, val_images=2)
    val = json.loads((bench / "annotations" / "wholebody_val.json").read_text())
    predictions = []
    for ann in val["annotations"]:
        xy, _ = figures.annotation_keypoints(ann)
        name = next(i["file_name"] for i in val["images"] if i["id"] == ann["image_id"])
        predictions.append({"image_id": ann["image_id"], "file_name": name, "score": 0.9,
                            "keypoints": (xy + 1.0).tolist(), "keypoint_scores": [0.9] * NUM_KEYPOINTS})
    records = [synthetic_record("mse", 0, 0.4, data_root=str(bench), predictions=predictions),
               synthetic_record("fowkal", 0, 0.5, data_root=str(bench), predictions=predictions, kaf=True)]
    runs = write_records(tmp_path / "runs", records, kaf_logs={"fowkal": _kaf_log(epochs=2)})
    text, explorers = _run_page("predictions_kaf", monkeypatch, runs)
    assert "No run records yet" not in text and "not drawn" not in text and explorers == 1
    assert "MSE 40.0, FoWKAL 50.0" in text


def test_predictions_page_without_records_says_so(tmp_path, monkeypatch):
    text, explorers = _run_page("predictions_kaf", monkeypatch, tmp_path / "none")
    assert text.count("No run records yet") >= 3 and explorers == 0  # Fig. 4, Fig. 5 and the explorer


def test_fig4_inputs_say_why_they_are_missing_and_pick_the_right_pose():
    import numpy as np

    from fowkal.viz import predictions

    assert predictions.fig4_inputs([synthetic_record("mse", 0, 0.4)]).text == "No run record of fowkal."
    apart = [synthetic_record("mse", 0, 0.4), synthetic_record("fowkal", 1, 0.5)]
    assert predictions.fig4_inputs(apart).text == "The MSE and FoWKAL records share no seed."
    target = np.zeros((NUM_KEYPOINTS, 2))
    labelled = np.ones(NUM_KEYPOINTS, dtype=bool)
    near, far = target + 1.0, target + 50.0
    assert predictions.closest_pose([far, near], target, labelled) is near
    xy = np.tile([[10.0, 20.0]], (NUM_KEYPOINTS, 1))
    xy[1] = [30.0, 21.0]
    assert predictions.region(xy, labelled, [0, 1], (0, 0, 9, 9)) == (10.0, 20.0, 20.0, 4)  # at least 4 px high
    assert predictions.region(xy, labelled, [0], (0, 0, 9, 9)) == (0, 0, 9, 9)  # one keypoint: the fallback box
