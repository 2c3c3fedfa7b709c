"""Helpers of the book's result pages: which records they read, admonitions, tables, provenance lines."""
from __future__ import annotations

import os
from pathlib import Path

from ..runs import record as run_record
from .style import REPO_ROOT


# --------------------------------------------------------------------------- result pages
#: Where the committed CPU reproduction's run records live (``<method>/seed<N>/run_record.json``);
#: the KAF study's are beside it, in ``results/kaf-study/``.
DEFAULT_RUNS_DIR = REPO_ROOT / "results" / "cpu"
#: Environment variable that points the result pages at another folder of run records (laid out as
#: ``results/cpu``: ``<method>/seed<N>/``; the KAF study page reads ``kaf-study/`` in its parent).
RUNS_DIR_ENV = "FOWKAL_RUNS_DIR"


def runs_dir() -> Path:
    """The folder of run records the result pages read: ``$FOWKAL_RUNS_DIR`` or the committed one."""
    value = os.environ.get(RUNS_DIR_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_RUNS_DIR


def writes_figures() -> bool:
    """Whether result figures go to ``figures/``: only when drawn from the committed records (a
    book built from another records folder must not overwrite the README's figures)."""
    return runs_dir() == DEFAULT_RUNS_DIR.resolve()


def admonition(title: str, text: str, *, kind: str = "warning", css_class: str = "") -> str:
    """MyST source of an admonition box, for a code cell's ``Markdown`` output (a colon fence, so
    the text may hold code blocks)."""
    if kind not in ("note", "warning", "important", "tip", "caution"):
        raise ValueError(f"admonition kind must be note, warning, important, tip or caution, got {kind!r}")
    # four colons: the text may hold a three-colon block (a wide_table); a blank line ends the options
    return f"::::{{admonition}} {title}\n:class: {kind} {css_class}\n\n{text}\n::::\n"


def wide_table(markdown: str) -> str:
    """A Markdown table wrapped so that the book's CSS draws it compact (class ``fowkal-wide``)."""
    return f":::{{container}} fowkal-wide\n{markdown}\n:::\n"


def nbsp(text) -> str:
    """``text`` with non-breaking spaces, so that a table cell ("45.1 ± 0.3") stays on one line."""
    return str(text).replace(" ", "\u00a0")


def repo_relative(path) -> str:
    """``path`` relative to the repository when inside it (for provenance lines), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


#: How to make the CPU reproduction's run records (said wherever they are missing).
MAKE_RECORDS = ("# 10 methods (8 of the paper, 2 controls) x 5 seeds, cpu profile, resumable (2.5-5 h on 2 cores)\n"
                "papermill notebooks/ablation.ipynb work_dirs/ablation.ipynb")


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


def missing_records(reason: str, consequence: str, *, first: bool = True) -> str:
    """The admonition a result page shows instead of a figure or table whose records are missing:
    in full (why, and how to make them) the first time on a page, then in one line."""
    if not first:
        return admonition("No run records yet", f"{consequence.rstrip('.')} (see the note at the top of the page).",
                          kind="warning", css_class="fowkal-missing")
    return admonition(
        "No run records yet",
        f"{reason}: the CPU reproduction has not been run (or not committed) where this book was "
        f"built. {consequence}\n\nTo make them (then rebuild the book):\n\n```bash\n{MAKE_RECORDS}\n```\n\n"
        f"To point the book at another folder of records: `{RUNS_DIR_ENV}=/path/to/records`.",
        kind="warning", css_class="fowkal-missing")


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
