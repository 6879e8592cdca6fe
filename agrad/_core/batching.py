"""Batching: how ``agrad.vmap`` runs a function written for one example on a whole batch.

Inside ``vmap`` each batched argument is a :class:`BatchedTensor`: a Tensor that shows the
function one example's shape while it holds the whole batch (``inner``, whose axis ``bdim`` is the
batch) for one :class:`BatchLevel`. Every primitive applied to batched tensors takes the special
path of :mod:`agrad._core.primitive`, and :func:`batched_call` runs the primitive's batching rule
(declared beside its VJP and JVP rules): one call of ordinary primitives on the inner arrays for
the whole batch. Nothing is written per backend; the rules use only standard functions.

Levels nest as JAX's do: the rule's calls on the inner arrays are ordinary primitive calls, so an
outer ``vmap`` batches them again, an outer ``grad`` records them and an outer ``jvp`` pushes
their tangents. Transforms opened inside the ``vmap`` see the batched tensors instead: a
``grad`` inside records nodes whose inputs are batched tensors (:func:`batched_call` records
them), and its backward pass runs the VJP rules on batched tensors (``create_graph`` mode), so
every rule is batched too: that is ``vmap(grad(f))``, per-example gradients.

A primitive without a rule falls back to a loop over the batch (with a one-time warning naming
it), and primitives whose outputs would be ragged under a batch raise :class:`BatchingError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from agrad._base.modes import grad_mode, modes, next_level_id
from agrad._core.primitive import PRIMITIVES, TENSOR_OPS, Node, Primitive, _mode_hooks
from agrad._core.tensor import Tensor


class BatchingError(ValueError):
    """An operation that cannot run under ``agrad.vmap`` (ragged outputs, a value needed in Python)."""


class BatchLevel:
    """One ``vmap`` in progress: its batch size and its policy for random numbers."""

    __slots__ = ("id", "size", "randomness", "active")

    def __init__(self, size: int, randomness: str) -> None:
        self.id = next_level_id()
        self.size = size
        self.randomness = randomness
        self.active = True  # until its vmap returns


class BatchedTensor(Tensor):
    """A tensor batched by one ``vmap`` level: one example's view of ``inner``, whose axis
    ``bdim`` is the batch. ``.value`` is the whole batch's array (``inner.value``)."""

    __slots__ = ("inner", "bdim", "level", "_batch")

    @property
    def value(self) -> Any:
        if not self.level.active:
            raise BatchingError(_ESCAPED)
        return self._batch

    @value.setter
    def value(self, v: Any) -> None:
        self._batch = v

    @property
    def shape(self) -> tuple:
        s = self.inner.shape
        return s[:self.bdim] + s[self.bdim + 1:]

    @property
    def ndim(self) -> int:
        return self.inner.ndim - 1

    @property
    def size(self) -> int | None:
        n = self.inner.size
        return None if n is None else n // self.level.size if self.level.size else 0

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"BatchedTensor(shape={self.shape}, batch of {self.level.size} along axis {self.bdim})"

    def _scalar(self, kind: type) -> Any:
        raise BatchingError(
            f"{kind.__name__}() of a tensor batched by agrad.vmap: it has one value per example, "
            "so Python cannot branch on it. Write the choice with agrad.where(condition, a, b), "
            "or pass the value as an unbatched argument (in_axes=None)."
        )

    def detach(self) -> Tensor:
        return batched(self.inner.detach(), self.bdim, self.level)

    def _before_update(self) -> Tensor:
        t = batched(self.inner, self.bdim, self.level, self._node, self._idx)
        t.requires_grad = self.requires_grad
        return t

    def _rebind(self, new: Tensor, old: Tensor) -> Tensor:
        if not isinstance(new, BatchedTensor) or new.level is not self.level:
            new = batched(front(TENSOR_OPS, new, None, self.level.size), 0, self.level)
        super()._rebind(new, old)
        self.inner, self.bdim = new.inner, new.bdim
        return self


