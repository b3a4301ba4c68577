"""coverage.py's sys.monitoring core where it gives the same data faster."""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path

import coverage
import pytest
from hypothesis import given

from pytest_lcov.measure import Measurement
from tests.helpers import run_pytest
from tests.sample_project import write_sample_project
from tests.test_counting import generated_programs, program, program_file

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


def test_per_test_branch_runs_use_the_c_tracer(sample: pytest.Pytester) -> None:
    result = run_pytest(sample, "--lcov", "-s", "--lcov-per-test", "--lcov-branch")
    assert core_line(result) == "core: ctrace settrace: True"


def test_per_test_line_runs_use_sys_monitoring_where_it_is_faster_and_give_the_same_files(
    sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = run_pytest(sample, "--lcov=chosen.info", "-s", "--lcov-per-test", "-W", "error")
    monkeypatch.setenv("COVERAGE_CORE", "ctrace")
    traced = run_pytest(sample, "--lcov=ctrace.info", "-s", "--lcov-per-test")
    assert chosen.ret == traced.ret == 0
    assert core_line(traced) == "core: ctrace settrace: True"
    if SYSMON_IS_FASTER:
        assert core_line(chosen) == "core: sysmon settrace: False"
    else:
        assert core_line(chosen) == "core: ctrace settrace: True"
    # coverage.py's "context data may be incomplete" would have failed the run under -W error.
    for suffix in (".info", ".tests.info"):
        assert (sample.path / f"chosen{suffix}").read_text() == (sample.path / f"ctrace{suffix}").read_text()


def lines_by_context(path: Path, core: str) -> dict[str, dict[int, set[str]]]:
    """Which context ran each line of `path`, measured with `core` as the plugin measures tests.

    The module runs outside tests (as at import), then four tests call its
    functions, two of them with the same argument: each must get its lines.
    """
    cov = coverage.Coverage(data_file=None, config_file=False)
    cov.set_option("run:core", core)
    measurement = Measurement(cov)
    measurement.start()
    assert (measurement.rearm_events is not None) == (core == "sysmon")
    try:
        scope: dict[str, object] = {"__name__": "__measured__"}
        with contextlib.suppress(Exception):
            exec(compile(path.read_text(), str(path), "exec", dont_inherit=True), scope)
        for number, argument in enumerate((0, 0, 1, 3)):
            measurement.switch_test(f"t{number}")
            with contextlib.suppress(Exception):
                scope["f"](argument)  # type: ignore[operator]
            with contextlib.suppress(Exception):
                list(scope["g"](argument))  # type: ignore[operator]
            measurement.switch_test(None)
    finally:
        data = measurement.end().get_data()
    return {str(path): {line: set(tests) for line, tests in data.contexts_by_lineno(str(path)).items()}}


@pytest.mark.skipif(not SYSMON_IS_FASTER, reason="per-test lines use sys.monitoring on CPython 3.12 and 3.13")
@generated_programs(40)
@given(program())
def test_sys_monitoring_gives_each_test_the_lines_the_c_tracer_gives_it(source: str) -> None:
    with program_file(source) as path:
        assert lines_by_context(path, "sysmon") == lines_by_context(path, "ctrace")


@pytest.mark.parametrize("per_test", [False, True], ids=["lines", "per-test lines"])
def test_a_configured_dynamic_context_keeps_the_c_tracer(sample: pytest.Pytester, per_test: bool) -> None:
    """coverage.py's sys.monitoring core cannot record dynamic contexts: it would fall back, warning."""
    config = (sample.path / "pyproject.toml").read_text() + 'dynamic_context = "test_function"\n'
    sample.makepyprojecttoml(config)
    result = run_pytest(sample, "--lcov", "-s", *(["--lcov-per-test"] if per_test else []))
    assert result.ret == 0
    assert core_line(result) == f"core: {'ctrace' if per_test else 'None'} settrace: True"
    assert "no-sysmon" not in result.stdout.str() + result.stderr.str()


def test_a_configured_core_is_left_alone(sample: pytest.Pytester) -> None:
    sample.makepyprojecttoml((sample.path / "pyproject.toml").read_text() + 'core = "pytrace"\n')
    result = run_pytest(sample, "--lcov", "-s")
    assert core_line(result) == "core: pytrace settrace: True"
