"""The book's pages that read data: re-read and re-executed whenever that data changed, cached otherwise.

Sphinx re-reads a page only when its source file changed, and myst-nb's execution cache
(jupyter-cache) re-executes it only when its code changed. The pages that read the run records,
the loss benchmark's JSON, the embedded benchmark or the real sample are marked
``fowkal: reads_data: true`` in their jupytext header. For them:

- :func:`read_page` (the book's reader of ``.py`` pages, ``nb_custom_formats`` in ``_config.yml``)
  adds a hidden first code cell holding a fingerprint of their inputs, so that the execution cache
  misses exactly when an input changed;
- the ``env-get-outdated`` hook makes Sphinx re-read them when the fingerprint differs from the one
  they were last read with (an incremental build; ``jupyter-book build --all`` re-reads all).

The inputs (:func:`input_paths`):

- the folder above the run records the book reads (``results/``, or the parent of ``$FOWKAL_RUNS_DIR``):
  the ablation's records, the KAF study's and the GPU check's, file names and contents;
- the benchmarks' results: ``figures/*.json`` and every JSON under ``benchmarks/``;
- the run records of your own runs, ``work_dirs/cpu/*/run_record.json`` (the main job's, which the
  run records page sets beside the committed ones);
- the environment variables the pages read (``FOWKAL_RUNS_DIR``, ``FOWKAL_REAL_SAMPLE``, ``FOWKAL_EVAL_EXAMPLE``,
  ``FOWKAL_DATA_ROOT``);
- the source of the ``fowkal`` package (the pages compute everything with it; it names the
  benchmark too).

So a build with nothing changed stays cached, and a build after new records never shows stale
tables. Enabled in ``_config.yml`` (``sphinx.config.extensions`` and ``nb_custom_formats``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: Header line that marks a page as reading data (the pages' jupytext header: ``fowkal: reads_data: true``).
DATA_PAGE_MARK = "reads_data: true"
ENV_VARS = ("FOWKAL_RUNS_DIR", "FOWKAL_REAL_SAMPLE", "FOWKAL_EVAL_EXAMPLE", "FOWKAL_DATA_ROOT")
_PACKAGE = Path(__file__).resolve().parent


def _add_tree(digest, root: Path) -> None:
    """Names and contents of ``root`` (a file or every file under a folder); nothing if absent."""
    digest.update(f"<{root}>".encode())
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    for path in files:
        digest.update(f"{path.relative_to(root) if path != root else path.name}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def input_paths() -> list[Path]:
    """The files and folders the data pages read (see the module's documentation); absent ones included."""
    from ..studies import local_run
    from .pages import runs_dir
    from .style import FIGURES_DIR, REPO_ROOT

    return [runs_dir().parent, *sorted(FIGURES_DIR.glob("*.json")), *sorted((REPO_ROOT / "benchmarks").rglob("*.json")),
            *sorted(local_run.LOCAL_RUNS_DIR.glob("*/run_record.json"))]


def inputs_fingerprint() -> str:
    """A hash of everything the data pages read (see the module's documentation)."""
    digest = hashlib.sha256()
    for path in input_paths():
        _add_tree(digest, path)
    for name in ENV_VARS:
        digest.update(f"{name}={os.environ.get(name, '')}\n".encode())
    for source in sorted(_PACKAGE.rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def read_page(text: str, fmt: str = "py:percent", **kwargs):
    """Read a jupytext page; a data page gets a hidden first cell with :func:`inputs_fingerprint`
    (its code is part of the execution cache's key, so the cache misses when an input changed)."""
    import jupytext
    import nbformat

    notebook = jupytext.reads(text, fmt=fmt, **kwargs)
    if (notebook.metadata.get("fowkal") or {}).get("reads_data"):
        cell = nbformat.v4.new_code_cell(
            "# fingerprint of what this page reads (records, benchmark, environment, fowkal): "
            + inputs_fingerprint()[:20],
            metadata={"tags": ["remove-cell"]})
        notebook.cells.insert(0, cell)
    return notebook


def data_pages(env) -> set[str]:
    """The documents whose source header carries :data:`DATA_PAGE_MARK`."""
    pages = set()
    for docname in env.found_docs:
        path = Path(env.doc2path(docname))
        if path.suffix == ".py" and path.is_file():
            with open(path, encoding="utf-8") as f:
                if DATA_PAGE_MARK in f.read(2000):
                    pages.add(docname)
    return pages


def _outdated(app, env, added, changed, removed):
    current = inputs_fingerprint()
    seen = getattr(env, "fowkal_inputs", {})
    return sorted(d for d in data_pages(env) if seen.get(d) != current and d not in added | changed)


def _remember(app, env, docnames):
    current = inputs_fingerprint()
    pages = data_pages(env)
    seen = dict(getattr(env, "fowkal_inputs", {}))
    seen.update({d: current for d in docnames if d in pages})
    env.fowkal_inputs = seen


def setup(app):
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _remember)
    return {"version": "1", "env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
