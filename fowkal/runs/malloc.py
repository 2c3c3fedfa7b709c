"""Keep freed memory in the process (glibc), so large tensors do not page-fault at every step.

glibc serves every request above its mmap threshold (at most 32 MiB on 64-bit Linux) with a fresh
``mmap`` and gives it back to the kernel on ``free``: each new tensor of that size then costs one
page fault per 4 KiB page when first written. A batch of 32 heatmaps of 133 x 64 x 48 float32 is
52 MiB, so at the paper's heatmap size every step pays for several of them in system time (at 32x24
they are 13 MiB, under the threshold glibc learns, and mostly reused). ``retain_freed_memory()``
turns ``mmap`` allocation off and heap trimming (almost) off, so freed memory is reused; the
process then keeps its peak memory. ``benchmarks/bench_geometry.py`` measures the effect.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
TRIM_THRESHOLD = 2 ** 31 - 1  # the largest int: give memory back only above 2 GiB of free heap top


def retain_freed_memory() -> bool:
    """Make this process's glibc malloc reuse freed memory instead of returning it to the kernel.

    Returns True when applied, False where it does not apply (not Linux, or not glibc); the setting
    lasts for the life of the process (child processes started later by fork inherit it).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
