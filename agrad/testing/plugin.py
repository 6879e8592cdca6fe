"""The pytest plugin behind agrad's conformance suite.

Every test that uses the ``backend`` fixture (the top-level ``conftest.py`` makes it autouse)
runs once per backend: all registered backends that load here, or those named with
``--backend NAME`` (repeatable), which may be a third-party backend registered through the
``agrad.backends`` entry point. ``--backend NAME:key=value,...`` passes options to the backend's
factory (values are Python literals), e.g. ``--backend jax:x64=True``; the ini option
``agrad_backend_options`` (lines ``NAME: key=value, ...``) gives the options a backend is tested
with by default. Marks:

* ``@pytest.mark.requires("float64", ...)``: skip, naming the capability, where a backend lacks it.
* ``@pytest.mark.backend_independent``: run once, not per backend (e.g. source scans).
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

import agrad

_status: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        default=[],
        metavar="NAME",
        help="run the suite on this agrad backend (repeatable; NAME or NAME:key=value,...); "
        "default: every installed one",
    )
    parser.addini(
        "agrad_backend_options",
        type="linelist",
        default=[],
        help="options a backend is tested with, one 'NAME: key=value, ...' per line",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(*caps): needs these backend capabilities")
    config.addinivalue_line("markers", "backend_independent: run once, not once per backend")
    config.addinivalue_line("markers", "slow: long-running (still run by .ci/run)")


def parse_backend_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"jax:x64=True,device='cpu'"`` -> ``("jax", {"x64": True, "device": "cpu"})``."""
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise pytest.UsageError(f"agrad backend spec {spec!r}: expected key=value, got {item!r}")
        try:
            options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = value.strip()  # a bare word is a string
    return name.strip(), options


def _default_options(config: pytest.Config) -> dict[str, dict[str, Any]]:
    return dict(parse_backend_spec(line) for line in config.getini("agrad_backend_options"))


def load_for_tests(config: pytest.Config, spec: str) -> agrad.Backend:
    """The backend a test id names: its explicit options, else the ini's, else none."""
    name, options = parse_backend_spec(spec)
    if ":" not in spec:
        options = _default_options(config).get(name, {})
    return agrad.load_backend(name, **options)


def selected_backends(config: pytest.Config) -> list[str]:
    asked = config.getoption("--backend")
    if asked:
        for spec in asked:  # an explicit request that cannot load is an error, not a skip
            load_for_tests(config, spec)
        return list(asked)
    if not _status:
        _status.update(agrad.available_backends())
    return [name for name, status in _status.items() if status == "ok"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"agrad backends under test: {', '.join(selected_backends(config))}"]
    for name, status in _status.items():
        if status != "ok":
            lines.append(f"agrad backend {name} not tested: {status}")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("backend_independent"):
        metafunc.parametrize("backend", [None], ids=["any"], indirect=True)
        return
    names = selected_backends(metafunc.config)
    metafunc.parametrize("backend", names, ids=names, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest):
    """The backend this test runs on (active for the test's duration)."""
    name = getattr(request, "param", None)
    if name is None:
        yield None
        return
    be = load_for_tests(request.config, name)
    caps = be.capabilities
    for marker in request.node.iter_markers("requires"):  # module- and test-level marks alike
        for cap in marker.args:
            if not getattr(caps, cap):
                pytest.skip(f"backend {name!r} lacks the capability {cap!r}")
    with agrad.using_backend(be):
        be.rng.seed(0)
        yield be
