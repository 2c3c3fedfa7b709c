"""Execute the book's pages into Jupyter Book's execution cache, several at a time, before the build.

Jupyter Book (myst-nb, ``execute_notebooks: cache``) executes the pages one after the other while Sphinx
reads them: on a fresh clone that is every page, each in a kernel of its own that mostly waits on its own
imports and drawing. This runs the same executions in a pool of processes (default: one per CPU, at most
4) and stores each result in the same cache (``_build/.jupyter_cache``), keyed as myst-nb keys it (the
page read by the book's own reader, :func:`fowkal.viz.sphinx_inputs.read_page`), so that the build that
follows finds every page executed. A page already cached is skipped; a page that fails is left out of the
cache, so the build executes it again and reports its error as it always does. Nothing else changes.

    .venv/bin/python -m fowkal.viz.book_execution            # before `jupyter-book build .`
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .style import REPO_ROOT

#: The execution timeout of a page, seconds (``execute.timeout`` in ``_config.yml``).
TIMEOUT_S = 600


def toc_pages(root: Path = REPO_ROOT) -> list[Path]:
    """The ``.py`` pages of ``_toc.yml``, in its order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [root / f"{f}.py" for f in files if (root / f"{f}.py").is_file()]


def _read(path: Path):
    from .sphinx_inputs import read_page

    return read_page(path.read_text(encoding="utf-8"), fmt="py:percent")


def _execute(path: str) -> tuple[str, object, float, str | None]:
    """One page, executed in its own folder as myst-nb executes it: (path, notebook, seconds, error)."""
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = _read(Path(path))
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=TIMEOUT_S, allow_errors=False,
                                 meta_override=True)
    return path, result.nb, result.time, None if result.err is None else result.exc_string


def execute_pages(root: Path = REPO_ROOT, cache_dir: Path | None = None, processes: int | None = None,
                  log=print) -> dict:
    """Execute the pages of ``root``'s book that its cache lacks; returns ``{page: seconds or error}``."""
    from jupyter_cache import get_cache
    from jupyter_cache.cache.main import CacheBundleIn

    cache = get_cache(str(cache_dir or root / "_build" / ".jupyter_cache"))
    missing = []
    for page in toc_pages(root):
        try:
            cache.match_cache_notebook(_read(page))
        except KeyError:
            missing.append(page)
    processes = processes or min(4, os.cpu_count() or 1)
    log(f"[book] executing {len(missing)} page(s) the cache lacks, {processes} at a time")
    done: dict = {}
    if not missing:
        return done
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes) as pool:
        for path, notebook, seconds, error in pool.map(_execute, [str(p) for p in missing]):
            name = Path(path).relative_to(root)
            if error is not None:  # left to the build, which executes it again and reports the error
                done[str(name)] = error
                log(f"[book] {name}: failed; the build will execute it again and report it")
                continue
            cache.cache_notebook_bundle(CacheBundleIn(notebook, path, data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            done[str(name)] = seconds
            log(f"[book] {name}: {seconds:.0f} s")
    log(f"[book] executed in {time.perf_counter() - start:.0f} s of wall time")
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=None, help="pages at a time (default: CPUs, at most 4)")
    args = parser.parse_args(argv)
    if args.processes is not None and args.processes < 1:
        parser.error("--processes must be >= 1")
    execute_pages(processes=args.processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
