"""benchmarks/same_numbers.py: two runs' logged iterations compared exactly; its arguments; a tiny run end to end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "same_numbers.py"
sys.path.insert(0, str(REPO / "benchmarks"))
import same_numbers  # noqa: E402


def _rows(*losses):
    return [dict(step=i + 1, loss=v, acc_pose=0.5) for i, v in enumerate(losses)]


def test_equal_runs_are_equal_and_the_first_difference_is_named():
    assert same_numbers.compare(_rows(0.1, 0.2), _rows(0.1, 0.2)) == dict(
        iterations=2, keys=["acc_pose", "loss"], equal=True, first_difference=None)
    found = same_numbers.compare(_rows(0.1, 0.2, 0.3), _rows(0.1, 0.2 + 1e-12, 0.3))
    assert not found["equal"] and found["first_difference"] == dict(step=2, key="loss", current=0.2,
                                                                    baseline=0.2 + 1e-12)
    extra_key = _rows(0.1)
    extra_key[0]["kaf_face"] = 0.3
    assert same_numbers.compare(extra_key, _rows(0.1))["first_difference"]["key"] == "kaf_face"
    shorter = same_numbers.compare(_rows(0.1), _rows(0.1, 0.2))
    assert not shorter["equal"] and shorter["first_difference"]["key"] == "iterations"
    assert not same_numbers.compare([], [])["equal"]  # nothing logged proves nothing


def test_logged_iterations_drop_the_timings(tmp_path):
    vis = tmp_path / "20260101_000000" / "vis_data"
    vis.mkdir(parents=True)
    lines = [dict(lr=1e-3, data_time=0.1, loss=0.5, loss_kpt=0.5, acc_pose=0.2, time=0.4, epoch=1, iter=1,
                  memory=10, step=1), dict(coco_wholebody_ap=0.3, step=1)]  # a validation line: skipped
    (vis / "scalars.json").write_text("\n".join(json.dumps(x) for x in lines))
    assert same_numbers.logged_iterations(tmp_path) == [dict(loss=0.5, loss_kpt=0.5, acc_pose=0.2, step=1)]
    with pytest.raises(FileNotFoundError, match="no MMEngine scalars"):
        same_numbers.logged_iterations(tmp_path / "nothing")


@pytest.mark.parametrize("argv, message", [(["--baseline", "HEAD", "--method", "bogus"], "unknown method 'bogus'"),
                                           (["--baseline", "no-such-commit"], "is not a commit"),
                                           (["--baseline", "HEAD", "--iters", "0"], "--iters must be >= 1")])
def test_bad_arguments_are_refused_before_anything_runs(argv, message, tmp_path):
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, str(SCRIPT), *argv, "--out", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.mmpose
def test_a_tiny_run_against_this_commit_trains_the_same_numbers(tmp_path):
    pytest.importorskip("mmpose")
    out = tmp_path / "same.json"
    # MSE: the same mechanism as FoWKAL's check (figures/same_numbers.json), without compiling its loss kernel
    done = subprocess.run([sys.executable, str(SCRIPT), "--baseline", "HEAD", "--tiny", "--method", "mse",
                           "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    found = result["comparison"]
    assert result["kind"] == "fowkal-same-numbers" and found["equal"] and found["iterations"] == 2
    assert result["settings"]["method"] == "mse" and result["settings"]["tiny"] is True
    assert {"loss", "loss_kpt", "acc_pose"} <= set(found["keys"])
    assert "every logged number equal" in done.stdout and "2 iterations of mse" in done.stdout
