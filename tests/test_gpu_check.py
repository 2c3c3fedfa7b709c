"""benchmarks/gpu: the GPU check's --tiny run on the CPU, its pieces, and the wheel collector's checks.

CI has no GPU: the slow test runs the very script a GPU machine runs, with ``--tiny`` (a few iterations of
the paper model at 128x96 through torchrun/gloo, small loss shapes), and checks the record it writes.
"""
from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GPU_DIR = REPO / "benchmarks" / "gpu"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", GPU_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load("check")
collect = _load("collect")


# --------------------------------------------------------------------------- the tiny run, end to end
@pytest.mark.slow
@pytest.mark.mmpose
def test_tiny_run_writes_a_complete_record(tmp_path):
    pytest.importorskip("mmpose")
    from fowkal.losses import METHODS

    results = sorted((REPO / "results" / "gpu").glob("*")) if (REPO / "results" / "gpu").is_dir() else []
    out, work = tmp_path / "out", tmp_path / "work"
    # the work dir relative to the working folder: the check's training subprocesses must still find it
    run = subprocess.run([sys.executable, str(GPU_DIR / "check.py"), "--tiny", "--device", "cpu",
                          "--out-dir", str(out), "--work-dir", work.name],
                         capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    files = list(out.glob("*.json"))
    assert len(files) == 1 and re.fullmatch(r"cpu-tiny-\d{4}-\d{2}-\d{2}\.json", files[0].name)
    record = json.loads(files[0].read_text())
    assert record["kind"] == "fowkal-gpu-check" and record["schema_version"] == 1 and record["tiny"] is True
    assert record["device"]["type"] == "cpu" and "error" not in record
    assert record["checks"] == {"completed": True, "training_ran": True, "losses_finite": True,
                                "losses_fall": None, "fused_agrees_with_reference": True}
    assert set(record["phases"]) == {"benchmark_s", "training_s", "loss_agreement_s", "loss_timing_s"}

    training = record["training"]
    assert training["profile"] == "paper" and training["from_scratch"] is True and training["pretrained"] is None
    assert training["crop_wh"] == [96, 128] and training["heatmap_wh"] == [24, 32]
    runs = {(r["method"], r["precision"]): r for r in training["runs"]}
    assert set(runs) == {("fowkal", p) for p in ("fp32", "amp")}  # tiny: one method (the full check trains MSE too)
    for method in ("fowkal",):
        row = runs[(method, "fp32")]
        assert row["status"] == "ok" and row["iters"] == training["iterations"] == len(row["losses"])
        assert row["it_per_s"] > 0 and 0 <= row["data_time_fraction"] <= 1 and row["finite"] is True
        assert all(math.isfinite(v) for v in row["losses"]) and row["loss_implementation"].startswith(method)
        assert row["peak_memory_mib"] is None  # MMEngine logs memory on CUDA only
        assert runs[(method, "amp")] == {"method": method, "precision": "amp", "status": "skipped",
                                         "reason": "MMEngine's AmpOptimWrapper needs CUDA"}
        # it went through torchrun (launcher 'pytorch', gloo on the CPU), as a multi-GPU user's run does
        config = (work / "runs" / f"{method}-fp32" / "config.py").read_text()
        assert "launcher = 'pytorch'" in config and "backend='gloo'" in config

    agreement = record["loss_agreement"]
    assert {(r["method"], r["dtype"]) for r in agreement["rows"]} == \
        {(m, d) for m in METHODS for d in ("float32", "bfloat16")}
    assert agreement["all_ok"] and all(r["fused_grad_rel_err"] < 1e-2 for r in agreement["rows"])
    timing = record["loss_timing"]
    cases = {(r["method"], r["implementation"]) for r in timing["rows"]}
    assert {("mse", "mmpose"), ("awing", "mmpose")} | {(m, i) for m in METHODS for i in ("reference", "fused")} <= cases
    awing = next(r for r in timing["rows"] if (r["method"], r["implementation"]) == ("awing", "mmpose"))
    assert awing["ratio_to_mmpose_awing"] == pytest.approx(1.0)
    # a tiny run never lands among the real records
    after = sorted((REPO / "results" / "gpu").glob("*")) if (REPO / "results" / "gpu").is_dir() else []
    assert after == results


# --------------------------------------------------------------------------- the pieces
def test_amp_run_config_uses_mmengines_amp_wrapper(tmp_path):
    pytest.importorskip("mmpose")
    from fowkal.configs import build_config
    from fowkal.data import make_benchmark

    root = make_benchmark(tmp_path / "bench", seed=0, workers=1, train_images=2, val_images=1,
                          image_size=(160, 128), person_height=(70.0, 110.0))
    mode = dict(check.MODES["tiny"])
    overrides = check.run_overrides(root, mode, "amp", "bfloat16")
    cfg = build_config("fowkal", "paper", data_root=root, from_scratch=True, **overrides)
    assert cfg.optim_wrapper.type == "AmpOptimWrapper" and cfg.optim_wrapper.loss_scale == "dynamic"
    assert cfg.optim_wrapper.dtype == "bfloat16" and cfg.optim_wrapper.optimizer.type == "Adam"
    assert cfg.param_scheduler[0].type == "LinearLR" and cfg.param_scheduler[0].end == mode["warmup_iters"]
    assert cfg.model.head.decoder.input_size == [96, 128] and cfg.model.head.decoder.heatmap_size == [24, 32]
    steps = {s["type"]: s for s in cfg.train_dataloader.dataset.pipeline}
    assert steps["TopdownAffine"]["input_size"] == [96, 128]
    assert steps["GenerateTarget"]["encoder"]["heatmap_size"] == [24, 32]
    for loader in ("val_dataloader", "test_dataloader"):
        affine = next(s for s in cfg[loader].dataset.pipeline if s["type"] == "TopdownAffine")
        assert affine["input_size"] == [96, 128]
    fp32 = check.run_overrides(root, dict(check.MODES["full"]), "fp32", "float16")
    assert not any(key.startswith("optim_wrapper") or "input_size" in key for key in fp32)  # the paper's own


def _write_scalars(work: Path, losses, memory=None):
    folder = work / "20250101_000000" / "vis_data"
    folder.mkdir(parents=True)
    rows = [dict(loss=v, time=0.5, data_time=0.1, step=i + 1, **({"memory": memory} if memory else {}))
            for i, v in enumerate(losses)]
    rows.append({"coco-wholebody/AP": 0.1, "step": 1})  # the evaluation's entry is not an iteration
    (folder / "scalars.json").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_iteration_stats_reads_mmengines_log(tmp_path):
    _write_scalars(tmp_path, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], memory=1234)
    stats = check.iteration_stats(tmp_path, 10)
    assert stats["iters"] == 10 and stats["timed_iters"] == 9 and stats["it_per_s"] == pytest.approx(2.0)
    assert stats["data_time_fraction"] == pytest.approx(0.2) and stats["peak_memory_mib"] == 1234
    assert stats["loss_first"] == pytest.approx(0.95) and stats["loss_last"] == pytest.approx(0.15)
    assert stats["falls"] is True and stats["finite"] is True


