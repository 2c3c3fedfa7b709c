"""fowkal.runs.options.TrainOptions: one options object for the CLI, the notebook, train() and torchrun."""
import argparse
import dataclasses
import inspect
import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from fowkal.runs.options import TrainOptions, _kinds, parse_cfg_options, parse_seeds

NAMES = [f.name for f in fields(TrainOptions)]


def _train_parser() -> argparse.ArgumentParser:
    from fowkal.__main__ import build_parser

    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return subparsers.choices["train"]


def _parse(*argv) -> TrainOptions:
    return TrainOptions.from_args(_train_parser().parse_args(list(argv)))


def _non_defaults() -> TrainOptions:
    """Every option set to a value other than its default (made from the field types, so a new
    option is covered without touching this test)."""
    values = {}
    for name, (base, _) in _kinds().items():
        values[name] = {str: f"x-{name}", int: 7, bool: True, dict: {"a.b": [1, 2], "c": "d"}}[base]
    return TrainOptions(**values)


# --------------------------------------------------------------------------- the command line
def test_the_cli_has_a_flag_for_every_option_and_its_help_lists_them():
    parser = _train_parser()
    flags = {a.dest: a for a in parser._actions}
    assert set(NAMES) <= set(flags), f"options without a flag: {sorted(set(NAMES) - set(flags))}"
    text = parser.format_help()
    for f in fields(TrainOptions):
        flag = "--" + f.name.replace("_", "-")
        assert flags[f.name].option_strings == [flag]
        assert (flag in text) != bool(f.metadata.get("internal")), flag  # launcher: hidden
    assert _parse() == TrainOptions()  # the CLI's defaults are the options' defaults


def test_cli_flags_become_the_options():
    options = _parse("--method", "kal", "--profile", "cpu", "--epochs", "3", "--gt-boxes", "--data-root", "d",
                     "--device", "cpu", "--master-port", "29501", "--cfg-options", "a.b=1", "c=x", "d=[1, 2]")
    assert options == TrainOptions(method="kal", epochs=3, gt_boxes=True, data_root="d", device="cpu",
                                   master_port=29501, cfg_options={"a.b": 1, "c": "x", "d": [1, 2]})
    for argv in (["--method", "nope"], ["--profile", "laptop"], ["--epochs", "x"], ["--cfg-options", "novalue"]):
        with pytest.raises(SystemExit):
            _parse(*argv)


# --------------------------------------------------------------------------- JSON
def test_options_round_trip_through_json():
    for options in (TrainOptions(), _non_defaults()):
        text = options.to_json()
        assert list(json.loads(text)) == NAMES  # every option, in field order
        assert TrainOptions.from_json(text) == options
        assert TrainOptions.from_dict(options.to_dict()) == options
    assert all(getattr(_non_defaults(), n) != getattr(TrainOptions(), n) for n in NAMES)


def test_stored_options_missing_an_option_take_its_default_and_unknown_ones_are_refused():
    assert TrainOptions.from_dict({"method": "kal"}) == TrainOptions(method="kal")
    with pytest.raises(ValueError, match=r"unknown train option\(s\) \['epoch'\]"):
        TrainOptions.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="not valid JSON"):
        TrainOptions.from_json("{method: kal}")
    with pytest.raises(TypeError, match="JSON object"):
        TrainOptions.from_json("[1]")
    with pytest.raises(TypeError, match="option 'cfg_options' key 'x.y' holds a value JSON cannot store"):
        TrainOptions(cfg_options={"x.y": object()}).to_json()


