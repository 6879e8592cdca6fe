"""Property test: forward and reverse mode agree for broadcasting binary ops on random shapes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agrad
from tests.helpers import to_np

pytestmark = pytest.mark.requires("float64")


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast together (some axes 1 or missing on either side)."""
    out = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    shapes = []
    for _ in range(2):
        drop = draw(st.integers(0, len(out)))
        shapes.append(tuple(n if draw(st.booleans()) else 1 for n in out[drop:]))
    return shapes


OPS = ["add", "subtract", "multiply", "divide", "pow"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=broadcastable_pair(), op=st.sampled_from(OPS), seed=st.integers(0, 2**16))
def test_jvp_equals_vjp_under_broadcasting(backend, shapes, op, seed):
    rng = np.random.default_rng(seed)
    xp = backend.xp

    def arr(shape, positive=False):
        a = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
        return agrad.Tensor(xp.asarray(np.asarray(a, dtype=np.float64)))

    positive = op in ("divide", "pow")
    a, b = arr(shapes[0], positive=op == "pow"), arr(shapes[1], positive=positive)
    da, db = arr(shapes[0]), arr(shapes[1])
    f = getattr(agrad, op)
    out, jv = agrad.jvp(f, (a, b), (da, db))
    assert jv.shape == out.shape
    u = arr(out.shape)
    ga, gb = agrad.vjp(f, a, b)[1](u)
    lhs = float(np.sum(to_np(u) * to_np(jv)))
    rhs = float(np.sum(to_np(ga) * to_np(da)) + np.sum(to_np(gb) * to_np(db)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)
