"""The embedded benchmark generator: schema, determinism, scale, noise, caching, bad input, CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fowkal.data import (DEFAULT_PARAMS, GENERATOR_VERSION, MANIFEST, TRAIN_ANN, VAL_ANN,
                         VAL_DETECTIONS, benchmark_key, content_sha256, default_benchmark, make_benchmark)
from fowkal.viz.contact_sheet import contact_sheet
from fowkal.parts import ANNOTATION_FIELDS, BODY, FACE, FOOT, LEFT_HAND, RIGHT_HAND, SKELETON

# A tiny benchmark: small images and people, a handful of images per split.
TINY = dict(train_images=6, val_images=5, image_size=(192, 160), person_height=(90.0, 140.0))
FIELD_LENGTHS = {"keypoints": 17, "foot_kpts": 6, "face_kpts": 68, "lefthand_kpts": 21,
                 "righthand_kpts": 21}
PART_BOXES = {"face_kpts": ("face_box", "face_valid"), "lefthand_kpts": ("lefthand_box", "lefthand_valid"),
              "righthand_kpts": ("righthand_box", "righthand_valid")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_benchmark(tmp_path_factory.mktemp("bench") / "tiny", seed=3, workers=1, **TINY)


def _load(root: Path, rel: str):
    return json.loads((root / rel).read_text())


def _tree_bytes(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- layout and schema
def test_layout(tiny):
    for rel in (MANIFEST, TRAIN_ANN, VAL_ANN, VAL_DETECTIONS):
        assert (tiny / rel).is_file(), rel
    for split, n in (("train", TINY["train_images"]), ("val", TINY["val_images"])):
        coco = _load(tiny, f"annotations/wholebody_{split}.json")
        assert len(coco["images"]) == n
        for img in coco["images"]:
            assert (tiny / "images" / split / img["file_name"]).is_file()
    assert not [p for p in tiny.parent.iterdir() if p.name.startswith(".")], "temp folders left"


def _kind(value):
    """JSON value kind as the schema sees it: ints and floats are both numbers."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def test_schema_matches_real_coco_wholebody(tiny, real_sample):
    sample = real_sample
    real = json.loads((Path(sample) / "test_coco_wholebody.json").read_text())
    ours = _load(tiny, VAL_ANN)
    assert list(ours) == list(real), "top-level keys"
    for section in ("images", "annotations", "categories"):
        r, o = real[section][0], ours[section][0]
        assert set(o) == set(r), f"{section}: {set(o) ^ set(r)}"
        for key in r:
            assert _kind(o[key]) == _kind(r[key]), f"{section}.{key}: {_kind(o[key])} vs {_kind(r[key])}"
    for key, value in real["info"].items():  # our info block extends the real one
        assert _kind(ours["info"][key]) == _kind(value), f"info.{key}"
    r_cat, o_cat = real["categories"][0], ours["categories"][0]
    assert o_cat["keypoints"] == r_cat["keypoints"] and o_cat["skeleton"] == r_cat["skeleton"]
    r_ann = real["annotations"][0]
    for ann in ours["annotations"]:
        for field, n in FIELD_LENGTHS.items():
            assert len(ann[field]) == 3 * n == len(r_ann[field])
        for box in ("bbox", "face_box", "lefthand_box", "righthand_box"):
            assert len(ann[box]) == 4
        assert isinstance(ann["segmentation"], list) and all(len(p) >= 6 for p in ann["segmentation"])


