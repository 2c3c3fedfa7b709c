# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   fowkal:
#     reads_data: true
# ---

# %% [markdown]
# # How long to train: the learning curves
#
# The ablation's quick profile stops after 3 epochs (339 optimiser steps), long before its models are
# trained, and a ranking of methods at step 339 need not be their ranking once trained. Every run record
# carries its learning curve: whole-body and per-part AP (ground-truth boxes, the tables' tolerance) every
# few epochs, drawn beside the training loss every 20 iterations (`fowkal.runs.curve`). Validating
# changes nothing trained: the same seed gives the same losses and weights with or without it (a test).

# %% tags=["hide-input"]
from fowkal.configs.arguments import SCHEDULES
from fowkal.configs.builder import lr_steps
from fowkal.studies import ablation, convergence
from fowkal.viz import pages, style
from fowkal.viz.curves import learning_curves

style.use_style()

# %% [markdown]
# (plateau)=
# ## Where the curves flatten
#
# Six methods (MSE, FoWKAL, KAL, heuristic + FWAHR, the λ = 0 control and the KAF study's best variant;
# seed 0) are trained for 40 epochs, the learning-rate steps at the paper's 81 % and 95 % of the
# schedule (after epochs 32 and 38), validated every 4 epochs (`fowkal.studies.convergence.run_plateau`;
# `results/convergence/plateau/`, four of the six so far). The
# simplest test of "trained" is that whole-body AP moved less than 1 point over the last third of the
# run. A step schedule makes that third a staircase, though: it holds both steps, and the gain a step
# brings is the schedule working, not the model still learning. So the table reads the curve phase by phase
# as well: the last third of the full-rate phase (up to the first step), what the steps added, and the
# last interval.

# %% tags=["hide-input"]
plateau_records, plateau_names = convergence.load_plateau_records()
if plateau_records:
    pages.show(convergence.plateau_markdown([convergence.plateau(r, name=n)
                                             for r, n in zip(plateau_records, plateau_names)]))
    pages.show_figure(learning_curves(convergence.curve_table(plateau_records, plateau_names),
                                      convergence.loss_table(plateau_records, plateau_names),
                                      steps=lr_steps(convergence.PLATEAU_EPOCHS)), "plateau_curves")
else:
    pages.show(pages.missing(
        "No long runs yet", "`results/convergence/plateau/` holds no seed-0 record of them. "
        "Make them (one after the other, resumable; 6-8 hours on two cores):\n\n```bash\n.venv/bin/python -c 'from "
        "fowkal.studies.convergence import run_plateau; run_plateau()'\n```", kind="note"))

# %% [markdown]
# (length-check)=
# ## Is 40 epochs long enough?
#
# None of the curves above moved less than 1 AP over its last third, and heuristic + FWAHR still climbed over
# the last third of its full-rate phase. What matters for the verdicts is whether a longer schedule would
# still change the trained models, so the run that climbed most is trained again from the same seed (same
# initial weights, same batches) for 1.5x as many epochs (60, steps after epochs 49 and 57;
# `fowkal.studies.convergence.run_length_check`), and its final AP is compared with the 40-epoch run's, part
# by part. It is one pair of runs, and not an exact one: both drew their augmentations from the
# loader workers' streams (MMEngine's `DefaultSampler`), and the 40-epoch run was resumed several times,
# which restarts those streams, so after epoch 3 the two saw different augmentations of the same samples.
# The difference therefore also holds what other augmentations move, which one pair cannot measure; a
# small difference says the longer schedule does not help much, not that it does not help at all.

# %% tags=["hide-input"]
results = pages.runs_dir().parent
long_records = convergence.load_long_records(results)
length_rows = convergence.length_check(convergence.load_plateau_records(results)[0], long_records)
if length_rows:
    pages.show(convergence.length_markdown(length_rows))
    for row in length_rows:
        short, long = row["epochs"]
        moved_most = max(row["change"], key=lambda part: abs(row["change"][part]))
        pages.show(f"Trained {long} instead of {short} epochs, {row['name']}'s final whole-body AP moved by "
                   f"**{row['change']['wholebody']:+.1f}** ({row['short']['wholebody']:.1f} → "
                   f"{row['long']['wholebody']:.1f}); the part that moved most, {moved_most}, by "
                   f"{row['change'][moved_most]:+.1f}. "
                   + ("Every part moved less than 1 AP." if row["flat"] else "Not every part moved less than 1 AP."))
    checked = {(row["name"], row["seed"]) for row in length_rows}
    both = [r for r in convergence.load_plateau_records(results)[0] + long_records
            if (r["method"], r["seed"]) in checked]
    labels = [f"{r['method']}, {r['schedule']['epochs']} epochs" for r in both]
    steps = sorted({s for r in both for s in lr_steps(int(r["schedule"]["epochs"]))})
    pages.show_figure(learning_curves(convergence.curve_table(both, labels), convergence.loss_table(both, labels),
                                      steps=steps), "length_check_curves")
else:
    pages.show(pages.missing(
        "Length check not trained yet", "`results/convergence/long/` holds no record with a 40-epoch twin. Make it "
        "(a converged run):\n\n```bash\n.venv/bin/python -c 'from fowkal.studies.convergence import "
        "run_length_check; run_length_check()'\n```", kind="note"))

