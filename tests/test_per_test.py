"""Per-test data: one TN: section per test, checked against coverage.py's own contexts."""

from __future__ import annotations

import html
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from coverage import CoverageData

from pytest_lcov.model import FileRecord, Totals, merge_records
from pytest_lcov.tracefile import ParsedRecord, parse
from tests.helpers import QUIET_PLUGINS, read_records, run_pytest, summary_line
from tests.lcov_tools import LcovTools
from tests.sample_project import write_sample_project


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    return pytester


def sections(path: Path) -> list[ParsedRecord]:
    return parse(path.read_text(encoding="utf-8"), str(path))


def descriptions(path: Path) -> dict[str, str]:
    """The description file's TN name -> TD text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [line[:3] for line in lines] == ["TN:", "TD:"] * (len(lines) // 2)
    return {lines[i][3:]: lines[i + 1][3:] for i in range(0, len(lines), 2)}


def contexts_by_test(pytester: pytest.Pytester) -> dict[tuple[str, str], set[int]]:
    """(node id, file) -> lines, from an independent pytest-cov run with --cov-context=test."""
    pytest.importorskip("pytest_cov")
    result = pytester.run(
        sys.executable,
        "-m",
        "pytest",
        *QUIET_PLUGINS,
        "-p",
        "no:lcov",
        "-p",
        "no:cacheprovider",
        "--cov",
        "--cov-context=test",
    )
    assert result.ret == 0, result.stdout.str()
    data = CoverageData(str(pytester.path / ".coverage"))
    data.read()
    lines: dict[tuple[str, str], set[int]] = defaultdict(set)
    for filename in data.measured_files():
        relative = Path(filename).relative_to(pytester.path).as_posix()
        for line, contexts in data.contexts_by_lineno(filename).items():
            for context in contexts:
                node_id = context.rsplit("|", 1)[0]  # pytest-cov adds |setup, |run, |teardown
                lines[(node_id, relative)].add(line)
    return lines


def test_each_test_section_holds_what_that_test_ran(sample: pytest.Pytester) -> None:
    result = run_pytest(sample, "--lcov", "--lcov-per-test")
    assert result.ret == 0
    assert "LCOV test descriptions in lcov.desc" in result.outlines
    names = descriptions(sample.path / "lcov.desc")
    assert names["sample_app"].startswith("lines run outside any test")
    ours: dict[tuple[str, str], set[int]] = {}
    statements: dict[str, set[int]] = {}
    for parsed in sections(sample.path / "lcov.info"):
        if parsed.test_name == "sample_app":
            statements[parsed.record.path] = set(parsed.record.lines)
            continue
        assert set(parsed.record.lines.values()) == {1}  # only what the test reached
        ours[(names[parsed.test_name], parsed.record.path)] = set(parsed.record.lines)
    theirs = {
        key: lines & statements[key[1]]
        for key, lines in contexts_by_test(sample).items()
        if key[0] and key[1] in statements
    }
    theirs = {key: lines for key, lines in theirs.items() if lines}
    assert ours == theirs
    # Spot check by hand: test_shapes ran the Box methods, not Unused.method (line 24).
    assert ours[("tests/test_app.py::test_shapes", "app/shapes.py")] == {3, 7, 11, 13, 16, 17, 18, 19}


def test_merged_sections_total_the_single_section_run(sample: pytest.Pytester, lcov: LcovTools) -> None:
    single = run_pytest(sample, "--lcov=single.info", "--lcov-branch")
    per_test = run_pytest(sample, "--lcov=per_test.info", "--lcov-branch", "--lcov-per-test")
    by_file: dict[str, list[FileRecord]] = defaultdict(list)
    for parsed in sections(sample.path / "per_test.info"):
        by_file[parsed.record.path].append(parsed.record)
    merged = Totals()
    for records in by_file.values():
        merged += merge_records(records).totals()
    single_totals = Totals()
    for record in read_records(sample.path / "single.info").values():
        single_totals += record.totals()
    assert merged == single_totals
    assert summary_line(single).split(": ", 1)[1] == summary_line(per_test).split(": ", 1)[1]
    assert lcov.summary(sample.path / "single.info", sample.path) == lcov.summary(
        sample.path / "per_test.info", sample.path
    )


def detail_rows(page: Path) -> dict[str, tuple[int, int]]:
    """genhtml's detail index: per test name, (lines found, lines hit) of the file shown."""
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))))
    rows = {
        m[1]: (int(m[3]), int(m[2])) for m in re.finditer(r"(\w+) [\d.]+ % (\d+) / (\d+)", text)
    }  # 1.x: hit / found
    rows.update(
        {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"(\w+) [\d.]+ % (\d+) (\d+)", text)}
    )  # 2.x
    return rows


