"""When the NumPy backend hands work to Numba: size thresholds and a lazy, optional import.

Numba is imported only when a kernel first meets an array at least ``NUMBA_MIN_SIZE`` elements
big, so ``import agrad`` and small scripts never pay for it (importing numba takes ~0.2 s, and
compiling a kernel ~1 s the first time; later runs load the machine code from Numba's on-disk
cache, ``cache=True``). Below the threshold NumPy does the job: its per-call cost is lower than a
cold start and the absolute time is a few microseconds either way.

``PARALLEL_MIN_SIZE`` is where a ``parallel=True`` kernel may take over, and only when Numba
runs with more than one thread (``NUMBA_NUM_THREADS``); below it thread start-up costs more
than it saves. Both thresholds can be set through the environment
(``AGRAD_NUMBA_MIN_SIZE``, ``AGRAD_PARALLEL_MIN_SIZE``); ``AGRAD_DISABLE_NUMBA=1`` keeps NumPy
everywhere.
"""

from __future__ import annotations

import os
from functools import lru_cache

NUMBA_MIN_SIZE = int(os.environ.get("AGRAD_NUMBA_MIN_SIZE", 2048))
PARALLEL_MIN_SIZE = int(os.environ.get("AGRAD_PARALLEL_MIN_SIZE", 1 << 18))


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
    return size >= PARALLEL_MIN_SIZE and numba_threads() > 1
