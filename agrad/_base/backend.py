"""The backend registry: which array library agrad computes with.

A *backend* is an Array API namespace plus what the standard leaves out: a default device,
capability flags, a random-number hook and a table of fused kernels. Backends are found through
the ``agrad.backends`` entry-point group (agrad's own and third parties' alike) or registered in
code with :func:`register_backend`.

The active backend is process-wide (:func:`set_backend`) and can be overridden per thread or
async task with the :func:`using_backend` context manager (a ``ContextVar``).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from agrad._base import kernels as _kernels

ENTRY_POINT_GROUP = "agrad.backends"
DEFAULT_BACKEND = "numpy"


class BackendError(ValueError):
    """An unknown backend name, or a backend whose library cannot be imported."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend's arrays can and cannot do; the core and the tests branch on these."""

    immutable: bool = False
    """Arrays cannot be updated in place (JAX). agrad never mutates anyway; tests use this flag."""
    lazy: bool = False
    """Values are computed on demand (Dask): no Python branching on values, no ``float(x)``."""
    float64: bool = True
    """float64 is available (gradcheck needs it)."""
    complex: bool = True
    """complex64/complex128 are available."""
    data_dependent_shapes: bool = True
    """Boolean-mask indexing, ``nonzero`` and ``unique_*`` give arrays of known shape."""


@dataclass
class Backend:
    """One array library as agrad sees it.

    ``xp`` is a namespace conforming to the Array API standard. ``kernels`` maps a declared kernel
    name (e.g. ``"scatter_add"``, ``"layer_norm"``; :mod:`agrad._base.kernels` lists them) to a
    function that replaces the core's portable reference of the same name: it must return the
    same values, only faster, or ``NotImplemented`` to let the reference run. ``rng`` is an object
    with ``seed(int)``, ``uniform(shape, dtype, low, high)``, ``normal(shape, dtype)``,
    ``integers(shape, low, high)`` returning arrays of this backend (the standard has no random
    numbers). ``is_array(obj)`` tells the backend's arrays from anything else.
    """

    name: str
    xp: Any
    is_array: Callable[[Any], bool]
    device: Any = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    rng: Any = None
    kernels: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    materializer: Callable[[Sequence[Any]], Sequence[Any]] | None = None
    """How :meth:`materialize` evaluates arrays (Dask: ``dask.persist``); ``None``: nothing to do."""
    compiler: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None
    """How ``agrad.jit`` compiles a program's body, a pure function of this backend's arrays
    (JAX: ``jax.jit``); ``None``: the program is replayed op by op, without Tensors or graph."""
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """agrad's tables derived from this backend, built on first use: ``"dtypes"`` (agrad dtype <->
    native), ``"scalars"`` (the Python scalar types each native dtype combines with unchanged),
    ``"raw_ops"`` (the namespace rules see in the fast engine mode). A backend may pre-fill an
    entry to override how it is derived."""

    def __post_init__(self) -> None:
        try:
            self.kernels = _kernels.checked(self.name, self.kernels)
        except ValueError as e:
            raise BackendError(str(e)) from None
        self.resolve_defaults()

    def resolve_defaults(self) -> None:
        """Set ``device`` (if not given) and the default dtypes from the namespace's info; called
        once on construction. A subclass whose defaults follow run-time state (JAX's x64 flag)
        overrides it and serves them as properties."""
        info = self.xp.__array_namespace_info__()
        if self.device is None:
            self.device = info.default_device()
        if self.device is None:  # JAX's info answers None: take the device of a fresh array
            self.device = getattr(self.xp.asarray(0), "device", None)
        defaults = info.default_dtypes(device=self.device)
        self.default_float = defaults["real floating"]
        self.default_int = defaults["integral"]
        self.default_index = defaults["indexing"]

    def asarray(self, obj: Any, dtype: Any = None) -> Any:
        """Convert ``obj`` (Python data or this backend's array) to an array on our device."""
        return self.xp.asarray(obj, dtype=dtype, device=self.device)

    def materialize(self, arrays: Sequence[Any]) -> tuple[Any, ...]:
        """The same values, evaluated now and held in memory, for arrays that will be reused.

        On a lazy backend every array is a recipe that replays its whole history when computed;
        an optimizer calls this on the updated parameters (and its state) after each step so the
        next step's graph starts from stored chunks instead of growing without bound. Eager
        backends return the arrays unchanged. Prefer :func:`agrad.materialize` on Tensors.
        """
        if self.materializer is None:
            return tuple(arrays)
        return tuple(self.materializer(tuple(arrays)))

    def __repr__(self) -> str:
        return f"<agrad backend {self.name!r} device={self.device!r}>"


