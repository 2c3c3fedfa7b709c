"""The one plotting style of the project: part colours (the one palette), curve colours, figure
width, matplotlib/seaborn settings, and figure saving.

Every page calls :func:`use_style` first, so all figures share fonts, sizes and colours. Figures the
README shows are written to ``figures/`` by :func:`save_figure` (the book and the README then show
the same files).
"""
from __future__ import annotations

import io
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES_DIR = REPO_ROOT / "figures"

#: Heatmap size of the paper's 256x192 input (H' x W' = 64 x 48) and the target's sigma (DARK, σ = 2).
HEATMAP_SIZE = (64, 48)
SIGMA = 2.0

#: One colour per part (seaborn's colour-blind palette), used by every figure that colours by part.
PART_COLORS = {
    "body": "#0173B2",
    "foot": "#DE8F05",
    "face": "#029E73",
    "hand": "#CC78BC",  # not the palette's vermillion: too close to the foot's orange in thin lines
}
#: Colours for a handful of curves (target values, methods), in order.
CURVE_COLORS = ("#0173B2", "#DE8F05", "#029E73", "#D55E00", "#CC78BC", "#CA9161", "#949494")

#: Figure width (inches) that fills the book's text column.
TEXT_WIDTH_IN = 7.5


def use_style() -> None:
    """Set the book's matplotlib/seaborn style (call once at the top of a page)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="ticks", palette=list(CURVE_COLORS), font_scale=0.9)
    mpl.rcParams.update({
        "figure.figsize": (TEXT_WIDTH_IN, 3.0),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "savefig.bbox": "tight",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.35,
        "legend.frameon": False,
        "image.interpolation": "nearest",
        "figure.constrained_layout.use": True,
    })


def save_figure(fig, name: str) -> Path:
    """Write ``fig`` to ``figures/<name>.png`` (the README shows these) and return the path."""
    if not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"figure name must be a bare name without '/' or '.png', got {name!r}")
    FIGURES_DIR.mkdir(exist_ok=True)
    path = FIGURES_DIR / f"{name}.png"
    # no 'Software' tag: a re-generated figure is byte-identical unless it really changed
    fig.savefig(path, metadata={"Software": None})
    return path


def figure_png(fig, *, dpi: int = 80, colors: int = 64) -> bytes:
    """Render ``fig`` to a small PNG (for pre-rendered explorer frames) and close it.

    The image is reduced to a ``colors``-colour palette: about 4x smaller than full colour and
    indistinguishable for line plots and smooth colour maps, which keeps explorer pages light.
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    small = io.BytesIO()
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(small, format="png", optimize=True)
    return small.getvalue()
