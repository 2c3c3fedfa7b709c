"""Paired seeds: for one seed, every module two methods share starts from identical weights, whatever
the loss family (the KAF branch of the KAL methods must not shift the other modules' random draws)."""
from __future__ import annotations

import pytest

pytest.importorskip("mmpose")
pytestmark = pytest.mark.mmpose

import torch  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner.utils import set_random_seed  # noqa: E402

import fowkal.mmpose  # noqa: E402,F401  (registers the head and the loss)
from mmengine.config import Config  # noqa: E402

from fowkal.configs import config_file  # noqa: E402


def initial_weights(method: str, profile: str, seed: int) -> dict:
    from mmpose.registry import MODELS

    cfg = Config.fromfile(str(config_file(method, profile)))  # the model only: no data needed
    init_default_scope("mmpose")
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("other", ["fowkal", "kal_wahr"])
def test_a_kal_method_starts_from_the_same_shared_weights_as_mse(other):
    mse = initial_weights("mse", "cpu", 3)
    kal = initial_weights(other, "cpu", 3)
    shared = set(mse) & set(kal)
    assert any(k.startswith("backbone.") for k in shared) and any(k.startswith("head.final_layer") for k in shared)
    assert set(kal) - shared and all(k.startswith("head.kaf_head") for k in set(kal) - shared)
    different = sorted(k for k in shared if not torch.equal(mse[k], kal[k]))
    assert not different, f"{other} and mse start from different weights in {different[:5]}"


def test_another_seed_gives_other_weights():
    first, second = initial_weights("fowkal", "cpu", 3), initial_weights("fowkal", "cpu", 4)
    assert not torch.equal(first["head.final_layer.weight"], second["head.final_layer.weight"])
