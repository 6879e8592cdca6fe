"""``agrad.einsum``: Einstein summation built from standard operations, on every backend.

The subscripts are first normalised (ellipses become letters, the implicit output is made
explicit). Each operand is then reduced on its own (repeated letters -> diagonal, letters used
nowhere else -> summed) and the operands are contracted two at a time, each pairwise step being
``permute_dims`` + ``reshape`` + ``matmul``: nothing outside the Array API standard, so it runs on
``array_api_strict`` too.

*Which* pairs to contract first matters a lot for speed. The core's portable order is left to
right; a backend may plan better by registering the kernel ``"einsum"`` (see
``agrad_backends._einsum_path``: NumPy and PyTorch plan with ``opt_einsum.contract_path`` and a
cache), calling :func:`einsum_ref` with its ``path``.

The VJP for each operand is another einsum (of the cotangent with the other operands), followed by
a broadcast over letters that only that operand had and a diagonal embedding for repeated
letters; so ``einsum`` is differentiable to any order.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

from agrad._core.batching import moved
from agrad._core.primitive import extension, primitive, shape_of
from agrad._ops.rule_constants import eye_like

_LETTERS = string.ascii_letters
_MAX_OPERANDS = 64

# --- subscripts ---------------------------------------------------------------------------------------


def normalize_subscripts(subscripts: str, shapes: Sequence[tuple]) -> str:
    """Canonical ``"ab,bc->ac"`` form: no spaces, no ellipsis, an explicit output."""
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(
            f"agrad.einsum: subscripts {subscripts!r} name {len(ins)} operands, but {len(shapes)} were given"
        )
    used = set(s) - set(".,->")
    bad = sorted(c for c in used if c not in _LETTERS)
    if bad:
        raise ValueError(f"agrad.einsum: subscripts may use only ASCII letters and '...', got {bad}")
    free = [c for c in _LETTERS if c not in used]
    n_ell = max((len(shape) - (len(term) - 3) for term, shape in zip(ins, shapes) if "..." in term),
                default=0)
    ell = "".join(free[:n_ell])
    fixed = []
    for term, shape in zip(ins, shapes):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            if k < 0:
                raise ValueError(f"agrad.einsum: term {term!r} has more letters than its operand's {shape}")
            term = term.replace("...", ell[n_ell - k:])
        if len(term) != len(shape):
            raise ValueError(
                f"agrad.einsum: term {term!r} has {len(term)} letters but its operand has shape {shape}"
            )
        fixed.append(term)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = "".join(fixed)
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ell))
    missing = sorted(set(out) - set("".join(fixed)))
    if missing or len(set(out)) != len(out):
        raise ValueError(
            f"agrad.einsum: output {rhs!r} repeats a letter or uses letters {missing} no input has"
        )
    return ",".join(fixed) + "->" + out


def _split(subscripts: str) -> tuple[list[str], str]:
    lhs, _, out = subscripts.partition("->")
    return lhs.split(","), out


def letter_sizes(ins: Sequence[str], shapes: Sequence[tuple]) -> dict[str, int]:
    """Each letter's size; size-1 axes broadcast against a larger size, other mismatches fail."""
    sizes: dict[str, int] = {}
    for term, shape in zip(ins, shapes):
        for c, n in zip(term, shape):
            old = sizes.get(c, 1)
            if n != 1 and old != 1 and n != old:
                raise ValueError(f"agrad.einsum: letter {c!r} has sizes {old} and {n} in different operands")
            sizes[c] = max(old, n)
    return sizes


# --- the portable forward --------------------------------------------------------------------------------


def _diagonal(xp: Any, x: Any, term: str) -> tuple[Any, str]:
    """Take diagonals until no letter repeats in ``term``."""
    while len(set(term)) < len(term):
        c = next(c for c in term if term.count(c) > 1)
        p = term.index(c)
        q = term.index(c, p + 1)
        rest = [i for i in range(len(term)) if i not in (p, q)]
        x = xp.linalg.diagonal(xp.permute_dims(x, (*rest, p, q)))
        term = "".join(term[i] for i in rest) + c
    return x, term


def _sum_letters(xp: Any, x: Any, term: str, keep: set) -> tuple[Any, str]:
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    if axes:
        x = xp.sum(x, axis=axes)
        term = "".join(c for c in term if c in keep)
    return x, term


def _arrange(xp: Any, x: Any, term: str, order: str, sizes: dict) -> Any:
    """``x`` permuted to ``order`` and broadcast to the full letter sizes."""
    perm = tuple(term.index(c) for c in order)
    if perm != tuple(range(len(perm))):
        x = xp.permute_dims(x, perm)
    full = tuple(sizes[c] for c in order)
    return x if tuple(x.shape) == full else xp.broadcast_to(x, full)


def _contract(xp: Any, a: Any, ta: str, b: Any, tb: str, keep: set, sizes: dict) -> tuple[Any, str]:
    """One pairwise step: batch letters, then ``matmul`` over the contracted ones."""
    batch = "".join(c for c in ta if c in tb and c in keep)
    summed = "".join(c for c in ta if c in tb and c not in keep)
    fa = "".join(c for c in ta if c not in tb)
    fb = "".join(c for c in tb if c not in ta)
    nb, nfa, nfb, nc = (math.prod(sizes[c] for c in t) for t in (batch, fa, fb, summed))
    a2 = xp.reshape(_arrange(xp, a, ta, batch + fa + summed, sizes), (nb, nfa, nc))
    b2 = xp.reshape(_arrange(xp, b, tb, batch + summed + fb, sizes), (nb, nc, nfb))
    out = xp.matmul(a2, b2)
    term = batch + fa + fb
    return xp.reshape(out, tuple(sizes[c] for c in term)), term


