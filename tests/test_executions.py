"""``lcov_counts = "executions"`` end to end: real pytest sessions, counts worked out by hand."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from coverage import CoverageData

from pytest_lcov.counting import source_digest
from pytest_lcov.executions import NOT_IMPORTED, RAN_UNCOUNTED, check, merged_counts, uncounted_notices
from pytest_lcov.model import FileRecord
from pytest_lcov.records import FileShape, Hits, RecordCounts
from pytest_lcov.tracefile import parse
from tests.helpers import QUIET_PLUGINS, SYSMON_BRANCHES, read_records, run_pytest
from tests.lcov_tools import LcovTools
from tests.sample_project import write_sample_project

WORK = """\
def total(n):
    t = 0
    for i in range(n):
        if i % 2:
            t += i
        else:
            t -= 1
    return t


def countdown(n):
    while n > 0:
        n -= 1
    return n


def parse(text):
    try:
        return int(text)
    except ValueError:
        return None


def kind(x):
    match x:
        case 0:
            return "zero"
        case int():
            return "int"
    return "other"
"""
TESTS = """\
from pkg.work import countdown, kind, parse, total


def test_total():
    assert [total(4), total(0), total(1)] == [2, 0, -1]


def test_countdown():
    assert countdown(3) == 0


def test_parse():
    assert [parse("1"), parse("x"), parse("2")] == [1, None, 2]


def test_kind():
    assert [kind(0), kind(1), kind(2), kind("a")] == ["zero", "int", "int", "other"]
"""
CONFIG = """\
[tool.pytest.ini_options]
pythonpath = ["."]

