"""Command line: ``python -m fowkal <subcommand> ...`` (one small function per subcommand)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _add_evaluate_results(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate-results",
        help="score a COCO-WholeBody results JSON against an annotation file (no model)",
    )
    parser.add_argument("--ann", required=True, help="COCO-WholeBody annotation JSON")
    parser.add_argument("--results", required=True, help="results JSON (official results format)")
    parser.add_argument("--json", dest="json_out", help="also write the metrics to this JSON file")
    parser.add_argument("--no-area", action="store_true", help="use the box, not 'area', for OKS")
    parser.add_argument("--verbose", action="store_true", help="show xtcocotools' own output")
    parser.set_defaults(run=_run_evaluate_results)


def _run_evaluate_results(args) -> None:
    from .metrics import format_table, wholebody_ap

    # fail before evaluating, so a bad --json path costs nothing and writes nothing
    if args.json_out and not Path(args.json_out).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json: folder {Path(args.json_out).parent} does not exist")
    metrics = wholebody_ap(args.ann, args.results, use_area=not args.no_area, verbose=args.verbose)
    print(format_table(metrics))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(metrics, indent=2) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fowkal", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_evaluate_results(subparsers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"fowkal {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
