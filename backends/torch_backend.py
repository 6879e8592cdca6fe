"""PyTorch (CPU by default, ``device="cuda"`` where there is one) through array-api-compat."""

from __future__ import annotations

from typing import Any

from agrad import Backend
from agrad_backends._factory import new_backend, take_options


def make_backend(**options: Any) -> Backend:
    import array_api_compat.torch as xp
    import torch

    from agrad_backends._einsum_path import planned_einsum
    from agrad_backends._keys import hits_each_position_once

    device, compile_programs = take_options("torch", options, {"device": "cpu", "compile": False})
    device = torch.device(device)

    def is_array(obj: Any) -> bool:
        return isinstance(obj, torch.Tensor)

    def convert(a: Any, dtype: Any) -> Any:
        return torch.as_tensor(a, dtype=dtype, device=device)

    def index_scatter(xp: Any, g: Any, *, shape: tuple, key: Any) -> Any:
        out = torch.zeros(shape, dtype=g.dtype, device=g.device)
        if hits_each_position_once(key):
            out[key] = g
            return out
        if isinstance(key, torch.Tensor) and key.dtype != torch.bool:
            return out.index_put_((key,), g, accumulate=True)
        return NotImplemented  # boolean masks and mixed keys: the portable reference

    def scatter_add(xp: Any, values: Any, *, index: Any, size: int) -> Any:
        out = torch.zeros((size, *values.shape[1:]), dtype=values.dtype, device=values.device)
        return out.index_add_(0, index, values)

    kernels = {"index_scatter": index_scatter, "scatter_add": scatter_add, "einsum": planned_einsum}
    # compile=True: agrad.jit hands its programs to torch.compile (seconds per program, and a C++
    # compiler on CPU); by default they are replayed op by op.
    compiler = torch.compile if compile_programs else None
    return new_backend("torch", xp, is_array, convert, device=device, kernels=kernels,
                       compiler=compiler)
