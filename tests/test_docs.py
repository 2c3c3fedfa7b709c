"""What the project says to its users: no development diary in it, README's layout names what exists,
and every command README, the book and the notebooks show runs (dry where it would train)."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# (written in pieces: this file is tracked too)
SESSION = re.compile(r"\bsess" + r"ions?\s+\d", re.IGNORECASE)
ISSUE = re.compile(r"(?<![\w&#/])#(?![0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?\b)\d+\b|\b[Ii]ssues?\s+#?\d+\b")
#: Issues of other projects, cited where their behaviour matters.
EXTERNAL_ISSUE = re.compile(r"\b(COCO-WholeBody|mmengine|MMEngine|MMPose|mmpose|PyTorch|torch)\s+[Ii]ssue\s+#?\d+")
#: Not prose: run records and other data, and binary files.
NOT_PROSE = ("results/",)


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True)
    return [name for name in out.stdout.decode().split("\0") if name and not name.startswith(NOT_PROSE)]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    return None if b"\0" in data[:8192] else data.decode("utf-8", "replace")


def development_diary(lines) -> list[tuple[int, str]]:
    """(line number, line) of every line that names a work session or an issue number of this project."""
    found = []
    for number, line in enumerate(lines, 1):
        external = [m.span() for m in EXTERNAL_ISSUE.finditer(line)]
        issues = [m for m in ISSUE.finditer(line) if not any(a <= m.start() < b for a, b in external)]
        if SESSION.search(line) or issues:
            found.append((number, line.strip()))
    return found


def test_the_diary_pattern():
    said = ["until sess" + "ion 5", "Sess" + "ions 3-4 ran", "(iss" + "ue #" + "17)", "#" + "15: seeds", "see iss" + "ue 24"]
    fine = ["scope=\"session\"", "when this session started", "colour #0173B2", "grey #949494", "COCO-WholeBody iss" + "ue #" + "38",
            "mmengine iss" + "ue 1655", "&#39;", "page.html#12", "# 1. a heading"]
    assert [n for n, _ in development_diary(said)] == [1, 2, 3, 4, 5]
    assert development_diary(fine) == []


def test_no_user_facing_file_mentions_a_session_or_an_issue_number():
    found = []
    for name in _tracked_files():
        path = REPO / name
        text = path.is_file() and _text(path)
        if text:
            found += [f"{name}:{number}: {line[:110]}" for number, line in development_diary(text.splitlines())]
    assert not found, ("work sessions or issue numbers in user-facing files (what changed and why belongs in "
                       "CHANGELOG.md and the commit messages):\n" + "\n".join(found))


def test_every_path_readme_s_layout_names_exists():
    readme = (REPO / "README.md").read_text()
    table = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    named = {token for row in table.splitlines() if row.startswith("|")
             for token in re.findall(r"`([\w./-]+)`", row) if "/" in token}
    assert named, "README's 'What is where' names no path"
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"README's 'What is where' names paths that do not exist: {missing}"


# --------------------------------------------------------------------------- documented commands
def _fenced_bash(text: str) -> list[str]:
    """The commands of every ```bash block (continuation lines joined)."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, flags=re.DOTALL):
        joined = re.sub(r"\\\n", " ", block)
        commands += [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    return commands


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) for README.md, the book's pages and the notebooks' sources."""
    out = []
    for path in [REPO / "README.md", *sorted((REPO / "book").glob("*.md")), *sorted((REPO / "book").glob("*.py")),
                 *sorted((REPO / "notebooks").glob("*.py"))]:
        text = path.read_text()
        if path.suffix == ".py":  # jupytext percent: Markdown lines are comments
            text = "\n".join(line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else ""
                             for line in text.splitlines())
        out += [(path.relative_to(REPO).as_posix(), command) for command in _fenced_bash(text)]
    return out


COMMANDS = documented_commands()


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> dict:
    """A folder with the paper profile's layout (empty files) and a weights file, for the commands'
    placeholders (a COCO-WholeBody root, ImageNet weights): the dry run builds the config from them."""
    from fowkal.configs import DEFAULT_FILES

    root = tmp_path_factory.mktemp("coco")
    for key, rel in DEFAULT_FILES["paper"].items():
        path = root / rel
        if key.startswith("img"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
    weights = tmp_path_factory.mktemp("weights") / "hrnet_w32_imagenet.pth"
    weights.write_bytes(b"")
    return {"data_root": str(root), "pretrained": str(weights)}


def _stand_in(name: str, value: str, stand_ins: dict) -> str:
    """A placeholder path of the documentation (a dataset or weights that are not here) -> its stand-in."""
    if name in stand_ins and not Path(value).expanduser().exists():
        return stand_ins[name]
    return value


def _cli_with_stand_ins(words: list[str], stand_ins: dict) -> list[str]:
    out = [w for w in words if w != "..."]  # "train ... --resume": any options
    for i in range(len(out) - 1):
        name = out[i].lstrip("-").replace("-", "_")
        if out[i].startswith("--"):
            out[i + 1] = _stand_in(name, out[i + 1], stand_ins)
    return out


def _notebook_value(default: str, given):
    """A notebook parameter's value: the ``-p`` value given (papermill reads True/False as booleans), else the
    parameters cell's default (its source text)."""
    import ast

    if given is None:
        return ast.literal_eval(default)
    return {"True": True, "False": False}.get(given, given) if isinstance(given, str) else given


def _papermill_parameters(words: list[str], stand_ins: dict) -> dict:
    params = {}
    for i, word in enumerate(words):
        if word in ("-p", "--parameters"):
            name, value = words[i + 1], words[i + 2]
            value = _stand_in(name, value, stand_ins)
            for kind in (int, float):  # as papermill reads -p values
                try:
                    value = kind(value)
                    break
                except ValueError:
                    pass
            params[name] = value
    return params


def check_command(command: str, stand_ins: dict, capsys) -> None:
    """Run, dry-run or (for a command that needs a trained run or a GPU machine) parse a documented command."""
    words = shlex.split(command, comments=True)
    if words[:1] == [".venv/bin/python"] or words[:1] == ["python3"]:
        words = ["python", *words[1:]]
    if words[0] == "make":
        done = subprocess.run(["make", "-n", *words[1:]], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    elif words[:4] == ["python", "-m", "fowkal", "train"]:
        from fowkal.__main__ import main

        argv = _cli_with_stand_ins(words[3:], stand_ins)
        if "--help" in argv:
            with pytest.raises(SystemExit) as stop:
                main(argv)
            assert stop.value.code == 0
            return
        capsys.readouterr()
        code = main([*argv, "--dry-run"])
        printed = capsys.readouterr()
        assert code == 0, printed.err
        assert "dry run:" in printed.out
    elif words[:4] == ["python", "-m", "fowkal", "evaluate"]:
        # needs a trained run: the folder it names is where the documented training writes
        from fowkal.__main__ import build_parser
        from fowkal.configs import build_config
        from fowkal.runs.options import TrainOptions

        args = build_parser().parse_args(words[3:])
        written = Path(build_config(**TrainOptions().config_kwargs()).work_dir)
        assert written == (Path.cwd() / args.source).resolve(), \
            f"{args.source} is not where `python -m fowkal train` writes its run ({written})"
    elif words[:4] == ["python", "-m", "fowkal", "evaluate-results"]:
        import os

        from fowkal.__main__ import main

        example = os.environ.get("FOWKAL_EVAL_EXAMPLE")
        if not example:
            pytest.skip("FOWKAL_EVAL_EXAMPLE is not set (real annotations and predictions to score)")
        files = {"GT.json": f"{example}/example_gt.json", "RES.json": f"{example}/example_pred.json"}
        assert main([files.get(w, w) for w in words[3:]]) == 0
    elif words[:4] == ["python", "-m", "fowkal.data", "make"]:
        from fowkal.data.__main__ import build_parser

        args = build_parser().parse_args(words[3:])  # generating takes minutes: the arguments parse
        assert args.command == "make"
    elif words[0] == "papermill":
        import papermill

        notebook, output = REPO / words[1], words[2]
        assert notebook.is_file() and output.endswith(".ipynb"), command
        declared = papermill.inspect_notebook(str(notebook))
        params = _papermill_parameters(words, stand_ins)
        unknown = sorted(set(params) - set(declared))
        assert not unknown, f"{words[1]} has no parameter(s) {unknown}"
        if notebook.name == "train.ipynb":
            from fowkal.runs.options import TrainOptions
            from fowkal.runs.train import dry_run

            dry_run(TrainOptions.from_notebook(**params), out=lambda text: None)
        elif notebook.name in ("ablation.ipynb", "kaf_study.ipynb"):  # the notebook's own checks, no work
            from fowkal.studies import ablation, kaf_study

            study = ablation if notebook.name == "ablation.ipynb" else kaf_study
            defaults = {name: spec["default"] for name, spec in declared.items()}
            values = {name: _notebook_value(defaults[name], params.get(name)) for name in defaults}
            plan = study.notebook_plan(**values)
            assert plan["seeds"], command
    elif words[1:2] and words[1].startswith("benchmarks/"):
        script = REPO / words[1]
        done = subprocess.run([sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        for flag in (w for w in words[2:] if w.startswith("--")):
            assert flag in done.stdout, f"{words[1]} has no option {flag}"
    else:
        pytest.fail(f"a documented command this test cannot check: {command!r}")


@pytest.mark.parametrize("where, command", COMMANDS, ids=[f"{w}:{c[:60]}" for w, c in COMMANDS])
def test_a_documented_command_runs(where, command, stand_ins, capsys):
    pytest.importorskip("mmengine")
    try:
        check_command(command, stand_ins, capsys)
    except (ValueError, TypeError, FileNotFoundError) as err:
        pytest.fail(f"{where}: `{command}` is refused: {err}")


def test_the_commands_are_found():
    where = {w for w, _ in COMMANDS}
    assert "README.md" in where and any(w.startswith("book/") for w in where)
    assert any(c.startswith("python -m fowkal train") for _, c in COMMANDS)
    assert any(c.startswith("papermill") for _, c in COMMANDS)


def test_readme_s_two_commands_work_dry():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]
    assert commands == ["make", "make test"]
    for command in commands:
        done = subprocess.run(["make", "-n", *command.split()[1:]], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
