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
# ---

# %% [markdown]
# # Pixel weights: WAHR, FWAHR and FoWKAL
#
# The last ingredient re-weights the pixels of each heatmap. WAHR (Luo et al. 2021) gives each
# pixel a weight W that depends on its target and its prediction; the paper's FWAHR changes WAHR's
# background; FoWKAL multiplies both terms of KAL by it.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.colors import LogNorm
from myst_nb import glue

from fowkal.viz import style, widgets
from fowkal.losses import FWAHR_READINGS, METHODS, PAPER_ROWS, build_loss, fwahr_weight, wahr_weight

style.use_style()

# %% [markdown]
# ## WAHR
#
# $$
# W(p, \hat p) = p^{\gamma}\,|1 - \hat p| + |\hat p|\,(1 - p^{\gamma}), \qquad \gamma = 0.01
# $$
#
# $p^\gamma$ is a soft foreground indicator: with γ = 0.01 it is about 1 for any target value that
# is not astronomically small, and 0 only where $p = 0$. On the foreground the weight is the
# remaining error towards 1, $|1 - \hat p|$: pixels already predicted high count less. On the
# background it is $|\hat p|$: background predicted near 0 costs nothing. WAHR calls a pixel
# positive when $p^\gamma \ge 1/2$, i.e. $p \ge 2^{-1/\gamma} \approx 7.9 \cdot 10^{-31}$.

# %% tags=["hide-input"]
p_hat = torch.linspace(-0.2, 1.2, 281)
fig, ax = plt.subplots(figsize=(style.TEXT_WIDTH_IN, 2.6))
for p, color in zip([0.0, 1e-40, 1e-3, 0.5, 1.0], style.CURVE_COLORS):
    w = wahr_weight(p_hat.double(), torch.full_like(p_hat, p).double())
    ax.plot(p_hat, w, color=color, label=f"p = {p:g}  (p^γ = {p ** 0.01:.2f})")
ax.set_xlabel("prediction p̂")
ax.set_ylabel("WAHR weight W")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## FWAHR, as printed, and three readings
#
# The paper's Eq. 9:
#
# \begin{equation*}
# W(p, \hat p) =
# \begin{cases}
#   p^{\gamma}\,|1 - \hat p| + |\hat p|\,(1 - p^{\gamma})
#     & \text{if } \hat p \ge 2^{-1/\gamma}, \\
#   \tau\, p & \text{otherwise,}
# \end{cases}
# \tag{9}
# \end{equation*}
#
# with τ = 0.01 "to down-weight the sample that is likely to be on background pixels". The first
# branch is WAHR. The condition is written on the **prediction** $\hat p$, where WAHR's positive /
# negative split is on the target. Three readings are plausible, and `fowkal.losses.fwahr_weight`
# implements all of them:

# %%
# fwahr_weight's reading -> (id, WAHR where ... ≥ 2^(−1/γ), else)
readings = {
    "literal": ("R1 (default, as printed)", "prediction p̂", "τ·p"),
    "gt_tau_target": ("R2", "target p", "τ·p (< 1e-30 there)"),
    "gt_tau_pred": ("R3", "target p", "τ·|p̂| (WAHR's background × τ)"),
}
assert set(readings) == set(FWAHR_READINGS)
columns = ["id", "WAHR where ... ≥ 2^(−1/γ)", "else W ="]
pd.DataFrame.from_dict(readings, orient="index", columns=columns)

# %% [markdown]
# R1 is what the equation says. Since $2^{-100}$ is effectively 0, it means: a pixel predicted
# at or below zero gets τ·p. On the true background ($p = 0$) that is 0, a one-sided loss that
# ignores background predicted below zero; on a foreground pixel predicted below zero it is a tiny
# weight, the opposite of "focusing on hard foreground samples". R3 matches the prose best (τ
# down-weights the background relative to WAHR) but assumes the equation has $p$ and $\hat p$
# swapped. R2 is implausible: τ would be numerically irrelevant.
#
# The DARK target makes the difference concrete. It is not truncated, so in float32 about 78 % of
# a 64 × 48 map has $p > 0$ and more than half has $p \ge 2^{-100}$: WAHR's "foreground" reaches
# about 23 px from the keypoint. The weight maps of the four variants over the book's running
# example (target, and a weaker, shifted, slightly noisy prediction):

# %%
target_np, prediction_np = widgets.example_pair()
# float32, as in training
p, p_hat = torch.from_numpy(target_np), torch.from_numpy(prediction_np)
weights = {"WAHR": wahr_weight(p_hat, p)}
for name, (rid, _, _) in readings.items():
    weights[f"FWAHR {rid[:2]}"] = fwahr_weight(p_hat, p, reading=name)
regions = {
    "foreground (p > 1e-3)": p > 1e-3,
    "near background (0 < p ≤ 1e-3)": (p > 0) & (p <= 1e-3),
    "p = 0 (float32 underflow)": p == 0,
    "pixels predicted ≤ 0": p_hat <= 0,
}
mass = pd.DataFrame({
    name: {region: float(w[mask].sum()) for region, mask in regions.items()}
    for name, w in weights.items()}).T
positive = float((p >= 2.0 ** -100).float().mean())
glue("n_positive", f"{positive:.0%}", display=False)
mass.style.format("{:.3g}").set_caption("Sum of W over regions")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 4, figsize=(style.TEXT_WIDTH_IN, 2.7))
norm = LogNorm(1e-4, 2.0, clip=True)
for ax, (name, w) in zip(axes, weights.items()):
    shown = ax.imshow(np.maximum(w.numpy(), 1e-12), cmap="viridis", norm=norm)
    ax.set_title(name, fontsize=9)
    ax.set_axis_off()