# --------------------------------------------------------------------------- checks
@pytest.mark.parametrize("kwargs, error, words", [
    (dict(method="fowkall"), ValueError, "option 'method' is 'fowkall'; valid: mse, awing"),
    (dict(profile="laptop"), ValueError, "option 'profile' is 'laptop'; valid: cpu, paper"),
    (dict(profile="paper"), ValueError, "option 'data_root' is required for profile 'paper'"),
    (dict(epochs=0), ValueError, r"option 'epochs' must be an integer >= 1 \(or None: the default\), got 0"),
    (dict(seed=-1), ValueError, "option 'seed' must be an integer >= 0, got -1"),
    (dict(seed=None), TypeError, "option 'seed' must be an integer, got None"),
    (dict(gpus="2"), TypeError, "option 'gpus' must be an integer, got '2'"),
    (dict(resume=1), TypeError, "option 'resume' must be True or False, got 1"),
    (dict(batch_size=True), TypeError, "option 'batch_size' must be an integer or None, got True"),
    (dict(nnodes=2, node_rank=2), ValueError, r"option 'node_rank' must be in \[0, nnodes=2\), got 2"),
    (dict(master_port=70000), ValueError, "option 'master_port' must be a port number"),
    (dict(device="tpu"), ValueError, "option 'device' is 'tpu'; valid: cpu, cuda"),
    (dict(launcher="slurm"), ValueError, "option 'launcher' is 'slurm'"),
    (dict(pretrained="/nonexistent/w.pth"), FileNotFoundError, "option 'pretrained': weights file"),
    (dict(gt_boxes=True, det_file="d.json"), ValueError, "option 'gt_boxes' or option 'det_file'"),
    (dict(cfg_options={"seed": 3}), ValueError, r"option 'cfg_options' sets \['seed'\]"),
    (dict(cfg_options={"a..b": 3}), ValueError, "malformed key"),
    (dict(cfg_options="a.b=1"), TypeError, "option 'cfg_options' must be a dict"),
    (dict(schedule="long"), ValueError, "option 'schedule' is 'long'; valid: quick, converged"),
    (dict(schedule="converged", epochs=12), ValueError, "option 'epochs' is 12 but schedule 'converged' sets 60"),
    (dict(schedule="converged", val_interval=1), ValueError, "option 'val_interval' is 1 but schedule 'converged'"),
    (dict(schedule="converged", profile="paper", from_scratch=True), ValueError,
     "option 'schedule' is 'converged', a schedule of the cpu profile"),
])
def test_validate_names_the_option_and_the_value(kwargs, error, words):
    with pytest.raises(error, match=words):
        TrainOptions(**kwargs).validate()


def test_paths_and_numpy_integers_are_stored_as_plain_values(tmp_path):
    options = TrainOptions(data_root=tmp_path, work_dir=Path("w"), seed=np.int64(3)).validate()
    assert options.data_root == str(tmp_path) and options.work_dir == "w"
    assert options.seed == 3 and type(options.seed) is int
    assert TrainOptions.from_json(options.to_json()) == options


def test_a_named_schedule_is_its_epochs_and_val_interval_in_its_own_work_dirs():
    from fowkal.configs.arguments import SCHEDULES

    epochs, val_interval = SCHEDULES["converged"]
    options = TrainOptions(method="kal", seed=2, schedule="converged").validate()
    assert (options.epochs, options.val_interval) == (epochs, val_interval)
    assert options.work_dir == f"work_dirs/cpu-converged/kal-seed2"  # never resumes the quick run of kal seed 2
    assert TrainOptions(schedule="converged", epochs=epochs, work_dir="w").validate().work_dir == "w"
    assert TrainOptions.from_json(options.to_json()) == options
    quick = TrainOptions(method="kal").validate()
    assert quick.epochs is None and quick.val_interval is None and quick.work_dir is None


# --------------------------------------------------------------------------- train()'s keyword form
def test_keyword_form_other_names_are_config_overrides():
    options = TrainOptions.from_kwargs("kal", "cpu", epochs=2, custom_hooks=[{"type": "X"}],
                                       cfg_options={"a.b": 1}, **{"train_dataloader.num_workers": 0})
    assert options == TrainOptions(method="kal", epochs=2, cfg_options={
        "a.b": 1, "custom_hooks": [{"type": "X"}], "train_dataloader.num_workers": 0})
    assert TrainOptions.from_kwargs(method="mse") == TrainOptions(method="mse")
    with pytest.raises(ValueError, match=r"\['a.b'\] given both"):
        TrainOptions.from_kwargs(cfg_options={"a.b": 1}, **{"a.b": 2})