# %% [markdown]
# Whole-body AP moved by less than a point, but body, foot and face moved by more, and the foot by most: the
# parts carry the paper's claims, and by them 40 epochs is not long enough. The 60-epoch curve has levelled
# off after its steps (its last interval), though its full-rate phase still rose by about a point and a half
# over its last third. So the cpu profile's `converged` schedule is 60 epochs: the longer of the two tested,
# at 1.5x the CPU time of 40. Whether 90 would still move the parts is not tested; the ablation below
# answers the paper's questions at 60.
#
# ## The ablation at convergence, over training
#
# The cpu profile's `converged` schedule (`--schedule converged`, or `-p schedule converged` in the train
# notebook) is 60 epochs, validated every 4. The converged ablation trains every method of Tables 2-3, the three
# controls and the best variant at it, at 3 seeds at least, in `results/convergence/ablation/`
# (`fowkal.studies.convergence.run_converged`, one run at a time, resumable). Its runs seed every training
# sample's augmentation from (seed, epoch, position in the epoch) (`fowkal.mmpose.data.SeededSampler`): with
# MMEngine's `DefaultSampler`, which the plateau runs above used, a run resumed at epoch N restarts the
# loader workers' random streams and draws other augmentations from then on, so two methods of one seed,
# interrupted at different epochs, would no longer see the same samples. Seeded, they do, and a resumed run
# trains exactly what it would have trained uninterrupted.
# Whole-body AP over training per method: the mean over seeds, and the band between the lowest and the
# highest seed. Its verdicts, beside the 3-epoch ones, are on the {ref}`results page <schedules>`.

# %% tags=["hide-input"]
converged = convergence.converged_records(pages.runs_dir().parent)
if converged:
    pages.show_figure(learning_curves(convergence.curve_table(converged), convergence.loss_table(converged),
                                      steps=lr_steps(SCHEDULES["converged"][0])), "converged_curves")
else:
    pages.show(pages.missing("No converged ablation yet", "`results/convergence/ablation/` holds no record.",
                             kind="note"))

# %% [markdown]
# Every run of the converged ablation compiles its backbone and heatmap head (`CompileModelHook`:
# `torch.compile`, which fuses the batch norms and activations around the convolutions), which made the
# training step about 0.8x as long on these CPUs. Compiled arithmetic sums in another order, so a compiled
# run follows another trajectory than the eager run of the same seed; all runs of the ablation compile, so
# its pairs compare like with like. Its first MSE run had trained eager (`results/convergence/eager/`); beside
# the compiled run of the same seed and samples it shows what compiling changed at this schedule (one seed:
# the {doc}`performance page <performance>` judges compiling against the seed spread of the quick profile):

# %% tags=["hide-input"]
eager_and_compiled = convergence.eager_pairs(pages.runs_dir().parent)
eager_rows = convergence.eager_comparison(eager_and_compiled)
pages.show(convergence.eager_markdown(eager_rows) if eager_rows else pages.missing(
    "No compiled twin yet", "The converged ablation has no compiled run of the eager run's name and seed yet.",
    kind="note"))

# %% [markdown]
# Both networks compute the same loss and gradients to rounding: a test trains them side by side from the same
# weights on the same batches and compares every step. What differs is where rounding, amplified over
# thousands of steps, takes a run. On the foot it can decide the outcome: the foot AP of each run of the pair
# over training,

# %% tags=["hide-input"]
foot_curves = convergence.eager_curve_table(eager_and_compiled, "foot")
pages.show(convergence.curve_markdown(foot_curves) if foot_curves is not None else pages.missing(
    "No compiled twin yet", "No pair of an eager and a compiled run with learning curves yet.", kind="note"))

# %% [markdown]
# Where one run's foot AP stays at the level of its first validation for the whole schedule, the model has
# not learned to localise the feet, and no later epoch taught it. Several runs of the 3-epoch ablation end at
# a foot AP of about that level too; their foot AP, method by method and seed by seed:

# %% tags=["hide-input"]
pages.show(convergence.part_by_seed_markdown(pages.run_records()[0], "foot"))

# %% [markdown]
# The longer eager runs left that level; the compiled one above never did. So at the converged schedule a
# run's foot AP can be bimodal: a method's foot AP over a few seeds then counts how many of its runs stayed
# at that level as much as how well its trained runs localise feet, and the foot claims' intervals are read
# with the per-seed values beside them.

# %% [markdown]
# ## How many seeds
#
# A claim is decided when its paired differences' interval excludes 0, so the seeds it needs follow from
# its effect and the seed-to-seed spread of its differences. For each of the paper's claims: the spread so
# far and the fewest seeds at which the t interval at Holm's strictest level (every claim can be tested
# there) would exclude 0, were the mean and spread measured so far the truth. The converged ablation trains
# the long runs above at seeds 0 and 1 first, so the spread of the claims among them is known early, then
# the other methods, then seed 2 of every method; the claims that need more get more seeds. Below, the
# converged ablation where it has 2 seeds or more, and the 3-epoch ablation's 5 seeds for comparison.

# %% tags=["hide-input"]
needs = {label: convergence.seeds_to_decide(ablation.claims(ablation.aggregate(recs))) if recs else []
         for label, recs in (("Converged schedule", converged), ("3-epoch ablation", pages.run_records()[0]))}
for label, rows in needs.items():
    pages.show(rows and f"**{label}**:\n\n" + convergence.seeds_markdown(rows))
if not needs["Converged schedule"]:
    pages.show(pages.missing("Spread not measured yet", "The converged ablation has fewer than 2 seeds of every "
                             "claim's methods.", kind="note"))
