"""fowkal.viz.book_execution: the book's pages executed side by side into Jupyter Book's cache before the build."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupyter_cache")

from fowkal.viz import book_execution  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HEADER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""


def test_the_pages_are_the_tocs_py_pages_in_order():
    pages = book_execution.toc_pages(REPO)
    assert pages[0] == REPO / "book" / "intro.py" and all(p.suffix == ".py" and p.is_file() for p in pages)
    assert REPO / "book" / "results.py" in pages and not any(p.name == "loss_decisions.py" for p in pages)


@pytest.mark.slow
def test_missing_pages_are_executed_once_and_failures_left_to_the_build(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: good\nparts:\n  - chapters:\n      - file: bad\n")
    (tmp_path / "good.py").write_text(HEADER + "# %%\nfrom pathlib import Path\nprint(Path.cwd().name, 6 * 7)\n")
    (tmp_path / "bad.py").write_text(HEADER + "# %%\nraise RuntimeError('a broken page')\n")
    cache_dir, logged = tmp_path / "cache", []
    done = book_execution.execute_pages(tmp_path, cache_dir, processes=2, log=logged.append)
    assert isinstance(done["good.py"], float) and "a broken page" in done["bad.py"]
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    cached = cache.match_cache_notebook(book_execution._read(tmp_path / "good.py"))
    output = cache.get_cache_bundle(cached.pk).nb.cells[0].outputs[0]["text"]
    assert output.split() == [tmp_path.name, "42"]  # executed in the page's own folder, as myst-nb does
    with pytest.raises(KeyError):
        cache.match_cache_notebook(book_execution._read(tmp_path / "bad.py"))
    again = book_execution.execute_pages(tmp_path, cache_dir, processes=2, log=logged.append)
    assert list(again) == ["bad.py"]  # the good page is cached: only the failing one runs again
    assert any("the build will execute it again" in line for line in logged)


def test_a_bad_process_count_is_refused():
    done = subprocess.run([sys.executable, "-m", "fowkal.viz.book_execution", "--processes", "0"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--processes must be >= 1" in done.stderr
