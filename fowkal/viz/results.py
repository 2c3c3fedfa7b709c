"""The results chapter's figure: each claim of the paper, the paper's Δ beside ours."""
from __future__ import annotations

import math

from ..studies import ablation
from .style import CURVE_COLORS, TEXT_WIDTH_IN

__all__ = ["VERDICT_COLORS", "claims_figure"]

VERDICT_COLORS = {ablation.REPRODUCED: CURVE_COLORS[2], ablation.CONTRADICTED: CURVE_COLORS[3],
                  ablation.INCONCLUSIVE: CURVE_COLORS[6]}


def claims_figure(rows: list[dict]):
    """Paper's Δ (black diamond) and ours (dot and its interval, coloured by verdict), one line per claim
    (``rows``: :func:`fowkal.studies.ablation.claims`)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(TEXT_WIDTH_IN, 0.32 * len(rows) + 1.0))
    for i, row in enumerate(rows):
        color = VERDICT_COLORS[row["verdict"]]
        if not math.isnan(row["d"]):
            if not math.isnan(row["low"]):
                ax.plot([row["low"], row["high"]], [i, i], color=color, lw=1.6, solid_capstyle="butt")
            ax.plot(row["d"], i, "o", color=color, ms=5)
        ax.plot(row["paper_delta"], i, "D", color="black", ms=4)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(range(len(rows)), [row["claim"] for row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("AP difference, better − worse method (points; ours: paired mean and its interval at "
                  "the claim's Holm level)")
    handles = [plt.Line2D([], [], marker="D", color="black", ls="", ms=4, label="paper")]
    handles += [plt.Line2D([], [], marker="o", color=c, ls="-", ms=5, label=f"ours: {v}")
                for v, c in VERDICT_COLORS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=True)
    return fig