def batched(inner: Tensor, bdim: int, level: BatchLevel, node: Node | None = None,
            idx: int = 0) -> BatchedTensor:
    """A BatchedTensor over ``inner`` (recorded as output ``idx`` of ``node`` if given)."""
    t = object.__new__(BatchedTensor)
    t.inner, t.bdim, t.level = inner, bdim, level
    t.value = inner.value
    t._backend = inner._backend
    t._node, t._idx = node, idx
    t.requires_grad = node is not None
    t._grad = None
    return t


class BatchedOut:
    """What a recorded node keeps of a batched output: enough to rebuild the BatchedTensor for
    the VJP rules (``ans``) without a reference cycle through the node."""

    __slots__ = ("inner", "bdim", "level")

    def __init__(self, t: BatchedTensor) -> None:
        self.inner, self.bdim, self.level = t.inner, t.bdim, t.level

    def wrap(self, node: Node, idx: int) -> BatchedTensor:
        return batched(self.inner, self.bdim, self.level, node, idx)


_ESCAPED = (
    "a tensor batched by an agrad.vmap that has already returned (it escaped through a global, "
    "a closure or an attribute) was used. Return it from the vmapped function instead."
)


# --- the special-path hook --------------------------------------------------------------------


def _level_of(values: Any) -> BatchLevel | None:
    level = None
    for a in values:
        if isinstance(a, BatchedTensor) and (level is None or a.level.id > level.id):
            level = a.level
    return level


def batched_call(prim: Primitive, args: tuple, params: dict) -> tuple[Any, tuple]:
    """Run ``prim`` on arguments of which some are batched: ``(output, forward levels that see
    this call)``; ``(NotImplemented, all levels)`` when no argument is batched."""
    level = _level_of(args)
    plevel = _level_of(params.values()) if params else None
    if plevel is not None and (level is None or plevel.id > level.id):
        level = plevel
    if level is None:
        return NotImplemented, modes.levels
    if level not in modes.batch:
        raise BatchingError(f"agrad.{prim.name}: {_ESCAPED}")
    inner = []
    dims = []
    for a in args:
        if isinstance(a, BatchedTensor) and a.level is level:
            inner.append(a.inner)
            dims.append(a.bdim)
        else:
            inner.append(a)
            dims.append(None)
    rule = prim.batch
    if plevel is level and not getattr(rule, "batched_params", False):
        rule = None  # a batched tensor among the parameters: only the loop knows what to do
    if rule is None:
        rule = _fallback(prim)
    st = modes
    active = st.levels
    older = tuple(f for f in active if f.id < level.id)
    if len(older) != len(active):
        st.set(levels=older)  # levels opened inside this vmap see the batched call only
        try:
            out, out_dim = rule(prim, TENSOR_OPS, inner, dims, **params)
        finally:
            st.set(levels=active)
    elif len(st.batch) == 1 and not (active or st.trace or st.anomaly or st.trackers):
        # The only mode is this vmap, whose tensors the rule has unwrapped: its calls are plain.
        st.bypass, st.special = True, False
        try:
            out, out_dim = rule(prim, TENSOR_OPS, inner, dims, **params)
        finally:
            st.bypass = False
            st.refresh()
    else:
        out, out_dim = rule(prim, TENSOR_OPS, inner, dims, **params)
    result = _wrap_out(prim, out, out_dim, level, args, params)
    return result, tuple(f for f in active if f.id > level.id)


def _wrap_out(prim: Primitive, out: Any, out_dim: Any, level: BatchLevel, args: tuple,
              params: dict) -> Any:
    record = (
        grad_mode.enabled
        and prim.vjp is not None
        and any(isinstance(a, Tensor) and a.requires_grad for a in args)
    )
    if prim.multi_output:
        dims = out_dim if isinstance(out_dim, (tuple, list)) else (out_dim,) * len(out)
        outs = [o if d is None else batched(o, d, level) for o, d in zip(out, dims)]
    else:
        outs = [out if out_dim is None else batched(out, out_dim, level)]
    if record:
        stored = [BatchedOut(o) if isinstance(o, BatchedTensor) else o.value for o in outs]
        vals = [a.value if isinstance(a, Tensor) else a for a in args]
        node = Node(prim, args, vals, params, tuple(stored) if prim.multi_output else stored[0],
                    outs[0]._backend)
        outs = [_recorded(o, node, i) for i, o in enumerate(outs)]
    return tuple(outs) if prim.multi_output else outs[0]


def _recorded(o: Tensor, node: Node, i: int) -> Tensor:
    if isinstance(o, BatchedTensor):
        return batched(o.inner, o.bdim, o.level, node, i)
    t = Tensor.__new__(Tensor)
    t.value, t._backend, t._node, t._idx, t.requires_grad, t._grad = o.value, o._backend, node, i, True, None
    return t


_mode_hooks["batch"] = batched_call


# --- moving the batch axis --------------------------------------------------------------------


def moved(xp: Any, x: Any, d: int | None, to: int = 0) -> Any:
    """``x`` with its batch axis ``d`` moved to ``to`` (``x`` itself if it is there)."""
    if d is None or d == to:
        return x
    n = x.ndim
    perm = [i for i in range(n) if i != d]
    perm.insert(to % n, d)
    return xp.permute_dims(x, tuple(perm))


def front(xp: Any, x: Any, d: int | None, size: int) -> Any:
    """``x`` with the batch in front: moved there, or (unbatched) broadcast to ``size`` copies."""
    if d is not None:
        return moved(xp, x, d)
    if not isinstance(x, Tensor):
        x = Tensor(x, requires_grad=False)
    return xp.broadcast_to(xp.expand_dims(x, axis=0), (size, *x.shape))


def batch_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    for a, d in zip(args, dims):
        if d is not None:
            return a.shape[d]
    raise AssertionError("a batching rule ran without a batched argument")


def logical_ndim(x: Any, d: int | None) -> int:
    n = len(getattr(x, "shape", ()))
    return n if d is None else n - 1


def lift_rank(xp: Any, x: Any, rank: int) -> Any:
    """A batch-in-front ``x`` with length-1 axes after the batch up to ``rank`` example axes."""
    missing = rank - (x.ndim - 1)
    if missing <= 0:
        return x
    return xp.reshape(x, (x.shape[0],) + (1,) * missing + tuple(x.shape[1:]))


# --- rules for families of primitives ---------------------------------------------------------


