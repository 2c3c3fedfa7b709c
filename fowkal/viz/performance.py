"""The performance chapter's figures, one function each: the losses' cost (:func:`loss_times_figure`)."""
from __future__ import annotations

import math

from .style import CURVE_COLORS, TEXT_WIDTH_IN

__all__ = ["loss_times_figure"]


def _median_ms(rows, method, implementation) -> float:
    found = [1e3 * r["median_s"] for r in rows if r["method"] == method and r["implementation"] == implementation]
    return found[0] if found else math.nan


def loss_times_figure(result: dict):
    """``bench_losses.json``: forward + backward time per method, reference against fused, one panel per shape,
    with MMPose's MSE and AWing as lines."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in result["losses"]))
    fig, axes = plt.subplots(1, len(shapes), figsize=(TEXT_WIDTH_IN, 3.4), sharey=True, squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        rows = [r for r in result["losses"] if tuple(r["shape"]) == shape and r["device"] == "cpu"]
        methods = list(dict.fromkeys(r["method"] for r in rows if r["implementation"] in ("reference", "fused")))
        y = np.arange(len(methods))
        for offset, impl, color in ((-0.2, "reference", CURVE_COLORS[0]), (0.2, "fused", CURVE_COLORS[1])):
            times = [_median_ms(rows, m, impl) for m in methods]
            ax.barh(y + offset, times, height=0.38, color=color,
                    label=f"{'before: reference' if impl == 'reference' else 'after: fused (the default)'}")
        for method, line_style in (("awing", "--"), ("mse", ":")):
            mm = _median_ms(rows, method, "mmpose")
            if not np.isnan(mm):
                ax.axvline(mm, color="0.3", ls=line_style, lw=1, label=f"MMPose {'MSE' if method == 'mse' else 'AWing'}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(y, methods)
        ax.set_xlabel("ms, forward + backward")
        ax.set_title(f"{list(shape)}", fontsize=9)
    axes[0, 0].invert_yaxis()  # once: the axes share y
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=8)
    return fig
