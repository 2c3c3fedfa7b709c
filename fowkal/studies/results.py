"""What the results chapter shows, computed from the ablation's run records: the records' geometry and
OKS tolerances, Tables 1-3 with the paper's numbers beside ours, the tally of the claims, KAL against
its controls, and where each record comes from.

Each function takes records (:func:`fowkal.studies.records.run_records`) or the aggregated table
(:func:`fowkal.studies.ablation.aggregate`) and returns a summary (dict) or its Markdown; the verdicts
themselves are :mod:`fowkal.studies.ablation`'s.
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from ..losses import METHODS
from . import ablation, paper
from .records import nbsp, provenance, repo_relative

__all__ = ["geometry_text", "tolerance_table", "paper_table1_markdown", "table1_markdown", "table2_long_markdown",
           "table3_markdown", "claims_tally", "claims_tally_text", "final_kal_lambda", "control_lines",
           "written_tables_differences", "record_markdown", "record_location_text", "timing_markdown",
           "records_summary_text", "TABLE1_METHODS"]

#: Our rows of Table 1: the paper's last two rows, the MSE baseline and FoWKAL.
TABLE1_METHODS = {"mse": "MSE (a)", "fowkal": "FoWKAL (f)"}
_VERB = {ablation.REPRODUCED: "beats", ablation.CONTRADICTED: "loses to", ablation.INCONCLUSIVE: "is not told apart from"}


def _mean(values) -> float:
    return statistics.fmean(values)


def _method_order(records) -> list[dict]:
    order = {method: i for i, method in enumerate(METHODS)}
    return sorted(records, key=lambda r: (order.get(r["method"], len(order)), r["seed"]))


def geometry_text(records) -> str:
    """The heatmap geometries the records state, with how many records each."""
    found = {}
    for r in records:
        g = r.get("geometry")
        key = "not stated" if not g else (f"{g['heatmap_size'][1]} × {g['heatmap_size'][0]} heatmaps (σ = {g['sigma']:g}) "
                                          f"from {g['input_size'][1]} × {g['input_size'][0]} crops")
        found[key] = found.get(key, 0) + 1
    return "; ".join(f"{key}: {n} record{'s' * (n != 1)}" for key, n in found.items())


def tolerance_table(records, boxes="gt_boxes") -> str:
    """Whole-body AP (%) of each method at every OKS tolerance the records were scored at ("" if none)."""
    by_method = {}
    for r in records:
        scales = (r.get("metrics_by_area_scale") or {}).get(boxes) or {}
        for scale, metrics in scales.items():
            by_method.setdefault(r["method"], {}).setdefault(scale, []).append(100 * metrics["wholebody"]["AP"])
    if not by_method:
        return ""
    scales = sorted({s for cells in by_method.values() for s in cells}, key=float)
    own = {(r.get("metrics_by_area_scale") or {}).get("annotation_area_scale") for r in records} - {None}
    label = {s: ("COCO's own" if float(s) == 1 else f"{float(s) ** 0.5:.3g} × COCO's")
             + (" (tables)" if float(s) in own else "") for s in scales}
    lines = ["| method | " + " | ".join(label[s] for s in scales) + " | seeds |", "|---|" + "---:|" * (len(scales) + 1)]
    for method in [m for m in METHODS if m in by_method]:
        cells = by_method[method]
        n = len(next(iter(cells.values())))
        lines.append(f"| {method} | " + " | ".join(f"{_mean(cells[s]):.1f}" if s in cells else "—" for s in scales)
                     + f" | {n} |")
    return "\n".join(lines)


def paper_table1_markdown() -> str:
    """The paper's Table 1, as the paper reports it."""
    head = "| method (paper's Table 1) | " + " | ".join(paper.TABLE1_COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(paper.TABLE1_COLUMNS)]
    for method, values in paper.TABLE1.items():
        cells = ["—" if v is None else f"{v:.1f}" for v in values]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _with_boxes(records, boxes):
    return [r for r in records if (r.get("metrics") or {}).get(boxes)]


def _cell(stats, method, part) -> str:
    c = stats.get(method, {}).get(part)
    if c is None:
        return "—"
    return nbsp(f"{c['mean']:.1f}" + (f" ± {c['std']:.1f}" if c["n"] > 1 else ""))


