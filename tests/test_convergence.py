"""fowkal.studies.convergence: the plateau test on a record's learning curve, and the long runs' plan."""
from __future__ import annotations

import json

import pytest

from fowkal.losses import METHODS
from fowkal.runs.metrics import RESULT_KEYS
from fowkal.studies import convergence


def _record(curve_ap: dict, epochs: int, method="mse") -> dict:
    curve = [{"epoch": e, "iter": 10 * e, "time_s": None, "AP": {p: ap / 100 for p in RESULT_KEYS},
              "AR": {p: ap / 100 for p in RESULT_KEYS}} for e, ap in curve_ap.items()]
    return {"method": method, "seed": 0, "schedule": {"epochs": epochs}, "curve": curve}


def test_a_curve_still_rising_in_its_last_third_is_not_flat():
    p = convergence.plateau(_record({4: 20.0, 8: 30.0, 12: 40.0, 16: 45.0, 20: 48.0, 24: 50.0}, 24))
    assert p.epochs == (4, 8, 12, 16, 20, 24) and p.ap[0] == pytest.approx(20.0)
    assert p.last_third_change == pytest.approx(5.0) and not p.flat and p.best_epoch == 24  # 45 at 16 -> 50


def test_a_curve_that_settled_is_flat_and_its_peak_is_named():
    p = convergence.plateau(_record({4: 20.0, 8: 50.0, 12: 55.0, 16: 55.6, 20: 55.2, 24: 55.4}, 24))
    assert p.last_third_change == pytest.approx(-0.2) and p.flat and p.best_epoch == 16
    assert convergence.plateau(_record({3: 10.0, 6: 10.5}, 6)).last_third_change == pytest.approx(0.5)


def test_plateau_refuses_what_has_no_curve_and_unknown_parts():
    with pytest.raises(ValueError, match="1 curve point"):
        convergence.plateau(_record({3: 10.0}, 3))
    with pytest.raises(ValueError, match="unknown part 'toe'"):
        convergence.plateau(_record({3: 10.0, 6: 11.0}, 6), part="toe")


def test_load_plateaus_names_runs_after_their_folders(tmp_path):
    for name in ("mse", "fowkal_normalised"):
        folder = tmp_path / name / "seed0"
        folder.mkdir(parents=True)
        record = _record({4: 20.0, 8: 30.0}, 8, method="fowkal" if "fowkal" in name else name)
        (folder / "run_record.json").write_text(json.dumps(dict(record, metrics={})))
    assert sorted(p.name for p in convergence.load_plateaus(tmp_path)) == ["fowkal_normalised", "mse"]
    assert convergence.load_plateaus(tmp_path / "absent") == []


def test_the_plan_names_methods_of_the_ablation_and_the_papers_steps():
    names = [name for name, _, _ in convergence.PLATEAU_RUNS]
    assert len(set(names)) == len(names)
    assert all(method in METHODS for _, method, _ in convergence.PLATEAU_RUNS)
    assert convergence.PLATEAU_EPOCHS / convergence.PLATEAU_VAL_INTERVAL >= 6  # enough points to see a plateau


def test_curve_and_loss_tables_are_long_and_leave_out_records_without_curves():
    a = dict(_record({4: 20.0, 8: 30.0}, 8), seed=0, loss_curve=[{"epoch": 1, "iter": 20, "iters": 20, "loss": 0.5}])
    old = {"method": "mse", "seed": 1, "schedule": {"epochs": 3}}  # made before records carried curves
    curves = convergence.curve_table([a, old], names=["mse", "mse"])
    assert len(curves) == 2 * len(RESULT_KEYS) and set(curves["epoch"]) == {4, 8}
    assert curves[(curves.part == "wholebody") & (curves.epoch == 8)]["AP"].item() == pytest.approx(30.0)
    losses = convergence.loss_table([a, old])
    assert losses.to_dict("records") == [{"name": "mse", "seed": 0, "epoch": 1, "iter": 20, "loss": 0.5}]


def test_learning_curves_draw_mean_and_seed_band():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from fowkal.viz.curves import learning_curves

    records = [dict(_record({2: 10.0 + s, 4: 20.0 + s}, 4), seed=s) for s in range(3)]
    fig = learning_curves(convergence.curve_table(records))
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == pytest.approx([11.0, 21.0]) and "3 seeds" in line.get_label()
    assert len(ax.collections) == 1  # the band between the lowest and the highest seed
    with pytest.raises(ValueError, match="no learning curve"):
        learning_curves(convergence.curve_table([]))
    with pytest.raises(ValueError, match="unknown part"):
        learning_curves(convergence.curve_table(records), part="toe")


def test_plateau_markdown_lists_each_run():
    text = convergence.plateau_markdown([convergence.plateau(_record({4: 20.0, 8: 30.0, 12: 30.5}, 12))])
    assert "| mse | 12 | 20.0 → 30.0 → 30.5 | +0.5 | yes | 12 |" in text


def _ap_record(method, seed, wb):
    parts = dict(wholebody=wb, body=0.5, foot=0.5, face=0.5, lefthand=0.5, righthand=0.5, hand=0.5)
    return {"method": method, "seed": seed, "metrics": {"gt_boxes": {p: {"AP": v, "AR": v} for p, v in parts.items()}}}


def test_schedule_comparison_says_which_verdicts_flipped():
    wobble = (0.0, 0.004, -0.003)
    quick = [_ap_record(m, s, base + wobble[s]) for s in range(3) for m, base in (("mse", 0.50), ("fowkal", 0.45))]
    converged = [_ap_record(m, s, base + wobble[s]) for s in range(3) for m, base in (("mse", 0.50), ("fowkal", 0.55))]
    rows = {r["claim"]: r for r in convergence.schedule_comparison(quick, converged)}
    headline = rows["FoWKAL beats the MSE baseline (whole-body)"]
    assert headline["quick"]["verdict"] == "contradicted" and headline["converged"]["verdict"] == "reproduced"
    assert headline["flipped"] is True and headline["paper_delta"] == pytest.approx(3.4)
    assert rows["AWing beats MSE on face"]["flipped"] is None  # no AWing runs: untested at both
    text = convergence.schedule_markdown(list(rows.values()))
    assert "| FoWKAL beats the MSE baseline (whole-body) | +3.4 | -5.0" in text and "| **yes** |" in text
    only_quick = convergence.schedule_comparison(quick, [])
    assert all(r["converged"] is None and r["flipped"] is None for r in only_quick)


def test_converged_records_are_read_from_their_folder(tmp_path):
    assert convergence.converged_records(tmp_path) == []
    folder = tmp_path / convergence.ABLATION_FOLDER / "mse" / "seed0"
    folder.mkdir(parents=True)
    (folder / "run_record.json").write_text(json.dumps(_ap_record("mse", 0, 0.5)))
    assert [r["method"] for r in convergence.converged_records(tmp_path)] == ["mse"]
