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
# # Part-wise losses: the heuristic loss and KAL
#
# MSE and AWing treat all 133 keypoints alike. The paper's next two losses treat the four parts
# differently: first by hand (the heuristic loss), then with a factor λ per keypoint that a head
# network predicts (KAL). Both also change how much each keypoint weighs in the total, which turns
# out to matter as much as the choice of pixel loss.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from fowkal.viz import style, widgets
from fowkal import parts
from fowkal.kaf_head import KAFHead
from fowkal.losses import awing, build_loss

style.use_style()
torch.set_default_dtype(torch.float64)
N = {name: len(idx) for name, idx in parts.PARTS.items()}
N_BF, N_FH, N_ALL = N["body"] + N["foot"], N["face"] + N["hand"], parts.NUM_KEYPOINTS
print(N, f"N_bf = {N_BF}, N_fh = {N_FH}, N = {N_ALL}")

# %% [markdown]
# ## The heuristic loss
#
# MSE for the coarse parts (body and feet), AWing for the dense ones (face and hands), each
# averaged over its keypoints (Eq. 4; per sample, summed over pixels):
#
# \begin{equation*}
# \begin{aligned}
# L_{bf} &= \frac{1}{N_{bf}} \sum_{k \in body \cup foot} \; \sum_{i,j}
#   \left(p_k^{i,j} - \hat p_k^{i,j}\right)^2, \\
# L_{fh} &= \frac{1}{N_{fh}} \sum_{k \in face \cup hand} \; \sum_{i,j}
#   \mathrm{AWing}\left(p_k^{i,j}, \hat p_k^{i,j}\right)
# \end{aligned}
# \tag{4}
# \end{equation*}
#
# and combined with "balancing factors because the number of keypoints for each body part is
# different" (Eq. 5, as printed):
#
# $$
# L_{heuristic} = \lambda_{fh} L_{bf} + \lambda_{bf} L_{fh} \tag{5}
# $$
#
# $$
# \lambda_{fh} = \frac{N_{fh}}{N} = \frac{110}{133}, \qquad
# \lambda_{bf} = \frac{N_{bf}}{N} = \frac{23}{133}
# $$
#
# Note the cross-pairing: the factor named after face and hands multiplies the body-and-feet term.
# Read literally, it gives each of the 23 coarse keypoints a weight
# $\frac{110}{133 \cdot 23}$ and each of the 110 dense ones $\frac{23}{133 \cdot 110}$: the
# *smaller* group gets most of the total weight, an inverse-frequency balance. If the subscripts
# were swapped by mistake ($\lambda_{bf} L_{bf} + \lambda_{fh} L_{fh}$), the factors cancel the
# $1/N_{bf}$ and $1/N_{fh}$ of Eq. 4 and the loss is the plain mean over all 133 keypoints, which
# would make the group averages pointless. `fowkal.losses` implements both
# (`balance="literal"`, the default, and `balance="swapped"`).
#
# Rather than trust the algebra, we measure each keypoint's weight in the library's loss: switch
# on one keypoint at a time (its target weight) and divide the loss by that keypoint's own pixel
# loss.

# %%
def keypoint_weights(method, **options):
    """Each keypoint's weight in `method`'s total, one keypoint at a time."""
    loss = build_loss(method, **options)
    pred = torch.full((1, N_ALL, 1, 1), 0.5)  # 1x1 heatmaps suffice
    target = torch.zeros_like(pred)
    kaf = torch.zeros(N_ALL) if method == "kal" else None  # λ = 0: MSE side
    own_mse = float(((pred - target) ** 2).mean())
    own_awing = float(awing(pred, target).mean())
    weights = np.empty(N_ALL)
    for k in range(N_ALL):
        one_hot = torch.zeros(N_ALL)
        one_hot[k] = 1.0
        value = float(loss(pred, target, target_weight=one_hot, kaf=kaf))
        dense = parts.part_of(k) in ("face", "hand")
        uses_awing = method == "awing" or (method == "heuristic" and dense)
        weights[k] = value / (own_awing if uses_awing else own_mse)
    return weights