def test_genhtml_shows_each_tests_lines(sample: pytest.Pytester, lcov: LcovTools, tmp_path: Path) -> None:
    run_pytest(sample, "--lcov", "--lcov-branch", "--lcov-per-test")
    out = tmp_path / "html"
    lcov.genhtml(
        sample.path / "lcov.info", out, "--show-details", "--description-file", "lcov.desc", cwd=sample.path
    )
    rows = detail_rows(out / "app/index-detail.html")
    expected = {
        parsed.test_name: (len(parsed.record.lines), sum(1 for c in parsed.record.lines.values() if c))
        for parsed in sections(sample.path / "lcov.info")
        if parsed.record.path == "app/shapes.py" and parsed.test_name != "sample_app"
    }
    assert expected == {"tests_test_app_py__test_shapes": (8, 8)}
    assert rows["tests_test_app_py__test_shapes"] == (8, 8)
    if lcov.major == 2:
        assert "tests/test_app.py::test_shapes" in (out / "descriptions.html").read_text()


def test_node_ids_that_read_alike_stay_two_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        mod="def f(x):\n    if x:\n        return 1\n    return 0\n",
        test_p="""
            import pytest
            import mod

            @pytest.mark.parametrize("x", [1, 0], ids=["1-2", "1_2"])
            def test_a(x):
                assert mod.f(x) in (0, 1)
        """,
    )
    run_pytest(pytester, "--lcov", "--lcov-per-test", "--lcov-source=mod")
    names = descriptions(pytester.path / "lcov.desc")
    assert names.pop(pytester.path.name).startswith("lines run outside any test")
    assert names == {
        "test_p_py__test_a_1_2_": "test_p.py::test_a[1-2]",
        "test_p_py__test_a_1_2__2": "test_p.py::test_a[1_2]",
    }
    lines = {p.test_name: set(p.record.lines) for p in sections(pytester.path / "lcov.info")}
    assert lines["test_p_py__test_a_1_2_"] == {2, 3}
    assert lines["test_p_py__test_a_1_2__2"] == {2, 4}


COUNTED = {
    "mod": "def f(x):\n    if x:\n        return 1\n    return 0\n",
    "test_c": """
        import mod

        def test_one():
            assert mod.f(1) == 1

        def test_two():
            assert mod.f(1) == 1

        def test_three():
            assert mod.f(0) == 0
    """,
}


@pytest.mark.parametrize("config", ["--lcov-counts=tests", "--lcov-per-test"])
def test_counts_are_the_number_of_tests(pytester: pytest.Pytester, config: str) -> None:
    pytester.makepyfile(**COUNTED)
    run_pytest(pytester, "--lcov", "--lcov-branch", "--lcov-source=mod", config)
    [record] = [merge_records(r.record for r in sections(pytester.path / "lcov.info"))]
    # By hand: the def line ran once, at import, outside any test; all three tests
    # ran line 2; two took `return 1`, one `return 0`.
    assert record.lines == {1: 1, 2: 3, 3: 2, 4: 1}
    assert [(f.name, f.hits) for f in record.functions] == [("f", 3)]
    assert [(b.line, b.branch, b.taken) for b in record.branches] == [(2, 0, 2), (2, 1, 1)]
    if config == "--lcov-counts=tests":
        assert (pytester.path / "lcov.info").read_text().count("TN:") == 1
        assert not (pytester.path / "lcov.desc").exists()


def test_a_configured_core_that_cannot_record_tests_is_replaced_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(**COUNTED)
    pytester.makepyprojecttoml('[tool.coverage.run]\ncore = "sysmon"\n')
    result = run_pytest(pytester, "--lcov", "--lcov-per-test", "--lcov-source=mod")
    assert result.ret == 0
    notices = [line for line in result.outlines if line.startswith("pytest-lcov:") and "C tracer" in line]
    assert notices == [
        "pytest-lcov: per-test data needs coverage.py's C tracer: using core = ctrace, not sysmon"
    ]
    assert "Can't use core" not in result.stderr.str()
    assert len({p.test_name for p in sections(pytester.path / "lcov.info")}) == 4


def test_per_test_and_run_counts_together_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**COUNTED)
    result = run_pytest(pytester, "--lcov", "--lcov-per-test", "--lcov-counts=run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "lcov_counts must be 'tests'" in result.stderr.str()
