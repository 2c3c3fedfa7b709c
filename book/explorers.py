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
# # Interactive explorers
#
# Move the sliders to see how each knob of the losses changes what a pixel costs. Every picture
# was computed by `fowkal.losses` when this page was built; the sliders switch between those
# pre-rendered pictures, so they work in the static book as well as in Jupyter (no kernel needed).
# In a running notebook, `fowkal.viz.widgets.awing_live_explorer()` turns all five AWing knobs at once.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from myst_nb import glue

from fowkal.viz import style
from fowkal.viz import widgets as explorer_widgets
from fowkal.losses import AWING_DEFAULTS, fwahr_weight, wahr_weight

style.use_style()

# %% [markdown]
# ## Adaptive Wing: α, ω, ε, θ and the target value
#
# Each tab varies one quantity and keeps the others at the AWing paper's defaults
# (α = 2.1, ω = 14, ε = 1, θ = 0.5). Solid lines use the slider's value, dashed lines the default.
# The curves are drawn against the error δ = p̂ − p, for a background pixel (p = 0) and the
# keypoint's peak (p = 1); the dotted verticals mark |δ| = θ, where AWing turns linear.

# %% tags=["hide-input"]
DELTAS = np.linspace(-1.0, 1.0, 401)
AWING_KNOBS = {  # name -> (symbol, values shown; the default is among them)
    "alpha": ("α", [2.0, 2.1, 2.5, 3.0, 4.0]),
    "omega": ("ω", [2.0, 7.0, 14.0, 20.0, 30.0]),
    "epsilon": ("ε", [0.25, 0.5, 1.0, 2.0, 4.0]),
    "theta": ("θ", [0.1, 0.25, 0.5, 0.75, 1.0]),
}
TARGET_VALUES = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]
PEAK_AND_BACKGROUND = {0.0: style.CURVE_COLORS[0], 1.0: style.CURVE_COLORS[3]}


def knob_curves(name, value):
    params = dict(AWING_DEFAULTS, **{name: value})
    return {p: explorer_widgets.awing_curve(p, DELTAS, **params) for p in PEAK_AND_BACKGROUND}


def axes_pair():
    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(style.TEXT_WIDTH_IN, 2.7))
    for ax in (ax_loss, ax_grad):
        ax.set_xlabel("error δ = p̂ − p")
    ax_loss.set_ylabel("AWing loss")
    ax_grad.set_ylabel("∂ loss / ∂p̂")
    return fig, ax_loss, ax_grad


def knob_tab(name):
    symbol, values = AWING_KNOBS[name]
    default = AWING_DEFAULTS[name]
    curves = {v: knob_curves(name, v) for v in values}
    # fixed axes per tab, so moving the slider moves the curves, not the axes
    loss_top = 1.05 * max(c[p][0].max() for c in curves.values() for p in c)
    grad_top = 1.05 * max(np.abs(c[p][1]).max() for c in curves.values() for p in c)

    def render(value):
        fig, ax_loss, ax_grad = axes_pair()
        theta = value if name == "theta" else AWING_DEFAULTS["theta"]
        for p, color in PEAK_AND_BACKGROUND.items():
            loss, grad = curves[value][p]
            ref_loss, ref_grad = curves[default][p]
            ax_loss.plot(DELTAS, ref_loss, color=color, ls="--", lw=1, alpha=0.6)
            ax_grad.plot(DELTAS, ref_grad, color=color, ls="--", lw=1, alpha=0.6)
            ax_loss.plot(DELTAS, loss, color=color, lw=2, label=f"p = {p:g}")
            ax_grad.plot(DELTAS, grad, color=color, lw=2)
        for ax in (ax_loss, ax_grad):
            ax.axvline(-theta, color="0.5", ls=":", lw=1)
            ax.axvline(theta, color="0.5", ls=":", lw=1)
        ax_loss.set_ylim(0, loss_top)
        ax_grad.set_ylim(-grad_top, grad_top)
        ax_loss.legend(loc="upper center")
        fig.suptitle(f"{symbol} = {value:g}   (default {default:g}; dashed)", fontsize=10)
        return style.figure_png(fig)

    return explorer_widgets.frame_explorer([(symbol, values, "slider")], render, initial=[default])


