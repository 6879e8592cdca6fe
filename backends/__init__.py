"""agrad's built-in backends (installed as ``agrad_backends``).

Each module exposes ``make_backend(**options) -> agrad.Backend`` and is registered through the
``agrad.backends`` entry-point group in ``pyproject.toml``, exactly as a third-party backend
would be. Modules import their array library inside ``make_backend`` only, so listing the
registry never imports torch or jax.
"""
