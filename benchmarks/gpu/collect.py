"""Collect what a bare CUDA machine lacks to run ``check.py``: the MMPose 1.1.0 stack, xtcocotools' source
and this project, into one folder (``benchmarks/gpu/wheels/``, ignored by git).

Run it on a machine that reaches the package registries, with the project's environment:

    .venv/bin/python benchmarks/gpu/collect.py                 # for the GPU image's Python 3.12
    .venv/bin/python benchmarks/gpu/collect.py --python 3.11 --out work_dirs/wheels-311   # a local dry run

What is left out on purpose: torch, torchvision, numpy and everything else the GPU image already has
(``ON_IMAGE``); the wheels are installed there with ``--no-deps``, so nothing reinstalls torch.
xtcocotools travels as its source archive: its binary wheels are built against numpy 1, and it is built
on the GPU machine against that machine's numpy 2 (as ``.ci/setup`` does here). Every ``Requires-Dist``
of what is collected is checked against the set plus ``ON_IMAGE``; a gap is an error, before anything
is used. ``manifest.json`` lists each file with its size and sha256.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from fowkal.jsonfile import write_json_atomic

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_OUT = HERE / "wheels"
#: The pins of .ci/setup and pyproject's [mmpose] extra; the small pure-Python needs follow the
#: versions installed here (the ones CI tests), else the newest.
PINNED = {"mmpose": "1.1.0", "mmengine": "0.10.7", "mmcv-lite": "2.1.0", "xtcocotools": "1.14.3"}
SMALL = ("json-tricks", "munkres", "addict", "yapf", "termcolor", "platformdirs", "setuptools")
SDISTS = ("xtcocotools",)
#: On the 'cuda' image of the GPU machines (their package list); never collected.
ON_IMAGE = {"torch", "torchvision", "numpy", "scipy", "matplotlib", "opencv-python-headless", "pillow",
            "pyyaml", "rich", "packaging", "six", "cython", "setuptools", "wheel", "triton"}
#: Requirements that need nothing: chumpy is 3D-only and does not build (mmpose is installed without
#: deps everywhere), and opencv-python is satisfied by the image's opencv-python-headless.
NOT_NEEDED = {"chumpy", "opencv-python"}
#: The carry limit of the GPU machine's tool is 64 MiB for the tree and the wheels together.
CARRY_WARN_BYTES = 48 << 20
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_specs() -> list[str]:
    specs = [f"{name}=={version}" for name, version in PINNED.items() if name not in SDISTS]
    for name in SMALL:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            specs.append(name)
            continue
        if name == "setuptools" and int(version.split(".")[0]) >= 81:
            specs.append("setuptools<81")  # mmengine imports pkg_resources
        else:
            specs.append(f"{name}=={version}")
    return specs


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"collect: `{' '.join(cmd)}` failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")


def download(out: Path, python: str) -> None:
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    nodot = python.replace(".", "")
    pip("download", "--no-deps", "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
        "--abi", f"cp{nodot}", "--abi", "abi3", "--abi", "none", *platform_args, "-d", str(out),
        *requirement_specs())
    # the source archive; --no-build-isolation: its metadata is prepared with this environment's cython
    pip("download", "--no-deps", "--no-binary=:all:", "--no-build-isolation", "-d", str(out),
        *[f"{name}=={PINNED[name]}" for name in SDISTS])


def build_project(out: Path) -> None:
    """The project's own wheel, built from a copy (an in-tree build would leave build/ in the checkout)."""
    with tempfile.TemporaryDirectory(prefix="fowkal-wheel-") as tmp:
        src = Path(tmp, "src")
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(REPO / name, src / name)
        shutil.copytree(REPO / "fowkal", src / "fowkal",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src))


def wheel_requirements(path: Path, python: str) -> set[str]:
    """Distribution names a wheel requires on Linux with ``python`` (extras left out)."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(path) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        text = wheel.read(name).decode()
    where = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
             "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
             "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    names = set()
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            req = Requirement(line[len("Requires-Dist:"):].strip())
            if req.marker is None or req.marker.evaluate(where):
                names.add(normalise(req.name))
    return names


def dist_name(path: Path) -> str:
    stem = path.name[:-len(".tar.gz")] if path.name.endswith(".tar.gz") else path.name
    return normalise(stem.split("-")[0])


def check_closure(files: list[Path], python: str) -> None:
    have = {dist_name(f) for f in files} | ON_IMAGE | NOT_NEEDED
    missing = {}
    for path in files:
        if path.suffix == ".whl":
            for need in wheel_requirements(path, python) - have:
                missing.setdefault(need, []).append(path.name)
    if missing:
        raise SystemExit(f"collect: requirements neither collected nor on the GPU image: {missing}; "
                         f"add them to SMALL in {Path(__file__).name}")
    collected = [dist_name(f) for f in files]
    dupes = sorted({n for n in collected if collected.count(n) > 1})
    if dupes:
        raise SystemExit(f"collect: more than one file of {dupes}: one version each, or pip refuses")
    if "torch" in collected:
        raise SystemExit("collect: torch must never be collected (the GPU image has its CUDA build)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit() -> dict:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no",
                                "--", "fowkal", "pyproject.toml"], capture_output=True, text=True)
    except OSError:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip() or None, "dirty": bool(dirty.stdout.strip())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to fill (emptied first)")
    parser.add_argument("--python", default="3.12", help="the GPU machine's Python, major.minor (default 3.12)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"3\.\d+", args.python):
        parser.error(f"--python must look like 3.12, got {args.python!r}")
    out = args.out.resolve()
    if out.exists() and any(p.suffix not in (".whl", ".gz", ".json") for p in out.iterdir()):
        parser.error(f"--out {out} holds files other than wheels, archives and a manifest: not emptying it")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    download(out, args.python)
    build_project(out)
    files = sorted(p for p in out.iterdir() if p.suffix in (".whl", ".gz"))
    check_closure(files, args.python)
    total = sum(f.stat().st_size for f in files)
    manifest = {
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": args.python,
        "project": git_commit(),
        "files": [{"name": f.name, "bytes": f.stat().st_size, "sha256": sha256(f)} for f in files],
        "total_bytes": total,
        "left_out_on_image": sorted(ON_IMAGE),
    }
    write_json_atomic(manifest, out / "manifest.json")
    for f in files:
        print(f"{f.stat().st_size / 1024:9.0f} KiB  {f.name}")
    print(f"{total / 2**20:9.1f} MiB  in {len(files)} files -> {out}")
    if total > CARRY_WARN_BYTES:
        print(f"collect: WARNING: {total / 2**20:.1f} MiB leaves little of the 64 MiB a device call carries; "
              f"see benchmarks/gpu/README.md (splitting the set)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
