"""The reproduction's answer in a few numbers, for the book's first page: computed from the ablation's run
records and the KAF study's runs by the same functions as the chapters that show them in full.

:func:`findings` returns a :class:`Findings`; every field is None where its records are missing.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from . import ablation, kaf_study
from .kaf_report import Study, runs_of
from .paper import CLAIMS
from .results import claims_tally, final_kal_lambda

__all__ = ["Findings", "findings", "findings_markdown", "limits_markdown", "HEADLINE_CLAIM"]

#: The paper's headline claim: FoWKAL beats the MSE baseline on the whole body.
HEADLINE_CLAIM = next(c for c in CLAIMS if (c[1], c[2], c[3]) == ("fowkal", "mse", "wholebody"))


@dataclass(frozen=True)
class Findings:
    """What the reproduction found (AP in points, seeds counted)."""

    records: int = 0
    methods: int = 0
    seeds: int = 0
    claims: int = 0
    reproduced: int | None = None
    contradicted: int | None = None
    inconclusive: int | None = None
    paper_inside: int | None = None
    headline: dict | None = None  # the headline claim's row: d, low, high, n, verdict, paper_delta
    kal_lambda: float | None = None  # KAL's final median λ over keypoints, median over seeds
    collapsed_fraction: float | None = None  # paper's loss, default noise: median share of keypoints with λ < 0.05
    best_variant_ap: float | None = None  # FoWKAL-normalised, default noise, whole-body AP (seed mean)
    paper_loss_ap: float | None = None  # FoWKAL with the paper's loss, the same runs' setting
    best_variant_seeds: int | None = None
    setting: dict | None = None  # what the records trained: epochs, crop and heatmap (w x h), OKS tolerance scale


def _setting(records: list[dict]) -> dict | None:
    """The records' schedule, geometry and OKS area scale, when every record agrees on them."""
    found = {(r["schedule"]["epochs"], tuple((r.get("geometry") or {}).get("input_size") or ()),
              tuple((r.get("geometry") or {}).get("heatmap_size") or ()),
              (r.get("metrics_by_area_scale") or {}).get("annotation_area_scale")) for r in records}
    if len(found) != 1:
        return None
    epochs, crop, heatmap, area_scale = found.pop()
    return dict(epochs=epochs, crop=crop, heatmap=heatmap, tolerance=None if area_scale is None else area_scale ** 0.5)


def findings(records: list[dict], study: Study | None = None) -> Findings:
    """The numbers the book opens with (see :class:`Findings`)."""
    found = {}
    if records:
        table = ablation.aggregate(records)
        rows = ablation.claims(table)
        tally = claims_tally(rows)
        found.update(records=len(records), methods=len(table), seeds=min(c["wholebody"]["n"] for c in table.values()),
                     claims=tally["claims"], paper_inside=tally["paper_inside"], **tally["verdicts"])
        headline = next(r for r in rows if (r["better"], r["worse"], r["part"]) == HEADLINE_CLAIM[1:4])
        found["headline"] = {k: headline[k] for k in ("d", "low", "high", "n", "verdict", "paper_delta")}
        kal = final_kal_lambda(records)
        found["kal_lambda"] = statistics.median(kal) if kal else None
        found["setting"] = _setting(records)
    if study is not None and study.runs:
        paper_runs = runs_of(study.runs, "default", None, "paper")
        if paper_runs:
            found["collapsed_fraction"] = statistics.median(kaf_study.fraction_below(r["kaf_log"])[-1] for r in paper_runs)
        by_variant = {(r["method"], r["variant"]): r for r in study.rows if r["noise"] == "default"}
        best, base = by_variant.get(("fowkal", kaf_study.BEST_VARIANT)), by_variant.get(("fowkal", "paper"))
        if best and base:
            found.update(best_variant_ap=best["ap"]["wholebody"], paper_loss_ap=base["ap"]["wholebody"],
                         best_variant_seeds=best["n"])
    return Findings(**found)


def _interval(row: dict) -> str:
    return ablation.interval_text(row)


def findings_markdown(f: Findings) -> str:
    """The findings as a short list, each line linking to the section that shows it in full (MyST); what is
    missing is said instead."""
    lines = []
    if f.records:
        lines.append(f"- **The paper's claims.** Of the {f.claims} differences the paper's ablation reports (Tables 2 and 3), "
                     f"{f.reproduced} are reproduced, {f.contradicted} contradicted and {f.inconclusive} inconclusive, "
                     f"judged on {f.seeds} paired seeds per method with Holm's correction; the paper's size of the "
                     f"effect lies inside our interval (at its claim's Holm level) for {f.paper_inside} of them ({{ref}}`claims`).")
        h = f.headline
        verdict = {ablation.REPRODUCED: "FoWKAL beats MSE, as the paper reports",
                   ablation.CONTRADICTED: "MSE beats FoWKAL, against the paper",
                   ablation.INCONCLUSIVE: "the two are not told apart once every claim's test is corrected for "
                                          "the others (Holm)"}[h["verdict"]]
        lines.append(f"- **The headline.** FoWKAL − MSE on the whole body: {_interval(h)} AP points over {h['n']} seeds "
                     f"(the paper: {h['paper_delta']:+.1f}); {verdict} ({{ref}}`table-2`).")
        if f.kal_lambda is not None:
            lines.append(f"- **KAL's learned factor** ends at a median λ of {f.kal_lambda:.2g} over keypoints: "
                         f"{100 * (1 - f.kal_lambda):.1f} % MSE ({{ref}}`controls`).")
    else:
        lines.append("- The ablation's run records are missing, so this build cannot state what they show ({ref}`claims`).")
    if f.collapsed_fraction is not None:
        state = ("collapses towards MSE" if f.collapsed_fraction >= kaf_study.COLLAPSED_FRACTION
                 else "does not collapse")
        lines.append(f"- **The keypoint-wise adaptive factor** {state} under the paper's loss: on "
                     f"the default noise a median {100 * f.collapsed_fraction:.0f} % of keypoints end with λ below "
                     f"{kaf_study.LOW_LAMBDA} ({{ref}}`kaf-collapse`; the study's verdict: {{ref}}`kaf-verdict`).")
    if f.best_variant_ap is not None:
        lines.append(f"- **Beyond the paper**, putting AWing and MSE on a common scale before mixing them "
                     f"(`{kaf_study.BEST_VARIANT}`) lifts FoWKAL from {f.paper_loss_ap:.1f} to {f.best_variant_ap:.1f} "
                     f"whole-body AP ({f.best_variant_seeds} seeds; {{ref}}`kaf-best-variant`).")
    return "\n".join(lines)


def limits_markdown(f: Findings) -> str:
    """What the numbers can and cannot say: the model, schedule and tolerance the records were made with."""
    s = f.setting
    made = ("a small HRNet on the CPU" if not s or not s["crop"] else
            f"a small HRNet ({s['crop'][1]} × {s['crop'][0]} crops, {s['heatmap'][1]} × {s['heatmap'][0]} heatmaps) "
            f"trained for {s['epochs']} epochs")
    tolerance = ("" if not s or s["tolerance"] is None else
                 f" with its tolerance widened {s['tolerance']:g} ×")
    return (f"**What these numbers can and cannot say.** They come from {made} on the embedded benchmark "
            "({doc}`benchmark`): cartoon people annotated with all 133 COCO-WholeBody keypoints, scored by "
            f"COCO-WholeBody's own evaluation{tolerance}. They are not COCO-WholeBody numbers and cannot be "
            "compared with the paper's APs: what they can show is whether each loss moves the parts in the "
            "direction the paper reports, on data whose label noise is known, with several paired seeds per method.")
