"""Validate the notebooks' papermill parameters up front, with messages that name the parameter."""
from __future__ import annotations

import inspect
import json
from pathlib import Path

from ..losses import METHODS

PROFILES = ("cpu", "paper")


def _int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TypeError(f"parameter {name!r} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"parameter {name!r} must be >= {minimum}, got {value}")
    return value


def check_train_params(*, method: str, profile: str, data_root: str = "", work_dir: str = "", gpus: int = 1,
                       epochs: int = 0, batch_size: int = 0, seed: int = 0, pretrained: str = "",
                       max_iters: int = 0, device: str = "auto", cfg_options: str = "") -> dict:
    """Check the train notebook's parameters; return keyword arguments for :func:`fowkal.train`.

    Empty strings and 0 mean "the profile's default" (papermill parameters cannot be None).
    ``cfg_options`` is a JSON object of dotted config keys (``{"model.head.loss.reg_weight": 0}``).
    """
    if method not in METHODS:
        raise ValueError(f"parameter 'method' is {method!r}; valid methods: {', '.join(METHODS)}")
    if profile not in PROFILES:
        raise ValueError(f"parameter 'profile' is {profile!r}; valid profiles: {', '.join(PROFILES)}")
    gpus = _int("gpus", gpus, minimum=0)
    epochs = _int("epochs", epochs, minimum=0)
    batch_size = _int("batch_size", batch_size, minimum=0)
    seed = _int("seed", seed, minimum=0)
    max_iters = _int("max_iters", max_iters, minimum=0)
    if data_root:
        root = Path(data_root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"parameter 'data_root': folder {str(root)!r} does not exist")
    elif profile == "paper":
        raise ValueError("parameter 'data_root' is required for profile 'paper' (the COCO-WholeBody root "
                         "with annotations/ and the images); the embedded benchmark is the cpu profile's default")
    if pretrained and not Path(pretrained).expanduser().is_file():
        raise FileNotFoundError(f"parameter 'pretrained': weights file {pretrained!r} does not exist")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"parameter 'device' is {device!r}; valid: auto, cpu, cuda")
    kwargs = dict(method=method, profile=profile, data_root=data_root or None, work_dir=work_dir or None,
                  epochs=epochs or None, batch_size=batch_size or None, seed=seed, gpus=max(gpus, 1),
                  pretrained=pretrained or None, max_iters=max_iters or None)
    if device != "auto":
        kwargs["device"] = device
    kwargs.update(parse_cfg_options(cfg_options))
    return kwargs


def parse_cfg_options(text: str) -> dict:
    """The ``cfg_options`` parameter: '' or a JSON object of dotted config keys -> a dict."""
    if not text or not text.strip():
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"parameter 'cfg_options' is not valid JSON ({err}): {text!r}") from None
    if not isinstance(options, dict):
        raise ValueError(f"parameter 'cfg_options' must be a JSON object of config keys, got {text!r}")
    reserved = sorted(set(options) & set(inspect.signature(check_train_params).parameters))
    if reserved:
        raise ValueError(f"parameter 'cfg_options' sets {reserved}: use the notebook parameter(s) of that name")
    bad = sorted(k for k in options if not k or k.strip(".") != k or ".." in k)
    if bad:
        raise ValueError(f"parameter 'cfg_options' has malformed key(s) {bad} (dotted config keys expected)")
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