@pytest.mark.parametrize("split", ["train", "val"])
def test_keypoint_triplets_flags_and_boxes(tiny, split):
    coco = _load(tiny, f"annotations/wholebody_{split}.json")
    sizes = {img["id"]: (img["width"], img["height"]) for img in coco["images"]}
    ids = [a["id"] for a in coco["annotations"]]
    assert len(ids) == len(set(ids)) and len(ids) >= TINY[f"{split}_images"]
    for ann in coco["annotations"]:
        width, height = sizes[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= width and y + h <= height
        assert ann["area"] > 0 and ann["iscrowd"] == 0 and ann["category_id"] == 1
        for field in ANNOTATION_FIELDS:
            trip = np.array(ann[field], float).reshape(-1, 3)
            assert set(np.unique(trip[:, 2])) <= {0, 1, 2}, field
            assert all(isinstance(v, int) for v in ann[field][2::3]), f"{field} flags are ints"
            assert np.all(trip[trip[:, 2] == 0, :2] == 0), f"{field}: unlabelled points are 0,0"
        body = np.array(ann["keypoints"]).reshape(-1, 3)
        assert ann["num_keypoints"] == int((body[:, 2] > 0).sum())
        assert ann["foot_valid"] == bool((np.array(ann["foot_kpts"])[2::3] > 0).any())
        for field, (box_key, valid_key) in PART_BOXES.items():
            trip = np.array(ann[field], float).reshape(-1, 3)
            box = ann[box_key]
            if not ann[valid_key]:
                assert box == [0.0, 0.0, 0.0, 0.0] and not trip.any(), f"invalid {field} is zero"
                continue
            assert box[2] > 0 and box[3] > 0
            if split == "val":  # clean labels lie in their part box
                pts = trip[trip[:, 2] > 0, :2]
                assert np.all(pts >= np.array(box[:2]) - 0.01)
                assert np.all(pts <= np.array(box[:2]) + np.array(box[2:]) + 0.01)


def test_benchmark_has_the_variety_it_promises(tmp_path):
    root = make_benchmark(tmp_path / "b", seed=0, workers=1, train_images=1, val_images=60)
    anns = _load(root, VAL_ANN)["annotations"]
    flags = np.concatenate([np.array(a[f]).reshape(-1, 3)[:, 2] for a in anns for f in ANNOTATION_FIELDS])
    assert {0, 1, 2} <= set(flags.astype(int)), "visible, occluded and unlabelled keypoints"
    assert any(not a["face_valid"] for a in anns) and sum(a["face_valid"] for a in anns) > len(anns) / 2
    assert sum(a["lefthand_valid"] for a in anns) > len(anns) / 3
    per_image = np.bincount([a["image_id"] for a in anns])
    assert per_image.max() >= 2, "several people per image"
    truncated = [a for a in anns if (np.array(a["keypoints"]).reshape(-1, 3)[:, 2] == 0).sum() >= 4]
    assert truncated, "some people partly out of the frame"


def test_info_block_records_generator_seed_params_and_noise(tiny):
    for split in ("train", "val"):
        info = _load(tiny, f"annotations/wholebody_{split}.json")["info"]
        assert info["generator_version"] == GENERATOR_VERSION and info["seed"] == 3
        assert info["params"]["train_images"] == TINY["train_images"]
        assert set(info["params"]) == set(DEFAULT_PARAMS)
        noise = info["annotation_noise"]["parts"]
        assert set(noise) == {"body", "foot", "face", "hand"}
        assert set(info["annotation_noise"]["std_unit"]) == set(noise)
        for part, value in noise.items():
            expected = DEFAULT_PARAMS[f"noise_{part}"] * (1.0 if split == "train" else DEFAULT_PARAMS["val_noise"])
            assert value == pytest.approx(expected)


def test_default_noise_makes_coarse_parts_noisier_than_dense():
    assert DEFAULT_PARAMS["noise_body"] > DEFAULT_PARAMS["noise_face"]
    assert DEFAULT_PARAMS["noise_foot"] > DEFAULT_PARAMS["noise_hand"]
    assert DEFAULT_PARAMS["val_noise"] == 0.0


# ----------------------------------------------------------------------------- determinism and noise
def test_same_seed_same_bytes_other_seed_other_data(tmp_path, tiny):
    again = make_benchmark(tmp_path / "again", seed=3, workers=1, **TINY)
    assert _tree_bytes(again) == _tree_bytes(tiny)
    other = make_benchmark(tmp_path / "other", seed=4, workers=1, **TINY)
    assert _load(other, VAL_ANN)["annotations"] != _load(tiny, VAL_ANN)["annotations"]


@pytest.mark.slow
def test_worker_count_does_not_change_the_output(tmp_path):
    params = dict(train_images=70, val_images=4, image_size=(160, 128), person_height=(80.0, 110.0))
    one = make_benchmark(tmp_path / "one", seed=1, workers=1, **params)
    two = make_benchmark(tmp_path / "two", seed=1, workers=2, **params)  # >= 64 images: a pool
    assert _tree_bytes(one) == _tree_bytes(two)


def _part_shift(a_root, b_root, split):
    """Mean label displacement per part between two benchmarks (same images)."""
    shift = {}
    a_anns, b_anns = (_load(r, f"annotations/wholebody_{split}.json")["annotations"] for r in (a_root, b_root))
    for part, fields in (("body", ["keypoints"]), ("foot", ["foot_kpts"]), ("face", ["face_kpts"]),
                         ("hand", ["lefthand_kpts", "righthand_kpts"])):
        d = [np.abs(np.array(a[f]) - np.array(b[f])).mean() for a, b in zip(a_anns, b_anns) for f in fields]
        shift[part] = float(np.mean(d))
    return shift


def test_noise_moves_train_labels_of_its_part_only(tmp_path, tiny):
    quiet = make_benchmark(tmp_path / "quiet", seed=3, workers=1, noise_face=0.0, noise_body=0.0,
                           **TINY)
    assert (quiet / "images").exists()
    assert {k: v for k, v in _tree_bytes(quiet).items() if k.startswith("images")} == {
        k: v for k, v in _tree_bytes(tiny).items() if k.startswith("images")}, "noise is labels only"
    train = _part_shift(quiet, tiny, "train")
    assert train["body"] > 0 and train["face"] > 0, train
    assert train["foot"] == 0 and train["hand"] == 0, train  # their noise did not change
    assert max(_part_shift(quiet, tiny, "val").values()) == 0, "val labels are clean by default"


def test_area_scale_scales_only_the_area(tmp_path, tiny):
    coco_area = make_benchmark(tmp_path / "coco", seed=3, workers=1, area_scale=1.0, **TINY)
    ours, plain = _load(tiny, VAL_ANN)["annotations"], _load(coco_area, VAL_ANN)["annotations"]
    scale = DEFAULT_PARAMS["area_scale"]
    for a, b in zip(ours, plain):
        assert a["area"] == pytest.approx(b["area"] * scale, abs=0.01 * scale)
        assert {k: v for k, v in a.items() if k != "area"} == {k: v for k, v in b.items() if k != "area"}
        x, y, w, h = b["bbox"]
        assert 0 < b["area"] <= w * h, "COCO area: the visible silhouette, inside its box"


def test_oks_noise_follows_each_keypoints_sigma_and_the_persons_scale(tmp_path):
    from fowkal.parts import ANNOTATION_FIELDS, SIGMAS

    params = dict(TINY, train_images=12, noise_kind="oks")
    noisy = make_benchmark(tmp_path / "oks", seed=5, workers=1, noise_oks=1.0, **params)
    clean = make_benchmark(tmp_path / "clean", seed=5, workers=1, noise_oks=0.0, **params)
    info = _load(noisy, TRAIN_ANN)["info"]
    assert info["annotation_noise"]["oks"] == 1.0 and "sigma" in info["annotation_noise"]["std_unit"]
    scale = DEFAULT_PARAMS["area_scale"]
    ratios = {"dense": [], "coarse": []}  # squared displacement over (sigma_k * s)^2, s^2 = COCO's area
    for a, b in zip(_load(noisy, TRAIN_ANN)["annotations"], _load(clean, TRAIN_ANN)["annotations"]):
        s2 = b["area"] / scale
        for field, idx in ANNOTATION_FIELDS.items():
            for j, k in enumerate(idx):
                if b[field][3 * j + 2] > 0 and a[field][3 * j + 2] > 0:
                    d2 = (a[field][3 * j] - b[field][3 * j]) ** 2 + (a[field][3 * j + 1] - b[field][3 * j + 1]) ** 2
                    group = "coarse" if field in ("keypoints", "foot_kpts") else "dense"
                    ratios[group].append(d2 / (SIGMAS[k] ** 2 * s2))
    for group, values in ratios.items():  # E[d^2] = (sigma_k s)^2: the sigma's own definition
        assert len(values) > 300 and 0.85 < np.mean(values) < 1.15, (group, len(values), np.mean(values))
    assert _part_shift(clean, noisy, "val") == {p: 0 for p in ("body", "foot", "face", "hand")}  # val stays clean


def test_val_noise_applies_to_val_labels(tmp_path, tiny):
    noisy = make_benchmark(tmp_path / "noisy", seed=3, workers=1, val_noise=1.0, **TINY)
    shift = _part_shift(noisy, tiny, "val")
    assert all(v > 0 for v in shift.values()), shift


# ----------------------------------------------------------------------------- scale (paper, Fig. 1)
def _heatmap_px(bbox, heatmap_h=32, aspect=0.75, padding=1.25):
    """Image pixels per heatmap pixel after MMPose's top-down crop of this box."""
    w, h = bbox[2] * padding, bbox[3] * padding
    return max(h, w / aspect) / heatmap_h


def test_dense_parts_overlap_at_heatmap_resolution_coarse_ones_do_not(tmp_path):
    root = make_benchmark(tmp_path / "b", seed=0, workers=1, train_images=1, val_images=40)
    nearest = {"face": [], "hand": [], "limbs": []}
    for ann in _load(root, VAL_ANN)["annotations"]:
        pts = np.concatenate([np.array(ann[f], float).reshape(-1, 3) for f in ANNOTATION_FIELDS])
        for name, idx in (("face", FACE), ("hand", LEFT_HAND + RIGHT_HAND), ("limbs", BODY[5:])):
            p = pts[list(idx)]
            p = p[p[:, 2] > 0, :2] / _heatmap_px(ann["bbox"])
            if len(p) >= 6:
                d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p)) * 1e9
                nearest[name].append(np.median(d.min(1)))
    sigma = 2.0
    assert np.median(nearest["face"]) < sigma / 2, "face landmarks share one Gaussian"
    assert np.median(nearest["hand"]) < sigma / 2, "hand joints share one Gaussian"
    assert np.median(nearest["limbs"]) > sigma, "body joints have Gaussians of their own"


