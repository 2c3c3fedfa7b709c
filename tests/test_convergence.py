"""fowkal.studies.convergence: the plateau test on a record's learning curve, and the long runs' plan."""
from __future__ import annotations

import json

import pytest

from fowkal.losses import METHODS
from fowkal.runs.metrics import RESULT_KEYS
from pathlib import Path
from pathlib import Path as PathLike

from fowkal.configs.arguments import SCHEDULES
from fowkal.studies import convergence


def _write(folder, record: dict) -> None:
    """``record`` as a run record that loads: a committed record's fields (its schema, config, data) under it."""
    real = json.loads((convergence.REPO / "results" / "cpu" / "mse" / "seed0" / "run_record.json").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run_record.json").write_text(json.dumps(dict(real, **record)))


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
        _write(tmp_path / convergence.PLATEAU_ABLATION_FOLDER / name / "seed0",
               _record({4: 20.0, 8: 30.0}, 8, method="fowkal" if "fowkal" in name else name))
    assert sorted(p.name for p in convergence.load_plateaus(tmp_path)) == ["fowkal_normalised", "mse"]
    assert convergence.load_plateaus(tmp_path / "absent") == []


def test_the_plan_names_methods_of_the_ablation_and_the_papers_steps():
    names = [name for name, _, _ in convergence.PLATEAU_RUNS]
    assert len(set(names)) == len(names)
    assert all(method in METHODS for _, method, _ in convergence.PLATEAU_RUNS)
    assert convergence.PLATEAU_EPOCHS / convergence.PLATEAU_VAL_INTERVAL >= 6  # enough points to see a plateau


def test_the_converged_ablation_is_every_method_and_the_best_variant_with_the_plateau_runs_first():
    names = [name for name, _, _ in convergence.CONVERGED_RUNS]
    assert len(set(names)) == len(names) == len(METHODS) + 1
    assert set(names) == set(METHODS) | {"fowkal_normalised"}
    assert convergence.CONVERGED_RUNS[:len(convergence.PLATEAU_RUNS)] == convergence.PLATEAU_RUNS
    assert len(convergence.CONVERGED_SEEDS) >= 3 and convergence.PLATEAU_SEED in convergence.CONVERGED_SEEDS


def test_the_plateau_runs_get_two_seeds_before_the_other_methods_start():
    order = [(run[0], seed) for run, seed in convergence.training_order()]
    plateau = [name for name, _, _ in convergence.PLATEAU_RUNS]
    others = [name for name, _, _ in convergence.CONVERGED_RUNS if name not in plateau]
    assert order[:2 * len(plateau)] == [(n, s) for s in (0, 1) for n in plateau]
    assert order[2 * len(plateau):2 * len(plateau) + 2 * len(others)] == [(n, s) for s in (0, 1) for n in others]
    assert order[-len(convergence.CONVERGED_RUNS):] == [(n[0], 2) for n in convergence.CONVERGED_RUNS]
    assert sorted(order) == sorted((n[0], s) for n in convergence.CONVERGED_RUNS for s in convergence.CONVERGED_SEEDS)


def test_run_converged_trains_seed_by_seed_at_the_converged_schedule(monkeypatch, tmp_path):
    calls = []

    def fake_run(folder, work_dir, *, notebook, label, parameters, log):
        calls.append((Path(folder).relative_to(tmp_path).as_posix(), Path(work_dir).name, parameters))
        return 1

    monkeypatch.setattr(convergence, "run_train_notebook", fake_run)
    runs = (("mse", "mse", {}), ("fowkal_normalised", "fowkal", {"model.head.loss.term_normalisation": "batch"}))
    assert convergence.run_converged(runs=runs, seeds=(0, 1), out_dir=tmp_path, log=lambda m: None) == 4
    assert [c[0] for c in calls] == ["mse/seed0", "fowkal_normalised/seed0", "mse/seed1", "fowkal_normalised/seed1"]
    assert calls[1][1] == f"fowkal_normalised-e{SCHEDULES['converged'][0]}-seed0"
    assert all(c[2]["schedule"] == "converged" and c[2]["profile"] == "cpu" for c in calls)
    # every run compiles its network; a variant's own overrides come with it
    compiled = convergence.CONVERGED_OVERRIDES
    assert json.loads(calls[1][2]["cfg_options"]) == {**compiled, "model.head.loss.term_normalisation": "batch"}
    assert json.loads(calls[0][2]["cfg_options"]) == compiled and calls[0][2]["method"] == "mse"
    calls.clear()
    convergence.run_converged(runs=runs[:1], seeds=(0,), out_dir=tmp_path, compiled=False, log=lambda m: None)
    assert calls[0][2]["cfg_options"] == ""


def test_the_plateau_search_and_the_length_check_train_into_their_own_folders(monkeypatch, tmp_path):
    calls = []

    def fake_run(folder, work_dir, *, notebook, label, parameters, log):
        calls.append((Path(folder).as_posix(), Path(work_dir).as_posix(), {k: parameters.get(k) for k in
                                                                          ("schedule", "epochs", "val_interval")}))
        assert "CompileModelHook" not in parameters["cfg_options"], "the plateau search and length check ran eager"
        return 1

    monkeypatch.setattr(convergence, "run_train_notebook", fake_run)
    assert convergence.run_length_check(log=lambda m: None) == len(convergence.LENGTH_CHECK_RUNS)
    name = convergence.LENGTH_CHECK_RUNS[0][0]
    epochs = SCHEDULES["converged"][0]
    assert epochs >= 1.5 * convergence.PLATEAU_EPOCHS
    assert calls[0] == (f"{convergence.LONG_FOLDER}/{name}/seed0", f"work_dirs/convergence/long/{name}-e{epochs}-seed0",
                        {"schedule": "converged", "epochs": None, "val_interval": None})
    calls.clear()
    assert convergence.run_plateau(log=lambda m: None) == len(convergence.PLATEAU_RUNS)
    assert calls[0] == (f"{convergence.PLATEAU_FOLDER}/mse/seed0", "work_dirs/convergence/plateau/mse-e40-seed0",
                        {"schedule": None, "epochs": 40, "val_interval": 4})
    with pytest.raises(ValueError, match="give both epochs and val_interval or neither"):
        convergence.run_converged(epochs=12, log=lambda m: None)


def test_length_check_compares_the_final_ap_of_the_same_run_at_both_lengths(tmp_path):
    short = dict(_record({20: 60.0, 40: 70.0}, 40, method="heuristic_fwahr"))
    long = dict(_record({20: 60.0, 40: 70.5, 60: 72.0}, 60, method="heuristic_fwahr"))
    _write(tmp_path / convergence.PLATEAU_ABLATION_FOLDER / "heuristic_fwahr" / "seed0", short)
    _write(tmp_path / convergence.LONG_ABLATION_FOLDER / "heuristic_fwahr" / "seed0", long)
    _write(tmp_path / convergence.LONG_ABLATION_FOLDER / "mse" / "seed0", _record({20: 1.0, 60: 2.0}, 60))
    rows = convergence.length_check(convergence.load_plateau_records(tmp_path)[0],
                                    convergence.load_long_records(tmp_path))
    assert len(rows) == 1 and rows[0]["name"] == "heuristic_fwahr" and rows[0]["epochs"] == (40, 60)
    assert rows[0]["change"]["wholebody"] == pytest.approx(2.0) and not rows[0]["flat"]
    assert rows[0]["short"]["wholebody"] == pytest.approx(70.0) and rows[0]["long"]["wholebody"] == pytest.approx(72.0)
    assert "| heuristic_fwahr (seed 0) | wholebody | 70.0 (40 ep.) | 72.0 (60 ep.) | +2.0 | no |" in \
        convergence.length_markdown(rows)
    settled = dict(long, curve=long["curve"][:2] + [dict(long["curve"][2], AP={k: 0.705 for k in RESULT_KEYS})])
    assert convergence.length_check([dict(short, seed=0)], [dict(settled, seed=0)])[0]["flat"]
    with pytest.raises(ValueError, match="the long record trained 40 epochs"):
        convergence.length_check([dict(short, seed=0)], [dict(short, seed=0)])


def test_converged_and_plateau_records_are_named_after_their_folders(tmp_path):
    for folder in (convergence.ABLATION_FOLDER, convergence.PLATEAU_ABLATION_FOLDER):
        for name, seed in (("mse", 0), ("mse", 1), ("fowkal_normalised", 0), ("awing", 0)):
            record = dict(_record({4: 20.0, 8: 30.0}, 8, method="fowkal" if "fowkal" in name else name), seed=seed)
            _write(tmp_path / folder / name / f"seed{seed}", record)
    named = sorted((r["method"], r["seed"]) for r in convergence.converged_records(tmp_path))
    assert named == [("awing", 0), ("fowkal_normalised", 0), ("mse", 0), ("mse", 1)]
    records, names = convergence.load_plateau_records(tmp_path)
    assert names == ["mse", "fowkal_normalised"]  # the plateau runs' order; awing and seed 1 are not long runs
    assert all(PathLike(r["_path"]).parts[-4] == "plateau" for r in records)
    assert convergence.converged_records(tmp_path / "absent") == []


def test_trained_records_come_from_one_schedule_the_ablation_once_it_covers_the_plateau_search(tmp_path):
    def write(folder, name, ap):
        _write(tmp_path / folder / name / "seed0", dict(_record({4: ap, 8: ap}, 8, method=name), seed=0))

    write(convergence.PLATEAU_ABLATION_FOLDER, "mse", 31.0)
    write(convergence.PLATEAU_ABLATION_FOLDER, "kal", 32.0)
    write(convergence.ABLATION_FOLDER, "mse", 30.0)

    def trained():
        return {r["method"]: r["curve"][0]["AP"]["wholebody"] for r in convergence.trained_records(tmp_path)}

    assert trained() == {"mse": 0.31, "kal": 0.32}  # the ablation lacks kal: the plateau search's, both
    write(convergence.ABLATION_FOLDER, "kal", 33.0)
    assert trained() == {"mse": 0.30, "kal": 0.33}
    assert [r["method"] for r in convergence.converged_records(tmp_path)] == ["kal", "mse"]


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
    stepped = learning_curves(convergence.curve_table(records), steps=[3]).axes[0]
    assert [list(l.get_xdata()) for l in stepped.get_lines()[1:]] == [[3, 3]]  # the learning-rate step
    with pytest.raises(ValueError, match="no learning curve"):
        learning_curves(convergence.curve_table([]))
    with pytest.raises(ValueError, match="unknown part"):
        learning_curves(convergence.curve_table(records), part="toe")


def test_plateau_markdown_lists_each_run():
    text = convergence.plateau_markdown([convergence.plateau(_record({4: 20.0, 8: 30.0, 12: 30.5}, 12))])
    # 12 epochs step at 10: the full-rate phase is 4 and 8 (its last third compares 8 with 4), one point after it
    assert "| mse | 4: 20.0 → 8: 30.0 → 12: 30.5 | +0.5 | yes | +10.0 (to epoch 10) | +0.5 | — | 12 |" in text


def test_a_staircase_is_read_phase_by_phase():
    """Steps at 32 and 38 of 40: the full-rate phase's last third is 24..32, the steps add the rest."""
    curve = {4: 34.7, 8: 52.1, 12: 59.1, 16: 60.7, 20: 64.6, 24: 66.1, 28: 67.1, 32: 67.2, 36: 69.4, 40: 69.6}
    p = convergence.plateau(_record(curve, 40))
    assert p.step_epoch == 32 and p.before_step_change == pytest.approx(1.1)  # 66.1 at 24 -> 67.2 at 32
    assert p.step_gain == pytest.approx(2.4) and p.final_change == pytest.approx(0.2)
    assert p.last_third_change == pytest.approx(2.5) and not p.flat  # 67.1 at 28 -> 69.6: mostly the steps


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
    _write(tmp_path / convergence.ABLATION_FOLDER / "mse" / "seed0", _ap_record("mse", 0, 0.5))
    assert [r["method"] for r in convergence.converged_records(tmp_path)] == ["mse"]


def test_the_kaf_at_both_schedules_reads_the_same_logs_the_study_reads():
    """The committed 3-epoch FoWKAL records, standing in for converged ones: the same rows as the study's own
    summary of them, the best variant's folder read as FoWKAL with its KAF variant, and MSE left out."""
    from fowkal.studies import kaf_study
    from fowkal.studies.records import run_records

    records = [r for r in run_records(convergence.REPO / "results" / "cpu")[0] if r["method"] in ("fowkal", "mse")]
    runs = convergence.kaf_runs(records)
    assert {r["method"] for r in runs} == {"fowkal"} and all(r["variant"] == "paper" for r in runs)
    as_variant = convergence.kaf_runs([dict(r, method="fowkal_normalised") for r in records if r["method"] == "fowkal"][:1])
    assert [(r["method"], r["variant"]) for r in as_variant] == [("fowkal", kaf_study.BEST_VARIANT)]
    rows = convergence.kaf_at_both_schedules(runs, runs)
    (row,) = rows
    assert row["quick"]["final_lambda"] == row["converged"]["final_lambda"] and row["converged"]["n"] == len(runs)
    assert row["converged"]["final_lambda"] == kaf_study.summary(runs)[0]["final_lambda"]
    assert row["converged"]["state"] in ("collapsed", "collapsing", "stable")
    text = convergence.kaf_schedule_markdown(rows)
    assert text.count("| fowkal | paper |") == 2 and "| 3 epochs |" in text and "| converged |" in text
    assert convergence.kaf_at_both_schedules([], runs)[0]["quick"] is None


def test_the_converged_records_lead_once_every_method_has_the_seeds():
    quick = [_ap_record(m, s, 0.3) for s in range(5) for m in METHODS]
    converged = [_ap_record(m, s, 0.6) for s in range(2) for m in METHODS] + [_ap_record("fowkal_normalised", 0, 0.7)]
    records, schedule = convergence.leading_records(quick, converged)
    assert records is quick and "3 epochs" in schedule  # two seeds: not yet
    converged += [_ap_record(m, 2, 0.6) for m in METHODS if m != "kal"]
    assert not convergence.converged_complete(converged)  # one method lacks seed 2
    converged.append(_ap_record("kal", 2, 0.6))
    records, schedule = convergence.leading_records(quick, converged)
    assert f"{SCHEDULES['converged'][0]} epochs" in schedule and len(records) == 3 * len(METHODS)  # the best variant is not a table row


def test_seeds_to_decide_follows_the_t_interval_at_holms_strictest_level():
    from scipy import stats

    rows = [dict(claim="clear", differences=[4.0, 5.0, 4.5, 5.5]),
            dict(claim="noisy", differences=[5.0, -4.0, 6.0, -3.0]),
            dict(claim="untested", differences=[1.0])]
    clear, noisy = convergence.seeds_to_decide(rows)
    assert (clear["claim"], clear["n"], noisy["claim"]) == ("clear", 4, "noisy")  # one seed: not a claim yet
    assert clear["d"] == pytest.approx(4.75) and clear["sd"] == pytest.approx(0.6455, abs=1e-4)
    level = 1 - 0.05 / 2  # two tested claims
    k = clear["decide"]
    assert 4.75 > stats.t.ppf(0.5 + level / 2, k - 1) * clear["sd"] / k ** 0.5  # decided at k seeds
    assert 4.75 <= stats.t.ppf(0.5 + level / 2, k - 2) * clear["sd"] / (k - 1) ** 0.5  # not at k - 1
    assert noisy["decide"] is None  # d = 1 against sd ~ 5.4: beyond 30 seeds
    assert "| noisy | 4 | +1.0 |" in convergence.seeds_markdown([noisy]) and "more than 30" in convergence.seeds_markdown([noisy])


def test_eager_runs_are_paired_with_the_compiled_run_of_the_same_name_and_seed(tmp_path):
    assert convergence.eager_comparison(convergence.eager_pairs(tmp_path)) == []
    _write(tmp_path / convergence.EAGER_ABLATION_FOLDER / "mse" / "seed0", _ap_record("mse", 0, 0.70))
    assert convergence.eager_comparison(convergence.eager_pairs(tmp_path)) == []  # no compiled twin yet
    _write(tmp_path / convergence.ABLATION_FOLDER / "mse" / "seed1", _ap_record("mse", 1, 0.73))
    assert convergence.eager_comparison(convergence.eager_pairs(tmp_path)) == []  # another seed is no twin
    _write(tmp_path / convergence.ABLATION_FOLDER / "mse" / "seed0", _ap_record("mse", 0, 0.72))
    rows = {r["part"]: r for r in convergence.eager_comparison(convergence.eager_pairs(tmp_path))}
    assert rows["wholebody"]["eager"] == pytest.approx(70.0) and rows["wholebody"]["change"] == pytest.approx(2.0)
    assert rows["foot"]["change"] == pytest.approx(0.0)
    assert "| mse | 0 | wholebody | 70.0 | 72.0 | +2.0 |" in convergence.eager_markdown(list(rows.values()))
    assert convergence.eager_curve_table(convergence.eager_pairs(tmp_path)) is None  # these records carry no curve
    for folder, foot in ((convergence.EAGER_ABLATION_FOLDER, (0.5, 0.8)), (convergence.ABLATION_FOLDER, (0.15, 0.14))):
        record = _ap_record("mse", 0, 0.7)
        record["curve"] = [dict(epoch=e, iter=10 * e, AP=dict(foot=ap, wholebody=0.6)) for e, ap in zip((4, 8), foot)]
        _write(tmp_path / folder / "mse" / "seed0", record)
    curves = convergence.eager_curve_table(convergence.eager_pairs(tmp_path))
    assert list(curves.columns) == ["mse seed 0, eager", "mse seed 0, compiled"] and list(curves.index) == [4, 8]
    assert curves.loc[8].tolist() == pytest.approx([80.0, 14.0])
    assert "| 8 | 80.0 | 14.0 |" in convergence.curve_markdown(curves)


def test_a_parts_ap_by_method_and_seed():
    records = [_ap_record("mse", 0, 0.5), _ap_record("mse", 2, 0.6), _ap_record("kal", 1, 0.7)]
    text = convergence.part_by_seed_markdown(records, "wholebody")
    assert "| method | seed 0 | seed 1 | seed 2 |" in text
    assert "| mse | 50.0 | — | 60.0 |" in text and "| kal | — | 70.0 | — |" in text
