"""Shared pieces of the book's pages: the one plotting style, part colours, the training target,
figure saving and the kernel-free explorer widget.

Every page calls :func:`use_style` first, so all figures share fonts, sizes and colours. Figures the
README shows are written to ``figures/`` by :func:`save_figure` (the book and the README then show
the same files).
"""
from __future__ import annotations

import io
import itertools
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
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


def gaussian_target(center_xy: tuple[float, float] | None = None, *, size_hw: tuple[int, int] = HEATMAP_SIZE,
                    sigma: float = SIGMA) -> np.ndarray:
    """The training target of one keypoint: MMPose's DARK ("unbiased") Gaussian, shape ``[H, W]``.

    The same function MMPose's ``MSRAHeatmap(unbiased=True)`` codec uses, so the book's maps are the
    targets the losses see in training: not truncated, p > 0 far into the background.
    """
    from mmpose.codecs.utils.gaussian_heatmap import generate_unbiased_gaussian_heatmaps

    height, width = size_hw
    if center_xy is None:
        center_xy = (width // 2, height // 2)
    x, y = center_xy
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"center {center_xy} lies outside the {width}x{height} heatmap")
    keypoints = np.array([[[x, y]]], dtype=np.float32)
    heatmaps, _ = generate_unbiased_gaussian_heatmaps(
        (width, height), keypoints, np.ones((1, 1), dtype=np.float32), sigma)
    return heatmaps[0]


#: Where the book's example keypoint sits on the 64 x 48 heatmap (x, y): a pixel centre, so p = 1 occurs.
EXAMPLE_KEYPOINT = (24, 32)


