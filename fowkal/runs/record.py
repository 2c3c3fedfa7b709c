"""Run records: one small JSON per training run, the only input of the book and the ablation tables.

A record says what ran (method, profile, seed, and in ``config`` what regenerates the resolved
MMEngine config: the build arguments, the config overrides, the run options, and the sha256 of the
config's canonical text), on what (``data``: the data root and, for the embedded benchmark, its
generator version, seed and parameters; project commit, package versions, device, machine without
its hostname), how long it took, the per-epoch mean training loss, the final per-part metrics, a
few predictions for the book's Fig. 4, and where the run's KAF log, loss log and checkpoints are.

No record holds a path of the machine that made it when it can be helped: paths under the data root
(:func:`fowkal.data.default_data_root`: ``$FOWKAL_DATA_ROOT``, else the repo's ``data/``) are
stored as ``$FOWKAL_DATA_ROOT/...``, paths inside the repository relative to it, the data files
relative to the record's data root, and ``files`` relative to the record's folder (the run's work
dir), so that a record and its logs can be moved together (e.g. committed without the checkpoints
and without MMEngine's ``config.py`` dump); :func:`load` resolves ``files`` against the folder the
record is read from. Only a data root outside both (e.g. ``/data/coco``) stays absolute.

The config hash (:func:`config_sha256`) is taken over a canonical text of the config: JSON with
sorted keys, the data root and the pretrained weights replaced by placeholders, the work dir and
the resume flag left out (where a run wrote and whether it was continued do not change what it
trained). :func:`fowkal.runs.runconfig.regenerate_config` rebuilds a record's config from the
record alone and checks it against that hash.
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
#: 2: ``config`` regenerates the config (args, overrides, run, canonical sha256) instead of naming a
#: ``config.py`` dump; ``data`` paths relative to the data root, the root itself portable.
SCHEMA_VERSION = 2
KIND = "fowkal-run"
RECORD_NAME = "run_record.json"
REQUIRED_FIELDS = ("schema_version", "kind", "method", "profile", "seed", "config", "versions",
                   "losses", "metrics", "files")
#: What a stored path starting with it is relative to: :func:`fowkal.data.default_data_root`.
DATA_ROOT_VAR = "$FOWKAL_DATA_ROOT"
#: The canonical config text's placeholders for the data root and the pretrained weights file.
DATA_ROOT_PLACEHOLDER, PRETRAINED_PLACEHOLDER = "${data_root}", "${pretrained}"
#: Config keys left out of the canonical text: where the run wrote, and whether it was resumed.
UNHASHED_KEYS = ("work_dir", "resume")
#: What a schema-2 record's ``config`` block must hold (see :mod:`fowkal.runs.runconfig`).
CONFIG_FIELDS = ("source", "args", "overrides", "run", "sha256")
PACKAGES = ("torch", "torchvision", "mmpose", "mmengine", "mmcv-lite", "mmcv", "numpy",
            "xtcocotools", "fowkal")


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


# --------------------------------------------------------------------------- portable paths
def repo_root() -> Path:
    """The checkout holding this package (paths inside it are stored relative to it)."""
    return Path(__file__).resolve().parents[2]


def _data_root_base() -> Path:
    from ..data import default_data_root

    return Path(default_data_root()).expanduser().resolve()


def _inside(path: Path, base: Path):
    try:
        return path.relative_to(base)
    except ValueError:
        return None


def portable_path(path) -> str:
    """``path`` as a record stores it: ``$FOWKAL_DATA_ROOT/<rel>`` under the data root, else relative
    to the repository when inside it, else absolute (a folder keeps a trailing ``/``)."""
    text = str(path)
    full = Path(text).expanduser().resolve()
    slash = "/" if text.endswith("/") else ""
    rel = _inside(full, _data_root_base())
    if rel is not None:
        return f"{DATA_ROOT_VAR}/{rel.as_posix()}{slash}" if rel.parts else DATA_ROOT_VAR + slash
    rel = _inside(full, repo_root())
    if rel is not None:
        return (rel.as_posix() if rel.parts else ".") + slash
    return str(full) + slash


def resolve_path(text: str) -> Path:
    """The inverse of :func:`portable_path` on this machine."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"a stored path must be a non-empty string, got {text!r}")
    if text == DATA_ROOT_VAR or text.startswith(DATA_ROOT_VAR + "/"):
        return _data_root_base() / text[len(DATA_ROOT_VAR):].lstrip("/")
    path = Path(text)
    return path if path.is_absolute() else repo_root() / path


def data_root(record: dict) -> Path:
    """The data root a record trained on, resolved on this machine (it may not exist here)."""
    if record.get("schema_version", 1) < 2:
        return Path(record["data"]["data_root"])  # schema 1 stored the machine's absolute path
    return resolve_path(record["data"]["root"])


# --------------------------------------------------------------------------- config hash
def canonical_config(cfg) -> str:
    """The machine-independent text of an MMEngine config (or its dict) that :func:`config_sha256`
    hashes: JSON, sorted keys, tuples as lists; the data root (``cfg.fowkal.data_root``) and the
    pretrained weights (``cfg.fowkal.pretrained``) replaced by placeholders wherever a string is or
    starts with them, :data:`UNHASHED_KEYS` left out, and the config file named from the package
    (``fowkal/configs/<profile>/<method>.py``)."""
    tree = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    meta = dict(tree.get("fowkal") or {})
    subs = [(str(meta[key]).rstrip("/"), placeholder)
            for key, placeholder in (("data_root", DATA_ROOT_PLACEHOLDER), ("pretrained", PRETRAINED_PLACEHOLDER))
            if meta.get(key)]
    tree = {key: value for key, value in tree.items() if key not in UNHASHED_KEYS}
    if meta.get("config_file"):
        tree["fowkal"] = dict(meta, config_file=package_relative(meta["config_file"]))
    try:
        return json.dumps(_substitute(tree, subs), sort_keys=True, indent=1, ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"the config holds a value that has no canonical JSON text: {err}") from None


def config_sha256(cfg) -> str:
    """sha256 of :func:`canonical_config`: what a record's ``config.sha256`` holds."""
    return hashlib.sha256(canonical_config(cfg).encode("utf-8")).hexdigest()


def package_relative(path) -> str:
    """A file of this package named from the package (``fowkal/configs/cpu/mse.py``), wherever it is."""
    parts = Path(str(path)).parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "fowkal" and parts[i + 1:i + 2] == ("configs",):
            return "/".join(parts[i:])
    return str(path)


def _substitute(obj, subs):
    if isinstance(obj, str):
        for old, new in subs:
            if obj == old or obj.startswith(old + "/"):
                return new + obj[len(old):]
        return obj
    if isinstance(obj, dict):
        return {key: _substitute(value, subs) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_substitute(value, subs) for value in obj]
    return obj


# --------------------------------------------------------------------------- reading and writing
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
    if version >= 2:
        config = record["config"]
        lacking = [key for key in CONFIG_FIELDS if not isinstance(config, dict) or key not in config]
        if lacking:
            raise ValueError(f"{path}: the record's config block lacks {lacking}")
        if not isinstance(record.get("data"), dict) or not record["data"].get("root"):
            raise ValueError(f"{path}: the record names no data root (data.root)")
