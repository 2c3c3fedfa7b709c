"""fowkal.runs.ipc: data-loader workers send batches by shared-memory name, the same tensors arrive."""
from __future__ import annotations

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Dataset

from fowkal.runs import ipc


class _Samples(Dataset):
    """Samples shaped like the pose pipeline's: an image and many small tensors each."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(image=torch.randint(0, 255, (3, 16, 12), dtype=torch.uint8, generator=g),
                    heatmaps=torch.rand(133, 8, 6, generator=g),
                    labels=[torch.rand(1, 133, generator=g) for _ in range(4)])


@pytest.fixture
def restore_strategy():
    before = mp.get_sharing_strategy()
    yield
    mp.set_sharing_strategy(before)


def test_workers_send_tensors_by_name_and_the_same_values_arrive(restore_strategy):
    assert ipc.share_tensors_by_name() is True
    assert mp.get_sharing_strategy() == ipc.STRATEGY == "file_system"
    data = _Samples()
    loader = DataLoader(data, batch_size=4, num_workers=1, collate_fn=list)
    received = [sample for batch in loader for sample in batch]
    assert len(received) == len(data)
    for i, got in enumerate(received):
        want = data[i]
        assert torch.equal(got["image"], want["image"]) and torch.equal(got["heatmaps"], want["heatmaps"])
        assert all(torch.equal(a, b) for a, b in zip(got["labels"], want["labels"]))


def test_a_platform_without_the_strategy_is_left_as_it_was(monkeypatch, restore_strategy):
    before = mp.get_sharing_strategy()
    monkeypatch.setattr(mp, "get_all_sharing_strategies", lambda: {"file_descriptor"})
    assert ipc.share_tensors_by_name() is False and mp.get_sharing_strategy() == before
