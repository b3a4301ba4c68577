"""coverage.py's internals behind one module: the self-check, and coverage.py's own route's tracefile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_lcov import coverage_internals
from tests.helpers import run_pytest
from tests.sample_project import write_sample_project

# A conftest line that makes the self-check fail, as a coverage.py without the fast route's internals would.
FORCE_COVERAGES_ROUTE = (
    "import pytest_lcov.coverage_internals as internals\n"
    "internals.FAST_IMPORT_PROBLEM = 'forced by the test'\n"
)


def test_the_self_check_passes_on_this_coverage() -> None:
    """Both routes agree: a coverage.py that moves an internal fails this in CI (users get the slow route)."""
    assert coverage_internals.self_check_problems() == ("", "")


@pytest.mark.parametrize(
    "options",
    [
        ["--lcov-branch", "--lcov-per-test"],
        ["--lcov-branch", "--lcov-per-test", "-n", "2"],
        ["--lcov-branch", "--lcov-counts=executions", "--lcov-format=lcov2", "--lcov-checksums"],
    ],
    ids=["per-test", "xdist", "executions"],
)
def test_coverages_own_route_writes_the_same_tracefile(pytester: pytest.Pytester, options: list[str]) -> None:
    write_sample_project(pytester.path)
    fast = run_pytest(pytester, "--lcov", *options)
    assert fast.ret == 0
    assert "fast analysis" not in fast.stdout.str() + fast.stderr.str()
    expected = (pytester.path / "lcov.info").read_bytes()
    conftest = pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + FORCE_COVERAGES_ROUTE)
    slow = run_pytest(pytester, "--lcov", *options)
    assert slow.ret == 0
    said = slow.stdout.str() + slow.stderr.str()
    assert said.count("does not behave as pytest-lcov's fast analysis expects (forced by the test)") == 1
    assert (pytester.path / "lcov.info").read_bytes() == expected


def write_unparseable(root: Path, disable_warnings: str) -> None:
    write_sample_project(root)
    (root / "app" / "broken.py").write_text("def broken(:\n    pass\n")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + disable_warnings)


def test_an_unparseable_file_warns_as_pytest_cov_warns(pytester: pytest.Pytester) -> None:
    write_unparseable(pytester.path, "")
    result = run_pytest(pytester, "--lcov")
    assert result.ret == 0
    assert "Couldn't parse Python file" in result.stdout.str() + result.stderr.str()
    assert "(couldnt-parse)" in result.stdout.str() + result.stderr.str()


def test_disable_warnings_couldnt_parse_is_honoured(pytester: pytest.Pytester) -> None:
    write_unparseable(pytester.path, 'disable_warnings = ["couldnt-parse"]\n')
    result = run_pytest(pytester, "--lcov")
    assert result.ret == 0
    assert "couldnt-parse" not in result.stdout.str() + result.stderr.str()
    assert "Couldn't parse" not in result.stdout.str() + result.stderr.str()


def test_no_tracefile_when_coverages_own_route_disagrees_with_its_api(pytester: pytest.Pytester) -> None:
    write_sample_project(pytester.path)
    conftest = pytester.path / "conftest.py"
    conftest.write_text(
        conftest.read_text() + "import pytest_lcov.coverage_internals as internals\n"
        "internals._own_route_problem = lambda *args: 'forced by the test'\n"
    )
    result = run_pytest(pytester, "--lcov", "--lcov-branch")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    [line] = [line for line in result.outlines if "forced by the test" in line]
    assert line.startswith("pytest-lcov: no tracefile written: coverage.py ")
    assert line.endswith(
        "report code does not give what its API gives (forced by the test): "
        "pytest-lcov cannot analyse with this release"
    )
    assert not (pytester.path / "lcov.info").exists()


def test_a_coverage_that_moved_a_core_internal_stops_lcov_runs_only(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release without ``coverage.results.should_fail_under``: pytest runs; --lcov stops in one line."""
    write_sample_project(pytester.path)
    (pytester.path / "sitecustomize.py").write_text(
        "import coverage.results\ndel coverage.results.should_fail_under  # as if a release moved it\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    plain = run_pytest(pytester, "-q")
    assert plain.ret == pytest.ExitCode.OK, plain.stdout.str() + plain.stderr.str()
    measured = run_pytest(pytester, "--lcov")
    assert measured.ret == pytest.ExitCode.USAGE_ERROR
    [line] = [text for text in measured.stderr.lines if text.strip()]
    assert line.startswith("ERROR: pytest-lcov: coverage.py ")
    assert "lacks what pytest-lcov's report needs (cannot import name 'should_fail_under'" in line
    assert "Traceback" not in measured.stderr.str()
    assert not (pytester.path / "lcov.info").exists()
    converted = subprocess.run(
        [sys.executable, "-m", "pytest_lcov", "convert", "-o", "out.info"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert converted.returncode == 2
    assert "lacks what pytest-lcov's report needs" in converted.stderr
    assert not (pytester.path / "out.info").exists()
