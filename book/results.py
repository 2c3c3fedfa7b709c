# ---
# jupyter:
#   fowkal:
#     reads_data: true
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: fowkal
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Results: Tables 1–3, the paper's and ours
#
# The paper's numbers are shown as the paper reports them: COCO-WholeBody v1.0 validation, HRNet-w32 +
# DARK at 256 × 192, 210 epochs on 8 GPUs. Ours come from the CPU reproduction: a small HRNet on the
# embedded benchmark ({doc}`benchmark`), every method with several paired seeds. Different benchmarks and
# models: **compare differences between methods, not absolute values**. The CPU profile and how its AP is
# scored: {ref}`cpu-geometry`. Every number of ours is computed here from the run records ({doc}`run_records`
# lists them with their commits and machines).

# %% tags=["hide-input"]
import matplotlib.pyplot as plt

from fowkal.studies import ablation, convergence, local_run, results
from fowkal.viz import pages, style
from fowkal.viz.curves import learning_curves
from fowkal.viz.results import claims_figure

style.use_style()

# %%
RUNS = pages.runs_dir()
quick_records, missing = pages.run_records(RUNS)
converged_records = convergence.converged_records(RUNS.parent)
# the tables and claims: the converged ablation once every method has its seeds there, the 3-epoch one until then
records, schedule = convergence.leading_records(quick_records, converged_records)
table = ablation.aggregate(records) if records else {}

# %% tags=["hide-input"]
pages.show(f"Run records: {len(quick_records)} of the 3-epoch ablation (`{pages.repo_relative(RUNS)}`), "
           f"{len(converged_records)} at the converged schedule (`{convergence.FOLDER}`). The tables and claims "
           f"below come from the **{schedule}**." if records
           else pages.missing_records(missing, "This page shows the paper's numbers only."))

# %% [markdown]
# ## Table 1: comparison with other methods
#
# **As reported in the paper** (COCO-WholeBody v1.0 val, AP and AR in %, detections of AP 56; "—": not
# reported), then **ours**, not comparable with those rows: the MSE baseline (Table 2's row a) and FoWKAL
# (row f) with the benchmark's simulated detections ("detected"), as Table 1 does, and with ground-truth
# boxes ("GT"), as the ablation tables do; mean ± sample standard deviation over n seeds.

# %% tags=["hide-input"]
ours1 = results.table1_markdown(records) if records else ""
pages.show(results.paper_table1_markdown(), pages.wide_table(ours1) if ours1 else records and pages.admonition(
    "No MSE or FoWKAL runs", "The records hold neither method.", kind="note"))

# %% [markdown]
# (table-2)=
# ## Tables 2 and 3: the ablation of the losses, WAHR against FWAHR
#
# AP (%) per part with ground-truth boxes: for each row of the paper's Table 2, the paper's numbers, then
# ours (mean ± sample standard deviation over seeds). Table 3: whole-body AP, the paper's beside ours.

# %% tags=["hide-input"]
pages.show(*((pages.wide_table(results.table2_long_markdown(table)), results.table3_markdown(table)) if records
             else (pages.missing_records(missing, "Our columns of Tables 2 and 3 are not shown.", first=False),)))

# %% [markdown]
# (claims)=
# ## The paper's claims, checked
#
# Each claim is a difference between two rows of Tables 2 or 3 on one part. The verdict rule is data in
# `fowkal.studies.ablation.RULE`; in words:

# %% tags=["hide-input"]
pages.show("> " + ablation.rule_text())
claim_rows = ablation.claims(table) if records else []
if records:
    pages.show(ablation.claims_markdown(table, rows=claim_rows, keep_together=pages.nbsp))
    fig = claims_figure(claim_rows)
    if pages.writes_figures():
        style.save_figure(fig, "claims")
    plt.show()
    pages.show(results.claims_tally_text(claim_rows))
else:
    pages.show(pages.missing_records(missing, "No claim can be checked.", first=False))

# %% [markdown]
# (schedules)=
# ## The claims after 3 epochs and at convergence
#
# The same claims, judged by the same rule on the ablation trained to convergence
# (`results/convergence/ablation/`, {doc}`convergence`), beside the 3-epoch verdicts; "flipped" marks a
# verdict that changed.

# %% tags=["hide-input"]
pages.show(convergence.schedule_markdown(convergence.schedule_comparison(quick_records, converged_records))
           if converged_records else pages.missing(
               "No converged ablation yet", f"`{pages.repo_relative(RUNS.parent / convergence.ABLATION_FOLDER)}/` "
               "holds no record: every verdict on this page is the 3-epoch one.", kind="note"))

# %% [markdown]
# (controls)=
# ## KAL against its controls
#
# KAL's loss (Eq. 8) differs from MSE twice: it sums four *part means* instead of one mean over all
# keypoints (the face's share of the gradient down, the feet's up), and it mixes AWing into each keypoint
# with the learned λ. `kal_lambda0` (λ fixed at 0: part-normalised MSE) and `kal_lambda1` (λ fixed at 1:
# part-normalised AWing), both without a KAF head, separate the two; `fowkal_lambda0`, FoWKAL's loss with λ
# fixed at 0, separates FWAHR from the learned factor. The paper has no such rows, so no paper Δ; the
# same rule judges these questions as one Holm family ("reproduced" here means "beats").

# %% tags=["hide-input"]
if records:
    control_rows = ablation.claims(table, claim_list=ablation.CONTROL_CLAIMS)
    pages.show(ablation.claims_markdown(table, rows=control_rows, keep_together=pages.nbsp)
               .replace("| verdict |", "| verdict (reproduced = beats) |"),
               "\n".join(results.control_lines(control_rows, records)))
else:
    pages.show(pages.missing_records(missing, "The controls are not compared.", first=False))

# %% [markdown]
# (your-run)=
# ## Your run beside the committed records
#
# `make` trains FoWKAL (seed 0; `make METHOD=kal SEED=1` another) and then builds this book, which sets
# that run beside the committed record of the same method and seed. The same configuration, commit and
# machine train the same run loss for loss; on another commit or machine the arithmetic differs in its last
# bits and the run ends like another seed would, within or near the committed seeds' range. The table says
# which case your run is in and whether it behaved so.

# %%
mine = local_run.local_runs()
comparisons = [local_run.compare_run(run, quick_records) for run in mine  # the main job trains the quick profile
               if any(r["method"] == run["method"] for r in quick_records)]

# %% tags=["hide-input"]
pages.show(*map(local_run.comparison_markdown, comparisons), not comparisons and pages.admonition(
    "No run of yours yet", f"`{pages.repo_relative(local_run.LOCAL_RUNS_DIR)}` holds no run record of a method with "
    "committed records. To make one (one training run on the CPU, then this book again):\n\n```bash\nmake\n```",
    kind="note"))
if comparisons and any(run.get("curve") for run in mine):  # AP after every epoch, the loss every 20 iterations
    pages.show_figure(learning_curves(convergence.curve_table(mine), convergence.loss_table(mine),
                                      title="your run: whole-body AP after each epoch, and its training loss"))