[tool.coverage.run]
source = ["pkg"]
branch = true
"""
# By hand, from WORK and TESTS: total is called 3 times (n = 4, 0, 1: 5 iterations),
# countdown once (3 iterations), parse 3 times ("x" raises ValueError once),
# kind 4 times (0; 1 and 2; "a").
EXPECTED_LINES = {
    1: 1,  # def total: run once, at import
    2: 3,  # one per call of total
    3: 8,  # the for header: 3 entries + 5 returns from the end of the body
    4: 5,  # one per iteration
    5: 2,  # i odd: i = 1 and 3 of total(4)
    7: 3,  # i even: i = 0 and 2 of total(4), i = 0 of total(1)
    8: 3,  # one per call
    11: 1,  # def countdown, at import
    12: 4,  # the while header: 1 entry + 3 returns after n -= 1
    13: 3,  # n = 3, 2, 1
    14: 1,
    17: 1,  # def parse, at import
    18: 3,  # try, one per call
    19: 3,  # int(text), one per call (once it raises)
    20: 1,  # the except's type test runs only when int() raised
    21: 1,
    24: 1,  # def kind, at import
    25: 4,  # match, one per call
    26: 4,  # case 0 is tried on every call
    27: 1,  # kind(0)
    28: 3,  # case int() is tried when case 0 did not match: 1, 2, "a"
    29: 2,  # kind(1), kind(2)
    30: 1,  # kind("a")
}
EXPECTED_FUNCTIONS = {"total": 3, "countdown": 1, "parse": 3, "kind": 4}
EXPECTED_BRANCHES = {
    (3, 0): 5,  # for -> body: 5 iterations
    (3, 1): 3,  # for -> return t: each of the 3 loops ends by running out
    (4, 0): 2,  # if i % 2 -> t += i: i = 1, 3
    (4, 1): 3,  # -> else: i = 0, 2 of total(4), 0 of total(1)
    (12, 0): 3,  # while -> body: n = 3, 2, 1
    (12, 1): 1,  # while -> return n: once, when n reaches 0
    (26, 0): 1,  # case 0 -> its body: kind(0)
    (26, 1): 1,  # case 0 -> case int(): taken 3 times, but a way to the next case keeps 0/1
    (28, 0): 2,  # case int() -> its body: kind(1), kind(2)
    (28, 1): 1,  # case int() -> return "other": kind("a"), and again 0/1
}


# The sample project runs this file through importlib's exec_module, without the import system.
SPACED_NOTICE = (
    "pytest-lcov: counts are 0/1, not executions, in app/my module, v2.py: it ran without counters: "
    "imported before pytest-lcov started, or loaded without the import system "
    "(runpy, exec, a loader of its own)"
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=CONFIG)
    (pytester.path / "pkg").mkdir()
    (pytester.path / "pkg/__init__.py").write_text("")
    (pytester.path / "pkg/work.py").write_text(WORK)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests/test_work.py").write_text(TESTS)
    return pytester


def lcov_run(
    project: pytest.Pytester, output: str, *args: str
) -> tuple[pytest.RunResult, dict[str, FileRecord]]:
    result = run_pytest(project, f"--lcov={output}", *args)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    return result, read_records(project.path / output)


def notices(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("pytest-lcov:")]


def test_counts_worked_out_by_hand(project: pytest.Pytester) -> None:
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions")
    assert notices(result) == []
    record = records["pkg/work.py"]
    assert record.lines == EXPECTED_LINES
    assert {fn.name: fn.hits for fn in record.functions} == EXPECTED_FUNCTIONS
    assert {(br.line, br.branch): br.taken for br in record.branches} == EXPECTED_BRANCHES
    # Instrumented code is compiled in memory only: no bytecode of it in __pycache__.
    cache = project.path / "pkg/__pycache__"
    assert not [p.name for p in cache.iterdir() if p.name.startswith("work.")] if cache.exists() else True


def zero_ness(record: FileRecord) -> tuple[object, ...]:
    """Everything of a record but how much: which lines, functions and ways ran at all."""
    return (
        {line: count > 0 for line, count in record.lines.items()},
        {fn.name: (fn.start, fn.hits > 0) for fn in record.functions},
        [(br.line, br.block, br.branch, br.taken is None or br.taken > 0) for br in record.branches],
    )


@pytest.mark.parametrize("which", ["hand", "sample", "sample-lines-only"])
def test_totals_and_zero_ness_do_not_change(
    pytester: pytest.Pytester, project: pytest.Pytester, which: str
) -> None:
    """LF/LH, FNF/FNH, BRF/BRH and whether each DA/FNDA/BRDA is zero are those of a 0/1 run."""
    if which != "hand":
        for path in ("pkg", "tests", "pyproject.toml"):
            target = pytester.path / path
            if target.is_dir():
                for file in sorted(target.rglob("*"), reverse=True):
                    file.unlink() if file.is_file() else file.rmdir()
                target.rmdir()
            else:
                target.unlink()
        write_sample_project(pytester.path)
    # Without branches, CPython 3.12 and 3.13 measure with coverage.py's sys.monitoring core.
    branch = () if which == "sample-lines-only" else ("--lcov-branch",)
    _, plain = lcov_run(project, "run.info", *branch)
    result, counted = lcov_run(project, "counts.info", *branch, "--lcov-counts=executions")
    assert notices(result) == ([] if which == "hand" else [SPACED_NOTICE])
    assert plain.keys() == counted.keys()
    for path, record in plain.items():
        assert counted[path].totals() == record.totals(), path
        assert zero_ness(counted[path]) == zero_ness(record), path
    assert any(count > 1 for record in counted.values() for count in record.lines.values())


@pytest.mark.skipif(
    not SYSMON_BRANCHES, reason="coverage.py's sys.monitoring core measures branches on 3.14+"
)
def test_counts_with_branches_under_a_sys_monitoring_coverage_run_are_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COVERAGE_CORE", "sysmon")
    write_sample_project(pytester.path)
    result = pytester.run(
        sys.executable, "-m", "coverage", "run", "--branch", "-m", "pytest", *QUIET_PLUGINS,
        "-p", "no:cacheprovider", "--lcov=cov.info", "--lcov-counts=executions",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "pytest-lcov: execution counts with branches need coverage.py's C tracer, but the running "
        'coverage uses sys.monitoring: set `core = "ctrace"` in [tool.coverage.run]'
    ) in result.stderr.str()
    assert not (pytester.path / "cov.info").exists()


def coverage_data(project: pytest.Pytester, *args: str) -> dict[str, tuple[set[int], set[tuple[int, int]]]]:
    """coverage.py's own lines and arcs of a `coverage run --branch -m pytest` with the plugin."""
    data_file = project.path / ".coverage"
    data_file.unlink(missing_ok=True)
    result = project.run(
        sys.executable, "-m", "coverage", "run", "--branch", "-m", "pytest", *QUIET_PLUGINS,
        "-p", "no:cacheprovider", "--lcov=cov.info", *args,
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    data = CoverageData(str(data_file))
    data.read()
    return {
        Path(name).name: (set(data.lines(name) or ()), set(data.arcs(name) or ()))
        for name in data.measured_files()
    }


def test_coverage_sees_the_same_lines_and_arcs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counters are located on the lines they count: coverage.py sees no new line and loses no arc.

    With the C tracer, which counts with branches need (test_cores.py says why).
    """
    monkeypatch.setenv("COVERAGE_CORE", "ctrace")
    write_sample_project(pytester.path)
    (pytester.path / "app/loops.py").write_text(WORK)
    (pytester.path / "tests/test_loops.py").write_text(TESTS.replace("pkg.work", "app.loops"))
    plain = coverage_data(pytester)
    counted = coverage_data(pytester, "--lcov-counts=executions")
    assert "loops.py" in counted
    assert counted == plain


def plus(a: FileRecord, b: FileRecord, source: Path) -> FileRecord:
    """`a` with `b`'s counts added (same shape); ways out of other than if/for/while stay 0/1."""
    counted = {
        node.lineno
        for node in ast.walk(ast.parse(source.read_bytes()))
        if isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While)
    }
    hits = {fn.name: fn.hits for fn in b.functions}
    taken = {(br.line, br.branch): br.taken or 0 for br in b.branches}

    def add(line: int, mine: int | None, theirs: int) -> int | None:
        if mine is None:
            return None
        return mine + theirs if line in counted else max(mine, theirs)

    return FileRecord(
        a.path,
        lines={line: count + b.lines[line] for line, count in a.lines.items()},
        functions=[dataclasses.replace(fn, hits=fn.hits + hits[fn.name]) for fn in a.functions],
        branches=[
            dataclasses.replace(br, taken=add(br.line, br.taken, taken[br.line, br.branch]))
            for br in a.branches
        ],
    )


