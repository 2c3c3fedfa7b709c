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
# # Performance: what the losses and a training step cost
#
# Measured, never estimated: the benchmarks in `benchmarks/` time everything side by side in one
# process and write `figures/bench_*.json`; the run records give what the CPU reproduction cost.
# Ratios are what they measure (absolute times move with the machine). What the paper's own run
# would cost, and how to start it, is in {doc}`paper_setup`.

# %% tags=["hide-input"]
from fowkal.studies import numerics, performance, step_speed
from fowkal.viz import pages, style
from fowkal.viz.performance import loss_times_figure
from fowkal.viz.step_speed import step_profile_figure

style.use_style()


# %% [markdown]
# ## The losses, forward and backward
#
# `benchmarks/bench_losses.py` times each loss (forward + backward, float32, median of 5) next to MMPose's
# `KeypointMSELoss` and `AdaptiveWingLoss`. *Before* is the definition, `fowkal.losses.reference` (plain
# autograd; `build_loss(method, reference=True)`); *after* is what `build_loss(method)` returns, the fused
# `fowkal.losses.fused` (one blocked pass, analytic backward, equal to the reference to float64 precision).
# About two thirds of the keypoints are invisible, as in COCO-WholeBody; the fused loss skips those, so
# every keypoint visible is listed too. Extra memory is counted in heatmap-sized buffers (B·K·H·W floats).

# %% tags=["hide-input"]
bench = performance.read_benchmark("bench_losses")
if bench:
    pages.show(performance.provenance_line(bench),
               *(f"**{performance.shape_title(shape)}**, [B, K, H, W] = {list(shape)}:\n\n"
                 + performance.loss_table(bench, shape)
                 for shape in dict.fromkeys(tuple(r["shape"]) for r in bench["losses"])),
               performance.where_the_time_goes(bench))
    pages.show_figure(loss_times_figure(bench), "bench_losses")
    loss_cfg, fused = performance.training_loss_config("fowkal", "cpu")
    step_table = performance.train_step_markdown(bench)
    pages.show(step_table and "The whole training step with each implementation (MMEngine's `train_step`; \"CPU\" "
               "is the process's CPU time over all threads, which another job disturbs less than wall time):",
               step_table, step_table and performance.targets_markdown(bench),
               f"The training configs build `{loss_cfg}`, the **{'fused' if fused else 'reference'}** "
               "implementation: its rows are the cost the CPU runs paid.")
else:
    pages.show(pages.missing_benchmark("bench_losses"))