weights = {
    "MSE, AWing (uniform)": keypoint_weights("mse"),
    "heuristic, literal": keypoint_weights("heuristic", balance="literal"),
    "heuristic, swapped": keypoint_weights("heuristic", balance="swapped"),
    "KAL (λ = 0, no regulariser)": keypoint_weights("kal", reg_weight=0.0),
}
rows = []
for scheme, w in weights.items():
    row = {"scheme": scheme}
    for name, idx in parts.PARTS.items():
        row[f"{name} (×1/133)"] = w[list(idx)].mean() * N_ALL
    row["sum of weights"] = w.sum()
    rows.append(row)
pd.DataFrame(rows).style.hide(axis="index").format(precision=2)

# %% tags=["hide-input"]
literal = weights["heuristic, literal"]
glue("literal_ratio", f"{literal[parts.BODY[0]] / literal[parts.FACE[0]]:.2f}", display=False)
glue("literal_bf_share", f"{literal[:N_BF].sum() / literal.sum():.0%}", display=False)
kal = weights["KAL (λ = 0, no regulariser)"]
glue("kal_foot_over_face", f"{kal[parts.FOOT[0]] / kal[parts.FACE[0]]:.1f}", display=False)

# %% [markdown]
# Each entry is a keypoint's weight relative to the uniform $1/133$. Under the literal reading a
# body or foot keypoint weighs {glue:text}`literal_ratio` times a face or hand keypoint
# ($(110/23)^2$), and the 23 coarse keypoints carry {glue:text}`literal_bf_share` of the total;
# swapped, all keypoints weigh the same. The literal reading is the default here because it is what
# the paper prints and because it is plausible: AWing is an order of magnitude larger than MSE on
# the same error (previous chapter), so under a uniform weighting the AWing terms of the face and
# hands would dominate the gradient, and the literal factors roughly offset that.
#
# A hand-checkable case: every coarse keypoint has MSE 0.25 and every dense one AWing 3.9912 (all
# pixels p = 0.5, p̂ = 0). Literal: $\frac{110}{133} \cdot 0.25 + \frac{23}{133} \cdot 3.9912 = 0.8970$;
# swapped: $\frac{23 \cdot 0.25 + 110 \cdot 3.9912}{133} = 3.3442$.

# %%
pred, target = torch.zeros(1, N_ALL, 4, 4), torch.full((1, N_ALL, 4, 4), 0.5)
for balance in ["literal", "swapped"]:
    value = build_loss("heuristic", balance=balance)(pred, target)
    print(balance, round(float(value), 10))

# %% [markdown]
# ## KAL: a factor λ per keypoint
#
# KAL mixes the two pixel losses per keypoint with a keypoint-wise adaptive factor (KAF)
# $\lambda_k \in [0, 1]$ (Eq. 6), adds a regulariser on λ (Eq. 7), and sums the part means
# (Eq. 8):
#
# $$
# L_{Adaptive}(P_k, \hat P_k) = \lambda_k L_{AWing}(P_k, \hat P_k)
#   + (1 - \lambda_k)\, L_{MSE}(P_k, \hat P_k)
# \tag{6}
# $$
#
# $$
# L_{reg}(\lambda) = \sum_{part} \frac{1}{N_{part}} \sum_{k \in part} (\lambda_k - \bar\lambda_{part})^2
#   = \sum_{part} \mathrm{Var}(\lambda_{part})
# \tag{7}
# $$
#
# $$
# L_{KAL} = \sum_{part} \frac{1}{N_{part}} \sum_{k \in part} L_{Adaptive}(P_k, \hat P_k)
#   + L_{reg}(\lambda)
# \tag{8}
# $$
#
# Eq. 8 is a **sum** of four part means, not a mean over keypoints. So even before λ does
# anything, KAL re-weights the keypoints: a foot keypoint weighs $1/6$, a face keypoint $1/68$,
# {glue:text}`kal_foot_over_face` times less (last row of the table above). The paper's KAL
# results (Table 2, row d: feet much better, face and hands worse) fit this re-weighting alone.
#
# λ is "the output of added head network" (the paper's Fig. 2, not described further). Our KAF
# head is the simplest reading: global average pooling of the backbone's last feature map, a
# linear layer and a sigmoid, one λ per keypoint and per image, starting at λ = 0.5.

