"""The book's opening findings (fowkal.studies.findings), on synthetic records and runs (test inputs)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from fowkal.studies import findings, kaf_study
from fowkal.studies.paper import CLAIMS
from fowkal.studies.kaf_report import Study
from test_figures import synthetic_record
from test_kaf_study import _run

REPO = Path(__file__).resolve().parents[1]


def _records():
    return [synthetic_record(m, s, base + 0.02 * s) for m, base in (("mse", 0.40), ("fowkal", 0.50)) for s in range(3)]


def test_findings_from_records():
    found = findings.findings(_records())
    assert (found.records, found.methods, found.seeds, found.claims) == (6, 2, 3, len(CLAIMS))
    # fowkal - mse = +10 in every seed: the headline claim is reproduced
    assert found.headline["d"] == pytest.approx(10.0) and found.headline["verdict"] == "reproduced"
    assert found.reproduced == 1 and found.reproduced + found.contradicted + found.inconclusive == found.claims
    text = findings.findings_markdown(found)
    assert "FoWKAL − MSE on the whole body: +10.0 [+10.0, +10.0] AP points over 3 seeds (the paper: +3.4); " \
           "FoWKAL beats MSE, as the paper reports ({ref}`table-2`)" in text
    assert "{ref}`claims`" in text and "kaf-collapse" not in text  # no study runs: nothing said about them
    # the synthetic records state no geometry: the limits say only what is known
    assert "They come from a small HRNet on the CPU on the embedded benchmark" in findings.limits_markdown(found)


def test_findings_without_records_say_so():
    found = findings.findings([])
    assert found.records == 0 and found.headline is None
    assert "run records are missing" in findings.findings_markdown(found)


def test_the_setting_is_stated_only_when_every_record_agrees():
    records = _records()
    for r in records:
        r["geometry"] = {"input_size": [96, 128], "heatmap_size": [48, 64], "sigma": 2}
        r["metrics_by_area_scale"] = {"annotation_area_scale": 4.0}
    text = findings.limits_markdown(findings.findings(records))
    assert "(128 × 96 crops, 64 × 48 heatmaps) trained for 2 epochs" in text and "widened 2 ×" in text
    records[0]["schedule"] = dict(records[0]["schedule"], epochs=5)
    assert findings.findings(records).setting is None


def test_the_collapse_is_stated_from_the_study():
    low = {"body": 0.01, "foot": 0.02, "face": 0.03, "hand": 0.04}
    high = {"body": 0.3, "foot": 0.2, "face": 0.4, "hand": 0.5}
    for finals, words in ((low, "collapses towards MSE"), (high, "does not collapse")):
        runs = [_run("default", "paper", s, finals) for s in (0, 1)]
        study = Study(root=None, all_runs=runs, runs=runs, rows=kaf_study.summary(runs))
        found = findings.findings([], study)
        assert f"**The keypoint-wise adaptive factor** {words} under the paper's loss" in findings.findings_markdown(found)


def test_the_books_weights_file_is_the_one_mmposes_config_names():
    pytest.importorskip("mmpose")
    from fowkal.studies.performance import backbone_weights

    named = {m for page in (REPO / "book").glob("*.py") for m in re.findall(r"hrnet_w32[-\w]*\.pth", page.read_text())}
    assert named == {backbone_weights()[1]}