def example_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The book's example (target, prediction), ``[64, 48]`` float32 each.

    The prediction is what a half-trained network might output: a weaker copy of the target
    (0.7x) whose peak is 1.8 px off, plus N(0, 0.01²) noise, so some background pixels are
    predicted below zero (which matters for FWAHR's literal reading).
    """
    x, y = EXAMPLE_KEYPOINT
    target = gaussian_target((x, y))
    rng = np.random.default_rng(seed)
    prediction = 0.7 * gaussian_target((x + 1.5, y + 1.0)) + rng.normal(0.0, 0.01, target.shape)
    return target, prediction.astype(np.float32)


def distance_map(center_xy=EXAMPLE_KEYPOINT, size_hw: tuple[int, int] = HEATMAP_SIZE) -> np.ndarray:
    """Distance of every heatmap pixel from ``center_xy``, ``[H, W]``."""
    yy, xx = np.mgrid[:size_hw[0], :size_hw[1]]
    return np.hypot(xx - center_xy[0], yy - center_xy[1])


def frame_explorer(controls: Sequence[tuple[str, Sequence, str]],
                   render: Callable[..., bytes], *, initial: Sequence | None = None,
                   css_class: str = "fowkal-explorer"):
    """A widget that switches between pre-rendered PNG frames, with no Python callback.

    Every control (slider or toggle buttons) is ``widgets.jslink``-ed to nested ``widgets.Stack``s
    holding one ``widgets.Image`` per combination of values, so it works live in Jupyter and in the
    static book (no kernel). Identical frames share one image widget (keeps the page small).

    Args:
        controls: ``(label, values, kind)`` per axis, ``kind`` 'slider' or 'toggle'; ``values`` are
            passed to ``render`` by position, and shown formatted with ``str``.
        render: ``render(*values) -> PNG bytes`` for one combination.
        initial: the value each control starts at (default: the first of each).
        css_class: class put on the outer box (the browser test finds explorers by it).

    Returns:
        ``VBox([*controls, outer Stack])`` with the list of its jslinks in ``.links``.
    """
    import ipywidgets as widgets

    if not controls:
        raise ValueError("frame_explorer needs at least one control")
    for label, values, kind in controls:
        if kind not in ("slider", "toggle"):
            raise ValueError(f"control {label!r}: kind must be 'slider' or 'toggle', got {kind!r}")
        if len(values) == 0:
            raise ValueError(f"control {label!r} has no values")
    if initial is None:
        start = [0] * len(controls)
    else:
        if len(initial) != len(controls):
            raise ValueError(f"initial has {len(initial)} values for {len(controls)} controls")
        for (label, values, _), value in zip(controls, initial):
            if value not in list(values):
                raise ValueError(f"initial value {value!r} of control {label!r} is not one of {list(values)}")
        start = [list(values).index(value) for (_, values, _), value in zip(controls, initial)]

    images: dict[bytes, widgets.Image] = {}

    def image_for(combo) -> widgets.Image:
        png = render(*combo)
        if png not in images:
            images[png] = widgets.Image(value=png, format="png", layout=widgets.Layout(width="100%"))
        return images[png]

    # stacks_at[d] = every Stack that selects along axis d (all linked to control d)
    stacks_at: list[list[widgets.Stack]] = [[] for _ in controls]

    def build(depth: int, prefix: tuple):
        _, values, _ = controls[depth]
        if depth == len(controls) - 1:
            children = [image_for(prefix + (v,)) for v in values]
        else:
            children = [build(depth + 1, prefix + (v,)) for v in values]
        stack = widgets.Stack(children=children, selected_index=start[depth])
        stacks_at[depth].append(stack)
        return stack

    root = build(0, ())
    control_widgets, links = [], []
    for depth, (label, values, kind) in enumerate(controls):
        options = [(str(v), i) for i, v in enumerate(values)]
        style = {"description_width": "initial"}
        if kind == "slider":
            control = widgets.SelectionSlider(options=options, value=start[depth], description=label,
                                              continuous_update=True, style=style,
                                              layout=widgets.Layout(width="420px"))
        else:
            control = widgets.ToggleButtons(options=options, value=start[depth], description=label,
                                            style=style)
        for stack in stacks_at[depth]:
            # SelectionSlider/ToggleButtons 'index' == position in values == Stack child index
            links.append(widgets.jslink((control, "index"), (stack, "selected_index")))
        control_widgets.append(control)
    box = widgets.VBox(control_widgets + [root])
    box.add_class(css_class)
    box.links = links  # the jslinks (kept reachable for tests; the widgets hold them too)
    return box


def frame_count(controls: Sequence[tuple[str, Sequence, str]]) -> int:
    """How many combinations :func:`frame_explorer` renders for these controls."""
    return len(list(itertools.product(*[values for _, values, _ in controls])))


def awing_curve(target_value: float, deltas, **awing_params) -> tuple[np.ndarray, np.ndarray]:
    """AWing loss and its gradient d/dp̂ along ``p̂ = p + δ`` for one target value p.

    Both come from :func:`fowkal.losses.awing` (the gradient by autograd), in float64.
    """
    import torch

    from .losses import awing

    delta = torch.as_tensor(np.asarray(deltas, dtype=np.float64))
    target = torch.full_like(delta, float(target_value))
    pred = (target + delta).requires_grad_(True)
    loss = awing(pred, target, **awing_params)
    (grad,) = torch.autograd.grad(loss.sum(), pred)
    return loss.detach().numpy(), grad.numpy()


def awing_live_explorer():
    """All five AWing knobs at once, re-drawn by a Python callback: needs a running kernel
    (the book's pages use :func:`frame_explorer` instead, which also works without one)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    deltas = np.linspace(-1, 1, 401)

    def draw(alpha=2.1, omega=14.0, epsilon=1.0, theta=0.5, p=0.5):
        fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, 2.8))
        loss, grad = awing_curve(p, deltas, alpha=alpha, omega=omega, epsilon=epsilon, theta=theta)
        ax_loss.plot(deltas, loss, label=f"AWing, p = {p:g}")
        ax_loss.plot(deltas, deltas ** 2, "k--", lw=1, label="MSE")
        ax_grad.plot(deltas, grad)
        ax_grad.plot(deltas, 2 * deltas, "k--", lw=1)
        for ax in (ax_loss, ax_grad):
            ax.axvline(-theta, color="0.6", ls=":")
            ax.axvline(theta, color="0.6", ls=":")
            ax.set_xlabel("error δ = p̂ − p")
        ax_loss.set_ylabel("loss")
        ax_grad.set_ylabel("d loss / d p̂")
        ax_loss.legend()
        plt.show()

    return widgets.interact(
        draw,
        alpha=widgets.FloatSlider(value=2.1, min=2.0, max=4.0, step=0.1, description="α"),
        omega=widgets.FloatSlider(value=14, min=1, max=30, step=1, description="ω"),
        epsilon=widgets.FloatLogSlider(value=1, base=2, min=-3, max=3, description="ε"),
        theta=widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="θ"),
        p=widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="target p"),
    )


