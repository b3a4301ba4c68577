"""Property-based tests: generated modules and call patterns, measured for real.

Each example writes a small module built from functions, branches, loops, try
blocks, nested functions and decorators, plus tests that call it, and runs it
under ``coverage run -m pytest --lcov``: one run gives both our tracefile and
coverage.py's own data, so the two can be compared.  The number of examples is
bounded (PYTEST_LCOV_EXAMPLES, default 8) so CI stays fast.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import (
    COVERAGE_RUN_PYTEST,
    coverage_json_files,
    expected_totals,
    lines_and_branches,
    read_records,
)
from tests.lcov_tools import require

EXAMPLES = int(os.environ.get("PYTEST_LCOV_EXAMPLES", "8"))
small = st.integers(min_value=0, max_value=4)


def concat(parts: list[list[str]]) -> list[str]:
    return list(itertools.chain.from_iterable(parts))


def block(depth: int) -> st.SearchStrategy[list[str]]:
    """A list of statement lines (indented by 4 per level) working on the int `n`."""
    simple = st.builds(lambda k: [f"n = n + {k}"], small)
    if depth >= 2:
        return st.lists(simple, min_size=1, max_size=2).map(concat)
    inner = block(depth + 1)

    def indent(lines: list[str]) -> list[str]:
        return ["    " + line for line in lines]

    compound = st.one_of(
        simple,
        st.builds(lambda k, a, b: [f"if n > {k}:", *indent(a), "else:", *indent(b)], small, inner, inner),
        st.builds(lambda k, a: [f"if n == {k}:", *indent(a)], small, inner),
        st.builds(lambda k: [f"if n == {k}:", "    return n"], small),
        st.builds(lambda k, a: [f"for i in range({k}):", *indent(a)], small, inner),
        st.builds(lambda k: [f"while n > {k}:", "    n -= 1", "else:", "    n += 1"], small),
        st.builds(
            lambda k, a: [
                "try:",
                *indent(a),
                f"    if n % 5 == {k}:",
                "        raise ValueError(n)",
                "except ValueError:",
                "    n = 0",
                "finally:",
                "    n += 1",
            ],
            small,
            inner,
        ),
        st.builds(lambda a: ["def inner(m):", *indent([*a, "return n + m"]), "n = inner(1)"], inner),
        st.builds(lambda k: [f"if {{}}['k{k}']:", "    n = -1"], small),  # always raises
        st.builds(lambda k: [f"n = [x for x in range({k}) if x % 2]", "n = len(n)"], small),
    )
    return st.lists(compound, min_size=1, max_size=3).map(concat)


@st.composite
def modules(draw: st.DrawFn) -> tuple[str, str]:
    """A module of 1-4 functions, and a test file calling some of them."""
    count = draw(st.integers(min_value=1, max_value=4))
    lines = ["def deco(fn):", "    def wrapper(n):", "        return fn(n)", "    return wrapper", ""]
    for index in range(count):
        kind = draw(st.sampled_from(["plain", "decorated", "one-line"]))
        if kind == "one-line":
            lines += [f"def f{index}(n): return n + {index}", ""]
            continue
        if kind == "decorated":
            lines.append("@deco")
        body = draw(block(0))
        lines += [f"def f{index}(n):", *("    " + line for line in [*body, "return n"]), ""]
    calls = draw(st.lists(st.tuples(st.integers(0, count - 1), small), max_size=6))
    tests = ["import mod", ""]
    for number, chunk in enumerate([calls[:3], calls[3:]]):
        tests.append(f"def test_{number}():")
        tests += [
            f"    try:\n        mod.f{i}({arg})\n    except Exception:\n        pass" for i, arg in chunk
        ]
        tests += ["    pass", ""]
    return "\n".join(lines) + "\n", "\n".join(tests) + "\n"


def run_example(folder: Path, module: str, tests: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    (folder / "mod.py").write_text(module)
    (folder / "test_mod.py").write_text(tests)
    (folder / "pyproject.toml").write_text('[tool.coverage.run]\nbranch = true\nsource = ["mod"]\n')
    command = [*COVERAGE_RUN_PYTEST, "-q", "--lcov", "--lcov-format=lcov2"]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=modules())
def test_generated_modules_give_consistent_lcov(
    example: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    lcov2 = require(2)
    module, tests = example
    folder = tmp_path_factory.mktemp("example") / "project"
    result = run_example(folder, module, tests)
    assert result.returncode == 0, result.stdout + result.stderr + module
    [record] = read_records(folder / "lcov.info").values()
    totals = record.totals()
    line_count = len(module.splitlines())
    assert totals.lines_hit <= totals.lines_found
    assert totals.branches_hit <= totals.branches_found
    assert totals.functions_hit <= totals.functions_found
    assert all(1 <= line <= line_count for line in record.lines)
    assert all(1 <= branch.line <= line_count and branch.line in record.lines for branch in record.branches)
    for fn in record.functions:
        assert fn.start in record.lines, fn
        end = fn.end if fn.end is not None else fn.start
        assert fn.start <= end <= line_count, fn
        inside = [count for line, count in record.lines.items() if fn.start <= line <= end]
        if fn.end is not None:  # lcov 2 checks these ranges against the line data
            assert bool(fn.hits) == any(inside), (fn, module)
    # The same totals as coverage.py's own analysis of the same run.
    expected, _ = expected_totals(coverage_json_files(folder)["mod.py"])
    assert lines_and_branches(totals) == lines_and_branches(expected), module
    lcov2.genhtml(folder / "lcov.info", folder / "html", cwd=folder)


def test_the_generator_makes_valid_python() -> None:
    # Guards the strategy itself: every drawn module compiles.
    @settings(max_examples=50, deadline=None)
    @given(example=modules())
    def compiles(example: tuple[str, str]) -> None:
        compile(example[0], "mod.py", "exec")
        compile(example[1], "test_mod.py", "exec")

    compiles()
