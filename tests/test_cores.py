"""coverage.py's sys.monitoring core where it gives the same data faster."""

from __future__ import annotations

import re
import sys

import pytest

from tests.helpers import run_pytest
from tests.sample_project import write_sample_project

REPORTS_CORE = """
import sys

import coverage


def pytest_sessionfinish(session):
    running = coverage.Coverage.current()
    print("core:", running.get_option("run:core"), "settrace:", sys.gettrace() is not None)
"""

SYSMON_IS_FASTER = (3, 12) <= sys.version_info[:2] < (3, 14)


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    pytester.makeconftest((pytester.path / "conftest.py").read_text() + REPORTS_CORE)
    return pytester


def core_line(result: pytest.RunResult) -> str:
    [match] = [m for line in result.outlines if (m := re.search(r"core: \S+ settrace: \S+", line))]
    return match[0]


def test_line_only_runs_use_sys_monitoring_where_it_is_not_the_default(
    sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = run_pytest(sample, "--lcov=chosen.info", "-s")
    monkeypatch.setenv("COVERAGE_CORE", "ctrace")
    traced = run_pytest(sample, "--lcov=ctrace.info", "-s")
    assert core_line(traced) == "core: ctrace settrace: True"
    if SYSMON_IS_FASTER:
        assert core_line(chosen) == "core: sysmon settrace: False"
    else:
        # 3.11 has no sys.monitoring; from 3.14 coverage.py picks it itself.
        assert core_line(chosen) == "core: None settrace: " + str(sys.version_info < (3, 14))
    # The same data, so the same file.
    assert (sample.path / "chosen.info").read_text() == (sample.path / "ctrace.info").read_text()


def test_branch_runs_keep_coverage_py_default_core(sample: pytest.Pytester) -> None:
    # sys.monitoring measures branches only from 3.14, where coverage.py picks it itself.
    result = run_pytest(sample, "--lcov", "-s", "--lcov-branch")
    assert core_line(result) == f"core: None settrace: {sys.version_info < (3, 14)}"


def test_per_test_runs_use_the_c_tracer(sample: pytest.Pytester) -> None:
    result = run_pytest(sample, "--lcov", "-s", "--lcov-per-test")
    assert core_line(result) == "core: ctrace settrace: True"


def test_a_configured_core_is_left_alone(sample: pytest.Pytester) -> None:
    sample.makepyprojecttoml((sample.path / "pyproject.toml").read_text() + 'core = "pytrace"\n')
    result = run_pytest(sample, "--lcov", "-s")
    assert core_line(result) == "core: pytrace settrace: True"