# ----------------------------------------------------------------------------- detections
def _iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_person_detections_look_like_a_detector(tmp_path):
    root = make_benchmark(tmp_path / "b", seed=0, workers=1, train_images=1, val_images=60)
    dets = _load(root, VAL_DETECTIONS)
    coco = _load(root, VAL_ANN)
    assert dets and all(list(d) == ["bbox", "category_id", "image_id", "score"] for d in dets)
    assert {d["image_id"] for d in dets} <= {img["id"] for img in coco["images"]}
    assert all(0 < d["score"] <= 1 and d["category_id"] == 1 and len(d["bbox"]) == 4 for d in dets)
    best = []
    for ann in coco["annotations"]:
        same = [_iou(ann["bbox"], d["bbox"]) for d in dets if d["image_id"] == ann["image_id"]]
        best.append(max(same, default=0.0))
    best = np.array(best)
    assert np.mean(best > 0.5) > 0.85, "most people are found"
    assert np.mean(best > 0.99) < 0.5, "boxes are jittered, not copies of the ground truth"
    false = [d for d in dets if max((_iou(a["bbox"], d["bbox"]) for a in coco["annotations"]
                                     if a["image_id"] == d["image_id"]), default=0.0) < 0.3]
    assert false and max(d["score"] for d in false) < 0.7, "false positives with lower scores"


