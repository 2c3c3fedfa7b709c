"""fowkal.runs.train: KAF/loss logging, run records, distributed runs, kill-and-resume, determinism, bad input.

The training tests run the real cpu profile (MMPose/MMEngine) on a tiny generated benchmark with
a few iterations (``max_iters``), single-process data loading and deterministic algorithms, so
they end in seconds and their outputs can be compared bit for bit. Their APs are ~0 (a few
iterations teach nothing): determinism is checked on weights, losses, λ and predicted keypoints.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("mmpose")
pytestmark = [
    pytest.mark.mmpose,
    pytest.mark.filterwarnings("ignore:.*not found, use 'score' instead"),  # xtcocotools, documented
    pytest.mark.filterwarnings("ignore:The metainfo config file"),  # MMPose finds its own copy
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

import fowkal  # noqa: E402
from fowkal.runs import record as run_record  # noqa: E402
from fowkal.data import DEFAULT_PARAMS, make_benchmark  # noqa: E402
from fowkal.parts import NUM_KEYPOINTS  # noqa: E402
from fowkal.runs.train import N_PREDICTION_IMAGES  # noqa: E402

KAL_FAMILY = ("kal", "fowkal", "kal_wahr")
SINGLE_PROCESS_LOADING = {
    "train_dataloader.num_workers": 0, "train_dataloader.persistent_workers": False,
    "val_dataloader.num_workers": 0, "val_dataloader.persistent_workers": False,
}
TINY = dict(epochs=1, batch_size=2, max_iters=2, deterministic=True, quiet=True,
            **SINGLE_PROCESS_LOADING)
PARTS = ("body", "foot", "face", "lefthand", "righthand", "hand", "wholebody")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_benchmark(tmp_path_factory.mktemp("train") / "bench", seed=0, workers=1,
                          train_images=16, val_images=4)


@pytest.fixture(scope="module")
def runs(bench, tmp_path_factory):
    """One tiny run per KAL-family method, made on first use and shared by the tests."""
    made = {}

    def run(method):
        if method not in made:
            work = tmp_path_factory.mktemp(f"run-{method}")
            # only fowkal also evaluates on the detections (saves time; both paths get tested)
            made[method] = fowkal.train(method, "cpu", data_root=bench, work_dir=work, seed=3,
                                        gt_boxes=method != "fowkal", **TINY)
        return made[method]

    return run


def _state(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differing, f"{len(differing)} tensors differ, e.g. {differing[:3]}"


def _without_times(losses: list) -> list:
    return [{k: v for k, v in entry.items() if k != "time_s"} for entry in losses]


# --------------------------------------------------------------------------- a run per KAL method
@pytest.mark.slow
@pytest.mark.parametrize("method", KAL_FAMILY)
def test_a_short_run_writes_kaf_log_and_run_record(runs, method):
    record = runs(method)
    files = record["files"]
    work = Path(files["config"]).parent
    assert record["method"] == method and record["profile"] == "cpu" and record["seed"] == 3
    assert record["schema_version"] == run_record.SCHEMA_VERSION
    # the record regenerates the config the run trained with (the dump stays in the work dir only)
    from mmengine.config import Config

    from fowkal.runs.runconfig import regenerated_sha256

    dumped = Config.fromfile(files["config"], import_custom_modules=False)
    assert record["config"]["sha256"] == run_record.config_sha256(dumped) == regenerated_sha256(record)
    assert record["config"]["args"]["epochs"] == 1 and "--method " + method in record["config"]["command"]
    assert record["data"]["ann_val"] == "annotations/wholebody_val.json"  # relative to the data root
    assert {"torch", "mmpose", "mmengine", "numpy", "fowkal"} <= record["versions"].keys()
    assert record["device"] == {"type": "cpu", "processes": 1}
    assert record["git"]["commit"] is None or len(record["git"]["commit"]) == 40
    assert socket.gethostname() not in json.dumps(record)  # hostname-free
    assert record["schedule"]["iters"] == 2 and record["data"]["train_samples"] == 4

    # KAF log: iteration 1 (one batch of 2) and epoch 1 (2 batches), 133 λ in (0, 1)
    kaf = json.loads(Path(files["kaf_log"]).read_text())
    assert [(e["kind"], e["epoch"], e["iter"], e["n"]) for e in kaf] == [("iter", 1, 1, 2),
                                                                          ("epoch", 1, 2, 4)]
    for entry in kaf:
        assert len(entry["mean"]) == len(entry["std"]) == NUM_KEYPOINTS
        assert all(0.0 < m < 1.0 for m in entry["mean"]) and all(s >= 0.0 for s in entry["std"])
    # the epoch entry carries the two data terms per keypoint (their difference is the push on λ)
    assert "awing" not in kaf[0] and len(kaf[1]["awing"]) == len(kaf[1]["mse"]) == NUM_KEYPOINTS
    assert all(np.isfinite(v) and v >= 0 for v in kaf[1]["awing"] + kaf[1]["mse"])
    assert sum(kaf[1]["awing"]) > sum(kaf[1]["mse"]) > 0  # AWing's log branch dwarfs the squared error
    assert record["geometry"] == {"input_size": [96, 128], "heatmap_size": [48, 64], "sigma": 2}

    (epoch,) = record["losses"]
    assert epoch["epoch"] == 1 and epoch["iters"] == 2 and np.isfinite(epoch["loss"])
    assert json.loads(Path(files["loss_log"]).read_text()) == record["losses"]
    # one epoch: the finer loss log has the epoch's one window; the curve only the final evaluation
    assert [(e["epoch"], e["iter"], e["iters"]) for e in record["loss_curve"]] == [(1, 2, 2)]
    assert record["loss_curve"][0]["loss"] == pytest.approx(epoch["loss"])
    assert json.loads(Path(files["loss_curve"]).read_text()) == record["loss_curve"]
    (final,) = record["curve"]
    assert (final["epoch"], final["iter"]) == (1, 2) and json.loads(Path(files["curve_log"]).read_text()) == []
    assert final["AP"] == {p: round(record["metrics"]["gt_boxes"][p]["AP"], 6) for p in PARTS}

    evaluated = ("gt_boxes", "detections") if method == "fowkal" else ("gt_boxes",)
    by_scale = record["metrics_by_area_scale"]  # the same predictions at other OKS tolerances
    own = DEFAULT_PARAMS["area_scale"]
    assert by_scale["annotation_area_scale"] == own  # the benchmark's areas
    for boxes in ("gt_boxes", "detections"):
        if boxes not in evaluated:
            assert record["metrics"][boxes] is None and files[f"results_{boxes}"] is None
            assert by_scale[boxes] is None
            continue
        assert set(record["metrics"][boxes]) == set(PARTS)
        assert all(0.0 <= record["metrics"][boxes][p]["AP"] <= 1.0 for p in PARTS)
        assert Path(files[f"results_{boxes}"]).is_file()
        assert list(by_scale[boxes]) == ["1", "2", "4", "8", "16"]
        assert by_scale[boxes][f"{own:g}"] == record["metrics"][boxes]  # the file's own scale: the same numbers
    assert Path(files["last_checkpoint"]).name == "epoch_1.pth" and Path(files["last_checkpoint"]).is_file()
    assert all(Path(f).is_file() for f in files["checkpoints"])

    predictions = record["predictions"]
    val = json.loads((run_record.data_root(record) / record["data"]["ann_val"]).read_text())
    first_images = sorted(img["id"] for img in val["images"])[:N_PREDICTION_IMAGES]
    assert {p["image_id"] for p in predictions} == set(first_images)
    for p in predictions:
        assert len(p["keypoints"]) == len(p["keypoint_scores"]) == NUM_KEYPOINTS
    assert run_record.load(work) == record  # the file on disk is what train() returned
    assert not list(work.glob(".*.tmp"))  # atomic writes leave no temporary files


@pytest.mark.slow
def test_same_seed_twice_gives_identical_results(runs, bench, tmp_path):
    first = runs("fowkal")
    again = fowkal.train("fowkal", "cpu", data_root=bench, work_dir=tmp_path / "again", seed=3,
                         gt_boxes=False, **TINY)
    assert again["metrics"] == first["metrics"]
    # the loss's pixel pass: compiled where a compiler is present (its sums are as repeatable as the eager pass's)
    from fowkal.losses import compiled_kernel_available

    assert first["loss_kernel"] == again["loss_kernel"] == ("compiled" if compiled_kernel_available() else "eager")
    assert again["predictions"] == first["predictions"]  # keypoints: sensitive to any weight change
    assert _without_times(again["losses"]) == _without_times(first["losses"])
    assert json.loads(Path(again["files"]["kaf_log"]).read_text()) == \
        json.loads(Path(first["files"]["kaf_log"]).read_text())
    _assert_same_weights(_state(again["files"]["last_checkpoint"]),
                         _state(first["files"]["last_checkpoint"]))


@pytest.mark.slow
def test_validating_during_training_changes_nothing_trained(bench, tmp_path):
    """Tolerance: none. The same run validated after every epoch and only at the end: same losses, weights
    and final metrics; the curve gets a point per validated epoch, the last one the final evaluation's."""
    settings = dict(method="kal", data_root=bench, seed=5, gt_boxes=True, **dict(TINY, epochs=3))
    every = fowkal.train(work_dir=tmp_path / "every", val_interval=1, **settings)
    once = fowkal.train(work_dir=tmp_path / "once", val_interval=3, **settings)
    assert _without_times(every["losses"]) == _without_times(once["losses"])
    assert every["loss_curve"] == once["loss_curve"]
    _assert_same_weights(_state(every["files"]["last_checkpoint"]), _state(once["files"]["last_checkpoint"]))
    assert every["metrics"] == once["metrics"] and every["predictions"] == once["predictions"]
    assert [(e["epoch"], e["iter"]) for e in every["curve"]] == [(1, 2), (2, 4), (3, 6)]
    assert [e["epoch"] for e in once["curve"]] == [3] and once["curve"][-1] == every["curve"][-1]
    assert json.loads(Path(every["files"]["curve_log"]).read_text()) == every["curve"][:2]
    assert every["config"]["args"]["val_interval"] == 1 and "--val-interval 1" in every["config"]["command"]
    assert (Path(every["files"]["config"]).parent / "curve" / "val_gt_epoch2.keypoints.json").is_file()


