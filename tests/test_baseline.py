"""--lcov-baseline in real sessions: the categories line, --lcov-fail-on, the HTML report, the job summary.

The categories themselves are checked against genhtml 2.3.1's in
tests/test_differential.py; here, how a run uses them, on one change worked
out by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import git, run_pytest
from tests.lcov_tools import LcovTools

BASE_CALC = (
    "def add(a, b):\n"  # 1
    "    return a + b\n"  # 2
    "\n\n"
    "def sub(a, b):\n"  # 5
    "    if a > b:\n"  # 6
    "        return a - b\n"  # 7
    "    return b - a\n"  # 8
    "\n\n"
    "def unused():\n"  # 11
    "    return 1\n"  # 12
)
# mul is inserted as lines 5-8; sub and unused move down by five lines.
CHANGED_CALC = BASE_CALC.replace(
    "def sub", "def mul(a, b):\n    if a == 0:\n        return 0\n    return a * b\n\n\ndef sub"
)
BASE_TEST = "from pkg.calc import add, sub\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
BASE_TEST += "def test_sub():\n    assert sub(3, 1) == 2\n"
# The change's test calls mul(2, 3) and no longer calls sub.
CHANGED_TEST = BASE_TEST.replace("add, sub", "add, mul").replace(
    "def test_sub():\n    assert sub(3, 1) == 2\n", "def test_mul():\n    assert mul(2, 3) == 6\n"
)
PYPROJECT = (
    '[tool.coverage.run]\nsource = ["pkg"]\nbranch = true\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
)
# Worked out by hand, current line: baseline line, hit before -> hit now.
#   1, 2 (add):          1, 2;   1 -> 1          CBC 2
#   5, 6, 8 (mul):       new;    hit             GNC 3
#   7 (return 0):        new;    never ran       UNC 1
#   11 (def sub):        5;      1 -> 1          CBC
#   12, 13 (if, a - b):  6, 7;   1 -> 0          LBC 2
#   14 (b - a):          8;      0 -> 0          UBC
#   17 (def unused):     11;     1 -> 1          CBC
#   18 (return 1):       12;     0 -> 0          UBC
# Branches: mul's `if` (new) went to 8 only: GNC 1, UNC 1; sub's `if` went to 7 before
# (7: LBC) and to 8 never (UBC). Functions: add CBC, mul GNC, sub LBC, unused UBC (never called).
LINES = "lines UNC 1, LBC 2, UBC 2, GNC 3, CBC 4"
BRANCHES = "branches UNC 1, LBC 1, UBC 1, GNC 1"
FUNCTIONS = "functions LBC 1, UBC 1, GNC 1, CBC 1"
CATEGORIES_LINE = f"LCOV against base.info since main: {LINES}; {BRANCHES}; {FUNCTIONS}"


@pytest.fixture
def change(pytester: pytest.Pytester) -> pytest.Pytester:
    """The base committed on main with its own run's tracefile (base.info), the change on a branch."""
    pytester.mkpydir("pkg")
    (pytester.path / "pkg/calc.py").write_text(BASE_CALC)
    (pytester.path / "test_calc.py").write_text(BASE_TEST)
    pytester.makepyprojecttoml(PYPROJECT)
    (pytester.path / ".gitignore").write_text("*.info\n*.desc\n.pytest_cache/\n__pycache__/\nhtml/\n*.md\n")
    git(pytester.path, "init", "-q", "-b", "main")
    git(pytester.path, "add", ".")
    git(pytester.path, "commit", "-q", "-m", "base")
    base = run_pytest(pytester, "--lcov=base.info")
    assert base.ret == 0, base.stdout.str()
    git(pytester.path, "checkout", "-q", "-b", "work")
    (pytester.path / "pkg/calc.py").write_text(CHANGED_CALC)
    (pytester.path / "test_calc.py").write_text(CHANGED_TEST)
    git(pytester.path, "commit", "-q", "-am", "change")
    return pytester


def categories_line(result: pytest.RunResult) -> str:
    [line] = [line for line in result.outlines if line.startswith("LCOV against ")]
    return line


def test_the_categories_are_said_in_one_line(change: pytest.Pytester) -> None:
    result = run_pytest(change, "--lcov", "--lcov-diff=main", "--lcov-baseline=base.info")
    assert result.ret == 0
    assert categories_line(result) == CATEGORIES_LINE


@pytest.mark.parametrize(
    ("fail_on", "status", "failure"),
    [
        ("GIC,UIC", 0, None),
        ("unc", 1, "FAIL lines UNC 1; branches UNC 1 (--lcov-fail-on=UNC)"),
        (
            "UNC,LBC",
            1,
            "FAIL lines UNC 1, LBC 2; branches UNC 1, LBC 1; functions LBC 1 (--lcov-fail-on=UNC,LBC)",
        ),
    ],
)
def test_fail_on_fails_the_run_on_any_of_its_categories(
    change: pytest.Pytester, fail_on: str, status: int, failure: str | None
) -> None:
    result = run_pytest(
        change, "--lcov", "--lcov-diff=main", "--lcov-baseline=base.info", f"--lcov-fail-on={fail_on}"
    )
    assert result.ret == status
    failed = [line for line in result.outlines if line.startswith("pytest-lcov: FAIL")]
    assert failed == ([f"pytest-lcov: {failure}"] if failure else [])


