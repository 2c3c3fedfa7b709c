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
# # The run records: where each number comes from
#
# Every number of ours in this book is computed from run records (`run_record.json`, one per training
# run); this page lists them with the commit and machine each was made on. The run you trained on this
# machine is set beside them on the {ref}`results page <your-run>`.

# %% tags=["hide-input"]
from fowkal.studies import ablation, kaf_report, results
from fowkal.viz import pages, style

style.use_style()

# %%
RUNS = pages.runs_dir()
records, missing = pages.run_records(RUNS)

# %% [markdown]
# ## The 3-epoch ablation
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

# %% [markdown]
# ## The KAF study
#
# Every run of {doc}`kaf_study`, with the commit it was made on (its default-noise runs of the paper's loss
# are the ablation's records above).

# %% tags=["hide-input"]
study = kaf_report.load_study(RUNS.parent)
pages.show(study.all_runs and kaf_report.records_markdown(study))
