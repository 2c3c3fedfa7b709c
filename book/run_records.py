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
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Your run and the committed records
#
# Every number of ours in this book is computed from run records (`run_record.json`, one per training
# run): this page lists them, with the commit and machine each was made on, and sets the run you trained
# on this machine beside them.

# %% tags=["hide-input"]
from fowkal.studies import ablation, convergence, local_run, results
from fowkal.viz import pages, style
from fowkal.viz.curves import learning_curves

style.use_style()

# %%
RUNS = pages.runs_dir()
records, missing = pages.run_records(RUNS)

# %% [markdown]
# (your-run)=
# ## Your run beside the committed records
#
# `make` trains FoWKAL (seed 0; `make METHOD=kal SEED=1` another method and seed) on this machine and
# then builds this book, which sets that run beside the committed record of the same method and seed and
# the range of the committed seeds. What to expect: the same configuration, commit and machine train
# the same run loss for loss; on another commit or machine the arithmetic differs in its last bits, the
# run drifts and ends like another seed would, so its AP per part should fall within or near the
# committed seeds' range. The table says which case your run is in and whether it behaved so.

# %%
mine = local_run.local_runs()
comparisons = [local_run.compare_run(run, records) for run in mine
               if any(r["method"] == run["method"] for r in records)]

# %% tags=["hide-input"]
pages.show(*map(local_run.comparison_markdown, comparisons))
with_curves = [run for run in mine if run.get("curve")]
if comparisons and with_curves:  # its learning curve: AP after every epoch, the loss every 20 iterations
    pages.show_figure(learning_curves(convergence.curve_table(with_curves), convergence.loss_table(with_curves),
                                      title="your run: whole-body AP after each epoch, and its training loss"))
if not comparisons:
    pages.show(pages.admonition(
        "No run of yours yet", f"`{pages.repo_relative(local_run.LOCAL_RUNS_DIR)}` holds no run record of a method "
        "with committed records. To make one (one training run on the CPU, then this book again):\n\n"
        "```bash\nmake\n```", kind="note"))

# %% [markdown]
# ## Where each number comes from
#
# One row per committed record of the 3-epoch ablation (`results/cpu/`): its AP per part (ground-truth
# boxes, the numbers Tables 2 and 3 average), whole-body AP with detections (Table 1), and where it ran.
# The ablation notebook writes the same tables next to the records (`tables.md`, `tables.json`); if its
# copy disagrees with the records (made before more records were added), the note below says so.

# %% tags=["hide-input"]
if records:
    pages.show(pages.written_tables_note(results.written_tables_differences(ablation.aggregate(records), RUNS),
                                         RUNS / "tables.json"),
               results.records_summary_text(records, RUNS), pages.wide_table(results.record_markdown(records)),
               pages.admonition("When and how each run ran (click to open)",
                                pages.wide_table(results.timing_markdown(records)), kind="note", css_class="dropdown"))
else:
    pages.show(pages.missing_records(missing, "There is nothing to trace."))
