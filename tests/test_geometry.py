"""fowkal.configs.geometry: the CPU profile at the paper's 64x48 heatmaps (sigma 2); the old 32x24 and other heads as overrides.

Configs are built on a tiny generated benchmark; the one-iteration training and the benchmark's smoke
run are marked slow (on a shared machine, run the training one under the shared training lock).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("mmpose")
pytestmark = [
    pytest.mark.mmpose,
    pytest.mark.filterwarnings("ignore:.*not found, use 'score' instead"),
    pytest.mark.filterwarnings("ignore:The metainfo config file"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

import fowkal.mmpose  # noqa: E402,F401  (registers the head and the loss)
from mmengine.registry import init_default_scope  # noqa: E402
from mmpose.registry import DATASETS, MODELS  # noqa: E402

from fowkal.configs import build_config  # noqa: E402
from fowkal.configs.geometry import (DEFAULT_HEAD_64x48, GEOMETRIES, HEADS_64x48, SIGMA, TARGET_STEP,  # noqa: E402
                                     check_geometry, cli_options, geometry_overrides)
from fowkal.data import make_benchmark  # noqa: E402
from fowkal.parts import NUM_KEYPOINTS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_benchmark(tmp_path_factory.mktemp("geometry") / "bench", seed=0, workers=1,
                          train_images=4, val_images=2)


def codecs(cfg) -> dict:
    """Every copy of the codec in a built config."""
    return {"codec": cfg.codec, "decoder": cfg.model.head.decoder,
            "train_pipeline": cfg.train_pipeline[TARGET_STEP].encoder,
            "dataset pipeline": cfg.train_dataloader.dataset.pipeline[TARGET_STEP].encoder}


def model_output(cfg) -> tuple:
    init_default_scope("mmpose")
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        return tuple(model(torch.zeros(2, 3, 128, 96), None, mode="tensor").shape)


def test_64x48_is_the_profile_as_it_is(bench):
    assert geometry_overrides("64x48") == {} == geometry_overrides("64x48", head=DEFAULT_HEAD_64x48)
    cfg = build_config("fowkal", "cpu", data_root=bench)
    # dotted overrides address the target step by index: it must still be GenerateTarget
    assert cfg.train_pipeline[TARGET_STEP].type == "GenerateTarget"
    assert cfg.train_dataloader.dataset.pipeline[TARGET_STEP].type == "GenerateTarget"
    assert check_geometry(cfg) == (48, 64)
    for where, codec in codecs(cfg).items():
        assert tuple(codec.heatmap_size) == (48, 64) and tuple(codec.input_size) == (96, 128), where
        assert codec.sigma == SIGMA == 2 and codec.type == "FastMSRAHeatmap" and codec.unbiased, where
    assert model_output(cfg) == (2, NUM_KEYPOINTS, 64, 48)
    head = cfg.model.head
    assert {k: head.get(k) for k in HEADS_64x48[DEFAULT_HEAD_64x48]} == dict(HEADS_64x48[DEFAULT_HEAD_64x48])


@pytest.mark.parametrize("head", sorted(HEADS_64x48))
def test_64x48_heads_give_64x48_heatmaps(bench, head):
    cfg = build_config("mse", "cpu", data_root=bench, **geometry_overrides("64x48", head=head))
    assert check_geometry(cfg) == (48, 64)
    assert model_output(cfg) == (2, NUM_KEYPOINTS, 64, 48)


def test_32x24_rebuilds_the_old_profile_every_codec_copy_and_the_head(bench):
    assert GEOMETRIES["64x48"]["head"] == DEFAULT_HEAD_64x48
    profile = build_config("fowkal", "cpu", data_root=bench).model.head
    cfg = build_config("fowkal", "cpu", data_root=bench, **geometry_overrides("32x24"))
    assert check_geometry(cfg) == (24, 32)
    for where, codec in codecs(cfg).items():
        assert tuple(codec.heatmap_size) == (24, 32) and tuple(codec.input_size) == (96, 128), where
        assert codec.sigma == SIGMA, where
    assert model_output(cfg) == (2, NUM_KEYPOINTS, 32, 24)
    head = cfg.model.head
    assert head.pixel_shuffle is None and not head.deconv_out_channels
    # the same 3x3 conv as the profile's head, without the PixelShuffle: the 64x48 head is this plus one
    assert (head.conv_out_channels, head.conv_kernel_sizes) == (profile.conv_out_channels, profile.conv_kernel_sizes)
    assert head.loss == profile.loss and head.in_channels == profile.in_channels


def sigmas_of(heatmaps: np.ndarray, weights: np.ndarray, margin: int = 8) -> list:
    """(sigma_x, sigma_y) of every labelled target whose peak lies ``margin`` pixels inside the map:
    the spread of an untruncated Gaussian sampled on pixels (DARK's unbiased target)."""
    out = []
    _, h, w = heatmaps.shape
    ys, xs = np.mgrid[0:h, 0:w]
    for k in np.flatnonzero(weights > 0):
        hm = heatmaps[k]
        y, x = np.unravel_index(hm.argmax(), hm.shape)
        if not (margin <= x < w - margin and margin <= y < h - margin):
            continue
        total = hm.sum()
        mx, my = (hm * xs).sum() / total, (hm * ys).sum() / total
        out.append((np.sqrt((hm * (xs - mx) ** 2).sum() / total), np.sqrt((hm * (ys - my) ** 2).sum() / total)))
    return out


@pytest.mark.parametrize("geometry, shape", [("64x48", (64, 48)), ("32x24", (32, 24))])
def test_training_targets_have_the_geometry_and_sigma_2(bench, geometry, shape):
    cfg = build_config("fowkal", "cpu", data_root=bench, **geometry_overrides(geometry))
    init_default_scope("mmpose")
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    found = []
    for i in range(len(dataset)):
        sample = dataset[i]["data_samples"]
        heatmaps = sample.gt_fields.heatmaps.numpy()
        assert heatmaps.shape == (NUM_KEYPOINTS, *shape)
        found += sigmas_of(heatmaps, sample.gt_instance_labels.keypoint_weights.numpy()[0])
    assert len(found) > 20
    np.testing.assert_allclose(np.asarray(found), SIGMA, atol=0.02)  # in heatmap pixels


def test_check_geometry_names_a_disagreement(bench):
    half = {k: v for k, v in geometry_overrides("32x24").items() if k.startswith("model.")}  # targets stay 64x48
    with pytest.raises(ValueError, match="differs from model.head.decoder"):
        check_geometry(build_config("mse", "cpu", data_root=bench, **half))
    with pytest.raises(ValueError, match="makes 24x32 .* heatmap_size is 48x64"):
        check_geometry(build_config("mse", "cpu", data_root=bench, **{"model.head.pixel_shuffle": None}))


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="unknown heatmap geometry '64x64'"):
        geometry_overrides("64x64")
    with pytest.raises(ValueError, match="unknown 64x48 head 'deconv8'"):
        geometry_overrides("64x48", head="deconv8")
    with pytest.raises(ValueError, match="does not apply"):
        geometry_overrides("32x24", head="shuffle64")


