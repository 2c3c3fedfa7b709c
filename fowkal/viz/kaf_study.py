"""The KAF study's figures: λ over training, the push beside it, the noise sweep and λ against the push.

Each function takes the study's runs (:func:`fowkal.studies.kaf_study.load_runs`) and returns a
matplotlib figure; the numbers behind them are :mod:`fowkal.studies.kaf_study`'s.
"""
from __future__ import annotations

import math

import numpy as np

from ..parts import PARTS
from ..runs.logs import kaf_part_means, kaf_series, push_part_means
from ..studies import kaf_study
from ..studies.kaf_push import barrier_equilibrium
from ..studies.kaf_report import runs_of
from .style import PART_COLORS, TEXT_WIDTH_IN

__all__ = ["plain_log_ticks", "lambda_dynamics", "push_dynamics", "sweep_figure", "push_scatter"]


def plain_log_ticks(*axes):
    """Log axes (call after plotting) labelled with plain numbers: within a decade at 1, 1.5, 2, 2.5, 3, 4,
    5, 7 x 10^n, over more decades at fewer steps (matplotlib's own minor labels collide)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    for axis in axes:
        axis.axes.autoscale_view()  # the limits the data set, before the ticks are chosen
        low, high = sorted(axis.get_view_interval())
        decades = math.log10(high / low) if low > 0 else 3
        subs = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0) if decades <= 1.2 else (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)
        axis.set_major_locator(LogLocator(base=10, subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _log_x(ax):
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("iteration")


def lambda_dynamics(selected: list[dict], title_of):
    """Mean λ per part over training, one panel per group (``title_of(run)``), one line per seed; last
    panel: the fraction of keypoints with λ below 0.05."""
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(title_of(r) for r in selected))
    ncols = min(3, len(groups) + 1)  # wider figures get rows: a panel stays readable in the column
    nrows = math.ceil((len(groups) + 1) / ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH_IN, 2.6 * nrows + 0.3), squeeze=False)
    axes = grid.reshape(1, -1)
    for ax in axes[0, len(groups) + 1:]:
        ax.set_visible(False)
    for ax, group in zip(axes[0], groups):
        for n, r in enumerate(r for r in selected if title_of(r) == group):
            for part, (its, values) in kaf_part_means(r["kaf_log"]).items():
                ax.plot(its, values, color=PART_COLORS[part], lw=1.1, alpha=0.8, label=part if n == 0 else None)
        ax.set_yscale("log")
        _log_x(ax)
        ax.set_title(group, fontsize=9)
    for ax in axes[0, :len(groups):ncols]:
        ax.set_ylabel("mean λ of the part")
    ax = axes[0, len(groups)]
    for i, group in enumerate(groups):
        for n, r in enumerate(r for r in selected if title_of(r) == group):
            its, ordered = kaf_series(r["kaf_log"])
            ax.plot(its, kaf_study.fraction_below(ordered),
                    color=f"C{i}", lw=1.1, alpha=0.8, label=group if n == 0 else None)
    _log_x(ax)
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("fraction of keypoints with λ < 0.05", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")  # the curves rise late: the top left stays empty
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=8)
    return fig


def push_dynamics(selected: list[dict], title_of):
    """Per group: the push per part by epoch (top) and the mean λ of the part (bottom), one line per seed."""
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(title_of(r) for r in selected))
    fig, grid = plt.subplots(2, len(groups), figsize=(TEXT_WIDTH_IN, 4.6), squeeze=False, sharex=True)
    for col, group in enumerate(groups):
        for n, r in enumerate(r for r in selected if title_of(r) == group):
            pushes = push_part_means(r["kaf_log"])
            lam = {part: [(e["epoch"], sum(e["mean"][k] for k in idx) / len(idx)) for e in r["kaf_log"]
                          if e["kind"] == "epoch"] for part, idx in PARTS.items()}
            for part, series in pushes.items():
                grid[0, col].plot(series["epochs"], series["push"], "o-", color=PART_COLORS[part], lw=1.1,
                                  ms=3, alpha=0.8, label=part if n == 0 else None)
                grid[1, col].plot(*zip(*lam[part]), "o-", color=PART_COLORS[part], lw=1.1, ms=3, alpha=0.8)
        grid[0, col].set_title(group, fontsize=9)
        grid[1, col].set_yscale("log")
        grid[1, col].set_xlabel("epoch")
    grid[0, 0].set_ylabel(r"push $\ell^{AW} - \ell^{MSE}$")
    grid[1, 0].set_ylabel("mean λ of the part")
    handles, labels = grid[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=8)
    return fig


def sweep_figure(runs: list[dict], methods, variant="paper", measured=None):
    """Final λ per part under each noise variant (wide marks: the seed mean; dots: single seeds), one row per
    method; ticks: each part's noise relative to its size (measured, ``injected_noise.json``, for the
    per-keypoint coco noise); titles: ρ(λ, noise), mean ± sd over seeds."""
    import matplotlib.pyplot as plt

    measured = measured or {}
    noises = [n for n in kaf_study.NOISE_VARIANTS if any(runs_of(runs, n, m, variant) for m in methods)] or ["default"]
    fig, axes = plt.subplots(len(methods), len(noises), figsize=(TEXT_WIDTH_IN, 2.3 * len(methods)),
                             sharey=True, squeeze=False)
    for i, method in enumerate(methods):
        for j, noise in enumerate(noises):
            ax = axes[i, j]
            members = runs_of(runs, noise, method, variant)
            if not members:
                ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes, fontsize=8)
                ax.set_xticks([])
                ax.set_title(f"{method}, {noise} noise", fontsize=9)
                continue
            finals = [kaf_study.final_part_lambda(r["kaf_log"]) for r in members]
            x = np.arange(len(kaf_study.NOISE_PARTS))
            means = [np.mean([f[p] for f in finals]) for p in kaf_study.NOISE_PARTS]
            # markers, not bars: on a log axis a bar's length means nothing
            ax.scatter(x, means, s=90, marker="_", linewidths=2.5, color=[PART_COLORS[p] for p in kaf_study.NOISE_PARTS])
            for f in finals:
                ax.scatter(x, [f[p] for p in kaf_study.NOISE_PARTS], s=10, color="0.25", zorder=3)
            ax.set_xlim(-0.6, len(x) - 0.4)
            per_keypoint = kaf_study.noise_params(noise).get("noise_kind", "part") != "part"
            if per_keypoint:  # coco: no part levels; the noise measured relative to each part, where measured
                levels = {f"noise_{p}": measured[noise][p]["relative"] for p in kaf_study.NOISE_PARTS} \
                    if noise in measured else {}
            else:
                levels = kaf_study.noise_params(noise)
            ax.set_xticks(x, [f"{p}\n{levels[f'noise_{p}']:.3f}" if f"noise_{p}" in levels else p
                              for p in kaf_study.NOISE_PARTS], fontsize=7)
            ax.set_yscale("log")
            injected = (measured or None) if per_keypoint else None
            rhos = [kaf_study.noise_correlation(r["kaf_log"], noise, injected, unit="relative") for r in members]
            rho = "ρ undefined" if all(math.isnan(v) for v in rhos) else \
                f"ρ = {np.nanmean(rhos):+.2f}" + (f" ± {np.nanstd(rhos, ddof=1):.2f}" if len(rhos) > 1 else "")
            ax.set_title(f"{method}, {noise} noise\n{len(members)} seed{'s' if len(members) > 1 else ''}; {rho}",
                         fontsize=8)
        axes[i, 0].set_ylabel("final λ")
    plain_log_ticks(axes[0, 0].yaxis)  # shared by every panel: once, after all the data
    return fig


def push_scatter(runs: list[dict], settings=(("fowkal", "paper"), ("fowkal", "barrier")), noise="default"):
    """λ against the measured push, one dot per labelled keypoint and seed, one panel per (method, variant);
    with the barrier, the optimum λ*(Δ) it predicts. None when no run of ``settings`` has its push measured."""
    import matplotlib.pyplot as plt

    pushed = {mv: [r for r in runs_of(runs, noise, *mv) if r.get("push")] for mv in settings}
    if not any(pushed.values()):
        return None
    fig, axes = plt.subplots(1, len(settings), figsize=(TEXT_WIDTH_IN, 3.0), squeeze=False)
    for ax, (method, variant) in zip(axes[0], settings):
        members = pushed[(method, variant)]
        if not members:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"{method}, {kaf_study.VARIANT_TITLES[variant]}:\npush not measured", ha="center",
                    va="center", transform=ax.transAxes, fontsize=8)
            continue
        for n, r in enumerate(members):
            for part, idx in PARTS.items():
                keep = [k for k in idx if r["push"]["labelled"][k] > 0 and r["push"]["push"][k] > 0]
                ax.scatter([r["push"]["push"][k] for k in keep], [r["push"]["lambda"][k] for k in keep], s=6,
                           alpha=0.6, color=PART_COLORS[part], label=part if n == 0 else None, linewidths=0)
        c = kaf_study.barrier_weight(variant)
        if c and members:
            lo = min(min(v for v in r["push"]["push"] if v > 0) for r in members)
            hi = max(max(r["push"]["push"]) for r in members)
            xs = np.geomspace(lo, hi, 100)
            ax.plot(xs, [barrier_equilibrium(x, c) for x in xs], color="0.2", lw=1, label=f"λ*(Δ), c = {c:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax.xaxis, ax.yaxis)
        ax.set_xlabel("mean push Δ of the keypoint")
        rhos = [kaf_study.push_correlation(r["push"]) for r in members]
        ax.set_title(f"{method}, {kaf_study.VARIANT_TITLES[variant]}\n{len(members)} seed"
                     f"{'s' if len(members) > 1 else ''}, ρ(λ, Δ) = {np.nanmean(rhos):+.2f}", fontsize=8)
        ax.legend(fontsize=7, loc="lower left")
    axes[0, 0].set_ylabel("mean λ of the keypoint")
    return fig