def test_xdist_counts_add_up_to_the_serial_counts(pytester: pytest.Pytester) -> None:
    """Each worker imports every test module and conftest.py: `-n 2` = the serial run + one more import."""
    write_sample_project(pytester.path)
    options = ("--lcov-branch", "--lcov-counts=executions", "-p", "no:randomly")
    _, serial = lcov_run(pytester, "serial.info", *options)
    _, imports = lcov_run(pytester, "imports.info", *options, "--collect-only")
    result, distributed = lcov_run(pytester, "xdist.info", *options, "-n", "2")
    assert notices(result) == [SPACED_NOTICE]
    assert distributed == {
        path: plus(record, imports[path], pytester.path / path) if path in imports else record
        for path, record in serial.items()
    }
    assert any(count > 1 for record in serial.values() for count in record.lines.values())


def test_assert_rewriting_and_tracebacks_are_untouched(project: pytest.Pytester) -> None:
    """Test modules are not instrumented (pytest still rewrites their asserts); source lines stay right."""
    (project.path / "tests/test_fails.py").write_text(
        "from pkg.work import parse, total\n\n\n"
        "def test_assert():\n    assert total(4) == 3\n\n\n"
        "def test_raise():\n    parse(None)\n"
    )
    result = run_pytest(project, "--lcov", "--lcov-counts=executions")
    assert result.ret == 1
    output = result.stdout.str()
    assert "where 2 = total(4)" in output  # pytest's rewritten assert message
    assert "pkg/work.py:19: TypeError" in output  # int(None) on line 19 of pkg/work.py
    assert re.search(r"^>\s+return int\(text\)$", output, re.M)  # the source line, as written


