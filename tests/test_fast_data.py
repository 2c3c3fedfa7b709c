"""fowkal.mmpose.data: the CPU profile's pipeline twins give MMPose's samples, bit for bit.

Each twin against MMPose's own piece: the whole training pipeline of the CPU profile on a small generated
benchmark (same seeds, every tensor of every sample equal), the DARK encoder on keypoints that are
invisible, outside the heatmap or float64, and the truncated-normal draws against SciPy's.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("mmpose")
pytestmark = pytest.mark.mmpose


def _datasets(root, split):
    """(MMPose's, the twins') dataset of the CPU profile's config for ``split``."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    import fowkal.mmpose  # noqa: F401
    from fowkal.configs import build_config

    init_default_scope("mmpose")
    cfg = build_config("fowkal", "cpu", data_root=root)
    ours = cfg[f"{split}_dataloader"].dataset
    theirs = ours.copy()
    theirs["type"] = "CocoWholeBodyDataset"
    pipeline = [dict(t) for t in ours.pipeline]
    for t in pipeline:
        if t["type"] == "FastRandomBBoxTransform":
            t["type"] = "RandomBBoxTransform"
        if t["type"] == "GenerateTarget":
            t["encoder"] = dict(t["encoder"], type="MSRAHeatmap")
    theirs["pipeline"] = pipeline
    return DATASETS.build(theirs), DATASETS.build(ours)


def _samples(dataset, n, seed=0):
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return [dataset[i] for i in range(n)]


def test_the_profile_uses_the_twins(pipeline_bench):
    from fowkal.configs import build_config

    cfg = build_config("mse", "cpu", data_root=pipeline_bench)
    assert cfg.train_dataloader.dataset.type == cfg.val_dataloader.dataset.type == "FastCocoWholeBodyDataset"
    assert cfg.model.head.decoder.type == "FastMSRAHeatmap"
    assert "FastRandomBBoxTransform" in [t["type"] for t in cfg.train_dataloader.dataset.pipeline]


@pytest.mark.parametrize("split", ["train", "val"])
def test_the_pipeline_twins_give_mmposes_samples_bit_for_bit(pipeline_bench, split):
    import torch

    theirs, ours = _datasets(pipeline_bench, split)
    assert len(theirs) == len(ours) > 0
    n = min(len(ours), 12)
    for a, b in zip(_samples(theirs, n), _samples(ours, n)):
        assert torch.equal(a["inputs"], b["inputs"])
        sa, sb = a["data_samples"], b["data_samples"]
        if split == "train":
            assert torch.equal(sa.gt_fields.heatmaps, sb.gt_fields.heatmaps)
            assert torch.equal(sa.gt_instance_labels.keypoint_weights, sb.gt_instance_labels.keypoint_weights)
        # the training pipeline packs fewer keys (no raw annotation); the ones it packs are MMPose's
        assert set(sb.metainfo) <= set(sa.metainfo) and "flip_indices" in sb.metainfo
        for key, value in sb.metainfo.items():
            assert np.array_equal(np.asarray(sa.metainfo[key], dtype=object), np.asarray(value, dtype=object)), key


def test_samples_share_the_metadata_and_the_pipeline_leaves_it_unchanged(pipeline_bench):
    from fowkal.mmpose.data import SHARED_METAINFO_KEYS

    _, ours = _datasets(pipeline_bench, "train")
    before = {key: repr(ours.metainfo[key]) for key in SHARED_METAINFO_KEYS}
    _samples(ours, len(ours))
    info = ours.get_data_info(0)
    assert all(info[key] is ours._metainfo[key] for key in SHARED_METAINFO_KEYS)
    assert {key: repr(ours.metainfo[key]) for key in SHARED_METAINFO_KEYS} == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_encoder_matches_mmposes_on_awkward_keypoints(dtype):
    from mmpose.codecs import MSRAHeatmap

    from fowkal.mmpose.data import FastMSRAHeatmap

    rng = np.random.default_rng(0)
    kwargs = dict(input_size=(96, 128), heatmap_size=(48, 64), sigma=2, unbiased=True)
    theirs, ours = MSRAHeatmap(**kwargs), FastMSRAHeatmap(**kwargs)
    for _ in range(20):
        keypoints = rng.uniform(-40, 170, size=(1, 133, 2)).astype(dtype)  # some far outside the crop
        visible = (rng.uniform(size=(1, 133)) > 0.3).astype(np.float32)
        visible[0, :5] = 0.4  # below MMPose's 0.5 cut
        a, b = theirs.encode(keypoints, visible), ours.encode(keypoints, visible)
        assert a["heatmaps"].dtype == b["heatmaps"].dtype
        assert np.array_equal(a["heatmaps"], b["heatmaps"])
        assert np.array_equal(a["keypoint_weights"], b["keypoint_weights"])
    none_visible = ours.encode(keypoints, np.zeros((1, 133), np.float32))
    assert not none_visible["heatmaps"].any() and not none_visible["keypoint_weights"].any()
    assert np.array_equal(ours.encode(keypoints)["heatmaps"], theirs.encode(keypoints)["heatmaps"])
    with pytest.raises(ValueError, match="one instance"):
        ours.encode(np.zeros((2, 133, 2), dtype))


def test_the_truncated_normal_draws_are_scipys():
    from scipy.stats import truncnorm

    from fowkal.mmpose.data import FastRandomBBoxTransform

    for size in [(3, 2), (1, 1), (5,), ()]:
        np.random.seed(7)
        expected = truncnorm.rvs(-1.0, 1.0, size=size).astype(np.float32)
        np.random.seed(7)
        got = FastRandomBBoxTransform._truncnorm(size=size)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.array_equal(got, expected)


def test_the_truncated_normal_inverse_cdf_is_scipys_on_millions_of_draws():
    """The written-out log-sum-exp against SciPy's ``truncnorm._ppf``: every value the same float, the
    ends of [0, 1] and the point where both log-sum-exp terms are equal included."""
    from scipy.stats import truncnorm

    from fowkal.mmpose.data import _left_constants, _truncnorm_ppf_left

    low, high = np.float64(-1.0), np.float64(1.0)
    log_cdf_low, log_mass = _left_constants(low, high)
    q = np.random.default_rng(0).uniform(size=2_000_000)
    q = np.concatenate([q, [0.0, 1.0, 1e-300, float(np.exp(log_cdf_low - log_mass))]])
    with np.errstate(divide="ignore"):
        expected, got = truncnorm._ppf(q, low, high), _truncnorm_ppf_left(q, log_cdf_low, log_mass)
    assert np.array_equal(got, expected, equal_nan=True)
    # other left-tail bounds take the same path; a bound >= 0 takes SciPy's own
    for bounds in [(-2.0, 0.5), (0.5, 2.0)]:
        from fowkal.mmpose.data import FastRandomBBoxTransform

        np.random.seed(3)
        expected = truncnorm.rvs(*bounds, size=(4, 2)).astype(np.float32)
        np.random.seed(3)
        assert np.array_equal(FastRandomBBoxTransform._truncnorm(*bounds, size=(4, 2)), expected)


def test_flip_indices_are_shared_not_copied(pipeline_bench):
    import copy

    from fowkal.mmpose.data import SharedList

    _, ours = _datasets(pipeline_bench, "train")
    flip_indices = ours.metainfo["flip_indices"]
    assert isinstance(flip_indices, SharedList) and len(flip_indices) == 133
    assert copy.deepcopy(flip_indices) is flip_indices and flip_indices == list(flip_indices)
    packed = _samples(ours, 1)[0]["data_samples"]
    assert packed.metainfo["flip_indices"] == list(flip_indices)
