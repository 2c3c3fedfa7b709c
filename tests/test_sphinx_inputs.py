"""The book re-executes a page that reads data when what it reads changed (fowkal.viz.sphinx_inputs): the
fingerprint its reader adds to a data page follows the run records, the KAF study's and GPU check's records,
the benchmarks' JSON and your own runs' records, and nothing else."""
from __future__ import annotations

import json

from fowkal.studies import local_run
from fowkal.viz import sphinx_inputs

PAGE = """# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   fowkal:
#     reads_data: true
# ---

# %%
print(1)
"""


def test_the_fingerprint_follows_every_input(tmp_path, monkeypatch):
    results = tmp_path / "results"
    (results / "cpu" / "mse" / "seed0").mkdir(parents=True)
    monkeypatch.setenv("FOWKAL_RUNS_DIR", str(results / "cpu"))
    monkeypatch.setattr(local_run, "LOCAL_RUNS_DIR", tmp_path / "work_dirs" / "cpu")
    seen = [sphinx_inputs.inputs_fingerprint()]
    assert sphinx_inputs.inputs_fingerprint() == seen[0]  # nothing changed: the cache is kept

    def changed():
        now = sphinx_inputs.inputs_fingerprint()
        assert now not in seen
        seen.append(now)

    (results / "cpu" / "mse" / "seed0" / "run_record.json").write_text(json.dumps({"method": "mse"}))
    changed()  # a new record of the ablation
    (results / "cpu" / "mse" / "seed0" / "run_record.json").write_text(json.dumps({"method": "mse", "seed": 0}))
    changed()  # a record's content
    (results / "kaf-study" / "default").mkdir(parents=True)
    (results / "kaf-study" / "injected_noise.json").write_text("{}")
    changed()  # the KAF study's folder, beside the ablation's
    mine = tmp_path / "work_dirs" / "cpu" / "fowkal-seed0"
    mine.mkdir(parents=True)
    (mine / "checkpoint.pth").write_text("weights")
    assert sphinx_inputs.inputs_fingerprint() == seen[-1]  # a checkpoint is not an input
    (mine / "run_record.json").write_text("{}")
    changed()  # the main job's own run


def test_only_data_pages_carry_the_fingerprint():
    notebook = sphinx_inputs.read_page(PAGE)
    first = notebook.cells[0]
    assert "remove-cell" in first.metadata["tags"] and sphinx_inputs.inputs_fingerprint()[:20] in first.source
    plain = sphinx_inputs.read_page(PAGE.replace("#   fowkal:\n#     reads_data: true\n", ""))
    assert [c.source for c in plain.cells] == ["print(1)"]


def test_the_benchmarks_results_are_inputs():
    paths = sphinx_inputs.input_paths()
    assert any(p.name == "bench_losses.json" for p in paths) and any(p.name == "bench_geometry.json" for p in paths)
