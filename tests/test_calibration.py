"""Part scales of labelled people (fowkal.data.calibration) and the top-down geometry under them
(fowkal.data.topdown): by-hand checks on made-up people, bad input, MMPose's own targets, and the
real COCO-WholeBody people (skipped where their folders are not set)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fowkal.data import calibration, topdown
from fowkal.parts import ANNOTATION_FIELDS, BODY, FACE, KEYPOINT_NAMES, LEFT_HAND, NUM_KEYPOINTS, RIGHT_HAND

P64, P32 = calibration.GEOMETRIES["64x48"], calibration.GEOMETRIES["32x24"]
R2 = 2 * calibration.SIGMA ** 2 * math.log(2) / calibration.GAMMA  # p^γ >= 1/2 inside this squared radius


def person(points: dict, bbox=(0.0, 0.0, 50.0, 200.0), **extra) -> dict:
    """A COCO-WholeBody annotation labelling ``points`` (keypoint index -> (x, y)), v = 2."""
    triplets = np.zeros((NUM_KEYPOINTS, 3))
    for k, (x, y) in points.items():
        triplets[k] = (x, y, 2)
    ann = {field: triplets[list(idx)].ravel().tolist() for field, idx in ANNOTATION_FIELDS.items()}
    return {"id": 1, "image_id": 1, "iscrowd": 0, "bbox": list(bbox), **ann, **extra}


def k(name: str) -> int:
    return KEYPOINT_NAMES.index(name)


# --------------------------------------------------------------------------- top-down geometry
def test_annotation_keypoints_reads_every_part():
    ann = {field: [] for field in ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")}
    for field, n in (("keypoints", 17), ("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21),
                     ("righthand_kpts", 21)):
        ann[field] = [v for i in range(n) for v in (float(i), float(n), 2.0 if i % 2 == 0 else 0.0)]
    xy, labelled = topdown.annotation_keypoints(ann)
    assert xy.shape == (NUM_KEYPOINTS, 2) and xy[FACE[3], 0] == 3.0 and xy[FACE[3], 1] == 68.0
    assert labelled[FACE[2]] and not labelled[FACE[3]]
    ann["foot_kpts"] = ann["foot_kpts"][:-3]
    with pytest.raises(ValueError, match="foot_kpts"):
        topdown.annotation_keypoints(ann)
    del ann["face_kpts"]
    with pytest.raises(ValueError, match="face_kpts"):
        topdown.annotation_keypoints(ann)


def test_nearest_neighbour_distances_per_part_and_hand():
    xy = np.zeros((NUM_KEYPOINTS, 2))
    labelled = np.zeros(NUM_KEYPOINTS, bool)
    xy[BODY[0]], xy[BODY[1]], xy[BODY[2]] = (0, 0), (3, 4), (3, 10)
    labelled[[BODY[0], BODY[1], BODY[2]]] = True
    xy[LEFT_HAND[0]], xy[RIGHT_HAND[0]] = (50, 50), (50.5, 50)  # different hands: not neighbours
    labelled[[LEFT_HAND[0], RIGHT_HAND[0]]] = True
    d = topdown.nearest_neighbour_distances(xy, labelled)
    assert sorted(d["body"]) == [5.0, 5.0, 6.0]
    assert d["hand"].size == 0 and d["face"].size == 0


def test_heatmap_scale_follows_mmpose_crop():
    sizes = P32
    # a tall box: crop height = 1.25 * h; a wide one: 1.25 * w / (96 / 128)
    assert topdown.heatmap_scale([0, 0, 60, 160], **sizes) == pytest.approx(32 / 200)
    assert topdown.heatmap_scale([0, 0, 150, 100], **sizes) == pytest.approx(32 / (1.25 * 200))


def test_to_heatmap_maps_the_box_centre_to_the_map_centre_and_the_crop_edges_to_the_map_edges():
    bbox = [10, 20, 150, 100]  # wide: the crop is 187.5 x 250 around (85, 70)
    centre, size = topdown.crop_box(bbox, input_size=P64["input_size"])
    assert centre == pytest.approx([85, 70]) and size == pytest.approx([187.5, 250])
    corners = np.array([[85, 70], [85 - 93.75, 70 - 125], [85 + 93.75, 70 + 125]])
    assert topdown.to_heatmap(corners, bbox, **P64) == pytest.approx(np.array([[24, 32], [0, 0], [48, 64]]))


@pytest.mark.parametrize("bbox", [[0, 0, 0, 10], [0, 0, 10, -1], [0, 0, 10], "box", [0, 0, float("nan"), 5]])
def test_bad_boxes_are_refused(bbox):
    with pytest.raises(ValueError, match="bbox"):
        topdown.crop_box(bbox, input_size=(192, 256))


# --------------------------------------------------------------------------- part scales by hand
def test_face_hand_and_foot_over_person_height():
    points = {FACE[i]: (20 + i % 17, 30 + 20 * (i // 17) / 3) for i in range(68)}  # y spans 30..50
    points |= {k("left_hand_root"): (100, 100), k("left_middle_finger4"): (100, 118),  # 18 px
               k("right_hand_root"): (0, 0), k("right_middle_finger4"): (12, 16),  # 20 px: the longer
               k("left_heel"): (0, 0), k("left_big_toe"): (30, 40),  # 50 px
               k("right_heel"): (5, 5)}  # no right big toe: no right foot
    m = calibration.measure_person(person(points))  # 200 px tall
    assert m["face_height"] == pytest.approx(20 / 200)
    assert m["hand_length"] == pytest.approx(20 / 200)
    assert m["foot_length"] == pytest.approx(50 / 200)
    assert set(m) == set(calibration.measure_names())


def test_a_face_with_too_few_landmarks_has_no_height_and_missing_parts_are_nan():
    points = {FACE[i]: (i, i) for i in range(calibration.MIN_FACE_POINTS - 1)}
    m = calibration.measure_person(person(points))
    assert math.isnan(m["face_height"]) and math.isnan(m["hand_length"]) and math.isnan(m["foot_length"])
    assert not math.isnan(m["face_spacing@64x48"])  # the spacing needs two landmarks only


def test_face_landmark_spacing_in_heatmap_pixels():
    # a 17 x 4 grid, 10 image px apart; box 50 x 200: crop height 250 px -> 64 / 250 heatmap px per px
    points = {FACE[i]: (10 * (i % 17), 10 * (i // 17)) for i in range(68)}
    m = calibration.measure_person(person(points))
    assert m["face_spacing@64x48"] == pytest.approx(10 * 64 / 250)
    assert m["face_spacing@32x24"] == pytest.approx(10 * 32 / 250)


def _lattice_disc(width, height, cx, cy, r2):
    """Pixels (i, j) of a width x height map within sqrt(r2) of (cx, cy), counted one by one."""
    return sum(1 for j in range(height) for i in range(width) if (i - cx) ** 2 + (j - cy) ** 2 <= r2)


def test_foreground_of_one_keypoint_is_the_disc_around_it():
    # the nose at the centre of a box with the crop's aspect: heatmap (24, 32) on the 48 x 64 map
    m = calibration.measure_person(person({BODY[0]: (48, 64)}, bbox=(0, 0, 96, 128)))
    disc = _lattice_disc(48, 64, 24, 32, R2)
    assert m["foreground@64x48"] == pytest.approx(disc / (48 * 64))
    # the disc of radius 23.5 px, its right edge cut by the map's (x <= 47, 23 px from the centre)
    assert disc == pytest.approx(math.pi * R2, rel=0.03) and R2 == pytest.approx(554.5, abs=0.1)
    # on 32 x 24 every pixel is within 20 px, so all of the map is foreground; mean p^γ by hand
    assert m["foreground@32x24"] == 1.0
    by_hand = np.mean([math.exp(-calibration.GAMMA * ((i - 12) ** 2 + (j - 16) ** 2) / 8)
                       for j in range(32) for i in range(24)])
    assert m["mean_p_gamma@32x24"] == pytest.approx(by_hand, rel=1e-6)


def test_foreground_follows_the_float32_target_and_mmpose_s_dropped_keypoints():
    labelled = np.ones(3, bool)
    # 3σ = 6: a keypoint at x = -7.5 gets no target (x + 6 + 1 < 0), one at x = -6.5 does
    share, mean = calibration.fwahr_foreground([[-7.5, 10], [-6.5, 10], [0, 0]], labelled, (48, 64))
    assert share.shape == (2,) and mean.shape == (2,)
    # the float32 target underflows to 0 some 29 px away, so p^γ is 0 there (not exp(-γ d²/2σ²))
    _, far = calibration.fwahr_foreground([[0, 0]], [True], (40, 1))
    assert far[0] == pytest.approx(np.mean([math.exp(-0.01 * i * i / 8) if i <= 28 else 0.0 for i in range(40)]),
                                   rel=1e-3)
    with pytest.raises(ValueError, match="sigma"):
        calibration.fwahr_foreground([[0, 0]], [True], (48, 64), sigma=0)


@pytest.mark.mmpose
def test_foreground_matches_mmpose_s_own_targets():
    pytest.importorskip("mmpose")
    from fowkal.viz import figures

    rng = np.random.default_rng(0)
    bbox = [40, 30, 120, 180]
    xy = np.zeros((NUM_KEYPOINTS, 2))
    xy[:] = rng.uniform((20, 10), (180, 230), (NUM_KEYPOINTS, 2))  # some outside the crop
    labelled = rng.uniform(size=NUM_KEYPOINTS) < 0.7
    for geometry in (P64, P32):
        sample = figures.topdown_sample(np.zeros((260, 220, 3), np.uint8), bbox, xy, labelled, **geometry)
        ours = topdown.to_heatmap(xy, bbox, **geometry)
        assert ours[labelled] == pytest.approx(sample["xy_heatmap"][labelled], abs=1e-3)
        share, mean = calibration.fwahr_foreground(ours, labelled, geometry["heatmap_size"])
        maps = sample["heatmaps"][[i for i in range(NUM_KEYPOINTS) if labelled[i]]]
        maps = maps[maps.max((1, 2)) > 0].astype(np.float64)  # MMPose's dropped keypoints: all-zero maps
        assert share == pytest.approx(((maps ** 0.01) >= 0.5).mean((1, 2)), abs=2e-3)
        assert mean == pytest.approx((maps ** 0.01).mean((1, 2)), abs=1e-3)


# --------------------------------------------------------------------------- summaries
def test_median_interval_order_statistics():
    x = np.arange(1.0, 14.0)  # n = 13: P(B <= 2) = 0.011 <= 0.025 < P(B <= 3): x_(3), x_(11)
    assert calibration.median_interval(x[::-1]) == (3.0, 11.0)
    assert calibration.median_interval(np.arange(1.0, 101.0)) == (40.0, 61.0)
    assert all(math.isnan(v) for v in calibration.median_interval(np.arange(5.0)))
    with pytest.raises(ValueError, match="NaN"):
        calibration.median_interval([1.0, math.nan])


def test_summarize_medians_quartiles_and_skipped_people():
    faces = [{FACE[i]: (i % 17, h * (i // 17) / 3) for i in range(68)} for h in (10, 20, 30, 40, 50)]
    people = [person(f, id=n) for n, f in enumerate(faces)]
    people += [person({}, id=9), person({BODY[0]: (1, 1)}, id=10, iscrowd=1)]  # nothing to measure
    s = calibration.summarize({"made up": people})["made up"]
    assert s["people"] == 5
    assert s["face_height"]["n"] == 5 and s["hand_length"]["n"] == 0
    assert (s["face_height"]["median"], s["face_height"]["q1"], s["face_height"]["q3"]) == pytest.approx(
        (30 / 200, 20 / 200, 40 / 200))
    assert math.isnan(s["hand_length"]["median"])


def test_disagreements_beyond_the_tolerance():
    def stats(median, n=10):
        return {"n": n, "median": median, "q1": median, "q3": median, "ci": (median, median)}

    summary = {"real": {"people": 10, "a": stats(1.0), "b": stats(1.0), "c": stats(1.0), "d": stats(1.0, n=0)},
               "bench": {"people": 9, "a": stats(1.3), "b": stats(0.8), "c": stats(0.7), "d": stats(5.0)}}
    assert calibration.disagreements(summary, "real", "bench") == pytest.approx({"a": 1.3, "c": 0.7})
    with pytest.raises(KeyError, match="synthetic"):
        calibration.disagreements(summary, "real", "synthetic")


def test_bad_input_is_named():
    good = person({BODY[0]: (1, 1)})
    with pytest.raises(ValueError, match="bbox"):
        calibration.measure_person({key: v for key, v in good.items() if key != "bbox"})
    with pytest.raises(ValueError, match="lefthand_kpts"):
        calibration.measure_person({key: v for key, v in good.items() if key != "lefthand_kpts"})
    with pytest.raises(ValueError, match="no labelled keypoint"):
        calibration.measure_person(person({}))
    with pytest.raises(ValueError, match="nothing to measure"):
        calibration.summarize({"empty": [person({}), person({})]})


def test_read_people_merges_files_by_annotation_id(tmp_path):
    a, b = person({BODY[0]: (1, 1)}, id=1), person({BODY[0]: (2, 2)}, id=2)
    (tmp_path / "one.json").write_text(json.dumps({"annotations": [a]}))
    (tmp_path / "two.json").write_text(json.dumps({"annotations": [a, b]}))
    assert [p["id"] for p in calibration.read_people(tmp_path / "one.json", tmp_path / "two.json")] == [1, 2]
    (tmp_path / "clash.json").write_text(json.dumps({"annotations": [person({BODY[0]: (3, 3)}, id=1)]}))
    with pytest.raises(ValueError, match="id 1 differs"):
        calibration.read_people(tmp_path / "one.json", tmp_path / "clash.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        calibration.read_people(tmp_path / "list.json")
    with pytest.raises(ValueError, match="at least one"):
        calibration.read_people()


# --------------------------------------------------------------------------- the benchmark, real people
@pytest.mark.slow
def test_the_face_measure_follows_the_benchmark_head_size(tmp_path):
    from fowkal.data import VAL_ANN, make_benchmark

    medians = {}
    for head in (0.2, 0.13):
        root = make_benchmark(tmp_path / str(head), seed=2, workers=1, train_images=1, val_images=12,
                              head_size=head)
        anns = json.loads((root / VAL_ANN).read_text())["annotations"]
        medians[head] = calibration.summarize({"b": anns})["b"]["face_height"]["median"]
    # the landmarks span about two thirds of the drawn head (brow to chin)
    assert 0.55 < medians[0.2] / 0.2 < 0.8
    assert medians[0.13] / medians[0.2] == pytest.approx(0.13 / 0.2, rel=0.1)


def test_real_people_measure_in_plausible_ranges(real_sample, eval_example):
    people = calibration.read_people(real_sample / "test_coco_wholebody.json", eval_example / "example_gt.json")
    assert len(people) == 26  # the evaluation example holds the sample's 14 people and 12 more
    s = calibration.summarize({"real": people})["real"]
    assert 0.05 < s["face_height"]["median"] < 0.3 and s["face_height"]["n"] >= 10
    assert 0.03 < s["hand_length"]["median"] < 0.25 and 0.03 < s["foot_length"]["median"] < 0.25
    # real faces are small: neighbouring landmarks well under a heatmap pixel apart at 64 x 48,
    # half that at 32 x 24 (the same crop, half the heatmap)
    assert 0.1 < s["face_spacing@64x48"]["median"] < 1.0
    assert s["face_spacing@32x24"]["median"] == pytest.approx(s["face_spacing@64x48"]["median"] / 2)
    # FWAHR's foreground (23.5 px around each keypoint) covers most of a 32 x 24 map, under 60 % of 64 x 48
    assert s["foreground@32x24"]["median"] > 0.85 and 0.3 < s["foreground@64x48"]["median"] < 0.6
    assert s["mean_p_gamma@32x24"]["median"] > s["mean_p_gamma@64x48"]["median"]
