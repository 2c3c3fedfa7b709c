"""The data chapter's summaries of the embedded benchmark (fowkal.studies.benchmark), on a tiny generated
benchmark."""
from __future__ import annotations

import json

import pytest

from fowkal.data import TRAIN_ANN, VAL_ANN, calibration, make_benchmark, read_manifest
from fowkal.studies import benchmark

CPU = dict(input_size=(96, 128), heatmap_size=(48, 64))
SIZES = {"CPU now": CPU, "CPU before": dict(input_size=(96, 128), heatmap_size=(24, 32))}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = make_benchmark(tmp_path_factory.mktemp("bench") / "b", seed=0, train_images=2, val_images=4)
    train_info = json.loads((root / TRAIN_ANN).read_text())["info"]
    val = json.loads((root / VAL_ANN).read_text())
    return root, read_manifest(root), train_info, val


def test_description_and_noise(tiny):
    root, manifest, train_info, val = tiny
    text = benchmark.description_markdown(root, manifest, train_info)
    assert f"Benchmark `{root.name}`" in text and f"| val | 4 | {manifest['counts']['val']['persons']} | exact |" in text
    noise = benchmark.noise_markdown(train_info, val["annotations"], CPU)
    assert "| part | train label noise (std) | relative to | ≈ heatmap px (64×48) |" in noise
    assert "the coarse parts are noisier than the dense ones" in noise  # the default benchmark's premise
    person = val["annotations"][0]
    assert benchmark.part_length_px(person, "body") == person["bbox"][3]


def test_neighbours_are_closer_on_the_smaller_heatmap(tiny):
    _, _, _, val = tiny
    people = [a for a in val["annotations"] if a["num_keypoints"] > 0]
    rows = benchmark.neighbour_rows(people, "tiny", SIZES)
    assert [r.split(" | ")[1] for r in rows] == ["64×48", "32×24"]
    face = [float(r.split(" | ")[4].split(" px")[0]) for r in rows]
    assert face[1] < face[0]  # the same people on a grid half as fine
    assert benchmark.HALF_MAX_PX == pytest.approx(2.3548, abs=1e-4)
    best = max(val["annotations"], key=benchmark.fully_labelled)
    assert benchmark.fully_labelled(best) >= benchmark.fully_labelled(val["annotations"][-1])


def test_calibration_tables(tiny):
    _, _, train_info, val = tiny
    alone = calibration.summarize({"benchmark": val["annotations"]})
    table = benchmark.calibration_markdown(alone)
    assert table.startswith("| measure | heatmap | benchmark |") and "benchmark / real" not in table
    assert "% (benchmark) of a keypoint's heatmap is foreground" in benchmark.foreground_text(alone)
    same = calibration.summarize({"real": val["annotations"], "benchmark": val["annotations"]})
    assert "| 1.00 |" in benchmark.calibration_markdown(same)
    assert benchmark.disagreement_markdown(same, train_info["params"]).startswith("Every median is within 25 %")
    params = {"head_size": 0.13, "hand_size": 0.10, "foot_size": 0.09}
    assert benchmark.proposal("face_height", 1.3, params).startswith("draw heads `head_size` = 0.10")
    assert benchmark.proposal("foot_length", 0.9, params) == "`foot_size` = 0.100 instead of 0.09"
    assert benchmark.proposal("foreground@64x48", 2.0, params).startswith("none: this is set by")


def test_real_files_follow_the_environment(tmp_path, monkeypatch):
    for var in benchmark.REAL_FILES:
        monkeypatch.delenv(var, raising=False)
    assert benchmark.real_annotation_files() == []
    (tmp_path / "test_coco_wholebody.json").write_text("{}")
    monkeypatch.setenv("FOWKAL_REAL_SAMPLE", str(tmp_path))
    monkeypatch.setenv("FOWKAL_EVAL_EXAMPLE", str(tmp_path / "absent"))
    assert benchmark.real_annotation_files() == [tmp_path / "test_coco_wholebody.json"]
