"""PyTorch (CPU by default, ``device="cuda"`` where there is one) through array-api-compat."""

from __future__ import annotations

from typing import Any

from agrad import Backend, Capabilities


def make_backend(**options: Any) -> Backend:
    import array_api_compat.torch as xp
    import torch

    from agrad_backends._einsum_path import planned_einsum
    from agrad_backends._keys import hits_each_position_once
    from agrad_backends._rng import PhiloxRNG

    device = torch.device(options.pop("device", "cpu"))
    if options:
        raise TypeError(f"torch backend: unknown options {sorted(options)} (known: device)")

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
        from agrad._ops.indexing import index_scatter_ref

        return index_scatter_ref(xp, g, shape=shape, key=key)

    def scatter_add(xp: Any, values: Any, *, index: Any, size: int) -> Any:
        out = torch.zeros((size, *values.shape[1:]), dtype=values.dtype, device=values.device)
        return out.index_add_(0, index, values)

    return Backend(
        name="torch",
        xp=xp,
        is_array=is_array,
        device=device,
        capabilities=Capabilities(),
        rng=PhiloxRNG(convert),
        kernels={"index_scatter": index_scatter, "scatter_add": scatter_add, "einsum": planned_einsum},
    )
