"""Per-test data: the tracefile holds each file once, the per-test file one TN: section per test.

Checked against coverage.py's own contexts (an independent pytest-cov run),
and against what `pytest-lcov merge`, `lcov -a` and `lcov --summary` of lcov
1.16 and 2.3.1 read from the per-test file.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from coverage import CoverageData

from pytest_lcov.coverage_internals import context_arcs
from pytest_lcov.model import FileRecord, Totals, merge_records
from pytest_lcov.tracefile import ParsedRecord, parse
from tests.helpers import HAS_SYSMON, QUIET_PLUGINS, read_records, run_pytest, summary_line
from tests.lcov_tools import LcovTools
from tests.sample_project import SampleRuns, write_sample_project


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


def totals_of(records: dict[str, FileRecord]) -> Totals:
    total = Totals()
    for record in records.values():
        total += record.totals()
    return total


def added_per_file(path: Path) -> dict[str, FileRecord]:
    """A tracefile's sections added up per source file, as ``lcov -a`` reads them."""
    by_file: dict[str, list[FileRecord]] = defaultdict(list)
    for parsed in sections(path):
        by_file[parsed.record.path].append(parsed.record)
    return {path: merge_records(records) for path, records in by_file.items()}


def assert_one_section_per_file(path: Path) -> None:
    """What readers that do not add up repeated sections need: one TN: line, each SF once."""
    text = path.read_text(encoding="utf-8")
    assert text.count("TN:") == 1
    files = re.findall(r"^SF:(.*)$", text, re.M)
    assert len(files) == len(set(files)) > 0


def contexts_by_test(sample_runs: SampleRuns) -> dict[tuple[str, str], set[int]]:
    """(node id, file) -> lines, from an independent pytest-cov run with --cov-context=test.

    The node id "" stands for what ran outside any test.  One run of the sample project
    for the tests that compare with it.
    """
    pytest.importorskip("pytest_cov")
    folder, result = sample_runs.folder(
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
    data = CoverageData(str(folder / ".coverage"))
    data.read()
    lines: dict[tuple[str, str], set[int]] = defaultdict(set)
    for filename in data.measured_files():
        relative = Path(filename).relative_to(folder).as_posix()
        for line, contexts in data.contexts_by_lineno(filename).items():
            for context in contexts:
                node_id = context.rsplit("|", 1)[0]  # pytest-cov adds |setup, |run, |teardown
                lines[(node_id, relative)].add(line)
    return lines


def test_each_test_section_holds_what_that_test_ran(sample: pytest.Pytester, sample_runs: SampleRuns) -> None:
    result = run_pytest(sample, "--lcov", "--lcov-per-test")
    assert result.ret == 0
    assert "LCOV per-test sections in lcov.tests.info" in result.outlines
    assert "LCOV test descriptions in lcov.desc" in result.outlines
    names = descriptions(sample.path / "lcov.desc")
    assert names["sample_app"].startswith("lines run outside any test")
    ours: dict[tuple[str, str], set[int]] = {}
    statements: dict[str, set[int]] = {}
    for parsed in sections(sample.path / "lcov.tests.info"):
        if parsed.test_name == "sample_app":
            statements[parsed.record.path] = set(parsed.record.lines)
            continue
        assert set(parsed.record.lines.values()) == {1}  # only what the test reached
        ours[(names[parsed.test_name], parsed.record.path)] = set(parsed.record.lines)
    theirs = {
        key: lines & statements[key[1]]
        for key, lines in contexts_by_test(sample_runs).items()
        if key[0] and key[1] in statements
    }
    theirs = {key: lines for key, lines in theirs.items() if lines}
    assert ours == theirs
    # Spot check by hand: test_shapes ran the Box methods, not Unused.method (line 24).
    assert ours[("tests/test_app.py::test_shapes", "app/shapes.py")] == {3, 7, 11, 13, 16, 17, 18, 19}


def test_the_tracefile_holds_each_file_once_counting_the_tests_that_reached_each_line(
    sample: pytest.Pytester, sample_runs: SampleRuns
) -> None:
    assert sample_runs.run(sample, "--lcov", "--lcov-branch", "--lcov-per-test").ret == 0
    tracefile = sample.path / "lcov.info"
    assert_one_section_per_file(tracefile)
    statements = {path: set(record.lines) for path, record in read_records(tracefile).items()}
    expected: dict[str, dict[int, int]] = {
        path: dict.fromkeys(lines, 0) for path, lines in statements.items()
    }
    for (_, path), lines in contexts_by_test(sample_runs).items():  # each test once, and the run outside them
        for line in lines & statements.get(path, set()):
            expected[path][line] += 1
    assert {path: record.lines for path, record in read_records(tracefile).items()} == expected
    # By hand: Box.__init__'s body (line 3) ran in test_shapes only, the class line (1) at
    # import only, Unused.method's body (24) never.
    assert {line: expected["app/shapes.py"][line] for line in (1, 3, 24)} == {1: 1, 3: 1, 24: 0}


def run_merge(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m pytest_lcov merge ...`, as a CI step runs it."""
    command = [sys.executable, "-m", "pytest_lcov", "merge", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def lcov_add(lcov: LcovTools, tracefile: Path, output: Path) -> None:
    """lcov's own merge of one file, keeping branches (1.16 drops them without the rc option)."""
    branch = ["--rc", "lcov_branch_coverage=1"] if lcov.major == 1 else ["--branch-coverage"]
    result = lcov.run("lcov", *branch, "-a", tracefile, "-o", output, cwd=tracefile.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_per_test_file_adds_up_to_the_tracefile(
    sample: pytest.Pytester, sample_runs: SampleRuns, lcov: LcovTools
) -> None:
    """pytest-lcov merge, lcov -a and lcov --summary read the per-test file as the tracefile says."""
    plain = sample_runs.run(sample, "--lcov=plain.info", "--lcov-branch")  # sessions shared by both releases
    per_test = sample_runs.run(sample, "--lcov", "--lcov-branch", "--lcov-per-test")
    tracefile, tests_file = sample.path / "lcov.info", sample.path / "lcov.tests.info"
    ours = read_records(tracefile)
    with_lines = {path: r.lines for path, r in ours.items() if r.lines}  # lcov -a drops the empty __init__.py
    # The tracefile's totals are the plain run's, as the summary lines say too.
    assert totals_of(ours) == totals_of(read_records(sample.path / "plain.info"))
    assert summary_line(plain).split(": ", 1)[1] == summary_line(per_test).split(": ", 1)[1]
    # Our merge: same per-file line counts, same totals, its sections kept apart.
    merged = run_merge(sample.path, tests_file, "-o", "merged.info")
    assert merged.returncode == 0, merged.stderr
    merged_lines = {path: r.lines for path, r in added_per_file(sample.path / "merged.info").items()}
    assert merged_lines == with_lines
    assert len({p.test_name for p in sections(sample.path / "merged.info")}) == 5  # the run and 4 tests
    assert merged.stdout.rstrip().endswith(summary_line(per_test).split(": ", 1)[1])  # "... into X: lines"
    # lcov's own merge and summary.
    lcov_add(lcov, tests_file, sample.path / "lcov-added.info")
    added = added_per_file(sample.path / "lcov-added.info")
    assert {path: r.lines for path, r in added.items()} == with_lines
    assert lcov.summary(tests_file, sample.path) == lcov.summary(tracefile, sample.path)
    assert lcov.summary(tracefile, sample.path) == lcov.summary(sample.path / "plain.info", sample.path)


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


def test_genhtml_shows_each_tests_lines(
    sample: pytest.Pytester, sample_runs: SampleRuns, lcov: LcovTools, tmp_path: Path
) -> None:
    sample_runs.run(sample, "--lcov", "--lcov-branch", "--lcov-per-test")
    out = tmp_path / "html"
    lcov.genhtml(
        sample.path / "lcov.tests.info",
        out,
        "--show-details",
        "--description-file",
        "lcov.desc",
        cwd=sample.path,
    )
    rows = detail_rows(out / "app/index-detail.html")
    expected = {
        parsed.test_name: (len(parsed.record.lines), sum(1 for c in parsed.record.lines.values() if c))
        for parsed in sections(sample.path / "lcov.tests.info")
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
    lines = {p.test_name: set(p.record.lines) for p in sections(pytester.path / "lcov.tests.info")}
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
    assert_one_section_per_file(pytester.path / "lcov.info")
    [record] = read_records(pytester.path / "lcov.info").values()
    # By hand: the def line ran once, at import, outside any test; all three tests
    # ran line 2; two took `return 1`, one `return 0`.
    assert record.lines == {1: 1, 2: 3, 3: 2, 4: 1}
    assert [(f.name, f.hits) for f in record.functions] == [("f", 3)]
    assert [(b.line, b.branch, b.taken) for b in record.branches] == [(2, 0, 2), (2, 1, 1)]
    per_test = config == "--lcov-per-test"
    assert (pytester.path / "lcov.tests.info").exists() == per_test
    assert (pytester.path / "lcov.desc").exists() == per_test


def test_per_test_writes_the_tracefile_that_counts_tests_writes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**COUNTED)
    run_pytest(pytester, "--lcov=counts.info", "--lcov-branch", "--lcov-source=mod", "--lcov-counts=tests")
    run_pytest(pytester, "--lcov=per_test.info", "--lcov-branch", "--lcov-source=mod", "--lcov-per-test")
    assert (pytester.path / "per_test.info").read_text() == (pytester.path / "counts.info").read_text()
    assert {p.test_name for p in sections(pytester.path / "per_test.tests.info")} == {
        pytester.path.name,
        "test_c_py__test_one",
        "test_c_py__test_two",
        "test_c_py__test_three",
    }


@pytest.mark.parametrize(
    ("output", "tests_file", "desc"),
    [
        ("out/cov.lcov", "out/cov.tests.info", "out/cov.desc"),
        ("report", "report.tests.info", "report.desc"),
        ("cov.tests.info", "cov.tests.tests.info", "cov.tests.desc"),
    ],
)
def test_the_per_test_file_is_named_after_the_tracefile(
    pytester: pytest.Pytester, output: str, tests_file: str, desc: str
) -> None:
    pytester.makepyfile(**COUNTED)
    result = run_pytest(pytester, f"--lcov={output}", "--lcov-source=mod", "--lcov-per-test")
    assert result.ret == 0
    assert f"LCOV per-test sections in {tests_file}" in result.outlines
    assert f"LCOV test descriptions in {desc}" in result.outlines
    assert_one_section_per_file(pytester.path / output)
    assert len(sections(pytester.path / tests_file)) == 4  # the run's section and three tests'
    assert "TD:test_c.py::test_one" in (pytester.path / desc).read_text()


def test_a_per_test_file_that_is_not_ours_is_refused_before_the_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**COUNTED)
    notes = pytester.path / "lcov.tests.info"
    notes.write_text("my notes about the tests\n")
    result = run_pytest(pytester, "--lcov", "--lcov-source=mod", "--lcov-per-test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "ERROR: pytest-lcov: refusing to write lcov.tests.info: it exists and is not a tracefile: "
        "pytest-lcov replaces only its own reports"
    ) in result.errlines
    assert "passed" not in result.stdout.str()
    assert notes.read_text() == "my notes about the tests\n"
    assert not (pytester.path / "lcov.info").exists()


def test_an_earlier_per_test_file_is_replaced(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**COUNTED)
    run_pytest(pytester, "--lcov", "--lcov-source=mod", "--lcov-per-test")
    pytester.makepyfile(
        test_c="import mod\n\ndef test_only():\n    assert mod.f(0) == 0\n"
    )  # one test now: the earlier sections must go
    assert run_pytest(pytester, "--lcov", "--lcov-source=mod", "--lcov-per-test").ret == 0
    names = {p.test_name for p in sections(pytester.path / "lcov.tests.info")}
    assert names == {pytester.path.name, "test_c_py__test_only"}
    assert [p.name for p in pytester.path.iterdir() if p.name.startswith(".lcov")] == []


def test_a_configured_core_that_cannot_record_tests_is_replaced_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    # sys.monitoring records no per-test branches (tests/test_cores.py says why), and nothing on 3.11.
    pytester.makepyfile(**COUNTED)
    pytester.makepyprojecttoml('[tool.coverage.run]\ncore = "sysmon"\nbranch = true\n')
    result = run_pytest(pytester, "--lcov", "--lcov-per-test", "--lcov-source=mod")
    assert result.ret == 0
    notices = [line for line in result.outlines if line.startswith("pytest-lcov:") and "C tracer" in line]
    assert notices == [
        "pytest-lcov: per-test data with branches needs coverage.py's C tracer: "
        "using core = ctrace, not sysmon"
    ]
    assert "Can't use core" not in result.stderr.str()
    assert len({p.test_name for p in sections(pytester.path / "lcov.tests.info")}) == 4


@pytest.mark.skipif(not HAS_SYSMON, reason="sys.monitoring is CPython 3.12+")
def test_a_configured_sys_monitoring_core_records_tests_lines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**COUNTED)
    pytester.makepyprojecttoml('[tool.coverage.run]\ncore = "sysmon"\n')
    result = run_pytest(pytester, "--lcov", "--lcov-per-test", "--lcov-source=mod", "-W", "error")
    assert result.ret == 0
    assert [line for line in result.outlines if "C tracer" in line] == []
    assert "Can't use core" not in result.stderr.str()
    assert len({p.test_name for p in sections(pytester.path / "lcov.tests.info")}) == 4


def test_per_test_and_run_counts_together_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**COUNTED)
    result = run_pytest(pytester, "--lcov", "--lcov-per-test", "--lcov-counts=run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "lcov_counts must be 'tests'" in result.stderr.str()


def test_one_query_reads_each_tests_arcs_as_coverage_py_does(sample: pytest.Pytester) -> None:
    """All tests' arcs of a file read at once, as coverage.py's public API reads them one test at a time."""
    pytest.importorskip("pytest_cov")
    result = sample.run(
        sys.executable, "-m", "pytest", *QUIET_PLUGINS, "-p", "no:lcov", "-p", "no:cacheprovider",
        "--cov", "--cov-branch", "--cov-context=test",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    data = CoverageData(str(sample.path / ".coverage"))
    data.read()
    compared = 0
    for filename in data.measured_files():
        fast = context_arcs(data, filename)
        assert fast is not None, "the data is coverage.py's SQLite layout: the fast path must read it"
        public = {}
        for context in data.measured_contexts():
            data.set_query_context(context)
            arcs = set(data.arcs(filename) or [])
            if arcs:
                public[context] = arcs
        data.set_query_contexts(None)
        assert {
            context: set(zip(flat[::2], flat[1::2], strict=True)) for context, flat in fast.items()
        } == public
        compared += len(public)
    assert compared >= 10  # (file, context) pairs with arcs in the sample project
    assert context_arcs(data, str(sample.path / "no_such_file.py")) == {}


def test_without_the_one_query_the_per_test_files_are_the_same(sample: pytest.Pytester) -> None:
    """Data the one query cannot read (another layout) is read test by test, with the same result."""
    args = ("--lcov-branch", "--lcov-per-test")
    assert run_pytest(sample, "--lcov=fast.info", *args).ret == 0
    conftest = sample.path / "conftest.py"  # not measured: the sample measures app/ only
    patch = "import pytest_lcov.records\npytest_lcov.records.context_arcs = lambda *args: None\n"
    conftest.write_text(conftest.read_text() + "\n" + patch)
    assert run_pytest(sample, "--lcov=public.info", *args).ret == 0
    for fast, public in (("fast.info", "public.info"), ("fast.tests.info", "public.tests.info")):
        assert (sample.path / fast).read_text() == (sample.path / public).read_text()
    assert "BRDA:" in (sample.path / "fast.tests.info").read_text()
