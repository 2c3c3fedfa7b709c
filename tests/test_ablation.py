"""Aggregation of run records into Tables 2/3 and the claim verdicts, checked by hand."""
import json
from pathlib import Path

import pytest

from fowkal.studies import ablation, paper

scipy_stats = pytest.importorskip("scipy.stats")


def record(method, seed, wb, body=0.5, foot=0.5, face=0.5, hand=0.5):
    parts = dict(wholebody=wb, body=body, foot=foot, face=face, lefthand=hand, righthand=hand, hand=hand)
    return {"method": method, "seed": seed, "metrics": {"gt_boxes": {p: {"AP": v, "AR": v} for p, v in parts.items()}}}


def test_mean_std_and_paired_verdicts_by_hand():
    records = [record("mse", s, wb, face=f) for s, (wb, f) in enumerate(((0.40, 0.3), (0.42, 0.5), (0.44, 0.7)))]
    records += [record("fowkal", s, wb, face=f) for s, (wb, f) in enumerate(((0.50, 0.4), (0.52, 0.5), (0.54, 0.7)))]
    records += [record("kal", s, wb) for s, wb in enumerate((0.60, 0.62, 0.64))]
    table = ablation.aggregate(records)
    cell = table["mse"]["wholebody"]
    assert cell["n"] == 3 and cell["mean"] == pytest.approx(42.0) and cell["std"] == pytest.approx(2.0)
    rows = {row["claim"]: row for row in ablation.claims(table)}
    # fowkal − mse per seed: 10, 10, 10: no spread, a certain sign; the paper's +3.4 lies outside
    baseline = rows["FoWKAL beats the MSE baseline (whole-body)"]
    assert (baseline["d"], baseline["low"], baseline["high"], baseline["n"]) == (
        pytest.approx(10.0), pytest.approx(10.0), pytest.approx(10.0), 3)
    assert baseline["verdict"] == ablation.REPRODUCED and baseline["paper_inside"] is False
    # fowkal − kal: −10 each seed, against the paper's direction
    assert rows["FWAHR helps KAL (whole-body)"]["verdict"] == ablation.CONTRADICTED
    # face: differences 10, 0, 0 → mean 3.33, SE 3.33, t = 1 with 2 df: two-sided p = 0.423; the exact
    # sign-flip p is 1 (flipping the zeros changes nothing, flipping the 10 keeps |mean|)
    face = rows["FWAHR helps KAL on face"]  # kal has no face spread: fowkal − kal = (−10, 0, 20)
    assert face["n"] == 3 and face["verdict"] == ablation.INCONCLUSIVE
    diff = ablation.paired_difference(table, "fowkal", "mse", "face")
    assert diff["d"] == pytest.approx(10 / 3) and diff["p"] == pytest.approx(0.4226497, rel=1e-6)
    assert diff["p_sign_flip"] == pytest.approx(1.0)
    # five claims have runs of both methods (kal-mse body, fowkal-kal x3, fowkal-mse): Holm adjusts over 5;
    # each interval is the t interval at its claim's Holm level, between 95 % and 1 - 0.05/5
    tested = [row for row in rows.values() if row["p"] is not None]
    assert len(tested) == 5 and all(row["p_holm"] >= row["p"] for row in tested)
    for row in tested:
        assert 0.95 - 1e-12 <= row["level"] <= 0.99 + 1e-12
        t = 0 if row["low"] == row["high"] else scipy_stats.t.ppf(0.5 + row["level"] / 2, row["n"] - 1)
        se = scipy_stats.sem(row["differences"]) if row["low"] != row["high"] else 0.0
        assert (row["low"], row["high"]) == (pytest.approx(row["d"] - t * se), pytest.approx(row["d"] + t * se))
        assert (row["verdict"] != ablation.INCONCLUSIVE) == (not row["low"] <= 0 <= row["high"])
        assert row["p_sign_flip_floor"] == pytest.approx(0.25)  # 3 seeds: 2 of 8 sign patterns
    # face: fowkal − kal = (−10, 0, 20): not decided, so its interval (Holm's last step) holds 0
    assert face["low"] < 0 < face["high"] and face["level"] == pytest.approx(1 - 0.05 / 3)
    # no runs: not tested, inconclusive, outside Holm's family
    awing = rows["AWing beats MSE on face"]
    assert awing["verdict"] == ablation.INCONCLUSIVE and awing["p_holm"] is None and awing["reason"] == "missing runs"


def test_only_common_seeds_are_paired():
    records = [record("mse", s, 0.40 + 0.01 * s) for s in (0, 1, 2)] + [record("fowkal", s, 0.50) for s in (1, 2, 5)]
    diff = ablation.paired_difference(ablation.aggregate(records), "fowkal", "mse", "wholebody")
    assert diff["seeds"] == [1, 2] and diff["d"] == pytest.approx(8.5)
    one = [record("mse", 0, 0.4), record("fowkal", 0, 0.5), record("fowkal", 1, 0.5)]
    row = ablation.paired_difference(ablation.aggregate(one), "fowkal", "mse", "wholebody")
    assert row["n"] == 1 and row["p"] is None and "fewer than 2 common seeds" in row["reason"]


