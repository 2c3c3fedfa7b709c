"""The package's layers: who may import whom (the table in ``fowkal/__init__.py``), no import cycles
between files, a light core, and plain entry-point functions."""
from __future__ import annotations

import ast
import re
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fowkal"

#: The layer of each top-level name of the package (``fowkal/__init__.py`` states the same table).
LAYERS = {"parts": 0, "kaf_head": 0, "losses": 0, "jsonfile": 0, "data": 1, "mmpose": 2,
          "configs": 3, "runs": 4, "studies": 5, "viz": 6}
#: Entry points above every layer: the package's own ``__init__`` (lazy train/evaluate) and ``__main__``s.
ENTRY_POINTS = {"fowkal", "fowkal.__main__", "fowkal.data.__main__"}
#: MMEngine config files: data that MMEngine loads by path, not modules of the package.
CONFIG_FILES = ("configs/cpu/", "configs/paper/", "configs/cpu_base.py", "configs/paper_base.py")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(CONFIG_FILES):
            continue
        parts = ["fowkal", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_modules(name: str, path: Path, known: dict) -> set[str]:
    """Every fowkal module ``name`` imports, anywhere in the file (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` where one exists
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
        else:
            continue
        found.update(t for t in targets if t == "fowkal" or t.startswith("fowkal."))
    return found - {name}


def layer(name: str) -> int | None:
    if name in ENTRY_POINTS:
        return None
    return LAYERS[name.split(".")[1]]


def test_every_module_has_a_layer():
    unknown = sorted(n for n in modules() if n not in ENTRY_POINTS and n.split(".")[1] not in LAYERS)
    assert not unknown, f"modules outside the layer table of fowkal/__init__.py: {unknown}"


def test_the_package_docstring_states_the_table():
    doc = __import__("fowkal").__doc__
    for name, level in LAYERS.items():
        row = next((line for line in doc.splitlines() if f"``{name}``" in line), None)
        assert row is not None, f"fowkal/__init__.py's layer table does not mention {name}"
        # the row that names it, or the row above (a name on a continuation line), starts with the layer
        lines = doc.splitlines()
        i = lines.index(row)
        numbered = next(line for line in reversed(lines[: i + 1]) if line.strip()[:1].isdigit())
        assert numbered.split()[0] == str(level), f"{name}: table says layer {numbered.split()[0]}, test {level}"


def test_no_module_imports_a_higher_layer():
    known = modules()
    wrong = []
    for name, path in known.items():
        here = layer(name)
        if here is None:
            continue
        for target in imported_modules(name, path, known):
            there = layer(target)
            if there is not None and there > here:
                wrong.append(f"{name} (layer {here}) imports {target} (layer {there})")
            if there is None:
                wrong.append(f"{name} imports the entry point {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_files():
    known = modules()
    graph = {name: {t for t in imported_modules(name, path, known) if t in known} for name, path in known.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("module", ["fowkal", "fowkal.losses", "fowkal.kaf_head", "fowkal.parts"])
def test_the_core_imports_light(module):
    heavy = ("mmpose", "mmengine", "mmcv", "matplotlib")
    code = f"import sys, {module}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"import {module} loaded {done.stdout.strip()}"


def test_train_and_evaluate_are_plain_functions():
    import fowkal
    import fowkal.runs.evaluate  # noqa: F401  (importing the modules must not rebind the names)
    import fowkal.runs.train  # noqa: F401

    for name in ("train", "evaluate"):
        function = getattr(fowkal, name)
        assert inspect.isfunction(function), f"fowkal.{name} is {type(function).__name__}, not a function"
        assert type(sys.modules["fowkal"]) is type(sys), "the package module's class was replaced"


def test_mmpose_users_register_everything_with_one_import():
    pytest.importorskip("mmpose")
    code = ("from mmengine.utils import import_modules_from_strings; import_modules_from_strings(['fowkal.mmpose']);"
            "from mmpose.registry import MODELS, HOOKS;"
            "assert all(MODELS.get(n) for n in ('FoWKALLoss', 'KAFHeatmapHead')), 'models';"
            "assert all(HOOKS.get(n) for n in ('KAFLoggingHook', 'EpochSeedHook')), 'hooks'")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_readme_table_names_the_tree():
    readme = (PACKAGE.parent / "README.md").read_text()
    table = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    named = {path.rstrip("/") for row in table.splitlines() if row.startswith("| `")
             for path in re.findall(r"`([\w./-]+)`", row.split("|")[1])}
    missing = sorted(p for p in named if not (PACKAGE.parent / p).exists())
    assert not missing, f"README's 'What is where' names paths that do not exist: {missing}"
    layers = {f"fowkal/{p.name}" for p in PACKAGE.iterdir()
              if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and not p.name.startswith("__"))}
    unnamed = sorted(p.removesuffix(".py") for p in layers if p not in named and p.removesuffix(".py") not in named)
    assert not unnamed, f"README's 'What is where' does not name {unnamed}"


# --------------------------------------------------------------------------- the book's pages
BOOK = PACKAGE.parent / "book"
#: Pages that still compute in their own cells (none left; a page added here must say why).
PAGES_WITH_OWN_FUNCTIONS: set = set()


def is_public(module, name: str) -> bool:
    """A name is public in a module when it is in the module's ``__all__`` (where it has one), else when it
    does not start with an underscore; a submodule is public when its name does not."""
    import importlib.util

    if name.startswith("_"):
        return False
    if hasattr(module, "__path__") and importlib.util.find_spec(f"{module.__name__}.{name}") is not None:
        return True  # a submodule of a package
    return name in module.__all__ if hasattr(module, "__all__") else hasattr(module, name)


def page_uses(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every name a page takes from the package: ``from fowkal.x import name`` and
    ``alias.name`` where ``alias`` is a fowkal module the page imported."""
    tree = ast.parse(path.read_text())
    aliases, used = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "fowkal":
            for a in node.names:
                used.append((node.module, a.name))
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "fowkal":
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else "fowkal"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.append((aliases[node.value.id], node.attr))
    return used


@pytest.mark.parametrize("page", sorted(p.stem for p in BOOK.glob("*.py")))
def test_pages_use_only_the_packages_public_names(page):
    import importlib

    wrong = []
    for module_name, name in page_uses(BOOK / f"{page}.py"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue  # ``alias.attr`` where the alias is a name, not a module (a class or a function)
        if not is_public(module, name):
            wrong.append(f"{module_name}.{name}")
    assert not wrong, f"book/{page}.py uses names the package does not make public: {sorted(set(wrong))}"


@pytest.mark.parametrize("page", sorted(p.stem for p in BOOK.glob("*.py")
                                        if "reads_data: true" in p.read_text()[:2000]))
def test_data_pages_compute_nothing_themselves(page):
    """A page that reads records or data explains; the package computes (no function or class of its own)."""
    if page in PAGES_WITH_OWN_FUNCTIONS:
        pytest.skip(f"book/{page}.py is listed in PAGES_WITH_OWN_FUNCTIONS")
    tree = ast.parse((BOOK / f"{page}.py").read_text())
    defined = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))]
    assert not defined, f"book/{page}.py defines {defined}: move them into fowkal.studies or fowkal.viz"


def test_the_public_name_rule(tmp_path):
    import types

    module = types.ModuleType("fowkal_example")
    module.visible, module._hidden, module.listed = 1, 2, 3
    assert is_public(module, "visible") and not is_public(module, "_hidden")
    module.__all__ = ["listed"]
    assert is_public(module, "listed") and not is_public(module, "visible")
    import fowkal.viz

    assert is_public(fowkal.viz, "pages") and not is_public(fowkal.viz, "_nothing")
