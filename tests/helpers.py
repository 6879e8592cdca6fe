"""Small helpers shared by the tests (tests may use NumPy; the core may not)."""

from __future__ import annotations

from typing import Any

import numpy as np

import agrad


def to_np(x: Any) -> np.ndarray:
    """Any backend's array (or a Tensor) as a NumPy array, for assertions."""
    if isinstance(x, agrad.Tensor):
        x = x.value
    if hasattr(x, "compute"):  # dask
        x = x.compute()
    if hasattr(x, "detach"):  # torch
        x = x.detach().cpu()
    return np.asarray(x)


def tensor_from_np(a: np.ndarray, requires_grad: bool = True) -> agrad.Tensor:
    """A tensor of the active backend holding NumPy data (dtype kept)."""
    be = agrad.get_backend()
    return agrad.Tensor(be.asarray(a), requires_grad=requires_grad)


def assert_close(actual: Any, expected: Any, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    np.testing.assert_allclose(to_np(actual), to_np(expected), rtol=rtol, atol=atol)


def float_dtype_tols(backend) -> tuple[Any, float]:
    """float64 and tight tolerance where the backend has it, else float32 and a looser one."""
    if backend.capabilities.float64:
        return agrad.float64, 1e-9
    return agrad.float32, 1e-4