def elementwise(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """Element-wise primitives with broadcasting: the batch in front, each batched operand given
    the example rank of the broadcast (length-1 axes after the batch), the others as they are."""
    arrays = [(a, d) for a, d in zip(args, dims) if hasattr(a, "shape")]
    rank = max(logical_ndim(a, d) for a, d in arrays)
    same = {d for _, d in arrays if d is not None}
    if len(same) == 1:
        d = same.pop()
        if all(logical_ndim(a, e) == rank if e is not None else rank + 1 - a.ndim > d
               for a, e in arrays):
            return prim(*args, **params), d  # already aligned: no data moves
    lifted = [lift_rank(xp, moved(xp, a, d), rank) if d is not None else a
              for a, d in zip(args, dims)]
    return prim(*lifted, **params), 0


def axes_of(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else a for a in axes)


def reduction(prim: Primitive, xp: Any, args: list, dims: list, *, axis: Any = None,
              keepdims: bool = False, **params: Any) -> tuple:
    """Reductions over ``axis`` (None: all example axes): the same axes of the batch, shifted."""
    x, d = args[0], dims[0]
    x = moved(xp, x, d)
    n = x.ndim - 1
    if n == 0:  # a 0-d example: reduce a length-1 axis instead of none (torch reads () as all)
        out = prim(xp.reshape(x, (x.shape[0], 1)), *args[1:], axis=1, **params)
        return out, 0
    axes = tuple(a + 1 for a in axes_of(axis, n))
    return prim(x, *args[1:], axis=axes, keepdims=keepdims, **params), 0


def shifted(*names: str, all_if_none: bool = True) -> Callable[..., tuple]:
    """A rule for primitives of one batched array whose parameters ``names`` are axes (an int,
    a tuple, or None for every axis when ``all_if_none``): the batch in front, the axes shifted."""

    def rule(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
        if any(d is not None for d in dims[1:]):
            return _fallback(prim)(prim, xp, args, dims, **params)
        x = moved(xp, args[0], dims[0])
        n = x.ndim - 1
        for name in names:
            if name not in params:
                continue
            v = params[name]
            if v is None:
                if not all_if_none:
                    continue
                params[name] = tuple(a + 1 for a in range(n))
            elif isinstance(v, int):
                params[name] = v % n + 1 if n else v
            else:
                params[name] = tuple(a % n + 1 for a in v)
        return prim(x, *args[1:], **params), 0

    return rule


def trailing(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """Primitives of one array that act on its last axes (matrix functions, tril, transposes):
    the batch in front is one more leading axis."""
    if any(d is not None for d in dims[1:]):
        return _fallback(prim)(prim, xp, args, dims, **params)
    return prim(moved(xp, args[0], dims[0]), *args[1:], **params), 0


def ragged(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    raise BatchingError(
        f"agrad.{prim.name} under agrad.vmap: its output's shape depends on the values, so the "
        "examples of a batch would give arrays of different shapes. Compute it outside vmap, or "
        "use a fixed-size form (agrad.where with a mask, or nonzero's size= padding)."
    )


# --- the loop fallback --------------------------------------------------------------------------

_warned: set[str] = set()


def _fallback(prim: Primitive) -> Callable[..., tuple]:
    if prim.name not in _warned:
        _warned.add(prim.name)
        warnings.warn(
            f"agrad.vmap: agrad.{prim.name} has no batching rule, so it runs once per example "
            "in a Python loop (correct, but slow).",
            stacklevel=4,
        )
    return loop


def loop(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """Any primitive, batched by calling it once per example and stacking the results."""
    level_params = {k: v for k, v in params.items() if isinstance(v, BatchedTensor)}
    size = batch_size(args, dims) if any(d is not None for d in dims) else None
    if size is None:
        size = next(iter(level_params.values())).level.size
    outs = []
    for b in range(size):
        ex = [a if d is None else _example(a, d, b) for a, d in zip(args, dims)]
        p = dict(params)
        for k, v in level_params.items():
            p[k] = _example(v.inner, v.bdim, b)
        outs.append(prim(*ex, **p))
    if prim.multi_output:
        return tuple(xp.stack([o[i] for o in outs]) for i in range(len(outs[0]))), 0
    return xp.stack(outs), 0


def _example(a: Tensor, d: int, b: int) -> Tensor:
    return a[(slice(None),) * d + (b,)]


def rules_missing() -> list[str]:
    """The primitives that would fall back to the loop (the suite keeps this list empty of
    everything but documented exceptions)."""
    return sorted(name for name, p in PRIMITIVES.items() if p.batch is None)


def leading(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """Primitives that broadcast over leading axes and act on the trailing ones (cross-entropy
    rows, layer-norm's normalized axes): the batch in front, ranks lifted as for broadcasting."""
    arrays = [(a, d) for a, d in zip(args, dims) if hasattr(a, "shape")]
    rank = max(logical_ndim(a, d) for a, d in arrays)
    lifted = [lift_rank(xp, moved(xp, a, d), rank) if d is not None else a
              for a, d in zip(args, dims)]
    return prim(*lifted, **params), 0


def folded(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """Primitives independent along their first axis (conv inputs, pooling): the batch folded
    into that axis, ``(B, N, ...) -> (B*N, ...)``, and unfolded from the output."""
    if any(d is not None for d in dims[1:]):
        return _fallback(prim)(prim, xp, args, dims, **params)
    x = moved(xp, args[0], dims[0])
    b, n = x.shape[0], x.shape[1]
    out = prim(xp.reshape(x, (b * n, *x.shape[2:])), *args[1:], **params)
    return xp.reshape(out, (b, n, *out.shape[1:])), 0


def argreduce(prim: Primitive, xp: Any, args: list, dims: list, *, axis: Any = None,
              keepdims: bool = False) -> tuple:
    """argmax/argmin: ``axis=None`` indexes the flattened example."""
    x = moved(xp, args[0], dims[0])
    if axis is not None:
        return prim(x, axis=axis % (x.ndim - 1) + 1, keepdims=keepdims), 0
    out = prim(xp.reshape(x, (x.shape[0], -1)), axis=1, keepdims=False)
    return (xp.reshape(out, (x.shape[0],) + (1,) * (x.ndim - 1)) if keepdims else out), 0


def _key_with_batch(key: Any) -> tuple:
    return (slice(None), *(key if isinstance(key, tuple) else (key,)))


def getitem_rule(prim: Primitive, xp: Any, args: list, dims: list, *, key: Any) -> tuple:
    return prim(moved(xp, args[0], dims[0]), key=_key_with_batch(key)), 0


def setitem_rule(prim: Primitive, xp: Any, args: list, dims: list, *, key: Any) -> tuple:
    size = batch_size(args, dims)
    x = front(xp, args[0], dims[0], size)
    v, dv = args[1], dims[1]
    if dv is not None:
        region = len(x[_key_with_batch(key)].shape) - 1
        v = lift_rank(xp, moved(xp, v, dv), region)
    return prim(x, v, key=_key_with_batch(key)), 0


def index_scatter_rule(prim: Primitive, xp: Any, args: list, dims: list, *, shape: tuple,
                       key: Any) -> tuple:
    g = moved(xp, args[0], dims[0])
    return prim(g, shape=(g.shape[0], *shape), key=_key_with_batch(key)), 0


def matrix_rule(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """matmul and solve: 1-D operands as the matrices NumPy reads them as (``(1, k)`` on the left,
    ``(k, 1)`` on the right), the batch in front with the matrices' leading axes broadcast, and
    the added axes dropped from the result."""
    a, b = args[:2]
    da, db = dims[:2]
    vec_a, vec_b = logical_ndim(a, da) == 1, logical_ndim(b, db) == 1
    a = moved(xp, a, da)
    b = moved(xp, b, db)
    if vec_a:
        a = xp.expand_dims(a, axis=-2)
    if vec_b:
        b = xp.expand_dims(b, axis=-1)
    rank = max(logical_ndim(a, da), logical_ndim(b, db))
    if da is not None:
        a = lift_rank(xp, a, rank)
    if db is not None:
        b = lift_rank(xp, b, rank)
    out = prim(a, b, *args[2:], **params)
    if vec_a:
        out = xp.squeeze(out, axis=-2)
    if vec_b:
        out = xp.squeeze(out, axis=-1)
    return out, 0


# --- random numbers under vmap ---------------------------------------------------------------


def random_draw(shape: tuple, draw: Callable[[tuple], Tensor]) -> Tensor:
    """``draw(shape)``, recorded under ``agrad.jit`` (so that each call draws afresh), and under
    this thread's vmap levels by their ``randomness``: ``"same"``
    shares one draw, ``"different"`` draws one per example (a batch, wrapped per level),
    ``"error"`` refuses, as torch.func."""
    levels = modes.batch
    if not levels:
        t = draw(shape)
        if modes.trace:  # agrad.jit: the draw is part of the program, fresh on every call
            modes.trace[-1].record_draw(lambda: draw(shape).value, t.value)
        return t
    if any(level.randomness == "error" for level in levels):
        raise BatchingError(
            "a random draw inside agrad.vmap(randomness='error'), the default: pass "
            "randomness='different' (independent numbers per example) or 'same' (one draw "
            "shared by the batch)"
        )
    different = [level for level in levels if level.randomness == "different"]
    full = tuple(level.size for level in different) + tuple(shape)
    t = draw(full)
    if modes.trace:
        modes.trace[-1].record_draw(lambda: draw(full).value, t.value)
    for level in different:
        t = batched(t, 0, level)
    return t


def precomputed(outs: Sequence[Any]) -> Callable[..., tuple]:
    """The batching rule of a primitive whose outputs were already computed on the batched
    tensors (``custom_vjp`` runs its ``fwd`` on them): those outputs, unwrapped."""

    def rule(prim: Primitive, xp: Any, args: list, dims: list, **params: Any) -> tuple:
        level = _level_of(outs)
        mine = [isinstance(o, BatchedTensor) and o.level is level for o in outs]
        return (tuple(o.inner if m else o for o, m in zip(outs, mine)),
                tuple(o.bdim if m else None for o, m in zip(outs, mine)))

    return rule
