"""fowkal.mmpose.data.SeededSampler: every training sample augmented from (seed, epoch, position), so a run
resumed at any epoch, with fresh loader workers, draws the samples it would have drawn uninterrupted."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("mmpose")
pytestmark = pytest.mark.mmpose

from fowkal.mmpose.data import SampleIndex, SeededSampler  # noqa: E402


def _loader(root, sampler: str, workers: int = 1):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import fowkal.mmpose  # noqa: F401
    from fowkal.configs import build_config

    init_default_scope("mmpose")
    cfg = build_config("mse", "cpu", data_root=root)
    assert cfg.train_dataloader.sampler.type == "SeededSampler"
    cfg.train_dataloader.sampler.type = sampler
    cfg.train_dataloader.update(batch_size=4, num_workers=workers, persistent_workers=workers > 0)
    return Runner.build_dataloader(cfg.train_dataloader, seed=7)


def _epoch_batches(loader, epoch: int, batches: int):
    loader.sampler.set_epoch(epoch)
    out = []
    for i, batch in enumerate(loader):
        if i == batches:
            break
        out.append(batch)
    return out


def _same(a, b) -> bool:
    import torch

    return all(torch.equal(x, y) for x, y in zip(a["inputs"], b["inputs"])) and all(
        torch.equal(x.gt_fields.heatmaps, y.gt_fields.heatmaps) for x, y in zip(a["data_samples"], b["data_samples"]))


@pytest.mark.parametrize("workers", [0, 1])
def test_a_resumed_loader_draws_what_the_uninterrupted_one_drew(pipeline_bench, workers):
    # uninterrupted: epochs 0 and 1 from the same workers; resumed: a fresh loader starting at epoch 1
    ran = _loader(pipeline_bench, "SeededSampler", workers)
    _epoch_batches(ran, 0, 2)
    uninterrupted = _epoch_batches(ran, 1, 2)
    resumed = _epoch_batches(_loader(pipeline_bench, "SeededSampler", workers), 1, 2)
    assert len(resumed) == 2 and all(_same(a, b) for a, b in zip(uninterrupted, resumed))
    # and the epochs differ: the key includes the epoch
    again = _loader(pipeline_bench, "SeededSampler", workers)
    assert not _same(_epoch_batches(again, 0, 1)[0], _epoch_batches(again, 1, 1)[0])


def test_mmengines_default_sampler_does_not_resume_the_same_samples(pipeline_bench):
    # what SeededSampler is for: with DefaultSampler a fresh worker restarts the augmentation stream
    ran = _loader(pipeline_bench, "DefaultSampler")
    _epoch_batches(ran, 0, 2)
    uninterrupted = _epoch_batches(ran, 1, 1)
    resumed = _epoch_batches(_loader(pipeline_bench, "DefaultSampler"), 1, 1)
    assert not _same(uninterrupted[0], resumed[0])


def test_indices_are_the_default_samplers_with_their_place_in_the_epoch(pipeline_bench):
    from mmengine.dataset import DefaultSampler

    dataset = _loader(pipeline_bench, "SeededSampler", 0).dataset
    seeded, default = SeededSampler(dataset, shuffle=True, seed=3), DefaultSampler(dataset, shuffle=True, seed=3)
    for sampler in (seeded, default):
        sampler.set_epoch(2)
    indices = list(seeded)
    assert indices == list(default) and all(isinstance(i, SampleIndex) for i in indices)
    assert [i.key for i in indices] == [(3, 2, p) for p in range(len(indices))]
    # rank 1 of 2: every other place of the epoch's order, from place 1
    seeded.rank, seeded.world_size = 1, 2
    seeded.total_size = 2 * seeded.num_samples
    assert [i.key[2] for i in seeded] == list(range(1, seeded.total_size, 2))
    back = pickle.loads(pickle.dumps(indices[3]))
    assert back == indices[3] and back.key == (3, 2, 3) and isinstance(back, SampleIndex)


def test_a_dataset_that_ignores_the_key_is_refused():
    with pytest.raises(TypeError, match="SeededSampler needs a dataset that seeds each sample from its index"):
        SeededSampler(list(range(5)))


def test_a_sample_depends_on_its_key_only(pipeline_bench):
    import torch

    dataset = _loader(pipeline_bench, "SeededSampler", 0).dataset
    first = dataset[SampleIndex(1, (0, 4, 9))]
    np.random.seed(123)
    dataset[SampleIndex(2, (0, 4, 10))]  # other draws in between change nothing
    assert torch.equal(first["inputs"], dataset[SampleIndex(1, (0, 4, 9))]["inputs"])
