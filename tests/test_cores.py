"""coverage.py's sys.monitoring core where it gives the same data faster."""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

import coverage
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_lcov import cli
from pytest_lcov.measure import Measurement
from tests.helpers import HAS_SYSMON, SYSMON_BRANCHES, read_records, run_pytest
from tests.programs import generated_programs, program, program_file
from tests.sample_project import write_sample_project

REPORTS_CORE = """
import sys

import coverage


def pytest_sessionfinish(session):
    running = coverage.Coverage.current()
    print("core:", running.get_option("run:core"), "settrace:", sys.gettrace() is not None)
"""


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    pytester.makeconftest((pytester.path / "conftest.py").read_text() + REPORTS_CORE)
    return pytester


def core_line(result: pytest.RunResult) -> str:
    [match] = [m for line in result.outlines if (m := re.search(r"core: \S+ settrace: \S+", line))]
    return match[0]


@pytest.mark.parametrize(
    ("options", "sysmon_measures"),
    [
        ((), HAS_SYSMON),
        (("--lcov-branch",), SYSMON_BRANCHES),
        (("--lcov-per-test",), HAS_SYSMON),
        (("--lcov-per-test", "--lcov-branch"), False),  # see test_why_per_test_branches_keep_the_c_tracer
    ],
    ids=["lines", "branches", "per-test lines", "per-test branches"],
)
def test_sys_monitoring_measures_wherever_it_can_and_gives_the_c_tracers_files(
    sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...], sysmon_measures: bool
) -> None:
    # -W error: coverage.py's "context data may be incomplete" (sys.monitoring without
    # re-arming) and "Can't use core=sysmon" would fail the run.
    chosen = run_pytest(sample, "--lcov=chosen.info", "-s", "-W", "error", *options)
    monkeypatch.setenv("COVERAGE_CORE", "ctrace")
    traced = run_pytest(sample, "--lcov=ctrace.info", "-s", *options)
    assert chosen.ret == traced.ret == 0
    assert core_line(traced) == "core: ctrace settrace: True"
    if sysmon_measures:
        assert core_line(chosen) == "core: sysmon settrace: False"
    elif "--lcov-per-test" in options:
        assert core_line(chosen) == "core: ctrace settrace: True"
    else:
        assert core_line(chosen) == "core: None settrace: True"  # coverage.py's own default
    # The same data, so the same files.
    suffixes = (".info", ".tests.info") if "--lcov-per-test" in options else (".info",)
    for suffix in suffixes:
        assert (sample.path / f"chosen{suffix}").read_text() == (sample.path / f"ctrace{suffix}").read_text()


def test_execution_counts_with_branches_use_the_c_tracer(sample: pytest.Pytester) -> None:
    """sys.monitoring infers arcs from the order of line events, which the counters take part in."""
    config = (sample.path / "pyproject.toml").read_text()
    if "source" not in config:
        sample.makepyprojecttoml(config + 'source = ["app"]\n')
    result = run_pytest(sample, "--lcov", "-s", "--lcov-branch", "--lcov-counts=executions")
    assert core_line(result) == "core: ctrace settrace: True"


def measured_by_context(path: Path, core: str, branch: bool = False) -> coverage.Coverage:
    """`path` measured with `core` as the plugin measures tests.

    The module runs outside tests (as at import), then four tests call its
    functions, two of them with the same argument: each must get its own data.
    """
    cov = coverage.Coverage(data_file=None, config_file=False, branch=branch)
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
        measurement.end()
    return cov


def lines_by_context(path: Path, core: str) -> dict[str, dict[int, set[str]]]:
    """Which context ran each line of `path`, measured with `core` as the plugin measures tests."""
    data = measured_by_context(path, core).get_data()
    return {str(path): {line: set(tests) for line, tests in data.contexts_by_lineno(str(path)).items()}}


def branches_by_context(path: Path, core: str) -> dict[str, tuple[list[int], dict[int, list[int]]]]:
    """Each context's lines and branch ways taken in `path`, as coverage.py's analysis reports them.

    The analysis is what the report reads: the cores' raw arcs differ in
    shape (sys.monitoring records ``(n, n)`` for every line it hears).
    """
    cov = measured_by_context(path, core, branch=True)
    data = cov.get_data()
    found = {}
    for context in sorted(data.measured_contexts()):
        data.set_query_contexts([re.escape(context) + "$"] if context else ["^$"])
        analysis = cov._analyze(str(path))
        taken = {line: sorted(ways) for line, ways in analysis.executed_branch_arcs().items()}
        found[context] = (sorted(analysis.executed), taken)
    data.set_query_contexts(None)
    return found


@pytest.mark.skipif(not HAS_SYSMON, reason="sys.monitoring is CPython 3.12+")
@generated_programs(40)
@given(program())
def test_sys_monitoring_gives_each_test_the_lines_the_c_tracer_gives_it(source: str) -> None:
    with program_file(source) as path:
        assert lines_by_context(path, "sysmon") == lines_by_context(path, "ctrace")


