"""fowkal.runs.metrics.wholebody_ap against MMPose's own evaluation code, on the real example."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from fowkal.runs.metrics import PART_SCORE_FIELDS, RESULT_KEYS, STAT_NAMES, format_table, wholebody_ap
from fowkal.parts import ANNOTATION_FIELDS

pytest.importorskip("xtcocotools")

PARTS = ("body", "foot", "face", "lefthand", "righthand")


@pytest.fixture(scope="module")
def ann_file(eval_example) -> str:
    return str(eval_example / "example_gt.json")


@pytest.fixture(scope="module")
def predictions(eval_example) -> list[dict]:
    return json.loads((eval_example / "example_pred.json").read_text())


def without_part_scores(results: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in PART_SCORE_FIELDS} for r in results]


def mmpose_stats(ann_file, results, tmp_path, monkeypatch) -> dict:
    """Per-iouType stats from CocoWholeBodyMetric's own writer and evaluation code."""
    import mmpose
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.metrics import CocoWholeBodyMetric
    from mmpose.evaluation.metrics import coco_wholebody_metric

    # MMPose returns only the whole-body stats: record each part's COCOeval as it summarizes
    recorded = {}

    class RecordingCOCOeval(coco_wholebody_metric.COCOeval):
        def summarize(self):
            super().summarize()
            recorded[self.params.iouType.removeprefix("keypoints_")] = list(self.stats)

    monkeypatch.setattr(coco_wholebody_metric, "COCOeval", RecordingCOCOeval)
    metric = CocoWholeBodyMetric(ann_file=ann_file)
    dataset_config = Path(mmpose.__file__).parent / ".mim/configs/_base_/datasets/coco_wholebody.py"
    metric.dataset_meta = parse_pose_metainfo(dict(from_file=str(dataset_config)))  # MMPose's sigmas
    # the input results2json expects: per image, (133, 3) keypoints and one instance score
    by_image = defaultdict(list)
    for r in results:
        keypoints = np.concatenate([np.reshape(r[field], (-1, 3)) for field in ANNOTATION_FIELDS])
        by_image[r["image_id"]].append(dict(img_id=r["image_id"], keypoints=keypoints, score=r["score"]))
    prefix = str(tmp_path / "mmpose")
    metric.results2json(by_image, prefix)
    wholebody = metric._do_python_keypoint_eval(prefix)
    assert dict(wholebody) == dict(zip(STAT_NAMES, recorded["wholebody"]))
    return recorded


@pytest.mark.mmpose
@pytest.mark.slow  # importing mmpose (torch) takes ~4 s
@pytest.mark.filterwarnings("ignore:'.*_score' not found, use 'score' instead")
def test_matches_mmpose_cocowholebodymetric(ann_file, predictions, tmp_path, monkeypatch):
    pytest.importorskip("mmpose")
    # MMPose writes only 'score', so both sides see the results without per-part scores
    results = without_part_scores(predictions)
    ours = wholebody_ap(ann_file, results)
    theirs = mmpose_stats(ann_file, results, tmp_path, monkeypatch)
    assert set(theirs) == {*PARTS, "wholebody"}
    for part, stats in theirs.items():
        assert ours[part] == pytest.approx(dict(zip(STAT_NAMES, stats)), rel=1e-12, abs=1e-12), part
    assert ours["hand"]["AP"] == pytest.approx((theirs["lefthand"][0] + theirs["righthand"][0]) / 2)
    assert 0.3 < ours["wholebody"]["AP"] < 0.95  # a real model: neither trivial nor perfect


def test_result_shape_and_input_untouched(ann_file, predictions):
    before = copy.deepcopy(predictions)
    metrics = wholebody_ap(ann_file, predictions)
    assert predictions == before  # xtcocotools edits results in place: we must work on a copy
    assert tuple(metrics) == RESULT_KEYS
    assert all(tuple(stats) == STAT_NAMES for stats in metrics.values())
    table = format_table(metrics)
    assert "| whole-body | " in table and f"{metrics['face']['AP']:.3f}" in table


def test_part_scores_are_used(ann_file, predictions):
    with_scores = wholebody_ap(ann_file, predictions)
    score_only = wholebody_ap(ann_file, without_part_scores(predictions))
    assert with_scores["body"] == score_only["body"]  # body is ranked by 'score' either way
    assert any(with_scores[p] != score_only[p] for p in ("foot", "face", "lefthand", "righthand"))