def test_a_file_changed_during_the_run_falls_back_to_0_1(project: pytest.Pytester) -> None:
    (project.path / "tests/test_change.py").write_text(
        "from pathlib import Path\n\n\n"
        "def test_change():\n"
        "    path = Path(__file__).parent.parent / 'pkg/work.py'\n"
        "    path.write_text(path.read_text().replace('t = 0', 't = 0 ') )\n"
    )
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions", "-p", "no:randomly")
    why = "its source changed after it was imported"
    assert f"pytest-lcov: counts are 0/1, not executions, in pkg/work.py: {why}" in notices(result)
    assert set(records["pkg/work.py"].lines.values()) == {1}


def test_modules_imported_before_the_start_are_named(project: pytest.Pytester) -> None:
    (project.path / "pkg/plug.py").write_text("X = 1\nY = 2\n")
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions", "-p", "pkg.plug")
    assert notices(result) == [
        "pytest-lcov: pkg, pkg.plug imported before pytest-lcov started: their counts are 0/1, not executions"
    ]
    assert records["pkg/plug.py"].lines == {1: 0, 2: 0}  # before coverage.py started too
    assert records["pkg/work.py"].lines == EXPECTED_LINES


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (
            ["--lcov-counts=executions"],
            "",
            "pytest-lcov: lcov_counts = executions needs coverage.py's `source` (or --lcov-source): "
            "the files whose executions are counted",
        ),
        (
            ["--lcov-counts=executions", "--lcov-per-test"],
            CONFIG,
            "pytest-lcov: lcov_counts = 'executions' cannot go with lcov_per_test, which counts tests",
        ),
        (["--lcov-counts=often"], CONFIG, "lcov_counts = 'often' is not one of: run, tests, executions"),
    ],
)
def test_settings_that_cannot_count_stop_at_start_up(
    pytester: pytest.Pytester, args: list[str], config: str, message: str
) -> None:
    pytester.makefile(".toml", pyproject=config)
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = run_pytest(pytester, "--lcov", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert not (pytester.path / "lcov.info").exists()


FREE_THREADED = getattr(sys, "_is_gil_enabled", lambda: True)() is False


def test_counts_without_the_gil_are_refused(project: pytest.Pytester) -> None:
    """A free-threaded CPython without its GIL would lose counts: refused at start-up.

    No free-threaded CPython runs here (Debian packages none), so on a GIL build
    a plugin loaded before the plugin's start-up makes CPython answer as one does.
    """
    args = ["--lcov-counts=executions"]
    if not FREE_THREADED:
        project.makepyfile(no_gil="import sys\nsys._is_gil_enabled = lambda: False\n")
        args += ["-p", "no_gil"]
    result = run_pytest(project, "--lcov", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pytest-lcov: lcov_counts = executions needs the GIL, and this free-threaded Python" in (
        result.stderr.str()
    )
    assert not (project.path / "lcov.info").exists()
    assert run_pytest(project, "--lcov", *args[1:]).ret == 0  # lines and branches are coverage.py's


def test_genhtml_reads_the_counts(project: pytest.Pytester, lcov: LcovTools) -> None:
    lcov_run(project, "counts.info", "--lcov-counts=executions")
    lcov.genhtml(project.path / "counts.info", project.path / "html", cwd=project.path)
    page = (project.path / "html/pkg/work.py.gcov.html").read_text()
    # The for header's line shows its count, 8 (genhtml 1.x and 2.x differ only in markup).
    text = re.sub(r"<[^>]+>", "", page)
    assert re.search(r"^\s*3\s.*\b8 :\s+for i in range\(n\):$", text, re.M), text
    [parsed] = [
        p for p in parse((project.path / "counts.info").read_text(), "counts.info") if "work" in p.record.path
    ]
    assert parsed.record.lines[3] == 8


def test_files_child_processes_ran_fall_back_to_0_1(project: pytest.Pytester) -> None:
    """A child's executions are not counted: a file it ran keeps 0/1, and says why."""
    (project.path / "pyproject.toml").write_text(CONFIG + 'patch = ["subprocess"]\n')
    (project.path / "tests/test_child.py").write_text(
        "import subprocess\nimport sys\n\n\n"
        "def test_child():\n"
        "    code = 'import pkg.work; pkg.work.countdown(2)'\n"
        "    subprocess.run([sys.executable, '-c', code], check=True)\n"
    )
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions", "-k", "child or total")
    why = "child processes ran it, and their executions are not counted"
    assert notices(result) == [f"pytest-lcov: counts are 0/1, not executions, in pkg/work.py: {why}"]
    lines = records["pkg/work.py"].lines
    assert (lines[3], lines[12], lines[19]) == (1, 1, 0)  # for header (8 if counted), child's while, parse


def test_a_process_that_imported_a_file_early_makes_it_fall_back() -> None:
    """One xdist worker counted the file, another imported it before counting: the sum lacks some runs."""
    counted: dict[str, Any] = {"digest": source_digest(b"d"), "lines": [[1, 2]], "functions": [], "ways": []}
    shape = FileShape("x.py", (1,), (), {}, frozenset(), {})
    ran = Hits(frozenset({1}), None)
    parts: list[dict[str, Any]] = [{"/x.py": counted}, {"/x.py": {"digest": "", "not_counted": NOT_IMPORTED}}]
    for order in (parts, parts[::-1]):
        assert check(shape, ran, merged_counts(order)["/x.py"], b"d") == NOT_IMPORTED
    both = merged_counts([{"/x.py": counted}, {"/x.py": counted}])["/x.py"]
    assert check(shape, ran, both, b"d") == RecordCounts({1: 4}, {}, {})


def test_files_that_fall_back_for_one_reason_share_a_line() -> None:
    uncounted = [("a.py", "why"), ("b.py", "line 3 counted 0 but coverage.py says it ran"), ("c.py", "why")]
    uncounted += [("d.py", "why"), ("e.py", "why")]
    assert uncounted_notices(uncounted) == [
        "counts are 0/1, not executions, in a.py, c.py, d.py and 1 more: why",
        "counts are 0/1, not executions, in b.py: line 3 counted 0 but coverage.py says it ran",
    ]


def test_counts_that_disagree_with_coverage_are_not_used() -> None:
    """The first disagreement is the reason given; agreeing counts are used as they are."""
    shape = FileShape("x.py", (1, 2), (), {1: ((2, "x"), (-1, "y"))}, frozenset(), {})
    plain = {
        "digest": source_digest(b"d"),
        "lines": [[1, 3], [2, 0]],
        "functions": [],
        "ways": [[1, 2, 0], [1, None, 3]],
    }
    counts = merged_counts([{"/x.py": plain}])["/x.py"]
    ran_all = Hits(frozenset({1, 2}), frozenset({(1, 2), (1, -1)}))
    assert check(shape, ran_all, counts, b"d") == "line 2 counted 0 but coverage.py says it ran"
    assert check(shape, Hits(frozenset({1}), frozenset({(1, -1)})), counts, b"d") == RecordCounts(
        {1: 3, 2: 0}, {}, {(1, 2): 0, (1, -1): 3}
    )
    assert check(shape, Hits(frozenset({1}), frozenset({(1, 2)})), counts, b"d") == (
        "branch 1->2 counted 0 but coverage.py says it ran"
    )
    assert check(shape, Hits(frozenset({1}), frozenset({(1, -1)})), counts, b"other") == (
        "its source changed after it was imported"
    )


def test_a_source_with_no_file_to_count_is_said(project: pytest.Pytester) -> None:
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions", "--lcov-source=pkg.work")
    assert notices(result) == [
        "pytest-lcov: no Python file to count executions of under coverage.py's source: "
        "counts are 0/1 (a folder or a top-level package name is looked for)"
    ]
    assert set(records["pkg/work.py"].lines.values()) == {1}


# Statements that compile to nothing: global, nonlocal, a bare annotation in a function (and a
# string statement, which does: CPython keeps a NOP there, so that it is seen to run).
NO_CODE = """\
TOTAL = 0


def bump(flag):
    "docstring"
    global TOTAL
    if flag:
        "a string statement: no code"
        TOTAL += 1
    return TOTAL


def make():
    seen = 0

    def add(step):
        nonlocal seen
        label: str
        if not step:
            return seen
        seen += step
        return seen

    return add
"""
NO_CODE_TESTS = """\
from pkg.nocode import bump, make


def test_bump():
    assert [bump(True), bump(False), bump(True)] == [1, 1, 2]


def test_add():
    add = make()
    assert [add(0), add(2), add(3)] == [0, 2, 5]
"""
# By hand: bump is called 3 times (flag True twice), make once, add 3 times (step 0 once).
# Lines 5 (docstring), 6, 17 and 18 compile to nothing: not statements, no counters, no line events.
NO_CODE_LINES = {1: 1, 4: 1, 7: 3, 8: 2, 9: 2, 10: 3, 13: 1, 14: 1, 16: 1, 19: 3, 20: 1, 21: 2, 22: 2, 24: 1}
NO_CODE_BRANCHES = {
    (7, 0): 2,  # if flag -> the string statement on line 8
    (7, 1): 1,  # -> return TOTAL: bump(False)
    (19, 0): 1,  # if not step -> return seen: add(0)
    (19, 1): 2,  # -> seen += step: add(2), add(3)
}


def test_statements_without_code_get_no_counter(project: pytest.Pytester) -> None:
    """A counter on a `global` or `nonlocal` line once showed coverage.py a line the source has not,
    and the way past it was lost: the branch totals changed."""
    (project.path / "pkg/nocode.py").write_text(NO_CODE)
    (project.path / "tests/test_nocode.py").write_text(NO_CODE_TESTS)
    _, plain = lcov_run(project, "run.info", "--lcov-branch")
    result, counted = lcov_run(project, "counts.info", "--lcov-branch", "--lcov-counts=executions")
    assert notices(result) == []
    record = counted["pkg/nocode.py"]
    assert record.lines == NO_CODE_LINES
    assert {fn.name: fn.hits for fn in record.functions} == {"bump": 3, "make": 1, "make.add": 3}
    assert {(br.line, br.branch): br.taken for br in record.branches} == NO_CODE_BRANCHES
    assert record.totals() == plain["pkg/nocode.py"].totals()
    assert zero_ness(record) == zero_ness(plain["pkg/nocode.py"])


# By hand, from the sample project's app/flow.py and tests/test_app.py::test_flow, which calls
# fetch(2) once, list(evens(3)), describe(0) and describe(5), guarded({}), countdown(2) and
# lookup({}) (which raises KeyError on its first line).
SAMPLE_FLOW_LINES = {
    **{line: 1 for line in (1, 4, 9, 15, 16, 19, 29, 39, 47)},  # the module's statements, at import
    5: 1,  # await asyncio.sleep(0): started once (resuming after the await is not a new start)
    6: 1,
    10: 4,  # the for header of evens(3): entered once, and back after each of 3 iterations
    11: 3,  # i = 0, 1, 2
    12: 2,  # yield i for i = 0 and 2
    20: 2,  # match value: describe(0), describe(5)
    21: 2,  # case 0 is tried on both calls
    22: 1,  # describe(0)
    23: 1,  # case int() is tried when case 0 did not match: describe(5)
    24: 1,
    25: 0,  # case _ is never reached
    26: 0,
    30: 1,  # guarded({}): try
    31: 1,  # d["k"] raises KeyError
    32: 1,  # its except type test
    33: 1,
    35: 1,  # finally
    36: 1,
    40: 3,  # countdown(2): the while header, entered once and back after n = 2 and n = 1
    41: 2,
    43: 1,  # the while's else, once n reaches 0
    44: 1,
    48: 1,  # lookup({}): d["missing"] raises KeyError
    49: 0,
    50: 0,
}
SAMPLE_FLOW_FUNCTIONS = {"fetch": 1, "evens": 1, "describe": 2, "guarded": 1, "countdown": 1, "lookup": 1}


def test_sample_project_counts_worked_out_by_hand(pytester: pytest.Pytester) -> None:
    write_sample_project(pytester.path)
    result, records = lcov_run(pytester, "counts.info", "--lcov-counts=executions", "--lcov-branch")
    assert notices(result) == [SPACED_NOTICE]  # that file is run by exec_module, without counters
    record = records["app/flow.py"]
    assert record.lines == SAMPLE_FLOW_LINES
    assert {fn.name: fn.hits for fn in record.functions} == SAMPLE_FLOW_FUNCTIONS


def test_a_module_taking_anothers_globals_takes_no_counts(project: pytest.Pytester) -> None:
    """``globals().update(vars(other))`` once took the other module's counters (written DA:2,2,
    silently); counters are no names now, so both files keep their own exact counts."""
    (project.path / "pkg/b.py").write_text("def helper():\n    return 1\n\n\nX = helper()\n")
    (project.path / "pkg/a.py").write_text(
        "from pkg import b\n\nglobals().update(vars(b))\n\n\ndef again():\n    return helper()\n"
    )
    (project.path / "tests/test_ab.py").write_text(
        "from pkg import a\n\n\ndef test_again():\n    assert a.again() == 1\n"
    )
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions")
    assert notices(result) == []
    assert records["pkg/b.py"].lines == {1: 1, 2: 2, 5: 1}
    assert records["pkg/a.py"].lines == {1: 1, 3: 1, 6: 1, 7: 1}


def test_an_uncountable_file_says_why_and_keeps_0_1(project: pytest.Pytester) -> None:
    """An ``async for`` whose continue leaves through ``finally`` runs plain: one notice line."""
    (project.path / "pkg/aio.py").write_text(
        "async def drain(items):\n    n = 0\n    async for x in items:\n        try:\n"
        "            continue\n        finally:\n            n += 1\n    return n\n"
    )
    (project.path / "tests/test_aio.py").write_text(
        "import pytest\n\nfrom pkg.aio import drain\n\n\n"
        "def test_drain():\n    with pytest.raises(TypeError, match=\"'async for' requires\"):\n"
        "        drain([1]).send(None)\n"
    )
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions")
    assert notices(result) == [
        "pytest-lcov: counts are 0/1, not executions, in pkg/aio.py: an `async for` loop's `continue` "
        "leaves through `finally` or `with` code, which no counter can follow without changing the loop"
    ]
    assert set(records["pkg/aio.py"].lines.values()) == {0, 1}
    assert records["pkg/work.py"].lines == EXPECTED_LINES


def test_a_file_also_run_outside_the_import_system_falls_back(project: pytest.Pytester) -> None:
    """Imported (counted), then run by runpy.run_path (not counted): its counts would be low."""
    (project.path / "tests/test_run_path.py").write_text(
        "import runpy\n\nimport pkg.work\n\n\ndef test_run_path():\n    runpy.run_path(pkg.work.__file__)\n"
    )
    result, records = lcov_run(project, "counts.info", "--lcov-counts=executions")
    assert notices(result) == [
        f"pytest-lcov: counts are 0/1, not executions, in pkg/work.py: {RAN_UNCOUNTED}"
    ]
    assert set(records["pkg/work.py"].lines.values()) == {1}
