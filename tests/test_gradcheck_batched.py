"""gradcheck judges all probes of an input in one expression: it must still catch and name a bug."""

import pytest

from agrad import primitive
from agrad.testing import GradcheckError, gradcheck, randn

# d/dx sin(x) is cos(x); this rule is 0.1% off wherever x > 0
_wrong_sin = primitive(
    "wrong_sin",
    lambda xp, x: xp.sin(x),
    vjp=(lambda xp, g, ans, x: g * xp.cos(x) * (1.0 + 1e-3 * xp.astype(x > 0.0, x.dtype)),),
)


@pytest.mark.requires("float64")
def test_gradcheck_names_the_wrong_element(backend):
    from agrad import float64

    x = randn(2, 3, dtype=float64, seed=0)
    assert bool(backend.xp.any(x.value > 0.0))  # the seed gives positive elements: the bug shows
    with pytest.raises(GradcheckError, match=r"input 0, element \d \(flat index\).*difference"):
        gradcheck(_wrong_sin, x)


@pytest.mark.requires("float64")
def test_gradcheck_random_directions_catch_a_bug(backend):
    from agrad import float64

    x = randn(9, 9, dtype=float64, seed=1)
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(_wrong_sin, x)
    assert gradcheck(lambda t: (t * t).sum(axis=0), x)
