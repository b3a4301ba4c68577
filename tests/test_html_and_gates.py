"""The report a person looks at (genhtml's HTML) and the gates CI enforces."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pytest_lcov.model import Totals
from tests.browser import page_text, require_chromium, screenshot, serve
from tests.helpers import read_records, run_pytest
from tests.lcov_tools import LcovTools
from tests.sample_project import write_sample_project


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    return pytester


def genhtml_option(lcov: LcovTools, monkeypatch: pytest.MonkeyPatch) -> str:
    """--lcov-genhtml naming this lcov release's genhtml (its Perl modules via PERL5LIB)."""
    if "PERL5LIB" in lcov.env:
        monkeypatch.setenv("PERL5LIB", lcov.env["PERL5LIB"])
    return f"--lcov-genhtml=perl {lcov.bin_dir / 'genhtml'}"


def file_totals(path: Path) -> Totals:
    totals = Totals()
    for record in read_records(path).values():
        totals += record.totals()
    return totals


@pytest.mark.parametrize("per_test", [False, True], ids=["one-section", "per-test"])
def test_html_report_from_either_genhtml(
    sample: pytest.Pytester, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch, per_test: bool
) -> None:
    extra = ["--lcov-per-test"] if per_test else []
    result = run_pytest(
        sample, "--lcov", "--lcov-branch", "--lcov-html=htmlcov", genhtml_option(lcov, monkeypatch), *extra
    )
    assert result.ret == 0
    assert "LCOV HTML report in htmlcov/index.html" in result.outlines
    assert not [line for line in result.outlines if line.startswith("pytest-lcov: genhtml:")]
    index = (sample.path / "htmlcov/index.html").read_text()
    assert "sample_app" in index  # the project's name as title
    source_page = (sample.path / "htmlcov/app/flow.py.gcov.html").read_text()
    assert "def guarded(d):" in source_page  # found the source through the rootdir
    if per_test:
        detail = (sample.path / "htmlcov/app/index-detail.html").read_text()
        assert "tests_test_app_py__test_flow" in detail


def test_missing_genhtml_says_how_to_install_and_keeps_the_exit_status(sample: pytest.Pytester) -> None:
    result = run_pytest(sample, "--lcov", "--lcov-html=htmlcov", "--lcov-genhtml=no-such-genhtml")
    assert result.ret == 0
    assert (sample.path / "lcov.info").exists()
    [line] = [line for line in result.outlines if "no HTML report" in line]
    assert line == (
        "pytest-lcov: no HTML report: 'no-such-genhtml' not found: "
        "install lcov (Debian/Ubuntu: apt-get install lcov; macOS: brew install lcov)"
    )


def test_required_html_fails_the_run(sample: pytest.Pytester) -> None:
    sample.makeini(
        "[pytest]\nlcov_html = htmlcov\nlcov_html_required = true\nlcov_genhtml = no-such-genhtml\n"
    )
    result = run_pytest(sample, "--lcov")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (sample.path / "lcov.info").exists()


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
    assert rows[0] == ["File", "Lines", "Cover", "Funcs", "Cover", "Missing"]
    assert rows[2] == ["mod.py", "3/5", "60.0%", "1/2", "50.0%", "6-7"]
    assert rows[3] == ["test_mod.py", "3/3", "100.0%", "1/1", "100.0%"]
    assert rows[5] == ["TOTAL", "6/8", "75.0%", "2/3", "66.7%"]


def test_the_html_reads_as_the_tracefile_says_in_a_browser(
    sample: pytest.Pytester, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chromium = require_chromium()
    run_pytest(sample, "--lcov", "--lcov-branch", "--lcov-html=htmlcov", genhtml_option(lcov, monkeypatch))
    totals = file_totals(sample.path / "lcov.info")
    with serve(sample.path / "htmlcov") as base:
        index = page_text(chromium, tmp_path / "profile", f"{base}/index.html")
        source = page_text(chromium, tmp_path / "profile", f"{base}/app/shapes.py.gcov.html")
        screenshots = Path(os.environ.get("PYTEST_LCOV_SCREENSHOTS", tmp_path))
        screenshots.mkdir(parents=True, exist_ok=True)
        screenshot(
            chromium, tmp_path / "profile", f"{base}/index.html", screenshots / f"index-lcov{lcov.major}.png"
        )
        screenshot(
            chromium,
            tmp_path / "profile",
            f"{base}/app/shapes.py.gcov.html",
            screenshots / f"source-lcov{lcov.major}.png",
        )
    # 1.x heads its table "Hit Total Coverage", 2.x "Coverage Total Hit".
    for metric, hit, found in [
        ("Lines", totals.lines_hit, totals.lines_found),
        ("Functions", totals.functions_hit, totals.functions_found),
        ("Branches", totals.branches_hit, totals.branches_found),
    ]:
        rate = f"{100 * hit / found:.1f} %"
        expected = f"{metric}: {hit} {found} {rate}" if lcov.major == 1 else f"{metric}: {rate} {found} {hit}"
        assert expected in index, metric
    shapes = read_records(sample.path / "lcov.info")["app/shapes.py"].totals()
    rate = f"{100 * shapes.lines_hit / shapes.lines_found:.1f} %"
    expected = (
        f"Lines: {shapes.lines_hit} {shapes.lines_found} {rate}"
        if lcov.major == 1
        else f"Lines: {rate} {shapes.lines_found} {shapes.lines_hit}"
    )
    assert expected in source
    assert "def grow(self):" in source
