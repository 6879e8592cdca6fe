"""JAX (``jax.numpy`` is an Array API namespace natively): immutable arrays, 32-bit by default.

Two things set JAX apart and are handled here, not in the core:

* Arrays are immutable. agrad never updates an array in place anyway; the scatter kernels below
  use JAX's functional ``x.at[key].add(v)`` instead of NumPy's ``np.add.at``.
* 64-bit dtypes exist only when JAX's process-wide ``jax_enable_x64`` flag is on. The flag may be
  switched at any time (``set_backend("jax", x64=True)``, ``jax.config.update`` or the
  ``jax.enable_x64`` context manager), so :class:`JaxBackend` reads it live: ``capabilities.float64``,
  the default dtypes and the dtype table always describe what JAX will actually produce, and asking
  for ``float64`` without x64 is a clear error instead of a silent float32.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agrad import Backend, Capabilities
from agrad_backends._factory import new_backend, take_options
from agrad_backends._keys import hits_each_position_once


class JaxBackend(Backend):
    """A :class:`agrad.Backend` whose 64-bit capability follows JAX's ``jax_enable_x64`` flag."""

    def resolve_defaults(self) -> None:
        import jax

        self._config = jax.config
        self._caps = self.__dict__.pop("_static_caps", Capabilities(immutable=True))
        self._per_flag: dict[bool, dict[str, Any]] = {}

    @property
    def x64(self) -> bool:
        """Whether JAX currently makes 64-bit arrays (its flag, process-wide or context-scoped)."""
        return bool(self._config.jax_enable_x64)

    def _state(self) -> dict[str, Any]:
        x64 = self.x64
        state = self._per_flag.get(x64)
        if state is None:
            defaults = self.xp.__array_namespace_info__().default_dtypes(device=self.device)
            state = self._per_flag[x64] = {
                "capabilities": replace(self._caps, float64=x64),
                "default_float": defaults["real floating"],
                "default_int": defaults["integral"],
                "default_index": defaults["indexing"],
                "cache": {},
            }
        return state

    # The dataclass __init__ assigns ``capabilities``; these properties make it follow the flag.
    @property  # type: ignore[override]
    def capabilities(self) -> Capabilities:
        return self._state()["capabilities"]

    @capabilities.setter
    def capabilities(self, value: Capabilities) -> None:
        self.__dict__["_static_caps"] = value

    @property
    def default_float(self) -> Any:
        return self._state()["default_float"]

    @property
    def default_int(self) -> Any:
        return self._state()["default_int"]

    @property
    def default_index(self) -> Any:
        return self._state()["default_index"]

    @property  # type: ignore[override]
    def cache(self) -> dict:
        """agrad's derived tables (dtypes above all) differ with the flag: one cache per flag."""
        return self._state()["cache"]

    @cache.setter
    def cache(self, value: dict) -> None:
        self.__dict__["_initial_cache"] = value  # the dataclass __init__'s empty dict: unused


def index_scatter(xp: Any, g: Any, *, shape: tuple, key: Any) -> Any:
    """``zeros(shape)`` with ``g`` added at ``key``; repeated indices add up (``.at[].add``)."""
    out = xp.zeros(shape, dtype=g.dtype)
    return out.at[key].set(g) if hits_each_position_once(key) else out.at[key].add(g)


def setitem(xp: Any, x: Any, v: Any, *, key: Any) -> Any:
    """``x`` with ``x[key] = v``, functionally (JAX arrays are immutable)."""
    return x.at[key].set(v)


def scatter_add(xp: Any, values: Any, *, index: Any, size: int) -> Any:
    """Rows of ``values`` summed into ``size`` rows by ``index``."""
    out = xp.zeros((size, *values.shape[1:]), dtype=values.dtype)
    return out.at[index].add(values)


def make_backend(**options: Any) -> Backend:
    """``x64=True``/``False`` switches JAX's process-wide 64-bit flag when this backend is first
    built (agrad caches it per options); ``None`` (default) keeps the flag. Switch it later with
    ``jax.config.update("jax_enable_x64", ...)`` or ``jax.enable_x64``: the backend follows."""
    import jax
    import jax.numpy as jnp

    x64, device = take_options("jax", options, {"x64": None, "device": None})
    if x64 is not None:
        jax.config.update("jax_enable_x64", bool(x64))
    if isinstance(device, str):
        device = jax.devices(device)[0]
    elif device is None:  # JAX's namespace info has no default device: its first device is it
        device = jax.devices()[0]

    def is_array(obj: Any) -> bool:
        return isinstance(obj, jax.Array)

    def convert(a: Any, dtype: Any) -> Any:
        return jnp.asarray(a, dtype=dtype, device=device)

    kernels = {"index_scatter": index_scatter, "scatter_add": scatter_add, "setitem": setitem}
    return new_backend(
        "jax",
        jnp,
        is_array,
        convert,
        backend_class=JaxBackend,
        device=device,
        capabilities=Capabilities(immutable=True),
        kernels=kernels,
        compiler=jax.jit,  # agrad.jit hands XLA the whole program
    )