@pytest.mark.parametrize(
    ("baseline", "why"),
    [
        ("missing.info", "the baseline missing.info cannot be read: No such file or directory"),
        ("pyproject.toml", "the baseline pyproject.toml is not a tracefile: "),
        ("pkg", "the baseline pkg is not a regular file"),
    ],
)
def test_a_baseline_that_cannot_be_read_fails_the_gate_closed(
    change: pytest.Pytester, baseline: str, why: str
) -> None:
    before = (change.path / "pyproject.toml").read_bytes()
    result = run_pytest(
        change, "--lcov", "--lcov-diff=main", f"--lcov-baseline={baseline}", "--lcov-fail-on=UNC"
    )
    assert result.ret == 1
    [said] = [line for line in result.outlines if line.startswith("pytest-lcov: no differential coverage:")]
    assert said.startswith(f"pytest-lcov: no differential coverage: {why}")
    assert "pytest-lcov: FAIL differential categories UNC cannot be checked: no differential coverage" in (
        result.outlines
    )
    assert (change.path / "pyproject.toml").read_bytes() == before
    assert (change.path / "lcov.info").exists()  # the run's own tracefile is written all the same


def test_a_baseline_of_another_version_is_refused_in_one_line(change: pytest.Pytester) -> None:
    """A baseline whose pkg/calc.py has a line 30 (the base's has 12) was not written at the base."""
    base = change.path / "base.info"
    base.write_text(base.read_text().replace("DA:12,0\n", "DA:12,0\nDA:30,1\n"))
    result = run_pytest(
        change,
        "--lcov",
        "--lcov-diff=main",
        "--lcov-baseline=base.info",
        "--lcov-fail-on=UNC",
        "--lcov-table",
    )
    assert result.ret == 1
    [said] = [line for line in result.outlines if line.startswith("pytest-lcov: no differential coverage:")]
    assert said.startswith(
        "pytest-lcov: no differential coverage: the baseline base.info does not match the merge base of "
        "main: pkg/calc.py line 30 is past the end of its 12 lines at "
    )
    assert not [line for line in result.outlines if line.startswith(("LCOV against", "Against the baseline"))]


