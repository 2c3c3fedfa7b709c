"""fowkal.studies.step_speed and the step benchmark: tables, targets and run phases from synthetic results."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fowkal.studies import step_speed

REPO = Path(__file__).resolve().parents[1]


def _result(step_ms: dict) -> dict:
    rows = []
    for (code, method), ms in step_ms.items():
        parts = {part: 0.0 for part in step_speed.PART_LABELS}
        parts.update(backbone=ms * 0.4e-3, backward=ms * 0.5e-3, loss=ms * 0.1e-3)
        rows.append(dict(code=code, method=method, median_step_s=ms * 1e-3, parts_median_s=parts, steps=4))
    mse = step_ms[("current", "mse")]
    return {"kind": "fowkal-bench-step", "pipeline": {"current": {"cpu_s_per_batch32": 0.2}},
            "summary": {"rows": rows,
                        "ratio_to_mse": {m: ms / mse for (c, m), ms in step_ms.items() if c == "current"},
                        "ratio_to_baseline": {m: step_ms[("current", m)] / step_ms[("baseline", m)]
                                              for (c, m) in step_ms if c == "baseline"},
                        "targets": {"every_method_at_most_mse_times": 1.05, "mse_at_most_baseline_times": 0.67,
                                    "mse_goal_baseline_times": 0.5}}}


def test_tables_and_targets_follow_the_numbers(tmp_path):
    result = _result({("current", "mse"): 300.0, ("current", "fowkal"): 330.0, ("baseline", "mse"): 450.0,
                      ("baseline", "fowkal"): 640.0})
    rows = {r["method"]: r for r in step_speed.step_rows(result)}
    assert rows["fowkal"]["ratio_to_mse"] == pytest.approx(1.1)
    assert rows["mse"]["ratio_to_baseline"] == pytest.approx(300 / 450)
    found = step_speed.targets(result)
    assert found["every method's step, × MSE (worst)"]["method"] == "fowkal"
    assert found["every method's step, × MSE (worst)"]["met"] is False
    assert found["MSE's step, × baseline"]["met"] is True
    assert "| fowkal | 330 | 1.10 ▲ | 330 | 640 | 0.52 |" in step_speed.step_markdown(result)
    result["summary"]["candidates"] = {"mse+channels_last": 0.93, "kal+compile": 0.8}
    assert "`mse+channels_last` 0.93" in step_speed.step_markdown(result)
    # against the baseline only where the option's method ran beside it (kal did not)
    assert step_speed.candidate_ratios_to_baseline(result) == pytest.approx({"mse+channels_last": 0.93 * 300 / 450})
    assert "Options × baseline" in step_speed.step_markdown(result) and "`mse+channels_last` 0.62" in \
        step_speed.step_markdown(result)
    assert len(step_speed.targets(result)) == 2  # no compiled MSE among the options
    result["summary"]["candidates"]["mse+compile"] = 1.05
    compiled = step_speed.targets(result)["MSE's step compiled (the converged ablation's), × baseline"]
    assert compiled["measured"] == pytest.approx(1.05 * 300 / 450) and compiled["met"] is False
    assert "| **whole step** |" in step_speed.profile_markdown(result)
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(result))
    assert step_speed.load(path)["summary"] == result["summary"]
    path.write_text(json.dumps({"kind": "other"}))
    with pytest.raises(ValueError, match="not a step benchmark"):
        step_speed.load(path)
    with pytest.raises(FileNotFoundError, match="bench_step.py"):
        step_speed.load(tmp_path / "missing.json")


def test_baseline_ratios_compare_the_steps_run_in_the_baselines_rotation():
    """The benchmark times MSE and FoWKAL twice in the current code: beside the baseline, in its rotation of two
    methods (× baseline), and in the rotation of every method (× MSE). Each ratio reads its own rows."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_step

    def rows(ms):
        return [dict(step_s=ms * 1e-3, parts={part: 0.0 for part in bench_step.PARTS})] * 3

    samples = {("current", "mse"): rows(400.0), ("current", "fowkal"): rows(480.0), ("current", "kal"): rows(420.0),
               (bench_step.PAIRED, "mse"): rows(300.0), (bench_step.PAIRED, "fowkal"): rows(360.0),
               ("baseline", "mse"): rows(450.0), ("baseline", "fowkal"): rows(600.0)}
    summary = bench_step.summarise(samples, ["mse", "fowkal", "kal"], ["mse", "fowkal"])
    assert summary["ratio_to_mse"] == pytest.approx({"mse": 1.0, "fowkal": 1.2, "kal": 1.05})
    assert summary["ratio_to_baseline"] == pytest.approx({"mse": 300 / 450, "fowkal": 360 / 600})
    assert summary["targets"]["mse_met"] is True
    result = {"summary": summary, "pipeline": {"current": {"cpu_s_per_batch32": 0.1},
                                               "baseline": {"cpu_s_per_batch32": 0.2}}}
    table = step_speed.step_markdown(result)
    assert "| mse | 400 | 1.00 | 300 | 450 | 0.67 |" in table and "| kal | 420 | 1.05 |  |  |  |" in table
    assert step_speed.PAIRED == bench_step.PAIRED
    profile = step_speed.profile_markdown(result)
    assert "mse (current, paired)" in profile and "| 200 | 200 | 100 | 100 | 100 | 100 |" in profile
    printed = bench_step.markdown(dict(summary=summary, settings=dict(rounds=4, steps=6, load_average_before=[0.1],
                                                                      load_average_after=[0.2]), pipeline={}))
    assert "| mse | current, paired | 300 |  | 0.67 |" in printed and "| mse | current | 400 | 1.00 |  |" in printed


