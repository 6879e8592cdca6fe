"""``agrad.einsum``: values against NumPy, gradients against finite differences and torch.einsum,
the backend's contraction-path hook and the portable left-to-right fallback."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agrad
from agrad._core.engine import backprop
from agrad._ops.einsum import einsum_ref, normalize_subscripts
from agrad.testing import gradcheck, randn
from tests.helpers import assert_close, tensor_from_np, to_np

pytestmark = pytest.mark.requires("float64")
F64 = agrad.float64

CASES = [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,jk,k->bi", [(2, 3, 4), (4, 5), (5,)]),
    ("ij,jk,kl,li->", [(3, 4), (4, 2), (2, 3), (3, 3)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->ji", [(3, 3, 2)]),
    ("bij->j", [(2, 3, 4)]),
    ("ij,ij->", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
    ("...j,jk", [(2, 3, 4), (4, 5)]),
    ("ab,b->ab", [(1, 5), (5,)]),
    ("ijk,kj->i", [(2, 3, 4), (4, 3)]),
    ("a b , b c -> c a", [(2, 3), (3, 4)]),
    ("i->", [(5,)]),
]


def _operands(shapes, seed=0):
    return [randn(*s, dtype=F64, seed=seed + i) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("subscripts,shapes", CASES, ids=[c[0] for c in CASES])
def test_values_match_numpy(subscripts, shapes):
    ops = _operands(shapes)
    assert_close(agrad.einsum(subscripts, *ops), np.einsum(subscripts, *(to_np(o) for o in ops)))


@pytest.mark.parametrize("subscripts,shapes", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(subscripts, shapes):
    gradcheck(lambda *xs: agrad.einsum(subscripts, *xs), *_operands(shapes, seed=3))


@pytest.mark.parametrize("subscripts,shapes", CASES[:9], ids=[c[0] for c in CASES[:9]])
def test_gradients_match_torch(subscripts, shapes):
    torch = pytest.importorskip("torch")
    ops = _operands(shapes, seed=5)
    out = agrad.einsum(subscripts, *ops)
    cot = np.random.default_rng(1).standard_normal(tuple(out.shape))
    grads = backprop([out], [tensor_from_np(cot, False).value], inputs=ops)
    t_ops = [torch.tensor(to_np(o), requires_grad=True) for o in ops]
    torch.einsum(subscripts, *t_ops).backward(torch.tensor(cot))
    for o, t in zip(ops, t_ops):
        assert_close(grads[id(o)][1], t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_repeated_operand_gradients_add_up():
    x = randn(3, 3, dtype=F64, seed=1)
    agrad.einsum("ij,jk->", x, x).backward()  # d/dx sum(x @ x) = 1 x^T + x^T 1
    ones = np.ones((3, 3))
    assert_close(x.grad, ones @ to_np(x).T + to_np(x).T @ ones)


def test_second_derivative():
    def grad_of(a):
        with agrad.enable_grad():
            a = a if a.requires_grad else a.detach().requires_grad_()
            out = agrad.einsum("ij,jk,ki->i", a, a * a, a)
            c = tensor_from_np(np.arange(1.0, 4.0), False)
            return backprop([out], [c], inputs=[a], create_graph=True)[id(a)][1]

    gradcheck(grad_of, randn(3, 3, dtype=F64, seed=2))


def test_path_order_does_not_change_the_result(backend):
    xs = [to_np(o) for o in _operands([(3, 4), (4, 5), (5, 2), (2, 3)], seed=4)]
    sub = "ij,jk,kl,li->i"
    raw = [backend.asarray(x) for x in xs]
    expected = np.einsum(sub, *xs)
    for path in [None, [(2, 3), (0, 2), (0, 1)], [(0, 1, 2, 3)], [(1, 2), (0, 1), (0, 1)]]:
        assert_close(einsum_ref(backend.xp, *raw, subscripts=sub, path=path), expected)


def test_numpy_and_torch_plan_with_opt_einsum(backend):
    if backend.name not in ("numpy", "torch"):
        assert "einsum" not in backend.kernels  # the oracle runs the portable left-to-right order
        return
    from agrad_backends._einsum_path import contraction_path

    before = contraction_path.cache_info()
    ops = _operands([(2, 3), (3, 4), (4, 2)], seed=6)
    agrad.einsum("ij,jk,kl->il", *ops)
    agrad.einsum("ij,jk,kl->il", *ops)
    after = contraction_path.cache_info()
    assert after.hits + after.misses == before.hits + before.misses + 2
    assert after.hits >= before.hits + 1
    assert contraction_path("ij,jk,kl->il", ((2, 3), (3, 4), (4, 2))) in (((0, 1), (0, 1)), ((1, 2), (0, 1)))


@pytest.mark.backend_independent
def test_normalize_subscripts():
    assert normalize_subscripts("ij,jk", [(2, 3), (3, 4)]) == "ij,jk->ik"
    assert normalize_subscripts("...i,i", [(5, 2, 3), (3,)]) == "abi,i->ab"
    assert normalize_subscripts(" i i ", [(2, 2)]) == "ii->"


def test_clear_errors():
    a, b = _operands([(2, 3), (4, 5)])
    with pytest.raises(ValueError, match="letter 'j' has sizes 3 and 4"):
        agrad.einsum("ij,jk->ik", a, b)
    with pytest.raises(ValueError, match="name 2 operands, but 1"):
        agrad.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="no input has"):
        agrad.einsum("ij->iz", a)
    with pytest.raises(ValueError, match="has 3 letters"):
        agrad.einsum("ijk->i", a)


_LETTERS = "abcde"


@st.composite
def contractions(draw):
    sizes = {c: draw(st.integers(1, 3)) for c in _LETTERS}
    n_ops = draw(st.integers(1, 3))
    terms = [draw(st.text(alphabet=_LETTERS, min_size=1, max_size=3)) for _ in range(n_ops)]
    letters = sorted(set("".join(terms)))
    out = "".join(draw(st.permutations(letters))[: draw(st.integers(0, len(letters)))])
    shapes = [tuple(sizes[c] for c in t) for t in terms]
    return ",".join(terms) + "->" + out, shapes


@settings(max_examples=25, deadline=None)
@given(case=contractions(), seed=st.integers(0, 1000))
def test_random_contractions(case, seed):
    subscripts, shapes = case
    ops = _operands(shapes, seed=seed)
    assert_close(agrad.einsum(subscripts, *ops), np.einsum(subscripts, *(to_np(o) for o in ops)),
                 rtol=1e-9, atol=1e-12)
    gradcheck(lambda *xs: agrad.einsum(subscripts, *xs), *ops)
