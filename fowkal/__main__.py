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
    from .runs.metrics import format_table, wholebody_ap

    # fail before evaluating, so a bad --json path costs nothing and writes nothing
    if args.json_out and not Path(args.json_out).resolve().parent.is_dir():
        raise FileNotFoundError(f"--json: folder {Path(args.json_out).parent} does not exist")
    metrics = wholebody_ap(args.ann, args.results, use_area=not args.no_area, verbose=args.verbose)
    print(format_table(metrics))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(metrics, indent=2) + "\n")


def _override(text: str):
    """``key=value`` of ``--cfg-options``; the value is read as JSON when it parses (numbers, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _add_train(subparsers) -> None:
    from .losses import METHODS

    parser = subparsers.add_parser("train", help="train one method (MMPose/MMEngine), print per-part AP")
    parser.add_argument("--method", default="fowkal", choices=METHODS)
    parser.add_argument("--profile", default="cpu", help="cpu (default) or paper")
    parser.add_argument("--data-root", help="dataset folder (cpu default: the embedded benchmark)")
    parser.add_argument("--ann-train", help="training annotations, relative to the data root")
    parser.add_argument("--ann-val", help="validation annotations, relative to the data root")
    parser.add_argument("--det-file", help="person detections for validation")
    parser.add_argument("--gt-boxes", action="store_true", help="validate on ground-truth boxes only")
    parser.add_argument("--work-dir", help="output folder (default work_dirs/<profile>/<method>-seed<seed>)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, help="crops per process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gpus", type=int, default=1,
                        help="processes per node (GPUs; CPU processes with --device cpu)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda if available")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--pretrained", help="backbone weights file")
    parser.add_argument("--nnodes", type=int, default=1)
    parser.add_argument("--node-rank", type=int, default=0)
    parser.add_argument("--master-addr", default="127.0.0.1")
    parser.add_argument("--master-port", type=int)
    parser.add_argument("--max-iters", type=int, help="cut every epoch to this many iterations")
    parser.add_argument("--deterministic", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="do not print the metric tables")
    parser.add_argument("--cfg-options", nargs="+", type=_override, default=[], metavar="KEY=VALUE",
                        help="dotted config keys, e.g. train_dataloader.num_workers=0")
    parser.add_argument("--launcher", default="none", choices=("none", "pytorch"),
                        help=argparse.SUPPRESS)  # set by torchrun for the processes it starts
    parser.add_argument("--overrides-json", help=argparse.SUPPRESS)
    parser.set_defaults(run=_run_train)


def _run_train(args) -> None:
    from .runs.train import train

    overrides = dict(args.cfg_options)
    if args.overrides_json:
        overrides.update(json.loads(args.overrides_json))
    for name in ("ann_train", "ann_val", "det_file"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.gt_boxes:
        overrides["gt_boxes"] = True
    train(args.method, args.profile, data_root=args.data_root, work_dir=args.work_dir,
          epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, gpus=args.gpus,
          resume=args.resume, pretrained=args.pretrained, nnodes=args.nnodes,
          node_rank=args.node_rank, master_addr=args.master_addr, master_port=args.master_port,
          max_iters=args.max_iters, device=args.device, deterministic=args.deterministic,
          launcher=args.launcher, quiet=args.quiet, **overrides)


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
        Path(args.json_out).write_text(json.dumps(metrics, indent=2) + "\n")


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
