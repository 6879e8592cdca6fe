"""The backend registry: names, errors, context managers, mixing backends."""

import threading

import pytest

import agrad
from agrad import Tensor


@pytest.mark.backend_independent
def test_builtin_backends_are_registered_through_entry_points():
    from importlib import metadata

    names = {ep.name for ep in metadata.entry_points(group="agrad.backends")}
    assert {"numpy", "array_api_strict", "torch"} <= names
    assert {"numpy", "array_api_strict", "torch"} <= set(agrad.registered_backends())


@pytest.mark.backend_independent
def test_unknown_backend_lists_the_registered_names():
    with pytest.raises(agrad.BackendError, match=r"unknown agrad backend 'nope'.*numpy"):
        agrad.set_backend("nope")


@pytest.mark.backend_independent
def test_missing_dependency_names_the_pip_extra():
    def factory(**options):
        import agrad_not_a_real_module  # noqa: F401

    agrad.register_backend("fakelib", factory)
    with pytest.raises(agrad.BackendError, match=r"pip install 'agrad\[fakelib\]'"):
        agrad.load_backend("fakelib")
    assert agrad.available_backends()["fakelib"].startswith("unavailable")


@pytest.mark.backend_independent
def test_default_backend_is_numpy():
    assert agrad.get_backend().name == "numpy"


def test_using_backend_is_scoped_and_thread_local(backend):
    seen = {}

    def worker():
        seen["name"] = agrad.get_backend().name

    with agrad.using_backend("numpy"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert agrad.get_backend().name == "numpy"
    assert agrad.get_backend() is backend
    # a new thread does not inherit the block: it sees the process-wide backend
    expected = agrad._base.backend._global.name if agrad._base.backend._global else "numpy"
    assert seen["name"] == expected


def test_set_backend_returns_and_activates():
    previous = agrad._base.backend._global
    try:
        be = agrad.set_backend("array_api_strict")
        with agrad.using_backend("numpy"):
            assert agrad.get_backend().name == "numpy"
        assert be.name == "array_api_strict"
    finally:
        agrad._base.backend._global = previous


def test_mixing_tensors_of_two_backends_is_a_clear_error(backend):
    other_name = "array_api_strict" if backend.name != "array_api_strict" else "numpy"
    a = Tensor([1.0, 2.0])
    b = Tensor([1.0, 2.0], backend=other_name)
    with pytest.raises(ValueError, match=r"different backends.*to_backend"):
        a + b
    moved = b.to_backend(backend)
    assert float((a + moved).sum()) == 6.0


def test_raw_array_of_another_library_is_a_clear_error(backend):
    other = agrad.load_backend("array_api_strict" if backend.name != "array_api_strict" else "numpy")
    a = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="not an array of the active backend"):
        a * other.xp.asarray([1.0, 2.0])


def test_matmul_shape_error_names_op_and_shapes(backend):
    a = Tensor(backend.xp.ones((2, 3)))
    b = Tensor(backend.xp.ones((4, 5)))
    with pytest.raises(ValueError, match=r"agrad.matmul.*\(2, 3\) @ \(4, 5\).*\(3\).*\(4\)"):
        a @ b


def test_failed_op_leaves_inputs_untouched(backend):
    a = Tensor(backend.xp.ones((2, 3)))
    before = a.value
    with pytest.raises(ValueError):
        a @ Tensor(backend.xp.ones((4, 5)))
    assert a.value is before and a.grad is None and a.is_leaf


def test_no_silent_numpy_conversion():
    np = pytest.importorskip("numpy")
    with pytest.raises(TypeError, match="drop the gradient graph"):
        np.asarray(Tensor([1.0, 2.0]))


@pytest.mark.backend_independent
def test_core_imports_no_array_library():
    """agrad/ speaks only the Array API: no backend library may be imported there."""
    import ast
    import pathlib

    banned = {"numpy", "numba", "torch", "jax", "jaxlib", "dask", "cupy", "array_api_strict",
              "opt_einsum", "array_api_compat"}
    root = pathlib.Path(agrad.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(root)}:{node.lineno} imports {n}"
                          for n in names if n.split(".")[0] in banned]
    assert not offenders, offenders


@pytest.mark.backend_independent
def test_a_broken_backend_module_is_not_reported_as_a_missing_package():
    def factory(**options):
        import agrad_backends.no_such_module  # noqa: F401

    agrad.register_backend("broken", factory)
    with pytest.raises(agrad.BackendError, match="failed to import"):
        agrad.load_backend("broken")