# --------------------------------------------------------------------------- two gloo processes
@pytest.mark.slow
def test_two_cpu_processes_end_with_identical_weights(bench, tmp_path):
    hooks = [dict(type="SyncBuffersHook"), dict(type="RankWeightsHook")]
    record = fowkal.train("fowkal", "cpu", data_root=bench, work_dir=tmp_path / "ddp", seed=1,
                          gpus=2, device="cpu", custom_hooks=hooks, gt_boxes=True, **TINY)
    assert record["device"] == {"type": "cpu", "processes": 2}
    assert record["schedule"]["processes"] == 2 and record["data"]["train_samples"] == 8
    assert [e["n"] for e in json.loads(Path(record["files"]["kaf_log"]).read_text())] == [4, 8]
    rank0 = torch.load(tmp_path / "ddp/rank_weights/rank0.pth")
    rank1 = torch.load(tmp_path / "ddp/rank_weights/rank1.pth")
    _assert_same_weights(rank0, rank1)
    _assert_same_weights(rank0, _state(record["files"]["last_checkpoint"]))


# --------------------------------------------------------------------------- kill and resume
RESUMABLE = dict(method="fowkal", seed=2, epochs=2, batch_size=2, max_iters=4, gt_boxes=True,
                 deterministic=True, quiet=True)
