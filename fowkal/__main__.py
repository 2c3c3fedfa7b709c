"""Command line: ``python -m fowkal <subcommand> ...`` (one small function per subcommand)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .jsonfile import write_json_atomic


def _add_evaluate_results(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate-results",
        help="score a COCO-WholeBody results JSON against an annotation file (no model)",
    )
    parser.add_argument("--ann", required=True, help="COCO-WholeBody annotation JSON")
    parser.add_argument("--results", required=True, help="results JSON (official results format)")
    parser.add_argument("--json", dest="json_out", help="also write the metrics to this JSON file")
    parser.add_argument("--no-area", action="store_true", help="use the box, not 'area', for OKS")
    parser.add_argument("--area-scale", type=float, default=None,
                        help="score at this OKS area scale (COCO's own tolerance: 1; the embedded benchmark's "
                             "areas carry 16 by default); default: the areas as they are")
    parser.add_argument("--verbose", action="store_true", help="show xtcocotools' own output")
    parser.set_defaults(run=_run_evaluate_results)


def _run_evaluate_results(args) -> None:
    from .runs.metrics import format_table, wholebody_ap

    # fail before evaluating, so a bad --json path costs nothing and writes nothing
    if args.json_out and not Path(args.json_out).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json: folder {Path(args.json_out).parent} does not exist")
    metrics = wholebody_ap(args.ann, args.results, use_area=not args.no_area, verbose=args.verbose,
                           area_scale=args.area_scale)
    print(format_table(metrics))
    if args.json_out:
        write_json_atomic(metrics, args.json_out, indent=2)


def _add_train(subparsers) -> None:
    from .runs.options import TrainOptions

    parser = subparsers.add_parser("train", help="train one method (MMPose/MMEngine), print per-part AP")
    TrainOptions.add_arguments(parser)  # one flag per option
    parser.add_argument("--dry-run", action="store_true",
                        help="check the options and build the run's config, then stop: nothing is trained")
    # the torchrun relaunch hands its processes every option at once, as JSON
    parser.add_argument("--options-json", help=argparse.SUPPRESS)
    parser.set_defaults(run=_run_train)


def _run_train(args) -> None:
    from .runs.options import TrainOptions
    from .runs.train import dry_run, train

    options = TrainOptions.from_args(args)
    if args.options_json is not None:
        if options != TrainOptions():
            raise ValueError("--options-json holds every option: give no other option with it")
        options = TrainOptions.from_json(args.options_json)
    (dry_run if args.dry_run else train)(options)


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score a checkpoint (or a run record) on a dataset: per-part AP/AR")
    parser.add_argument("source", help="checkpoint .pth, run_record.json, or a run's work dir")
    parser.add_argument("--data-root", help="dataset folder (default: the config's)")
    parser.add_argument("--ann", dest="ann_file", help="annotation file (default: the config's val)")
    parser.add_argument("--det-file", help="person detections (implies --detections)")
    parser.add_argument("--img-prefix", help="image folder inside the data root ('' = the root)")
    parser.add_argument("--detections", action="store_true",
                        help="crop at detected boxes (default: ground-truth boxes)")
    parser.add_argument("--config", help="the run's config (default: config.py beside the checkpoint)")
    parser.add_argument("--work-dir", help="where the results go (default: eval/ beside the checkpoint)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--json", dest="json_out", help="also write the metrics to this JSON file")
    parser.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> None:
    from .runs.evaluate import evaluate

    if args.json_out and not Path(args.json_out).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json: folder {Path(args.json_out).parent} does not exist")
    metrics = evaluate(args.source, data_root=args.data_root, ann_file=args.ann_file,
                       det_file=args.det_file, use_gt_boxes=not (args.detections or args.det_file),
                       img_prefix=args.img_prefix, config=args.config,
                       work_dir=args.work_dir, batch_size=args.batch_size)
    if args.json_out:
        write_json_atomic(metrics, args.json_out, indent=2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fowkal", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_evaluate_results(subparsers)
    _add_train(subparsers)
    _add_evaluate(subparsers)
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
