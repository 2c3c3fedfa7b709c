"""Run records as data: the committed records regenerate their config, and no tracked file holds a
path of the machine that made it."""
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from fowkal.runs import record as run_record

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
COMMITTED = sorted(RESULTS.rglob(run_record.RECORD_NAME))
#: An absolute path of a machine: one of these top-level folders (work, tmp, root, home, Users, mnt ...)
#: at the start of a path, not inside a relative one such as runs/tmp/.
MACHINE_PATH = re.compile(r"(?<![\w.~/-])/(work|tmp|root|home|Users|mnt|scratch|private|var/folders)/")


def _standin(root: Path) -> Path:
    """A folder with the cpu profile's layout (empty files): the config hash does not depend on the root."""
    for name in ("annotations/wholebody_train.json", "annotations/wholebody_val.json",
                 "annotations/person_detections_val.json"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    for name in ("images/train", "images/val"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.fail(f"git ls-files failed in {REPO}: {err}")
    return [name for name in out.stdout.decode().split("\0") if name]


# --------------------------------------------------------------------------- the committed records
def test_the_committed_records_are_64x48_from_clean_trees_and_seed_major():
    from fowkal.configs.geometry import GEOMETRIES, PROFILE_GEOMETRY, SIGMA
    from fowkal.losses import METHODS
    from fowkal.studies.kaf_study import ABLATION_SEEDS, BEST_VARIANT, PIXEL_VARIANTS, STUDY_DIR

    def geometry(name):
        spec = GEOMETRIES[name]
        return {"input_size": list(spec["input_size"]), "heatmap_size": list(spec["heatmap_size"]), "sigma": SIGMA}

    ablation = {}
    for path in COMMITTED:
        record = run_record.load(path)
        where = path.parent.relative_to(RESULTS)
        study = path.parent / "study.json"
        pixel_test = study.is_file() and json.loads(study.read_text())["variant"] in PIXEL_VARIANTS
        # no 32x24 record is left in the tree (git keeps them) but the study's pixel-scale test
        assert record["geometry"] == geometry("32x24" if pixel_test else PROFILE_GEOMETRY), where
        assert record["git"]["dirty"] is False and len(record["git"]["commit"]) == 40, where  # a clean tree
        assert record["profile"] == "cpu" and where.name == f"seed{record['seed']}", where
        if where.parts[0] == "cpu":
            assert where.parts[1] == record["method"], where
            ablation.setdefault(record["seed"], set()).add(record["method"])
        if where.parts[:2] in (("convergence", "ablation"), ("convergence", "plateau")):
            # at the converged schedule, named as the table names it
            from fowkal.configs.arguments import SCHEDULES
            from fowkal.studies.convergence import CONVERGED_RUNS

            from fowkal.studies.convergence import PLATEAU_EPOCHS, PLATEAU_VAL_INTERVAL

            method = {name: method for name, method, _ in CONVERGED_RUNS}[where.parts[2]]
            epochs, val_interval = SCHEDULES["converged"] if where.parts[1] == "ablation" else \
                (PLATEAU_EPOCHS, PLATEAU_VAL_INTERVAL)
            assert record["method"] == method and record["schedule"]["epochs"] == epochs, where
            assert record["config"]["args"]["val_interval"] == val_interval, where
            # one sampler throughout the ablation: every sample seeded, so seeds pair runs exactly
            sampler = (record["config"].get("differences") or {}).get("train_dataloader.sampler.type")
            assert (sampler is None) == (where.parts[1] == "ablation"), where
        if where.parts[:2] == ("convergence", "long"):
            from fowkal.configs.arguments import SCHEDULES

            assert record["schedule"]["epochs"] == SCHEDULES["converged"][0], where
    # seed-major, as the ablation runs: the seeds from 0 without a gap, every method at all but the last
    seeds = sorted(ablation)
    assert seeds == list(range(len(seeds)))
    for seed in seeds[:-1]:
        assert ablation[seed] == set(METHODS), f"seed {seed} lacks {sorted(set(METHODS) - ablation[seed])}"
    # the reproduction's verdicts and the best KAF variant's judgement need this many complete seeds
    complete = [seed for seed in seeds if ablation[seed] == set(METHODS)]
    assert len(complete) >= ABLATION_SEEDS, f"only {len(complete)} complete seeds of the ablation are committed"
    best = {run_record.load(path)["seed"] for path in COMMITTED
            if path.parent.parent.relative_to(RESULTS) == Path(STUDY_DIR, "default", f"fowkal-{BEST_VARIANT}")}
    assert set(complete) <= best, f"the best KAF variant lacks seeds {sorted(set(complete) - best)}"


def test_the_committed_kaf_study_runs_its_whole_plan_with_its_pushes():
    from fowkal.studies import kaf_study

    # every setting of the study's plan at >= 3 paired seeds, the default-noise paper runs
    # being the ablation's; every run with its push measured, which the chapter's push sections read
    runs = kaf_study.load_runs(RESULTS)
    seeds = {}
    for run in runs:
        seeds.setdefault((run["noise"], run["method"], run["variant"]), set()).add(run["seed"])
    for setting in kaf_study.STUDY_RUNS:
        assert {0, 1, 2} <= seeds.get(setting, set()), f"{setting} has seeds {sorted(seeds.get(setting, []))}"
    unmeasured = [(r["noise"], r["method"], r["variant"], r["seed"]) for r in runs if not r.get("push")]
    assert unmeasured == [], f"runs without kaf_push.json: {unmeasured}"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.parent.relative_to(RESULTS)))
