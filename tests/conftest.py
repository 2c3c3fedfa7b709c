"""Shared test set-up: markers, the warnings MMPose's stack is known to give, and the real-data folders.

- ``slow``: more than a few seconds (CI still runs it); ``mmpose``: needs the MMPose stack.
- ``compat``: also run on the compatibility stack (MMPose 1.3.2, full mmcv 2.1.0, torch 2.1.0:
  ``make test-compat``, i.e. ``pytest -m compat`` in ``.venv-compat``). Given to ``tests/test_compat.py``
  and to the existing tests named in ``COMPAT_TESTS``; ``compat_stack`` tests check that stack itself
  and are skipped elsewhere (``FOWKAL_STACK=compat`` tells the two apart).
- Tests marked ``mmpose`` ignore the warnings that stack always prints and that say nothing about
  our code (xtcocotools' missing per-part scores, MMPose's own metainfo copy, and the deprecation notices
  of its dependencies); import-time warnings (mmcv-lite's missing ops, pkg_resources) for all tests.
- ``real_sample`` / ``eval_example``: the folders named by ``$FOWKAL_REAL_SAMPLE`` (4 real
  COCO-WholeBody images with annotations and detections) and ``$FOWKAL_EVAL_EXAMPLE`` (real
  annotations and a real model's predictions); a test that needs one is skipped, with the reason,
  where the variable is unset (``make test`` sets both where the data sit beside the repository).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

MMPOSE_WARNINGS = (
    "ignore:.*not found, use 'score' instead",  # xtcocotools: results without per-part scores
    "ignore:The metainfo config file",  # MMPose loads its own copy of the dataset metainfo
    "ignore::DeprecationWarning",
    "ignore::FutureWarning",
)


#: Printed when MMEngine or mmcv-lite is first imported, i.e. at collection, before any per-test filter.
IMPORT_WARNINGS = (
    "ignore:pkg_resources is deprecated:UserWarning",  # mmengine imports pkg_resources (setuptools<81)
    "ignore:Fail to import ``MultiScaleDeformableAttention``:UserWarning",
)


#: The main suite's tests that also run on the compatibility stack: file -> test names (without their
#: parameters; None: the whole file). The core losses (values and gradients, fused against reference),
#: the MMPose adapter, a short training and its evaluation through MMEngine's Runner, the KAF hooks.
COMPAT_TESTS = {
    "test_compat.py": None,
    "test_losses.py": None,
    "test_fused.py": None,
    "test_mmpose_integration.py": None,
    "test_configs.py": {"test_config_builds_model_and_dataset",
                        "test_misspelt_or_invalid_loss_option_is_named_before_training"},
    "test_train.py": {"test_a_short_run_writes_kaf_log_and_run_record",
                      "test_a_killed_run_resumes_to_where_an_uninterrupted_run_ends",
                      "test_kaf_logging_hook_statistics_and_resume_state",
                      "test_kaf_logging_hook_without_kaf_writes_only_losses",
                      "test_epoch_seed_hook_makes_an_epochs_draws_depend_on_seed_and_epoch_only"},
    "test_evaluate.py": {"test_a_run_record_evaluates_to_the_metrics_it_recorded",
                         "test_a_checkpoint_evaluates_on_detections_and_prints_the_table"},
    "test_data_mmpose.py": None,
}
#: ... except these: benchmarks/ are the developers' tools, run on the main stack (bench_losses.py's
#: profiler reads an event field, start_ns, that torch 2.1 lacks).
COMPAT_EXCLUDED = {"test_fused.py": {"test_benchmark_quick_mode_writes_valid_json",
                                     "test_benchmark_rejects_bad_arguments_before_writing"}}
COMPAT_STACK = os.environ.get("FOWKAL_STACK") == "compat"


if COMPAT_STACK:
    # torch 2.1 scripts TorchScript classes (ast.parse of its own sources) on first importing torch.func;
    # CPython 3.11's AST builder can then fail spuriously ("AST constructor recursion depth mismatch")
    # when that happens mid-suite, after threads and garbage have piled up. Imported here, at start-up.
    import torch.func  # noqa: F401


def pytest_ignore_collect(collection_path, config):
    """On the compatibility stack, test files with no compat test are not even imported (some need
    packages that stack lacks, e.g. the book's)."""
    if COMPAT_STACK and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return collection_path.name not in COMPAT_TESTS
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still run in CI)")
    config.addinivalue_line("markers", "mmpose: needs the MMPose stack installed")
    config.addinivalue_line("markers", "compat: also run on the compatibility stack (make test-compat)")
    config.addinivalue_line("markers", "compat_stack: checks the compatibility stack itself (skipped elsewhere)")
    for spec in IMPORT_WARNINGS:
        config.addinivalue_line("filterwarnings", spec)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        names = COMPAT_TESTS.get(item.path.name, ())
        if (names is None or item.originalname in names) and \
                item.originalname not in COMPAT_EXCLUDED.get(item.path.name, ()):
            item.add_marker(pytest.mark.compat)
        if item.get_closest_marker("compat_stack") and not COMPAT_STACK:
            item.add_marker(pytest.mark.skip(reason="checks the compatibility stack: make test-compat runs it"))
        if item.get_closest_marker("mmpose"):
            for spec in MMPOSE_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


def _data_folder(variable: str, what: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set (folder with {what})")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"{variable}={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def real_sample() -> Path:
    """``$FOWKAL_REAL_SAMPLE``: the real COCO-WholeBody sample (skip where unset)."""
    return _data_folder("FOWKAL_REAL_SAMPLE", "the real COCO-WholeBody sample")


@pytest.fixture(scope="session")
def eval_example() -> Path:
    """``$FOWKAL_EVAL_EXAMPLE``: real annotations and predictions (skip where unset)."""
    return _data_folder("FOWKAL_EVAL_EXAMPLE", "example_gt.json, example_pred.json")


@pytest.fixture(scope="session")
def pipeline_bench(tmp_path_factory) -> Path:
    """A small generated benchmark (6 training, 4 validation images) for tests of the training pipeline."""
    from fowkal.data import make_benchmark

    return make_benchmark(tmp_path_factory.mktemp("pipeline") / "bench", seed=3, workers=1, train_images=6,
                          val_images=4, image_size=(192, 160), person_height=(90.0, 140.0))