def test_command_line_words_give_the_same_overrides():
    from fowkal.runs.options import _cli_override

    words = cli_options("32x24")
    expected = json.loads(json.dumps(geometry_overrides("32x24")))  # tuples as JSON lists
    assert dict(_cli_override(w) for w in words) == expected
    done = subprocess.run([sys.executable, "-m", "fowkal.configs.geometry", "32x24"], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == words


@pytest.mark.slow  # trains: on a shared machine, under the shared training lock
def test_one_iteration_trains_and_records_at_64x48(bench, tmp_path):
    import fowkal
    from fowkal.data import DEFAULT_PARAMS
    from fowkal.runs.runconfig import regenerated_sha256

    single = {"train_dataloader.num_workers": 0, "train_dataloader.persistent_workers": False,
              "val_dataloader.num_workers": 0, "val_dataloader.persistent_workers": False}
    record = fowkal.train("fowkal", "cpu", data_root=bench, work_dir=tmp_path / "run", epochs=1, batch_size=2,
                          max_iters=1, quiet=True, **single)
    assert record["schedule"]["iters"] == 1 and np.isfinite(record["losses"][0]["loss"])
    assert record["geometry"] == {"input_size": [96, 128], "heatmap_size": [48, 64], "sigma": 2}
    assert regenerated_sha256(record) == record["config"]["sha256"]  # the record rebuilds its config
    from mmengine.config import Config

    assert check_geometry(Config.fromfile(record["files"]["config"], import_custom_modules=False)) == (48, 64)
    by_scale = record["metrics_by_area_scale"]
    own = DEFAULT_PARAMS["area_scale"]
    assert by_scale["annotation_area_scale"] == own and list(by_scale["gt_boxes"]) == ["1", "2", "4", "8", "16"]
    assert by_scale["gt_boxes"][f"{own:g}"] == record["metrics"]["gt_boxes"]


@pytest.mark.slow
def test_benchmark_quick_run_writes_both_malloc_modes(bench, tmp_path):
    """Smoke test of benchmarks/bench_geometry.py (no timing assertion: shared machines are noisy)."""
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_geometry.py"), "--quick", "--repeats", "1",
                           "--heads", "shuffle64", "--data-root", str(bench), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result["modes"]) == {"default", "retain"} and result["modes"]["retain"]["malloc_applied"]
    for found in result["modes"].values():
        cases = {(r["name"], r["method"]) for r in found["rows"]}
        assert cases == {(g, m) for g in ("32x24", "64x48/shuffle64") for m in ("mse", "fowkal")}
        for r in found["rows"]:
            assert r["median_s"] > 0 and r["heatmaps"][1:] == ([64, 48] if r["geometry"] == "64x48" else [32, 24])
    assert "| 64x48/shuffle64 | fowkal |" in done.stdout


def test_benchmark_rejects_bad_arguments(tmp_path):
    out = tmp_path / "bench.json"
    for argv in (["--repeats", "0"], ["--heads", "nope"], ["--batch", "0"]):
        done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_geometry.py"), *argv, "--out", str(out)],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
        assert done.returncode == 2 and argv[0].lstrip("-") in done.stderr, argv
    assert not out.exists()
