"""Write a benchmark folder: images, COCO-WholeBody annotations, simulated person detections.

Layout (MMPose's ``CocoWholeBodyDataset`` loads it with ``data_root=<folder>``,
``ann_file='annotations/wholebody_train.json'``, ``data_prefix=dict(img='images/train/')``)::

    benchmark.json                         generator version, seed, parameters, counts
    annotations/wholebody_train.json       COCO-WholeBody v1.0 schema, noisy labels
    annotations/wholebody_val.json         clean labels unless val_noise > 0
    annotations/person_detections_val.json like COCO_val2017_detections_AP_H_56_person.json
    images/train/000000000001.jpg ...
    images/val/000001000001.jpg ...

Every image has its own random stream (seed, split, index), so the output does not depend on
the number of worker processes, and the folder appears atomically (temp folder, then rename).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from ..jsonfile import write_json_atomic
from .coco import category, detections, image_record, person_annotation
from .params import (DEFAULT_PARAMS, GENERATOR_VERSION, NOISE_PARTS, NOISE_SCALE,
                     validate_params, validate_seed)
from .render import render_image

#: The folder that holds the ``fowkal`` package (the repository, for a checkout).
PACKAGE_PARENT = Path(__file__).resolve().parents[2]

MANIFEST = "benchmark.json"
TRAIN_ANN = "annotations/wholebody_train.json"
VAL_ANN = "annotations/wholebody_val.json"
VAL_DETECTIONS = "annotations/person_detections_val.json"
SPLITS = ("train", "val")
_SPLIT_CODE = {"train": 0, "val": 1}
_VAL_ID_OFFSET = 1_000_000  # image ids of the two splits never collide
_log = logging.getLogger(__name__)
_DATE = "2025/01/01"  # fixed, so that the files are reproducible byte for byte


def annotation_file(split: str) -> str:
    return {"train": TRAIN_ANN, "val": VAL_ANN}[split]


def image_prefix(split: str) -> str:
    return f"images/{split}/"


def benchmark_key(seed: int, params: dict, version: str = GENERATOR_VERSION) -> str:
    """The cache name of a benchmark: a hash of what determines its bytes, the generator's version
    (:data:`~fowkal.data.params.GENERATOR_VERSION`, bumped when the output changes), the seed and the
    parameters (completed with the defaults and checked: :func:`~fowkal.data.params.validate_params`)."""
    full = {k: list(v) if isinstance(v, tuple) else v for k, v in validate_params(params).items()}
    blob = json.dumps({"version": version, "seed": validate_seed(seed), "params": full}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def content_sha256(folder) -> str:
    """sha256 of a benchmark's content: every image's bytes and the annotations and detections as data
    (parsed, without the annotation files' descriptive ``info`` block); the manifest is left out.
    Equal for two folders exactly when a model sees the same images, labels and boxes in both."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                data.pop("info", None)
            body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        else:
            body = path.read_bytes()
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(body).digest())
    return digest.hexdigest()


def benchmark_identity(root) -> dict | None:
    """What names an embedded benchmark and what it holds: generator version, seed, parameters (all of
    them), key (its folder's name) and ``content_sha256``; None for a folder that is not one (another
    dataset). ``default_benchmark(seed=..., **params)`` makes it again; a run record keeps it."""
    if not (Path(root) / MANIFEST).is_file():
        return None
    manifest = read_manifest(root)
    version, seed = manifest["generator_version"], manifest["seed"]
    params = {k: list(v) if isinstance(v, tuple) else v
              for k, v in validate_params(_tuples(manifest["params"])).items()}
    content = manifest.get("content_sha256") or content_sha256(root)  # older folders lack it in the manifest
    return {"generator_version": version, "seed": seed, "params": params,
            "key": benchmark_key(seed, _tuples(params), version), "content_sha256": content}


