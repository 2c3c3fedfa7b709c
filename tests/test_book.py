"""The book: its configuration serves everything locally, it builds with warnings as errors, and
every built page works in a real browser (Debian's Chromium driven by Playwright) with no network.

The browser test needs what ``.ci/setup-book`` (the vendored JavaScript) and ``.ci/setup-browser``
(chromium) install; ``make test`` runs both. Installing them needs root: for a user who is not root
and lacks them, the browser test is skipped with that reason (as root, it fails instead).
Screenshots of every page land in ``_build/screenshots/`` (look at them).
"""
from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO / "_build"
HTML_DIR = BUILD_DIR / "html"
SCREENSHOTS = BUILD_DIR / "screenshots"
VENDOR = REPO / "book" / "_static" / "vendor"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
# Pages of the built site that are not book chapters but are still opened and checked.
SITE_PAGES = ("genindex.html", "search.html")
# Pages that read the run records (fowkal.viz.pages.runs_dir()): they must say so when there are none.
RECORD_PAGES = ("book/benchmark.html", "book/results.html", "book/predictions_kaf.html", "book/performance.html", "book/run_records.html")


def _records_state():
    """(records exist, a KAL-family record has a KAF log) for the folder the book reads."""
    from fowkal.viz import pages
    from fowkal.losses import KAL_METHODS

    records, _ = pages.run_records()
    return bool(records), any(r["method"] in KAL_METHODS and r["files"].get("kaf_log") for r in records)


def _check_record_page(page, relative, have_records) -> list[str]:
    """A result page says clearly when the run records are missing, and shows our numbers when not."""
    notes = [e.inner_text() for e in page.query_selector_all(".fowkal-missing") if e.is_visible()]
    if not have_records:
        if not any("No run records yet" in n for n in notes):
            return [f"{relative}: the run records are missing but no visible admonition says so"]
        return []
    problems = [f"{relative}: says records are missing although they exist: {n[:80]!r}"
                for n in notes if "No run records yet" in n]
    if relative == "book/results.html":
        ours = page.evaluate("() => Array.from(document.querySelectorAll('td'))"
                             ".filter(td => td.textContent.trim() === 'ours').length")
        if ours != 6:
            problems.append(f"{relative}: Table 2 should have 6 rows of ours, found {ours}")
    return problems


def _config() -> dict:
    return yaml.safe_load((REPO / "_config.yml").read_text())


def _toc_files() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return files


# --------------------------------------------------------------------------- fast checks
def test_config_loads_nothing_from_the_web():
    sphinx = _config()["sphinx"]["config"]
    local = [sphinx["mathjax_path"], *sphinx["nb_ipywidgets_js"]]
    assert all("://" not in path and not path.startswith("//") for path in local), local
    for key, attributes in sphinx["nb_ipywidgets_js"].items():
        cdn = attributes.get("data-jupyter-widgets-cdn", "")
        assert "://" not in cdn, f"{key} would fetch widget modules from {cdn}"
    assert "notebooks/*.ipynb" in _config()["exclude_patterns"]


