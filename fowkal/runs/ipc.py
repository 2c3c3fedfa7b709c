"""How the data loader's workers hand their batches to the training process.

On Linux PyTorch's default ('file_descriptor') sends every tensor of a batch as a file descriptor, which the
receiving process fetches from the worker over a socket: one round trip per tensor. A batch of MMPose's
top-down pipeline holds a few hundred tensors (per sample: the image, the heatmaps, the keypoint weights
and visibilities), so on the CPU profile receiving one took the training process ~0.1 s of every step
(``benchmarks/bench_step.py``'s loader wait). The 'file_system' strategy names each tensor's shared memory
by its file name instead, which the receiver opens itself: the same tensors, without the round trips.
Its cost is that shared memory of a process killed hard is freed by PyTorch's ``torch_shm_manager``
rather than by the kernel.
"""
from __future__ import annotations

#: The sharing strategy training sets (``torch.multiprocessing``).
STRATEGY = "file_system"


def share_tensors_by_name() -> bool:
    """Make data-loader workers started from now on send tensors by shared-memory file name (:data:`STRATEGY`).

    Returns True when set, False where the platform lacks the strategy (it is then left as it was). The
    setting is the process's; workers inherit it when they start.
    """
    import torch.multiprocessing as mp

    if STRATEGY not in mp.get_all_sharing_strategies():
        return False
    mp.set_sharing_strategy(STRATEGY)
    return True