# %% [markdown]
# (step-profile)=
# ## A training step, part by part
#
# `benchmarks/bench_step.py` runs the training loop as MMEngine does (the next batch from the profile's
# loader, whose two workers share the two cores with the model; `train_step`; the logged scalars; the KAF
# hook) in two worker processes side by side: this code, and the *baseline*, a pinned commit the script
# extracts, alternating blocks of steps so both see the same machine. Every method of the ablation runs in
# the current worker, MSE and FoWKAL in the baseline one; each part of the step is timed on its own. The
# × baseline ratios compare MSE and FoWKAL run by both workers in the same rotation (the rows "beside the
# baseline"). Inside the current worker's rotation of every method, the loader waits differently than in
# the baseline's rotation of two, and the ratio would compare unlike steps.
# What changed, and why each is kept:
#
# - **The data pipeline** (`fowkal.mmpose.data`): twins of three MMPose pieces with the same outputs, bit for
#   bit (tested against MMPose's): the DARK encoder evaluates every keypoint's Gaussian in one array
#   expression (squared distances per row and column, broadcast into the grid), the dataset stops
#   deep-copying keypoint metadata into each sample (the flip indices a sample carries on are shared, not
#   copied), the box augmentation draws its truncated normals through SciPy's inverse CDF with its
#   constants computed once. On two cores the loader's CPU time is the model's.
# - **The logged accuracy** (`acc_pose`): MMPose's value, each heatmap's maximum found in one pass, not two.
# - **The loss's pixel pass** (`fowkal.losses.compiled`): for losses with AWing or a pixel weight, one
#   compiled loop per pixel instead of ~40 eager element-wise passes. It sums in another order, so runs
#   are not bit-identical to the eager pass; the check below shows what that does to AP. The same loop
#   also reduces the heatmaps for the loss's input checks (finite, targets in [0, α − 1]), which otherwise
#   read both heatmap tensors once more before it, and it computes WAHR's p^γ as 2^(γ·log2 p), half the
#   cost of a vectorised `pow`. FWAHR's backward scales the saved derivative map and sets its underflow
#   to 0 (below) in one compiled pass over it, not two.
# - **FWAHR's gradient without subnormals** (`fowkal.losses.fused.GRADIENT_FLOOR`): FWAHR weights the
#   background by τ·p, and the DARK targets' tails reach 1e-45, so a few per cent of its heatmap gradient lie
#   at float32's underflow. The head's last convolution multiplied them into subnormal products, which the CPU
#   computes in microcode, and its backward took ~1.7x as long as under WAHR. Entries below 2^-100 are set to
#   0 in place; they lie far below half a unit in the last place of the sums they enter, and the parameter
#   gradients stay bit for bit the same (a test checks it on DARK targets; the check below trains FoWKAL).
# - **Batches handed over by shared-memory name** (`fowkal.runs.ipc`): PyTorch's default on Linux sends each
#   tensor of a batch from the loader's worker as a file descriptor, one socket round trip per tensor, and a
#   pose batch holds a few hundred (each sample's image, heatmaps, weights and visibilities). Training sets
#   the `file_system` strategy instead: the same tensors, named by their shared-memory file. The loader's wait
#   is the part of the step it shortens.
#
# Options (the candidate rows, each against the same method without it, in the same run): channels-last
# convolutions, and `torch.compile` of the backbone and the heatmap head (Inductor's generated C++; compiled
# once per process, again for evaluation and for a last batch of another size). Both are faster on this CPU
# (compiled, MSE's step takes ~0.8x as long; with channels-last as well, no faster again), but both change
# the network's arithmetic, and a run pairs only with runs made with the same arithmetic. So neither is a
# profile's default (the main job and the 3-epoch ablation train eager), and compilation is an option,
# `cfg_options={"custom_hooks": [{"type": "CompileModelHook"}]}` (`fowkal.mmpose.hooks.CompileModelHook`),
# which the converged ablation, the longest runs, takes for every run. Its step against the baseline is the
# product of the candidate's ratio and the adopted step's × baseline, both from this one run.

# %% tags=["hide-input"]
step_bench = performance.read_benchmark("bench_step")
if step_bench:
    pages.show(performance.provenance_line(step_bench), step_speed.step_markdown(step_bench),
               step_speed.targets_markdown(step_bench),
               "Where the time goes, median ms per step:\n\n" + step_speed.profile_markdown(step_bench))
    pages.show_figure(step_profile_figure(step_bench), "bench_step_profile")
else:
    pages.show(pages.missing_benchmark("bench_step"))

# %% [markdown]
# Most of these changes keep the arithmetic: they must train the same numbers as the code before them, so
# that a run made with either pairs with a run made with the other. `benchmarks/same_numbers.py` trains the
# same method and seed with this code and with a pinned commit, one after the other on one machine, and
# compares every loss and accuracy MMEngine logs, iteration by iteration:

# %% tags=["hide-input"]
same = performance.read_benchmark("same_numbers")
pages.show(step_speed.same_numbers_markdown(same) if same else pages.missing_benchmark("same_numbers"))

