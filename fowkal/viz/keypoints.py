"""The 133 keypoints at a glance: their parts (:func:`parts_markdown`) and evaluation tolerances
(:func:`oks_sigma_figure`)."""
from __future__ import annotations

from .. import parts
from .style import PART_COLORS, TEXT_WIDTH_IN

__all__ = ["parts_markdown", "median_sigmas", "oks_sigma_figure"]


def parts_markdown() -> str:
    """The four parts of :mod:`fowkal.parts`: how many keypoints, which indices."""
    rows = ["| part | keypoints | indices |", "|---|---:|---|"]
    for name, idx in parts.PARTS.items():
        rows.append(f"| {name} | {len(idx)} | {min(idx)}–{max(idx)} |")
    rows.append(f"| **all** | **{parts.NUM_KEYPOINTS}** | 0–{parts.NUM_KEYPOINTS - 1} |")
    return "\n".join(rows)


def median_sigmas() -> dict[str, float]:
    """The median OKS σ (COCO-WholeBody's evaluation tolerance) of each part's keypoints."""
    import numpy as np

    return {name: float(np.median([parts.SIGMAS[i] for i in idx])) for name, idx in parts.PARTS.items()}


def oks_sigma_figure():
    """Every keypoint's OKS σ, coloured by part."""
    import matplotlib.pyplot as plt
    import numpy as np

    sigmas = np.asarray(parts.SIGMAS)
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH_IN, 2.8))
    for name, idx in parts.PARTS.items():
        idx = np.asarray(idx)
        ax.bar(idx, sigmas[idx], width=0.85, color=PART_COLORS[name], label=f"{name}: median {np.median(sigmas[idx]):.3f}")
    ax.set_xlim(-1, parts.NUM_KEYPOINTS)
    ax.set_xlabel("keypoint index")
    ax.set_ylabel("OKS σ (evaluation tolerance)")
    fig.legend(loc="outside upper center", ncols=4, fontsize=8)
    return fig
