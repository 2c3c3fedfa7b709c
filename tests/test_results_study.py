"""The results chapter's summaries (fowkal.studies.results) and your run beside the committed records
(fowkal.studies.local_run), on synthetic run records (test inputs, never results)."""
from __future__ import annotations

import json
import math

import pytest

from fowkal.studies import ablation, local_run, results
from test_figures import synthetic_record, write_records


def _records(bases=(("mse", 0.40), ("fowkal", 0.50))):
    return [synthetic_record(m, s, base + 0.02 * s) for m, base in bases for s in range(3)]


def test_table1_and_table2_show_mean_and_sample_sd():
    records = _records()
    table1 = results.table1_markdown(records)
    # mse whole-body AP 40, 42, 44: 42.0 ± 2.0 (GT); detections are 1 point lower
    assert "| MSE\u00a0(a) | GT | 42.0\u00a0±\u00a02.0 |" in table1
    assert "| MSE\u00a0(a) | detected | 41.0\u00a0±\u00a02.0 |" in table1
    assert results.table1_markdown([synthetic_record("kal", 0, 0.4)]) == ""
    long = results.table2_long_markdown(ablation.aggregate(records))
    assert "| **(a) MSE** | paper | 58.2 |" in long and "| | ours | 42.0\u00a0±\u00a02.0 |" in long
    assert "| | ours | — | — | — | — | — | 0 |" in long  # awing: no records


def test_tolerance_table_and_geometry():
    records = _records()
    assert results.tolerance_table(records) == ""  # no record scored at several tolerances
    for r, ap in zip(records, (0.1, 0.2, 0.3, 0.5, 0.5, 0.5)):
        r["metrics_by_area_scale"] = {"annotation_area_scale": 4.0,
                                      "gt_boxes": {"1.0": {"wholebody": {"AP": ap}}, "4.0": {"wholebody": {"AP": 2 * ap}}}}
    table = results.tolerance_table(records)
    assert "| method | COCO's own | 2 × COCO's (tables) | seeds |" in table
    assert "| mse | 20.0 | 40.0 | 3 |" in table and "| fowkal | 50.0 | 100.0 | 3 |" in table
    records[0]["geometry"] = {"heatmap_size": [48, 64], "input_size": [96, 128], "sigma": 2.0}
    assert results.geometry_text(records) == ("64 × 48 heatmaps (σ = 2) from 128 × 96 crops: 1 record; "
                                              "not stated: 5 records")


def test_claims_tally_counts_verdicts_and_paper_inside():
    rows = [dict(verdict=ablation.REPRODUCED, paper_inside=True), dict(verdict=ablation.INCONCLUSIVE, paper_inside=False),
            dict(verdict=ablation.INCONCLUSIVE, paper_inside=None)]
    tally = results.claims_tally(rows)
    assert tally == {"claims": 3, "verdicts": {"reproduced": 1, "contradicted": 0, "inconclusive": 2},
                     "tested": 2, "paper_inside": 1}
    assert "**1 reproduced**, **0 contradicted**, **2 inconclusive**" in results.claims_tally_text(rows)


def test_written_tables_differences(tmp_path):
    table = ablation.aggregate(_records())
    assert results.written_tables_differences(table, tmp_path) is None
    (tmp_path / "tables.json").write_text(json.dumps({"table": table}))
    assert results.written_tables_differences(table, tmp_path) == []
    saved = json.loads(json.dumps(table))
    saved["mse"]["face"]["mean"] += 0.1
    saved["kal"] = {}
    (tmp_path / "tables.json").write_text(json.dumps({"table": saved}))
    assert results.written_tables_differences(table, tmp_path) == ["mse/face", "kal"]


def test_record_rows_and_where_they_are(tmp_path):
    write_records(tmp_path, _records())
    from fowkal.studies.records import run_records

    records, _ = run_records(tmp_path)
    rows = results.record_markdown(records)
    assert rows.index("| mse | 0 |") < rows.index("| fowkal | 0 |")  # the ablation's order, not the folder's
    assert "`abcdef01*`" in rows  # seed 1 is dirty
    assert "<method>/seed<seed>/run_record.json" in results.records_summary_text(records, tmp_path)
    assert "Records: " in results.record_location_text(records, tmp_path / "elsewhere")