def test_iteration_stats_flags_rising_and_nonfinite_losses_and_short_runs(tmp_path):
    _write_scalars(tmp_path / "a", [0.1, 0.2, float("nan"), 0.4])
    stats = check.iteration_stats(tmp_path / "a", 4)
    assert stats["finite"] is False and stats["falls"] is False
    _write_scalars(tmp_path / "b", [0.1, 0.2])
    with pytest.raises(RuntimeError, match="2 logged training iterations, expected 4"):
        check.iteration_stats(tmp_path / "b", 4)


def test_a_phase_that_breaks_off_leaves_a_record_of_what_finished(tmp_path, monkeypatch, capsys):
    """A device call can be cut off or a run can fail: the finished runs stay in the record, the error names the phase."""
    finished = dict(method="mse", precision="fp32", status="ok", finite=True, falls=True, it_per_s=1.0,
                    data_time_fraction=0.1, peak_memory_mib=None, loss_first=1.0, loss_last=0.5, wall_s=1.0)

    def fake_run(method, precision, **kwargs):
        if method == "fowkal":
            raise RuntimeError("training fowkal/fp32 failed (1)")
        return dict(finished)

    monkeypatch.setattr(check, "make_data", lambda root, mode: {"params": {}})
    monkeypatch.setattr(check, "train_run", fake_run)
    monkeypatch.setitem(check.MODES["tiny"], "methods", ("mse", "fowkal"))  # as the full check: MSE, then FoWKAL
    code = check.main(["--tiny", "--device", "cpu", "--out-dir", str(tmp_path / "out"),
                       "--work-dir", str(tmp_path / "work")])
    assert code == 1 and "fowkal/fp32 failed" in capsys.readouterr().err
    (path,) = (tmp_path / "out").glob("*.json")
    record = json.loads(path.read_text())
    assert record["error"] == "training: RuntimeError: training fowkal/fp32 failed (1)"
    assert record["training"]["runs"] == [finished]
    assert record["checks"]["completed"] is False and record["checks"]["training_ran"] is True
    assert record["checks"]["fused_agrees_with_reference"] is False and "loss_agreement" not in record
    assert set(record["phases"]) == {"benchmark_s"}