def test_every_toc_entry_has_a_page():
    for entry in _toc_files():
        candidates = [REPO / f"{entry}{suffix}" for suffix in (".py", ".md", ".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml lists {entry}, which has no page"


def test_frame_explorer_links_every_control_and_shares_identical_frames():
    widgets = pytest.importorskip("ipywidgets")
    from fowkal.viz.widgets import frame_explorer

    def render(kind, size):  # 'flat' frames do not depend on size: they must be shared
        return f"{kind}-{size if kind == 'sized' else 0}".encode()

    controls = [("kind", ["flat", "sized"], "toggle"), ("size", [1, 2, 3], "slider")]
    box = frame_explorer(controls, render)
    toggle, slider, root = box.children
    assert isinstance(toggle, widgets.ToggleButtons) and isinstance(slider, widgets.SelectionSlider)
    assert "fowkal-explorer" in box._dom_classes
    flat, sized = root.children
    assert [img.value for img in sized.children] == [b"sized-1", b"sized-2", b"sized-3"]
    assert len({id(img) for img in flat.children}) == 1  # three identical frames, one widget
    linked = {(link.source[0], link.source[1], link.target[0], link.target[1]) for link in box.links}
    assert linked == {(toggle, "index", root, "selected_index"),
                      (slider, "index", flat, "selected_index"),
                      (slider, "index", sized, "selected_index")}
    started = frame_explorer(controls, render, initial=["sized", 3])
    assert started.children[0].index == 1 and started.children[1].index == 2
    assert started.children[2].selected_index == 1
    assert all(stack.selected_index == 2 for stack in started.children[2].children)
    with pytest.raises(ValueError, match="not one of"):
        frame_explorer(controls, render, initial=["sized", 4])
    with pytest.raises(ValueError, match="kind must be"):
        frame_explorer([("x", [1], "dial")], render)
    with pytest.raises(ValueError, match="no values"):
        frame_explorer([("x", [], "slider")], render)


def test_awing_curve_matches_the_closed_form():
    from fowkal.viz.widgets import awing_curve

    loss, grad = awing_curve(0.0, [1.0, -1.0, 0.0])
    assert loss[0] == pytest.approx(8.4959459105, abs=1e-9)  # MMPose's unit-test value
    assert grad[0] == pytest.approx(11.1214216480, abs=1e-9)  # A(p = 0): the linear branch slope
    assert grad[1] == pytest.approx(-grad[0]) and loss[2] == 0.0 and grad[2] == 0.0


def test_gaussian_target_is_the_untruncated_dark_target():
    pytest.importorskip("mmpose")
    from fowkal.viz.widgets import example_pair, gaussian_target

    target = gaussian_target((24, 32))
    assert target.shape == (64, 48) and target.max() == pytest.approx(1.0)
    assert 0.7 < (target > 0).mean() < 0.85  # not truncated at 3σ (float32 underflow only)
    target_again, prediction = example_pair()
    assert (target_again == target).all() and (prediction < 0).any()
    with pytest.raises(ValueError, match="outside"):
        gaussian_target((48, 10))


def test_awing_live_explorer_draws(monkeypatch):
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    from fowkal.viz.widgets import awing_live_explorer

    assert callable(awing_live_explorer())  # interact() draws once with the defaults


def test_save_figure_rejects_paths():
    from fowkal.viz.style import save_figure

    with pytest.raises(ValueError, match="bare name"):
        save_figure(None, "../elsewhere")


# --------------------------------------------------------------------------- build + browser
def _setup_problem(missing: list[str], root: bool) -> tuple[str, str] | None:
    """What to do when the browser test's setup is incomplete: ``("skip", reason)`` for a user who is
    not root (who cannot install Chromium, nor Node.js for the vendored JavaScript), ``("fail",
    reason)`` for root, who can (CI runs as root: the browser test is never skipped there)."""
    if not missing:
        return None
    what = f"missing {', '.join(missing)}"
    if root:
        return "fail", f"{what}: run `bash .ci/setup-book && bash .ci/setup-browser` (or `make test`) first"
    return "skip", (f"{what}, which a user who is not root cannot install (as root: `apt-get install -y "
                    f"chromium nodejs npm`, then `make test`)")


def _require_setup():
    missing = [str(p) for p in (VENDOR / "mathjax" / "tex-mml-chtml.js", VENDOR / "require.js",
                                VENDOR / "html-manager" / "embed-amd.js", CHROMIUM) if not p.exists()]
    problem = _setup_problem(missing, root=os.geteuid() == 0)
    if problem:
        (pytest.skip if problem[0] == "skip" else pytest.fail)(problem[1])


def test_only_a_user_who_is_not_root_skips_the_browser_test():
    assert _setup_problem([], root=False) is None and _setup_problem([], root=True) is None
    assert _setup_problem([str(CHROMIUM)], root=False)[0] == "skip"
    assert _setup_problem([str(CHROMIUM)], root=True)[0] == "fail"
    assert str(CHROMIUM) in _setup_problem([str(CHROMIUM)], root=False)[1]


def _fake_id(folder: Path, uid: int) -> dict:
    """An environment whose ``id -u`` says ``uid`` and whose apt-get fails (nothing is installed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (("id", f"echo {uid}"), ("apt-get", "echo 'apt-get: not here' >&2; exit 100")):
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "CHROMIUM": str(folder / "no-chromium")}


def test_setup_browser_lets_a_user_who_is_not_root_go_on(tmp_path):
    script = REPO / ".ci" / "setup-browser"
    user = subprocess.run(["bash", str(script)], env=_fake_id(tmp_path / "user", 1000), capture_output=True,
                          text=True, timeout=60)
    assert user.returncode == 0, user.stderr
    assert "skipped" in user.stderr and "no-chromium" in user.stderr
    # as root it installs, and stops `make test` when it cannot
    root = subprocess.run(["bash", str(script)], env=_fake_id(tmp_path / "root", 0), capture_output=True,
                          text=True, timeout=60)
    assert root.returncode != 0 and "apt-get: not here" in root.stderr


@pytest.fixture(scope="module")
def built_book():
    """Build the book into _build/ with warnings as errors; return build time.

    `--all` re-reads every page (a no-change incremental build would skip copying changed static
    files); execution stays cached by jupyter-cache, so this costs seconds, not minutes.
    """
    _require_setup()
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    start = time.perf_counter()
    # as `make book`: the pages the cache lacks executed side by side first, then the build reads them cached
    executed = subprocess.run([sys.executable, "-m", "fowkal.viz.book_execution"], cwd=REPO, capture_output=True,
                              text=True, timeout=1500, env=env)
    assert executed.returncode == 0, executed.stderr[-4000:]
    result = subprocess.run(
        [str(jupyter_book), "build", str(REPO), "--all", "-W", "-n", "--keep-going"],
        cwd=REPO, capture_output=True, text=True, timeout=1500, env=env,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        pytest.fail(f"jupyter-book build failed ({result.returncode}):\n{result.stdout[-6000:]}\n"
                    f"{result.stderr[-4000:]}")
    print(f"\n[book] built in {seconds:.1f} s")
    return seconds


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def site(built_book):
    """Serve _build/html on 127.0.0.1 (a free port) for the duration of the module."""
    handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require_setup()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, service_workers="block",
        )
        yield context
        context.close()


# the text of every cell output that shows a Python traceback (an exception IPython caught while
# rendering, e.g. a figure that failed to draw: the build itself does not fail on it)
_TRACEBACK_JS = """() => Array.from(document.querySelectorAll('.cell_output'))
  .map(e => e.textContent).filter(t => t.includes('Traceback (most recent call last)'))"""

def _book_pages() -> list[str]:
    pages = [f"{entry}.html" for entry in _toc_files()]
    return pages + list(SITE_PAGES)


# JavaScript run in the page: TeX left visible outside code, and the MathJax output count.
_RAW_TEX_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .widget-image').forEach(e => e.remove());
  const text = clone.textContent;
  const raw = ['$$', '\\\\(', '\\\\[', '\\\\frac', '\\\\begin{'].filter(s => text.includes(s));
  return {raw, mathSources: document.querySelectorAll('.math').length,
          rendered: document.querySelectorAll('mjx-container').length,
          errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent)};
}"""

_IMAGES_JS = """() => Array.from(document.images).map(img => ({
  src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0,
  visible: img.offsetParent !== null}))"""

# SHA-256 of the picture an explorer shows now (its one visible image).
_VISIBLE_PICTURE_JS = """async (box) => {
  const imgs = Array.from(box.querySelectorAll('img')).filter(i => i.offsetParent !== null);
  if (imgs.length !== 1) return {count: imgs.length};
  const img = imgs[0];
  if (!img.complete) await new Promise(r => img.addEventListener('load', r, {once: true}));
  const data = await (await fetch(img.src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', data);
  return {count: 1, width: img.naturalWidth,
          hash: Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('')};
}"""


def _open(browser, url):
    page = browser.new_page()
    events = {"requests": [], "errors": []}
    page.on("request", lambda r: events["requests"].append(r.url))
    page.on("console", lambda m: m.type == "error" and events["errors"].append(f"console: {m.text}"))
    page.on("pageerror", lambda e: events["errors"].append(f"page error: {e}"))
    page.on("requestfailed", lambda r: events["errors"].append(f"request failed: {r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and events["errors"].append(f"HTTP {r.status}: {r.url}"))
    page.goto(url, wait_until="networkidle")
    return page, events


def _wait_for_math(page):
    page.wait_for_function(
        "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup"
        " && MathJax.startup.document && MathJax.startup.document.getMathItemsWithin(document.body).length > 0)",
        timeout=30_000)
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")


def _check_explorer(page, box, label):
    """Click each toggle button, then move each slider (keyboard on its handle) of one explorer,
    checking that every step changes the picture. Toggles go first and end on the last option of
    each group, which (by the explorers' design) is one where every slider matters."""
    before = page.evaluate(_VISIBLE_PICTURE_JS, box)
    assert before["count"] == 1, f"{label}: expected one visible picture, found {before['count']}"

    def changed(what):
        nonlocal before
        for _ in range(20):  # usually at once; allow 5 s on a busy machine
            page.wait_for_timeout(250)
            after = page.evaluate(_VISIBLE_PICTURE_JS, box)
            if after["count"] == 1 and after["hash"] != before["hash"]:
                break
        assert after["count"] == 1 and after["width"] > 0, f"{label}: picture gone after {what}"
        assert after["hash"] != before["hash"], f"{label}: {what} did not change the picture"
        before = after

    # every toggle group (an explorer may have several): click each option that is not selected,
    # in order; groups start on their first option except where the page picks another
    for group in [g for g in box.query_selector_all(".widget-toggle-buttons") if g.is_visible()]:
        for button in [b for b in group.query_selector_all("button.widget-toggle-button") if b.is_visible()]:
            if "mod-active" in (button.get_attribute("class") or "").split():
                continue
            button.click()
            changed(f"toggle '{button.inner_text()}'")
    handles = [h for h in box.query_selector_all(".noUi-handle") if h.is_visible()]
    assert handles, f"{label}: no slider"
    for number, handle in enumerate(handles):
        at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.focus()
        handle.press("ArrowLeft" if at_end else "ArrowRight")
        changed(f"slider {number}")


def _check_study_page(page, relative) -> list[str]:
    """The KAF-study chapter says when its records are missing, and only then."""
    from fowkal.viz import pages
    from fowkal.studies import kaf_study

    study = kaf_study.load_runs(pages.runs_dir().parent) if pages.runs_dir().parent.is_dir() else []
    notes = [e.inner_text() for e in page.query_selector_all(".fowkal-missing") if e.is_visible()]
    said = any("No study records yet" in n for n in notes)
    if study and said:
        return [f"{relative}: says the study records are missing although they exist"]
    if not study and not said:
        return [f"{relative}: the study records are missing but no visible admonition says so"]
    have_push = any(r["push"] for r in study if (r["method"], r["noise"]) == ("fowkal", "default")
                    and r["variant"] in ("paper", "barrier"))  # the settings the push figure draws
    if have_push == any("Push not measured" in n for n in notes):
        return [f"{relative}: the 'Push not measured' note {'hides' if have_push else 'is missing for'} "
                "the measured pushes"]
    return []


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_book_pages_in_a_browser(site, browser, built_book):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    have_records, have_kaf_logs = _records_state()
    explorers_seen = 0
    problems = []
    for relative in _book_pages():
        page, events = _open(browser, f"{site}/{relative}")
        _wait_for_math(page)
        math = page.evaluate(_RAW_TEX_JS)
        if math["raw"]:
            problems.append(f"{relative}: raw TeX visible: {math['raw']}")
        if math["errors"]:
            problems.append(f"{relative}: MathJax errors: {math['errors']}")
        if math["rendered"] < math["mathSources"]:
            problems.append(f"{relative}: {math['mathSources']} math blocks but {math['rendered']} rendered")

        # explorers: widgets rendered from the embedded state, sliders change the picture
        if page.query_selector("script[type='application/vnd.jupyter.widget-state+json']"):
            page.wait_for_selector(".fowkal-explorer", timeout=30_000)

        def check_visible_explorers():
            for box in page.query_selector_all(".fowkal-explorer"):
                if box.is_visible() and not box.get_attribute("data-checked"):
                    label = box.inner_text().strip().splitlines()[0][:40]
                    _check_explorer(page, box, f"{relative} explorer '{label}'")
                    box.evaluate("b => { b.dataset.checked = '1'; }")

        check_visible_explorers()
        for bar in page.query_selector_all(".lm-TabBar"):  # explorers on other tabs of a Tab widget
            for tab in bar.query_selector_all(".lm-TabBar-tab"):
                tab.click()
                page.wait_for_timeout(300)
                check_visible_explorers()
        for bar in page.query_selector_all(".lm-TabBar"):  # back to the first tab for the screenshot
            first = bar.query_selector(".lm-TabBar-tab")
            if first:
                first.click()
        all_boxes = page.query_selector_all(".fowkal-explorer")
        unchecked = [b for b in all_boxes if not b.get_attribute("data-checked")]
        if unchecked:
            problems.append(f"{relative}: {len(unchecked)} explorer(s) never became visible")
        explorers_seen += len(all_boxes) - len(unchecked)
        if relative in RECORD_PAGES:
            problems += _check_record_page(page, relative, have_records)
        if relative == "book/kaf_study.html":
            problems += _check_study_page(page, relative)
        # IPython prints a failing figure's or table's traceback as output and the page goes on building
        failed = page.evaluate(_TRACEBACK_JS)
        if failed:
            problems.append(f"{relative}: {len(failed)} cell output(s) show a Python traceback: {failed[0][:300]}")

        # every image (figures and the explorers' current frames) has loaded
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        # what must settle is the images (lazy ones start loading on the scroll), not every connection
        page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=30_000)
        broken = [i["src"][:120] for i in page.evaluate(_IMAGES_JS) if not i["ok"]]
        if broken:
            problems.append(f"{relative}: images that did not load: {broken}")

        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / (relative.replace("/", "__") + ".png")), full_page=True)
        outside = [u for u in events["requests"]
                   if not (u.startswith(site + "/") or u.startswith(("data:", "blob:", "about:")))]
        if outside:
            problems.append(f"{relative}: requests leaving localhost: {outside}")
        problems += [f"{relative}: {e}" for e in events["errors"]]
        page.close()
    assert not problems, "\n".join(problems)
    expected = 2 + have_kaf_logs  # AWing, weight maps, and the λ explorer when there are KAF logs
    assert explorers_seen >= expected, f"expected {expected} explorers, checked {explorers_seen}"
