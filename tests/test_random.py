"""``agrad.random``: one seed gives the same numbers on every backend; shapes, dtypes and
distributions as documented."""

import numpy as np
import pytest

import agrad
from tests.helpers import assert_close, to_np


def _draws():
    agrad.random.seed(1234)
    return {
        "normal": agrad.random.normal((3, 2), 1.0, 2.0),
        "uniform": agrad.random.uniform((4,), -1.0, 1.0),
        "randint": agrad.random.randint(2, 9, (5,)),
        "permutation": agrad.random.permutation(6),
        "bernoulli": agrad.random.bernoulli(0.3, (6,)),
        "choice": agrad.random.choice(10, (2, 2)),
    }


def test_the_same_seed_gives_the_same_numbers_on_every_backend(backend):
    ours = _draws()
    with agrad.using_backend("numpy"):
        reference = _draws()
    for name, t in ours.items():
        assert t.shape == reference[name].shape, name
        assert_close(to_np(t).astype(np.float64), to_np(reference[name]).astype(np.float64), rtol=1e-6,
                     atol=1e-6)
    assert ours["randint"].dtype == agrad.result_type(agrad.asarray(1))


def test_shapes_dtypes_and_ranges(backend):
    agrad.random.seed(0)
    x = agrad.random.uniform((200,), 2.0, 3.0, dtype=agrad.float32)
    assert x.dtype == agrad.float32 and not x.requires_grad
    v = to_np(x)
    assert v.min() >= 2.0 and v.max() < 3.0
    k = to_np(agrad.random.randint(4, shape=(300,)))
    assert set(k.tolist()) == {0, 1, 2, 3}
    assert sorted(to_np(agrad.random.permutation(7)).tolist()) == list(range(7))
    assert agrad.random.normal(requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="low < high"):
        agrad.random.randint(3, 3)
    with pytest.raises(TypeError, match="floating dtype"):
        agrad.random.normal((2,), dtype=agrad.int32)


def test_bernoulli_takes_probabilities_as_torch_does(backend):
    agrad.random.seed(5)
    p = agrad.asarray([0.0, 1.0, 0.0, 1.0], dtype=agrad.float32)
    b = agrad.random.bernoulli(p)
    assert b.dtype == agrad.float32
    assert to_np(b).tolist() == [0.0, 1.0, 0.0, 1.0]
    mean = float(to_np(agrad.random.bernoulli(0.25, (4000,))).mean())
    assert abs(mean - 0.25) < 0.03


def test_choice_weights_and_replacement(backend):
    agrad.random.seed(7)
    a = agrad.asarray([10.0, 20.0, 30.0])
    got = to_np(agrad.random.choice(a, (500,), p=agrad.asarray([0.0, 0.2, 0.8])))
    assert set(got.tolist()) <= {20.0, 30.0}
    assert abs((got == 30.0).mean() - 0.8) < 0.06
    distinct = to_np(agrad.random.choice(8, (8,), replace=False))
    assert sorted(distinct.tolist()) == list(range(8))
    with pytest.raises(ValueError, match="distinct"):
        agrad.random.choice(3, (4,), replace=False)


def test_state_round_trip_continues_the_stream(backend):
    agrad.random.seed(11)
    state = agrad.random.get_state()
    first = to_np(agrad.random.normal((3,)))
    agrad.random.normal((5,))
    agrad.random.set_state(state)
    assert to_np(agrad.random.normal((3,))).tolist() == first.tolist()


@pytest.mark.requires("float64")
def test_permutation_and_choice_of_a_tensor_are_differentiable(backend):
    x = agrad.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=agrad.float64)
    x.requires_grad_()
    agrad.random.seed(2)
    y = agrad.random.permutation(x)
    (y * y).sum().backward()
    assert_close(x.grad, 2 * to_np(x))
    x.grad = None
    z = agrad.random.choice(x, (4,))
    assert z.shape == (4, 2)
    z.sum().backward()
    assert float(to_np(x.grad).sum()) == pytest.approx(8.0)
