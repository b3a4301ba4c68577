"""Coverage of the change (``--lcov-diff``), its gates, the job summary and annotations, in real sessions."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import commit_base_then_change, run_pytest

BASE_MOD = "def f(x):\n    if x > 0:\n        return 1\n    return 0\n"
# The change adds g (lines 7-10): the test calls g(1), so line 10 never runs and the
# `if` on line 8 never takes its way to line 10.
CHANGED_MOD = BASE_MOD + "\n\ndef g(x):\n    if x > 0:\n        return 2\n    return -2\n"
TEST = "from pkg.mod import f, g\n\n\ndef test_f():\n    assert f(1) == 1\n    assert g(1) == 2\n"
PYPROJECT = '[tool.coverage.run]\nsource = ["pkg"]\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A checkout on a branch `work` whose change to pkg/mod.py adds g, half tested."""
    pytester.mkpydir("pkg")
    pytester.path.joinpath("pkg/mod.py").write_text(BASE_MOD)
    pytester.path.joinpath("test_mod.py").write_text(
        TEST.replace(", g", "").replace("    assert g(1) == 2\n", "")
    )
    pytester.makepyprojecttoml(PYPROJECT)
    ignored = "lcov.info\n.pytest_cache/\n__pycache__/\nsummary.md\n"
    commit_base_then_change(pytester.path, ignored, {"pkg/mod.py": CHANGED_MOD, "test_mod.py": TEST})
    return pytester


def diff_line(result: pytest.RunResult) -> str:
    [line] = [line for line in result.outlines if line.startswith("LCOV diff coverage")]
    return line


def test_the_change_is_measured_and_its_missing_lines_named(repo: pytest.Pytester) -> None:
    result = run_pytest(repo, "--lcov", "--lcov-branch", "--lcov-diff=main")
    assert result.ret == 0
    # Changed statements: 7 (def g), 8, 9, 10; 10 never ran; line 8 never went to 10.
    assert diff_line(result) == (
        "LCOV diff coverage since main: 3/4 changed lines (75.0%); branch lines partly missed: 1; "
        "not run: pkg/mod.py:10"
    )


def test_uncommitted_and_untracked_changes_count(repo: pytest.Pytester) -> None:
    repo.path.joinpath("pkg/extra.py").write_text("def h():\n    return 3\n")  # untracked, never imported
    result = run_pytest(repo, "--lcov", "--lcov-diff=main")
    # Never imported: its def line did not run either.
    assert "not run: pkg/extra.py:1-2 pkg/mod.py:10" in diff_line(result)
    assert "3/6 changed lines (50.0%)" in diff_line(result)


@pytest.mark.parametrize(
    ("gate", "status"),
    [
        (["--lcov-fail-under-diff=75"], 0),
        (["--lcov-fail-under-diff=75.1"], 1),
        (["--lcov-max-uncovered-diff-lines=1"], 0),
        (["--lcov-max-uncovered-diff-lines=0"], 1),
    ],
)
def test_the_change_gates(repo: pytest.Pytester, gate: list[str], status: int) -> None:
    result = run_pytest(repo, "--lcov", "--lcov-diff=main", *gate)
    assert result.ret == status
    failures = [line for line in result.outlines if line.startswith("pytest-lcov: FAIL")]
    assert len(failures) == status
    if status and "fail-under" in gate[0]:
        assert failures == ["pytest-lcov: FAIL diff coverage 75.0% is under --lcov-fail-under-diff=75.1"]
    elif status:
        assert failures == [
            "pytest-lcov: FAIL 1 changed lines never ran, more than --lcov-max-uncovered-diff-lines=0"
        ]


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("no-such-branch", "unknown git ref 'no-such-branch'"),
        ("main", "is not in a git checkout"),
    ],
    ids=["unknown-ref", "not-a-checkout"],
)
def test_a_change_that_cannot_be_measured_fails_its_gate(repo: pytest.Pytester, ref: str, why: str) -> None:
    if why.endswith("checkout"):
        subprocess.run(["rm", "-rf", str(repo.path / ".git")], check=True)
    result = run_pytest(repo, "--lcov", f"--lcov-diff={ref}", "--lcov-fail-under-diff=0")
    assert result.ret == 1
    [reason] = [line for line in result.outlines if line.startswith("pytest-lcov: no diff coverage: ")]
    assert why in reason
    assert "pytest-lcov: FAIL diff coverage cannot be checked: no diff coverage" in result.outlines
    assert (repo.path / "lcov.info").is_file()  # the run's own report is written all the same


def test_a_change_gate_needs_a_ref(repo: pytest.Pytester) -> None:
    result = run_pytest(repo, "--lcov", "--lcov-fail-under-diff=90")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line] == [
        "ERROR: pytest-lcov: lcov_fail_under_diff needs lcov_diff: the git ref the change is measured from"
    ]


@pytest.mark.parametrize("extra", [["-n", "2"], ["--lcov-per-test"]], ids=["xdist", "per-test"])
def test_the_change_under_xdist_and_per_test(repo: pytest.Pytester, extra: list[str]) -> None:
    result = run_pytest(repo, "--lcov", "--lcov-branch", "--lcov-diff=main", *extra)
    assert result.ret == 0
    assert diff_line(result).startswith("LCOV diff coverage since main: 3/4 changed lines (75.0%)")


def test_the_job_summary(repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = repo.path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert run_pytest(repo, "--lcov", "--lcov-branch", "--lcov-diff=main").ret == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, never replaced
    assert "Coverage \\(pytest\\-lcov\\)" in text
    table_rows = [line for line in text.splitlines() if line.startswith("|")]
    assert table_rows and all(row.count("|") == table_rows[0].count("|") for row in table_rows[:3])
    assert "pkg/mod.py" in text and "10" in text


def test_the_job_summary_can_be_turned_off(repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = repo.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert run_pytest(repo, "--lcov", "--lcov-no-job-summary").ret == 0
    assert not summary.exists()


def test_a_failed_report_says_so_on_the_job_page(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = repo.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run_pytest(repo, "--lcov", "--lcov-diff=main", "--lcov-source=no_such_package")  # no data
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the tracefile asked for is missing
    text = summary.read_text()
    assert "no tracefile written" in text and "|" not in text  # the reason, no numbers


def test_annotations_for_changed_lines_that_never_ran(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run_pytest(repo, "--lcov", "--lcov-diff=main", "--lcov-annotations")
    commands = [line for line in result.outlines if line.startswith("::warning ")]
    assert len(commands) == 1
    assert commands[0].startswith("::warning file=pkg/mod.py,line=10,endLine=10,")
    monkeypatch.delenv("GITHUB_ACTIONS")
    quiet = run_pytest(repo, "--lcov", "--lcov-diff=main", "--lcov-annotations")
    assert not [line for line in quiet.outlines if line.startswith("::")]  # only under GitHub Actions