def perfect_results(ann_file) -> list[dict]:
    annotations = json.loads(Path(ann_file).read_text())["annotations"]
    return [
        dict(image_id=a["image_id"], category_id=a["category_id"], score=1.0,
             **{field: a[field] for field in ANNOTATION_FIELDS})
        for a in annotations if not a["iscrowd"]
    ]


def test_ground_truth_as_prediction_scores_one(ann_file):
    metrics = wholebody_ap(ann_file, perfect_results(ann_file))
    for part in RESULT_KEYS:
        assert metrics[part]["AP"] == 1.0 and metrics[part]["AR"] == 1.0, part
        assert set(metrics[part].values()) <= {1.0, -1.0}, part  # -1: stat undefined


def test_face_perturbation_only_moves_face(ann_file, predictions):
    shifted = copy.deepcopy(predictions)
    for r in shifted:
        face = np.reshape(r["face_kpts"], (-1, 3))
        face[:, :2] += 4.0  # pixels; face sigmas are tiny, so this costs a lot of face OKS
        r["face_kpts"] = face.ravel().tolist()
    base, moved = wholebody_ap(ann_file, predictions), wholebody_ap(ann_file, shifted)
    assert moved["face"]["AP"] < base["face"]["AP"] - 0.05
    assert moved["wholebody"]["AP"] < base["wholebody"]["AP"]
    for part in ("body", "foot", "lefthand", "righthand", "hand"):
        assert moved[part] == base[part], part


def _edit(field, value):
    def apply(results):
        results[0][field] = value
        return results
    return apply


def _drop_score(results):
    del results[1]["score"]
    return results


@pytest.mark.parametrize(
    "edit, error, match",
    [
        (_edit("face_kpts", [0.0] * 201), ValueError, r"'face_kpts' has 201 values, expected 204"),
        (_edit("keypoints", [0.0] * 133 * 3), ValueError, r"'keypoints' has 399 values, expected 51"),
        (_edit("lefthand_kpts", [float("nan")] * 63), ValueError, r"'lefthand_kpts' holds NaN"),
        (_edit("score", float("nan")), ValueError, r"'score' is nan"),
        (_edit("face_score", float("inf")), ValueError, r"'face_score' is inf"),
        (_edit("image_id", 123456789), ValueError, r"image id.*not in .*example_gt.json.*123456789"),
        (_drop_score, ValueError, r"result 1 lacks field\(s\) \['score'\]"),
        (lambda results: [], ValueError, r"results are empty"),
        (lambda results: {"annotations": results}, TypeError, r"must be a list"),
    ],
)
def test_bad_results_raise_clear_errors(ann_file, predictions, edit, error, match):
    with pytest.raises(error, match=match):
        wholebody_ap(ann_file, edit(copy.deepcopy(predictions)))


def test_missing_files_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="results file not found"):
        wholebody_ap(tmp_path / "gt.json", tmp_path / "missing.json")
    results = tmp_path / "results.json"
    results.write_text(json.dumps(perfect_like_result()))
    with pytest.raises(FileNotFoundError, match="annotation file not found"):
        wholebody_ap(tmp_path / "gt.json", results)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        wholebody_ap(tmp_path / "broken.json", results)


def perfect_like_result() -> list[dict]:
    """One well-formed result (all zeros) for tests that need no real data."""
    fields = {field: [0.0] * 3 * len(idx) for field, idx in ANNOTATION_FIELDS.items()}
    return [dict(image_id=1, category_id=1, score=1.0, **fields)]


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fowkal", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_evaluate_results(ann_file, tmp_path, eval_example):
    out = tmp_path / "metrics.json"
    pred = str(eval_example / "example_pred.json")
    done = run_cli("evaluate-results", "--ann", ann_file, "--results", pred, "--json", str(out))
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text())
    assert written == wholebody_ap(ann_file, pred)
    assert done.stdout.strip() == format_table(written)  # the table and nothing of xtcocotools'

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 785}]))
    out.unlink()
    done = run_cli("evaluate-results", "--ann", ann_file, "--results", str(bad), "--json", str(out))
    assert done.returncode == 2 and "lacks field(s)" in done.stderr
    assert not out.exists()
