"""The realistic sample project, measured for real and read by the real LCOV tools."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_lcov.model import FileRecord, Totals, percent
from tests.helpers import (
    QUIET_PLUGINS,
    coverage_json_files,
    expected_totals,
    lines_and_branches,
    read_records,
    run_pytest,
    summary_line,
)
from tests.lcov_tools import LcovTools, require
from tests.sample_project import SampleRuns, write_sample_project


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    return pytester


def functions(record: FileRecord) -> dict[str, tuple[int, int | None, int]]:
    return {f.name: (f.start, f.end, f.hits) for f in record.functions}


def test_functions_start_at_their_body_and_hits_are_true(
    sample: pytest.Pytester, sample_runs: SampleRuns
) -> None:
    assert sample_runs.run(sample, "--lcov", "--lcov-branch", "--lcov-format=lcov2").ret == 0
    records = read_records(sample.path / "lcov.info")
    # Line numbers read off tests/sample_project.py by hand.
    assert functions(records["app/decorators.py"]) == {
        "logged": (5, 8, 1),  # first statement: the inner function's decorator
        "logged.wrapper": (7, 7, 1),
        "double": (14, 14, 1),  # after the docstring, not the def or decorator
        "never_called": (19, 19, 0),
        "one_liner": (22, None, 1),  # called: its entry arc was recorded
        "one_liner_uncalled": (25, None, 0),  # its line ran at import only
    }
    assert functions(records["app/shapes.py"]) == {
        "Box.__init__": (3, 3, 1),
        "Box.size": (7, 7, 1),
        "Box.size@11": (11, 13, 1),  # the setter shares the getter's name
        "Box.grow": (16, 19, 1),
        "Box.grow.step": (17, 17, 1),
        "Unused.method": (24, 24, 0),
    }
    flow = functions(records["app/flow.py"])
    assert flow == {
        "fetch": (5, 6, 1),
        "evens": (10, 12, 1),
        "describe": (20, 26, 1),
        "guarded": (30, 36, 1),
        "countdown": (40, 44, 1),
        "lookup": (48, 50, 1),
    }  # debug_only is `# pragma: no cover`, the lambda is no function
    assert functions(records["app/never_imported.py"]) == {"orphan": (2, 2, 0)}
    assert records["app/never_imported.py"].lines == {1: 0, 2: 0}
    assert functions(records["app/legacy.py"]) == {"greet": (6, 6, 1)}
    assert functions(records["app/my module, v2.py"]) == {"spaced": (2, 2, 1)}


def test_always_raising_line_gets_an_exception_branch(
    sample: pytest.Pytester, sample_runs: SampleRuns
) -> None:
    sample_runs.run(sample, "--lcov", "--lcov-branch", "--lcov-format=lcov2")
    text = (sample.path / "lcov.info").read_text()
    # flow.py line 48 `if d["missing"]:` raised every time it ran.
    assert "BRDA:48,0,jump to line 49,0\nBRDA:48,0,jump to line 50,0\nBRDA:48,e0,every run raised,1\n" in text


def test_line_only_run_omits_one_line_functions(sample: pytest.Pytester, sample_runs: SampleRuns) -> None:
    sample_runs.run(sample, "--lcov")
    records = read_records(sample.path / "lcov.info")
    names = functions(records["app/decorators.py"])
    assert "one_liner" not in names
    assert "one_liner_uncalled" not in names
    assert names["never_called"] == (19, None, 0)  # compat: no end lines
    assert not any(r.branches for r in records.values())


def test_totals_equal_coverage_py_own_analysis(sample: pytest.Pytester, sample_runs: SampleRuns) -> None:
    result = sample_runs.run(sample, "--lcov", "--lcov-branch")
    records = read_records(sample.path / "lcov.info")
    # coverage.py's own analysis of the same tests, run independently.
    run = sample.run(
        sys.executable,
        "-m",
        "coverage",
        "run",
        "--branch",
        "-m",
        "pytest",
        *QUIET_PLUGINS,
        "-p",
        "no:lcov",
        "-q",
    )
    assert run.ret == 0, run.stdout.str()
    reference = coverage_json_files(sample.path)
    assert sorted(records) == sorted(reference)
    raised_lines = 0
    for path, data in reference.items():
        expected, raised = expected_totals(data)
        raised_lines += raised
        assert lines_and_branches(records[path].totals()) == lines_and_branches(expected), path
    assert raised_lines == 1  # flow.py line 48 only
    assert "BRDA:48,1,0,1" in (sample.path / "lcov.info").read_text()
    assert summary_line(result).startswith("LCOV written to lcov.info: lines ")


# The lcov2 dialect is for lcov 2.x only, by design.
@pytest.mark.parametrize(("major", "dialect"), [(1, "compat"), (2, "compat"), (2, "lcov2")])
@pytest.mark.parametrize("branch", [True, False], ids=["branch", "lines"])
def test_genhtml_accepts_it_without_a_warning(
    sample: pytest.Pytester, sample_runs: SampleRuns, major: int, dialect: str, branch: bool, tmp_path: Path
) -> None:
    lcov = require(major)
    args = ["--lcov", f"--lcov-format={dialect}", "--lcov-checksums"] + (["--lcov-branch"] if branch else [])
    result = sample_runs.run(sample, *args)  # one session for both releases' genhtml
    assert result.ret == 0
    output = lcov.genhtml(sample.path / "lcov.info", tmp_path / "html", cwd=sample.path)
    assert "Overall coverage rate" in output
    assert (tmp_path / "html/index.html").exists()


@pytest.mark.parametrize("branch", [True, False], ids=["branch", "lines"])
def test_lcov_summary_prints_our_percentages(
    sample: pytest.Pytester, sample_runs: SampleRuns, lcov: LcovTools, branch: bool
) -> None:
    result = sample_runs.run(sample, "--lcov", *(["--lcov-branch"] if branch else []))
    totals = Totals()
    for record in read_records(sample.path / "lcov.info").values():
        totals += record.totals()
    theirs = lcov.summary(sample.path / "lcov.info", cwd=sample.path)
    line = summary_line(result)
    assert theirs["lines"] == percent(totals.lines_hit, totals.lines_found)
    assert f"({theirs['lines']}%)" in line.split("functions")[0]
    assert f"functions {totals.functions_hit}/{totals.functions_found} ({theirs['functions']}%)" in line
    if branch:
        assert f"branches {totals.branches_hit}/{totals.branches_found} ({theirs['branches']}%)" in line
    else:
        assert "branches" not in line


def test_checksums_match_what_genhtml_computes(
    sample: pytest.Pytester, lcov2: LcovTools, tmp_path: Path
) -> None:
    run_pytest(sample, "--lcov", "--lcov-checksums")
    lcov2.genhtml(sample.path / "lcov.info", tmp_path / "ok", "--checksum", cwd=sample.path)
    # The check is real: change one measured line and genhtml refuses.
    legacy = sample.path / "app/legacy.py"
    legacy.write_bytes(legacy.read_bytes().replace(b"caf\xe9", b"cafe"))
    result = lcov2.run("genhtml", "--checksum", "-o", tmp_path / "bad", "lcov.info", cwd=sample.path)
    assert "checksum mismatch" in result.stdout + result.stderr
