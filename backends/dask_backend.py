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
from agrad_backends._factory import new_backend, take_options


def make_backend(**options: Any) -> Backend:
    """Options: ``chunks`` (how the RNG's and ``asarray``'s new arrays are chunked, default
    ``"auto"``)."""
    import dask
    import dask.array as da

    from agrad_backends._dask_namespace import make_namespace

    xp = make_namespace()

    (chunks,) = take_options("dask", options, {"chunks": "auto"})

    def is_array(obj: Any) -> bool:
        return isinstance(obj, da.Array)

    def convert(a: Any, dtype: Any) -> Any:
        return da.from_array(a if dtype is None else a.astype(dtype), chunks=chunks)

    def materialize(arrays: Any) -> Any:
        return dask.persist(*arrays)

    capabilities = Capabilities(lazy=True, data_dependent_shapes=False)
    return new_backend("dask", xp, is_array, convert, capabilities=capabilities, materializer=materialize)