def table1_markdown(records) -> str:
    """Our rows of Table 1 (:data:`TABLE1_METHODS`), with detected and with ground-truth boxes ("" if the
    records hold neither method)."""
    columns = ["whole-body AP", "whole-body AR", "body AP", "foot AP", "face AP", "hand AP"]
    lines = ["| ours | boxes | " + " | ".join(columns) + " | n |", "|---|---|" + "---:|" * (len(columns) + 1)]
    for boxes, box_label in (("detections", "detected"), ("gt_boxes", "GT")):
        chosen = [r for r in _with_boxes(records, boxes) if r["method"] in TABLE1_METHODS]
        if not chosen:
            continue
        ap = ablation.aggregate(chosen, boxes=boxes, stat="AP")
        ar = ablation.aggregate(chosen, boxes=boxes, stat="AR")
        for method, label in TABLE1_METHODS.items():
            if method not in ap:
                continue
            cells = [_cell(ap, method, "wholebody"), _cell(ar, method, "wholebody")]
            cells += [_cell(ap, method, part) for part in ("body", "foot", "face", "hand")]
            lines.append(f"| {nbsp(label)} | {box_label} | " + " | ".join(cells)
                         + f" | {ap[method]['wholebody']['n']} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def table2_long_markdown(table: dict) -> str:
    """Table 2 with the paper's row directly above ours (fits a page's width)."""
    parts = ablation.PARTS
    lines = ["| row | | " + " | ".join(p.replace("wholebody", "whole-body") for p in parts) + " | seeds |",
             "|---|---|" + "---:|" * (len(parts) + 1)]
    for method, label in paper.TABLE2_ROWS.items():
        theirs = [f"{paper.TABLE2[method][p]:.1f}" for p in parts]
        ours = [_cell(table, method, p) for p in parts]
        n = table.get(method, {}).get("wholebody", {}).get("n", 0)
        lines.append(f"| **{label}** | paper | " + " | ".join(theirs) + " | |")
        lines.append("| | ours | " + " | ".join(ours) + f" | {n} |")
    return "\n".join(lines)


def table3_markdown(table: dict) -> str:
    """Table 3 (:func:`fowkal.studies.ablation.table3_markdown`) with cells that do not wrap."""
    return ablation.table3_markdown(table).replace(" ± ", nbsp(" ± "))


def claims_tally(rows: list[dict]) -> dict:
    """How many claims got each verdict, and for how many tested ones the paper's Δ lies in our interval."""
    verdicts = [row["verdict"] for row in rows]
    inside = [row["paper_inside"] for row in rows if row["paper_inside"] is not None]
    return {"claims": len(verdicts), "verdicts": {v: verdicts.count(v) for v in ablation.VERDICTS},
            "tested": len(inside), "paper_inside": sum(inside)}


def claims_tally_text(rows: list[dict]) -> str:
    """:func:`claims_tally` in a sentence."""
    tally = claims_tally(rows)
    return (f"Of the paper's {tally['claims']} claims, on the CPU benchmark: "
            + ", ".join(f"**{n} {v}**" for v, n in tally["verdicts"].items())
            + f". The paper's Δ lies inside our interval for {tally['paper_inside']} of the {tally['tested']} "
            "claims tested: an interval that holds it does not confirm the paper's size, only fails "
            "to rule it out; one that misses it rules the paper's size out at that level.")


def final_kal_lambda(records) -> list[float]:
    """Per KAL record with a KAF log: the median over keypoints of λ at the last epoch."""
    found = []
    for r in records:
        log = r["files"].get("kaf_log") if r["method"] == "kal" else None
        if log and Path(log).is_file():
            last = [e for e in json.loads(Path(log).read_text()) if e["kind"] == "epoch"][-1]
            found.append(statistics.median(last["mean"]))
    return found


def control_lines(control_rows: list[dict], records) -> list[str]:
    """KAL against its controls on the whole body, one line each, and where KAL's λ ends."""
    lines = [f"- {r['better']} {_VERB[r['verdict']]} {r['worse']} on the whole body: Δ = {ablation.interval_text(r)} "
             f"AP points ({r['n']} seeds)." for r in control_rows if r["part"] == "wholebody" and r["n"]]
    kal_lambda = final_kal_lambda(records)
    if kal_lambda:
        lines.append(f"- KAL's λ at the end of training: median over keypoints {statistics.median(kal_lambda):.3g} "
                     f"({len(kal_lambda)} seeds), i.e. KAL ends close to its λ = 0 control.")
    return lines


def written_tables_differences(table: dict, folder) -> list[str] | None:
    """The cells (``method/part``) where the ablation notebook's ``tables.json`` in ``folder`` disagrees with
    ``table`` (a mean or seed count), plus methods only it holds; None when it does not exist."""
    written = Path(folder) / "tables.json"
    if not written.is_file():
        return None
    saved = json.loads(written.read_text())["table"]
    differ = []
    for method, parts in table.items():
        for part, c in parts.items():
            other = saved.get(method, {}).get(part)
            if other is None or other.get("n") != c["n"] or not math.isclose(other["mean"], c["mean"], abs_tol=1e-9):
                differ.append(f"{method}/{part}")
    return differ + sorted(set(saved) - set(table))


def record_markdown(records) -> str:
    """One row per record: AP per part (ground-truth boxes), whole-body AP with detections, commit."""
    head = "| method | seed | whole-body | body | foot | face | hand | whole-body, det. | commit |"
    lines = [head, "|---|---:|" + "---:|" * 6 + "---|"]
    for r in _method_order(records):
        p = provenance(r)
        gt = [f"{ablation.record_ap(r, part):.1f}" for part in ablation.PARTS]
        det = "—"
        if _with_boxes([r], "detections"):
            det = f"{ablation.record_ap(r, 'wholebody', boxes='detections'):.1f}"
        commit = p["commit"].replace(" (dirty)", "*")
        lines.append(f"| {p['method']} | {p['seed']} | " + " | ".join(gt) + f" | {det} | `{commit}` |")
    return "\n".join(lines)


def record_location_text(records, folder) -> str:
    """Where the records are: the standard layout in a sentence, else every path."""
    folder = Path(folder)
    expected = [folder / r["method"] / f"seed{r['seed']}" / "run_record.json" for r in records]
    if all(Path(r["_path"]) == e for r, e in zip(records, expected)):
        return (f"The record of a method and seed is `{repo_relative(folder)}/<method>/seed<seed>/run_record.json`,"
                " next to its KAF and loss logs; the record stores what regenerates the run's config, and the"
                " config's sha256.")
    return "Records: " + "; ".join(f"`{repo_relative(r['_path'])}`" for r in records) + "."


def records_summary_text(records, folder) -> str:
    """How many records, from which commits and machines, and where they are."""
    commits = sorted({provenance(r)["commit"] for r in records})
    machines = sorted({provenance(r)["machine"] for r in records})
    return (f"{len(records)} records from {len(commits)} commit(s) ({', '.join(f'`{c}`' for c in commits)}), "
            f"run on: {'; '.join(machines)}. {record_location_text(records, folder)} A commit marked * was recorded "
            "as dirty: the checkout was not clean when the run started (records made at commit `200b7a35` and "
            "before also counted files git does not track, such as the ablation's own earlier records; "
            "later ones count only changes to tracked files).")


def timing_markdown(records) -> str:
    """When and how each run ran: creation time, wall time, epochs, device, versions."""
    lines = ["| method | seed | created (UTC) | wall time | epochs | device | versions |",
             "|:---|---:|:---|---:|---:|:---|:---|"]
    for r in _method_order(records):
        p = provenance(r)
        wall = "?" if p["wall_time_s"] is None else f"{p['wall_time_s'] / 60:.1f} min"
        v = r.get("versions", {})
        lines.append(f"| {p['method']} | {p['seed']} | {nbsp(p['created'].replace('T', ' ').rstrip('Z'))} | "
                     f"{nbsp(wall)} | {r['schedule']['epochs']} | {nbsp(p['device'])} | "
                     f"torch {v.get('torch', '?')}, mmpose {v.get('mmpose', '?')} |")
    return "\n".join(lines)
