"""The gates CI enforces and the table in the terminal (the HTML report's tests are in test_html.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_lcov.model import Totals
from tests.helpers import read_records, run_pytest
from tests.sample_project import write_sample_project


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    return pytester


def file_totals(path: Path) -> Totals:
    totals = Totals()
    for record in read_records(path).values():
        totals += record.totals()
    return totals


def test_gates_fail_one_line_each_with_the_files_numbers(sample: pytest.Pytester) -> None:
    # The sample's numbers (see the README example): lines 65/74 = 87.8%,
    # functions 17/21 = 81.0%, branches 14/19 = 73.7%.
    result = run_pytest(
        sample,
        "--lcov",
        "--lcov-branch",
        "--lcov-fail-under-lines=90",
        "--lcov-fail-under-functions=81",
        "--lcov-fail-under-branches=73.5",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    totals = file_totals(sample.path / "lcov.info")
    assert (totals.lines_hit, totals.lines_found) == (65, 74)
    fails = [line for line in result.outlines if line.startswith("pytest-lcov: FAIL")]
    assert fails == [
        "pytest-lcov: FAIL lines coverage 87.8% is under --lcov-fail-under-lines=90",
        # 17/21 = 80.95%: shown as 81.0%, but under 81 all the same
        "pytest-lcov: FAIL functions coverage 81.0% is under --lcov-fail-under-functions=81",
    ]


def test_met_gates_keep_the_run_green(sample: pytest.Pytester) -> None:
    sample.makepyprojecttoml(
        (sample.path / "pyproject.toml").read_text()
        + "\n[tool.pytest.ini_options]\nlcov_fail_under_lines = 87.8\nlcov_fail_under_functions = 80\n"
    )
    result = run_pytest(sample, "--lcov")
    assert result.ret == 0
    assert not [line for line in result.outlines if "FAIL" in line]


def test_a_branch_gate_without_branch_data_fails_clearly(sample: pytest.Pytester) -> None:
    result = run_pytest(sample, "--lcov", "--lcov-fail-under-branches=50")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    expected = "nothing measured, so --lcov-fail-under-branches=50 cannot be met"
    assert f"pytest-lcov: FAIL branches coverage: {expected}" in result.outlines


def test_failing_tests_keep_their_exit_status(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_f="def test_f():\n    assert False\n")
    result = run_pytest(pytester, "--lcov", "--lcov-fail-under-lines=100")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("value", ["-5", "101", "lots", "nan"])
def test_bad_thresholds_stop_at_start_up(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile(test_f="def test_f():\n    pass\n")
    result = run_pytest(pytester, "--lcov", f"--lcov-fail-under-lines={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"lcov_fail_under_lines = '{value}'" in result.stderr.str()


def test_table_lists_each_file_with_its_missing_lines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        mod="def used():\n    return 1\n\n\ndef unused():\n    x = 2\n    return x\n",
        test_mod="import mod\n\n\ndef test_it():\n    assert mod.used() == 1\n",
    )
    plain = run_pytest(pytester, "--lcov")
    assert not any(line.startswith("File ") for line in plain.outlines)  # opt-in only
    result = run_pytest(pytester, "--lcov", "--lcov-table")
    start = result.outlines.index(next(line for line in result.outlines if line.startswith("File ")))
    rows = [re.split(r"\s{2,}", line) for line in result.outlines[start : start + 6]]
    # Percentages with [report] precision's digits (0 by default); Total is coverage.py's.
    assert rows[0] == ["File", "Lines", "Cover", "Funcs", "Cover", "Total", "Missing"]
    assert rows[2] == ["mod.py", "3/5", "60%", "1/2", "50%", "60%", "6-7"]
    assert rows[3] == ["test_mod.py", "3/3", "100%", "1/1", "100%", "100%"]
    assert rows[5] == ["TOTAL", "6/8", "75%", "2/3", "67%", "75%"]
