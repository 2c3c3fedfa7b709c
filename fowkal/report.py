"""Show one run record: its per-part metrics table, loss curve and KAF trajectory."""
from __future__ import annotations

import json
from pathlib import Path

from .metrics import format_table
from .parts import PARTS

BOX_TITLES = {"gt_boxes": "ground-truth boxes", "detections": "person detections"}


def metrics_markdown(record: dict) -> str:
    """Markdown: one AP/AR table per evaluation (GT boxes, detections) of the run."""
    blocks = [f"**{record['method']}** ({record['profile']} profile, seed {record['seed']}, "
              f"{record['schedule']['epochs']} epochs, {record.get('wall_time_s', float('nan')):.0f} s)"]
    for name, title in BOX_TITLES.items():
        metrics = (record.get("metrics") or {}).get(name)
        if metrics:
            blocks.append(f"Validation with {title}:\n\n{format_table(metrics)}")
    return "\n\n".join(blocks)


def kaf_log(record: dict) -> list | None:
    """The run's KAF log entries (None for methods without a KAF)."""
    path = record["files"].get("kaf_log")
    if not path:
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the run record names a KAF log {path} that does not exist")
    return json.loads(path.read_text())


def kaf_positions(entries: list) -> list[float]:
    """Where each KAF-log entry sits on an iteration axis: a batch at its iteration, an epoch mean at
    the middle of its epoch (it averages the whole epoch; drawn at the epoch's end, epoch 1's mean,
    still near the initial 0.5, would look like a jump back up after the first batches)."""
    ends = sorted({e["iter"] for e in entries if e["kind"] == "epoch"})
    out = []
    for e in entries:
        if e["kind"] != "epoch":
            out.append(float(e["iter"]))
            continue
        start = max([0] + [end for end in ends if end < e["iter"]])
        out.append((start + e["iter"]) / 2)
    return out


def kaf_series(entries: list) -> tuple[list[float], list]:
    """The entries in time order of :func:`kaf_positions` -> (positions, entries)."""
    pairs = sorted(zip(kaf_positions(entries), range(len(entries))))
    return [x for x, _ in pairs], [entries[i] for _, i in pairs]


def kaf_part_means(entries: list, parts=PARTS) -> dict:
    """Per part: the mean λ over its keypoints at each logged point, in time order -> (x, values)."""
    xs, ordered = kaf_series(entries)
    return {name: (xs, [sum(e["mean"][k] for k in idx) / len(idx) for e in ordered]) for name, idx in parts.items()}


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

    from .book import PART_COLORS
    from .parts import ANNOTATION_FIELDS, EVAL_PARTS

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
