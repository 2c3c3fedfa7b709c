"""Draw one run: its loss and KAF curves (:func:`plot_run`) and its predicted keypoints (:func:`draw_predictions`)."""
from __future__ import annotations

import json
from pathlib import Path

from ..parts import ANNOTATION_FIELDS, EVAL_PARTS
from ..runs.logs import kaf_log, kaf_part_means
from .style import PART_COLORS


def plot_run(record: dict):
    """Loss per epoch and (for KAL-family methods) the mean λ of each part over training."""
    import matplotlib.pyplot as plt

    entries = kaf_log(record)
    fig, axes = plt.subplots(1, 2 if entries else 1, figsize=(10 if entries else 5, 3.4), squeeze=False)
    ax = axes[0, 0]
    losses = record.get("losses") or []
    ax.plot([e["epoch"] for e in losses], [e["loss"] for e in losses], marker="o")
    ax.set(xlabel="epoch", ylabel="mean training loss", title=f"{record['method']}: loss")
    if entries:
        ax = axes[0, 1]
        for name, (xs, ys) in kaf_part_means(entries).items():
            ax.plot(xs, ys, marker=".", label=name)
        ax.set(xlabel="iteration (epoch means at mid-epoch)", ylabel="mean λ (absolute)", title="KAF per part",
               ylim=(0, 1))
        ax.set_xscale("symlog", linthresh=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def draw_predictions(result: dict, *, num_images: int = 4, min_score: float = 0.2):
    """Draw the predicted keypoints (coloured by part) of the first ``num_images`` images.

    ``result`` is :func:`fowkal.evaluate` with ``details=True``: it names the results file,
    the annotation file and the image folder.
    """
    import matplotlib.pyplot as plt
    from PIL import Image


    ann = json.loads(Path(result["ann_file"]).read_text())
    files = {img["id"]: img["file_name"] for img in ann["images"]}
    results = json.loads(Path(result["results_file"]).read_text())
    chosen = sorted({r["image_id"] for r in results})[:num_images]
    if not chosen:
        raise ValueError(f"no predictions in {result['results_file']}")
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.2 * len(chosen), 3.4), squeeze=False)
    part_of_field = {field: next(p for p, idx in EVAL_PARTS.items() if idx == kp)
                     for field, kp in ANNOTATION_FIELDS.items()}
    for ax, image_id in zip(axes[0], chosen):
        ax.imshow(Image.open(Path(result["image_dir"]) / files[image_id]))
        for person in (r for r in results if r["image_id"] == image_id and r["score"] >= min_score):
            for field, part in part_of_field.items():
                values = person[field]
                xs, ys, ss = values[0::3], values[1::3], values[2::3]
                keep = [i for i, s in enumerate(ss) if s >= min_score]
                color = PART_COLORS["hand" if "hand" in part else part]
                ax.scatter([xs[i] for i in keep], [ys[i] for i in keep], s=4, color=color)
        ax.set_title(f"image {image_id}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig
