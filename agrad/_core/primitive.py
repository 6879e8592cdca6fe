"""Primitives: an operation and its derivative rules, declared together in one place.

A :class:`Primitive` is the unit the engine differentiates. It holds

* ``fwd(xp, *args, **params)``: the forward computation on backend arrays with namespace ``xp``;
* ``vjp``: one rule per positional argument, ``rule(xp, g, ans, *args, **params)`` returning the
  cotangent for that argument (``None`` for an argument that is never differentiable);
* ``jvp``: the forward-mode slot, one rule per argument ``rule(xp, dx, ans, *args, **params)``
  returning that argument's contribution to the output tangent;
* ``batch``: the batching rule for ``agrad.vmap``, ``rule(prim, xp, args, dims, **params) ->
  (out, out_dim)``: ``dims[i]`` is the axis of ``args[i]`` that is the batch (``None``: not batched),
  and the rule computes the whole batch at once with primitives on those arrays (see
  :mod:`agrad._core.batching`);
* ``variadic_vjp``: for operations of any arity (``concat``, ``stack``), one rule
  ``rule(i, xp, g, ans, *args, **params)`` for every argument ``i`` instead of a rule per position;
* ``kernel``: the name of a fused kernel a backend may register to replace ``fwd``, declared in
  :mod:`agrad._base.kernels` together with ``"<kernel>.vjp"``: a joint pull-back ``(xp, g, ans,
  *args, **params) -> [cotangent or None per arg]`` (any indexable: it may compute each entry on
  demand) on raw arrays that replaces the VJP rules in the fast engine mode only;
  ``create_graph=True`` always runs the portable rules, so a kernel never changes what
  higher-order derivatives see. A kernel returning ``NotImplemented`` declines the call and the
  portable reference runs.

Rules are written once against an Array API namespace ``xp``. The engine calls them with the
backend's namespace and raw arrays (fast), or, for higher-order derivatives
(``create_graph=True``), with agrad's own namespace and Tensors, so the rule itself is recorded
and differentiable again. That is why rules use only standard functions and operators.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from agrad._base import kernels as _kernels
from agrad._base.backend import get_backend
from agrad._base.modes import grad_mode, modes
from agrad._core.tensor import Tensor, _wrap

Rule = Callable[..., Any]


class Node:
    """One recorded application of a primitive: what the backward pass needs from the forward.

    ``args`` are the inputs as given (Tensors, Python scalars, raw arrays); ``vals`` their backend
    values at call time (so reassigning ``x.value`` later cannot corrupt the gradient); ``out``
    the raw output (a tuple for multi-output primitives). ``args`` is ``None`` once released.
    """

    __slots__ = ("prim", "args", "vals", "params", "out", "backend", "hooks", "site", "__weakref__")
    # ``hooks`` ({output index: [fn]}, or None) belong to the graph: release() drops them with it.
    # ``site`` (where detect_anomaly saw the node created) is set only when used: read it with
    # getattr(node, "site", None).

    def __init__(self, prim, args, vals, params, out, backend):
        self.prim = prim
        self.args = args
        self.vals = vals
        self.params = params
        self.out = out
        self.backend = backend
        self.hooks = None

    def release(self) -> None:
        self.args = self.vals = self.out = self.hooks = None


def _describe(values: Sequence[Any]) -> str:
    parts = []
    for v in values:
        shape = getattr(v, "shape", None)
        if shape is None:
            parts.append(repr(v) if isinstance(v, (int, float, complex, bool)) else type(v).__name__)
        else:
            parts.append(f"{tuple(shape)} {getattr(v, 'dtype', '')}")
    return ", ".join(parts)


class Primitive:
    """A differentiable operation; call it with Tensors, raw backend arrays or Python scalars."""

    __slots__ = ("name", "fwd", "vjp", "jvp", "kernel", "multi_output", "joint_vjp",
                 "joint_jvp", "vjp_kernel", "variadic_vjp", "batch")

    def __init__(
        self,
        name: str,
        fwd: Callable[..., Any],
        vjp: Sequence[Rule | None] | None = None,
        jvp: Sequence[Rule | None] | None = None,
        *,
        kernel: str | None = None,
        multi_output: bool = False,
        joint_vjp: Rule | None = None,
        joint_jvp: Rule | None = None,
        variadic_vjp: Rule | None = None,
        batch: Rule | None = None,
    ) -> None:
        self.name = name
        self.fwd = fwd
        self.vjp = tuple(vjp) if vjp is not None else None
        self.jvp = tuple(jvp) if jvp is not None else None
        self.kernel = kernel
        self.vjp_kernel = None if kernel is None else kernel + ".vjp"  # key of a raw-mode pull-back
        self.multi_output = multi_output
        # One rule ``(xp, g, ans, *args, **params) -> [cotangent per arg]`` instead of per-arg
        # rules, for operations whose pull-back is one computation (custom_vjp, checkpoint).
        self.joint_vjp = joint_vjp
        # Likewise ``(xp, dargs, ans, *args, **params) -> output tangent`` with ``dargs[i]`` None
        # where argument i has no tangent: for variadic ops (stack, concat), whose per-argument
        # contributions would each be a full-size array.
        self.joint_jvp = joint_jvp
        self.variadic_vjp = variadic_vjp
        self.batch = batch
        if (joint_vjp is not None or variadic_vjp is not None) and self.vjp is None:
            self.vjp = ()

    def __repr__(self) -> str:
        return f"<agrad primitive {self.name}>"

    def impl(self, backend) -> Callable[..., Any]:
        """The forward for ``backend``: its fused kernel if it registered one, else ours."""
        if self.kernel is not None:
            kernel = backend.kernels.get(self.kernel)
            if kernel is not None:
                return _or_reference(kernel, self.fwd)
        return self.fwd

    def raw_joint_vjp(self, backend) -> Rule | None:
        """The joint pull-back for the fast (raw-array) engine mode: ``backend``'s fused one if it
        registered ``"<kernel>.vjp"``, else ``joint_vjp`` (None: use the per-argument rules).
        A fused one may return ``NotImplemented``: the engine then runs the portable rules."""
        if self.vjp_kernel is not None:
            return backend.kernels.get(self.vjp_kernel, self.joint_vjp)
        return self.joint_vjp

    def __call__(self, *args: Any, **params: Any) -> Any:
        if modes.special:  # forward mode, anomaly detection, checkpoint discovery (this thread)
            return _special_call(self, args, params)
        backend = None
        record = False
        plain = False  # a non-Tensor, non-scalar argument that must be checked against the backend
        vals = []
        for a in args:
            if isinstance(a, Tensor):
                b = a._backend
                if backend is None:
                    backend = b
                elif b is not backend:
                    _mixed_backends(self, args)
                if a.requires_grad:
                    record = True
                vals.append(a.value)
            else:
                vals.append(a)
                if a is not None and type(a) not in _SCALARS:
                    plain = True
        if backend is None:
            backend = get_backend()
        elif plain:
            for v in vals:
                if not (v is None or type(v) in _SCALARS or backend.is_array(v)):
                    _foreign_array(self, v, backend)
        fwd = self.fwd if self.kernel is None else backend.kernels.get(self.kernel, self.fwd)
        try:
            out = fwd(backend.xp, *vals, **params)
            if out is NotImplemented:  # the kernel declined: the portable reference runs
                out = self.fwd(backend.xp, *vals, **params)
        except (TypeError, ValueError, IndexError, RuntimeError) as e:
            raise _op_error(self, e, vals, backend) from e
        if record and self.vjp is not None and grad_mode.enabled:
            node = Node(self, args, vals, params, out, backend)
            if self.multi_output:
                return tuple(_wrap(o, backend, node, i) for i, o in enumerate(out))
            return _wrap(out, backend, node, 0)
        if self.multi_output:
            return tuple(_wrap(o, backend, None, 0) for o in out)
        return _wrap(out, backend, None, 0)


_SCALARS = frozenset((int, float, complex, bool))


def _op_error(prim: Primitive, e: Exception, vals: Sequence[Any], backend) -> Exception:
    msg = f"agrad.{prim.name} failed on backend {backend.name!r} for inputs ({_describe(vals)}): {e}"
    try:
        return type(e)(msg)
    except Exception:  # an exception class that cannot be built from one message
        return RuntimeError(msg)


def _mixed_backends(prim: Primitive, args: Sequence[Any]) -> None:
    names = sorted({a._backend.name for a in args if isinstance(a, Tensor)})
    raise ValueError(
        f"agrad.{prim.name}: its inputs live on different backends ({', '.join(names)}). "
        "Move one of them first with tensor.to_backend(name), or create both inside the same "
        "agrad.using_backend(...) block."
    )


def _foreign_array(prim: Primitive, v: Any, backend) -> None:
    raise TypeError(
        f"agrad.{prim.name}: got a {type(v).__module__}.{type(v).__name__}, which is not an "
        f"array of the active backend {backend.name!r}. Wrap it first: agrad.Tensor(value) "
        "converts it to the active backend."
    )


PRIMITIVES: dict[str, Primitive] = {}
"""Every primitive declared with :func:`primitive`, by name: the test-suite's table of ops."""


def primitive(
    name: str,
    fwd: Callable[..., Any],
    vjp: Sequence[Rule | None] | None = None,
    jvp: Sequence[Rule | None] | None = None,
    **kw: Any,
) -> Primitive:
    """Declare a primitive: forward, VJP rules and JVP rules side by side (see module doc)."""
    prim = Primitive(name, fwd, vjp, jvp, **kw)
    PRIMITIVES.setdefault(name, prim)
    if prim.kernel is not None:
        _kernels.declare(prim.kernel, fwd, f"agrad primitive {name}")
        _kernels.declare(prim.vjp_kernel, prim.joint_vjp, f"agrad primitive {name}", "joint vjp")
    return prim


def _or_reference(kernel: Callable[..., Any], reference: Callable[..., Any]) -> Callable[..., Any]:
    def call(xp: Any, *args: Any, **params: Any) -> Any:
        out = kernel(xp, *args, **params)
        return reference(xp, *args, **params) if out is NotImplemented else out

    return call


def plain_call(prim: Primitive, args: tuple, params: dict) -> Any:
    """``prim`` called as if no special mode were on (the modes' own work comes after)."""
    st = modes
    st.bypass, st.special = True, False
    try:
        return prim(*args, **params)
    finally:
        st.bypass = False
        st.refresh()


def _special_call(prim: Primitive, args: tuple, params: dict) -> Any:
    """A primitive call while a special mode is on: the plain call (or, for arguments batched by
    ``vmap``, the batching rule), then the modes' extra work."""
    st = modes
    levels = st.levels
    out = NotImplemented
    if st.batch:  # returns the forward levels that see this call (those inside the vmap)
        out, levels = _mode_hooks["batch"](prim, args, params)
    if out is NotImplemented:
        # agrad.jit records the plain call
        out = _mode_hooks["trace"](prim, args, params) if st.trace else plain_call(prim, args, params)
    for tracker in st.trackers:
        tracker.saw(args, out)
    if st.anomaly:
        _mode_hooks["anomaly"](prim, out)
    if levels and prim.vjp is not None:
        _mode_hooks["forward"](prim, args, params, out, levels)
    return out


_mode_hooks: dict[str, Callable[..., Any]] = {}
"""The special modes' per-call work, registered by ``agrad._core.forward``, ``agrad._core.batching``
and ``agrad._core.anomaly``."""


# --- rule helpers, shared by every chapter ------------------------------------------------------


def unbroadcast(xp: Any, g: Any, shape: tuple) -> Any:
    """Sum ``g`` down to ``shape``: undoes NumPy-style broadcasting of an input of that shape."""
    gshape = g.shape
    if gshape == shape:
        return g
    gshape = tuple(gshape)
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    return xp.reshape(g, shape)


def device_of(a: Any) -> Any:
    """``a``'s device, or ``None`` (the namespace's default) for arrays that have none (Dask)."""
    return getattr(a, "device", None)


def shape_of(a: Any) -> tuple:
    shape = getattr(a, "shape", ())
    return shape if type(shape) is tuple else tuple(shape)


# --- the namespace a rule receives as ``xp`` ----------------------------------------------------

EXTENSIONS: dict[str, Primitive] = {}
"""Non-standard primitives (scatter-add, einsum, conv...) that rules may call as ``xp.<name>``."""


def extension(prim: Primitive) -> Primitive:
    """Make ``prim`` callable from rules as ``xp.<prim.name>`` in both engine modes."""
    EXTENSIONS[prim.name] = prim
    return prim


class RawOps:
    """The backend namespace plus agrad's extensions, on raw arrays: the fast engine mode."""

    def __init__(self, backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        prim = EXTENSIONS.get(name)
        if prim is not None:
            value = functools.partial(prim.impl(self._backend), self._backend.xp)
        else:
            value = getattr(self._backend.xp, name)
        setattr(self, name, value)  # cache: later lookups are plain attribute reads
        return value


class TensorOps:
    """agrad's own namespace plus the extensions, on Tensors: rules become differentiable.

    The namespace is the public ``agrad`` module, which sits above this layer: the package binds
    it with :meth:`bind` once it is complete (rules run only after that).
    """

    namespace: Any = None

    def bind(self, namespace: Any) -> None:
        type(self).namespace = namespace

    def __getattr__(self, name: str) -> Any:
        value = EXTENSIONS.get(name)
        if value is None:
            value = getattr(self.namespace, name)
        setattr(self, name, value)
        return value


TENSOR_OPS = TensorOps()


def raw_ops(backend) -> RawOps:
    """The namespace rules see in the fast engine mode (kept in ``backend.cache["raw_ops"]``)."""
    ops = backend.cache.get("raw_ops")
    if ops is None:
        ops = backend.cache["raw_ops"] = RawOps(backend)
    return ops


