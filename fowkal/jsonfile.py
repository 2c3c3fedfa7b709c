"""Write JSON files whole or not at all (a killed run never leaves a half-written log or record).

Every JSON file the project writes goes through :func:`write_json_atomic`.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json_atomic(data, path, *, indent: int | None = 1, compact: bool = False) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename (never half-written).

    Args:
        data: what JSON can hold, without NaN or infinities (refused: JSON has no such numbers).
        path: the file; its folder must exist.
        indent: spaces per level (None: one line).
        compact: no spaces after separators (large files such as annotations).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=indent, allow_nan=False,
                      separators=(",", ":") if compact else None)
            f.write("\n")
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; the file gets the user's usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once, at import: os.umask can only be read by setting it (process-wide)