# ----------------------------------------------------------------------------- identity
#: The content (``content_sha256``) of ``make_benchmark(seed=0, **PINNED_PARAMS)`` per generator version.
#: A change to the generator that changes this fails the test below: bump GENERATOR_VERSION
#: (fowkal/data/params.py), pin the new content here, and say what changed in CHANGELOG.md.
PINNED_PARAMS = dict(train_images=3, val_images=3)
PINNED_CONTENT = {"2.0.0": "d43b28805f5774a50d7065ef21bff0f67cee5df7f69b5262116244d8421e18ec"}


def test_the_generator_version_makes_its_pinned_content(tmp_path):
    bench = make_benchmark(tmp_path / "b", seed=0, workers=1, progress=False, **PINNED_PARAMS)
    assert GENERATOR_VERSION in PINNED_CONTENT, f"pin the content of generator {GENERATOR_VERSION} here"
    assert content_sha256(bench) == PINNED_CONTENT[GENERATOR_VERSION], (
        f"generator {GENERATOR_VERSION} now makes other images or labels: bump GENERATOR_VERSION and pin "
        f"{content_sha256(bench)}")


def test_the_key_is_version_seed_and_every_parameter():
    assert benchmark_key(0, {}) == benchmark_key(0, dict(DEFAULT_PARAMS))  # the defaults complete it
    assert len({benchmark_key(0, {}), benchmark_key(1, {}), benchmark_key(0, {}, version="0.0.1"),
                benchmark_key(0, {"noise_face": 0.02})}) == 4


