"""Load a run's own MMEngine checkpoints in full, and nothing else."""
from __future__ import annotations

import contextlib
from pathlib import Path

@contextlib.contextmanager
def trusted_checkpoints(*folders):
    """Let MMEngine load whole checkpoints (optimizer, message hub, numpy meta) from ``folders``.

    torch >= 2.6 loads with ``weights_only=True`` by default, which refuses MMEngine's resume
    checkpoints (mmengine issue 1655). Files inside ``folders`` (a run's own work dir) are loaded
    in full; any other file (e.g. pretrained weights) keeps torch's safe default.
    """
    import torch
    from mmengine.runner.checkpoint import CheckpointLoader

    roots = [Path(f).resolve() for f in folders]
    original = CheckpointLoader._schemes[""]

    def load_from_local_trusted(filename, map_location=None):
        path = Path(filename).expanduser().resolve()
        if not any(path.is_relative_to(root) for root in roots):
            return original(filename, map_location)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        return torch.load(path, map_location=map_location, weights_only=False)

    CheckpointLoader._schemes[""] = load_from_local_trusted
    try:
        yield
    finally:
        CheckpointLoader._schemes[""] = original
