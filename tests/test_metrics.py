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

from fowkal.runs.metrics import (PART_SCORE_FIELDS, RESULT_KEYS, STAT_NAMES, TOLERANCE_SCALES, annotation_area_scale,
                                 ap_at_tolerances, format_table, wholebody_ap)
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


# --------------------------------------------------------------------------- OKS tolerances (area scales)
def benchmark_like(ann_file, folder: Path, area_scale: float = 16.0) -> Path:
    """The real annotations as the embedded benchmark writes them: areas x area_scale, recorded in info."""
    ann = json.loads(Path(ann_file).read_text())
    ann["info"] = {"generator": "fowkal.data", "params": {"area_scale": area_scale}}
    for a in ann["annotations"]:
        a["area"] *= area_scale
    path = folder / f"gt_x{area_scale:g}.json"
    path.write_text(json.dumps(ann))
    return path


def shifted(results: list[dict], pixels: float) -> list[dict]:
    out = copy.deepcopy(results)
    for r in out:
        for field in ANNOTATION_FIELDS:
            kpts = np.reshape(np.asarray(r[field], dtype=float), (-1, 3))
            kpts[:, :2] += pixels
            r[field] = kpts.ravel().tolist()
    return out


def test_area_scale_of_an_annotation_file(ann_file, tmp_path):
    assert annotation_area_scale(ann_file) == 1.0  # COCO's own definition
    assert annotation_area_scale(benchmark_like(ann_file, tmp_path, 16.0)) == 16.0
    assert annotation_area_scale({"info": {"generator": "fowkal.data", "params": {"area_scale": 4}}}) == 4.0
    with pytest.raises(ValueError, match="without info.params.area_scale"):
        annotation_area_scale({"info": {"generator": "fowkal.data", "params": {}}})
    with pytest.raises(ValueError, match="finite number > 0"):
        annotation_area_scale({"info": {"generator": "fowkal.data", "params": {"area_scale": 0}}})


def test_rescaled_areas_score_as_cocos_own(ann_file, predictions, tmp_path):
    """Areas stored x16 and scored at area_scale 1 give exactly COCO's numbers on the original file."""
    x16 = benchmark_like(ann_file, tmp_path, 16.0)
    coco = wholebody_ap(ann_file, predictions)
    assert wholebody_ap(x16, predictions, area_scale=1) == coco
    assert wholebody_ap(x16, predictions, area_scale=16) == wholebody_ap(x16, predictions)
    assert wholebody_ap(ann_file, predictions, area_scale=1) == coco  # COCO's file is at scale 1
    assert wholebody_ap(x16, predictions)["wholebody"]["AP"] > coco["wholebody"]["AP"]  # x4 tolerance


def test_ground_truth_scores_one_at_every_tolerance(ann_file, tmp_path):
    by_scale = ap_at_tolerances(benchmark_like(ann_file, tmp_path), perfect_results(ann_file),
                                scales=(0.25, 1, 16))
    assert list(by_scale) == ["0.25", "1", "16"]
    for scale, metrics in by_scale.items():
        for part in RESULT_KEYS:
            assert metrics[part]["AP"] == 1.0 and metrics[part]["AR"] == 1.0, (scale, part)


def test_a_fixed_offset_scores_higher_at_a_looser_tolerance(ann_file, predictions, tmp_path):
    x16 = benchmark_like(ann_file, tmp_path)
    results = shifted(perfect_results(ann_file), 3.0)
    before = copy.deepcopy(results)
    by_scale = ap_at_tolerances(x16, results)
    assert results == before  # every scale scores its own copy
    assert list(by_scale) == [f"{s:g}" for s in TOLERANCE_SCALES] == ["1", "2", "4", "8", "16"]
    whole = [by_scale[key]["wholebody"]["AP"] for key in by_scale]
    assert whole == sorted(whole) and whole[0] < 1.0 and whole[-1] > whole[0]
    for key, scale in zip(by_scale, TOLERANCE_SCALES):  # the same numbers as one scale at a time
        assert by_scale[key] == wholebody_ap(x16, results, area_scale=scale)
    real = ap_at_tolerances(x16, predictions, scales=[1, 16])
    assert real["1"] == wholebody_ap(ann_file, predictions)
    assert real["1"]["face"]["AP"] < real["16"]["face"]["AP"]


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf"), True, "4", None])
def test_bad_area_scales_are_refused(ann_file, predictions, scale):
    if scale is not None:  # None means "the file's own" for wholebody_ap
        with pytest.raises(ValueError, match="area_scale.*finite number > 0"):
            wholebody_ap(ann_file, predictions, area_scale=scale)
    with pytest.raises(ValueError, match="scales.*finite number > 0"):
        ap_at_tolerances(ann_file, predictions, scales=(1, scale))


def test_bad_scale_lists_are_refused(ann_file, predictions):
    with pytest.raises(ValueError, match="scales is empty"):
        ap_at_tolerances(ann_file, predictions, scales=())
    with pytest.raises(ValueError, match="repeat"):
        ap_at_tolerances(ann_file, predictions, scales=(4, 4.0))
    with pytest.raises(TypeError, match="sequence"):
        ap_at_tolerances(ann_file, predictions, scales=4)
    with pytest.raises(TypeError, match="sequence"):
        ap_at_tolerances(ann_file, predictions, scales="1,4")
    with pytest.raises(ValueError, match="use_area=False"):
        wholebody_ap(ann_file, predictions, use_area=False, area_scale=4)


def test_cli_evaluate_results_at_an_area_scale(ann_file, tmp_path, eval_example):
    out = tmp_path / "metrics.json"
    x16 = benchmark_like(ann_file, tmp_path)
    pred = str(eval_example / "example_pred.json")
    done = run_cli("evaluate-results", "--ann", str(x16), "--results", pred, "--area-scale", "1", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == wholebody_ap(ann_file, pred)