# Programs on which coverage.py's sys.monitoring core gives a test lines it did not run.
SYSMON_PER_TEST_BRANCHES = {
    # It joins a line to the last one it heard in the same code; a frame that ended by an
    # exception leaves its line (7) behind, joined to a later test's first line in g.
    "a frame that raised": "def f(a):\n    return a\ndef g(a):\n    x = a\n    yield x\n"
    "    if x % 2 == 0:\n        raise ValueError(x)\n",
    # A failing assert's jump is resolved to the line after it (8), which did not run.
    "an assert that failed": "def f(a):\n    return a\ndef g(a):\n    x = a\n    yield x\n"
    "    x -= 1\n    assert x >= 0\n    x = x + 1\n",
}


@pytest.mark.skipif(
    not SYSMON_BRANCHES, reason="coverage.py's sys.monitoring core measures branches on 3.14+"
)
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="coverage.py's sys.monitoring core gives a test a line it did not run (see the comments): "
    "per-test branch runs keep the C tracer. When this passes, they can use sys.monitoring.",
)
@pytest.mark.parametrize("name", sorted(SYSMON_PER_TEST_BRANCHES))
def test_why_per_test_branches_keep_the_c_tracer(tmp_path: Path, name: str) -> None:
    path = tmp_path / "program.py"
    path.write_text(SYSMON_PER_TEST_BRANCHES[name])
    assert branches_by_context(path, "sysmon") == branches_by_context(path, "ctrace")


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


# Function calls on every core -------------------------------------------------
CORES = ("ctrace", "pytrace", *(("sysmon",) if SYSMON_BRANCHES else ()))
# Each form defines functions named by {n}, says how to call them with `a` (1 // a raises
# for a == 0), and whether each function it defines (in the order of its records) is a
# one-line function, whose call only arcs can show.
FUNCTION_FORMS = {
    "one-line": ("def f{n}(a): return 1 // a", "f{n}(a)", (True,)),
    "decorated": ("@deco\ndef f{n}(a): return 1 // a", "f{n}(a)", (True,)),
    "cached": ("@functools.lru_cache(maxsize=None)\ndef f{n}(a): return 1 // a", "f{n}(a)", (True,)),
    "method, last in its class": (
        "class C{n}:\n    x = 1\n    def f(self, a): return 1 // a",
        "C{n}().f(a)",
        (True,),
    ),
    "static": (
        "class C{n}:\n    @staticmethod\n    def f(a): return 1 // a\n    y = 2",
        "C{n}.f(a)",
        (True,),
    ),
    "nested": ("def outer{n}():\n    def f(a): return 1 // a\n    return f", "outer{n}()(a)", (False, True)),
    "two lines": ("def f{n}(a):\n    return 1 // a", "f{n}(a)", (False,)),
}
Call = tuple[str, str, list[int]]  # the call's text, the function's form, its arguments


@st.composite
def called_functions(draw: st.DrawFn) -> tuple[str, list[Call]]:
    """A module of functions in FUNCTION_FORMS' shapes, and how each is called (if at all)."""
    forms = draw(st.lists(st.sampled_from(sorted(FUNCTION_FORMS)), min_size=1, max_size=8))
    lines = ["import functools", "def deco(f):", "    return f"]
    calls = []
    for n, form in enumerate(forms):
        definition, call, _ = FUNCTION_FORMS[form]
        lines.append(definition.format(n=n))
        calls.append((call.format(n=n), form, draw(st.lists(st.sampled_from([0, 1]), max_size=3))))
    return "\n".join(lines) + "\n", calls


def function_hits_with(core: str, folder: Path, source: str, calls: list[Call]) -> list[int]:
    """FNDA of each function in order, measured with `core` and written by ``pytest-lcov convert``."""
    module = folder / "funcs.py"
    module.write_text(source)
    data_file = folder / f".coverage.{core}"
    cov = coverage.Coverage(data_file=str(data_file), branch=True, config_file=False)
    cov.set_option("run:core", core)
    cov.start()
    try:
        scope: dict[str, object] = {"__name__": "funcs"}
        exec(compile(source, str(module), "exec", dont_inherit=True), scope)
        for call, _, arguments in calls:
            for a in arguments:
                with contextlib.suppress(ZeroDivisionError):
                    eval(call, {**scope, "a": a})
    finally:
        cov.stop()
    cov.save()
    output = folder / f"{core}.info"
    assert cli.main(["convert", str(data_file), "-o", str(output), "--rootdir", str(folder)]) == 0
    [record] = read_records(output).values()
    return [fn.hits for fn in sorted(record.functions, key=lambda fn: (fn.start, fn.name))]


@generated_programs(30)
@given(called_functions())
def test_every_core_calls_the_functions_the_c_tracer_calls(program: tuple[str, list[Call]]) -> None:
    """Called means called on every core, one-line functions included.

    The expected hits are worked out from the calls made, not read from a run.
    The one difference is coverage.py's sys.monitoring core's: it hears returns,
    not exceptions, so a one-line function whose every call raised is not called there.
    """
    source, calls = program
    with tempfile.TemporaryDirectory() as folder:
        hits = {core: function_hits_with(core, Path(folder), source, calls) for core in CORES}
    deco = int(any(form == "decorated" for _, form, _ in calls))  # called at import
    called = [deco]
    returned = [deco]
    for _, form, arguments in calls:
        for one_line in FUNCTION_FORMS[form][2]:
            called.append(int(bool(arguments)))
            returned.append(int(1 in arguments if one_line else bool(arguments)))
    assert hits["ctrace"] == called
    assert hits["pytrace"] == called
    if "sysmon" in hits:
        assert hits["sysmon"] == returned
