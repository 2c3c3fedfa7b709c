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
# # MSE and the Adaptive Wing loss
#
# The network outputs one heatmap $\hat P_k$ of $H' \times W' = 64 \times 48$ pixels per keypoint
# $k$; the target $P_k$ is a Gaussian around the annotated keypoint. A heatmap loss compares the
# two pixel by pixel: $p$ is a target pixel value, $\hat p$ the predicted one. This chapter derives
# the two pixel losses everything else is built from. All numbers and curves come from
# `fowkal.losses`.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from myst_nb import glue

from matplotlib.colors import LogNorm

from fowkal.viz import style, widgets
from fowkal.losses import AWING_DEFAULTS, awing, build_loss

style.use_style()
torch.set_default_dtype(torch.float64)  # the derivations below check equalities to 1e-9

# %% [markdown]
# ## The target
#
# The target is the one the training pipeline uses: MMPose's DARK ("unbiased") Gaussian with
# σ = 2, which is **not truncated**. Every pixel of the map gets $\exp(-d^2 / 2\sigma^2)$, so in
# float32 the "background" is positive far from the keypoint.

# %%
target = widgets.gaussian_target(widgets.EXAMPLE_KEYPOINT)  # [64, 48], float32
target = torch.from_numpy(target).double()
print(f"shape {tuple(target.shape)}, peak {target.max():.3f}")
print(f"pixels with p > 0: {(target > 0).double().mean():.0%}, "
      f"with p > 0.1: {int((target > 0.1).sum())}")
energy = float((target ** 2).sum())
print(f"sum of p² = {energy:.3f} (πσ² = {np.pi * 4:.3f})")
glue("n_foreground", int((target > 0.1).sum()), display=False)
glue("n_pixels", target.numel(), display=False)

# %% [markdown]
# Only {glue:text}`n_foreground` of the {glue:text}`n_pixels` pixels have $p > 0.1$. That imbalance between a few foreground pixels
# and thousands of background ones is what the losses of this book act on.
#
# ## Mean squared error
#
# The paper's Eq. 1 sums the squared error over the pixels and averages over the $K$ keypoints:
#
# $$
# L_{MSE}(P, \hat P) = \frac{1}{K} \sum_{k=1}^{K} \sum_{j=1}^{H'} \sum_{i=1}^{W'}
#   \left(p_k^{i,j} - \hat p_k^{i,j}\right)^2 \tag{1}
# $$
#
# MMPose, on which the paper's baseline is built, takes the **mean** over pixels instead (Eq. 1
# divided by $H'W' = 3072$), and so does `fowkal.losses` by default (`pixel_reduction="mean"`), so
# that the baseline matches MMPose's `KeypointMSELoss` exactly; `pixel_reduction="sum"` gives
# Eq. 1 as printed. For a prediction of all zeros (an untrained head) and one keypoint:

# %%
pred_zero = torch.zeros_like(target)[None, None]  # [B=1, K=1, H, W]
gt = target[None, None]
mse_mean = build_loss("mse")(pred_zero, gt)
mse_sum = build_loss("mse", pixel_reduction="sum")(pred_zero, gt)
print(f"mean over pixels: {mse_mean:.6f}")
print(f"sum over pixels (Eq. 1): {mse_sum:.4f}")
print(f"ratio: {mse_sum / mse_mean:.0f}")

# %% [markdown]
# With Adam, a constant factor on the whole loss barely changes training. It matters once a loss
# adds terms that are *not* summed over pixels, like KAL's regulariser (next chapter).
#
# The gradient of MSE is $2(\hat p - p)$ at every pixel alike: a pixel of the background, where the
# error is tiny, pulls as much per unit of error as the keypoint's peak.
#
# ## Adaptive Wing
#
# The Adaptive Wing loss (AWing; Wang, Bo & Fuxin 2019) is the paper's Eq. 2. With
# $\delta = |p - \hat p|$:
#
# \begin{equation*}
# \mathrm{AWing}(p, \hat p) =
# \begin{cases}
#   \omega \ln\!\left(1 + \left(\dfrac{\delta}{\varepsilon}\right)^{\alpha - p}\right)
#     & \text{if } \delta < \theta, \\
#   A\,\delta - C & \text{otherwise,}
# \end{cases} \tag{2}
# \end{equation*}
#
# $$
# A = \frac{\omega\,(\alpha - p)}{\varepsilon}\,
#     \frac{(\theta/\varepsilon)^{\alpha - p - 1}}{1 + (\theta/\varepsilon)^{\alpha - p}},
# \qquad
# C = \theta A - \omega \ln\!\left(1 + (\theta/\varepsilon)^{\alpha - p}\right),
# $$
#
# with the AWing paper's $\alpha = 2.1$, $\omega = 14$, $\varepsilon = 1$, $\theta = 0.5$, which
# FoWKAL keeps. The exponent $\alpha - p$ depends on the **target** value: 2.1 on the background
# ($p = 0$), 1.1 on the keypoint's peak ($p = 1$). So $A$ and $C$ are not constants but functions of
# $p$, one pair per pixel. Eq. 3 then sums over pixels and averages over keypoints, like Eq. 1.
#
# `fowkal.losses.awing` computes Eq. 2 element-wise. MMPose's own unit test expects 8.4959 for a
# background pixel predicted at 1:

# %%
print(float(awing(torch.tensor(1.0), torch.tensor(0.0))))

# %% [markdown]
# ### A and C make AWing smooth at θ
#
# $A$ is the slope of the log branch at $\delta = \theta$, and $C$ shifts the line so that it meets
# the log branch there: the linear branch is the **tangent** of the log branch at θ, so the loss
# and its first derivative are continuous (only the curvature jumps). We check it for five target
# values with `awing` itself: at $\delta = \theta$ the library is on its linear branch (the
# condition is a strict $<$), while `awing` with θ moved far away (θ = 10) is the log branch
# everywhere. $A$ from the formula above is compared with the slope autograd measures.

# %%
theta = AWING_DEFAULTS["theta"]


def value_and_slope(p, delta, **params):
    pred = torch.tensor(p + delta, requires_grad=True)
    loss = awing(pred, torch.tensor(p), **params)
    (slope,) = torch.autograd.grad(loss, pred)
    return loss.item(), slope.item()


def a_formula(p, alpha=2.1, omega=14.0, epsilon=1.0, theta=0.5):
    y, r = alpha - p, theta / epsilon
    return omega / (1 + r ** y) * y * r ** (y - 1) / epsilon


rows = []
for p in [0.0, 0.25, 0.5, 0.75, 1.0]:
    # at δ = θ: the library's linear branch A·δ − C, and the log branch
    lin_value, a_autograd = value_and_slope(p, theta)
    log_value, log_slope = value_and_slope(p, theta, theta=10.0)
    rows.append({
        "p": p, "A (formula)": a_formula(p), "A (autograd)": a_autograd,
        "C = A·θ − AWing(θ)": a_autograd * theta - lin_value,
        "AWing(θ)": lin_value,
        "value gap": lin_value - log_value,
        "slope gap": a_autograd - log_slope,
    })
table = pd.DataFrame(rows)
assert table[["value gap", "slope gap"]].abs().max().max() < 1e-12
(table.style.hide(axis="index")
    .format("{:.10f}", subset=["A (formula)", "A (autograd)"])
    .format("{:.4f}", subset=["p", "C = A·θ − AWing(θ)", "AWing(θ)"])
    .format("{:.1e}", subset=["value gap", "slope gap"]))

# %% [markdown]
# The gaps between the branches at θ are at float64 rounding level. In a picture: the loss near θ for the background
# ($p = 0$) and the peak ($p = 1$), with the log branch continued past θ (dashed) and the linear
# branch continued before it (dotted).

# %% tags=["hide-input"]
deltas = np.linspace(0.05, 1.0, 300)
fig, axes = plt.subplots(1, 2, figsize=(style.TEXT_WIDTH_IN, 2.8), sharey=True)
for ax, p, color in zip(axes, [0.0, 1.0], [style.CURVE_COLORS[0], style.CURVE_COLORS[3]]):
    loss, _ = widgets.awing_curve(p, deltas)
    log_only, _ = widgets.awing_curve(p, deltas, theta=10.0)  # δ < 10 everywhere: the log branch
    at_theta, slope_at_theta = value_and_slope(p, theta)
    ax.plot(deltas, log_only, "--", color="0.45", lw=1.2, label="log branch")
    ax.plot(deltas, at_theta + slope_at_theta * (deltas - theta), ":", color="0.2", lw=1.2,
            label="linear branch A·δ − C")
    ax.plot(deltas, loss, color=color, lw=2.2, alpha=0.8, label="AWing")
    ax.plot([theta], [at_theta], "o", color=color)
    ax.axvline(theta, color="0.6", lw=0.8)
    ax.set_title(f"target p = {p:g}")
    ax.set_xlabel("error δ = |p − p̂|")
    ax.set_ylim(0, 12)
axes[0].set_ylabel("loss")
axes[0].legend(loc="upper left")
plt.show()

# %% [markdown]
# ### Why AWing focuses on the foreground
#
# The loss and its gradient against the error, for several target values, next to MSE. The
# gradients are autograd's, through `fowkal.losses.awing`.

# %% tags=["hide-input"]
deltas = np.linspace(-1.0, 1.0, 801)
fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(style.TEXT_WIDTH_IN, 3.0))
for p, color in zip([0.0, 0.25, 0.5, 0.75, 1.0], style.CURVE_COLORS):
    loss, grad = widgets.awing_curve(p, deltas)
    ax_loss.plot(deltas, loss, color=color, label=f"AWing, p = {p:g}")
    ax_grad.plot(deltas, grad, color=color)