def test_the_content_hash_is_the_data_not_its_description(tmp_path, tiny):
    import shutil

    copy = Path(shutil.copytree(tiny, tmp_path / "copy"))
    assert content_sha256(copy) == content_sha256(tiny) == _load(tiny, MANIFEST)["content_sha256"]
    ann = _load(copy, TRAIN_ANN)
    ann["info"]["description"] = "another description"  # what describes the data is not the data
    (copy / TRAIN_ANN).write_text(json.dumps(ann, indent=2))  # nor is the formatting
    (copy / MANIFEST).write_text("{}")
    assert content_sha256(copy) == content_sha256(tiny)
    ann["annotations"][0]["keypoints"][0] += 1.0
    (copy / TRAIN_ANN).write_text(json.dumps(ann))
    assert content_sha256(copy) != content_sha256(tiny)
    (copy / TRAIN_ANN).write_bytes((tiny / TRAIN_ANN).read_bytes())
    image = sorted((copy / "images" / "val").iterdir())[0]
    image.write_bytes(image.read_bytes() + b"\0")
    assert content_sha256(copy) != content_sha256(tiny)


# ----------------------------------------------------------------------------- caching
def test_default_benchmark_is_made_once_and_named_by_version_and_params(tmp_path, monkeypatch):
    monkeypatch.setenv("FOWKAL_DATA_ROOT", str(tmp_path / "data"))
    small = dict(train_images=2, val_images=2, image_size=(128, 96), person_height=(60.0, 80.0))
    first = default_benchmark(workers=1, **small)
    assert first.parent == tmp_path / "data" and (first / MANIFEST).is_file()
    stamp = (first / TRAIN_ANN).stat().st_mtime_ns

    def must_not_run(*args, **kwargs):
        raise AssertionError("the cached benchmark was generated again")

    monkeypatch.setattr("fowkal.data.generate.make_benchmark", must_not_run)
    assert default_benchmark(workers=1, **small) == first
    assert (first / TRAIN_ANN).stat().st_mtime_ns == stamp
    monkeypatch.undo()
    monkeypatch.setenv("FOWKAL_DATA_ROOT", str(tmp_path / "data"))
    other = default_benchmark(workers=1, **{**small, "noise_face": 0.0})
    assert other != first and other.parent == first.parent


