"""A benchmark worker: a fresh interpreter that renders a share of the images.

Run by ``fowkal.data.generate`` as a script, ``python <package>/data/worker.py``, with a JSON job on
stdin (``{"tasks": [[seed, split, index, params, folder], ...], "out": path}``); it prints a line per
finished image on stdout (the parent's progress) and writes the tasks' results, in order, as JSON
to ``out``. Fresh interpreters (not multiprocessing) because fork can deadlock on thread pools the
caller already runs (OpenCV, OpenMP), and spawn re-runs a calling script that lacks an
``if __name__ == "__main__"`` guard. ``python -m fowkal.data.worker`` works too, but imports the
package root (and torch with it: ~2 s per worker that the data layer does not need).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    import cv2

    from ..jsonfile import write_json_atomic
    from .generate import render_task

    cv2.setNumThreads(1)  # one worker per core already
    job = json.load(sys.stdin)
    results = []
    for task in job["tasks"]:
        results.append(render_task(tuple(task)))
        print(1, flush=True)  # one line per image: the parent's progress bar
    write_json_atomic(results, job["out"], indent=None, compact=True)
    return 0


def _package_without_its_root() -> None:
    """Run as a script: make ``fowkal.data`` importable without executing ``fowkal/__init__.py``
    (an empty package module with the right ``__path__``; the data layer imports only ``fowkal.parts``
    from above it), and drop the script's folder from ``sys.path`` (its modules are not top-level)."""
    import types

    here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == here:
        sys.path.pop(0)
    package = types.ModuleType("fowkal")
    package.__path__ = [str(here.parent)]
    sys.modules.setdefault("fowkal", package)


if __name__ == "__main__":
    if not __package__:  # a script
        _package_without_its_root()
        from fowkal.data.worker import main as package_main

        sys.exit(package_main())
    sys.exit(main())
