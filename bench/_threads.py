"""One thread everywhere: set before NumPy, Numba or torch is imported (they read it at import)."""

from __future__ import annotations

import os

THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)


def pin_single_thread() -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"


def pin_torch(torch) -> None:
    """torch reads OMP_NUM_THREADS too, but say it explicitly (intra-op and inter-op pools)."""
    torch.set_num_threads(1)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only allowed before torch's first parallel work
            pass
