"""Opt-in: let glibc's malloc keep freed memory for reuse instead of returning it to the OS.

By default glibc serves every allocation above 128 KiB-32 MiB (its threshold adapts) with a fresh
``mmap`` and gives it back with ``munmap`` when freed. An autograd step allocates and frees
arrays of the same few sizes over and over, so each step page-faults its temporaries in again
(~0.25 us per 4 KiB page: a 4 MB float32 temporary costs ~0.25 ms before any arithmetic).
Raising ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` keeps that memory in the heap, warm.

Side effects, process-wide (every library in the process, torch included, uses the same malloc):
resident memory no longer shrinks after a peak, and the setting cannot be undone for memory
already kept. Enable it with ``agrad.set_backend("numpy", reuse_memory=True)`` (the numpy
backend option); it is a no-op returning False where glibc's ``mallopt`` is unavailable.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30  # allocations below 1 GiB come from the reusable heap
TRIM_THRESHOLD = (1 << 31) - 1  # never trim the top of the heap back to the OS


def reuse_freed_memory() -> bool:
    """Set the two thresholds; True if glibc accepted both."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl, Windows)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