@pytest.mark.slow
def test_concurrent_first_use_generates_once(tmp_path):
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO);"
            "from fowkal.data import default_benchmark;"
            "print(default_benchmark(sys.argv[1], workers=1, train_images=8, val_images=4,"
            " image_size=(128, 96), person_height=(60.0, 80.0)))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1
    assert sum(err.count("generated") for _, err in outs) == 1, "made once, reused by the other"
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [Path(paths.pop()).name]


@pytest.mark.slow
def test_unguarded_script_with_worker_pool_finishes(tmp_path):
    """A script without ``if __name__ == '__main__'`` (a notebook export, say) must not hang."""
    script = tmp_path / "script.py"
    script.write_text("import torch  # threads in the parent, as in a training script\n"
                      "from fowkal.data import default_benchmark\n"
                      f"print(default_benchmark({str(tmp_path / 'data')!r}, workers=2, "
                      "train_images=64, val_images=2, image_size=(128, 96), "
                      "person_height=(60.0, 80.0)))\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (Path(run.stdout.strip()) / MANIFEST).is_file()


def test_default_root_is_the_repos_data_folder(monkeypatch):
    import fowkal
    from fowkal.data import default_data_root

    monkeypatch.delenv("FOWKAL_DATA_ROOT", raising=False)
    assert default_data_root() == Path(fowkal.__file__).resolve().parents[1] / "data"


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("params, error, words", [
    ({"train_images": 0}, ValueError, "train_images"),
    ({"val_images": 2.5}, TypeError, "val_images"),
    ({"image_size": (10, 10)}, ValueError, "image_size"),
    ({"image_size": 256}, TypeError, "image_size"),
    ({"persons_per_image": (3, 1)}, ValueError, "persons_per_image"),
    ({"person_height": (200.0, 100.0)}, ValueError, "person_height"),
    ({"noise_face": -0.1}, ValueError, "noise_face"),
    ({"noise_body": float("nan")}, ValueError, "noise_body"),
    ({"occluder_prob": 1.5}, ValueError, "occluder_prob"),
    ({"image_format": "gif"}, ValueError, "image_format"),
    ({"noise_kind": "annotator"}, ValueError, "noise_kind"),
    ({"noise_oks": -1.0}, ValueError, "noise_oks"),
    ({"noise": 0.1}, TypeError, "unknown"),
])
def test_bad_parameters_fail_before_writing(tmp_path, params, error, words):
    with pytest.raises(error, match=words):
        make_benchmark(tmp_path / "out", **params)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed, error", [(1.5, TypeError), ("0", TypeError), (True, TypeError),
                                         (None, TypeError), (-1, ValueError)])
def test_bad_seed(tmp_path, seed, error):
    with pytest.raises(error, match="seed"):
        make_benchmark(tmp_path / "out", seed=seed, **TINY)
    assert list(tmp_path.iterdir()) == []