# --------------------------------------------------------------------------- result pages
#: Where the committed CPU reproduction's run records live (``<method>/seed<N>/run_record.json``).
DEFAULT_RUNS_DIR = REPO_ROOT / "figures" / "runs" / "cpu"
#: Environment variable that points the result pages at another folder of run records.
RUNS_DIR_ENV = "FOWKAL_RUNS_DIR"


def runs_dir() -> Path:
    """The folder of run records the result pages read: ``$FOWKAL_RUNS_DIR`` or the committed one."""
    value = os.environ.get(RUNS_DIR_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_RUNS_DIR


def writes_figures() -> bool:
    """Whether result figures go to ``figures/``: only when drawn from the committed records (a
    book built from another records folder must not overwrite the README's figures)."""
    return runs_dir() == DEFAULT_RUNS_DIR.resolve()


def admonition(title: str, text: str, *, kind: str = "warning", css_class: str = "") -> str:
    """MyST source of an admonition box, for a code cell's ``Markdown`` output (a colon fence, so
    the text may hold code blocks)."""
    if kind not in ("note", "warning", "important", "tip", "caution"):
        raise ValueError(f"admonition kind must be note, warning, important, tip or caution, got {kind!r}")
    # four colons: the text may hold a three-colon block (a wide_table); a blank line ends the options
    return f"::::{{admonition}} {title}\n:class: {kind} {css_class}\n\n{text}\n::::\n"


def wide_table(markdown: str) -> str:
    """A Markdown table wrapped so that the book's CSS draws it compact (class ``fowkal-wide``)."""
    return f":::{{container}} fowkal-wide\n{markdown}\n:::\n"


def nbsp(text) -> str:
    """``text`` with non-breaking spaces, so that a table cell ("45.1 ± 0.3") stays on one line."""
    return str(text).replace(" ", "\u00a0")


def repo_relative(path) -> str:
    """``path`` relative to the repository when inside it (for provenance lines), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


#: How to make the CPU reproduction's run records (said wherever they are missing).
MAKE_RECORDS = ("# 8 methods x 3 seeds, cpu profile, resumable (about 2 h on 2 cores)\n"
                "papermill notebooks/ablation.ipynb work_dirs/ablation.ipynb")


def run_records(folder=None) -> tuple[list[dict], str | None]:
    """Every run record under ``folder`` (default :func:`runs_dir`), checked by
    :func:`fowkal.run_record.load` (``files`` absolute, ``_path`` added), sorted by path; and, when
    there are none, why (a sentence for the reader), else None."""
    from . import run_record

    folder = runs_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        return [], f"`{repo_relative(folder)}` does not exist"
    records = []
    for path in sorted(folder.rglob(run_record.RECORD_NAME)):
        record = run_record.load(path)
        record["_path"] = str(path)
        records.append(record)
    if not records:
        return [], f"`{repo_relative(folder)}` holds no `{run_record.RECORD_NAME}`"
    return records, None


def missing_records(reason: str, consequence: str, *, first: bool = True) -> str:
    """The admonition a result page shows instead of a figure or table whose records are missing:
    in full (why, and how to make them) the first time on a page, then in one line."""
    if not first:
        return admonition("No run records yet", f"{consequence.rstrip('.')} (see the note at the top of the page).",
                          kind="warning", css_class="fowkal-missing")
    return admonition(
        "No run records yet",
        f"{reason}: the CPU reproduction has not been run (or not committed) where this book was "
        f"built. {consequence}\n\nTo make them (then rebuild the book):\n\n```bash\n{MAKE_RECORDS}\n```\n\n"
        f"To point the book at another folder of records: `{RUNS_DIR_ENV}=/path/to/records`.",
        kind="warning", css_class="fowkal-missing")


def provenance(record: dict) -> dict:
    """Where one record's numbers come from: method, seed, commit, machine, device, time, file."""
    git = record.get("git") or {}
    commit = git.get("commit")
    machine = record.get("machine") or {}
    device = record.get("device") or {}
    return {
        "method": record["method"], "seed": record["seed"],
        "commit": "unknown" if not commit else commit[:8] + (" (dirty)" if git.get("dirty") else ""),
        "machine": f"{machine.get('cpu_count', '?')} CPUs, {machine.get('platform', '?')}",
        "device": f"{device.get('type', '?')} × {device.get('processes', 1)}",
        "created": record.get("created", "?"),
        "wall_time_s": record.get("wall_time_s"),
        "file": repo_relative(record.get("_path", "?")),
    }
