"""The book's example heatmaps and its explorers: pre-rendered frames switched by sliders (work in
the static page, no kernel) and one live explorer for a running kernel."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..losses.functional import awing
from .style import HEATMAP_SIZE, SIGMA, TEXT_WIDTH_IN


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


def awing_curve(target_value: float, deltas, **awing_params) -> tuple[np.ndarray, np.ndarray]:
    """AWing loss and its gradient d/dp̂ along ``p̂ = p + δ`` for one target value p.

    Both come from :func:`fowkal.losses.awing` (the gradient by autograd), in float64.
    """
    import torch

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
