"""The notebooks: .py/.ipynb pairs in sync, parameters checked in the first cell, papermill runs."""
import ast
import json
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
papermill = pytest.importorskip("papermill")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_py_and_ipynb_are_in_sync(source):
    paired = source.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired.name} missing: run `jupytext --sync {source}`"
    py, ipynb = jupytext.read(source), jupytext.read(paired)
    assert _cells(py) == _cells(ipynb), f"{source.name} and {paired.name} differ: run `jupytext --sync {source}`"
    params = [c for c in ipynb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"


def test_notebooks_are_the_four_documented():
    assert [p.stem for p in NOTEBOOKS] == ["ablation", "evaluate", "kaf_study", "train"]


def test_train_notebook_has_every_train_option_as_a_typed_parameter():
    """A new TrainOptions option fails here until the train notebook's parameters cell has it."""
    from fowkal.runs.options import TrainOptions

    nb = jupytext.read(ROOT / "notebooks" / "train.py")
    (cell,) = [c.source for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    body = ast.parse(cell).body
    assert all(isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) for n in body), \
        "papermill needs plain typed assignments in the parameters cell"
    names = [n.target.id for n in body]
    assert sorted(names) == sorted(TrainOptions.notebook_names())
    namespace = {}
    exec(compile(cell, "parameters", "exec"), namespace)
    values = {name: namespace[name] for name in names}
    for node in body:  # each annotation is the type of its value (papermill's --help-notebook shows it)
        assert node.annotation.id == type(values[node.target.id]).__name__, node.target.id
    assert TrainOptions.from_notebook(**values) == TrainOptions()  # the cell's defaults are the options'
    assert TrainOptions.from_notebook(namespace) == TrainOptions()  # as the notebook calls it, globals()


def _run(name, tmp_path, **parameters):
    out = tmp_path / f"{name}-out.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(out), parameters=parameters,
                               progress_bar=False, cwd=str(tmp_path), kernel_name="python3")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name, parameters, message", [
    ("train", dict(method="bogus"), "option 'method' is 'bogus'; valid: mse"),
    ("train", dict(epochs=-1), "option 'epochs' must be an integer >= 1"),
    ("train", dict(data_root="/nonexistent/coco"), "option 'data_root': folder '/nonexistent/coco' does not exist"),
    ("train", dict(profile="paper"), "option 'data_root' is required for profile 'paper'"),
    ("train", dict(cfg_options="{reg_weight: 0}"), "option 'cfg_options' is not valid JSON"),
    ("train", dict(cfg_options='{"seed": 3}'), "option 'cfg_options' sets ['seed']"),
    ("ablation", dict(methods="mse,nope"), "parameter 'methods' names unknown method(s) ['nope']"),
    ("evaluate", dict(checkpoint=""), "parameter 'checkpoint' is required"),
])
def test_bad_parameters_fail_in_the_first_cell(tmp_path, name, parameters, message):
    with pytest.raises(papermill.PapermillExecutionError) as err:
        _run(name, tmp_path, **parameters)
    assert message in str(err.value)
    executed = json.loads((tmp_path / f"{name}-out.ipynb").read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    failing = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failing and failing[0] <= 2, "the error must come from the validation cell, before any work"


def _record(method, seed, values):
    parts = dict(zip(("wholebody", "body", "foot", "face", "hand"), values))
    parts["lefthand"] = parts["righthand"] = parts["hand"]
    return {"method": method, "seed": seed, "metrics": {"gt_boxes": {p: {"AP": v, "AR": v} for p, v in parts.items()}}}


@pytest.mark.slow
def test_ablation_notebook_aggregates_records_like_a_hand_computation(tmp_path):
    records = tmp_path / "records"
    runs = {("mse", 0): (0.40, 0.5, 0.5, 0.5, 0.5), ("mse", 1): (0.44, 0.5, 0.5, 0.5, 0.5),
            ("fowkal", 0): (0.50, 0.6, 0.7, 0.3, 0.2), ("fowkal", 1): (0.56, 0.6, 0.7, 0.5, 0.4)}
    for (method, seed), values in runs.items():
        folder = records / method / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "run_record.json").write_text(json.dumps(_record(method, seed, values)))
    out = _run("ablation", tmp_path, records_dir=str(records), run_missing=False, methods="mse,fowkal", seeds="0,1")
    tables = json.loads((records / "tables.json").read_text())
    wb = tables["table"]["fowkal"]["wholebody"]
    assert wb["mean"] == pytest.approx(53.0) and wb["std"] == pytest.approx(4.242640687)  # (50, 56)
    claim = next(c for c in tables["claims"] if c["better"] == "fowkal" and c["worse"] == "mse")
    # per seed: 50 − 40 = 10, 56 − 44 = 12 → d = 11, SE = 1, t = 11 with 1 df: two-sided p = 0.0577, the
    # only claim tested (Holm leaves it): not decided; the 95 % interval 11 ± 12.71 holds 0 and the paper's +3.4
    assert claim["d"] == pytest.approx(11.0) and claim["n"] == 2
    assert claim["p_holm"] == pytest.approx(0.057714, rel=1e-4) and claim["verdict"] == "inconclusive"
    assert claim["low"] == pytest.approx(11 - 12.7062047) and claim["paper_inside"] is True
    text = out.read_text()
    assert "53.0 ± 4.2" in text and "42.0 ± 2.8" in text


@pytest.mark.slow
def test_train_notebook_runs_a_tiny_training_and_writes_a_record(tmp_path):
    from fowkal.data import make_benchmark

    bench = make_benchmark(tmp_path / "bench", seed=0, workers=1, train_images=8, val_images=3)
    work = tmp_path / "run"
    out = _run("train", tmp_path, method="kal", data_root=str(bench), work_dir=str(work), epochs=1,
               batch_size=2, max_iters=2, seed=3, cfg_options='{"model.head.loss.reg_weight": 0.25}')
    record = json.loads((work / "run_record.json").read_text())
    assert record["method"] == "kal" and record["seed"] == 3 and record["profile"] == "cpu"
    assert "reg_weight=0.25" in (work / "config.py").read_text()  # the resolved config the run used
    assert set(record["metrics"]["gt_boxes"]) >= {"body", "foot", "face", "hand", "wholebody"}
    assert (work / "kaf_log.json").is_file()
    assert "| body |" in out.read_text() or "body" in out.read_text()


def test_seeds_parameter_is_checked_with_its_name():
    from fowkal.runs.options import parse_seeds

    assert parse_seeds("0, 1,2") == [0, 1, 2]
    for bad in ("", "0,x", "-1"):
        with pytest.raises(ValueError, match="parameter 'seeds'"):
            parse_seeds(bad)
