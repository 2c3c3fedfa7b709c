"""Learning curves: validation AP over epochs and the training loss over iterations, per run or method."""
from __future__ import annotations

from .style import CURVE_COLORS, TEXT_WIDTH_IN


def learning_curves(curves, losses=None, *, part: str = "wholebody", title: str | None = None, steps=()):
    """AP of ``part`` over epochs (left) and, given ``losses``, the training loss over iterations (right).

    ``curves``/``losses``: :func:`fowkal.studies.convergence.curve_table`/``loss_table``. A name with several
    seeds is drawn as the mean over seeds and the band between the lowest and the highest seed. ``steps``:
    the epochs after which the learning rate steps down (:func:`fowkal.configs.builder.lr_steps`), drawn as
    dotted lines.
    """
    import matplotlib.pyplot as plt

    if curves.empty:
        raise ValueError("no learning curve to draw: the records carry none")
    if part not in set(curves["part"]):
        raise ValueError(f"unknown part {part!r}; the curves have {sorted(set(curves['part']))}")
    panels = 2 if losses is not None and not losses.empty else 1
    fig, axes = plt.subplots(1, panels, figsize=(TEXT_WIDTH_IN, 3.0), squeeze=False)
    ax = axes[0, 0]
    names = list(dict.fromkeys(curves["name"]))
    colors = {name: CURVE_COLORS[i % len(CURVE_COLORS)] for i, name in enumerate(names)}
    for name, group in curves[curves["part"] == part].groupby("name", sort=False):
        by_epoch = group.groupby("epoch")["AP"]
        mean = by_epoch.mean()
        seeds = group["seed"].nunique()
        ax.plot(mean.index, mean.values, marker="o", ms=3, color=colors[name],
                label=f"{name} ({seeds} seeds)" if seeds > 1 else name)
        if seeds > 1:
            ax.fill_between(mean.index, by_epoch.min().values, by_epoch.max().values, color=colors[name], alpha=0.2,
                            lw=0)
    for i, step in enumerate(steps):
        ax.axvline(step, color="0.5", ls=":", lw=1, label="learning-rate step" if i == 0 else None)
    ax.set(xlabel="epoch", ylabel=f"{part} AP (GT boxes)")
    ax.legend(fontsize=7)
    if panels == 2:
        ax = axes[0, 1]
        for name, group in losses.groupby("name", sort=False):
            mean = group.groupby("iter")["loss"].mean()
            ax.plot(mean.index, mean.values, lw=1, color=colors.get(name, CURVE_COLORS[-1]), label=name)
        ax.set(xlabel="iteration", ylabel="training loss (window mean)", yscale="log")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
