from __future__ import annotations

import pytest

from tests.lcov_tools import LcovTools, require


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
