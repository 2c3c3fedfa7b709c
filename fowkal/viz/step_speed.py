"""Where a training step's time goes: the step benchmark's profile as stacked bars (one per method and code)."""
from __future__ import annotations

from ..studies.step_speed import PART_LABELS, profile_rows
from .style import CURVE_COLORS, TEXT_WIDTH_IN, use_style


def step_profile_figure(result: dict):
    """Stacked horizontal bars, ms per step part, for MSE and FoWKAL under the baseline and the current code."""
    import matplotlib.pyplot as plt

    use_style()
    rows = profile_rows(result)
    # one colour per part: the curve palette and three more of the same colour-blind-safe set
    colors = dict(zip(PART_LABELS, CURVE_COLORS + ("#56B4E9", "#ECE133", "#FBAFE4")))
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH_IN, 0.55 * len(rows) + 1.6), layout="constrained")
    labels = [f"{r['method']} ({r['code']})" for r in rows]
    for i, row in enumerate(rows):
        left = 0.0
        for part, label in PART_LABELS.items():
            width = row["parts_ms"][part]
            ax.barh(i, width, left=left, color=colors[part], hatch="//" if part in ("backward", "data_wait") else None,
                    edgecolor="white", label=label if i == 0 else None)
            left += width
        ax.plot([row["step_ms"]], [i], marker="|", color="black", markersize=14)
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("ms per training step (median; | = the whole step)")
    fig.legend(ncol=3, fontsize="small", loc="outside lower center", frameon=False)
    return fig


__all__ = ["step_profile_figure"]