def test_bad_output_folders(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        make_benchmark(tmp_path / "missing" / "out", **TINY)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        make_benchmark(tmp_path / "file" / "out", **TINY)
    with pytest.raises(TypeError, match="out_dir"):
        make_benchmark(42, **TINY)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite"):
        make_benchmark(tmp_path / "full", **TINY)
    with pytest.raises(ValueError, match="not a fowkal benchmark"):
        make_benchmark(tmp_path / "full", overwrite=True, **TINY)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc as an unwritable folder")
def test_unwritable_output_folder():
    with pytest.raises(ValueError, match="/proc"):
        make_benchmark("/proc/fowkal-benchmark", **TINY)


def test_failure_leaves_no_half_written_benchmark(tmp_path, monkeypatch):
    import fowkal.data.generate as generate

    real, calls = generate.render_task, []

    def fail_on_third(task):
        calls.append(task)
        if len(calls) == 3:
            raise RuntimeError("renderer crashed")
        return real(task)

    monkeypatch.setattr(generate, "render_task", fail_on_third)
    with pytest.raises(RuntimeError, match="crashed"):
        make_benchmark(tmp_path / "out", workers=1, **TINY)
    assert list(tmp_path.iterdir()) == [], "no output folder and no temp folder"


@pytest.mark.skipif(sys.platform.startswith("win"), reason="uses a shell script as the interpreter")
def test_crashed_worker_process_leaves_nothing(tmp_path, monkeypatch):
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho 'worker exploded' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    out_parent = tmp_path / "out"
    out_parent.mkdir()
    with pytest.raises(RuntimeError, match="worker exploded"):
        make_benchmark(out_parent / "b", workers=2, train_images=64, val_images=1)
    assert list(out_parent.iterdir()) == []


def test_overwrite_replaces_an_existing_benchmark(tmp_path, tiny):
    out = make_benchmark(tmp_path / "b", seed=3, workers=1, **TINY)
    (out / "stale.txt").write_text("old")
    make_benchmark(out, seed=3, workers=1, overwrite=True, **TINY)
    assert not (out / "stale.txt").exists() and _tree_bytes(out) == _tree_bytes(tiny)
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


# ----------------------------------------------------------------------------- contact sheet and CLI
def test_contact_sheet_writes_a_png(tiny, tmp_path):
    import cv2

    out = contact_sheet(tiny, tmp_path / "sheet.png", n=4, columns=2)
    img = cv2.imread(str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and img.shape[0] > 300 and img.shape[1] > 500
    assert img.std() > 20, "not a blank image"
    with pytest.raises(ValueError, match="split"):
        contact_sheet(tiny, tmp_path / "x.png", split="test")
    with pytest.raises(ValueError, match="benchmark folder"):
        contact_sheet(tmp_path, tmp_path / "x.png")
    with pytest.raises(ValueError, match="colors"):
        contact_sheet(tiny, tmp_path / "x.png", colors=1000)
    with pytest.raises(ValueError, match="does not exist"):
        contact_sheet(tiny, tmp_path / "no" / "x.png")
    full = contact_sheet(tiny, tmp_path / "full.png", n=2, colors=None)
    assert cv2.imread(str(full)).shape[2] == 3
    assert not (tmp_path / "x.png").exists()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fowkal.data", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_command_line(tmp_path, tiny):
    out = tmp_path / "cli"
    run = _cli("make", "--out", str(out), "--seed", "3", "--workers", "1",
               "--train-images", "6", "--val-images", "5", "--image-size", "192", "160",
               "--person-height", "90", "140")
    assert run.returncode == 0, run.stderr
    assert _tree_bytes(out) == _tree_bytes(tiny), "CLI and API give the same benchmark"
    sheet = _cli("sheet", "--root", str(out), "--out", str(tmp_path / "s.png"), "--n", "2")
    assert sheet.returncode == 0 and (tmp_path / "s.png").is_file(), sheet.stderr
    bad = _cli("make", "--out", str(tmp_path / "bad"), "--seed", "1.5")
    assert bad.returncode == 2 and "seed" in bad.stderr
    bad = _cli("make", "--out", str(tmp_path / "bad"), "--noise-face", "-1")
    assert bad.returncode == 2 and "noise_face" in bad.stderr and not (tmp_path / "bad").exists()


def test_skeleton_in_category_is_the_body_part_of_parts_skeleton(tiny):
    cat = _load(tiny, VAL_ANN)["categories"][0]
    assert [tuple(link) for link in cat["skeleton"]] == list(SKELETON[:19])
    assert all(max(link) <= len(BODY) for link in cat["skeleton"])
    assert len(FOOT) == 6 and len(RIGHT_HAND) == 21 and math.isfinite(cat["id"])
