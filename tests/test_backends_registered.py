"""Every built-in backend is registered through the entry point, imported only when asked for."""

import subprocess
import sys

import pytest

import agrad
from tests.helpers import assert_close, to_np

pytestmark = pytest.mark.backend_independent

BUILT_IN = {"numpy", "array_api_strict", "torch", "jax", "dask", "cupy"}


def test_all_built_in_backends_are_entry_points():
    from importlib import metadata

    eps = {ep.name: ep.value for ep in metadata.entry_points(group="agrad.backends")}
    assert BUILT_IN <= set(eps)
    assert eps["jax"] == "agrad_backends.jax_backend:make_backend"
    assert BUILT_IN <= set(agrad.registered_backends())


def test_listing_backends_imports_no_array_library():
    code = (
        "import sys, agrad; names = agrad.registered_backends(); "
        "print(sorted(m for m in ('jax', 'dask', 'cupy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_cupy_runs_where_a_gpu_is_and_says_why_not_elsewhere():
    status = agrad.available_backends()["cupy"]
    if status != "ok":
        assert status.startswith("unavailable: agrad backend 'cupy'"), status
        assert "not installed" in status or "GPU" in status, status
        pytest.skip(f"the cupy backend is unusable on this machine: {status}")
    be = agrad.load_backend("cupy")
    with agrad.using_backend(be):
        x = agrad.testing.randn(5, 3, seed=1)
        idx = be.xp.asarray([0, 4, 4, 2])
        g = agrad.testing.randn(4, 3, seed=2, requires_grad=False)
        x[idx].backward(g)
        expected = to_np(x) * 0
        for row, i in enumerate(to_np(idx)):
            expected[i] += to_np(g)[row]
        assert_close(x.grad, expected, rtol=1e-6)


@pytest.mark.parametrize("name, option", [("jax", "colour"), ("dask", "colour"), ("cupy", "colour")])
def test_unknown_options_are_refused(name, option):
    if agrad.available_backends()[name] != "ok":
        pytest.skip(f"backend {name!r} is unusable here: {agrad.available_backends()[name]}")
    with pytest.raises(TypeError, match=rf"{name} backend: unknown options \['{option}'\]"):
        agrad.load_backend(name, **{option: 1})
