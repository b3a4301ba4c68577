from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lcov_tools import LcovTools, require
from tests.sample_project import SampleRuns

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


@pytest.fixture(autouse=True, scope="session")
def _not_inside_an_xdist_worker() -> Iterator[None]:
    """Sessions the tests start run as a user's would, not as workers of the run testing them.

    pytest-xdist marks its workers' environment; a pytest started from one would
    inherit the mark and take itself for a worker.  Session-scoped, so module
    fixtures that start sessions see the environment without it too.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
            monkeypatch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> SampleRuns:
    """Sessions over the sample project that several tests read alike, each run once per worker."""
    return SampleRuns(tmp_path_factory.mktemp("sample-runs"))


# The longest tests (pytest --durations over the suite), in that order, run first: under
# pytest-xdist the last tests then are short ones, and no worker waits alone for a long one.
# None of a module with a module-scoped fixture: moved ahead of the rest of their module,
# they would set it up a second time.
LONGEST_FIRST = (
    "test_no_report_on_failed_tests_as_no_cov_on_fail",
    "test_generated_modules_give_consistent_lcov",
    "test_multiprocessing_children_are_measured_and_leave_no_data_files",
    "test_config_file_reaches_every_coverage_as_cov_config_does",
    "test_parsing_beside_the_tests_without_a_cache_gives_the_same_report",
    "test_append_over_two_invocations_as_cov_append",
    "test_per_test_html_with_genhtml_2_says_at_once_how_long_it_may_take",
    "test_fail_under_under_xdist",
    "test_table_worked_out_by_hand",
    "test_the_cache_stays_bounded",
    "test_sys_monitoring_gives_each_test_the_lines_the_c_tracer_gives_it",
    "test_random_programs",
    "test_parallel_parsing_gives_the_same_report",
    "test_sources_are_parsed_beside_the_tests",
    "test_the_html_reads_as_the_tracefile_says_in_a_browser",
    "test_convert_writes_what_the_plugin_writes",
    "test_xdist_counts_add_up_to_the_serial_counts",
    "test_sys_monitoring_measures_wherever_it_can_and_gives_the_c_tracers_files",
    "test_coverages_own_route_writes_the_same_tracefile",
    "test_the_per_test_file_adds_up_to_the_tracefile",
    "test_paths_remap_an_installed_package_as_pytest_cov_does",
    "test_append_refuses_counts_of_another_kind",
    "test_the_change_under_xdist_and_per_test",
)


class _LongestFirst:
    @pytest.hookimpl(trylast=True)  # after pytest's own ordering by fixture scope
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
        last = len(rank)
        items.sort(key=lambda item: rank.get(getattr(item, "originalname", item.name), last))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_LongestFirst(), "pytest-lcov-tests-longest-first")
    compile_package()


def compile_package() -> None:
    """Write the package's bytecode once, for the hundreds of pytest sessions the tests start.

    Under ``PYTHONDONTWRITEBYTECODE`` (set on many CI images) no session
    writes it, so each one would compile every module of the package from
    source again, a tenth of a second of its start-up.  Sessions only read
    it; a module edited later is compiled again by its timestamp, as ever.
    """
    import compileall

    import pytest_lcov

    for folder in pytest_lcov.__path__:
        compileall.compile_dir(folder, quiet=2, workers=1)
