"""Helpers of the book's result pages: admonitions, wide tables, the note on missing records; which
records they read and where each comes from (:mod:`fowkal.studies.records`, re-exported here)."""
from __future__ import annotations

from ..studies.records import (DEFAULT_RUNS_DIR, RUNS_DIR_ENV, nbsp, provenance, record_caption,  # noqa: F401
                               repo_relative, run_records, runs_dir)

__all__ = ["DEFAULT_RUNS_DIR", "RUNS_DIR_ENV", "runs_dir", "run_records", "provenance", "record_caption",
           "repo_relative", "nbsp",
           "writes_figures", "show_figure", "show", "admonition", "missing", "missing_benchmark", "wide_table", "MAKE_RECORDS",
           "missing_records", "written_tables_note"]


def writes_figures() -> bool:
    """Whether result figures go to ``figures/``: only when drawn from the committed records (a
    book built from another records folder must not overwrite the README's figures)."""
    return runs_dir() == DEFAULT_RUNS_DIR.resolve()


def show_figure(fig, name: str | None = None) -> None:
    """Show ``fig`` in the page; with a ``name``, also write it to ``figures/<name>.png`` when the page draws
    from the committed records (:func:`writes_figures`)."""
    import matplotlib.pyplot as plt

    from .style import save_figure

    if name and writes_figures():
        save_figure(fig, name)
    plt.show()


def show(*markdown: str | None) -> None:
    """Display the non-empty pieces of Markdown in the page, one paragraph each (None and "" are skipped,
    so a page can pass what a study returns without testing it first)."""
    from IPython.display import Markdown, display

    text = "\n\n".join(piece for piece in markdown if piece)
    if text:
        display(Markdown(text))


def admonition(title: str, text: str, *, kind: str = "warning", css_class: str = "") -> str:
    """MyST source of an admonition box, for a code cell's ``Markdown`` output (a colon fence, so
    the text may hold code blocks)."""
    if kind not in ("note", "warning", "important", "tip", "caution"):
        raise ValueError(f"admonition kind must be note, warning, important, tip or caution, got {kind!r}")
    # four colons: the text may hold a three-colon block (a wide_table); a blank line ends the options
    return f"::::{{admonition}} {title}\n:class: {kind} {css_class}\n\n{text}\n::::\n"


def missing(title: str, text: str, *, kind: str = "warning") -> str:
    """The admonition a page shows where something it would draw is not there (class ``fowkal-missing``,
    which the browser test looks for)."""
    return admonition(title, text, kind=kind, css_class="fowkal-missing")


def missing_benchmark(name: str) -> str:
    """What a page shows where ``figures/<name>.json``, written by ``benchmarks/<name>.py``, is not there."""
    return missing(f"No {name} benchmark", f"`figures/{name}.json` does not exist. Make it with "
                   f"`.venv/bin/python benchmarks/{name}.py`.")


def wide_table(markdown: str) -> str:
    """A Markdown table wrapped so that the book's CSS draws it compact (class ``fowkal-wide``)."""
    return f":::{{container}} fowkal-wide\n{markdown}\n:::\n"


#: How to make the CPU reproduction's run records (said wherever they are missing).
MAKE_RECORDS = ("# 11 methods (8 of the paper, 3 controls) x 5 seeds, cpu profile, resumable (3-6 h on 2 cores)\n"
                "papermill notebooks/ablation.ipynb work_dirs/ablation.ipynb")


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




def written_tables_note(differences: list[str] | None, written) -> str:
    """What the run records page says about the ablation notebook's ``tables.json`` (``differences``:
    :func:`fowkal.studies.results.written_tables_differences`, None when the file does not exist)."""
    name = f"`{repo_relative(written)}`"
    if differences is None:
        return admonition("No written tables", f"{name} does not exist (the ablation notebook writes it when it "
                          "aggregates).", kind="note")
    if differences:
        return admonition("Written tables differ", f"{name} disagrees with the records for {', '.join(differences)}: "
                          "re-run the ablation notebook's aggregation (`-p run_missing False`).", kind="warning")
    return f"{name} agrees with the records (every mean and seed count)."
