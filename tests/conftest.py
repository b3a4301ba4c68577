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