def _tuples(params: dict) -> dict:
    """Parameters read from JSON (pairs as lists) as ``validate_params`` takes them."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def default_data_root() -> Path:
    """``$FOWKAL_DATA_ROOT``, else ``data/`` next to the ``fowkal`` package (the repo's data/)."""
    env = os.environ.get("FOWKAL_DATA_ROOT")
    if env:
        return Path(env)
    return PACKAGE_PARENT / "data"


def default_benchmark(root=None, *, seed: int = 0, workers: int | None = None, progress: bool = True,
                      **params) -> Path:
    """The cached benchmark for ``seed`` and ``params`` (defaults if none): made once, then reused.

    Its folder name holds :func:`benchmark_key` (generator version, seed and parameters), so a
    generator whose output changed (a new version) makes a new one. Two processes racing both
    generate; the first rename wins.
    """
    seed = validate_seed(seed)
    full = validate_params(params)
    root = default_data_root() if root is None else Path(root)
    path = root / f"wholebody-synth-{benchmark_key(seed, full)}"
    if (path / MANIFEST).is_file():
        return path
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / f".{path.name}.lock"):  # concurrent runs wait for one generator
        if (path / MANIFEST).is_file():
            return path
        try:
            return make_benchmark(path, seed=seed, workers=workers, progress=progress, **params)
        except FileExistsError:
            if (path / MANIFEST).is_file():  # another process (without the lock) finished first
                return path
            raise


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """An advisory file lock (POSIX); without fcntl, the atomic rename alone keeps results whole."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_benchmark(out_dir, *, seed: int = 0, workers: int | None = None,
                   overwrite: bool = False, progress: bool = True, **params) -> Path:
    """Generate a benchmark into ``out_dir`` (must not exist unless ``overwrite``); returns it.

    Parameters are checked first (``fowkal.data.DEFAULT_PARAMS`` lists them); a bad one, or an
    output folder that cannot be written, raises before anything is written. ``workers``: processes
    (default: every usable core); ``progress``: a progress line on stderr (where, how far, how long).
    """
    seed = validate_seed(seed)
    full = validate_params(params)
    out = _check_out_dir(out_dir, overwrite)
    workers = _check_workers(workers)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as err:
        raise ValueError(f"cannot write into {out.parent}: {err}") from err
    progress = Progress(full["train_images"] + full["val_images"], out, workers, enabled=progress)
    try:
        _generate(tmp, seed, full, workers, progress)
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the benchmark is shared data
        _move_into_place(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    elapsed = progress.close()
    _log.info("generated %s in %.1f s with %d worker(s)", out, elapsed, workers)
    return out


def _check_out_dir(out_dir, overwrite) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {out_dir!r} ({type(out_dir).__name__})")
    out = Path(out_dir).expanduser().absolute()
    parent = out.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ValueError(f"cannot write the benchmark to {out}: its parent {parent} {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write the benchmark to {out}: {parent} is not writable")
    if out.exists() and not overwrite:
        if out.is_dir() and not any(out.iterdir()):
            return out  # an empty folder is replaced by the rename
        raise FileExistsError(f"{out} already exists (pass overwrite=True / --overwrite)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ValueError(f"refusing to overwrite {out}: it is not a fowkal benchmark "
                         f"(no {MANIFEST})")
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _check_workers(workers) -> int:
    if workers is None:
        return usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def _move_into_place(tmp: Path, out: Path, overwrite: bool) -> None:
    old = None
    if overwrite and out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
    try:
        os.rename(tmp, out)  # atomic on one file system: readers see all or nothing
    except OSError as err:
        if old is not None:
            os.rename(old, out)
        raise FileExistsError(f"{out} appeared while generating ({err})") from err
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- generation
def _image_id(split: str, index: int) -> int:
    return index + 1 + (_VAL_ID_OFFSET if split == "val" else 0)


def _split_noise(split: str, params: dict) -> dict:
    """part -> noise level (``noise_kind`` 'part'), or ``{"oks": factor}`` (``noise_kind`` 'oks')."""
    factor = 1.0 if split == "train" else params["val_noise"]
    if params["noise_kind"] == "oks":
        return {"oks": params["noise_oks"] * factor}
    return {part: params[f"noise_{part}"] * factor for part in NOISE_PARTS}


def render_task(task) -> tuple:
    """Render, save and annotate one image (runs in a worker process)."""
    seed, split, index, params, folder = task
    code = _SPLIT_CODE[split]
    image, people = render_image(np.random.default_rng([seed, code, index, 0]), params)
    width, height = params["image_size"]
    image_id = _image_id(split, index)
    fmt = params["image_format"]
    file_name = f"{image_id:012d}.{fmt}"
    flags = [cv2.IMWRITE_JPEG_QUALITY, params["jpeg_quality"]] if fmt == "jpg" else [
        cv2.IMWRITE_PNG_COMPRESSION, 6]
    ok, encoded = cv2.imencode("." + fmt, image, flags)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {file_name}")
    Path(folder, file_name).write_bytes(encoded.tobytes())
    noise_rng = np.random.default_rng([seed, code, index, 1])
    anns = []
    for j, person in enumerate(people):
        ann = person_annotation(person, image_id=image_id, ann_id=image_id * 10 + j, width=width,
                                height=height, noise=_split_noise(split, params), rng=noise_rng,
                                area_scale=params["area_scale"])
        if ann is not None:
            anns.append(ann)
    dets = []
    if split == "val":
        dets = detections(anns, image_id=image_id, width=width, height=height, params=params,
                          rng=np.random.default_rng([seed, code, index, 2]))
    return image_record(image_id, file_name, width, height), anns, dets


class Progress:
    """A one-line progress report on stderr, tqdm-like: where the benchmark goes, images done, time.

    On a terminal the line is redrawn in place (at most 5 times a second); otherwise (logs, CI) one
    line per tenth of the work. ``enabled=False`` prints nothing.
    """

    def __init__(self, total: int, where: Path, workers: int, enabled: bool = True, stream=None):
        self.total, self.where, self.workers, self.enabled = total, where, workers, enabled
        self.stream = sys.stderr if stream is None else stream
        self.done, self.start = 0, time.perf_counter()
        self._shown, self._last = -1, 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _write(self, text: str, end: str) -> None:
        if self.enabled:
            self.stream.write(("\r" if self._tty else "") + text + end)
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        tenth = 10 * self.done // max(self.total, 1)
        if (self._tty and now - self._last < 0.2 and self.done < self.total) or (
                not self._tty and tenth == self._shown):
            return
        self._last, self._shown = now, tenth
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        self._write(f"[fowkal.data] generating {self.where}: {self.done}/{self.total} images "
                    f"{100 * self.done / max(self.total, 1):3.0f}% | {elapsed:5.1f} s, ~{left:.0f} s left "
                    f"({self.workers} worker{'s' * (self.workers > 1)})", "" if self._tty else "\n")

    def close(self) -> float:
        elapsed = time.perf_counter() - self.start
        self._write(f"[fowkal.data] wrote {self.where}: {self.total} images in {elapsed:.1f} s with "
                    f"{self.workers} worker{'s' * (self.workers > 1)}" + " " * 20 * self._tty, "\n")
        return elapsed


def _run(tasks, workers, progress: Progress):
    """Results of ``render_task`` for every task, in order; ``workers`` fresh interpreters, each
    reporting every finished image (a line on its stdout) to ``progress``."""
    if workers == 1 or len(tasks) < 64:
        results = []
        for t in tasks:
            results.append(render_task(t))
            progress.update()
        return results
    env = dict(os.environ, OMP_NUM_THREADS="1")
    worker = str(Path(__file__).resolve().with_name("worker.py"))  # a script: see fowkal.data.worker
    with tempfile.TemporaryDirectory(prefix="fowkal-data-") as scratch:
        procs = []
        try:
            for k in range(workers):
                out, err = Path(scratch, f"results-{k}.json"), Path(scratch, f"stderr-{k}.txt")
                job = json.dumps({"tasks": tasks[k::workers], "out": str(out)})
                with open(err, "w") as err_file:
                    proc = subprocess.Popen([sys.executable, worker],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=err_file, env=env, text=True)
                procs.append((proc, job, out, err))
            for proc, job, _, _ in procs:
                # a worker that died already raises BrokenPipeError here; its exit status tells
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(job)
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
            _follow(procs, progress)
            results = [None] * len(tasks)
            for k, (proc, _, out, err) in enumerate(procs):
                if proc.wait() != 0:
                    raise RuntimeError(f"benchmark worker {k} failed:\n{err.read_text()[-3000:]}")
                results[k::workers] = json.loads(out.read_text())
            return results
        finally:
            for proc, *_ in procs:
                if proc.poll() is None:  # interrupted: stop our own workers
                    proc.kill()
                    proc.wait()


def _follow(procs, progress: Progress) -> None:
    """Count the workers' progress lines (one per image) until every worker closed its stdout."""
    with selectors.DefaultSelector() as selector:
        for proc, *_ in procs:
            selector.register(proc.stdout, selectors.EVENT_READ)
        open_pipes = len(procs)
        while open_pipes:
            for key, _ in selector.select():
                line = key.fileobj.readline()
                if line.strip() == "1":  # an image done (anything else a library printed is ignored)
                    progress.update()
                elif not line:  # the worker exited (or closed its stdout)
                    selector.unregister(key.fileobj)
                    open_pipes -= 1


