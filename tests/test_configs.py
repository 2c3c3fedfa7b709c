"""fowkal.configs: the 16 (method x profile) MMPose configs, the builder's parameters and its errors.

Model/dataset builds use the real 4-image sample as data root (FOWKAL_REAL_SAMPLE); the paper
profile's one-iteration training and evaluations through MMEngine's Runner are marked slow.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("mmpose")
pytestmark = pytest.mark.mmpose

import fowkal.mmpose  # noqa: E402,F401  (registers the head and the loss)
from mmpose.registry import DATASETS, MODELS  # noqa: E402

from fowkal.configs import CONFIG_DIR, DEFAULT_FILES, PROFILES, build_config, config_file  # noqa: E402
from fowkal.losses import KAL_METHODS, METHODS  # noqa: E402

SAMPLE_FILES = dict(ann_train="test_coco_wholebody.json", ann_val="test_coco_wholebody.json",
                    det_file="test_coco_det_AP_H_56.json", img_train="", img_val="")


@pytest.fixture(scope="module")
def sample(real_sample):
    return real_sample


def sample_config(method, profile, sample, **kwargs):
    if profile == "paper" and "pretrained" not in kwargs:  # no ImageNet weights on this machine
        kwargs.setdefault("from_scratch", True)
    return build_config(method, profile, data_root=sample, **{**SAMPLE_FILES, **kwargs})


# --------------------------------------------------------------------------- the files
def test_one_file_per_method_and_profile_setting_only_its_loss():
    for profile in PROFILES:
        files = sorted(p.stem for p in (CONFIG_DIR / profile).glob("*.py"))
        assert files == sorted(METHODS), profile
        for method in METHODS:
            text = config_file(method, profile).read_text()
            assert f"_base_ = ['../{profile}_base.py']" in text
            assert re.findall(r"method='(\w+)'", text) == [method]


def test_no_url_and_no_weights_by_default(sample):
    for profile in PROFILES:
        cfg = sample_config("fowkal", profile, sample)
        assert cfg.model.backbone.init_cfg is None
        assert "http" not in cfg.pretty_text and "load_from = None" in cfg.pretty_text


def test_paper_profile_is_the_papers_setting(sample):
    cfg = sample_config("fowkal", "paper", sample)
    codec = cfg.model.head.decoder
    assert (codec.type, codec.input_size, codec.heatmap_size, codec.sigma, codec.unbiased) == \
        ("MSRAHeatmap", (192, 256), (48, 64), 2, True)
    encoder = [t for t in cfg.train_pipeline if t.type == "GenerateTarget"][0].encoder
    assert encoder == codec
    backbone = cfg.model.backbone
    assert backbone.type == "HRNet" and backbone.extra.stage4.num_channels == (32, 64, 128, 256)
    assert cfg.model.head.in_channels == 32 and cfg.model.head.out_channels == 133
    assert cfg.model.test_cfg.flip_test is True
    assert cfg.optim_wrapper.optimizer.type == "Adam" and cfg.optim_wrapper.optimizer.lr == 5e-4
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.start_factor, warmup.by_epoch) == ("LinearLR", 500, 0.001, False)
    assert (steps.type, steps.milestones, steps.gamma) == ("MultiStepLR", [170, 200], 0.1)
    assert cfg.train_cfg.max_epochs == 210
    assert cfg.train_dataloader.batch_size == 32 and cfg.auto_scale_lr.base_batch_size == 256
    assert Path(cfg.val_dataloader.dataset.bbox_file).resolve() == (sample / SAMPLE_FILES["det_file"]).resolve()
    assert cfg.val_evaluator.type == "CocoWholeBodyMetric"
    assert cfg.custom_imports.imports == ["fowkal.mmpose"]


#: The cpu profile's twins of MMPose's pipeline pieces (fowkal.mmpose.data: the same outputs, bit for bit).
TWINS = {"FastMSRAHeatmap": "MSRAHeatmap", "FastRandomBBoxTransform": "RandomBBoxTransform",
         "FastCocoWholeBodyDataset": "CocoWholeBodyDataset"}


def test_cpu_profile_keeps_the_pipeline_at_a_smaller_scale(sample):
    paper, cpu = (sample_config("mse", p, sample) for p in ("paper", "cpu"))
    codec = cpu.model.head.decoder
    assert (codec.type, codec.input_size, codec.heatmap_size, codec.sigma, codec.unbiased) == \
        ("FastMSRAHeatmap", (96, 128), (48, 64), 2, True)
    # the paper's heatmaps (64x48, sigma 2) from a crop half the paper's size
    assert codec.heatmap_size == paper.model.head.decoder.heatmap_size and codec.sigma == paper.model.head.decoder.sigma
    # the paper's pipeline, piece by piece, where the cpu profile uses a twin of MMPose's piece
    assert [TWINS.get(t.type, t.type) for t in cpu.train_pipeline] == [t.type for t in paper.train_pipeline]
    assert [TWINS.get(t.type, t.type) for t in cpu.val_pipeline] == [t.type for t in paper.val_pipeline]
    # both train on the dataset twin, whose samples SeededSampler seeds (resumed runs draw the same samples)
    assert cpu.train_dataloader.dataset.type == paper.train_dataloader.dataset.type == "FastCocoWholeBodyDataset"
    assert cpu.train_dataloader.sampler.type == paper.train_dataloader.sampler.type == "SeededSampler"
    assert cpu.model.test_cfg == paper.model.test_cfg
    assert cpu.model.backbone.extra.stage4.num_channels[0] == cpu.model.head.in_channels


def test_cpu_defaults_match_the_benchmark_layout():
    data = pytest.importorskip("fowkal.data")
    files = DEFAULT_FILES["cpu"]
    assert (files["ann_train"], files["ann_val"], files["det_file"]) == \
        (data.TRAIN_ANN, data.VAL_ANN, data.VAL_DETECTIONS)
    assert (files["img_train"], files["img_val"]) == (data.image_prefix("train"), data.image_prefix("val"))


@pytest.mark.slow
def test_cpu_default_data_root_is_the_embedded_benchmark(tmp_path):
    data = pytest.importorskip("fowkal.data")
    root = data.default_benchmark()  # made once and cached (about a minute the first time)
    cfg = build_config("fowkal", "cpu", work_dir=tmp_path)
    assert cfg.train_dataloader.dataset.data_root == str(Path(root).resolve())
    assert cfg.val_evaluator.ann_file == str(Path(root).resolve() / data.VAL_ANN)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(train) > 1000
    assert tuple(train[0]["inputs"].shape) == (3, 128, 96)


# --------------------------------------------------------------------------- all 16 build
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("method", list(METHODS))
def test_config_builds_model_and_dataset(method, profile, sample):
    cfg = sample_config(method, profile, sample)
    model = MODELS.build(cfg.model)
    assert type(model.head).__name__ == "KAFHeatmapHead"
    assert model.head.loss_module.method == method
    assert (model.head.kaf_head is not None) == (method in KAL_METHODS)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(train) == 12 and len(val) == 118  # 12 of the 14 people have keypoints; 118 detections
    item = train[0]
    h, w = cfg.model.head.decoder.heatmap_size[::-1]
    assert tuple(item["data_samples"].gt_fields.heatmaps.shape) == (133, h, w)


# --------------------------------------------------------------------------- parameters
def test_parameters_are_parameters(sample, tmp_path):
    weights = tmp_path / "hrnet_w32.pth"
    weights.write_bytes(b"not read at build time")
    cfg = sample_config("kal", "paper", sample, work_dir=tmp_path / "run", epochs=21, batch_size=4, seed=7,
                        gpus=2, pretrained=weights, **{"model.head.loss.reg_weight": 0.5})
    assert cfg.work_dir == str(tmp_path / "run")
    assert cfg.train_cfg.max_epochs == 21 and cfg.param_scheduler[1].milestones == [17, 20]
    assert cfg.param_scheduler[1].end == 21
    assert cfg.train_dataloader.batch_size == 4 and cfg.randomness.seed == 7
    assert cfg.model.backbone.init_cfg == dict(type="Pretrained", checkpoint=str(weights))
    assert cfg.model.head.loss.reg_weight == 0.5
    assert (cfg.fowkal.method, cfg.fowkal.profile, cfg.fowkal.seed, cfg.fowkal.gpus) == ("kal", "paper", 7, 2)
    assert cfg.env_cfg.dist_cfg.backend in ("nccl", "gloo")


def test_gt_boxes_drop_the_detections(sample):
    cfg = sample_config("mse", "cpu", sample, det_file=None, gt_boxes=True)
    assert cfg.val_dataloader.dataset.bbox_file is None and cfg.test_dataloader.dataset.bbox_file is None
    assert len(DATASETS.build(cfg.val_dataloader.dataset)) == 12  # the 12 people with keypoints


@pytest.mark.parametrize("epochs, interval, milestones", [(None, 1, [2, 3]), (3, 1, [2, 3]), (12, 2, [10, 11]),
                                                          (40, 7, [32, 38])])
def test_cpu_schedule_keeps_the_papers_steps_and_about_six_curve_points(sample, epochs, interval, milestones):
    cfg = sample_config("mse", "cpu", sample, epochs=epochs)
    assert cfg.train_cfg.val_interval == interval
    assert cfg.param_scheduler[1].milestones == milestones and cfg.param_scheduler[1].end == (epochs or 3)


def test_val_interval_is_an_option_of_its_own(sample):
    assert sample_config("mse", "cpu", sample, epochs=12, val_interval=4).train_cfg.val_interval == 4
    assert sample_config("mse", "cpu", sample, val_interval=2).train_cfg.val_interval == 2
    with pytest.raises(ValueError, match="option 'val_interval' must be an integer >= 1"):
        sample_config("mse", "cpu", sample, val_interval=0)


# --------------------------------------------------------------------------- bad input
def test_unknown_method_and_profile_list_the_valid_ones(sample):
    with pytest.raises(ValueError, match="option 'method' is 'focal'; valid: mse, awing"):
        build_config("focal", "cpu", data_root=sample)
    with pytest.raises(ValueError, match="option 'profile' is 'gpu'; valid: cpu, paper"):
        build_config("mse", "gpu", data_root=sample)


def test_paper_profile_needs_a_data_root():
    with pytest.raises(ValueError, match="option 'data_root' is required for profile 'paper'"):
        build_config("mse", "paper", from_scratch=True)


def test_paper_profile_needs_imagenet_weights_or_an_explicit_from_scratch(sample, tmp_path):
    with pytest.raises(ValueError, match="ImageNet-pretrained.*option 'pretrained'.*option 'from_scratch'"):
        build_config("fowkal", "paper", data_root=sample, **SAMPLE_FILES)
    weights = tmp_path / "hrnet_w32.pth"
    weights.write_bytes(b"")
    with pytest.raises(ValueError, match="either option 'pretrained' or option 'from_scratch', not both"):
        sample_config("fowkal", "paper", sample, pretrained=weights, from_scratch=True)
    cfg = sample_config("fowkal", "paper", sample, pretrained=weights)
    assert cfg.model.backbone.init_cfg == dict(type="Pretrained", checkpoint=str(weights.resolve()))
    assert sample_config("fowkal", "paper", sample).model.backbone.init_cfg is None
    assert sample_config("fowkal", "cpu", sample).model.backbone.get("init_cfg") is None  # cpu: always allowed


def test_paper_profile_augments_as_the_paper(sample):
    pipeline = sample_config("fowkal", "paper", sample).train_dataloader.dataset.pipeline
    types = [step["type"] for step in pipeline]
    assert "RandomHalfBody" in types and "RandomFlip" in types
    bbox = next(step for step in pipeline if step["type"] == "RandomBBoxTransform")
    assert bbox["rotate_factor"] == 40.0 and tuple(bbox["scale_factor"]) == (0.5, 1.5)
    target = next(step for step in pipeline if step["type"] == "GenerateTarget")["encoder"]
    assert tuple(target["heatmap_size"]) == (48, 64) and target["sigma"] == 2 and target["unbiased"]


def test_missing_paths_are_named(sample, tmp_path):
    with pytest.raises(FileNotFoundError, match="option 'data_root': folder .*nowhere.* does not exist"):
        build_config("mse", "cpu", data_root=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="ann_val .*not found.*missing.json"):
        sample_config("mse", "cpu", sample, ann_val="missing.json")
    with pytest.raises(FileNotFoundError, match="det_file .*not found"):
        sample_config("mse", "paper", sample, det_file="no_dets.json")
    with pytest.raises(FileNotFoundError, match="img_train image folder not found"):
        sample_config("mse", "paper", sample, img_train="train2017/")
    with pytest.raises(FileNotFoundError, match="option 'pretrained': weights file .*none.pth.* does not exist"):
        sample_config("mse", "paper", sample, pretrained=tmp_path / "none.pth")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("name, value", [("epochs", 0), ("batch_size", -1), ("gpus", 1.5), ("seed", -3),
                                         ("seed", "0")])
def test_bad_numbers_are_named(sample, name, value):
    with pytest.raises(ValueError, match=name):
        sample_config("mse", "cpu", sample, **{name: value})


def test_unknown_override_is_named(sample):
    with pytest.raises(ValueError, match="unknown config key.*optim_wraper"):
        sample_config("mse", "cpu", sample, **{"optim_wraper.optimizer.lr": 1e-3})


def test_misspelt_or_invalid_loss_option_is_named_before_training(sample):
    with pytest.raises(ValueError, match=r"does not take option\(s\) \['reg_weigh'\]"):
        sample_config("kal", "cpu", sample, **{"model.head.loss.reg_weigh": 0.0})
    with pytest.raises(ValueError, match="term_normalisation"):
        sample_config("fowkal", "cpu", sample, **{"model.head.loss.term_normalisation": "per_part"})
    cfg = sample_config("fowkal", "cpu", sample, **{"model.head.loss.term_normalisation": "batch"})
    assert cfg.model.head.loss.term_normalisation == "batch"


def test_conflicting_box_options(sample):
    with pytest.raises(ValueError, match="gt_boxes"):
        sample_config("mse", "cpu", sample, gt_boxes=True)  # SAMPLE_FILES also names a det_file


# --------------------------------------------------------------------------- the paper config runs
@pytest.fixture(scope="module")
def paper_run(sample, tmp_path_factory):
    """One training iteration (batch 2) of the paper config on the real sample, through the Runner."""
    from mmengine.runner import Runner

    work = tmp_path_factory.mktemp("paper-fowkal")
    cfg = sample_config("fowkal", "paper", sample, work_dir=work, batch_size=2, epochs=1)
    cfg.train_dataloader.dataset.indices = 2  # two people: one iteration (~10 s for HRNet-w32 on 2 cores)
    cfg.train_dataloader.num_workers, cfg.train_dataloader.persistent_workers = 0, False
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # evaluated below, per box source
    cfg.auto_scale_lr.enable = False
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, work


def _evaluate(runner, sample, work, gt_boxes):
    """Score the trained model on the sample with the paper config's test settings (flip test)."""
    from mmengine.runner import Runner

    extra = dict(det_file=None, gt_boxes=True) if gt_boxes else {}
    cfg = sample_config("fowkal", "paper", sample, work_dir=work / ("gt" if gt_boxes else "det"), **extra)
    loader = cfg.test_dataloader
    loader.num_workers, loader.persistent_workers, loader.batch_size = 0, False, 8
    if not gt_boxes:  # the 14 confident detections of the 118 (HRNet-w32 costs ~1 s per crop here)
        loader.dataset.filter_cfg = dict(bbox_score_thr=0.9)
    cfg.test_evaluator.outfile_prefix = str(work / ("gt" if gt_boxes else "det") / "results")
    tester = Runner.from_cfg(cfg)
    assert len(tester.test_dataloader.dataset) == (12 if gt_boxes else 14)
    # the trained weights, handed over in memory: loading epoch_1.pth through MMEngine is the
    # entry points' job (torch >= 2.6 refuses its numpy contents under weights_only=True)
    tester.model.load_state_dict(runner.model.state_dict())
    return tester.test()


@pytest.mark.slow
def test_paper_config_trains_one_iteration(paper_run):
    runner, work = paper_run
    assert (work / "epoch_1.pth").is_file()
    head = runner.model.head
    assert head.last_kaf is not None and tuple(head.last_kaf.shape) == (2, 133)


@pytest.mark.slow
@pytest.mark.parametrize("gt_boxes", [True, False], ids=["gt-boxes", "detections"])
def test_paper_config_evaluates(paper_run, sample, gt_boxes):
    runner, work = paper_run
    metrics = _evaluate(runner, sample, work, gt_boxes)
    assert 0.0 <= metrics["coco-wholebody/AP"] <= 1.0
    results = json.loads((work / ("gt" if gt_boxes else "det") / "results.keypoints.json").read_text())
    assert len(results) > 0 and len(results[0]["keypoints"]) == 17 * 3
    assert {"foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts"} <= set(results[0])