ax_loss.plot(deltas, deltas ** 2, "k--", lw=1.2, label="MSE")
ax_grad.plot(deltas, 2 * deltas, "k--", lw=1.2)
for ax in (ax_loss, ax_grad):
    ax.set_xlabel("error δ = p̂ − p")
    ax.axvline(-theta, color="0.6", lw=0.8, ls=":")
    ax.axvline(theta, color="0.6", lw=0.8, ls=":")
ax_loss.set_ylabel("loss")
ax_grad.set_ylabel("∂ loss / ∂p̂")
ax_loss.legend(fontsize=8)
style.save_figure(fig, "awing_loss_gradient")
plt.show()

# %%
rows = []
for error in [0.01, 0.05, 0.2]:
    grad = {p: widgets.awing_curve(p, [error])[1][0] for p in [0.0, 0.5, 1.0]}
    ratio = grad[1.0] / grad[0.0]
    rows.append({"error δ": error, "AWing, p = 0": grad[0.0],
                 "AWing, p = 0.5": grad[0.5], "AWing, p = 1": grad[1.0],
                 "MSE": 2 * error, "peak / background": ratio})
    glue(f"peak_over_background_{error}", f"{ratio:.0f}", display=False)
pd.DataFrame(rows).style.hide(axis="index").format(precision=3)

# %% [markdown]
# For small errors, AWing behaves like $\omega(\delta/\varepsilon)^{\alpha - p}$, with gradient
# $\omega(\alpha - p)\,\delta^{\alpha - p - 1}/\varepsilon^{\alpha-p}$. On the background the
# exponent is 2.1: the loss is flat near zero, as MSE's is, and the gradient vanishes with the
# error. On the peak the exponent is 1.1: the loss is nearly a V, like an L1 loss, and the gradient
# barely shrinks. At the same error, a peak pixel pulls {glue:text}`peak_over_background_0.05`
# times harder than a background pixel at δ = 0.05, and {glue:text}`peak_over_background_0.01`
# times harder at δ = 0.01, while under MSE all pixels pull alike. That is how AWing "focuses on
# the foreground" without a mask. Beyond θ it grows only linearly, which limits the pull of gross
# errors.
#
# ### On a whole heatmap
#
# The same comparison over a whole map: the target, an imperfect prediction (the book's running
# example: a weaker copy of the target whose peak is 1.8 px off, plus a little noise) and how hard
# each pixel pulls, $|\partial \mathrm{loss} / \partial \hat p|$, under each loss (log colour
# scale). The titles give the share of the total pull that comes from the pixels with $p > 0.1$.

# %% tags=["hide-input"]
target_np, prediction_np = widgets.example_pair()
p = torch.from_numpy(target_np).double()
p_hat = torch.from_numpy(prediction_np).double().requires_grad_(True)
foreground = p > 0.1
pull = {}
for name, pixel_loss in [("MSE", lambda: (p_hat - p) ** 2), ("AWing", lambda: awing(p_hat, p))]:
    (grad,) = torch.autograd.grad(pixel_loss().sum(), p_hat)
    pull[name] = grad.abs()
    share = float(pull[name][foreground].sum() / pull[name].sum())
    glue(f"pull_share_{name}", f"{share:.0%}", display=False)

fig, axes = plt.subplots(1, 4, figsize=(style.TEXT_WIDTH_IN, 2.7))
for ax, image, title in [(axes[0], p, "target p"), (axes[1], p_hat.detach(), "prediction p̂")]:
    ax.imshow(image, cmap="magma", vmin=-0.05, vmax=1)
    ax.set_title(title, fontsize=9)
for ax, (name, grad) in zip(axes[2:], pull.items()):
    shown = ax.imshow(grad / grad.max(), cmap="viridis", norm=LogNorm(1e-3, 1))
    share = float(grad[foreground].sum() / grad.sum())
    ax.set_title(f"{name} pull: {share:.0%}\non p > 0.1", fontsize=9)
for ax in axes:
    ax.set_axis_off()
fig.colorbar(shown, ax=axes[2:], shrink=0.8, label="|∂loss/∂p̂| / max")
plt.show()

# %%
pred, gt = p_hat.detach()[None, None], p[None, None]
mse_value = build_loss("mse")(pred, gt)
awing_value = build_loss("awing")(pred, gt)
ratio = float(awing_value / mse_value)
glue("awing_over_mse", f"{ratio:.0f}", display=False)
print(f"MSE {float(mse_value):.2e}, AWing {float(awing_value):.2e}, "
      f"ratio {float(awing_value / mse_value):.1f}")

# %% [markdown]
# Under MSE, the {glue:text}`n_foreground` foreground pixels give only
# {glue:text}`pull_share_MSE` of the total pull: thousands of background pixels with small errors
# (here, the noise) outweigh them. AWing moves the balance towards the keypoint
# ({glue:text}`pull_share_AWing`), but the background still pulls a lot; that is what FWAHR's
# pixel weights address ({doc}`pixel_weights`). And on the same prediction AWing is about
# {glue:text}`awing_over_mse` times larger than MSE, a fact that decides which way KAL's adaptive
# factor moves ({doc}`part_losses`).
