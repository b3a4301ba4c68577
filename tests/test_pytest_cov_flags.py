"""pytest-cov's --cov-config, --no-cov-on-fail and --cov-append, and pytest-lcov's flags for them.

Each comparison runs pytest-cov and pytest-lcov on the same project in real pytest
sessions measured by the real coverage.py (the helpers of test_pytest_cov_parity),
and compares what a CI job sees: the exit status, the files written or not, the
``SF:`` paths, the line and branch totals and the fail-under numbers.  Then what a
file left on disk or a mistyped path can do to each flag.
"""

from __future__ import annotations

import pytest

from tests.helpers import read_records, run_pytest
from tests.test_pytest_cov_parity import (
    COVERAGE_CONFIG,
    PYTEST_COV_7,
    Lcov,
    gate_numbers,
    pytest_cov,
    pytest_lcov,
    write_project,
)

XDIST = pytest.param(["-n", "2"], id="xdist")
SERIAL = pytest.param([], id="serial")


def needs_xdist(workers: list[str]) -> None:
    if workers:
        pytest.importorskip("xdist")


# --cov-config / --lcov-config


# Read only from the file given: pyproject.toml measures another package without branches.
ALT_CONFIG = """\
[run]
source = mylib
branch = true
patch = subprocess

[paths]
source =
    src/
    */site-packages/

[report]
fail_under = 95
"""
CHILD_TEST = """\
import subprocess
import sys


def test_child():
    # Only a child measured through the configuration's `patch = subprocess` runs unused().
    subprocess.run([sys.executable, "-c", "from mylib.core import unused; unused(1)"], check=True)
"""


