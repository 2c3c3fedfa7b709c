"""The options of one training run, in one place: :class:`TrainOptions`.

Every option is one dataclass field with its default and help text; the command line
(``python -m fowkal train``), the train notebook's parameters, the keyword form of
:func:`fowkal.train` and the JSON that the torchrun relaunch hands to its processes are all
generated from the fields. Adding an option means adding a field here, a line to the notebook's
parameters cell (a test checks both), and using it where the run needs it.

The options that build the config (``config=True``: method, profile, data files, schedule, seed,
weights) are checked by :func:`fowkal.configs.arguments.check_arguments`, where the profiles and
those checks are defined once; the others (processes, device, running) here.

Also the ablation and study notebooks' parameter helper :func:`parse_seeds`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import numbers
import os
import typing
from dataclasses import dataclass, field, fields

from ..configs.arguments import PROFILES, SCHEDULES, check_arguments, default_work_dir, resolve_schedule
from ..losses import METHODS

DEVICES = ("cpu", "cuda")
LAUNCHERS = ("none", "pytorch")


def _option(default, text: str, **meta):
    """A field with help ``text`` (the CLI's); ``choices``; ``minimum``; ``path`` (os.PathLike accepted);
    ``config`` (passed to ``build_config``); ``internal`` (not on the CLI's help nor in the notebook);
    ``cli`` (argparse keywords), ``from_cli`` / ``from_notebook`` (value converters)."""
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=dict(help=text, **meta))
    return field(default=default, metadata=dict(help=text, **meta))


def _cli_override(text: str):
    """``key=value`` of ``--cfg-options``; the value is read as JSON when it parses (numbers, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _notebook_device(value):
    return None if value in ("auto", "") else value


def _notebook_cfg_options(value):
    return value if isinstance(value, dict) else parse_cfg_options(value)


@dataclass(frozen=True)
class TrainOptions:
    """Everything a training run is started with; ``None`` means "the default" (see each field's help).

    ``TrainOptions(method="kal", epochs=2).validate()``, then ``fowkal.train(options)``. The object is
    frozen: ``dataclasses.replace(options, seed=1)`` makes a changed copy. ``to_dict()``/``to_json()``
    hold every option (what a run record can store); ``from_dict()``/``from_json()`` read them back.
    """

    # what is trained, on which data
    method: str = _option("fowkal", f"the loss: {', '.join(METHODS)} (the paper's Table 2 rows a-f, Table 3's "
                          "WAHR rows, and three controls)", choices=METHODS, config=True)
    profile: str = _option("cpu", "cpu (small HRNet on the embedded benchmark, minutes) or paper "
                           "(HRNet-w32 + DARK 256x192 on COCO-WholeBody)", choices=PROFILES, config=True)
    data_root: str | None = _option(None, "dataset folder (default for cpu: the embedded benchmark; "
                                    "required for paper)", path=True, config=True)
    ann_train: str | None = _option(None, "training annotations, relative to the data root unless "
                                    "absolute (default: the profile's layout)", path=True, config=True)
    ann_val: str | None = _option(None, "validation annotations, relative to the data root unless "
                                  "absolute (default: the profile's layout)", path=True, config=True)
    det_file: str | None = _option(None, "person detections for validation, relative to the data root "
                                   "unless absolute (default: the profile's)", path=True, config=True)
    gt_boxes: bool = _option(False, "validate on ground-truth person boxes only (no detections)",
                             config=True)
    img_train: str | None = _option(None, "training image folder, relative to the data root; '.' is the "
                                    "data root itself (default: the profile's layout)", path=True, config=True)
    img_val: str | None = _option(None, "validation image folder, relative to the data root; '.' is the "
                                  "data root itself (default: the profile's layout)", path=True, config=True)
    work_dir: str | None = _option(None, "output folder (default: work_dirs/<profile>/<method>-seed<seed>)",
                                   path=True, config=True)
    # the schedule and the model
    schedule: str = _option("quick", "the cpu profile's named schedule: quick (its 3 epochs) or converged "
                            f"({SCHEDULES['converged'][0]} epochs, validated every {SCHEDULES['converged'][1]}: long "
                            "enough for the learning curves to level off); it sets epochs and val_interval, and "
                            "work dirs go to work_dirs/cpu-<schedule>/",
                            choices=tuple(SCHEDULES))
    epochs: int | None = _option(None, "training epochs (default: the profile's); the LR steps stay at the "
                                 "paper's places: 81 and 95 percent of the schedule", config=True)
    val_interval: int | None = _option(None, "validate every this many epochs while training: ground-truth "
                                       "boxes, per-part AP, the record's learning curve (default: the "
                                       "profile's; cpu: every epoch, about 6 points for longer runs)",
                                       config=True)
    batch_size: int | None = _option(None, "crops per process (default: the profile's); the LR scales "
                                     "with the total batch", config=True)
    seed: int = _option(0, "random seed", config=True)
    pretrained: str | None = _option(None, "backbone weights file (ImageNet HRNet-w32 for paper); never "
                                     "downloaded", path=True, config=True)
    from_scratch: bool = _option(False, "train the backbone from random weights: the paper profile needs "
                                 "this or --pretrained (the paper starts from ImageNet weights)", config=True)
    cfg_options: dict = _option({}, "more config keys, merged last: dotted keys (model.head.loss.reg_weight=0) "
                                "or top-level ones (custom_hooks=[...]); values are read as JSON when they "
                                "parse", config=True, from_notebook=_notebook_cfg_options, from_cli=dict,
                                cli=dict(nargs="+", type=_cli_override, default=[], metavar="KEY=VALUE"))
    # processes and machines
    gpus: int = _option(1, "processes per node: GPUs, or CPU processes with --device cpu; more than one "
                        "starts torchrun", minimum=1)
    device: str | None = _option(None, "cpu or cuda (default: cuda when torch sees a GPU)", choices=DEVICES,
                                 from_notebook=_notebook_device)
    nnodes: int = _option(1, "nodes of a multi-node run (start the same run on every node)", minimum=1)
    node_rank: int = _option(0, "this node's rank, in [0, nnodes)", minimum=0)
    master_addr: str = _option("127.0.0.1", "address of node 0 (multi-node runs)")
    master_port: int | None = _option(None, "port on node 0 (default: a free port on one node, 29500 on "
                                      "several)", minimum=1)
    # running
    resume: bool = _option(False, "continue the run in the work dir from its last checkpoint (a fresh start "
                           "if it has none); without it, a work dir that holds a run is refused")
    max_iters: int | None = _option(None, "cut every epoch to this many iterations, by training on the first "
                                    "max_iters x batch_size x processes samples (smoke tests)", minimum=1)
    deterministic: bool = _option(False, "deterministic torch algorithms (MMEngine's "
                                  "randomness.deterministic)")
    quiet: bool = _option(False, "do not print the metric tables at the end")
    launcher: str = _option("none", "set to pytorch for the processes torchrun starts", choices=LAUNCHERS,
                            internal=True)

    def __post_init__(self):
        # accept what callers naturally pass (Path, numpy integers) and store plain JSON-able values
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("path") and isinstance(value, os.PathLike):
                object.__setattr__(self, f.name, os.fspath(value))
            elif isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value) is not int:
                object.__setattr__(self, f.name, int(value))
        if self.schedule in SCHEDULES and self.schedule != "quick":
            # a named schedule is its epochs and val_interval: records and resumed runs then see plain values
            try:
                epochs, val_interval = resolve_schedule(self.profile, self.schedule, self.epochs, self.val_interval)
            except ValueError:
                return  # validate() names the conflict
            object.__setattr__(self, "epochs", epochs)
            object.__setattr__(self, "val_interval", val_interval)
            if self.work_dir is None and isinstance(self.method, str) and isinstance(self.seed, int):
                object.__setattr__(self, "work_dir", os.fspath(
                    default_work_dir(self.profile, self.method, self.seed, self.schedule)))

    # ------------------------------------------------------------------ checks
    def validate(self) -> TrainOptions:
        """Check every option before any work; returns ``self``. Errors name the option and the value.

        Types and the run's own options here; the options that build the config (``config=True``) by
        :func:`fowkal.configs.arguments.check_arguments`, as ``build_config`` checks them."""
        kinds = _kinds()
        for f in fields(self):
            value = getattr(self, f.name)
            _check_kind(f.name, value, *kinds[f.name])
            if f.metadata.get("config"):
                continue
            choices = f.metadata.get("choices")
            if choices and value is not None and value not in choices:
                raise ValueError(f"option {f.name!r} is {value!r}; valid: {', '.join(choices)}")
            minimum = f.metadata.get("minimum")
            if minimum is not None and value is not None and value < minimum:
                default = " (or None: the default)" if kinds[f.name][1] else ""
                raise ValueError(f"option {f.name!r} must be >= {minimum}{default}, got {value!r}")
        resolve_schedule(self.profile, self.schedule, self.epochs, self.val_interval)
        if self.node_rank >= self.nnodes:
            raise ValueError(f"option 'node_rank' must be in [0, nnodes={self.nnodes}), got {self.node_rank}")
        if self.master_port is not None and self.master_port > 65535:
            raise ValueError(f"option 'master_port' must be a port number <= 65535, got {self.master_port}")
        check_arguments(self.method, self.profile, data_root=self.data_root, det_file=self.det_file,
                        gt_boxes=self.gt_boxes, epochs=self.epochs, batch_size=self.batch_size, seed=self.seed,
                        gpus=self.gpus * self.nnodes, pretrained=self.pretrained, from_scratch=self.from_scratch,
                        val_interval=self.val_interval)
        _check_cfg_keys(self.cfg_options)
        return self

    # ------------------------------------------------------------------ what the run uses
    def config_kwargs(self) -> dict:
        """The keyword arguments of ``fowkal.configs.build_config`` (``gpus``: every process of the run)."""
        kwargs = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.metadata.get("config") and f.name != "cfg_options"}
        return dict(kwargs, gpus=self.gpus * self.nnodes, **self.cfg_options)

    # ------------------------------------------------------------------ from and to
    @classmethod
    def from_kwargs(cls, method: str = "fowkal", profile: str = "cpu", **kwargs) -> TrainOptions:
        """The keyword form of :func:`fowkal.train`: field names are options, any other name a config
        override (``**{'train_dataloader.num_workers': 0}``, ``custom_hooks=[...]``) added to
        ``cfg_options``."""
        names = {f.name for f in fields(cls)}
        overrides = {k: v for k, v in kwargs.items() if k not in names}
        options = {k: v for k, v in kwargs.items() if k in names}
        if overrides:
            given = dict(options.get("cfg_options") or {})
            both = sorted(set(given) & set(overrides))
            if both:
                raise ValueError(f"config key(s) {both} given both in cfg_options and as keyword arguments")
            options["cfg_options"] = {**given, **overrides}
        return cls(method=method, profile=profile, **options)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One ``--flag`` per option (``--data-root`` for ``data_root``)."""
        kinds = _kinds()
        for f in fields(cls):
            base, _ = kinds[f.name]
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            help_text = f.metadata["help"]
            if not (default is None or default is False or default == {}):
                help_text += f" (default: {default})"
            kwargs = dict(dest=f.name, default=default, help=help_text)
            if f.metadata.get("internal"):
                kwargs["help"] = argparse.SUPPRESS
            if base is bool:
                kwargs["action"] = "store_true"
            else:
                kwargs["type"] = int if base is int else str
                if f.metadata.get("choices"):
                    kwargs["choices"] = f.metadata["choices"]
            kwargs.update(f.metadata.get("cli", {}))
            parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)

    @classmethod
    def from_args(cls, namespace: argparse.Namespace) -> TrainOptions:
        """The options of a namespace parsed by a parser that :meth:`add_arguments` filled."""
        values = {}
        for f in fields(cls):
            value = getattr(namespace, f.name)
            convert = f.metadata.get("from_cli")
            values[f.name] = convert(value) if convert else value
        return cls(**values)

    @classmethod
    def notebook_names(cls) -> list[str]:
        """The train notebook's parameters: every option but the internal ones."""
        return [f.name for f in fields(cls) if not f.metadata.get("internal")]

    @classmethod
    def from_notebook(cls, namespace: typing.Mapping | None = None, /, **params) -> TrainOptions:
        """Checked options from the notebook's parameters (papermill values cannot be None: ``""`` and
        ``0`` mean the default, ``device='auto'`` is None, ``cfg_options`` is JSON text).

        ``namespace`` (the notebook's ``globals()``) supplies every notebook parameter by name;
        ``params`` give them one by one.
        """
        names = cls.notebook_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise TypeError(f"unknown train parameter(s) {unknown}; the parameters are: {', '.join(names)}")
        if namespace is not None:
            missing = [n for n in names if n not in namespace and n not in params]
            if missing:
                raise ValueError(f"the parameters cell lacks {missing} (every TrainOptions option is a parameter)")
            params = {**{n: namespace[n] for n in names if n not in params}, **params}
        kinds = _kinds()
        by_name = {f.name: f for f in fields(cls)}
        values = {name: _from_notebook(by_name[name], value, *kinds[name]) for name, value in params.items()}
        return cls(**values).validate()

    def to_dict(self) -> dict:
        """Every option, JSON-ready (raises TypeError naming an option whose value JSON cannot hold)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            items = value.items() if isinstance(value, dict) else [(None, value)]
            for key, item in items:
                try:
                    json.dumps(item)
                except (TypeError, ValueError) as err:
                    where = f"option {f.name!r}" + (f" key {key!r}" if key is not None else "")
                    raise TypeError(f"{where} holds a value JSON cannot store: {err}") from None
            out[f.name] = dict(value) if isinstance(value, dict) else value
        return out

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict) -> TrainOptions:
        """Options from :meth:`to_dict`'s output; options missing from it (stored before they
        existed) take their defaults. Not validated: call :meth:`validate` to use them."""
        if not isinstance(data, dict):
            raise TypeError(f"train options must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown train option(s) {unknown}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainOptions:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"train options are not valid JSON ({err})") from None
        return cls.from_dict(data)


# --------------------------------------------------------------------------- field helpers
def _kinds() -> dict:
    """name -> (base type, optional) from the annotations (``int | None`` -> (int, True))."""
    hints = typing.get_type_hints(TrainOptions)
    out = {}
    for name, hint in hints.items():
        args = typing.get_args(hint)
        optional = type(None) in args
        base = next(a for a in args if a is not type(None)) if args else hint
        out[name] = (typing.get_origin(base) or base, optional)
    return out


_KIND_NAMES = {str: "a string", int: "an integer", bool: "True or False", dict: "a dict of config keys"}


def _check_kind(name: str, value, base, optional: bool) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, base) and not (base is int and isinstance(value, bool))
    if not ok:
        none = " or None" if optional else ""
        raise TypeError(f"option {name!r} must be {_KIND_NAMES[base]}{none}, got {value!r}")


def _from_notebook(f, value, base, optional: bool):
    convert = f.metadata.get("from_notebook")
    if convert:
        return convert(value)
    if base is int and isinstance(value, float) and value.is_integer():
        value = int(value)  # papermill may hand over 2.0
    if optional and value == ("" if base is str else 0) and not isinstance(value, bool):
        return None
    return value


def _check_cfg_keys(options: dict) -> None:
    reserved = sorted(set(options) & {f.name for f in fields(TrainOptions)})
    if reserved:
        raise ValueError(f"option 'cfg_options' sets {reserved}: set the option(s) of that name instead")
    bad = sorted(repr(k) for k in options if not isinstance(k, str) or not k or k.strip(".") != k or ".." in k)
    if bad:
        raise ValueError(f"option 'cfg_options' has malformed key(s) {bad} (dotted config keys expected)")


# --------------------------------------------------------------------------- notebook parameters
def parse_cfg_options(text: str) -> dict:
    """The notebooks' ``cfg_options`` parameter: '' or a JSON object of dotted config keys -> a dict."""
    if not text or not text.strip():
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"option 'cfg_options' is not valid JSON ({err}): {text!r}") from None
    if not isinstance(options, dict):
        raise ValueError(f"option 'cfg_options' must be a JSON object of config keys, got {text!r}")
    _check_cfg_keys(options)
    return options


def parse_seeds(text: str) -> list[int]:
    """The ablation and study notebooks' ``seeds`` parameter: "0,1,2" -> [0, 1, 2] (at least one, all >= 0)."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"parameter 'seeds' must be comma-separated integers, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"parameter 'seeds' must list integers >= 0, got {text!r}")
    return seeds