# %%
head = KAFHead(in_channels=32)
features = torch.randn(2, 32, 64, 48)  # HRNet-w32's last features, 2 images
lam = head(features.float()).double()
print(head)
print(f"λ: shape {tuple(lam.shape)}, "
      f"range [{lam.min():.3f}, {lam.max():.3f}] at initialisation")

# %% [markdown]
# ### The regulariser is a population variance
#
# Eq. 7 divides by $N_{part}$: the population variance. (PyTorch's `var` divides by $N - 1$ by
# default, which would give twice the value on two keypoints.) On a part of two keypoints with
# λ = 0 and 1:

# %%
two = build_loss("kal", parts={"pair": (0, 1)})
zeros = torch.zeros(1, 2, 1, 1)
terms = two.terms(zeros, zeros, kaf=torch.tensor([[0.0, 1.0]]))
unbiased = torch.tensor([0.0, 1.0]).var().item()
print(f"L_reg = {float(terms['reg'])}   (torch.var default: {unbiased})")

# %% [markdown]
# Its gradient, $2(\lambda_k - \bar\lambda_{part})/N_{part}$, sums to zero over each part: the
# regulariser pulls the λ of a part towards their mean, but it cannot move the mean itself.

# %%
kal_loss = build_loss("kal")
lam_random = torch.rand(1, N_ALL, requires_grad=True)
heatmaps = torch.zeros(1, N_ALL, 2, 2)
reg = kal_loss.terms(heatmaps, heatmaps, kaf=lam_random)["reg"]
(grad,) = torch.autograd.grad(reg, lam_random)
for name, idx in parts.PARTS.items():
    part_sum = float(grad[0, list(idx)].sum())
    print(f"{name}: sum of ∂L_reg/∂λ = {part_sum:+.1e}")

# %% [markdown]
# ### Which way is λ pushed?
#
# $L_{KAL}$ is linear in each $\lambda_k$. Its derivative is
#
# $$
# \frac{\partial L_{KAL}}{\partial \lambda_k}
#   = \frac{1}{N_{part}} \Big( \underbrace{L_{AWing,k} - L_{MSE,k}}_{\text{data}}
#   + \underbrace{2 (\lambda_k - \bar\lambda_{part})}_{\text{regulariser}} \Big).
# $$
#
# The regulariser's part sums to zero over the part (above), so the direction of each part's
# mean λ is set by the data term alone. And AWing is larger than the squared error at every pixel
# with a non-trivial error: for targets $p \in [0, 1]$ and errors $10^{-4} \le |\delta| \le 2$, the
# ratio $\mathrm{AWing}/\delta^2$ never falls below about 4.9.

# %%
p_grid = torch.linspace(0.0, 1.0, 101)[:, None].expand(101, 600)
delta_grid = torch.logspace(-4, np.log10(2.0), 600)[None, :].expand(101, 600)
ratio = awing(p_grid + delta_grid, p_grid) / delta_grid ** 2  # p̂ above p
ratio_below = awing(p_grid - delta_grid, p_grid) / delta_grid ** 2
smallest = float(torch.minimum(ratio, ratio_below).min())
glue("min_ratio", f"{smallest:.2f}", display=False)
print(f"smallest AWing / MSE over the grid: {smallest:.3f}")

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(style.TEXT_WIDTH_IN, 2.8))
for p, color in zip([0.0, 0.25, 0.5, 0.75, 1.0], style.CURVE_COLORS):
    row = int(round(p * 100))
    ax.loglog(delta_grid[0], ratio[row], color=color, label=f"p = {p:g}")
ax.axhline(smallest, color="k", lw=1, ls="--")
ax.text(1.2e-4, smallest * 1.15, f"minimum {smallest:.2f}", fontsize=8)
ax.set_xlabel("error |δ|")
ax.set_ylabel("AWing / δ²")
ax.set_title("AWing over the squared error, per pixel (fowkal.losses.awing)")
ax.legend(ncols=5, fontsize=8)
style.save_figure(fig, "awing_over_mse")
plt.show()