#: The training loader as the profiles run it: a worker that lives through the epochs (its random stream too).
WORKER_LOADING = dict(SINGLE_PROCESS_LOADING, **{"train_dataloader.num_workers": 1,
                                                "train_dataloader.persistent_workers": True})


def _cli_train(work_dir, bench, loading, *extra) -> list:
    """``python -m fowkal train`` with the RESUMABLE settings, logging every iteration."""
    return [sys.executable, "-m", "fowkal", "train", "--method", "fowkal", "--data-root", str(bench),
            "--work-dir", str(work_dir), "--seed", "2", "--epochs", "2", "--batch-size", "2",
            "--max-iters", "4", "--gt-boxes", "--deterministic", "--quiet", "--cfg-options",
            *(f"{k}={json.dumps(v)}" for k, v in loading.items()),
            "default_hooks.logger.interval=1", *extra]


#: The worker loading with the backbone and heatmap head compiled (as the converged ablation trains): the resumed
#: process compiles again, and must compute what the uninterrupted one computed. (The eager network is the
#: in-process case's; the worker's restarted random stream is this one's, so the two cover the eager worker.)
COMPILED_LOADING = dict(WORKER_LOADING, custom_hooks=[{"type": "CompileModelHook"}])


@pytest.mark.slow
@pytest.mark.parametrize("loading", [SINGLE_PROCESS_LOADING, COMPILED_LOADING], ids=["in-process", "worker-compiled"])
def test_a_killed_run_resumes_to_where_an_uninterrupted_run_ends(bench, tmp_path, loading):
    """Tolerance: none. Same seed, deterministic algorithms, samples loaded in the process or by a persistent
    worker (whose random stream a resumed run restarts), the network eager or compiled: the resumed run's final
    weights, per-epoch losses, λ log and predictions equal the uninterrupted run's."""
    fowkal.train(data_root=bench, work_dir=tmp_path / "reference", **RESUMABLE, **loading)  # in this process

    killed_dir, log = tmp_path / "killed", tmp_path / "killed.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(_cli_train(killed_dir, bench, loading), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    try:
        while "Epoch(train) [2][1/4]" not in log.read_text():  # first iteration of epoch 2 done
            assert proc.poll() is None, f"the run ended before it could be killed:\n{log.read_text()[-3000:]}"
            assert time.time() < deadline, "the run never reached epoch 2"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (killed_dir / "epoch_1.pth").is_file()
    assert not (killed_dir / "epoch_2.pth").exists(), "killed too late: epoch 2 was complete"
    assert not (killed_dir / run_record.RECORD_NAME).exists()

    resumed = subprocess.run(_cli_train(killed_dir, bench, loading, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    ref, res = run_record.load(tmp_path / "reference"), run_record.load(killed_dir)
    assert res["resumed_from_epoch"] == 1 and ref["resumed_from_epoch"] is None
    _assert_same_weights(_state(ref["files"]["last_checkpoint"]), _state(res["files"]["last_checkpoint"]))
    assert [e["epoch"] for e in res["losses"]] == [1, 2]  # no lost and no doubled epoch
    assert _without_times(res["losses"]) == _without_times(ref["losses"])
    assert json.loads(Path(res["files"]["kaf_log"]).read_text()) == \
        json.loads(Path(ref["files"]["kaf_log"]).read_text())
    assert res["metrics"] == ref["metrics"] and res["predictions"] == ref["predictions"]
    # the learning curve: epoch 1's validation travelled inside the checkpoint, epoch 2 is the final one
    assert [e["epoch"] for e in res["curve"]] == [1, 2] and res["curve"][0]["time_s"] is not None
    assert _without_times(res["curve"]) == _without_times(ref["curve"])
    assert res["loss_curve"] == ref["loss_curve"]


# --------------------------------------------------------------------------- bad input
def _nothing_written(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


def test_a_dry_run_checks_everything_and_writes_nothing(bench, tmp_path, capsys):
    from fowkal.__main__ import main

    argv = ["train", "--method", "kal", "--data-root", str(bench), "--work-dir", str(tmp_path / "run")]
    assert main([*argv, "--epochs", "2", "--gpus", "4", "--device", "cpu", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "dry run: kal in the cpu profile" in printed and "2 epoch(s)" in printed and "4 process(es)" in printed
    assert _nothing_written(tmp_path / "run")
    assert main([*argv, "--epochs", "0", "--dry-run"]) == 2  # refused as a training would be
    assert "option 'epochs'" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(method="fowkall"), ValueError, "option 'method' is 'fowkall'; valid: mse"),
    (dict(data_root="/nonexistent/fowkal-data"), FileNotFoundError,
     "option 'data_root': folder '/nonexistent/fowkal-data' does not exist"),
    (dict(ann_train="annotations/missing.json"), FileNotFoundError, "missing.json"),
    (dict(det_file="annotations/missing_dets.json"), FileNotFoundError, "missing_dets.json"),
    (dict(max_iters=0), ValueError, "max_iters"),
    (dict(gpus=0), ValueError, "gpus"),
    (dict(nnodes=2, node_rank=2), ValueError, "node_rank"),
    (dict(device="tpu"), ValueError, "device"),
    (dict(epochs=2.5), TypeError, "option 'epochs' must be an integer or None, got 2.5"),
    (dict(gt_boxes=True, det_file="annotations/person_detections_val.json"), ValueError, "not both"),
])
def test_bad_input_fails_before_any_work(bench, tmp_path, kwargs, error, words):
    kwargs = {"method": "fowkal", "data_root": bench, **kwargs}
    with pytest.raises(error, match=words):
        fowkal.train(profile="cpu", work_dir=tmp_path / "run", **kwargs)
    assert _nothing_written(tmp_path / "run")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpus_asked_for_without_any_fail_clearly(bench, tmp_path):
    with pytest.raises(ValueError, match=r"gpus=2 .* sees none .*device='cpu'"):
        fowkal.train("fowkal", data_root=bench, work_dir=tmp_path / "run", gpus=2)
    with pytest.raises(ValueError, match="1 GPU.* asked for, but torch sees 0"):
        fowkal.train("fowkal", data_root=bench, work_dir=tmp_path / "run", device="cuda")
    assert _nothing_written(tmp_path / "run")


def test_a_work_dir_holding_a_run_needs_resume(bench, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last_checkpoint").write_text("epoch_1.pth")
    with pytest.raises(ValueError, match="already holds a run.*resume=True"):
        fowkal.train("fowkal", data_root=bench, work_dir=tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["last_checkpoint"]


def test_cli_reports_bad_input_with_exit_code_2(bench, tmp_path, capsys):
    from fowkal.__main__ import main

    assert main(["train", "--data-root", str(tmp_path / "missing"), "--work-dir",
                 str(tmp_path / "run")]) == 2
    assert "option 'data_root': folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--method", "nope"])
    assert exit_.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert _nothing_written(tmp_path / "run")


# --------------------------------------------------------------------------- launching
def test_several_processes_go_through_torchrun_with_the_node_options(bench, tmp_path, monkeypatch):
    from fowkal.runs.options import TrainOptions

    calls = []
    monkeypatch.setattr(sys.modules["fowkal.runs.train"], "_run_streaming",
                        lambda cmd, env: calls.append((cmd, env)) or 0)
    out = fowkal.train("kal", data_root=bench, work_dir=tmp_path / "run", gpus=4, device="cpu",
                       nnodes=2, node_rank=1, master_addr="10.1.2.3", master_port=29555, epochs=3,
                       **{"train_dataloader.num_workers": 0})
    assert out == {}  # node 1 of 2 with an unshared work dir: node 0 writes the record
    (cmd, env), = calls
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    for option in ("--nproc_per_node=4", "--nnodes=2", "--node_rank=1", "--master_addr=10.1.2.3",
                   "--master_port=29555"):
        assert option in cmd
    train_args = cmd[cmd.index("fowkal"):]
    assert train_args[:3] == ["fowkal", "train", "--options-json"] and len(train_args) == 4
    # the processes get this call's options, work dir and device resolved, launcher set
    expected = TrainOptions(method="kal", data_root=str(bench), work_dir=str((tmp_path / "run").resolve()),
                            gpus=4, device="cpu", nnodes=2, node_rank=1, master_addr="10.1.2.3",
                            master_port=29555, epochs=3, launcher="pytorch",
                            cfg_options={"train_dataloader.num_workers": 0})
    assert TrainOptions.from_json(train_args[3]) == expected
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    with pytest.raises(TypeError, match="JSON.*option 'cfg_options' key 'model.head.loss.reg_weight'"):
        fowkal.train("kal", data_root=bench, work_dir=tmp_path / "run2", gpus=2, device="cpu",
                     **{"model.head.loss.reg_weight": object()})
    assert _nothing_written(tmp_path / "run2")


def test_the_processes_entry_point_runs_the_options_it_is_given(monkeypatch, tmp_path):
    """``python -m fowkal train --options-json`` (what torchrun starts) trains exactly those options."""
    from fowkal.__main__ import main
    from fowkal.runs.options import TrainOptions

    got = []
    monkeypatch.setattr(sys.modules["fowkal.runs.train"], "_train", got.append)
    options = TrainOptions(method="kal", epochs=2, seed=4, work_dir=str(tmp_path), device="cpu",
                           launcher="pytorch", cfg_options={"custom_hooks": [{"type": "SyncBuffersHook"}]})
    assert main(["train", "--options-json", options.to_json()]) == 0
    assert got == [options]
    assert main(["train", "--options-json", options.to_json(), "--seed", "5"]) == 2  # never mixed
    assert len(got) == 1


# --------------------------------------------------------------------------- pieces
def test_prepare_config_adds_logging_checkpoints_and_cpu_ddp(bench, tmp_path):
    from fowkal.configs import build_config
    from fowkal.runs.train import prepare_config

    cfg = build_config("fowkal", "cpu", data_root=bench, work_dir=tmp_path, batch_size=4)
    cfg = prepare_config(cfg, launcher="pytorch", device="cpu", resume=True, max_iters=3,
                         world_size=2, deterministic=True)
    assert [h["type"] for h in cfg.custom_hooks][-2:] == ["KAFLoggingHook", "EpochSeedHook"]
    assert "fowkal.mmpose" in cfg.custom_imports.imports  # registers the hooks too
    assert cfg.default_hooks.checkpoint.interval == 1 and cfg.default_hooks.checkpoint.by_epoch
    assert cfg.resume is True and cfg.launcher == "pytorch" and cfg.env_cfg.dist_cfg.backend == "gloo"
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.train_dataloader.dataset.indices == 3 * 4 * 2
    assert cfg.randomness.deterministic is True


class _Head(torch.nn.Module):
    last_kaf = None


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.head = _Head()
        self.weight = torch.nn.Parameter(torch.zeros(1))


def _fake_runner(work_dir, resume=False):
    import logging

    return SimpleNamespace(model=_Model(), work_dir=str(work_dir), epoch=0, iter=0, _resume=resume,
                           logger=logging.getLogger("test"))


def _run_epoch(hook, runner, batches, losses, terms=None):
    hook.before_train_epoch(runner)
    for i, (kaf, loss) in enumerate(zip(batches, losses)):
        runner.model.head.last_kaf = kaf
        runner.model.head.last_loss_terms = None if terms is None else {"awing": terms[i], "mse": terms[i] / 2}
        hook.after_train_iter(runner, 0, None, {"loss": torch.tensor(loss), "acc_pose": torch.tensor(0.5)})
        runner.iter += 1
    hook.after_train_epoch(runner)
    runner.epoch += 1


def test_kaf_logging_hook_statistics_and_resume_state(tmp_path):
    from fowkal.mmpose.hooks import CHECKPOINT_KEY, KAFLoggingHook

    rng = np.random.default_rng(0)
    batches = [torch.tensor(rng.uniform(0.1, 0.9, size=(3, 5))) for _ in range(3)]
    hook, runner = KAFLoggingHook(iters=(1, 3), loss_interval=2), _fake_runner(tmp_path)
    hook.before_train(runner)
    terms = [torch.tensor(rng.uniform(0.0, 1.0, size=5)) for _ in range(3)]  # per-keypoint batch means
    _run_epoch(hook, runner, batches, [1.0, 2.0, 6.0], terms)
    log = json.loads((tmp_path / "kaf_log.json").read_text())
    assert [(e["kind"], e["epoch"], e["iter"], e["n"]) for e in log] == \
        [("iter", 1, 1, 3), ("iter", 1, 3, 3), ("epoch", 1, 3, 9)]
    every = torch.cat(batches).numpy()
    np.testing.assert_allclose(log[2]["mean"], every.mean(0), atol=1e-6)
    np.testing.assert_allclose(log[2]["std"], every.std(0), atol=1e-6)  # population std
    np.testing.assert_allclose(log[1]["mean"], batches[2].numpy().mean(0), atol=1e-6)
    np.testing.assert_allclose(log[2]["awing"], torch.stack(terms).numpy().mean(0), atol=1e-6)
    np.testing.assert_allclose(log[2]["mse"], torch.stack(terms).numpy().mean(0) / 2, atol=1e-6)
    assert "awing" not in log[0]
    (losses,) = json.loads((tmp_path / "loss_log.json").read_text())
    assert losses["loss"] == pytest.approx(3.0) and losses["acc_pose"] == pytest.approx(0.5)
    assert (losses["epoch"], losses["iter"], losses["iters"]) == (1, 3, 3)
    # windows of 2 iterations, the last one cut by the epoch's end
    windows = json.loads((tmp_path / "loss_curve.json").read_text())
    assert [(e["epoch"], e["iter"], e["iters"]) for e in windows] == [(1, 2, 2), (1, 3, 1)]
    assert [e["loss"] for e in windows] == pytest.approx([1.5, 6.0])

    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    _run_epoch(hook, runner, batches, [1.0, 1.0, 1.0])  # epoch 2, then "killed"
    assert len(json.loads((tmp_path / "loss_log.json").read_text())) == 2

    resumed, runner2 = KAFLoggingHook(iters=(1, 3)), _fake_runner(tmp_path, resume=True)
    resumed.after_load_checkpoint(runner2, checkpoint)
    runner2.epoch, runner2.iter = 1, 3
    resumed.before_train(runner2)  # the files go back to what the checkpoint holds
    assert json.loads((tmp_path / "kaf_log.json").read_text()) == log
    assert len(json.loads((tmp_path / "loss_log.json").read_text())) == 1
    assert resumed.start_epoch == 1
    assert json.loads((tmp_path / "loss_curve.json").read_text()) == windows

    fresh = KAFLoggingHook()  # load_from (not resume) starts new logs
    fresh.after_load_checkpoint(_fake_runner(tmp_path, resume=False), checkpoint)
    assert fresh.kaf_entries == [] and CHECKPOINT_KEY in checkpoint


def test_kaf_logging_hook_without_kaf_writes_only_losses(tmp_path):
    from fowkal.mmpose.hooks import KAFLoggingHook

    hook, runner = KAFLoggingHook(), _fake_runner(tmp_path)
    hook.before_train(runner)
    _run_epoch(hook, runner, [None, None], [2.0, 4.0])
    assert not (tmp_path / "kaf_log.json").exists()
    assert json.loads((tmp_path / "loss_log.json").read_text())[0]["loss"] == pytest.approx(3.0)


def test_kaf_logging_hook_refuses_a_bad_loss_interval():
    from fowkal.mmpose.hooks import KAFLoggingHook

    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="loss_interval must be a positive int"):
            KAFLoggingHook(loss_interval=bad)


def test_learning_curve_hook_validates_every_interval_but_the_last_and_resumes(tmp_path):
    from fowkal.runs.curve import CHECKPOINT_KEY, LearningCurveHook, curve_point

    hook = LearningCurveHook(cfg=None, interval=2, max_epochs=6)
    assert [e for e in range(1, 7) if hook.due(e)] == [2, 4]  # epoch 6 is the final evaluation's
    metrics = {p: {"AP": 0.25, "AR": 0.5} for p in PARTS}
    hook.entries = [curve_point(2, 20, metrics, 1.0), curve_point(4, 40, metrics, 1.0)]
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    resumed = LearningCurveHook(cfg=None, interval=2, max_epochs=6)
    resumed.after_load_checkpoint(SimpleNamespace(_resume=True), checkpoint)
    resumed.before_train(SimpleNamespace(epoch=3, work_dir=str(tmp_path)))  # killed in epoch 4
    assert [e["epoch"] for e in resumed.entries] == [2]
    assert json.loads((tmp_path / "curve_log.json").read_text()) == resumed.entries
    fresh = LearningCurveHook(cfg=None, interval=2, max_epochs=6)
    fresh.after_load_checkpoint(SimpleNamespace(_resume=False), checkpoint)  # load_from: a new curve
    assert fresh.entries == [] and CHECKPOINT_KEY in checkpoint
    with pytest.raises(ValueError, match="lack part"):
        curve_point(1, 1, {"body": {"AP": 0.1, "AR": 0.1}})
    with pytest.raises(ValueError, match="val_interval must be a positive int"):
        LearningCurveHook(cfg=None, interval=0, max_epochs=3)


def test_epoch_seed_hook_makes_an_epochs_draws_depend_on_seed_and_epoch_only():
    from fowkal.mmpose.hooks import EpochSeedHook

    def draws(epoch):
        np.random.seed(12345)  # whatever state the process was in before
        EpochSeedHook().before_train_epoch(SimpleNamespace(seed=7, epoch=epoch))
        return np.random.rand(), torch.rand(1).item()

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_trusted_checkpoints_load_mmengine_checkpoints_only_from_the_given_folders(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint

    from fowkal.runs.checkpoints import trusted_checkpoints

    for folder in ("run", "elsewhere"):
        (tmp_path / folder).mkdir()
        torch.save({"state_dict": {"w": torch.ones(2)}, "meta": {"seed": np.int64(3)}},
                   tmp_path / folder / "epoch_1.pth")
    with trusted_checkpoints(tmp_path / "run"):
        loaded = _load_checkpoint(str(tmp_path / "run/epoch_1.pth"), map_location="cpu")
        assert loaded["meta"]["seed"] == 3 and torch.equal(loaded["state_dict"]["w"], torch.ones(2))
        with pytest.raises(Exception, match="(?i)weights.only"):  # torch's safe default elsewhere
            _load_checkpoint(str(tmp_path / "elsewhere/epoch_1.pth"), map_location="cpu")
    with pytest.raises(Exception, match="(?i)weights.only"):  # and after the context
        _load_checkpoint(str(tmp_path / "run/epoch_1.pth"), map_location="cpu")


def test_run_record_round_trip_and_checks(tmp_path):
    record = {"schema_version": run_record.SCHEMA_VERSION, "kind": run_record.KIND, "method": "mse",
              "profile": "cpu", "seed": 0, "versions": run_record.package_versions(),
              "config": {"source": "fowkal/configs/cpu/mse.py", "args": {}, "overrides": {}, "run": {},
                         "sha256": "0" * 64}, "data": {"root": "$FOWKAL_DATA_ROOT/bench"},
              "losses": [], "metrics": {}, "files": {"config": "config.py", "kaf_log": None,
                                                     "checkpoints": ["epoch_1.pth"]}}
    run_record.write(record, tmp_path / run_record.RECORD_NAME)
    loaded = run_record.load(tmp_path)
    assert loaded["files"] == {"config": str(tmp_path / "config.py"), "kaf_log": None,
                               "checkpoints": [str(tmp_path / "epoch_1.pth")]}
    assert json.loads((tmp_path / run_record.RECORD_NAME).read_text())["files"]["config"] == "config.py"
    for bad, words in ((dict(record, schema_version=99), "schema_version 99"),
                       (dict(record, kind="other"), "not a fowkal run record"),
                       ({k: v for k, v in record.items() if k != "metrics"}, "lacks \\['metrics'\\]"),
                       (dict(record, config={"sha256": "0" * 64}), "config block lacks \\['source', 'args'"),
                       (dict(record, data={"data_root": "/x"}), "names no data root")):
        with pytest.raises(ValueError, match=words):
            run_record.write(bad, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()
    with pytest.raises(FileNotFoundError):
        run_record.load(tmp_path / "missing.json")
    assert run_record.git_state(tmp_path) == {"commit": None, "dirty": None}  # not a checkout


def test_git_state_dirty_means_tracked_changes_only(tmp_path):
    import subprocess

    from fowkal.runs import record as run_record

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "run_record.json").write_text("{}")  # a record written by a running ablation
    state = run_record.git_state(tmp_path)
    assert len(state["commit"]) == 40 and state["dirty"] is False and state["changed"] == []
    (tmp_path / "code.py").write_text("x = 2\n")
    state = run_record.git_state(tmp_path)
    assert state["dirty"] is True and state["changed"] == ["code.py"]
