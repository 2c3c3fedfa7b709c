"""What the KAF study's chapter says, computed from the study's runs: the injected noise, the collapse of λ,
the push, the pixel-scale test, the best variant against the ablation, and the verdict in words.

Every function takes the study's runs (:func:`fowkal.studies.kaf_study.load_runs`), its summary rows
(:func:`fowkal.studies.kaf_study.summary`) and, where it needs it, the measured noise
(``injected_noise.json``, :func:`load_measured_noise`) and returns Markdown; the measures and the verdict
rule are :mod:`fowkal.studies.kaf_study`'s.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from . import stats
from ..data import NOISE_SCALE
from ..runs.logs import push_part_means
from . import ablation, kaf_study
from .records import provenance, repo_relative

__all__ = ["Study", "load_study", "runs_of", "runs_with_push_log", "one_line", "noise_table_markdown", "collapse_text", "push_first_last_text",
           "face_highest_text", "push_response", "pixel_scale_text", "variant_delta_markdown", "paired_ap_text",
           "coco_text", "verdict_text", "best_variant", "records_markdown", "STATE_WORDS"]

STATE_WORDS = {"collapsed": "collapsed", "collapsing": "still collapsing", "stable": "not collapsed"}


def _s(n) -> str:
    return "s" if n != 1 else ""


@dataclass
class Study:
    """The study's runs under ``root`` (the folder holding ``results/cpu``'s ablation and ``kaf-study/``):
    ``all_runs``; ``runs``, those at the profile's 64 × 48 (the pixel-scale test's runs left out);
    ``measured``, the measured noise ({} if not measured); ``rows``, :func:`kaf_study.summary`."""

    root: Path
    all_runs: list = field(default_factory=list)
    runs: list = field(default_factory=list)
    measured: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)

    @property
    def measured_file(self) -> Path:
        return self.root / kaf_study.STUDY_DIR / "injected_noise.json"

    def runs_of(self, noise=None, method=None, variant=None) -> list[dict]:
        return runs_of(self.runs, noise, method, variant)


def load_study(root) -> Study:
    """The study under ``root`` (empty when the folder does not exist)."""
    root = Path(root)
    study = Study(root)
    study.all_runs = kaf_study.load_runs(root) if root.is_dir() else []
    study.runs = [r for r in study.all_runs if r["variant"] not in kaf_study.PIXEL_VARIANTS]
    if study.measured_file.is_file():
        study.measured = json.loads(study.measured_file.read_text())
    study.rows = kaf_study.summary(study.runs, study.measured or None)
    return study


def runs_of(runs, noise=None, method=None, variant=None) -> list[dict]:
    """The runs of one noise, method and KAF variant (None: any)."""
    return [r for r in runs if (noise is None or r["noise"] == noise) and (method is None or r["method"] == method)
            and (variant is None or r["variant"] == variant)]


def runs_with_push_log(runs) -> list[dict]:
    """The runs whose KAF log carries the data terms per keypoint (the push by epoch)."""
    return [r for r in runs if push_part_means(r["kaf_log"])]


def one_line(table: str) -> str:
    """A Markdown table whose "mean ± sd" cells do not wrap."""
    return table.replace(" ± ", "\u00a0±\u00a0")


def noise_table_markdown(measured: dict) -> str:
    """Each part's noise level under every noise variant, with the measured noise in heatmap pixels."""
    lines = ["| part | noise relative to | " + " | ".join(kaf_study.NOISE_VARIANTS) + " |",
             "|---|---|" + "---:|" * len(kaf_study.NOISE_VARIANTS)]
    for part in kaf_study.NOISE_PARTS:
        cells = []
        for noise in kaf_study.NOISE_VARIANTS:
            levels = kaf_study.noise_params(noise)
            cell = "OKS σ" if levels.get("noise_kind") == "oks" else f"{levels[f'noise_{part}']:.3f}"
            if noise in measured:
                cell += f" ({measured[noise][part]['heatmap_px']:.2f} px)"
            cells.append(cell)
        lines.append(f"| {part} | {NOISE_SCALE[part]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def collapse_text(runs) -> str:
    """At the end of training, per method (paper's loss, default noise): the share of keypoints below 0.05
    and the median λ."""
    finals = {m: [kaf_study.fraction_below(r["kaf_log"])[-1] for r in runs_of(runs, "default", m, "paper")]
              for m in ("kal", "fowkal")}
    lam_end = {m: statistics.median([statistics.median(r["kaf_log"][-1]["mean"]) for r in runs_of(runs, "default", m, "paper")])
               for m in ("kal", "fowkal") if runs_of(runs, "default", m, "paper")}
    return "At the end of training: " + "; ".join(
        f"**{m}**: {100 * statistics.median(v):.0f} % of keypoints below 0.05, median λ {lam_end[m]:.2g} "
        f"({len(v)} seed{_s(len(v))})" for m, v in finals.items() if v) + "."


def push_first_last_text(runs) -> str:
    """The push per part at the first and the last epoch (median over seeds)."""
    first_last = {}
    for r in runs:
        for part, series in push_part_means(r["kaf_log"]).items():
            first_last.setdefault((r["method"], part), []).append((series["push"][0], series["push"][-1]))
    return "Push per part, first → last epoch (median over seeds): " + "; ".join(
        f"{method} {part} {statistics.median([a for a, _ in v]):.3g} → {statistics.median([b for _, b in v]):.3g}"
        for (method, part), v in first_last.items()) + "."


def face_highest_text(rows) -> str:
    """In how many seeds the face has the highest final λ, per setting of the paper's loss."""
    return ("The paper's Fig. 5 reads the face as the part closest to AWing. Share of seeds in which the face has "
            "the highest final λ of the four parts: " + "; ".join(
                f"{r['method']} on {r['noise']} noise {r['face_highest'] * r['n']:.0f} of {r['n']}"
                for r in rows if r["variant"] == "paper") + ".")


def push_response(rows, measured) -> tuple[str, str] | None:
    """Does the noise move the push? The table of noise and push ratios from the default noise to the reverse
    and strong ones, and a sentence that sums it up; None without measured noise or pushes."""
    if not measured:
        return None
    lines = ["| default → | method | KAF variant | " + " | ".join(f"{p}: noise × / push ×" for p in kaf_study.NOISE_PARTS)
             + " |", "|---|---|---|" + "---|" * len(kaf_study.NOISE_PARTS)]
    agree, total, moves = 0, 0, []
    for other in ("reverse", "strong"):
        for method, variant in (("kal", "paper"), ("fowkal", "paper"), ("fowkal", "barrier")):
            found = kaf_study.push_response(rows, method, variant, measured, other=other) if other in measured else None
            if found is None:
                continue
            cells = []
            for part in kaf_study.NOISE_PARTS:
                f = found[part]
                cells.append(f"{f['noise_ratio']:.2f} / {f['push_ratio']:.2f}")
                agree += (f["noise_ratio"] > 1) == (f["push_ratio"] > 1)
                total += 1
                moves.append(abs(math.log(f["push_ratio"])))
            lines.append(f"| {other} | {method} | {variant} | " + " | ".join(cells) + " |")
    if not total:
        return None
    # the spread between parts, for the settings whose push is a loss difference (positive), not a share difference
    spreads = [max(r["part_push"].values()) / min(r["part_push"].values()) for r in rows
               if r["n_push"] and r["noise"] == "default" and min(r["part_push"].values()) > 0]
    spread = (f"; on the default benchmark the parts' mean pushes differ by a factor "
              f"{min(spreads):.1f}–{max(spreads):.1f} between the most and the least pushed part") if spreads else ""
    return ("\n".join(lines), f"The push moves in the noise's direction in {agree} of {total} "
            f"(part, setting) pairs, by at most a factor {math.exp(max(moves)):.2f}{spread}.")


def pixel_scale_text(all_runs) -> str | None:
    """The pixel-scale test: final λ per part at 64 × 48 and 32 × 24, and the paired change of the face's lead;
    None without runs at both sizes."""
    scale_test = kaf_study.pixel_scale(all_runs)
    if not (scale_test["64x48"]["seeds"] and scale_test["32x24"]["seeds"]):
        return None
    lines = ["| heatmap | seeds | " + " | ".join(f"final λ {p}" for p in kaf_study.NOISE_PARTS)
             + " | face highest | face λ / mean of the others |", "|---|---:|" + "---:|" * len(kaf_study.NOISE_PARTS) + "---:|---:|"]
    for geometry, found in scale_test.items():
        lines.append(f"| {geometry.replace('x', ' × ')} | {len(found['seeds'])} | "
                     + " | ".join(f"{found['final_lambda'][p]:.3g}" for p in kaf_study.NOISE_PARTS)
                     + f" | {found['face_highest']} of {len(found['seeds'])} | "
                     + ", ".join(f"{x:.2f}" for x in found["face_ratio"]) + " |")
    fine, coarse = (dict(zip(scale_test[g]["seeds"], scale_test[g]["face_ratio"])) for g in ("64x48", "32x24"))
    common = [seed for seed in coarse if seed in fine]
    text = "\n".join(lines) + "\n\n"
    if len(common) >= 2:
        change = stats.paired_interval([coarse[seed] - fine[seed] for seed in common])
        scale = statistics.fmean([fine[seed] for seed in common])  # the lead at 64x48, to state the change in %
        everywhere = all(scale_test[g]["face_highest"] == len(scale_test[g]["seeds"]) for g in scale_test)
        text += (f"Paired over seeds {', '.join(map(str, common))}, halving the heatmap changes the face's λ relative "
                 f"to the other parts by {change.mean:+.2f} [{change.low:+.2f}, {change.high:+.2f}] (95 % t interval), "
                 f"{100 * change.mean / scale:+.0f} % [{100 * change.low / scale:+.0f} %, {100 * change.high / scale:+.0f} %] "
                 "of its 64 × 48 value. "
                 + ("The face has the highest λ in every seed at both sizes: the coarse grid is not what puts the face "
                    "first, at most it changes by how much." if everywhere else
                    "The face does not lead in every seed at both sizes; see the table."))
    return text


def variant_delta_markdown(rows) -> str:
    """Each FoWKAL variant against FoWKAL with the paper's loss on the same noise (differences of seed means);
    "" when there is none."""
    base = {r["noise"]: r for r in rows if r["method"] == "fowkal" and r["variant"] == "paper"}
    lines = ["| noise | FoWKAL variant | seeds | " + " | ".join(f"Δ AP {p}" for p in ("wb", "body", "foot", "face", "hand"))
             + " |", "|---|---|---|" + "---:|" * 5]
    for r in rows:
        if r["method"] == "fowkal" and r["variant"] != "paper" and r["noise"] in base:
            d = [r["ap"][p] - base[r["noise"]]["ap"][p] for p in ("wholebody", "body", "foot", "face", "hand")]
            lines.append(f"| {r['noise']} | {r['variant']} | {r['n']} | " + " | ".join(f"{v:+.1f}" for v in d) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _final_lambda(v, rows) -> str:
    """'; final λ on the default noise: body …, foot …' of a verdict's setting (seed means)."""
    found = [r for r in rows if (r["noise"], r["method"], r["variant"]) == ("default", v["method"], v["variant"])]
    if not found:
        return ""
    return "; final λ on the default noise: " + ", ".join(f"{p} {found[0]['final_lambda'][p]:.2g}"
                                                          for p in kaf_study.NOISE_PARTS)


def paired_ap_text(runs, noise, better, worse, part="wholebody") -> str | None:
    """FoWKAL-``better`` − FoWKAL-``worse`` on ``noise``, paired by seed by the ablation's rule (None without
    enough common seeds)."""
    table = ablation.aggregate([dict(r["record"], method=variant) for variant in (better, worse)
                                for r in runs_of(runs, noise, "fowkal", variant)])
    found = ablation.paired_difference(table, better, worse, part)
    return None if found["reason"] else f"{ablation.interval_text(found)} ({found['n']} paired seeds)"


def coco_text(rows, found, measured, runs) -> str:
    """The verdict's first paragraph: what λ does on the realistic (coco) noise, setting by setting."""
    coco_rows = [r for r in rows if r["noise"] == "coco"]
    if not coco_rows or "coco" not in measured:
        return ("The coco noise has no runs or no measured noise yet, so the verdict cannot lean on it."
                if not coco_rows else "The coco noise's levels are not measured (`injected_noise.json`): its ρ is undefined.")
    noise = {p: measured["coco"][p]["relative"] for p in kaf_study.NOISE_PARTS}
    premise = sorted(kaf_study.NOISE_PARTS, key=noise.get)  # cleanest first: the premise's λ, highest first
    by_setting = {(v["method"], v["variant"]): v for v in found}
    lines = ["**On the coco noise**, the realistic one, the parts' label noise relative to their size is "
             + ", ".join(f"{p} {noise[p]:.3f}" for p in premise)
             + f" (measured), so the paper's premise predicts λ ordered {' > '.join(premise)}. What we find:"]
    for r in coco_rows:
        v = by_setting[(r["method"], r["variant"])]
        order = sorted(kaf_study.NOISE_PARTS, key=r["final_lambda"].get, reverse=True)
        lines.append(f"- **{r['method']}, {kaf_study.VARIANT_TITLES[r['variant']]}**: λ ordered {' > '.join(order)} "
                     "(final λ " + ", ".join(f"{p} {r['final_lambda'][p]:.2g}" for p in order) + f"); ρ = {r['rho']:+.2f}"
                     + ("" if math.isnan(r["rho_sd"]) else f" ± {r['rho_sd']:.2f}") + f" over {r['n']} seeds: "
                     f"**{v['coco_ordering']}**; λ {STATE_WORDS[v['state']]}.")
    variants = [r["variant"] for r in coco_rows if r["method"] == "fowkal" and r["variant"] != "paper"]
    for variant in variants:
        gain = paired_ap_text(runs, "coco", variant, "paper")
        if gain:
            lines.append(f"\nOn this noise FoWKAL-{variant} − FoWKAL with the paper's loss: {gain} whole-body AP points.")
    return "\n".join(lines)


def verdict_text(study: Study, ablation_records) -> str | None:
    """The study's verdict in words, from :func:`kaf_study.verdicts` (the rule) and the summary rows; MSE's AP
    from ``ablation_records``. None without study runs."""
    rows = study.rows
    found = kaf_study.verdicts(rows)
    if not found:
        return None
    sentences = []
    for v in found:
        state = {"collapsed": "collapses towards MSE",
                 "collapsing": f"is still falling towards MSE when training stops (mean λ × "
                               f"{v['last_epoch_ratio']:.2f} over the last epoch)",
                 "stable": "does not collapse"}[v["state"]]
        if v["ordering"] == "incomplete":
            sentences.append(f"- **{v['method']}, {kaf_study.VARIANT_TITLES[v['variant']]}**: λ {state}; its "
                             f"ordering is not judged ({v['reason']}); {v['seeds']} seed{_s(v['seeds'])}"
                             f"{_final_lambda(v, rows)}.")
            continue
        order = {"follows noise": "ranks the parts inversely to their noise on both benchmarks, as the paper reads it",
                 "against noise": "ranks the parts *with* their noise on both benchmarks (the opposite of the paper's reading)",
                 "unrelated": "does not rank the parts by their noise consistently (the order does not flip with the noise)"}
        seeds = f"{v['seeds']} seed{_s(v['seeds'])}" + (" (too few to judge)" if v["reason"] else "")
        sentences.append(f"- **{v['method']}, {kaf_study.VARIANT_TITLES[v['variant']]}**: λ {state} and "
                         f"{order[v['ordering']]}: ρ = {v['rho_default']:+.2f} (default), {v['rho_reverse']:+.2f} "
                         f"(reverse); {seeds}{_final_lambda(v, rows)}.")
    paper = [v for v in found if v["variant"] == "paper"]
    holds = [v for v in found if v["variant"] != "paper" and v["ordering"] == "follows noise" and v["state"] == "stable"]
    if paper and all(v["collapsed"] for v in paper):
        summary_line = ("**Under the paper's loss the KAF collapses**: λ goes to the MSE side for almost every "
                        "keypoint, as the analysis of §5.4 of the loss decisions predicts; whatever order remains between the parts is "
                        "that of a collapse, not an adaptation.")
    elif paper:
        summary_line = "Under the paper's loss the KAF does not collapse on every setting; see the list."
    else:
        summary_line = "The paper's loss has not been judged yet."
    if holds:
        summary_line += (" The paper's story (λ adapts to the noise, higher where labels are cleaner) holds with: "
                         + ", ".join(kaf_study.VARIANT_TITLES[v["variant"]] + f" ({v['method']})" for v in holds) + ".")
    else:
        summary_line += " No variant judged so far makes λ both stay away from 0 and follow the noise."
    paper_default = [r for r in rows if (r["noise"], r["method"], r["variant"]) == ("default", "fowkal", "paper")]
    others = [r for r in rows if (r["noise"], r["method"]) == ("default", "fowkal") and r["variant"] != "paper"]
    if paper_default and others:
        best = max(others, key=lambda r: r["ap"]["wholebody"])
        by_noise = [r["ap"]["wholebody"] for r in rows if (r["method"], r["variant"]) == ("fowkal", "paper")]
        mse = [ablation.record_ap(r, "wholebody") for r in ablation_records if r["method"] == "mse"]
        summary_line += (f" The KAF variants move AP far more than the noise does: on the default benchmark FoWKAL "
                         f"reaches {best['ap']['wholebody']:.1f} whole-body AP with "
                         f"{kaf_study.VARIANT_TITLES[best['variant']]} ({best['n']} seed{_s(best['n'])}), "
                         f"against {paper_default[0]['ap']['wholebody']:.1f} with the paper's loss"
                         + (f" and {statistics.fmean(mse):.1f} with plain MSE ({len(mse)} seeds, Table 2 (a) on the results page)" if mse else "")
                         + f"; across the {len(by_noise)} noises it ran on (coco included) the paper's loss stays within "
                         f"{min(by_noise):.1f}–{max(by_noise):.1f}.")
    strong = [r for r in rows if r["noise"] == "strong"]
    if strong:
        summary_line += (" On the *strong* noise, where the face is the noisiest part relative to its size and in "
                         "pixels, the face has the highest final λ of the four parts in " + "; ".join(
                             f"{r['face_highest'] * r['n']:.0f} of {r['n']} seeds ({r['method']}, "
                             f"{kaf_study.VARIANT_TITLES[r['variant']]})" for r in strong) + ".")
    with_push = [r for r in rows if r["n_push"]]
    if with_push:
        rhos = [r["rho_push"] for r in with_push if not math.isnan(r["rho_push"])]
        summary_line += (" What λ does follow is the data term's push $\\ell^{AW} - \\ell^{MSE}$: over the labelled "
                         f"keypoints ρ(λ, push) lies between {min(rhos):+.2f} and {max(rhos):+.2f} in the {len(rhos)} measured "
                         "settings (the table above).") if rhos else ""
        fits = [r for r in with_push if not math.isnan(r["barrier_error"])]
        if fits:
            summary_line += (" With the barrier, λ sits a median " + ", ".join(
                f"{100 * r['barrier_error']:.0f} %" for r in fits) + " (" + ", ".join(f"{r['noise']} noise" for r in fits)
                + ") from the optimum λ*(Δ) that the barrier and the measured push predict with nothing fitted.")
    return (coco_text(rows, found, study.measured, study.runs) + "\n\n**On the invented noises** (default, reverse, strong): "
            + summary_line + "\n\n" + "\n".join(sentences))


def best_variant(study: Study, ablation_records) -> tuple[str, str, str | None] | None:
    """FoWKAL-:data:`kaf_study.BEST_VARIANT` judged like a row of Table 2: the claims table, the whole-body
    sentence and (with more than one variant on the default noise) whether it is still the best; None
    without the ablation's records or the variant's runs."""
    if not (ablation_records and study.runs_of("default", "fowkal", kaf_study.BEST_VARIANT)):
        return None
    best_table = kaf_study.variant_table(ablation_records, study.runs)
    best_rows = ablation.claims(best_table, claim_list=kaf_study.variant_claims())
    table = one_line(ablation.claims_markdown(best_table, rows=best_rows).replace("| verdict |", "| verdict (reproduced = beats) |"))
    whole = {r["worse"]: r for r in best_rows if r["part"] == "wholebody"}
    n_common = min(r["n"] for r in whole.values())
    words = {ablation.REPRODUCED: "beats", ablation.CONTRADICTED: "loses to", ablation.INCONCLUSIVE: "is not told apart from"}
    sentence = (f"On the whole body FoWKAL-{kaf_study.BEST_VARIANT} " + "; ".join(
        f"{words[r['verdict']]} {other} by {ablation.interval_text(r)} AP points" for other, r in whole.items())
        + f" ({n_common} common seeds" + (f"; the judgement asks for {kaf_study.ABLATION_SEEDS}"
                                          if n_common < kaf_study.ABLATION_SEEDS else "") + ").")
    variants_here = {r["variant"]: r for r in study.rows if (r["noise"], r["method"]) == ("default", "fowkal")}
    ranking = None
    if len(variants_here) > 1:
        ranked = sorted(variants_here.values(), key=lambda r: -r["ap"]["wholebody"])
        ranking = ("At 64 × 48 the KAF variants on the default noise rank by whole-body AP (seed means, FoWKAL): "
                   + ", ".join(f"{kaf_study.VARIANT_TITLES[r['variant']]} {r['ap']['wholebody']:.1f} ({r['n']} seeds)" for r in ranked)
                   + ". " + (f"`{kaf_study.BEST_VARIANT}` is still the best." if ranked[0]["variant"] == kaf_study.BEST_VARIANT
                             else f"`{kaf_study.BEST_VARIANT}` is no longer the best: "
                                  f"{kaf_study.VARIANT_TITLES[ranked[0]['variant']]} scores higher here ({ranked[0]['n']} seeds) "
                                  "and is not judged against the ablation on this page."))
    return table, sentence, ranking


def records_markdown(study: Study) -> str:
    """Every study run: its record folder, seed, commit and wall time."""
    lines = ["| record folder | seed | commit | wall time |", "|---|---|---|---:|"]
    for r in study.all_runs:
        p = provenance(r["record"])
        folder = Path(r["record"]["_path"]).parent.relative_to(study.root)
        lines.append(f"| `{folder.parent}` | {r['seed']} | `{p['commit']}` | {p['wall_time_s']:.0f} s |")
    return (f"Folders relative to `{repo_relative(study.root)}`; each holds `run_record.json` (with what "
            "regenerates the run's config), the KAF and loss logs and (study runs) `study.json`.\n\n" + "\n".join(lines))