def info_block(split: str, seed: int, params: dict) -> dict:
    noise = _split_noise(split, params)
    return {
        "description": f"fowkal embedded whole-body benchmark ({split}), generated; "
                       "COCO-WholeBody v1.0 schema",
        "url": "",
        "version": "1.0",
        "year": _DATE[:4],
        "date_created": _DATE,
        "generator": "fowkal.data",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "split": split,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        "annotation_noise": {
            "parts": noise,
            "kind": "isotropic Gaussian on x and y of every labelled keypoint",
            "std_unit": dict(NOISE_SCALE),
        } if "oks" not in noise else {
            "oks": noise["oks"],
            "kind": "isotropic Gaussian on x and y of every labelled keypoint, per keypoint from its OKS sigma",
            "std_unit": "oks x sigma_k x sqrt(visible silhouette area) / sqrt(2) per coordinate "
                        "(fowkal.parts.SIGMAS, COCO-WholeBody's official sigmas)",
        },
        "area": f"visible silhouette area in pixels x area_scale ({params['area_scale']:g}); "
                "COCO's definition is area_scale 1. OKS tolerances grow with sqrt(area_scale)",
    }


def _generate(folder: Path, seed: int, params: dict, workers: int, progress: Progress) -> None:
    tasks = []
    for split in SPLITS:
        (folder / image_prefix(split)).mkdir(parents=True)
        n = params[f"{split}_images"]
        tasks += [(seed, split, i, params, str(folder / image_prefix(split))) for i in range(n)]
    results = _run(tasks, workers, progress)
    (folder / "annotations").mkdir()
    counts = {}
    offset = 0
    for split in SPLITS:
        n = params[f"{split}_images"]
        chunk = results[offset:offset + n]
        offset += n
        images = [r[0] for r in chunk]
        anns = [a for r in chunk for a in r[1]]
        coco = {"info": info_block(split, seed, params),
                "licenses": [{"url": "", "id": 1, "name": "generated by fowkal.data"}],
                "categories": [category()], "images": images, "annotations": anns}
        _write_json(folder / annotation_file(split), coco)
        counts[split] = {"images": len(images), "persons": len(anns),
                         "persons_with_keypoints": sum(a["num_keypoints"] > 0 for a in anns)}
        if split == "val":
            _write_json(folder / VAL_DETECTIONS, [d for r in chunk for d in r[2]])
    manifest = {"generator": "fowkal.data", "generator_version": GENERATOR_VERSION, "seed": seed,
                "key": benchmark_key(seed, params), "content_sha256": content_sha256(folder),
                "params": info_block("train", seed, params)["params"], "counts": counts,
                "train_ann": TRAIN_ANN, "val_ann": VAL_ANN, "val_detections": VAL_DETECTIONS,
                "train_img_prefix": image_prefix("train"), "val_img_prefix": image_prefix("val")}
    _write_json(folder / MANIFEST, manifest, indent=2)


def _write_json(path: Path, obj, indent=None) -> None:
    write_json_atomic(obj, path, indent=indent, compact=indent is None)


def read_manifest(root) -> dict:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{root} is not a fowkal benchmark folder (no {MANIFEST}); "
                         f"make one with `python -m fowkal.data make --out DIR`")
    return json.loads(path.read_text())


__all__ = ["DEFAULT_PARAMS", "GENERATOR_VERSION", "benchmark_identity", "benchmark_key", "content_sha256",
           "default_benchmark", "make_benchmark", "read_manifest", "annotation_file", "image_prefix"]