# %% [markdown]
# ### Does the compiled loss move AP?
#
# MSE and FoWKAL trained again at seeds 0-2 of the quick profile with this code on another machine
# (`results/numerics/`), each paired with the committed record of the same method and seed. MSE's
# arithmetic did not change: it shows what another machine alone does (oneDNN picks its kernels by CPU).
# Other arithmetic makes a rerun another draw of the same seed, so its difference to the committed run has
# standard deviation √2·σ (σ: the committed seeds' spread); a part keeps its AP when every seed's
# difference lies within ±1.96·√2·σ.

# %% tags=["hide-input"]
numeric_rows = numerics.load()
pages.show(numerics.markdown(numeric_rows) + "\n\n" + numerics.summary(numeric_rows) if numeric_rows
           else "No reruns are committed yet.")

# %% [markdown]
# A later change of the compiled pass computes WAHR's p^γ as 2^(γ·log2 p), half the cost of a vectorised
# `pow`: the FWAHR and WAHR losses' values move by rounding, MSE's not at all. FoWKAL at seeds 0-2 was trained
# again with it (`results/numerics-exp2/`, drawing its samples as the committed records did), and is judged in
# the same way against the same committed records:

# %% tags=["hide-input"]
exp2_rows = numerics.load_exp2()
pages.show(numerics.markdown(exp2_rows) + "\n\n" + numerics.summary(exp2_rows) if exp2_rows
           else "No reruns of this check are committed yet.")

# %% [markdown]
# ### Does the compiled network move AP?
#
# The converged ablation compiles the backbone and the heatmap head (`CompileModelHook`; Inductor fuses the
# batch norms and activations around the convolutions, so sums run in another order). MSE and FoWKAL at
# seeds 0-2 of the quick profile were trained again with it (`results/numerics-compiled/`, samples drawn as
# the committed records drew theirs) and are judged in the same way against the same committed records.
# FoWKAL's reruns also carry the p^γ change above: the loss as it is today.

# %% tags=["hide-input"]
compiled_rows = numerics.load_compiled()
pages.show(numerics.markdown(compiled_rows) + "\n\n" + numerics.summary(compiled_rows) if compiled_rows
           else pages.missing("No reruns of this check are committed yet",
                              "`numerics.run_compiled_plan()` trains them into `results/numerics-compiled/`."))

# %% [markdown]
# A part whose committed seeds disagree widely has a wide bound: MSE's feet, after 3 epochs, are learned in
# some seeds and not in others, and a rerun with other arithmetic can land on either side (its per-seed
# differences above). FoWKAL's reruns here also differ from the committed records by the p^γ change; against
# the second check's reruns, which have that change and an eager network, its differences are those of
# compiling alone (σ from those reruns' 3 seeds):

# %% tags=["hide-input"]
compiled_vs_eager = numerics.load_compiled_against_exp2()
pages.show(numerics.markdown(compiled_vs_eager) + "\n\n" + numerics.summary(compiled_vs_eager) if compiled_vs_eager
           else "No reruns of both checks are committed yet.")

# %% [markdown]
# ## The step at the paper's heatmap size
#
# The CPU profile predicts the paper's 64 × 48 heatmaps through one learned 2 × upsampling in the head: 4 ×
# the pixels of the 32 × 24 its HRNet gives without it. `benchmarks/bench_geometry.py` times both
# geometries' steps in one process, with glibc's default allocator and with freed memory kept in the
# process (`fowkal.runs.malloc`, which training applies: a batch of 64 × 48 heatmaps is 52 MiB, above
# what glibc serves from its free lists).

# %% tags=["hide-input"]
geometry_bench = performance.read_benchmark("bench_geometry")
pages.show(performance.geometry_markdown(geometry_bench) if geometry_bench else pages.missing_benchmark("bench_geometry"))

# %% [markdown]
# ## What the CPU reproduction cost
#
# Each run record keeps its wall time (training and the final evaluations) and each epoch's time.

# %% tags=["hide-input"]
records, missing = pages.run_records()
pages.show(performance.cost_markdown(records) if records else pages.missing_records(missing, "Their cost is not shown."))