def test_a_committed_record_regenerates_its_config(path, tmp_path_factory):
    from fowkal.data import DEFAULT_PARAMS
    from fowkal.runs.runconfig import benchmark_key_of, regenerated_sha256

    record = run_record.load(path)
    assert record["schema_version"] == run_record.SCHEMA_VERSION
    # the same hash from any data root of the layout: it is a placeholder in the canonical text
    standin = _standin(tmp_path_factory.mktemp("standin"))
    assert regenerated_sha256(record, data_root=standin) == record["config"]["sha256"]
    # the data block names the benchmark its folder is (generator version, seed, every parameter) and
    # what it holds (content hash)
    data = record["data"]
    bench = data["benchmark"]
    assert data["root"] == f"{run_record.DATA_ROOT_VAR}/wholebody-synth-{bench['key']}"
    assert benchmark_key_of(bench) == bench["key"]
    assert set(bench) == {"generator_version", "seed", "params", "key", "content_sha256"}
    assert set(bench["params"]) == set(DEFAULT_PARAMS) and len(bench["content_sha256"]) == 64
    study = path.parent / "study.json"
    if study.is_file():  # the study's overrides and noise are the record's
        study = json.loads(study.read_text())
        assert record["config"]["overrides"] == study["overrides"]
        assert {k: bench["params"][k] for k in study["noise_params"]} == study["noise_params"]


def test_committed_record_folders_hold_data_only():
    dumps = [name for name in _tracked_files() if name.startswith("results/")
             and (name.endswith((".ipynb", "/config.py")) or Path(name).suffix not in (".json", ".md"))]
    assert dumps == [], "config dumps, executed notebooks or other files committed with the records"


def test_no_tracked_file_holds_a_machine_path():
    found = []
    for name in _tracked_files():
        path = REPO / name
        if not path.is_file():
            continue  # deleted in the work tree, not committed yet
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (PNG, ...)
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not found, "absolute machine paths in tracked files:\n" + "\n".join(found[:30])


def test_the_machine_path_pattern():
    def path(*parts):  # (written in pieces: this file is tracked too)
        return "/" + "/".join(parts)

    for text in (f"'{path('work', 'main', 'data')}'", f"data_root={path('tmp', 'a')}", f'"{path("root", ".cache")}"',
                 f" {path('home', 'me')}", f"({path('Users', 'me', 'x')})"):
        assert MACHINE_PATH.search(text), text
    for text in ("runs/tmp/", "work_dirs/ablation", "$FOWKAL_DATA_ROOT/wholebody", "https://a.org/home/x",
                 "results/cpu/tables.md", "a /nowhere path"):
        assert not MACHINE_PATH.search(text), text


# --------------------------------------------------------------------------- the hash and the blocks
@pytest.fixture(scope="module")
def config_parts():
    from fowkal.configs import build_config
    from fowkal.runs.runconfig import prepare_config

    def build(root, **overrides):
        cfg = build_config("kal", "cpu", data_root=root, seed=2, epochs=2, work_dir=root / "work", **overrides)
        return prepare_config(cfg, launcher="none", device="cpu", resume=False, max_iters=3, world_size=1,
                              deterministic=True)

    return build