def test_final_kal_lambda_reads_the_last_epoch(tmp_path):
    log = tmp_path / "kaf_log.json"
    log.write_text(json.dumps([{"kind": "epoch", "mean": [0.5, 0.5, 0.5]}, {"kind": "epoch", "mean": [0.1, 0.2, 0.9]}]))
    record = dict(synthetic_record("kal", 0, 0.4), files={"kaf_log": str(log)})
    assert results.final_kal_lambda([record, synthetic_record("mse", 0, 0.4)]) == [0.2]


# --------------------------------------------------------------------------- your run
def _local(tmp_path, method="fowkal", seed=0, ap=0.5, **changes):
    record = dict(synthetic_record(method, seed, ap), **changes)
    folder = tmp_path / "work_dirs" / "cpu" / f"{method}-seed{seed}"
    folder.mkdir(parents=True)
    (folder / "run_record.json").write_text(json.dumps(record))
    return folder.parent


def test_local_runs_finds_the_main_jobs_work_dirs(tmp_path):
    assert local_run.local_runs(tmp_path / "absent") == []
    found = local_run.local_runs(_local(tmp_path))
    assert [(r["method"], r["seed"]) for r in found] == [("fowkal", 0)]
    assert found[0]["_path"].endswith("fowkal-seed0/run_record.json")


def test_same_commit_and_machine_expects_identical_losses(tmp_path):
    committed = _records()
    for r in committed:
        r["git"] = {"commit": "abcdef0123456789", "dirty": False}
    mine = dict(committed[3])  # fowkal seed 0, the same record
    c = local_run.compare_run(mine, committed)
    assert (c.method, c.seed, c.seeds) == ("fowkal", 0, (0, 1, 2))
    assert c.same_config and c.same_commit and c.same_machine and c.identical_losses
    assert c.expectation == "identical" and c.as_expected
    whole = c.parts[0]
    assert whole.part == "wholebody" and whole.difference == 0 and whole.within_spread
    assert (whole.seeds_low, whole.seeds_high) == pytest.approx((50.0, 54.0))
    assert "and it does." in local_run.comparison_markdown(c)
    # the same commit and machine but another loss: reported as unexpected
    changed = dict(mine, losses=[dict(mine["losses"][0], loss=0.2)])
    c = local_run.compare_run(changed, committed)
    assert not c.identical_losses and c.first_different_epoch == 1 and not c.as_expected
    assert "**and it does not**" in local_run.comparison_markdown(c)


def test_another_machine_is_judged_by_the_seeds_range(tmp_path):
    committed = _records()
    mine = dict(synthetic_record("fowkal", 0, 0.53), machine={"cpu_count": 16, "platform": "Linux-other"})
    mine["metrics"]["gt_boxes"]["face"] = {"AP": 0.60, "AR": 0.6}  # outside 50-54
    c = local_run.compare_run(mine, committed)
    assert c.expectation == "spread" and not c.same_machine and not c.as_expected
    by_part = {p.part: p for p in c.parts}
    assert by_part["wholebody"].difference == pytest.approx(3.0) and by_part["wholebody"].within_spread
    assert not by_part["face"].within_spread
    text = local_run.comparison_markdown(c)
    assert "| face | 60.0 | 50.0 | +10.0 | 50.0–54.0 | **no** |" in text
    assert "It lies inside on 4 of the 5 parts." in text


def test_another_configuration_or_seed_is_not_comparable():
    committed = _records()
    other = dict(synthetic_record("fowkal", 0, 0.5))
    other["config"] = dict(other["config"], sha256="1" * 64)  # e.g. max_iters set
    assert local_run.compare_run(other, committed).expectation == "not comparable"
    new_seed = local_run.compare_run(synthetic_record("fowkal", 7, 0.5), committed)
    assert new_seed.committed_file is None and math.isnan(new_seed.parts[0].committed)
    assert "no committed record of this seed" in local_run.comparison_markdown(new_seed)
    with pytest.raises(ValueError, match="no committed record of method 'kal'"):
        local_run.compare_run(synthetic_record("kal", 0, 0.5), committed)


def test_the_written_tables_note(tmp_path):
    from fowkal.viz import pages

    assert "No written tables" in pages.written_tables_note(None, tmp_path / "tables.json")
    assert "disagrees with the records for mse/face" in pages.written_tables_note(["mse/face"], tmp_path / "tables.json")
    assert pages.written_tables_note([], tmp_path / "tables.json").endswith("agrees with the records (every mean and seed count).")
