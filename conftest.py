"""agrad's conformance suite runs every test on every installed backend.

``pytest --backend NAME`` (repeatable) restricts it to the named backends, including third-party
ones registered through the ``agrad.backends`` entry point. The machinery lives in
``agrad.testing.plugin`` so that third parties get the same fixtures.
"""

import os

import pytest

# SciPy reads this once, at its first import: make it see agrad's Tensors as Array API arrays
# (tests/test_interop.py). Set here, before any test module can import scipy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

pytest_plugins = ["agrad.testing.plugin"]


@pytest.fixture(autouse=True)
def _every_backend(backend):
    """Make the per-backend fixture apply to every test."""
    return backend
