"""One-off: migrate the committed run records under results/ from schema 1 to schema 2.

For every record folder: the config block is rebuilt from what regenerates the config (method,
profile, seed, build arguments, the study's overrides, run options), its sha256 is the canonical hash
of the committed config.py dump (the config the run trained with), and the dump is checked against
the config the current code builds: every difference is reported and kept in ``config.differences``
(the run's value), so that regenerating the record's config gives the dump's hash. Data paths become
relative to the data root, the root relative to $FOWKAL_DATA_ROOT. Metrics, losses, predictions,
logs are not touched (checked). Then config.py and the executed train.ipynb are removed (git rm).

    python scripts/migrate_records.py results OLD_DATA_PARENT     # e.g. the parent the runs used
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from mmengine.config import Config

from fowkal.data import MANIFEST, read_manifest
from fowkal.data.params import GENERATOR_VERSION, validate_params
from fowkal.jsonfile import write_json_atomic
from fowkal.runs import record as run_record
from fowkal.runs import runconfig

warnings.filterwarnings("ignore")
UNTOUCHED = ("losses", "metrics", "predictions", "files", "git", "versions", "device", "machine", "schedule")


def standin_root(tmp: Path) -> Path:
    """A folder with the cpu profile's layout (empty files): the hash does not depend on the root."""
    root = tmp / "standin"
    for name in ("annotations/wholebody_train.json", "annotations/wholebody_val.json",
                 "annotations/person_detections_val.json"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    for name in ("images/train", "images/val"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


def flat(obj, prefix=()):
    """(path tuple) -> leaf; a list index is an int in the path."""
    if isinstance(obj, dict) and obj:
        return {k: v for key, value in obj.items() for k, v in flat(value, prefix + (key,)).items()}
    if isinstance(obj, (list, tuple)) and obj:
        return {k: v for i, value in enumerate(obj) for k, v in flat(value, prefix + (i,)).items()}
    return {prefix: list(obj) if isinstance(obj, tuple) else obj}


def lookup(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def differences(trained, regenerated) -> dict:
    """Dotted key -> the run's value, for every config entry the code now builds differently (a
    difference inside a list keeps the run's whole list); compared on the canonical texts (data
    root a placeholder, work dir left out)."""
    a = flat(json.loads(run_record.canonical_config(trained)))
    b = flat(json.loads(run_record.canonical_config(regenerated)))
    trained = trained.to_dict()
    out = {}
    for path in sorted(set(a) | set(b), key=str):
        if a.get(path, KeyError) == b.get(path, KeyError):
            continue
        cut = next((i for i, key in enumerate(path) if isinstance(key, int)), len(path))
        head = path[:cut]
        if cut == len(path) and path not in a:
            raise ValueError(f"the code now builds a config key the run did not have: {'.'.join(map(str, path))}")
        value = json.loads(json.dumps(lookup(trained, head)))
        if "/" in json.dumps(value):
            raise ValueError(f"a difference holds a path, not migrated by hand here: {head}: {value}")
        out[".".join(head)] = value
    return out


def benchmark(old_root: Path, name: str, study: dict) -> dict:
    """The benchmark's identity: from its manifest when the folder is still there, else from the study's
    noise parameters (checked: they must name the folder's key)."""
    if (old_root / MANIFEST).is_file():
        return runconfig.benchmark_identity(old_root)
    params = validate_params(dict(study.get("noise_params", {})))
    source = GENERATOR_SOURCE
    identity = {"generator_version": GENERATOR_VERSION, "generator_source": source, "seed": 0, "key": None,
                "params": json.loads(json.dumps(params))}
    identity["key"] = runconfig.benchmark_key_of(identity)
    if name != f"wholebody-synth-{identity['key']}":
        raise ValueError(f"{name}: the study's noise parameters name benchmark {identity['key']}, not this one")
    return identity


def migrate(folder: Path, old_data_parent: str, standin: Path) -> dict:
    path = folder / run_record.RECORD_NAME
    old = json.loads(path.read_text())
    if old["schema_version"] != 1:
        raise ValueError(f"{path} is schema {old['schema_version']}, not 1")
    study = json.loads((folder / "study.json").read_text()) if (folder / "study.json").is_file() else {}
    dump = Config.fromfile(str(folder / "config.py"), import_custom_modules=False)
    trained_sha = run_record.config_sha256(dump)
    root = Path(old["data"]["data_root"])
    if root.parent != Path(old_data_parent):
        raise ValueError(f"{path}: data root {root} is not under {old_data_parent}")
    run = dict(device=old["device"]["type"], launcher=old["launcher"], world_size=old["device"]["processes"],
               max_iters=old["schedule"]["max_iters"], deterministic=old["schedule"]["deterministic"])
    args = dict(epochs=None, batch_size=None, gpus=dump.fowkal.gpus, nnodes=1, pretrained=None)
    config = {"source": run_record.package_relative(old["config"]["source"]), "args": args,
              "overrides": dict(study.get("overrides", {})), "run": run}
    new = {key: value for key, value in old.items()}
    new["schema_version"] = 2
    new["config"] = dict(config, sha256=None)
    def rel(p):
        return None if p is None else str(Path(p).relative_to(root)) + ("/" if p.endswith("/") else "")

    new["data"] = {"root": f"{run_record.DATA_ROOT_VAR}/{root.name}", "benchmark": benchmark(root, root.name, study),
                   "ann_train": rel(old["data"]["ann_train"]),
                   "img_train": rel(dump.train_dataloader.dataset.data_prefix.img),
                   "ann_val": rel(old["data"]["ann_val"]), "img_val": rel(old["data"]["img_val"]),
                   "det_file": rel(old["data"]["det_file"]), "train_samples": old["data"]["train_samples"]}
    # what the code builds now for this record, against what the run trained with
    regenerated = runconfig.regenerate_config(new, data_root=standin)
    diff = differences(dump, regenerated)
    if diff:
        new["config"]["differences"] = diff
        new["config"]["migrated"] = ("schema 1 -> 2: the config.py dump was dropped; sha256 is its canonical "
                                     "hash; differences: the run's values where the code now builds another config")
    else:
        new["config"]["migrated"] = "schema 1 -> 2: the config.py dump was dropped; sha256 is its canonical hash"
    new["config"]["sha256"] = trained_sha
    again = runconfig.regenerated_sha256(new, data_root=standin)
    if again != trained_sha:
        raise AssertionError(f"{path}: regenerating the migrated record gives {again}, the dump {trained_sha}")
    new["config"]["command"] = runconfig.train_command(new)
    for key in UNTOUCHED:
        if json.dumps(new.get(key)) != json.dumps(old.get(key)):
            raise AssertionError(f"{path}: {key} changed")
    run_record._check(new, path)
    write_json_atomic(new, path)
    return {"folder": str(folder), "differences": diff, "dirty": old["git"].get("dirty"),
            "commit": old["git"].get("commit")}


def main(results: str, old_data_parent: str) -> None:
    global GENERATOR_SOURCE
    folders = sorted(p.parent for p in Path(results).rglob(run_record.RECORD_NAME))
    manifests = [read_manifest(p) for p in Path(old_data_parent).glob("wholebody-synth-*") if (p / MANIFEST).is_file()]
    GENERATOR_SOURCE = manifests[0]["generator_source"]
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        standin = standin_root(Path(tmp))
        for folder in folders:
            report.append(migrate(folder, old_data_parent, standin))
    for name in ("config.py", "train.ipynb"):
        stale = [str(f / name) for f in folders if (f / name).is_file()]
        if stale:
            subprocess.run(["git", "rm", "-q", "-f", *stale], check=True)  # -f: staged as renamed
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
