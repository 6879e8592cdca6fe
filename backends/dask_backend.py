"""Dask: chunked, lazy arrays through ``array_api_compat.dask.array``.

Nothing is computed until the user asks (``tensor.value.compute()``, ``float(tensor)``): agrad's
forward and backward passes only build task graphs. Two consequences handled here:

* ``materialize`` persists arrays (``dask.persist``): an optimizer calls it on the updated
  parameters after each step, so the next step's graph starts from computed chunks instead of
  replaying every earlier step (graphs would otherwise grow without bound).
* ``_dask_namespace`` fills the standard functions ``array_api_compat.dask.array`` lacks.
* Boolean-mask indexing and other data-dependent shapes give arrays of unknown (NaN) size, which
  the rest of a computation cannot use; ``capabilities.data_dependent_shapes`` is False.
"""

from __future__ import annotations

from typing import Any

from agrad import Backend, Capabilities


def make_backend(**options: Any) -> Backend:
    """Options: ``chunks`` (how the RNG's and ``asarray``'s new arrays are chunked, default
    ``"auto"``)."""
    import dask
    import dask.array as da

    from agrad_backends._dask_namespace import make_namespace
    from agrad_backends._rng import PhiloxRNG

    xp = make_namespace()

    chunks = options.pop("chunks", "auto")
    if options:
        raise TypeError(f"dask backend: unknown options {sorted(options)} (known: chunks)")

    def is_array(obj: Any) -> bool:
        return isinstance(obj, da.Array)

    def convert(a: Any, dtype: Any) -> Any:
        return da.from_array(a if dtype is None else a.astype(dtype), chunks=chunks)

    def materialize(arrays: Any) -> Any:
        return dask.persist(*arrays)

    return Backend(
        name="dask",
        xp=xp,
        is_array=is_array,
        capabilities=Capabilities(lazy=True, data_dependent_shapes=False),
        rng=PhiloxRNG(convert),
        materializer=materialize,
    )
