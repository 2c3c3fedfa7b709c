"""The benchmark through MMPose itself: CocoWholeBodyDataset loads it, CocoWholeBodyMetric scores it.

A perfect prediction scores AP 1.0 on every part; moving only the face lowers only face AP.
Per-part APs come from the results file MMPose's metric writes, scored per part with the
official iouTypes (``fowkal.runs.metrics.wholebody_ap``; MMPose 1.1.0 returns whole-body stats only).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mmpose")
pytestmark = pytest.mark.mmpose

from fowkal.data import TRAIN_ANN, VAL_ANN, VAL_DETECTIONS, image_prefix, make_benchmark  # noqa: E402
from fowkal.parts import FACE, NUM_KEYPOINTS  # noqa: E402

PARTS = ("body", "foot", "face", "lefthand", "righthand", "wholebody")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_benchmark(tmp_path_factory.mktemp("mm") / "bench", seed=5, workers=1, train_images=4,
                          val_images=12, image_size=(192, 160), person_height=(90.0, 140.0))


def _dataset(root, split, **kwargs):
    from mmpose.datasets import CocoWholeBodyDataset

    ann = TRAIN_ANN if split == "train" else VAL_ANN
    return CocoWholeBodyDataset(data_root=str(root), ann_file=ann, data_mode="topdown",
                                data_prefix=dict(img=image_prefix(split)), pipeline=[],
                                test_mode=True, **kwargs)


@pytest.mark.parametrize("split", ["train", "val"])
def test_mmpose_dataset_loads_every_person_with_keypoints(bench, split):
    coco = json.loads((bench / f"annotations/wholebody_{split}.json").read_text())
    dataset = _dataset(bench, split)
    expected = [a for a in coco["annotations"] if a["num_keypoints"] > 0]
    assert len(dataset) == len(expected) > 0
    info = dataset[0]
    assert info["keypoints"].shape == (1, NUM_KEYPOINTS, 2)
    assert info["keypoints_visible"].shape == (1, NUM_KEYPOINTS)
    assert (bench / image_prefix(split) / info["img_path"].split("/")[-1]).is_file()
    assert dataset.metainfo["num_keypoints"] == NUM_KEYPOINTS


def test_mmpose_dataset_reads_the_detections_file(bench):
    dets = json.loads((bench / VAL_DETECTIONS).read_text())
    dataset = _dataset(bench, "val", bbox_file=str(bench / VAL_DETECTIONS))
    assert len(dataset) == len(dets) > 0
    assert dataset[0]["bbox"].shape == (1, 4)


def test_mmpose_pipeline_crops_and_encodes_heatmaps(bench):
    """A full top-down training sample at the CPU profile's size (128x96 input, 32x24 heatmaps)."""
    from mmpose.datasets import CocoWholeBodyDataset
    from mmpose.utils import register_all_modules

    register_all_modules()  # the transforms live in the mmpose registry scope
    codec = dict(type="MSRAHeatmap", input_size=(96, 128), heatmap_size=(24, 32), sigma=2)
    pipeline = [dict(type="LoadImage"), dict(type="GetBBoxCenterScale"),
                dict(type="TopdownAffine", input_size=codec["input_size"]),
                dict(type="GenerateTarget", encoder=codec), dict(type="PackPoseInputs")]
    dataset = CocoWholeBodyDataset(data_root=str(bench), ann_file=TRAIN_ANN, pipeline=pipeline,
                                   data_prefix=dict(img=image_prefix("train")))
    sample = dataset[0]
    assert tuple(sample["inputs"].shape) == (3, 128, 96)
    heatmaps = sample["data_samples"].gt_fields.heatmaps
    assert tuple(heatmaps.shape) == (NUM_KEYPOINTS, 32, 24) and float(heatmaps.max()) > 0.5


def _evaluate(bench, tmp_path, move_face_px=0.0):
    """Feed ground truth (optionally with the face moved) through CocoWholeBodyMetric."""
    from mmpose.evaluation import CocoWholeBodyMetric

    from fowkal.runs.metrics import wholebody_ap

    dataset = _dataset(bench, "val")
    prefix = str(tmp_path / f"run{move_face_px}")
    metric = CocoWholeBodyMetric(ann_file=str(bench / VAL_ANN), outfile_prefix=prefix)
    metric.dataset_meta = dataset.metainfo
    rng = np.random.default_rng(0)
    samples = []
    for i in range(len(dataset)):
        info = dataset[i]
        kpts = info["keypoints"].astype(np.float64).copy()
        x0, y0, x1, y1 = info["bbox"][0]
        unlabelled = info["keypoints_visible"][0] == 0
        kpts[0, unlabelled] = [(x0 + x1) / 2, (y0 + y1) / 2]  # anywhere inside the person
        face = list(FACE)
        kpts[0, face] += rng.normal(0.0, move_face_px, (len(face), 2))
        samples.append(dict(id=info["id"], img_id=info["img_id"], category_id=info["category_id"],
                            ori_shape=(160, 192), raw_ann_info=info["raw_ann_info"], gt_instances={},
                            pred_instances=dict(keypoints=kpts, keypoint_scores=np.ones((1, NUM_KEYPOINTS)),
                                                bbox_scores=np.ones(1))))
    metric.process([], samples)
    wholebody = metric.compute_metrics(metric.results)
    per_part = wholebody_ap(bench / VAL_ANN, prefix + ".keypoints.json")
    assert per_part["wholebody"]["AP"] == pytest.approx(wholebody["AP"], abs=1e-9)
    return {part: per_part[part]["AP"] for part in PARTS}


def test_metric_perfect_prediction_scores_one_on_every_part(bench, tmp_path):
    ap = _evaluate(bench, tmp_path)
    assert ap == {part: pytest.approx(1.0) for part in PARTS}


def test_metric_perturbed_face_lowers_face_ap_only(bench, tmp_path):
    ap = _evaluate(bench, tmp_path, move_face_px=1.5)
    assert ap["face"] < 0.9
    assert ap["wholebody"] < 1.0
    for part in ("body", "foot", "lefthand", "righthand"):
        assert ap[part] == pytest.approx(1.0), part