def target_tab():
    curves = {p: explorer_widgets.awing_curve(p, DELTAS) for p in TARGET_VALUES}
    loss_top = 1.05 * max(c[0].max() for c in curves.values())
    grad_top = 1.05 * max(np.abs(c[1]).max() for c in curves.values())

    def render(p):
        fig, ax_loss, ax_grad = axes_pair()
        for other, (loss, grad) in curves.items():
            if other != p:
                ax_loss.plot(DELTAS, loss, color="0.8", lw=1)
                ax_grad.plot(DELTAS, grad, color="0.8", lw=1)
        loss, grad = curves[p]
        ax_loss.plot(DELTAS, loss, color=style.CURVE_COLORS[0], lw=2, label=f"AWing, p = {p:g}")
        ax_grad.plot(DELTAS, grad, color=style.CURVE_COLORS[0], lw=2)
        ax_loss.plot(DELTAS, DELTAS ** 2, "k--", lw=1, label="MSE (δ²)")
        ax_grad.plot(DELTAS, 2 * DELTAS, "k--", lw=1)
        for ax in (ax_loss, ax_grad):
            ax.axvline(-AWING_DEFAULTS["theta"], color="0.5", ls=":", lw=1)
            ax.axvline(AWING_DEFAULTS["theta"], color="0.5", ls=":", lw=1)
        ax_loss.set_ylim(0, loss_top)
        ax_grad.set_ylim(-grad_top, grad_top)
        ax_loss.legend(loc="upper center")
        fig.suptitle(f"target p = {p:g}   (grey: the other target values)", fontsize=10)
        return style.figure_png(fig)

    return explorer_widgets.frame_explorer([("target p", TARGET_VALUES, "slider")], render, initial=[0.5])


# %%
import ipywidgets as widgets

awing_tabs = [target_tab()] + [knob_tab(name) for name in AWING_KNOBS]
titles = ["target p"] + [symbol for symbol, _ in AWING_KNOBS.values()]
awing_explorer = widgets.Tab(children=awing_tabs, titles=titles)
awing_explorer

# %% [markdown]
# What to look for:
#
# - **target p**: the exponent $\alpha - p$ falls from 2.1 (background) to 1.1 (peak). Near
#   δ = 0 the background loss is almost flat (like $\omega\delta^{2.1}$), while the peak's is
#   almost a V (like $\omega|\delta|^{1.1}$): small errors on the keypoint cost far more, and
#   their gradient does not vanish.
# - **θ** moves the switch to the linear branch; the curve stays smooth there (the linear branch is
#   the tangent of the log branch at θ).
# - **ω** scales the loss; **ε** sets the error scale at which the log branch bends;
#   **α** sets how sharply the exponent changes with p.

# %% [markdown]
# ## WAHR and FWAHR weight maps
#
# The pixel weight W of WAHR and of FWAHR (Eq. 9) under the three readings of the paper's equation
# (see {doc}`pixel_weights`), over a real training target: MMPose's DARK Gaussian (σ = 2) on the
# 64 × 48 heatmap of a 256 × 192 input. The prediction is the same in every picture: a slightly
# shifted, weaker copy of the target plus small noise, so that some background pixels are
# predicted below zero.

# %% tags=["hide-input"]
TARGET, PREDICTION = explorer_widgets.example_pair()
p, p_hat = torch.from_numpy(TARGET), torch.from_numpy(PREDICTION)
DISTANCE = explorer_widgets.distance_map()
glue("positive_share", float((TARGET > 0).mean()), display=False)

fig, axes = plt.subplots(1, 3, figsize=(style.TEXT_WIDTH_IN, 3.0))
for ax, image, title in zip(axes[:2], [TARGET, PREDICTION], ["target p", "prediction p̂"]):
    shown = ax.imshow(image, cmap="magma", vmin=-0.05, vmax=1.0)
    ax.set_title(title)
    ax.set_axis_off()
