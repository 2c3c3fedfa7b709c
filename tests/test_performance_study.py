"""The performance chapter's summaries (fowkal.studies.performance) and figure (fowkal.viz.performance), on
synthetic benchmark results and records (test inputs, never results)."""
from __future__ import annotations

import ast
import json
import shlex
from pathlib import Path

import pytest

from fowkal.studies import performance
from test_figures import synthetic_record

REPO = Path(__file__).resolve().parents[1]
SHAPE = [32, 133, 64, 48]


def _row(method, implementation, ms, shape=SHAPE):
    return {"method": method, "implementation": implementation, "shape": shape, "device": "cpu",
            "median_s": ms / 1e3, "ratio_to_mmpose_mse": ms / 4.0, "ratio_to_mmpose_awing": ms / 50.0}


def _bench(load=(0.5, 0.7)):
    losses = [_row("mse", "mmpose", 4.0), _row("awing", "mmpose", 50.0), _row("fowkal", "reference", 100.0),
              _row("fowkal", "fused", 20.0), _row("mse", "fused", 8.0), _row("floor", "read once", 0.8)]
    return {"created": "2026-01-01T10:20:30Z", "commit": {"commit": "0123456789abcdef", "dirty": True},
            "machine": {"cpu": "Test CPU", "logical_cpus": 2, "cpu_capability": "AVX2", "torch_threads": 2,
                        "torch": "2.1", "mmpose": "1.1.0"},
            "settings": {"load_average_before": [load[0]], "load_average_after": [load[1]]},
            "losses": losses, "memory": [{"method": "fowkal", "implementation": "fused", "shape": SHAPE, "device": "cpu",
                                          "peak_extra_buffers": 1.5}]}


def test_the_upstream_config_is_paper_bases():
    tree = ast.parse((REPO / "fowkal" / "configs" / "paper_base.py").read_text())
    base = next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_base_")
    assert base == [performance.UPSTREAM_CONFIG]


def test_loss_table_and_provenance():
    bench = _bench()
    table = performance.loss_table(bench, SHAPE)
    assert "MMPose, same run: `KeypointMSELoss` 4.0 ms, `AdaptiveWingLoss` 50.0 ms." in table
    assert "| fowkal | 100.0 | 25.00 | 2.00 | 20.0 | 5.00 | 0.40 |  | 1.50 |" in table
    assert "all visible" not in table  # no such rows: the columns are dropped
    assert "Floors, every keypoint visible, same run: read once: 0.8 ms (0.20 × MMPose MSE)" in table
    line = performance.provenance_line(bench)
    assert line.startswith("Measured 2026-01-01 10:20 UTC at commit `01234567` (dirty) on Test CPU") and "busy" not in line
    assert "a busy machine" in performance.provenance_line(_bench(load=(3.0, 1.0)))
    assert performance.where_the_time_goes(bench) == "" and performance.train_step_markdown(bench) == ""
    assert performance.shape_title(SHAPE).startswith("the paper's heatmaps")


def test_the_paper_estimate_and_the_loss_at_its_scale():
    e = performance.paper_estimate()
    assert (e.iters_per_epoch, e.total_iters) == (586, 586 * 210)  # ceil(150000 / 256)
    assert "| steps in 210 epochs | ≈ 123,060 | estimated |" in performance.paper_estimate_markdown(e)
    slow = dict(_bench(), losses=[_row("fowkal", "fused", 2000.0), _row("fowkal", "reference", 10000.0),
                                  _row("mse", "mmpose", 400.0)])
    text = performance.loss_cost_text(slow, e)
    # 123060 steps x 2 s = 68.4 h fused; x 10 s = 341.8 h reference; x 0.4 s = 13.7 h MSE
    assert "≈ 68 hours of this CPU for the fused FoWKAL loss (≈ 342 for the reference), against ≈ 14 for MSE" in text
    assert performance.loss_cost_text(dict(_bench(), losses=[]), e) == ""


def test_geometry_cost_and_gpu_records(tmp_path):
    rows = lambda f: [{"name": "32x24", "method": "mse", "ratio_to_32x24": 1.0},  # noqa: E731
                      {"name": "64x48/shuffle64", "method": "mse", "ratio_to_32x24": f}]
    geometry = dict(_bench(), modes={"default": {"rows": rows(1.2)}, "retain": {"rows": rows(1.1)}},
                    settings={"default_head": "shuffle64", "repeats": 5})
    assert "| 64 × 48, shuffle64 (the profile's) | mse | 1.20 | 1.10 |" in performance.geometry_markdown(geometry)
    records = [synthetic_record("mse", s, 0.4) for s in (0, 2)]  # 60 s and 62 s
    assert "| mse | 2 | 1.0 | 2 | 5 | 20 |" in performance.cost_markdown(records)
    (tmp_path / "a.json").write_text(json.dumps({"kind": "fowkal-gpu-check", "tiny": True}))
    (tmp_path / "b.json").write_text(json.dumps({"kind": "other"}))
    assert performance.gpu_records(tmp_path) == [] and performance.gpu_records(tmp_path / "absent") == []
    record = {"kind": "fowkal-gpu-check", "device": {"type": "cuda", "name": "H100"}, "created": "2026-01-02T00:00:00Z",
              "wall_time_s": 300.0, "checks": {"trains": True, "amp": None}, "git": {"commit": "fedcba9876543210"}}
    (tmp_path / "c.json").write_text(json.dumps(record))
    (found,) = performance.gpu_records(tmp_path)
    assert performance.gpu_section(found).startswith("### H100, 2026-01-02\n\nCommit `fedcba98`")
    assert "Checks: trains ✓, amp –." in performance.gpu_section(found)


def test_the_paper_command_is_one_the_cli_reads():
    from fowkal.__main__ import build_parser
    from fowkal.runs.options import TrainOptions

    block = performance.paper_command("hrnet_w32.pth")
    assert block.startswith("```bash\npython -m fowkal train") and block.endswith("```")
    words = shlex.split(block.split("\n", 1)[1].rsplit("```", 1)[0].replace("\\\n", " "))
    options = TrainOptions.from_args(build_parser().parse_args(words[3:]))
    assert (options.method, options.profile, options.gpus, options.data_root) == ("fowkal", "paper", 8, "/data/coco")
    assert options.pretrained == "/data/weights/hrnet_w32.pth"
    assert performance.data_layout_markdown().count("- `") == len(performance.DATA_FILES)


def test_loss_times_figure_draws_a_panel_per_shape():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fowkal.viz.performance import loss_times_figure

    bench = _bench()
    bench["losses"] += [_row("fowkal", "fused", 5.0, shape=[32, 133, 32, 24])]
    fig = loss_times_figure(bench)
    assert [ax.get_title() for ax in fig.axes] == [str(SHAPE), "[32, 133, 32, 24]"]
    plt.close(fig)


@pytest.mark.mmpose
def test_the_training_config_and_the_backbone_weights_are_read_from_the_configs():
    pytest.importorskip("mmpose")
    loss_cfg, fused = performance.training_loss_config("fowkal", "cpu")
    assert loss_cfg["type"] == "FoWKALLoss" and fused is True
    base, weights = performance.backbone_weights()
    assert base == performance.UPSTREAM_CONFIG.rsplit("/", 1)[-1] and weights.startswith("hrnet_w32") and weights.endswith(".pth")
