"""fowkal.runs.evaluate: a checkpoint or run record scored per part, as MMPose's CocoWholeBodyMetric does.

One tiny cpu-profile run (one iteration) gives the checkpoint; its APs are ~0, so agreement is
checked on the results files (the predicted keypoints) as well as on the metrics.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("mmpose")
pytestmark = [pytest.mark.mmpose, pytest.mark.filterwarnings("ignore::UserWarning")]

import fowkal  # noqa: E402
from fowkal.data import VAL_ANN, make_benchmark  # noqa: E402
from fowkal.runs.evaluate import evaluation_cfgs, part_metrics  # noqa: E402
from fowkal.parts import ANNOTATION_FIELDS  # noqa: E402

PARTS = {"body", "foot", "face", "lefthand", "righthand", "hand", "wholebody"}
SINGLE_PROCESS_LOADING = {
    "train_dataloader.num_workers": 0, "train_dataloader.persistent_workers": False,
    "val_dataloader.num_workers": 0, "val_dataloader.persistent_workers": False,
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_benchmark(tmp_path_factory.mktemp("evaluate") / "bench", seed=1, workers=1,
                          train_images=4, val_images=4)


@pytest.fixture(scope="module")
def run(bench, tmp_path_factory):
    work = tmp_path_factory.mktemp("evaluate-run")
    return fowkal.train("fowkal", "cpu", data_root=bench, work_dir=work, epochs=1, batch_size=2,
                        max_iters=1, quiet=True, **SINGLE_PROCESS_LOADING)


@pytest.fixture(scope="module")
def config_run(bench, tmp_path_factory):
    """A run folder with its resolved config.py and a stand-in checkpoint (no training)."""
    from fowkal.configs import build_config

    work = tmp_path_factory.mktemp("config-run")
    build_config("fowkal", "cpu", data_root=bench, work_dir=work).dump(str(work / "config.py"))
    (work / "epoch_1.pth").write_bytes(b"")
    return work


def _results(path) -> list:
    return json.loads(Path(path).read_text())


@pytest.mark.slow
def test_a_run_record_evaluates_to_the_metrics_it_recorded(run, tmp_path):
    work_dir = Path(run["files"]["config"]).parent
    metrics = fowkal.evaluate(work_dir, work_dir=tmp_path, quiet=True)
    assert metrics == run["metrics"]["gt_boxes"] and set(metrics) == PARTS
    assert _results(tmp_path / "epoch_1_gt.keypoints.json") == _results(run["files"]["results_gt_boxes"])


@pytest.mark.slow
def test_a_checkpoint_evaluates_on_detections_and_prints_the_table(run, tmp_path, capsys):
    checkpoint = run["files"]["last_checkpoint"]
    metrics = fowkal.evaluate(checkpoint, use_gt_boxes=False, work_dir=tmp_path)
    assert metrics == run["metrics"]["detections"]
    assert _results(tmp_path / "epoch_1_det.keypoints.json") == \
        _results(run["files"]["results_detections"])
    out = capsys.readouterr().out
    assert "(detections boxes)" in out and "| whole-body |" in out and "| hand |" in out


@pytest.mark.slow
def test_a_lone_checkpoint_brings_its_own_config(run, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(run["files"]["last_checkpoint"], alone / "model.pth")  # no config.py beside it
    metrics = fowkal.evaluate(alone / "model.pth", quiet=True)
    assert metrics == run["metrics"]["gt_boxes"]
    assert _results(alone / "eval/model_gt.keypoints.json") == _results(run["files"]["results_gt_boxes"])


@pytest.mark.slow
def test_cli_evaluate_writes_json(run, tmp_path, capsys):
    from fowkal.__main__ import main

    out = tmp_path / "metrics.json"
    assert main(["evaluate", run["files"]["last_checkpoint"], "--work-dir", str(tmp_path / "ev"),
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == run["metrics"]["gt_boxes"]
    assert "| body |" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("use_gt_boxes", [True, False])
def test_evaluation_on_the_real_sample(run, tmp_path, use_gt_boxes, real_sample):
    sample = real_sample
    metrics = fowkal.evaluate(run["files"]["last_checkpoint"], data_root=sample,
                              ann_file="test_coco_wholebody.json", img_prefix="",
                              det_file=None if use_gt_boxes else "test_coco_det_AP_H_56.json",
                              use_gt_boxes=use_gt_boxes,
                              work_dir=tmp_path, quiet=True)
    assert set(metrics) == PARTS
    assert all(-1.0 <= metrics[p]["AP"] <= 1.0 for p in PARTS)
    real = json.loads((Path(sample) / "test_coco_wholebody.json").read_text())
    results = _results(tmp_path / f"epoch_1_{'gt' if use_gt_boxes else 'det'}.keypoints.json")
    assert {r["image_id"] for r in results} <= {img["id"] for img in real["images"]}
    if use_gt_boxes:  # one prediction per annotated person with keypoints (then OKS-NMS)
        assert 0 < len(results) <= len(real["annotations"])


# --------------------------------------------------------------------------- pieces and bad input
def test_part_metrics_checks_mmpose_whole_body_ap(bench, tmp_path):
    ann = json.loads((bench / VAL_ANN).read_text())
    perfect = [{"image_id": a["image_id"], "category_id": 1, "score": 1.0,
                **{field: a[field] for field in ANNOTATION_FIELDS}}
               for a in ann["annotations"] if a["num_keypoints"] > 0]
    results = tmp_path / "perfect.keypoints.json"
    results.write_text(json.dumps(perfect))
    metrics = part_metrics(bench / VAL_ANN, results, {"coco-wholebody/AP": 1.0})
    assert metrics["wholebody"]["AP"] == pytest.approx(1.0) and metrics["hand"]["AP"] == pytest.approx(1.0)
    with pytest.raises(RuntimeError, match="whole-body AP disagrees"):
        part_metrics(bench / VAL_ANN, results, {"coco-wholebody/AP": 0.5})


def test_evaluation_cfgs_point_everything_at_the_given_dataset(config_run, bench, tmp_path):
    from mmengine.config import Config

    cfg = Config.fromfile(str(config_run / "config.py"))
    loader, metric, info = evaluation_cfgs(cfg, use_gt_boxes=False, outfile_prefix=tmp_path / "x")
    assert loader["dataset"]["bbox_file"] == info["det_file"] and Path(info["det_file"]).is_file()
    assert metric["type"] == "CocoWholeBodyMetric" and metric["ann_file"] == info["ann_file"]
    assert metric["outfile_prefix"] == str(tmp_path / "x")
    loader, _, info = evaluation_cfgs(cfg, use_gt_boxes=True, outfile_prefix=tmp_path / "x")
    assert loader["dataset"]["bbox_file"] is None and info["det_file"] is None

    moved = tmp_path / "moved"
    shutil.copytree(bench, moved)  # the same files under another data root
    loader, metric, info = evaluation_cfgs(cfg, data_root=moved, use_gt_boxes=False,
                                           outfile_prefix=tmp_path / "x")
    assert info["ann_file"] == str(moved / VAL_ANN) and metric["ann_file"] == str(moved / VAL_ANN)
    assert loader["dataset"]["data_prefix"]["img"] == f"{moved / 'images/val'}/"
    assert info["det_file"].startswith(str(moved))

    cfg.val_dataloader.dataset.bbox_file = cfg.test_dataloader.dataset.bbox_file = None
    with pytest.raises(ValueError, match="needs a detections file"):
        evaluation_cfgs(cfg, use_gt_boxes=False, outfile_prefix=tmp_path / "x")


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(data_root="/nonexistent/data"), FileNotFoundError, "data root not found"),
    (dict(ann_file="annotations/none.json"), FileNotFoundError, "annotation file not found"),
    (dict(img_prefix="no-images/"), FileNotFoundError, "image folder not found"),
    (dict(use_gt_boxes=False, det_file="none.json"), FileNotFoundError, "detections file not found"),
    (dict(det_file="annotations/person_detections_val.json"), ValueError, "use_gt_boxes=False"),
])
def test_bad_input_fails_before_any_work(config_run, tmp_path, kwargs, error, words):
    with pytest.raises(error, match=words):
        fowkal.evaluate(config_run / "epoch_1.pth", work_dir=tmp_path / "ev", **kwargs)
    assert not (tmp_path / "ev").exists()


def test_missing_checkpoints_are_named(tmp_path):
    from fowkal.runs import record as run_record

    with pytest.raises(FileNotFoundError, match="checkpoint or run record not found"):
        fowkal.evaluate(tmp_path / "nothing.pth")
    record = {"schema_version": run_record.SCHEMA_VERSION, "kind": run_record.KIND,
              "method": "fowkal", "profile": "cpu", "seed": 0, "versions": {},
              "config": {"source": "fowkal/configs/cpu/fowkal.py", "args": {}, "overrides": {}, "run": {},
                         "sha256": "0" * 64}, "data": {"root": "$FOWKAL_DATA_ROOT/bench"},
              "losses": [], "metrics": {}, "files": {"config": "config.py",
                                                     "last_checkpoint": "epoch_9.pth"}}
    run_record.write(record, tmp_path / run_record.RECORD_NAME)  # committed without checkpoints
    with pytest.raises(FileNotFoundError, match="epoch_9.pth, which is not there"):
        fowkal.evaluate(tmp_path)