def test_run_phases_split_training_from_the_rest():
    record = {"wall_time_s": 200.0, "losses": [{"time_s": 50.0, "iters": 100}, {"time_s": 60.0, "iters": 100}]}
    phases = step_speed.run_phases(record)
    assert phases["training_s"] == 110.0 and phases["other_s"] == 90.0
    assert phases["seconds_per_step"] == pytest.approx(0.55)
    assert phases["other_share"] == pytest.approx(0.45)


def test_the_profile_figure_draws_every_row():
    pytest.importorskip("matplotlib")
    from fowkal.viz.step_speed import step_profile_figure

    result = _result({("current", "mse"): 300.0, ("baseline", "mse"): 450.0})
    fig = step_profile_figure(result)
    assert sorted(t.get_text() for t in fig.axes[0].get_yticklabels()) == ["mse (baseline)", "mse (current)"]


@pytest.mark.slow
@pytest.mark.mmpose
def test_the_step_benchmark_runs_against_its_baseline(tmp_path):
    out = tmp_path / "step.json"
    # the baseline is this commit itself: the mechanism works wherever the clone has no older history
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_step.py"), "--quick", "--baseline", "HEAD",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    result = step_speed.load(out)
    assert {(r["code"], r["method"]) for r in result["summary"]["rows"]} == {
        ("current", "mse"), ("current", "fowkal"), ("baseline", "mse"), ("baseline", "fowkal")}
    assert all(r["median_step_s"] > 0 for r in result["summary"]["rows"])
    assert set(result["pipeline"]) == {"current", "baseline"}


def test_the_step_benchmark_rejects_an_unknown_method():
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_step.py"), "--methods", "mse,bogus"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown method(s) ['bogus']" in done.stderr


def test_targets_markdown_says_met_or_not():
    result = _result({("current", "mse"): 300.0, ("current", "kal"): 310.0, ("baseline", "mse"): 400.0})
    text = step_speed.targets_markdown(result)
    assert "measured 1.03 (kal): **met**" in text
    assert "MSE's step, × baseline: target ≤ 0.67, goal ≤ 0.50; measured 0.75: **not met**" in text
