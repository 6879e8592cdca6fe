"""What every built-in backend's ``make_backend`` shares: reading its options, and building the
:class:`agrad.Backend` it returns (random numbers from :class:`agrad_backends._rng.PhiloxRNG`).

Only agrad's public API is used here, as in a third-party backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agrad import Backend, Capabilities


def take_options(
    label: str, options: dict[str, Any], known: Mapping[str, Any], *, list_known: bool = True
) -> tuple[Any, ...]:
    """The values of the ``known`` options (name -> default), popped from ``options`` in that
    order; any option left over is a ``TypeError("<label> backend: unknown options [...]")``,
    followed by ``" (known: a, b)"`` unless ``list_known`` is false."""
    values = tuple(options.pop(name, default) for name, default in known.items())
    if options:
        hint = f" (known: {', '.join(known)})" if list_known else ""
        raise TypeError(f"{label} backend: unknown options {sorted(options)}{hint}")
    return values


def new_backend(
    name: str,
    xp: Any,
    is_array: Callable[[Any], bool],
    convert: Callable[[Any, Any], Any],
    *,
    backend_class: type[Backend] = Backend,
    capabilities: Capabilities | None = None,
    **fields: Any,
) -> Backend:
    """``backend_class(name=..., xp=..., is_array=..., capabilities=..., rng=PhiloxRNG(convert),
    **fields)``; ``convert(numpy_array, dtype)`` turns the RNG's draws into the backend's arrays,
    ``capabilities`` defaults to ``Capabilities()``, ``fields`` are any other ``Backend`` fields
    (``device``, ``kernels``, ``materializer``...)."""
    from agrad_backends._rng import PhiloxRNG

    return backend_class(
        name=name,
        xp=xp,
        is_array=is_array,
        capabilities=Capabilities() if capabilities is None else capabilities,
        rng=PhiloxRNG(convert),
        **fields,
    )