def test_the_canonical_hash_ignores_the_machine_and_sees_the_config(tmp_path, config_parts):
    from mmengine.config import Config

    a, b = _standin(tmp_path / "a"), _standin(tmp_path / "ab")  # "a" is a prefix of "ab"'s path
    cfg = config_parts(a)
    sha = run_record.config_sha256(cfg)
    assert run_record.config_sha256(config_parts(b)) == sha  # another data root and work dir
    text = run_record.canonical_config(cfg)
    assert str(a) not in text and "${data_root}/annotations/wholebody_train.json" in text
    assert '"config_file": "fowkal/configs/cpu/kal.py"' in text and '"work_dir"' not in text
    cfg.dump(str(tmp_path / "config.py"))  # what a run writes in its work dir hashes the same
    assert run_record.config_sha256(Config.fromfile(str(tmp_path / "config.py"))) == sha
    cfg.resume = True  # a resumed run trained the same config
    assert run_record.config_sha256(cfg) == sha
    assert run_record.config_sha256(config_parts(a, **{"model.head.loss.reg_weight": 0.5})) != sha
    assert run_record.config_sha256(config_parts(a, gt_boxes=True)) != sha


def test_a_record_block_regenerates_its_config(tmp_path, config_parts):
    from fowkal.__main__ import build_parser
    from fowkal.runs import runconfig

    root = _standin(tmp_path / "bench")
    overrides = {"model.head.loss.reg_weight": 0.5, "gt_boxes": True}
    cfg = config_parts(root, **overrides)
    args = dict(epochs=2, batch_size=None, gpus=1, nnodes=1, pretrained=None)
    run = dict(device="cpu", launcher="none", world_size=1, max_iters=3, deterministic=True)
    record = {"schema_version": run_record.SCHEMA_VERSION, "kind": run_record.KIND, "method": "kal",
              "profile": "cpu", "seed": 2, "data": runconfig.data_block(cfg, train_samples=0),
              "config": runconfig.config_block(cfg, args=args, overrides=overrides, run=run)}
    assert record["config"]["source"] == "fowkal/configs/cpu/kal.py"
    assert record["data"]["ann_train"] == "annotations/wholebody_train.json" and record["data"]["det_file"] is None
    assert record["data"]["img_val"] == "images/val/" and record["data"]["benchmark"] is None  # not a fowkal benchmark
    assert runconfig.regenerated_sha256(record) == record["config"]["sha256"] == run_record.config_sha256(cfg)
    # each thing the record keeps takes part: a changed one regenerates another config
    for key, value in (("overrides", {"gt_boxes": True}), ("args", dict(args, epochs=3)),
                       ("run", dict(run, deterministic=False))):
        changed = dict(record, config=dict(record["config"], **{key: value}))
        assert runconfig.regenerated_sha256(changed) != record["config"]["sha256"], key
    # the command line trains with the same arguments
    command = runconfig.train_command(record)
    words = shlex.split(command.replace("${FOWKAL_DATA_ROOT:-data}", "data"))
    assert words[:4] == ["python", "-m", "fowkal", "train"]
    parsed = build_parser().parse_args(words[3:])
    assert (parsed.method, parsed.seed, parsed.epochs, parsed.max_iters, parsed.deterministic) == ("kal", 2, 2, 3, True)
    # a file argument is an option of its own, the rest config overrides
    assert parsed.gt_boxes is True and dict(parsed.cfg_options) == {"model.head.loss.reg_weight": 0.5}
    assert Path(parsed.data_root) == root.resolve()
    # a run made before SeededSampler: the recorded sampler regenerates its config and is on its command line
    old = dict(record, config=dict(record["config"], differences={"train_dataloader.sampler.type": "DefaultSampler"}))
    assert runconfig.regenerate_config(old).train_dataloader.sampler.type == "DefaultSampler"
    assert runconfig.regenerated_sha256(old) != record["config"]["sha256"]
    parsed = build_parser().parse_args(shlex.split(runconfig.train_command(old).replace("${FOWKAL_DATA_ROOT:-data}",
                                                                                          "data"))[3:])
    assert dict(parsed.cfg_options) == {"model.head.loss.reg_weight": 0.5,
                                        "train_dataloader.sampler.type": "DefaultSampler"}


def test_regenerating_refuses_what_it_cannot_do(tmp_path):
    from fowkal.runs.runconfig import regenerate_config

    record = run_record.load(COMMITTED[0])
    with pytest.raises(ValueError, match="schema-1"):
        regenerate_config(dict(record, schema_version=1))
    args = dict(record["config"]["args"], pretrained="hrnet.pth")
    with pytest.raises(ValueError, match="pretrained weights 'hrnet.pth': pass pretrained="):
        regenerate_config(dict(record, config=dict(record["config"], args=args)))
    with pytest.raises(FileNotFoundError, match="is not here"):
        regenerate_config(dict(record, data={"root": str(tmp_path / "gone")}))