def test_no_tracefile_fails_the_gate_closed(change: pytest.Pytester) -> None:
    (change.path / "test_calc.py").write_text("import pytest\n\n\ndef test_x():\n    pytest.exit('stop')\n")
    result = run_pytest(
        change, "--lcov", "--lcov-diff=main", "--lcov-baseline=base.info", "--lcov-fail-on=UNC"
    )
    assert result.ret != 0
    assert "pytest-lcov: FAIL differential categories UNC cannot be checked: no tracefile" in result.outlines


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--lcov-fail-on=UNC"], "lcov_fail_on needs lcov_baseline"),
        (["--lcov-baseline=base.info"], "lcov_baseline needs lcov_diff"),
        (
            ["--lcov-diff=main", "--lcov-baseline=lcov.info"],
            "lcov_baseline is the tracefile this run writes: give the base's own tracefile, kept elsewhere",
        ),
        (
            ["--lcov-diff=main", "--lcov-baseline=base.info", "--lcov-fail-on=UNC,NEW"],
            "lcov_fail_on = ['UNC,NEW']: NEW is not a category; the categories are UNC, LBC, UIC",
        ),
    ],
)
def test_settings_that_cannot_work_stop_at_start_up(
    change: pytest.Pytester, args: list[str], refusal: str
) -> None:
    result = run_pytest(change, "--lcov", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert refusal in result.stderr.str()
    assert not (change.path / "lcov.info").exists()


def test_genhtml_2_makes_the_differential_report(
    change: pytest.Pytester, lcov2: LcovTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERL5LIB", lcov2.env["PERL5LIB"])  # where genhtml 2.x finds its Perl modules
    result = run_pytest(
        change, "--lcov", "--lcov-diff=main", "--lcov-baseline=base.info", "--lcov-html=html",
        f"--lcov-genhtml=perl {lcov2.bin_dir / 'genhtml'}",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    assert not [line for line in result.outlines if "genhtml:" in line], result.stdout.str()
    page = (change.path / "html/pkg/calc.py.gcov.html").read_text()
    # Each line's category is on the source page: line 7 (return 0) is UNC, line 12 LBC (its count
    # shown as "(1)", the baseline's), 14 UBC.
    assert _category_of(page, 7) == "UNC"
    assert _category_of(page, 12) == "LBC"
    assert _category_of(page, 14) == "UBC"
    assert _category_of(page, 1) == "CBC"
    assert "--baseline-file" in (change.path / "html/cmd_line").read_text()
    # Under review, every line has its age and owner: the commits' author, in the newest date bin.
    owners = (change.path / "html/index-bin_owner.html").read_text()
    assert "Click to go to coverage summary for owner 'pytest-lcov tests'" in owners
    assert "coverage summary for the period '[..7] days'" in (change.path / "html/index.html").read_text()


def test_genhtml_1_says_it_has_no_differential_report(change: pytest.Pytester, lcov1: LcovTools) -> None:
    result = run_pytest(
        change, "--lcov", "--lcov-diff=main", "--lcov-baseline=base.info", "--lcov-html=html",
        f"--lcov-genhtml={lcov1.bin_dir / 'genhtml'}",
    )  # fmt: skip
    assert result.ret == 0
    assert (
        "pytest-lcov: genhtml 1.x makes no differential report (lcov 2.x's genhtml does): "
        "the HTML report is of this run alone"
    ) in result.outlines
    assert (change.path / "html/index.html").exists()
    assert categories_line(result) == CATEGORIES_LINE


def test_the_job_summary_has_the_categories(change: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = change.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run_pytest(change, "--lcov", "--lcov-diff=main", "--lcov-baseline=base.info")
    assert result.ret == 0
    text = summary.read_text()
    assert (
        "| Against the baseline | UNC | LBC | UBC | GNC | CBC |\n"
        "| :-- | --: | --: | --: | --: | --: |\n"
        "| Lines | 1 | 2 | 2 | 3 | 4 |\n"
        "| Branches | 1 | 1 | 1 | 1 | 0 |\n"
        "| Functions | 0 | 1 | 1 | 1 | 1 |"
    ) in text


def _category_of(page: str, line: int) -> str:
    """The category genhtml 2.x gives source line `line` on its page (the span class tla<CAT>)."""
    match = re.search(rf'<span id="L{line}">.*?<span class="tla(\w+)[^>]*>\s*\(?\d+\)? :', page)
    assert match is not None, f"line {line} has no category on the page"
    return match.group(1)


def test_the_table_and_the_annotations_give_the_categories(
    change: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    args = ["--lcov-diff=main", "--lcov-baseline=base.info", "--lcov-table", "--lcov-annotations"]
    result = run_pytest(change, "--lcov", *args)
    assert result.ret == 0
    start = result.outlines.index("Against the baseline  UNC  LBC  UBC  GNC  CBC")
    assert result.outlines[start + 1 : start + 7] == [
        "---------------------------------------------",
        "pkg/calc.py             1    2    2    3    4",
        "TOTAL (lines)           1    2    2    3    4",
        "TOTAL (branches)        1    1    1    1    0",
        "TOTAL (functions)       0    1    1    1    1",
        "LCOV written to lcov.info: lines 7/12 (58.3%), functions 2/4 (50.0%), branches 1/4 (25.0%)",
    ]
    # Lines 12-13 (sub's if and its return) ran at the base only; line 7 is the change's, never run.
    assert [line for line in result.outlines if line.startswith("::warning")] == [
        "::warning file=pkg/calc.py,line=7,endLine=7,title=Not covered::"
        "line 7 changed but never run by the tests",
        "::warning file=pkg/calc.py,line=12,endLine=13,title=LBC::lines 12-13: ran at the base, not now "
        "(lost baseline coverage)",
    ]


def test_the_docs_example_is_what_the_run_prints(change: pytest.Pytester) -> None:
    """docs/change-coverage.md shows this very change: its lines must be the run's."""
    page = (Path(__file__).parent.parent / "docs/change-coverage.md").read_text(encoding="utf-8")
    block = page.split("<!-- baseline-example:", 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    command, _, *shown = block.splitlines()
    assert command == "$ pytest --lcov --lcov-diff=main --lcov-baseline=base.info --lcov-fail-on=UNC"
    result = run_pytest(change, *command.split()[2:])
    assert result.ret == 1
    assert [line for line in result.outlines if line.startswith(("LCOV", "pytest-lcov:"))] == shown


def test_blames_are_kept_in_pytests_cache_for_the_next_run(
    change: pytest.Pytester, lcov2: LcovTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pytest's cache, the blames are kept there, and the next run reads them."""
    monkeypatch.setenv("PERL5LIB", lcov2.env["PERL5LIB"])
    args = (
        "--lcov",
        "--lcov-diff=main",
        "--lcov-html=html",
        f"--lcov-genhtml=perl {lcov2.bin_dir / 'genhtml'}",
    )
    kept = change.path / ".pytest_cache/d/pytest-lcov-analysis/blame.json"
    for _ in range(2):  # the second run reads what the first kept
        result = change.runpytest_subprocess("-p", "no:hypothesispytest", *args)
        assert result.ret == 0, result.stdout.str()
        assert not [line for line in result.outlines if "genhtml:" in line or "age and owner" in line]
        assert kept.is_file()
        blames = [entry for entry in json.loads(kept.read_text()).values() if isinstance(entry, dict)]
        assert sorted(len(entry["lines"]) for entry in blames) == [0, CHANGED_CALC.count("\n")]  # both files
        owners = (change.path / "html/index-bin_owner.html").read_text()
        assert "Click to go to coverage summary for owner 'pytest-lcov tests'" in owners
