"""The 133-keypoint layout: sizes, partition, flips and agreement with MMPose's dataset info."""
import pytest

from fowkal import parts


def test_part_sizes_and_partition():
    assert parts.NUM_KEYPOINTS == 133
    assert [len(v) for v in parts.PARTS.values()] == [17, 6, 68, 42]
    assert list(parts.PARTS) == ["body", "foot", "face", "hand"]
    assert (parts.BODY[0], parts.FOOT[0], parts.FACE[0], parts.LEFT_HAND[0], parts.RIGHT_HAND[0]) == (0, 17, 23, 91, 112)
    everything = sorted(i for idx in parts.PARTS.values() for i in idx)
    assert everything == list(range(133))
    assert parts.validate_parts(parts.PARTS, 133) == dict(parts.PARTS)
    assert sorted(i for idx in parts.EVAL_PARTS.values() for i in idx) == list(range(133))


def test_flip_pairs_stay_within_parts():
    assert len(parts.FLIP_PAIRS) == 61
    for a, b in parts.FLIP_PAIRS:
        assert parts.part_of(a) == parts.part_of(b)
    for a, b in zip(parts.LEFT_HAND, parts.RIGHT_HAND):
        assert (a, b) in parts.FLIP_PAIRS and b == a + 21
    perm = parts.flip_indices()
    assert sorted(perm) == list(range(133)) and [perm[p] for p in perm] == list(range(133))
    for a, b in parts.FLIP_PAIRS:  # names mirror left/right where they have sides
        na, nb = parts.KEYPOINT_NAMES[a], parts.KEYPOINT_NAMES[b]
        if na.startswith(("left", "right")):
            assert na.replace("left", "X").replace("right", "X") == nb.replace("left", "X").replace("right", "X")


def test_names_and_sigmas_lengths():
    assert len(parts.KEYPOINT_NAMES) == len(set(parts.KEYPOINT_NAMES)) == 133
    assert len(parts.SIGMAS) == 133 and all(0 < s < 0.11 for s in parts.SIGMAS)
    assert parts.SIGMAS[parts.LEFT_HAND[0]:parts.LEFT_HAND[-1] + 1] == parts.SIGMAS[parts.RIGHT_HAND[0]:]


@pytest.mark.parametrize("bad, message", [
    ({"a": [0, 1], "b": [1, 2]}, "overlap"), ({"a": [0]}, "leave 2 of K=3"), ({"a": [0, 1, 2, 3]}, "outside 0..2"),
    ({"a": []}, "no keypoints"),
])
def test_validate_parts_names_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        parts.validate_parts(bad, 3)


@pytest.mark.mmpose
def test_matches_mmpose_dataset_info():
    mmpose = pytest.importorskip("mmpose", reason="MMPose not installed")
    import os

    import numpy as np
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    cfg = os.path.join(os.path.dirname(mmpose.__file__), ".mim/configs/_base_/datasets/coco_wholebody.py")
    meta = parse_pose_metainfo(dict(from_file=cfg))
    assert meta["num_keypoints"] == parts.NUM_KEYPOINTS
    assert [meta["keypoint_id2name"][i] for i in range(133)] == list(parts.KEYPOINT_NAMES)
    assert meta["flip_indices"] == parts.flip_indices()
    np.testing.assert_allclose(meta["sigmas"], parts.SIGMAS, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(meta["dataset_keypoint_weights"], np.ones(133))
