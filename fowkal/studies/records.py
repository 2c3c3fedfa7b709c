"""Which run records a study reads, and where each one comes from.

The committed CPU reproduction lives in ``results/cpu/<method>/seed<N>/run_record.json`` (the KAF
study's runs beside it, in ``results/kaf-study/``); ``$FOWKAL_RUNS_DIR`` points the studies (and
the book) at another folder laid out the same way.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..runs import record as run_record

__all__ = ["REPO_ROOT", "DEFAULT_RUNS_DIR", "RUNS_DIR_ENV", "runs_dir", "run_records", "provenance", "record_caption",
           "repo_relative", "nbsp"]

REPO_ROOT = run_record.repo_root()
#: Where the committed CPU reproduction's run records live (``<method>/seed<N>/run_record.json``).
DEFAULT_RUNS_DIR = REPO_ROOT / "results" / "cpu"
#: Environment variable that points the studies at another folder of run records (laid out as
#: ``results/cpu``: ``<method>/seed<N>/``; the KAF study reads ``kaf-study/`` in its parent).
RUNS_DIR_ENV = "FOWKAL_RUNS_DIR"


def runs_dir() -> Path:
    """The folder of run records the studies read: ``$FOWKAL_RUNS_DIR`` or the committed one."""
    value = os.environ.get(RUNS_DIR_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_RUNS_DIR


def repo_relative(path) -> str:
    """``path`` relative to the repository when inside it (for provenance lines), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def nbsp(text) -> str:
    """``text`` with non-breaking spaces, so that a table cell ("45.1 ± 0.3") stays on one line."""
    return str(text).replace(" ", "\u00a0")


def run_records(folder=None) -> tuple[list[dict], str | None]:
    """Every run record under ``folder`` (default :func:`runs_dir`), checked by
    :func:`fowkal.runs.record.load` (``files`` absolute, ``_path`` added), sorted by path; and, when
    there are none, why (a sentence for the reader), else None."""
    folder = runs_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        return [], f"`{repo_relative(folder)}` does not exist"
    records = []
    for path in sorted(folder.rglob(run_record.RECORD_NAME)):
        record = run_record.load(path)
        record["_path"] = str(path)
        records.append(record)
    if not records:
        return [], f"`{repo_relative(folder)}` holds no `{run_record.RECORD_NAME}`"
    return records, None


def provenance(record: dict) -> dict:
    """Where one record's numbers come from: method, seed, commit, machine, device, time, file."""
    git = record.get("git") or {}
    commit = git.get("commit")
    machine = record.get("machine") or {}
    device = record.get("device") or {}
    return {
        "method": record["method"], "seed": record["seed"],
        "commit": "unknown" if not commit else commit[:8] + (" (dirty)" if git.get("dirty") else ""),
        "machine": f"{machine.get('cpu_count', '?')} CPUs, {machine.get('platform', '?')}",
        "device": f"{device.get('type', '?')} × {device.get('processes', 1)}",
        "created": record.get("created", "?"),
        "wall_time_s": record.get("wall_time_s"),
        "file": repo_relative(record.get("_path", "?")),
    }


def record_caption(record: dict, what: str = "") -> str:
    """A figure caption's source: ``what`` then the record's file, method, seed, commit, machine and device."""
    p = provenance(record)
    return (f"{what}`{p['file']}` ({p['method']}, seed {p['seed']}, commit `{p['commit']}`, "
            f"{p['machine']}, {p['device']})")
