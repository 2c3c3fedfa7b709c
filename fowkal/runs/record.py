"""Run records: one small JSON per training run, the only input of the book and the ablation tables.

A record says what ran (method, profile, seed, the resolved config and its sha256), on what
(project commit, package versions, device, machine without its hostname), how long it took,
the per-epoch mean training loss, the final per-part metrics, a few predictions for the book's
Fig. 4, and where the run's KAF log, loss log and checkpoints are.

File paths in ``files`` are stored relative to the record's folder (the run's work dir), so a
record and its logs can be moved together (e.g. committed without the checkpoints);
:func:`load` resolves them against the folder the record is read from.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..jsonfile import write_json_atomic

#: Bump when a field changes meaning or is removed (adding a field keeps the version).
SCHEMA_VERSION = 1
KIND = "fowkal-run"
RECORD_NAME = "run_record.json"
REQUIRED_FIELDS = ("schema_version", "kind", "method", "profile", "seed", "config", "versions",
                   "losses", "metrics", "files")
PACKAGES = ("torch", "torchvision", "mmpose", "mmengine", "mmcv-lite", "mmcv", "numpy",
            "xtcocotools", "fowkal")


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict:
    """Installed versions of the packages a run depends on (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_state(path=None) -> dict:
    """Commit and dirty flag of the git checkout holding ``path`` (default: this package).

    Dirty means tracked files differ from the commit; untracked files (the run records an ablation
    writes while it runs) do not count; ``changed`` names the first 20 changed files.
    ``{"commit": None, "dirty": None}`` outside a git checkout.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=20, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    # which tracked files differed, so a reader can tell a regenerated figure from changed code
    return {"commit": commit, "dirty": bool(changed), "changed": changed[:20]}


def machine() -> dict:
    """What ran the job, without naming it (no hostname, no user)."""
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "machine": platform.machine(), "python": platform.python_version()}


def device_info(device: str, world_size: int = 1) -> dict:
    info = {"type": device, "processes": world_size}
    if device == "cuda":
        import torch

        info["name"] = torch.cuda.get_device_name(0)
        info["count"] = torch.cuda.device_count()
    return info


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write(record: dict, path) -> Path:
    """Check ``record`` and write it atomically to ``path``."""
    _check(record, path)
    return write_json_atomic(record, path)


def load(path) -> dict:
    """Read and check a run record; ``files`` come back as absolute paths (None stays None)."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_NAME
    if not path.is_file():
        raise FileNotFoundError(f"run record not found: {path}")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    _check(record, path)
    record["files"] = {key: _resolve(path.parent, value) for key, value in record["files"].items()}
    return record


def _resolve(folder: Path, value):
    if value is None:
        return None
    if isinstance(value, list):
        return [str(folder / v) for v in value]
    return str(folder / value)


def _check(record, path) -> None:
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise ValueError(f"{path} is not a fowkal run record (kind != {KIND!r})")
    version = record.get("schema_version")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise ValueError(f"{path}: run record schema_version {version!r} is not supported "
                         f"(this fowkal reads 1..{SCHEMA_VERSION})")
    missing = [field for field in REQUIRED_FIELDS if field not in record]
    if missing:
        raise ValueError(f"{path}: run record lacks {missing}")
