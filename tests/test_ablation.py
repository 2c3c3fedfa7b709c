"""Aggregation of run records into Tables 2/3 and the claim verdicts, checked by hand."""
import json
import math

import pytest

from fowkal.studies import ablation, paper


def record(method, seed, wb, body=0.5, foot=0.5, face=0.5, hand=0.5):
    parts = dict(wholebody=wb, body=body, foot=foot, face=face, lefthand=hand, righthand=hand, hand=hand)
    return {"method": method, "seed": seed, "metrics": {"gt_boxes": {p: {"AP": v, "AR": v} for p, v in parts.items()}}}


def test_mean_std_and_verdicts_by_hand():
    records = [record("mse", s, wb, face=f) for s, (wb, f) in enumerate(((0.40, 0.3), (0.42, 0.5), (0.44, 0.7)))]
    records += [record("fowkal", s, wb, face=f) for s, (wb, f) in enumerate(((0.50, 0.4), (0.52, 0.5), (0.54, 0.7)))]
    records += [record("kal", s, wb) for s, wb in enumerate((0.60, 0.62, 0.64))]
    table = ablation.aggregate(records)
    cell = table["mse"]["wholebody"]
    assert cell["n"] == 3 and cell["mean"] == pytest.approx(42.0) and cell["std"] == pytest.approx(2.0)
    # fowkal vs mse: d = 10, SE = sqrt(4/3 + 4/3) = 1.633 → d − 2SE = 6.73 > 0
    v = ablation.verdict(table, "fowkal", "mse", "wholebody")
    assert v["d"] == pytest.approx(10.0) and v["se"] == pytest.approx(math.sqrt(8 / 3))
    assert v["verdict"] == ablation.REPRODUCED
    assert ablation.verdict(table, "fowkal", "kal", "wholebody")["verdict"] == ablation.NOT_REPRODUCED
    # face: d = 3.33, SE = sqrt(0.04·1e4/3 + 0.0233·1e4/3) → d − 2SE < 0 < d + 2SE
    assert ablation.verdict(table, "fowkal", "mse", "face")["verdict"] == ablation.INCONCLUSIVE
    assert ablation.verdict(table, "fowkal", "mse", "body")["verdict"] == ablation.NOT_REPRODUCED  # equal: ruled out
    assert ablation.verdict(table, "awing", "mse", "face")["verdict"] == ablation.INCONCLUSIVE  # no runs


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