@pytest.mark.parametrize("argv, message", [
    (["--iters", "1"], "--iters must be >= 2"),
    (["--workers", "-1"], "--workers must be >= 0"),
    (["--budget-s", "10"], "--budget-s must be >= 60"),
    (["--loss-shape", "2,17,8,6"], "--loss-shape must be B,133,H,W"),
    (["--loss-shape", "2,133,x,6"], "--loss-shape must be B,133,H,W"),
    (["--wheels", "/nonexistent-folder"], "no manifest.json"),
])
def test_bad_arguments_are_refused_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        check.parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_record_names_follow_the_card_and_never_overwrite(tmp_path):
    device = {"type": "cuda", "name": "NVIDIA H100 80GB HBM3"}
    first = check.record_path(tmp_path, device, tiny=False)
    assert re.fullmatch(r"nvidia-h100-80gb-hbm3-\d{4}-\d{2}-\d{2}\.json", first.name)
    first.write_text("{}")
    assert check.record_path(tmp_path, device, tiny=False).name == first.name.replace(".json", "-2.json")
    assert check.record_path(tmp_path, {"type": "cpu"}, tiny=True).name.startswith("cpu-tiny-")


def test_wheel_freshness_digest_sees_any_changed_file(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("y = 2\n")
    before = check.tree_digest(tmp_path / "pkg")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"cache")
    assert check.tree_digest(tmp_path / "pkg") == before  # caches do not count
    (tmp_path / "pkg" / "sub" / "b.py").write_text("y = 3\n")
    assert check.tree_digest(tmp_path / "pkg") != before


def test_the_wheels_option_is_dropped_on_restart():
    assert check._drop_option(["--tiny", "--wheels", "w", "--iters", "3"], "--wheels") == ["--tiny", "--iters", "3"]
    assert check._drop_option(["--wheels=w", "--tiny"], "--wheels") == ["--tiny"]


# --------------------------------------------------------------------------- the collector's checks
def _fake_wheel(folder: Path, name: str, version: str, requires=()):
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}-{version}.dist-info/METADATA", f"Name: {name}\nVersion: {version}\n{meta}")
    return path


def test_collector_accepts_a_closed_set_and_reads_markers(tmp_path):
    files = [_fake_wheel(tmp_path, "mmengine", "0.10.7", ["addict", "numpy", "opencv-python",
                                                           'regex ; sys_platform == "win32"',
                                                           'tomli ; python_version < "3.11"',
                                                           'pytest ; extra == "tests"']),
             _fake_wheel(tmp_path, "addict", "2.4.0")]
    collect.check_closure(files, "3.12")  # numpy on the image; the rest is Windows, old-Python or extras


@pytest.mark.parametrize("extra, message", [
    (("yapf", "0.43.0", ["platformdirs"]), "neither collected nor on the GPU image"),
    (("addict", "2.5.0", []), "more than one file"),
    (("torch", "2.11.0", []), "torch must never be collected"),
])
def test_collector_refuses_gaps_duplicates_and_torch(tmp_path, extra, message):
    files = [_fake_wheel(tmp_path, "addict", "2.4.0"), _fake_wheel(tmp_path, *extra)]
    with pytest.raises(SystemExit, match=message):
        collect.check_closure(files, "3.12")


def test_collected_folder_is_ignored_by_git():
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "benchmarks/gpu/wheels/x.whl"])
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.returncode == 0