def test_config_kwargs_are_build_config_arguments():
    from fowkal.configs.builder import build_config

    accepted = set(inspect.signature(build_config).parameters) - {"overrides"}
    options = TrainOptions(gpus=4, nnodes=2, cfg_options={"a.b": 1})
    kwargs = options.config_kwargs()
    assert set(kwargs) - {"a.b"} <= accepted
    assert kwargs["gpus"] == 8 and kwargs["a.b"] == 1 and kwargs["method"] == "fowkal"
    config_fields = {f.name for f in fields(TrainOptions) if f.metadata.get("config")} - {"cfg_options"}
    assert config_fields <= set(kwargs)


# --------------------------------------------------------------------------- the notebook's parameters
def test_notebook_values_mean_what_the_cell_says(tmp_path):
    options = TrainOptions.from_notebook(method="kal", data_root=str(tmp_path), work_dir="", epochs=0,
                                         batch_size=2.0, device="auto", master_port=0,
                                         cfg_options='{"model.head.loss.reg_weight": 0.25}')
    assert options == TrainOptions(method="kal", data_root=str(tmp_path), batch_size=2,
                                   cfg_options={"model.head.loss.reg_weight": 0.25})
    assert TrainOptions.from_notebook(device="cpu", cfg_options={"a.b": 1}) == \
        TrainOptions(device="cpu", cfg_options={"a.b": 1})
    with pytest.raises(TypeError, match=r"unknown train parameter\(s\) \['epoch'\]"):
        TrainOptions.from_notebook(epoch=3)
    with pytest.raises(TypeError, match="launcher"):  # internal: no notebook parameter
        TrainOptions.from_notebook(launcher="pytorch")
    with pytest.raises(ValueError, match=r"the parameters cell lacks \['profile'"):
        TrainOptions.from_notebook({"method": "kal"})
    with pytest.raises(ValueError, match="option 'epochs' must be an integer >= 1"):
        TrainOptions.from_notebook(epochs=-1)
    assert "launcher" not in TrainOptions.notebook_names()
    assert set(TrainOptions.notebook_names()) == set(NAMES) - {"launcher"}


def test_notebook_parameter_helpers_still_work():
    assert parse_seeds("0, 2") == [0, 2]
    assert parse_cfg_options("") == {} and parse_cfg_options('{"a.b": 1}') == {"a.b": 1}
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_cfg_options("[1]")


# --------------------------------------------------------------------------- one definition
def test_the_profiles_and_the_config_checks_are_the_configs():
    from fowkal import configs

    by_name = {f.name: f for f in dataclasses.fields(TrainOptions)}
    assert by_name["profile"].metadata["choices"] is configs.PROFILES == ("cpu", "paper")
    assert by_name["method"].metadata["choices"] == configs.METHODS


@pytest.mark.parametrize("kwargs", [dict(method="focal"), dict(profile="gpu"), dict(seed=-2), dict(epochs=0),
                                    dict(profile="paper"), dict(data_root="/nonexistent/fowkal"),
                                    dict(gt_boxes=True, det_file="d.json"),
                                    dict(pretrained="/nonexistent/w.pth", from_scratch=True)])
def test_the_options_and_build_config_refuse_the_same_input_alike(kwargs):
    pytest.importorskip("mmengine")
    from fowkal.configs import build_config

    options = TrainOptions(**kwargs)
    with pytest.raises((ValueError, FileNotFoundError)) as by_options:
        options.validate()
    with pytest.raises(type(by_options.value)) as by_builder:
        build_config(**options.config_kwargs())
    assert str(by_builder.value) == str(by_options.value)


def test_the_paper_profile_without_weights_is_refused_by_validate(tmp_path):
    with pytest.raises(ValueError, match="option 'pretrained'.*option 'from_scratch'"):
        TrainOptions(profile="paper", data_root=tmp_path).validate()
    assert TrainOptions(profile="paper", data_root=tmp_path, from_scratch=True).validate()