fig.colorbar(shown, ax=axes, shrink=0.8, label="W (log scale; < 1e-4 dark)")
style.save_figure(fig, "fwahr_readings")
plt.show()

# %% [markdown]
# With γ = 0.01, WAHR puts most of its weight on the *near background* (the wide disc of tiny but
# positive target values, {glue:text}`n_positive` of the map), not on the keypoint. R1 zeroes
# every pixel predicted below zero, which here is roughly half of the background (the speckle).
# R2 is WAHR except in the outer ring where $p < 2^{-100}$. R3 additionally scales that outer ring
# by τ. None of the readings makes the foreground dominate by itself; the interactive version of
# this figure, with γ and τ as sliders, is in {doc}`explorers`.
#
# ## A live weight, and a spurious minimum at p̂ = 1
#
# SWAHR's reference code does not detach W from the graph, so the gradient also flows through the
# weight, and `fowkal.losses` follows it (`detach_weight=False`). With a live W, the weighted
# squared error $W \cdot (\hat p - p)^2$ for $0 < p < 1$ has a second minimum at $\hat p = 1$, where
# $|1 - \hat p|$ vanishes. A pixel 4 px from a neighbouring keypoint has $p \approx 0.135$:

# %%
p_val = float(np.exp(-16 / 8))  # a Gaussian (σ = 2) 4 px from its centre
p_hat = torch.linspace(-0.1, 1.3, 1401, dtype=torch.float64)
p_hat.requires_grad_(True)
target = torch.full_like(p_hat, p_val)
curves = {}
for label, detach in [("live W (default, as SWAHR)", False),
                      ("detached W", True)]:
    w = wahr_weight(p_hat, target)
    loss = (w.detach() if detach else w) * (p_hat - target) ** 2
    (grad,) = torch.autograd.grad(loss.sum(), p_hat)
    curves[label] = (loss.detach().numpy(), grad.numpy())
at = int(torch.argmin((p_hat.detach() - 0.95).abs()))
for label, (_, grad) in curves.items():
    print(f"p = {p_val:.3f}, p̂ = 0.95, {label}: gradient {grad[at]:+.3f}")

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(style.TEXT_WIDTH_IN, 2.6))
for (label, (loss, _)), color in zip(curves.items(), [style.CURVE_COLORS[0], style.CURVE_COLORS[1]]):
    ax.plot(p_hat.detach(), loss, color=color, label=label)
ax.axvline(p_val, color="0.5", lw=0.8, ls=":")
ax.text(p_val + 0.01, 0.2, "target p", fontsize=8, color="0.4")
ax.set_xlabel("prediction p̂")
ax.set_ylabel("W · (p̂ − p)²")
ax.set_ylim(0, 0.25)
ax.legend()
plt.show()

# %% [markdown]
# With the live weight, a prediction above about $(2 + p)/3$ is pulled up to 1 instead of down
# to $p$: the gradient at $\hat p = 0.95$ is negative (descent increases p̂). With a detached
# weight the loss is an ordinary re-weighted squared error with its single minimum at $p$. This
# matters most for the dense face and hand keypoints, whose neighbours' Gaussians overlap.
# `detach_weight=True` is available for ablations.
#
# ## FoWKAL
#
# FoWKAL applies the same W to both terms of KAL's per-keypoint loss (Eq. 10) and keeps KAL's part
# means and regulariser (Eq. 11):
#
# \begin{equation*}
# \begin{aligned}
# L_{WAdaptive}(P_k, \hat P_k) = {} & \lambda_k \sum_{i,j} W \cdot
#     \mathrm{AWing}\left(p_k^{i,j}, \hat p_k^{i,j}\right) \\
#   & + (1 - \lambda_k) \sum_{i,j} W \cdot \left(p_k^{i,j} - \hat p_k^{i,j}\right)^2
# \end{aligned}
# \tag{10}
# \end{equation*}
#
# $$
# L_{FoWKAL} = \sum_{part} \frac{1}{N_{part}} \sum_{k \in part} L_{WAdaptive}(P_k, \hat P_k)
#   + L_{reg}(\lambda)
# \tag{11}
# $$
#
# Since $W \ge 0$ multiplies both terms, the previous chapter's argument carries over: the data
# part of $\partial L / \partial \lambda_k$ is still positive and λ is still pushed towards 0.
#
# In `fowkal.losses`, FoWKAL is KAL with `weighting="fwahr"`; every row of the paper's ablation
# is one `build_loss` method:

# %%
rows = []
for method, (cls, fixed) in METHODS.items():
    rows.append({"method": method, "paper": PAPER_ROWS[method],
                 "loss class": cls.__name__,
                 "pixel weights": fixed.get("weighting", "none")})
pd.DataFrame(rows).style.hide(axis="index")

# %% [markdown]
# A FoWKAL loss on the running example, with λ = 0.5 (the KAF head's starting value); with
# `weighting="none"` the same call is KAL:

# %%
gt = torch.from_numpy(target_np)[None, None].repeat(1, 133, 1, 1)
pred = torch.from_numpy(prediction_np)[None, None].repeat(1, 133, 1, 1)
visible, lam = torch.ones(1, 133), torch.full((1, 133), 0.5)
for method in ["kal", "fowkal"]:
    value = build_loss(method)(pred, gt, visible, kaf=lam)
    print(f"{method:7s} {float(value):.5f}")
