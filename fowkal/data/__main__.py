"""Command line of the benchmark generator.

    python -m fowkal.data make --out data/bench --seed 0 [--train-images 2000 --noise-face 0.03 ...]
    python -m fowkal.data default [--root DIR]          # the cached default benchmark's folder
    python -m fowkal.data sheet --root data/bench --out sheet.png [--split val --n 12]
"""
from __future__ import annotations

import argparse
import logging
import sys
import time

from .params import DEFAULT_PARAMS


def _param_options(parser) -> None:
    group = parser.add_argument_group("benchmark parameters (defaults in brackets)")
    for name, default in DEFAULT_PARAMS.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, tuple):
            kind = int if isinstance(default[0], int) else float
            group.add_argument(flag, dest=name, type=kind, nargs=2, metavar=("A", "B"),
                               help=f"[{default[0]} {default[1]}]")
        elif isinstance(default, str):
            group.add_argument(flag, dest=name, help=f"[{default}]")
        else:
            group.add_argument(flag, dest=name, type=type(default), help=f"[{default}]")


def _chosen_params(args) -> dict:
    return {name: tuple(v) if isinstance(v, list) else v for name in DEFAULT_PARAMS
            if (v := getattr(args, name)) is not None}


def _make(args) -> None:
    from .generate import make_benchmark, read_manifest

    start = time.perf_counter()
    out = make_benchmark(args.out, seed=args.seed, workers=args.workers, overwrite=args.overwrite,
                         **_chosen_params(args))
    counts = read_manifest(out)["counts"]
    print(f"wrote {out} in {time.perf_counter() - start:.1f} s: {counts}")


def _default(args) -> None:
    from .generate import default_benchmark

    print(default_benchmark(args.root, workers=args.workers))


def _sheet(args) -> None:
    from ..viz.contact_sheet import contact_sheet

    print(contact_sheet(args.root, args.out, split=args.split, n=args.n, seed=args.seed))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fowkal.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make", help="generate a benchmark folder")
    make.add_argument("--out", required=True, help="output folder (must not exist yet)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--workers", type=int, default=None, help="processes (default: every usable core)")
    make.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    _param_options(make)
    make.set_defaults(run=_make)
    default = sub.add_parser("default", help="print (and make on first use) the default benchmark")
    default.add_argument("--root", default=None, help="data root (default: $FOWKAL_DATA_ROOT or "
                                                      "<repo>/data)")
    default.add_argument("--workers", type=int, default=None)
    default.set_defaults(run=_default)
    sheet = sub.add_parser("sheet", help="draw a contact sheet PNG of samples")
    sheet.add_argument("--root", required=True, help="benchmark folder")
    sheet.add_argument("--out", required=True, help="PNG to write")
    sheet.add_argument("--split", default="val", choices=("train", "val"))
    sheet.add_argument("--n", type=int, default=12)
    sheet.add_argument("--seed", type=int, default=0)
    sheet.set_defaults(run=_sheet)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        args.run(args)
    except (ValueError, TypeError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
