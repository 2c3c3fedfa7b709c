"""Shared test set-up: markers, the warnings MMPose's stack is known to give, and the real-data folders.

- ``slow``: more than a few seconds (CI still runs it); ``mmpose``: needs the MMPose stack.
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


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still run in CI)")
    config.addinivalue_line("markers", "mmpose: needs the MMPose stack installed")
    for spec in IMPORT_WARNINGS:
        config.addinivalue_line("filterwarnings", spec)


def pytest_collection_modifyitems(config, items):
    for item in items:
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