def left_to_right(n: int) -> list[tuple[int, int]]:
    """The portable contraction order: always the first two operands (opt_einsum's path format)."""
    return [(0, 1)] * max(n - 1, 0)


def einsum_ref(xp: Any, *operands: Any, subscripts: str, path: Sequence[tuple] | None = None) -> Any:
    """Evaluate canonical ``subscripts`` with standard ops, contracting in ``path``'s order.

    ``path`` uses opt_einsum's format: each step lists positions in the current operand list; those
    operands are removed and their contraction is appended at the end.
    """
    ins, out = _split(subscripts)
    sizes = letter_sizes(ins, [shape_of(o) for o in operands])
    terms, arrays = [], []
    for k, (term, x) in enumerate(zip(ins, operands)):
        x, term = _diagonal(xp, x, term)
        elsewhere = set(out).union(*(set(t) for j, t in enumerate(ins) if j != k))
        x, term = _sum_letters(xp, x, term, elsewhere)
        terms.append(term)
        arrays.append(x)
    for step in path if path is not None else left_to_right(len(arrays)):
        picked = sorted(step, reverse=True)
        group = [(arrays.pop(i), terms.pop(i)) for i in picked][::-1]
        a, ta = group[0]
        for j, (b, tb) in enumerate(group[1:], start=1):
            later = [t for _, t in group[j + 1:]]
            keep = set(out).union(*(set(t) for t in terms), *(set(t) for t in later))
            a, ta = _sum_letters(xp, a, ta, keep | set(tb))
            b, tb = _sum_letters(xp, b, tb, keep | set(ta))
            a, ta = _contract(xp, a, ta, b, tb, keep, sizes)
        arrays.append(a)
        terms.append(ta)
    (x,), (term,) = arrays, terms
    x, term = _sum_letters(xp, x, term, set(out))
    return _arrange(xp, x, term, out, sizes)


# --- derivative rules ---------------------------------------------------------------------------------------


def _embed_diagonal(xp: Any, grad: Any, uniq: str, term: str, like: Any, sizes: dict) -> Any:
    """Place ``grad`` (letters ``uniq``) on the diagonals of a ``term``-shaped array."""

    spare = iter(c for c in _LETTERS if c not in term)
    renamed, eyes, eye_terms = [], [], []
    for c in term:
        if c in renamed:
            new = next(spare)
            eyes.append(eye_like(xp, like, sizes[c]))
            eye_terms.append(c + new)
            c = new
        renamed.append(c)
    return xp.einsum(grad, *eyes, subscripts=",".join([uniq, *eye_terms]) + "->" + "".join(renamed))


def _operand_vjp(i: int):
    def rule(xp: Any, g: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
        ins, out = _split(subscripts)
        term, shape = ins[i], shape_of(operands[i])
        sizes = letter_sizes(ins, [shape_of(o) for o in operands])
        others = [(t, o) for j, (t, o) in enumerate(zip(ins, operands)) if j != i]
        uniq = "".join(dict.fromkeys(term))
        avail = set(out).union(*(set(t) for t, _ in others))
        kept = "".join(c for c in uniq if c in avail)
        grad = xp.einsum(g, *(o for _, o in others),
                         subscripts=",".join([out, *(t for t, _ in others)]) + "->" + kept)
        if kept != uniq:  # letters only this operand had were summed: broadcast back over them
            lonely = "".join(c for c in uniq if c not in avail)
            grad = xp.reshape(grad, tuple(shape_of(grad)) + (1,) * len(lonely))
            grad = _arrange(xp, grad, kept + lonely, uniq, sizes)
        if uniq != term:
            grad = _embed_diagonal(xp, grad, uniq, term, operands[i], sizes)
        squeezed = tuple(p for p, n in enumerate(shape) if n == 1 and shape_of(grad)[p] != 1)
        return xp.sum(grad, axis=squeezed, keepdims=True) if squeezed else grad

    return rule


def _operand_jvp(i: int):
    def rule(xp: Any, d: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
        args = list(operands)
        args[i] = d
        return xp.einsum(*args, subscripts=subscripts)

    return rule


def _einsum_batch(prim: Any, xp: Any, operands: list, dims: list, *, subscripts: str,
                  path: Any = None) -> tuple:
    """One more letter, unused by the subscripts, for the batch axis of the batched operands and
    of the output (the contraction path is planned again for the new shapes)."""
    ins, out = _split(subscripts)
    letter = next(c for c in string.ascii_letters if c not in subscripts)
    ins = [letter + s if d is not None else s for s, d in zip(ins, dims)]
    operands = [moved(xp, o, d) for o, d in zip(operands, dims)]
    return prim(*operands, subscripts=",".join(ins) + "->" + letter + out), 0


einsum_p = extension(
    primitive(
        "einsum",
        einsum_ref,
        vjp=tuple(_operand_vjp(i) for i in range(_MAX_OPERANDS)),
        jvp=tuple(_operand_jvp(i) for i in range(_MAX_OPERANDS)),
        kernel="einsum",
        batch=_einsum_batch,
    )
)


def einsum(subscripts: str, /, *operands: Any) -> Any:
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; ``...`` and implicit outputs work.

    Differentiable in every operand (to any order), on every backend.
    """
    if len(operands) > _MAX_OPERANDS:
        raise ValueError(f"agrad.einsum: at most {_MAX_OPERANDS} operands, got {len(operands)}")
    shapes = [shape_of(o) for o in operands]
    canonical = normalize_subscripts(subscripts, shapes)
    letter_sizes(_split(canonical)[0], shapes)  # a size mismatch is reported in our words
    return einsum_p(*operands, subscripts=canonical)