# --- registry --------------------------------------------------------------------------------

_factories: dict[str, Callable[..., Backend]] = {}
_instances: dict[tuple, Backend] = {}
_entry_points_loaded = False
_lock = threading.RLock()
_global: Backend | None = None
_context: contextvars.ContextVar[Backend | None] = contextvars.ContextVar(
    "agrad_backend", default=None
)


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Register ``factory(**options) -> Backend`` under ``name`` (in code, not via entry point)."""
    with _lock:
        _factories[name] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    with _lock:
        if _entry_points_loaded:
            return
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            _factories.setdefault(ep.name, _LazyFactory(ep))
        _entry_points_loaded = True


class _LazyFactory:
    """An entry point that is imported only when its backend is first asked for."""

    def __init__(self, ep: metadata.EntryPoint) -> None:
        self.ep = ep

    def __call__(self, **options: Any) -> Backend:
        return self.ep.load()(**options)


def registered_backends() -> list[str]:
    """Names of every registered backend, usable or not."""
    _load_entry_points()
    return sorted(_factories)


def load_backend(name: str, **options: Any) -> Backend:
    """Return the (cached) backend ``name`` built with ``options``; import errors made clear."""
    key = (name, tuple(sorted(options.items())))
    backend = _instances.get(key)
    if backend is not None:
        return backend
    _load_entry_points()
    with _lock:
        if name not in _factories:
            raise BackendError(
                f"unknown agrad backend {name!r}; registered backends: "
                f"{', '.join(sorted(_factories)) or '(none)'}. Is the package that provides it "
                f"installed (it must declare the {ENTRY_POINT_GROUP!r} entry point)?"
            )
        try:
            backend = _factories[name](**options)
        except ImportError as e:
            missing = getattr(e, "name", None) or str(e)
            if missing.split(".")[0] in ("agrad", "agrad_backends"):  # our own code failed: a bug
                raise BackendError(f"agrad backend {name!r} failed to import: {e}") from e
            raise BackendError(
                f"agrad backend {name!r} needs the package {missing!r}, which is not installed: "
                f"pip install 'agrad[{name}]'"
            ) from e
        _instances[key] = backend
        return backend


def available_backends() -> dict[str, str]:
    """Every registered backend with its status: ``"ok"`` or why it cannot be used."""
    status = {}
    for name in registered_backends():
        try:
            load_backend(name)
            status[name] = "ok"
        except Exception as e:  # report, never raise: this is a diagnostic
            status[name] = f"unavailable: {e}"
    return status


def get_backend() -> Backend:
    """The backend in force here: the innermost :func:`using_backend`, else :func:`set_backend`'s."""
    backend = _context.get()
    if backend is not None:
        return backend
    global _global
    if _global is None:
        with _lock:
            if _global is None:
                _global = load_backend(DEFAULT_BACKEND)
    return _global


def set_backend(name: str | Backend, **options: Any) -> Backend:
    """Make ``name`` the process-wide backend (``options`` go to its factory, e.g. ``device``)."""
    global _global
    backend = name if isinstance(name, Backend) else load_backend(name, **options)
    with _lock:
        _global = backend
    return backend


@contextlib.contextmanager
def using_backend(name: str | Backend, **options: Any) -> Iterator[Backend]:
    """Use ``name`` inside the ``with`` block, in this thread or task only."""
    backend = name if isinstance(name, Backend) else load_backend(name, **options)
    token = _context.set(backend)
    try:
        yield backend
    finally:
        _context.reset(token)
