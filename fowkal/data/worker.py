"""A benchmark worker: a fresh interpreter that renders a share of the images.

Run by ``fowkal.data.generate`` as ``python -m fowkal.data.worker`` with a JSON job on stdin
(``{"tasks": [[seed, split, index, params, folder], ...], "out": path}``); it prints a line per
finished image on stdout (the parent's progress) and writes the tasks' results, in order, as JSON
to ``out``. Fresh interpreters (not multiprocessing) because fork
can deadlock on thread pools the caller already runs (OpenCV, OpenMP), and spawn re-runs a
calling script that lacks an ``if __name__ == "__main__"`` guard.
"""
from __future__ import annotations

import json
import sys


def main() -> int:
    import cv2

    from .generate import render_task

    cv2.setNumThreads(1)  # one worker per core already
    job = json.load(sys.stdin)
    results = []
    for task in job["tasks"]:
        results.append(render_task(tuple(task)))
        print(1, flush=True)  # one line per image: the parent's progress bar
    with open(job["out"], "w") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