# %% [markdown]
# So $L_{AWing} > L_{MSE}$ for every visible keypoint that is not predicted perfectly, the data
# term of $\partial L / \partial \lambda_k$ is positive, and gradient descent pushes **every λ
# towards 0**, the MSE side. Nothing in Eq. 6–8 gives λ an interior optimum: under the paper's
# objective, KAL drifts towards part-normalised MSE (and FoWKAL, whose pixel weights multiply both
# terms alike, towards part-normalised weighted MSE).
#
# The same holds on real heatmaps. Here autograd differentiates the library's KAL loss with
# respect to λ on 133 keypoints whose predictions are imperfect copies of their targets:

# %%
rng = np.random.default_rng(0)
targets, preds = [], []
for k in range(N_ALL):
    x, y = rng.uniform(8, 40), rng.uniform(8, 56)
    targets.append(widgets.gaussian_target((x, y)))
    dx, dy = rng.normal(0, 1.0, 2)  # peak off by ~1 px, 40-100 % high, noisy
    height = rng.uniform(0.4, 1.0)
    preds.append(height * widgets.gaussian_target((x + dx, y + dy))
                 + rng.normal(0, 0.01, (64, 48)))
target_all = torch.from_numpy(np.stack(targets))[None].double()
pred_all = torch.from_numpy(np.stack(preds))[None].double()
visible = torch.ones(1, N_ALL)
for method in ["kal", "fowkal"]:
    lam = torch.full((1, N_ALL), 0.5, requires_grad=True)
    loss = build_loss(method)(pred_all, target_all, visible, kaf=lam)
    (grad,) = torch.autograd.grad(loss, lam)
    print(f"{method:7s} ∂L/∂λ: min {grad.min():.2e}, max {grad.max():.2e}, "
          f"positive for {int((grad > 0).sum())} of {N_ALL} keypoints")

# %% [markdown]
# To see where that leads, we let Adam move only λ (one logit per keypoint, through a sigmoid),
# with these heatmaps held fixed. This is not training: in a real run the heatmaps improve at the
# same time and both terms shrink, but AWing stays above MSE, so the sign does not change.

# %%
logits = torch.zeros(1, N_ALL, requires_grad=True, dtype=torch.float32)
optimizer = torch.optim.Adam([logits], lr=0.05)
loss_fn = build_loss("kal")
pred32, target32 = pred_all.float(), target_all.float()  # float32 is enough here
history = []
for step in range(101):
    lam = torch.sigmoid(logits)
    if step % 5 == 0:
        means = [lam[0, list(i)].mean().item() for i in parts.PARTS.values()]
        history.append([step] + means)
    optimizer.zero_grad()
    loss_fn(pred32, target32, visible.float(), kaf=lam).backward()
    optimizer.step()
history = pd.DataFrame(history, columns=["step", *parts.PARTS])
history.iloc[[0, 5, 10, 20]].style.hide(axis="index").format(precision=4)

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(style.TEXT_WIDTH_IN, 2.6))
for name in parts.PARTS:
    ax.plot(history["step"], history[name], color=style.PART_COLORS[name], label=name)
ax.set_xlabel("Adam step on the λ logits (lr 0.05, heatmaps fixed)")
ax.set_ylabel("mean λ of the part")
ax.set_ylim(0, 0.55)
ax.legend(ncols=4)
plt.show()

# %% [markdown]
# The four curves lie on top of each other. Adam divides each gradient by its own running
# magnitude, so while a gradient keeps its sign the logit moves by about the learning rate per
# step, whatever the size of the gradient: every λ falls at the same pace. At the
# paper's learning rate (5·10⁻⁴) a logit would need about 10⁴ steps to reach −5 (λ ≈ 0.007), a
# small part of a 210-epoch schedule on COCO-WholeBody (about 1.2·10⁵ steps at batch 256). Under
# this reading, λ saturates near 0 well before the end and AWing acts mainly early in training.
#
# The paper's Fig. 5 ("face close to AWing, others close to MSE") does not contradict this: it
# shows λ min-max normalised per pose, so it shows which part has the *largest* λ, not whether all
# of them have collapsed. Only the absolute λ per part, logged during real training, can tell.
