"""When the NumPy backend hands work to Numba: size thresholds and a lazy, optional import.

Numba is imported only when a kernel first meets an array at least ``NUMBA_MIN_SIZE`` elements
big, so ``import agrad`` and small scripts never pay for it (importing numba takes ~0.2 s, and
compiling a kernel ~1 s the first time; later runs load the machine code from Numba's on-disk
cache, ``cache=True``). Below the threshold NumPy does the job: its per-call cost is lower than a
cold start and the absolute time is a few microseconds either way.

``PARALLEL_MIN_SIZE`` is where a ``parallel=True`` kernel may take over, and only when Numba
runs with more than one thread (``NUMBA_NUM_THREADS``). It is off by default: the parallel
kernels are tested but have not yet been measured on a multi-core machine (the benchmarks here
run on one thread), and a kernel is switched on only once it is shown to win. Set
``AGRAD_PARALLEL_MIN_SIZE`` (e.g. 262144) to try them. ``AGRAD_NUMBA_MIN_SIZE`` moves the
NumPy/Numba threshold; ``AGRAD_DISABLE_NUMBA=1`` keeps NumPy everywhere.
"""

from __future__ import annotations

import os
from functools import lru_cache

NUMBA_MIN_SIZE = int(os.environ.get("AGRAD_NUMBA_MIN_SIZE", 2048))
PARALLEL_MIN_SIZE = int(os.environ.get("AGRAD_PARALLEL_MIN_SIZE", 0)) or None  # None: off


@lru_cache(maxsize=1)
def numba_available() -> bool:
    """True if Numba can be imported (and is not disabled); imports it on the first call."""
    if os.environ.get("AGRAD_DISABLE_NUMBA", "") not in ("", "0"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # numba is a dependency, but a broken install must not break agrad
        return False
    return True


def numba_threads() -> int:
    """Threads Numba's parallel kernels would use (1 when Numba is unavailable)."""
    if not numba_available():
        return 1
    import numba

    return numba.get_num_threads()


def use_numba(size: int) -> bool:
    return size >= NUMBA_MIN_SIZE and numba_available()


def use_parallel(size: int) -> bool:
    return PARALLEL_MIN_SIZE is not None and size >= PARALLEL_MIN_SIZE and numba_threads() > 1