def test_a_benchmark_identity_names_its_folder(tmp_path):
    from fowkal.data import GENERATOR_VERSION, content_sha256, make_benchmark
    from fowkal.data.generate import benchmark_key
    from fowkal.runs.runconfig import benchmark_identity, benchmark_key_of

    bench = make_benchmark(tmp_path / "bench", seed=1, workers=1, train_images=1, val_images=1, noise_face=0.03)
    identity = benchmark_identity(bench)
    assert identity["seed"] == 1 and identity["params"]["noise_face"] == 0.03
    assert identity["generator_version"] == GENERATOR_VERSION and identity["content_sha256"] == content_sha256(bench)
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in identity["params"].items()}
    assert benchmark_key_of(identity) == identity["key"] == benchmark_key(1, params)
    assert benchmark_key_of(dict(identity, generator_version="0.0.1")) != identity["key"]
    assert benchmark_key_of(dict(identity, seed=2)) != identity["key"]
    assert benchmark_identity(tmp_path) is None  # not a fowkal benchmark


def _record_on(identity: dict) -> dict:
    return {"schema_version": run_record.SCHEMA_VERSION,
            "data": {"root": f"{run_record.DATA_ROOT_VAR}/wholebody-synth-{identity['key']}", "benchmark": identity}}


def test_the_images_drawn_for_a_record_are_its_own_unless_the_content_differs(tmp_path, monkeypatch):
    from fowkal.data import default_benchmark
    from fowkal.runs.runconfig import benchmark_identity, evaluated_benchmark

    small = dict(train_images=1, val_images=2, image_size=(128, 96), person_height=(60.0, 80.0))
    monkeypatch.setenv("FOWKAL_DATA_ROOT", str(tmp_path / "there"))
    there = default_benchmark(workers=1, progress=False, **small)
    identity = benchmark_identity(there)
    # the record's own folder, where it is
    assert evaluated_benchmark(_record_on(identity)) == (there, None)
    # on another machine: the benchmark made there has the same content, so no doubt is raised, even
    # when the record came from another generator version whose output was the same
    monkeypatch.setenv("FOWKAL_DATA_ROOT", str(tmp_path / "here"))
    older = dict(identity, generator_version="1.9.0", key="0123456789")
    for record in (_record_on(identity), _record_on(older)):
        root, note = evaluated_benchmark(record)
        assert root.parent == tmp_path / "here" and note is None
    # a generator whose images or labels differ from the record's: the page says so, naming both
    changed = dict(older, content_sha256="0" * 64)
    root, note = evaluated_benchmark(_record_on(changed))
    assert root.parent == tmp_path / "here"
    assert note and "wholebody-synth-0123456789" in note and root.name in note and "differ" in note
    # another dataset: its own folder where it is here, else nothing to draw
    other = {"schema_version": 2, "data": {"root": str(there), "benchmark": None}}
    assert evaluated_benchmark(other) == (there, None)
    with pytest.raises(ValueError, match="not here, and it is not an embedded benchmark"):
        evaluated_benchmark({"schema_version": 2, "data": {"root": str(tmp_path / "gone"), "benchmark": None}})


def test_portable_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("FOWKAL_DATA_ROOT", str(tmp_path / "data"))
    assert run_record.portable_path(tmp_path / "data" / "bench") == "$FOWKAL_DATA_ROOT/bench"
    assert run_record.portable_path(str(tmp_path / "data" / "bench") + "/") == "$FOWKAL_DATA_ROOT/bench/"
    assert run_record.portable_path(REPO / "results" / "cpu") == "results/cpu"
    assert run_record.portable_path(tmp_path / "else") == str(tmp_path / "else")  # outside both: as it is
    for text in ("$FOWKAL_DATA_ROOT/bench", "results/cpu", str(tmp_path / "else")):
        assert run_record.portable_path(run_record.resolve_path(text)) == text
    assert run_record.resolve_path("$FOWKAL_DATA_ROOT/bench") == (tmp_path / "data" / "bench").resolve()
    assert run_record.data_root({"schema_version": 2, "data": {"root": "results"}}) == REPO / "results"
    with pytest.raises(ValueError, match="non-empty string"):
        run_record.resolve_path("")