fig.colorbar(shown, ax=axes[:2], shrink=0.8)
axes[2].semilogy(DISTANCE.ravel(), np.maximum(TARGET.ravel(), 1e-45), ".", ms=2)
axes[2].axhline(2.0 ** -100, color=style.CURVE_COLORS[3], lw=1, ls="--")
axes[2].text(1, 1e-38, "2^(−1/γ), γ = 0.01", color=style.CURVE_COLORS[3], fontsize=8)
axes[2].set_xlabel("distance from the keypoint (px)")
axes[2].set_title("target value (float32)")
plt.show()

# %% [markdown]
# The target is not truncated: in float32 it is positive on
# {glue:text}`positive_share:.0%` of the map, and every pixel with $p \ge 2^{-1/\gamma}$ counts
# as foreground for WAHR.

# %% tags=["hide-input"]
READINGS = {  # label -> (weight function, τ used?)
    "WAHR": (lambda g, t: wahr_weight(p_hat, p, gamma=g), False),
    "FWAHR R1 (literal)": (lambda g, t: fwahr_weight(p_hat, p, gamma=g, tau=t, reading="literal"), True),
    "FWAHR R2": (lambda g, t: fwahr_weight(p_hat, p, gamma=g, tau=t, reading="gt_tau_target"), True),
    "FWAHR R3": (lambda g, t: fwahr_weight(p_hat, p, gamma=g, tau=t, reading="gt_tau_pred"), True),
}
GAMMAS = [0.001, 0.01, 0.1, 1.0]
TAUS = [0.0, 0.001, 0.01, 0.1, 1.0]
WEIGHT_NORM = LogNorm(1e-4, 2.0, clip=True)
FOREGROUND = TARGET > 1e-3
NEAR_BACKGROUND = (TARGET > 0) & ~FOREGROUND
ZERO = TARGET == 0


def render_weights(reading, gamma, tau):
    weight_fn, uses_tau = READINGS[reading]
    weight = weight_fn(gamma, tau).numpy()
    fig, (ax_map, ax_dist) = plt.subplots(1, 2, figsize=(6.4, 2.9),
                                          gridspec_kw={"width_ratios": [1, 1.5]})
    shown = ax_map.imshow(np.maximum(weight, 1e-12), cmap="viridis", norm=WEIGHT_NORM)
    ax_map.set_axis_off()
    fig.colorbar(shown, ax=ax_map, shrink=0.85, label="W (log scale)")
    ax_dist.semilogy(DISTANCE.ravel(), np.maximum(weight.ravel(), 1e-6), ".", ms=2,
                     color=style.CURVE_COLORS[0])
    ax_dist.set_ylim(5e-7, 3)
    ax_dist.set_xlabel("distance from the keypoint (px)")
    ax_dist.set_ylabel("W (< 1e-6 drawn at 1e-6)")
    masses = [weight[m].sum() for m in (FOREGROUND, NEAR_BACKGROUND, ZERO)]
    ax_dist.set_title(f"ΣW: foreground {masses[0]:.3g}, near bg {masses[1]:.3g},"
                      f" p = 0: {masses[2]:.3g}", fontsize=9)
    tau_text = f", τ = {tau:g}" if uses_tau else " (τ unused)"
    fig.suptitle(f"{reading}: γ = {gamma:g}{tau_text}", fontsize=10)
    return style.figure_png(fig, dpi=90)


weight_explorer = explorer_widgets.frame_explorer(
    [("weighting", list(READINGS), "toggle"), ("γ", GAMMAS, "slider"), ("τ", TAUS, "slider")],
    render_weights, initial=["WAHR", 0.01, 0.01])
weight_explorer

# %% [markdown]
# Foreground means $p > 10^{-3}$, near background $0 < p \le 10^{-3}$, and $p = 0$ the far
# corners where the float32 target underflows. What to look for:
#
# - **WAHR** puts weight |p̂| on pixels it considers background and ≈ |1 − p̂| on foreground; with
#   γ = 0.01 almost the whole map is "foreground", so the near background carries most of the mass.
# - **R1 (literal)** switches on the *prediction*: every pixel predicted ≤ 0 gets τ·p, so the
#   noise's negative half drops out of the loss (the speckle), whatever the target there.
# - **R2** switches on the target but keeps τ·p, which is below $10^{-30}$ wherever it applies:
#   τ changes nothing.
# - **R3** switches on the target and gives the background τ·|p̂|: τ really scales the background.
