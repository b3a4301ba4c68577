"""Running real pytest sessions in a pytester folder and reading what they wrote."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import coverage
import pytest

from pytest_lcov.model import FileRecord, Totals
from pytest_lcov.tracefile import format_record, parse, safe_test_name

# coverage.py's sys.monitoring core: CPython 3.12+; it measures branches where CPython has
# BRANCH_LEFT/BRANCH_RIGHT (3.14+).
HAS_SYSMON = hasattr(sys, "monitoring")
SYSMON_BRANCHES = hasattr(getattr(getattr(sys, "monitoring", None), "events", None), "BRANCH_LEFT")

# Hypothesis' pytest plugin takes two thirds of a small session's start-up;
# sessions started by the tests never use it.
QUIET_PLUGINS = ("-p", "no:hypothesispytest")


# A pytest that Ctrl-C (SIGINT) stops, as a user's does, even when this process was started with
# SIGINT ignored (a background job of a shell without job control): Python leaves an ignored SIGINT
# ignored, in itself and in its children, so the interrupt would never reach the session.
INTERRUPTIBLE_PYTEST = (
    sys.executable,
    "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('pytest', run_name='__main__', alter_sys=True)",
)

# A plain pytest, and one under `coverage run`, as subprocess command lines.
PYTEST = (sys.executable, "-m", "pytest", *QUIET_PLUGINS, "-p", "no:cacheprovider")
COVERAGE_RUN_PYTEST = (
    sys.executable,
    "-m",
    "coverage",
    "run",
    "-m",
    "pytest",
    *QUIET_PLUGINS,
    "-p",
    "no:cacheprovider",
)


def missing_tool(message: str) -> NoReturn:
    """A real tool a test needs is not installed: skip here, fail under ``CI=true``.

    ``.ci/run`` installs every tool, so in CI a skip would hide a failure.
    """
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m pytest_lcov ...` in a fresh interpreter, as a CI step runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_lcov", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_refused(cwd: Path, args: Sequence[str | Path], *expected: str) -> str:
    """Run the command to a new and to an existing output; both must be refused cleanly.

    Refused means: exit code 2, one line on stderr holding each `expected`
    text and no traceback, the new output not created, the existing one
    untouched, and no temporary file left beside them.  Returns the line.
    """
    keep = cwd / "keep.info"
    keep.write_text("TN:kept\n", encoding="utf-8")
    before = sorted(path.name for path in cwd.iterdir())
    messages = []
    for output in ("new.info", "keep.info"):
        result = run_cli(*args, "-o", output, cwd=cwd)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        messages.append(result.stderr.strip())
    message = messages[0]
    for text in expected:
        assert text in message
    assert not (cwd / "new.info").exists()
    assert keep.read_text(encoding="utf-8") == "TN:kept\n"
    assert sorted(path.name for path in cwd.iterdir()) == before
    return message


def run_pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A real pytest in a fresh interpreter, so coverage starts as it would for a user."""
    return pytester.runpytest_subprocess(*QUIET_PLUGINS, "-p", "no:cacheprovider", *args)


def session_env(folder: Path) -> dict[str, str]:
    """The environment pytester gives its sessions: no PYTEST_ADDOPTS, HOME in the folder."""
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    return env | {"HOME": str(folder), "PY_COLORS": "0"}


def run_session(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`run_pytest` outside a test: a real pytest in `folder`, as pytester starts it.

    For module-scoped fixtures that run a session once for the tests that compare against it.
    """
    return subprocess.run(
        [*PYTEST, *args],
        cwd=folder,
        env=session_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )


def read_records(path: Path) -> dict[str, FileRecord]:
    """The tracefile's records by SF path (one section expected)."""
    return {p.record.path: p.record for p in parse(path.read_text(encoding="utf-8"), str(path))}


def summary_line(result: pytest.RunResult) -> str:
    [line] = [line for line in result.outlines if line.startswith("LCOV written to ")]
    return line


def coverage_json_files(folder: Path) -> dict[str, Any]:
    """Per-file data of `coverage json` for the `.coverage` file in `folder`.

    Made here as `coverage json` run in `folder` makes it (its configuration, paths
    relative to it), without starting an interpreter for the command.
    """
    with contextlib.chdir(folder):
        reporter = coverage.Coverage(messages=False)
        reporter.load()
        reporter.json_report(outfile="cov.json")
    files: dict[str, Any] = json.loads((folder / "cov.json").read_text())["files"]
    return files


def expected_totals(data: dict[str, Any]) -> tuple[Totals, int]:
    """The line and branch totals one file of `coverage json` implies for LCOV.

    Each branch line that ran but never left normally (every run raised) adds
    LCOV's exception branch, taken; returns the totals and that count.
    """
    executed_lines = set(data["executed_lines"])
    branch_lines = {src for src, _ in data["executed_branches"] + data["missing_branches"]}
    left_normally = {src for src, _ in data["executed_branches"]}
    raised = len((branch_lines & executed_lines) - left_normally)
    summary = data["summary"]
    totals = Totals(
        lines_found=summary["num_statements"],
        lines_hit=summary["covered_lines"],
        branches_found=summary.get("num_branches", 0) + raised,
        branches_hit=summary.get("covered_branches", 0) + raised,
    )
    return totals, raised


def lines_and_branches(totals: Totals) -> tuple[int, int, int, int]:
    return (totals.lines_found, totals.lines_hit, totals.branches_found, totals.branches_hit)


def dumps(sections: Iterable[tuple[str, Iterable[FileRecord]]], dialect: str = "compat") -> str:
    """A whole tracefile as text; `sections` pairs test names with records."""
    return "".join(
        f"TN:{safe_test_name(name)}\n" + "".join(format_record(record, dialect) for record in records)
        for name, records in sections
    )


# Test commits: an identity, unsigned, on `main`, bytes as written.
GIT_IDENTITY = (
    *("-c", "user.name=pytest-lcov tests", "-c", "user.email=tests@example.invalid"),
    *("-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false"),
    *("-c", "protocol.file.allow=always"),
)


def git(folder: Path, *args: str) -> str:
    """Run git in `folder` with a test identity; its output (a failure is the test's, with git's words)."""
    result = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def commit_base_then_change(folder: Path, ignored: str, changes: dict[str, str]) -> None:
    """Commit `folder` as it is on `main`, then `changes` (path: text) on a branch `work` checked out."""
    (folder / ".gitignore").write_text(ignored)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "base")
    git(folder, "checkout", "-q", "-b", "work")
    for name, text in changes.items():
        (folder / name).write_text(text)
    git(folder, "commit", "-q", "-am", "change")