@pytest.mark.parametrize("workers", [SERIAL, XDIST])
@PYTEST_COV_7
def test_config_file_reaches_every_coverage_as_cov_config_does(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    """The measuring Coverage (in each worker too), its children, [paths] and the fail-under total."""
    needs_xdist(workers)
    site = pytester.path / "venv" / "lib" / "python3.11" / "site-packages"
    write_project(pytester.path, '[tool.coverage.run]\nsource = ["elsewhere"]\n', installed=site)
    (pytester.path / "tests" / "test_child.py").write_text(CHILD_TEST)
    (pytester.path / "conf").mkdir()
    (pytester.path / "conf" / "alt.cfg").write_text(ALT_CONFIG)
    monkeypatch.setenv("PYTHONPATH", str(site))  # imports the installed copy: [paths] maps it to src/
    cov = pytest_cov(pytester, "--cov-config=conf/alt.cfg", *workers)
    lcov = pytest_lcov(pytester, "--lcov-config=conf/alt.cfg", *workers)
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED, lcov.stdout.str()
    assert gate_numbers(lcov) == gate_numbers(cov)
    written = Lcov.read(pytester.path / "lcov.info")
    assert written == Lcov.read(pytester.path / "cov.info")
    assert written.files == {"src/mylib/__init__.py", "src/mylib/core.py"}
    assert written.branches[1] > 0
    core = read_records(pytester.path / "lcov.info")["src/mylib/core.py"]
    assert core.lines[18] == 1  # `return 1` of unused(): run by the child only


@pytest.mark.parametrize("where", ["missing.toml", "conf"], ids=["missing", "folder"])
def test_a_config_file_that_cannot_be_read_stops_at_start_up(pytester: pytest.Pytester, where: str) -> None:
    write_project(pytester.path)
    (pytester.path / "conf").mkdir()
    result = pytest_lcov(pytester, f"--lcov-config={where}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    problem = "does not exist" if where == "missing.toml" else "is a folder, not a file"
    assert result.errlines == [
        f"ERROR: pytest-lcov: lcov_config: coverage.py's configuration file {where} {problem}",
        "",
    ]
    assert not (pytester.path / "lcov.info").exists()
    # coverage.py's own words when the file is there but not its configuration
    (pytester.path / "bad.cfg").write_text("[run]\nbranch = perhaps\n")
    bad = pytest_lcov(pytester, "--lcov-config=bad.cfg")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "pytest-lcov: coverage.py cannot measure this run: " in bad.stderr.str()


def test_config_key_is_relative_to_the_rootdir(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As every path in the configuration; the command line's is relative to the current folder."""
    write_project(pytester.path, '[tool.coverage.run]\nsource = ["elsewhere"]\n')
    (pytester.path / "pytest.ini").write_text("[pytest]\nlcov_config = conf/alt.cfg\n")
    (pytester.path / "conf").mkdir()
    (pytester.path / "conf" / "alt.cfg").write_text("[run]\nsource = mylib\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    (pytester.path / "tests" / "sub").mkdir()
    monkeypatch.chdir(pytester.path / "tests" / "sub")
    result = run_pytest(
        pytester, "--lcov", "--rootdir", str(pytester.path), "-c", str(pytester.path / "pytest.ini"), ".."
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert Lcov.read(pytester.path / "lcov.info").files == {"src/mylib/__init__.py", "src/mylib/core.py"}


# --no-cov-on-fail / --no-lcov-on-fail

FAILING_TEST = "def test_fails():\n    assert False\n"
EARLIER = "TN:earlier\nSF:src/mylib/core.py\nDA:1,1\nLF:1\nLH:1\nend_of_record\n"


@pytest.mark.parametrize("workers", [SERIAL, XDIST])
@PYTEST_COV_7
def test_no_report_on_failed_tests_as_no_cov_on_fail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    """No file written, no gate checked, the tests' exit status; an earlier file stays and says so."""
    needs_xdist(workers)
    write_project(pytester.path, COVERAGE_CONFIG + "[tool.coverage.report]\nfail_under = 95\n")
    (pytester.path / "tests" / "test_fails.py").write_text(FAILING_TEST)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    (pytester.path / "html").mkdir()
    cov = pytest_cov(pytester, "--no-cov-on-fail", *workers)
    lcov = pytest_lcov(
        pytester, "--no-lcov-on-fail", "--lcov-html=html", "--lcov-fail-under-lines=99", *workers
    )
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED
    assert not (pytester.path / "cov.info").exists()
    assert not (pytester.path / "lcov.info").exists()
    assert not list((pytester.path / "html").iterdir())
    assert "Required test coverage" not in cov.stdout.str() + lcov.stdout.str()
    assert "pytest-lcov: no tracefile written: tests failed (--no-lcov-on-fail)" in lcov.outlines
    assert not any("FAIL" in line for line in lcov.outlines if line.startswith("pytest-lcov"))
    # A tracefile an earlier run left stays, as pytest-cov leaves its own, and is said to be earlier.
    (pytester.path / "cov.info").write_text(EARLIER)
    (pytester.path / "lcov.info").write_text(EARLIER)
    cov = pytest_cov(pytester, "--no-cov-on-fail", *workers)
    lcov = pytest_lcov(pytester, "--no-lcov-on-fail", *workers)
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED
    assert (pytester.path / "cov.info").read_text() == EARLIER
    assert (pytester.path / "lcov.info").read_text() == EARLIER
    assert "pytest-lcov: lcov.info is from an earlier run (" in lcov.stdout.str()
    # Tests that pass: the report and its gates, as without the flag.
    (pytester.path / "tests" / "test_fails.py").unlink()
    cov = pytest_cov(pytester, "--no-cov-on-fail", *workers)
    lcov = pytest_lcov(pytester, "--no-lcov-on-fail", *workers)
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED  # fail_under = 95 is not reached
    assert gate_numbers(lcov) == gate_numbers(cov)
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")


def test_no_report_on_fail_from_the_configuration(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(pytester.path, COVERAGE_CONFIG)
    (pytester.path / "pytest.ini").write_text("[pytest]\nlcov_no_on_fail = true\n")
    (pytester.path / "tests" / "test_fails.py").write_text(FAILING_TEST)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    result = pytest_lcov(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert not (pytester.path / "lcov.info").exists()
