"""Read one run record's logs: its per-part metrics as Markdown and its KAF trajectory (λ over training)."""
from __future__ import annotations

import json
from pathlib import Path

from ..parts import PARTS
from .metrics import format_table

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


def push_part_means(entries: list, parts=PARTS) -> dict:
    """Per part, over the epochs whose KAF-log entry carries the data terms (``awing``, ``mse``; logged
    since 2026-11-27): epoch numbers and the mean over the part's keypoints of ℓ^AW, ℓ^MSE and the push
    ℓ^AW − ℓ^MSE -> dict(epochs, awing, mse, push). Empty for a log without them."""
    epochs = sorted((e for e in entries if e["kind"] == "epoch" and "awing" in e and "mse" in e),
                    key=lambda e: e["epoch"])
    out = {}
    for name, idx in parts.items():
        awing = [sum(e["awing"][k] for k in idx) / len(idx) for e in epochs]
        mse = [sum(e["mse"][k] for k in idx) / len(idx) for e in epochs]
        out[name] = {"epochs": [e["epoch"] for e in epochs], "awing": awing, "mse": mse,
                     "push": [a - m for a, m in zip(awing, mse)]}
    return out if epochs else {}