def test_the_rule_is_stated_from_its_data():
    text = ablation.rule_text()
    assert "two-sided" in text and "Holm" in text and "0.05" in text and "between 95 % and 1 − 0.05/m" in text
    assert "Reproduced" in text and "Contradicted" in text and "Inconclusive" in text
    assert "sign-flip" in text and "0.0625 at n = 5" in text
    stricter = dict(ablation.RULE, alpha=0.01)
    assert "between 99 % and 1 − 0.01/m" in ablation.rule_text(stricter)


def test_markdown_tables_show_paper_and_ours():
    records = [record("mse", s, 0.4 + 0.02 * s) for s in range(3)] + [record("fowkal", 0, 0.5)]
    table = ablation.aggregate(records)
    md2 = ablation.table2_markdown(table)
    assert "| (a) | MSE | 58.2 | 42.0 ± 2.0 |" in md2
    assert "50.0 (n=1)" in md2
    md3 = ablation.table3_markdown(table)
    assert f"| KAL + FWAHR | {paper.TABLE3['fowkal']:.1f} | 50.0 (n=1) | 1 |" in md3
    claims = ablation.claims_markdown(table)
    assert claims.count("\n") == len(paper.CLAIMS) + 1
    assert "| FoWKAL beats the MSE baseline (whole-body) | +3.4 | +10.0 (n=1) | — | 1 | — | — | inconclusive | — |" in claims


def test_duplicate_seeds_and_missing_parts_are_errors(tmp_path):
    with pytest.raises(ValueError, match="duplicate seeds"):
        ablation.aggregate([record("mse", 0, 0.4), record("mse", 0, 0.5)])
    bad = {"method": "mse", "seed": 0, "metrics": {"gt_boxes": {"body": {"AP": 0.1}}}}
    with pytest.raises(KeyError, match="no 'wholebody' metrics"):
        ablation.aggregate([bad])
    with pytest.raises(FileNotFoundError):
        ablation.load_records(tmp_path / "nope")
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "run_record.json").write_text(json.dumps(record("awing", 1, 0.3)))
    assert [r["method"] for r in ablation.load_records(tmp_path)] == ["awing"]


def test_paper_claims_match_paper_tables():
    for _, better, worse, part, delta in paper.CLAIMS:
        table = paper.TABLE2 if better in paper.TABLE2 and worse in paper.TABLE2 else None
        if table is not None and part in table[better]:
            assert table[better][part] - table[worse][part] == pytest.approx(delta, abs=1e-9)
        else:
            assert paper.TABLE3[better] - paper.TABLE3[worse] == pytest.approx(delta, abs=1e-9)


def test_control_claims_are_their_own_holm_family_without_a_paper_delta():
    wobble = [0.004, -0.003, 0.001, -0.002, 0.0]
    other = [-0.002, 0.005, -0.004, 0.0, 0.002]  # KAL's own seed-to-seed wobble: no constant offset
    records = [record(m, s, wb + w[s]) for s in range(5)
               for m, wb, w in (("mse", 0.50, wobble), ("kal_lambda0", 0.47, wobble), ("kal", 0.47, other),
                                ("kal_lambda1", 0.40, wobble))]
    table = ablation.aggregate(records)
    rows = ablation.claims(table, claim_list=ablation.CONTROL_CLAIMS)
    assert len(rows) == len(ablation.CONTROL_QUESTIONS) * len(ablation.PARTS)
    by = {(r["better"], r["worse"], r["part"]): r for r in rows}
    # part normalisation alone costs 3 points here: contradicted; KAL = its lambda-0 control: inconclusive
    assert by[("kal_lambda0", "mse", "wholebody")]["verdict"] == ablation.CONTRADICTED
    assert by[("kal", "kal_lambda0", "wholebody")]["verdict"] == ablation.INCONCLUSIVE
    assert by[("kal", "kal_lambda1", "wholebody")]["verdict"] == ablation.REPRODUCED
    assert all(r["paper_delta"] is None and r["paper_inside"] is None for r in rows)
    # the same differences judged alone (a family of 1) give a smaller adjusted p than inside the family of 15
    alone = ablation.claims(table, claim_list=[ablation.CONTROL_CLAIMS[0]])[0]
    assert alone["p_holm"] <= by[("kal_lambda0", "mse", "wholebody")]["p_holm"]


def test_numerics_compare_pairs_seeds_and_judges_against_the_seed_spread():
    from fowkal.studies import numerics

    def record(method, seed, ap):
        parts = {part: {"AP": ap / 100} for part in ("wholebody", "body", "foot", "face", "hand")}
        return {"method": method, "seed": seed, "metrics": {"gt_boxes": parts, "detections": None}}

    committed = [record("fowkal", s, ap) for s, ap in enumerate([30.0, 34.0, 26.0, 31.0, 29.0])]
    close = [record("fowkal", s, ap) for s, ap in enumerate([30.5, 33.8, 26.3])]
    far = [record("fowkal", s, ap) for s, ap in enumerate([40.0, 44.5, 35.0])]
    rows = {r["part"]: r for r in numerics.compare(close, committed)}
    assert rows["wholebody"]["seeds"] == [0, 1, 2]
    assert rows["wholebody"]["differences"] == pytest.approx([0.5, -0.2, 0.3])
    assert rows["wholebody"]["kept"] is True
    assert {r["kept"] for r in numerics.compare(far, committed)} == {False}
    assert "| fowkal | wholebody | 3 |" in numerics.markdown(numerics.compare(close, committed))
    with pytest.raises(ValueError, match="no committed records"):
        numerics.compare([record("mse", 0, 30.0)], committed)
    assert numerics.summary(numerics.compare(close, committed)).startswith("5 of 5 method-part rows kept their AP")
    moved = numerics.summary(numerics.compare(far, committed))
    assert moved.startswith("0 of 5 method-part rows kept") and "fowkal foot (+10.00, +10.50, +9.00 against ±" in moved
    assert numerics.summary([]).startswith("No part can be judged")


def test_the_second_numerics_check_pairs_its_reruns_with_the_committed_records():
    """Its committed reruns are FoWKAL's seeds 0-2, drawn as the committed records were (DefaultSampler)."""
    import json

    from fowkal.studies import numerics

    reruns = sorted((numerics.REPO / numerics.EXP2_FOLDER).rglob("run_record.json"))
    assert [(r["method"], r["seed"]) for r in map(json.loads, map(Path.read_text, reruns))] == \
        list(numerics.EXP2_PLAN)
    for path in reruns:
        assert json.loads(path.read_text())["config"]["overrides"] == numerics.COMMITTED_SAMPLER
    rows = numerics.load_exp2()
    assert [(r["method"], r["part"], r["seeds"]) for r in rows] == [("fowkal", p, [0, 1, 2]) for p in
                                                                   ("wholebody", "body", "foot", "face", "hand")]


def test_the_compiled_network_check_pairs_its_reruns_with_the_committed_and_the_eager_reruns():
    """Its committed reruns are MSE's and FoWKAL's seeds 0-2, compiled and drawn as the committed records were, from
    a clean tree; they pair with the committed records and FoWKAL's with the second check's eager reruns."""
    import json

    from fowkal.studies import numerics

    reruns = sorted((numerics.REPO / numerics.COMPILED_FOLDER).rglob("run_record.json"))
    records = [json.loads(p.read_text()) for p in reruns]
    assert sorted((r["method"], r["seed"]) for r in records) == sorted(numerics.COMPILED_PLAN)
    for record in records:
        assert record["config"]["overrides"] == numerics.COMPILED_OPTIONS
        assert record["git"]["dirty"] is False
    parts = ("wholebody", "body", "foot", "face", "hand")
    rows = numerics.load_compiled()
    assert [(r["method"], r["part"], r["seeds"]) for r in rows] == \
        [(m, p, [0, 1, 2]) for m in ("fowkal", "mse") for p in parts]
    assert all(r["kept"] is not None and r["low"] <= r["mean"] <= r["high"] for r in rows)
    against_eager = numerics.load_compiled_against_exp2()
    assert [(r["method"], r["part"], r["seeds"]) for r in against_eager] == [("fowkal", p, [0, 1, 2]) for p in parts]


def test_the_compiled_network_check_trains_compiled_and_sampled_as_the_committed_records(monkeypatch, tmp_path):
    import json

    from fowkal.studies import numerics

    calls = []

    def fake_run(folder, work_dir, *, notebook, label, parameters, log):
        calls.append((Path(folder).relative_to(tmp_path).as_posix(), parameters))
        return 1

    monkeypatch.setattr(numerics, "run_train_notebook", fake_run)
    assert numerics.run_compiled_plan(out_dir=tmp_path, log=lambda m: None) == 6
    assert [c[0] for c in calls] == [f"{m}/seed{s}" for m in ("mse", "fowkal") for s in (0, 1, 2)]
    for _, parameters in calls:
        options = json.loads(parameters["cfg_options"])
        assert options["custom_hooks"] == [{"type": "CompileModelHook"}]
        assert options["train_dataloader.sampler.type"] == "DefaultSampler" and parameters["profile"] == "cpu"


def test_the_notebook_plan_checks_parameters_and_lists_the_missing_runs(tmp_path):
    (tmp_path / "mse" / "seed0").mkdir(parents=True)
    (tmp_path / "mse" / "seed0" / "run_record.json").write_text("{}")
    plan = ablation.notebook_plan(methods="mse,kal", seeds="0,1", records_dir=str(tmp_path))
    assert plan["methods"] == ["mse", "kal"] and plan["seeds"] == [0, 1]
    assert plan["missing"] == [("kal", 0), ("mse", 1), ("kal", 1)]
    with pytest.raises(ValueError, match="unknown method"):
        ablation.notebook_plan(methods="mse,focal")
    with pytest.raises(ValueError, match="parameter 'profile'"):
        ablation.notebook_plan(profile="gpu")
    with pytest.raises(ValueError, match="must be >= 0"):
        ablation.notebook_plan(epochs=-1)
