from __future__ import annotations

import pytest

from tests.lcov_tools import LcovTools, require

# Markers for the tests that need a real tool (registered in pyproject.toml), so that
# `pytest -m "not lcov2"` leaves them out: the lcov releases from the fixtures a test uses,
# the consumers and the browser from the helpers of tests/consumer_tools.py and
# tests/browser.py that the test function calls itself.
TOOL_MODULES = {"tests.consumer_tools": "consumers", "tests.browser": "browser"}


def tool_markers(item: pytest.Item) -> set[str]:
    """The real tools `item` needs, as marker names."""
    fixtures = set(getattr(item, "fixturenames", ()))
    found = fixtures & {"lcov1", "lcov2"}
    if "lcov" in fixtures:
        callspec = getattr(item, "callspec", None)
        found.add(f"lcov{callspec.params['lcov']}" if callspec is not None else "lcov1")
    function = getattr(item, "function", None)
    if function is not None:
        for name in function.__code__.co_names:
            module = getattr(function.__globals__.get(name), "__module__", None)
            if module in TOOL_MODULES:
                found.add(TOOL_MODULES[module])
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(tool_markers(item)):
            item.add_marker(name)


@pytest.fixture(params=[1, 2], ids=["lcov1", "lcov2"])
def lcov(request: pytest.FixtureRequest) -> LcovTools:
    """Each real lcov release in turn."""
    return require(request.param)


@pytest.fixture
def lcov1() -> LcovTools:
    return require(1)


@pytest.fixture
def lcov2() -> LcovTools:
    return require(2)


@pytest.fixture(autouse=True)
def _not_inside_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions the tests start run as a user's would, not as workers of the run testing them.

    pytest-xdist marks its workers' environment; a pytest started from one would
    inherit the mark and take itself for a worker.
    """
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
