# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The ablation: Tables 2 and 3 over several seeds
#
# Runs the train notebook for every method of the paper's Tables 2 and 3 and every seed (one
# executed notebook per run, kept beside its run record as the log), skips runs whose record
# already exists (so an interrupted ablation resumes where it stopped), then aggregates the run
# records into Tables 2 and 3 beside the paper's numbers and judges the paper's claims.
#
# ```bash
# papermill notebooks/ablation.ipynb work_dirs/ablation.ipynb                 # all 11 methods x 5 seeds, cpu profile
# papermill notebooks/ablation.ipynb out.ipynb -p run_missing False          # only aggregate existing records
# ```

# %% tags=["parameters"]
profile: str = "cpu"
methods: str = "all"  # comma-separated, or "all" (Table 2 a-f, Table 3's WAHR rows and the three controls kal_lambda0/1, fowkal_lambda0)
seeds: str = "0,1,2,3,4"  # the paired seeds of the committed records (at least 5)
records_dir: str = ""  # empty: results/<profile> (committed)
work_root: str = "work_dirs/ablation"  # checkpoints and full logs (not committed)
run_missing: bool = True  # False: aggregate the records there are, train nothing
epochs: int = 0  # 0: the profile's default
max_iters: int = 0  # >0: tiny runs (tests)
data_root: str = ""

# %%
from pathlib import Path

from fowkal.studies import ablation

# every parameter checked before any work (the notebook's dry run: ablation.notebook_plan)
plan = ablation.notebook_plan(profile=profile, methods=methods, seeds=seeds, records_dir=records_dir, epochs=epochs,
                              max_iters=max_iters)
out_dir, method_list, seed_list = plan["out_dir"], plan["methods"], plan["seeds"]
repo = Path(ablation.__file__).resolve().parents[2]  # fowkal/studies/ablation.py -> the repo
print(f"records: {out_dir}\nmethods: {method_list}\nseeds: {seed_list}\nruns without a record: {len(plan['missing'])}")

# %% [markdown]
# ## Run what is missing

# %%
if run_missing:
    ablation.run_ablation(methods=method_list, seeds=seed_list, profile=profile, out_dir=out_dir,
                          work_root=work_root, notebook=repo / "notebooks" / "train.ipynb", epochs=epochs,
                          max_iters=max_iters, data_root=data_root)

# %% [markdown]
# ## Aggregate the run records
#
# Our numbers: AP (%) on the validation set with ground-truth boxes, mean ± sample standard
# deviation over seeds. The paper's numbers (COCO-WholeBody v1.0 val, HRNet-w32+DARK at
# 256x192 on 8 GPUs) are shown beside ours as the paper's; the two are different benchmarks, so
# compare the *differences between methods*, not the absolute values.

# %%
from IPython.display import Markdown, display

records = [r for r in ablation.load_records(out_dir) if r["method"] in method_list and r["seed"] in seed_list]
print(f"{len(records)} run records")
table = ablation.aggregate(records)
display(Markdown("### Table 2\n\n" + ablation.table2_markdown(table)))
display(Markdown("### Table 3\n\n" + ablation.table3_markdown(table)))

# %% [markdown]
# ## The paper's claims
#
# The rule (from `fowkal.studies.ablation`): with d the difference of our means and SE its standard
# error over seeds, a claim is **reproduced** if d − 2·SE > 0, **not reproduced** if
# d + 2·SE ≤ 0, and **inconclusive** otherwise (or with fewer than 2 seeds).

# %%
display(Markdown(ablation.claims_markdown(table)))
tables_file = ablation.write_tables(table, out_dir)
print("written:", tables_file)
