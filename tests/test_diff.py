"""Diff coverage: changed lines of real git repositories, met with records, checked against diff-cover.

Every repository here is made with real git and real commits in a tmp
folder; expected line numbers are worked out by hand from the files the
tests write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import hypothesis
import pytest
from hypothesis import strategies as st

from pytest_lcov.diff import (
    ChangedLines,
    DiffCoverage,
    DiffError,
    FileDiffCoverage,
    changed_lines,
    diff_coverage,
    escape_property,
    github_annotations,
    parse_diff,
    summary_line,
)
from pytest_lcov.model import BranchRecord, FileRecord, format_ranges, line_spans
from pytest_lcov.tracefile import parse
from tests.consumer_tools import venv_tool
from tests.helpers import git

SHALLOW_HINT = "fetch more history: git fetch --unshallow, or fetch-depth: 0"


@pytest.fixture(autouse=True)
def plain_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration, and no repository above the tmp folder."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def write(repo: Path, name: str, text: str | bytes) -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def numbered(count: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {n}\n" for n in range(1, count + 1))


def new_repo(path: Path, files: Mapping[str, str | bytes]) -> Path:
    """A repository with `files` committed on main and a branch `feature` checked out."""
    path.mkdir()
    git(path, "init", "-q")
    for name, text in files.items():
        write(path, name, text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")
    git(path, "checkout", "-q", "-b", "feature")
    return path


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def lines_by_name(changed: ChangedLines) -> dict[str, list[int]]:
    return {changed.relative(path): sorted(lines) for path, lines in changed.items()}


# --- which lines changed ------------------------------------------------------------------------


def test_added_and_changed_lines_on_a_branch(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"mod.py": numbered(6), "same.py": "x = 1\n"})
    # line 2 changed, line 4 deleted, two lines added after line 6 (now lines 6 and 7)
    write(repo, "mod.py", "line 1\nLINE 2\nline 3\nline 5\nline 6\nadded 1\nadded 2\n")
    commit(repo)
    changed = changed_lines("main", repo)
    assert lines_by_name(changed) == {"mod.py": [2, 6, 7]}
    assert changed.root == str(repo.resolve())
    assert changed.ref == "main"
    assert changed.base == git(repo, "rev-parse", "main").strip()
    assert list(changed) == [str(repo.resolve() / "mod.py")]


def test_the_change_starts_at_the_merge_base_not_at_the_ref_tip(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"mine.py": numbered(2), "theirs.py": numbered(2)})
    write(repo, "mine.py", numbered(3))
    commit(repo, "mine")
    git(repo, "checkout", "-q", "main")
    write(repo, "theirs.py", numbered(5))  # main moved on: not part of the branch's change
    commit(repo, "theirs")
    git(repo, "checkout", "-q", "feature")
    assert lines_by_name(changed_lines("main", repo)) == {"mine.py": [3]}


def test_a_renamed_file_counts_only_its_edited_lines_under_the_new_name(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"old.py": numbered(20)})
    git(repo, "mv", "old.py", "new.py")
    write(repo, "new.py", numbered(20).replace("line 7\n", "line seven\n"))
    commit(repo)
    assert lines_by_name(changed_lines("main", repo)) == {"new.py": [7]}


def test_a_deleted_file_counts_nothing(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"gone.py": numbered(5), "kept.py": numbered(1)})
    git(repo, "rm", "-q", "gone.py")
    commit(repo)
    assert lines_by_name(changed_lines("main", repo)) == {}


def test_binary_files_are_skipped(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"data.bin": b"\x00\x01\x02\n"})
    write(repo, "data.bin", b"\x00\x01\x03\nmore\n")
    write(repo, "new.bin", b"PK\x00\x00\n\n\n")
    commit(repo)
    write(repo, "untracked.bin", b"\x00" * 10 + b"\n\n")
    assert lines_by_name(changed_lines("main", repo)) == {}


def test_symbolic_links_are_no_files_of_their_own(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"real.py": numbered(3), "old_link.py": b""})
    (repo / "old_link.py").unlink()
    (repo / "old_link.py").symlink_to("real.py")  # a file that becomes a link
    (repo / "alias.py").symlink_to("real.py")  # a new link
    commit(repo)
    (repo / "untracked_alias.py").symlink_to("real.py")
    assert lines_by_name(changed_lines("main", repo)) == {}


def test_untracked_files_count_all_their_lines_unless_ignored(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {".gitignore": "ignored.py\nbuild/\n"})
    write(repo, "fresh.py", "a\nb\nc\n")
    write(repo, "no_newline.py", "a\nb")  # a last line without a newline is a line
    write(repo, "empty.py", "")
    write(repo, "ignored.py", "a\n")
    write(repo, "build/out.py", "a\n")
    write(repo, "pkg/deep.py", "a\r\nb\r\n")  # CRLF: two lines
    (repo / "nested").mkdir()
    git(repo / "nested", "init", "-q")  # a repository inside: listed as "nested/", not a file
    write(repo, "nested/inner.py", "a\n")
    assert lines_by_name(changed_lines("main", repo)) == {
        "fresh.py": [1, 2, 3],
        "no_newline.py": [1, 2],
        "pkg/deep.py": [1, 2],
    }


def test_staged_and_unstaged_edits_count_with_the_working_trees_numbers(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": numbered(10), "b.py": numbered(3)})
    write(repo, "a.py", numbered(10) + "committed 11\ncommitted 12\n")
    commit(repo)
    write(repo, "b.py", numbered(3) + "staged 4\n")
    git(repo, "add", "b.py")
    # unstaged: two lines inserted at the top of a.py move its committed lines 11-12 to 13-14
    write(repo, "a.py", "top 1\ntop 2\n" + numbered(10) + "committed 11\ncommitted 12\n")
    assert lines_by_name(changed_lines("main", repo)) == {"a.py": [1, 2, 13, 14], "b.py": [4]}


def test_an_edit_undone_before_committing_is_no_change(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": numbered(3)})
    write(repo, "a.py", "line 1\nEDIT\nline 3\n")
    commit(repo)
    write(repo, "a.py", numbered(3))  # back as on main, not committed
    assert lines_by_name(changed_lines("main", repo)) == {}


def test_names_with_spaces_tabs_quotes_and_non_ascii(tmp_path: Path) -> None:
    names = ["with space.py", "tab\there é.py", 'quote"and\\back.py', "日本/ü ber.py", " lead.py"]
    repo = new_repo(tmp_path / "repo", {name: numbered(10) for name in names})
    for name in names:
        write(repo, name, numbered(10).replace("line 2\n", "changed\n"))
    git(repo, "mv", "with space.py", "renamed space é.py")
    commit(repo)
    write(repo, "untracked ü\tname.py", "x\n")
    expected = {name: [2] for name in names if name != "with space.py"}
    expected["renamed space é.py"] = [2]
    expected["untracked ü\tname.py"] = [1]
    assert lines_by_name(changed_lines("main", repo)) == expected


def test_crlf_and_no_newline_at_end_of_file(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"crlf.py": "a\r\nb\r\nc\r\n", "tail.py": "a\nb"})
    write(repo, "crlf.py", "a\r\nB\r\nc\r\nd\r\n")  # 2 changed, 4 added
    write(repo, "tail.py", "a\nB")  # the last line changed, still without a newline
    write(repo, "cr.py", "one\rstill line one\n")  # a lone CR ends no line
    commit(repo)
    assert lines_by_name(changed_lines("main", repo)) == {"cr.py": [1], "crlf.py": [2, 4], "tail.py": [2]}


def test_added_lines_that_look_like_diff_headers_stay_lines_of_their_file(tmp_path: Path) -> None:
    # In the diff, the removed line reads "--- a/y" and the first added one "+++ b/evil.py".
    repo = new_repo(tmp_path / "repo", {"tricky.txt": "start\n-- a/y\n"})
    write(repo, "tricky.txt", "start\n++ b/evil.py\ndiff --git a/x b/x\n@@ -1 +1,9 @@\n")
    commit(repo)
    assert lines_by_name(changed_lines("main", repo)) == {"tricky.txt": [2, 3, 4]}


def test_submodules_are_skipped(tmp_path: Path) -> None:
    inner = new_repo(tmp_path / "inner", {"f.py": "x\n"})
    repo = new_repo(tmp_path / "repo", {"a.py": "x\n"})
    git(repo, "submodule", "add", "-q", inner.as_uri(), "sub")
    commit(repo, "add a submodule")
    write(inner, "f.py", "x\ny\n")
    commit(inner)
    git(repo / "sub", "pull", "-q", "origin", "feature")  # the submodule moves on, uncommitted
    # .gitmodules is a new text file of 3 lines; the submodule itself is no file of this repository
    assert lines_by_name(changed_lines("main", repo)) == {".gitmodules": [1, 2, 3]}
    # Even in a diff that shows the submodule ("+Subproject commit ..."), its entry is skipped.
    shown = subprocess.run(["git", "diff", "--unified=0", "main"], cwd=repo, capture_output=True, check=True)
    assert b"+Subproject commit" in shown.stdout
    assert parse_diff(shown.stdout, str(repo)) == {str(repo / ".gitmodules"): {1, 2, 3}}


def test_the_users_git_configuration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(
        tmp_path / "repo", {"a b é.py": numbered(30), "old.py": numbered(10), "pkg/m.py": numbered(20)}
    )
    write(repo, "a b é.py", numbered(30).replace("line 5\n", "five\n").replace("line 9\n", "nine\n"))
    git(repo, "mv", "old.py", "new.py")
    write(repo, "pkg/m.py", numbered(20).replace("line 7\n", "\n"))  # a blank line, as context would show it
    commit(repo)
    expected = {"a b é.py": [5, 9], "pkg/m.py": [7]}
    assert lines_by_name(changed_lines("main", repo)) == expected
    hostile = tmp_path / "gitconfig"
    hostile.write_text(
        "[core]\n\tquotePath = false\n\tpager = false\n"
        "[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n\trelative = true\n\trenames = false\n"
        "\tcontext = 7\n\tinterHunkContext = 9\n\tsuppressBlankEmpty = true\n\texternal = false\n"
        "[color]\n\tui = always\n\tdiff = always\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(hostile))
    assert lines_by_name(changed_lines("main", repo)) == expected
    assert lines_by_name(changed_lines("main", repo / "pkg")) == expected  # diff.relative would drop a.py


def test_it_works_from_a_subfolder_and_paths_are_absolute(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"pkg/mod.py": numbered(2)})
    write(repo, "pkg/mod.py", numbered(3))
    commit(repo)
    changed = changed_lines("main", repo / "pkg")
    assert dict(changed) == {str(repo.resolve() / "pkg" / "mod.py"): frozenset({3})}


# --- when the change cannot be known ------------------------------------------------------------


def test_an_unknown_ref_is_one_line(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": "x\n"})
    with pytest.raises(DiffError) as caught:
        changed_lines("no-such-branch", repo)
    assert str(caught.value) == "unknown git ref 'no-such-branch': no commit of that name"


def test_a_ref_that_reads_like_an_option_is_refused(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": "x\n"})
    with pytest.raises(DiffError, match=r"^unknown git ref '--output=x'$"):
        changed_lines("--output=x", repo)
    assert not (repo / "x").exists()


def test_not_a_git_checkout(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(DiffError) as caught:
        changed_lines("main", plain)
    assert str(caught.value) == f"{plain} is not in a git checkout"
    with pytest.raises(DiffError) as caught:
        changed_lines("main", tmp_path / "nowhere")  # not "git is not installed", as running git there says
    assert str(caught.value) == f"{tmp_path / 'nowhere'} is not a folder"


def test_git_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": "x\n"})
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(DiffError) as caught:
        changed_lines("main", repo)
    assert str(caught.value) == "git is not installed (no git command on PATH)"


def shallow_clone(tmp_path: Path) -> Path:
    """origin: main A-B, feature A-C; a depth-1 clone of feature holds C and nothing before it."""
    origin = new_repo(tmp_path / "origin", {"a.py": numbered(3)})
    write(origin, "a.py", numbered(4))
    commit(origin, "C")
    git(origin, "checkout", "-q", "main")
    write(origin, "b.py", "x\n")
    commit(origin, "B")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", origin.as_uri(), str(clone))
    return clone


def test_a_shallow_clone_without_the_merge_base_says_to_fetch_history(tmp_path: Path) -> None:
    clone = shallow_clone(tmp_path)
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    with pytest.raises(DiffError) as caught:
        changed_lines("origin/main", clone)
    assert (
        str(caught.value)
        == f"the merge base of origin/main and HEAD is not in this shallow clone: {SHALLOW_HINT}"
    )
    git(clone, "fetch", "-q", "--unshallow", "origin", "main:refs/remotes/origin/main")  # as the message says
    assert lines_by_name(changed_lines("origin/main", clone)) == {"a.py": [4]}


def test_a_ref_a_shallow_clone_never_fetched_gets_the_same_hint(tmp_path: Path) -> None:
    clone = shallow_clone(tmp_path)
    with pytest.raises(DiffError) as caught:
        changed_lines("origin/main", clone)
    assert str(caught.value) == (
        f"unknown git ref 'origin/main': no commit of that name (this is a shallow clone: {SHALLOW_HINT})"
    )


def test_unrelated_histories(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": "x\n"})
    git(repo, "checkout", "-q", "--orphan", "other")
    commit(repo, "a root of its own")
    with pytest.raises(DiffError, match=r"^main and HEAD have no commit in common$"):
        changed_lines("main", repo)


def test_any_other_git_failure_is_its_first_line(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": "content only the base has\n"})
    write(repo, "a.py", "new\n")
    commit(repo)
    blob = git(repo, "rev-parse", "main:a.py").strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # the base's blob is gone
    with pytest.raises(DiffError) as caught:
        changed_lines("main", repo)
    message = str(caught.value)
    assert message.startswith("git diff failed: ")
    assert blob in message
    assert "\n" not in message


def test_a_git_that_hangs_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The one stand-in for git here: a real one never hangs on demand.
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    started = time.monotonic()
    with pytest.raises(DiffError, match=r"^git rev-parse did not finish within 0\.5 s$"):
        changed_lines("main", tmp_path, timeout=0.5)
    assert time.monotonic() - started < 10


# --- meeting the change with records ------------------------------------------------------------


def record(path: str, lines: dict[int, int], branches: list[BranchRecord] | None = None) -> FileRecord:
    return FileRecord(path, lines=lines, branches=branches or [])


def hand_checked_case(root: Path) -> DiffCoverage:
    """pkg/a.py: statements 1 2 4 5 6 9 10; 4, 5 and 9 never ran; line 6 ran, one way out never taken."""
    a = record(
        "pkg/a.py",
        {1: 1, 2: 1, 4: 0, 5: 0, 6: 1, 9: 0, 10: 1},
        [
            BranchRecord(4, 0, 0, None),
            BranchRecord(4, 0, 1, None),
            BranchRecord(6, 0, 0, 1),
            BranchRecord(6, 0, 1, 0),
        ],
    )
    b = record("pkg/b.py", {1: 1, 2: 0})
    records = {str(root / "pkg/a.py"): a, str(root / "pkg/b.py"): b, str(root / "pkg/c.py"): b}
    changed = {
        str(root / "pkg/b.py"): {1},
        str(root / "README.md"): {1, 2},  # not measured: not counted
        str(root / "pkg/a.py"): {2, 3, 4, 5, 6, 9, 11},  # 3 and 11 are no statements
    }
    return diff_coverage(changed, records, lambda path: os.path.relpath(path, root).replace(os.sep, "/"))


def test_diff_coverage_by_hand(tmp_path: Path) -> None:
    result = hand_checked_case(tmp_path)
    assert [entry.name for entry in result.files] == ["pkg/a.py", "pkg/b.py"]
    a, b = result.files
    assert a.statements == (2, 4, 5, 6, 9)
    assert a.missing == (4, 5, 9)
    assert a.covered == 2
    assert a.partial == (6,)  # line 4's ways out were never taken either, but it never ran: it is missing
    assert a.missing_ranges == "4-5,9"  # 6 ran between 5 and 9: two ranges
    assert (b.statements, b.missing, b.partial) == ((1,), (), ())
    assert (result.statements, result.covered, result.missing, result.partial) == (6, 3, 3, 1)
    assert result.rate == 50.0
    assert result.percent == "50.0"
    assert result.missing_by_file() == ["pkg/a.py:4-5,9"]
    assert result.partial_by_file() == ["pkg/a.py:6"]
    assert not result.under(50)
    assert result.under(50.01)
    assert summary_line(result) == "diff coverage: 3/6 changed lines (50.0%); branch lines partly missed: 1"


def test_rates_round_as_lcov_does_and_an_empty_change_passes_any_gate() -> None:
    def files(statements: int, missing: int) -> DiffCoverage:
        lines = tuple(range(1, statements + 1))
        entry = FileDiffCoverage("/r/a.py", "a.py", lines, lines[:missing], (), ((1, missing),))
        return DiffCoverage((entry,), "main")

    assert files(2000, 1).percent == "99.9"  # 99.95 is not 100.0 while a line is missing
    assert files(2000, 1).rate == 99.95
    assert files(2000, 1999).percent == "0.1"
    empty = DiffCoverage(())
    assert (empty.rate, empty.percent, empty.under(100)) == (None, "-", False)
    assert summary_line(DiffCoverage((), "origin/main")) == (
        "diff coverage since origin/main: no changed line is a measured statement"
    )


def test_records_are_found_through_a_symbolic_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "pkg").mkdir(parents=True)
    (real / "pkg" / "m.py").write_text("x = 1\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    records = {str(link / "pkg" / "m.py"): record("pkg/m.py", {1: 0})}  # the plugin saw the link
    result = diff_coverage(
        {str(real / "pkg" / "m.py"): {1}}, records, os.path.basename
    )  # git names the real path
    assert result.missing_by_file() == ["m.py:1"]


def test_line_ranges() -> None:
    assert format_ranges([9, 4, 5]) == "4-5,9"
    assert format_ranges([]) == ""
    assert format_ranges([4, 7]) == "4,7"
    assert format_ranges([4, 7], statements=[3, 4, 7, 8]) == "4-7"  # 5 and 6 are not statements
    assert format_ranges([4, 8], statements=[3, 4, 7, 8]) == "4,8"  # 7 is a statement between them
    assert line_spans([1, 2, 3, 10]) == [(1, 3), (10, 10)]
    assert format_ranges([9, 4, 5], separator=", ") == "4-5, 9"


@hypothesis.given(st.sets(st.integers(1, 60), max_size=40), st.data())
def test_missing_ranges_read_as_coverage_py_writes_them(statements: set[int], data: st.DataObject) -> None:
    """The table's missing lines: the same text as coverage.py's term-missing for the same file."""
    from coverage.results import format_lines

    missed = data.draw(st.sets(st.sampled_from(sorted(statements)))) if statements else set()
    assert format_ranges(missed, statements, separator=", ") == format_lines(statements, missed)


# --- GitHub annotations -------------------------------------------------------------------------


def one_file(root: Path, name: str, spans: tuple[tuple[int, int], ...]) -> DiffCoverage:
    missing = tuple(line for first, last in spans for line in range(first, last + 1))
    return DiffCoverage((FileDiffCoverage(str(root / name), name, missing, missing, (), spans),))


def test_annotations_escape_names_and_group_ranges(tmp_path: Path) -> None:
    result = one_file(tmp_path, "dir, with: 100%\nx.py", ((4, 5), (9, 9)))
    assert github_annotations(result, str(tmp_path)) == [
        "::warning file=dir%2C with%3A 100%25%0Ax.py,line=4,endLine=5,title=Not covered::"
        "lines 4-5 changed but never run by the tests",
        "::warning file=dir%2C with%3A 100%25%0Ax.py,line=9,endLine=9,title=Not covered::"
        "line 9 changed but never run by the tests",
    ]
    assert escape_property("a\r\nb") == "a%0D%0Ab"


def test_annotations_name_files_from_the_repository_root_with_slashes(tmp_path: Path) -> None:
    result = one_file(tmp_path, os.path.join("pkg", "sub", "m.py"), ((1, 1),))
    [command] = github_annotations(result, str(tmp_path))
    assert command.startswith("::warning file=pkg/sub/m.py,line=1,endLine=1,")


def test_annotations_are_capped_with_a_note_of_what_was_left_out(tmp_path: Path) -> None:
    result = one_file(tmp_path, "m.py", tuple((line, line) for line in range(1, 24, 2)))  # 12 ranges
    commands = github_annotations(result, str(tmp_path), limit=10)
    assert len(commands) == 10
    assert commands[8].startswith("::warning file=m.py,line=17,endLine=17,")
    assert (
        commands[9]
        == "::warning title=Not covered::3 more ranges of changed lines never run are not annotated"
    )
    assert len(github_annotations(result, str(tmp_path), limit=12)) == 12


# --- against diff-cover, with a real pytest session ---------------------------------------------


def clean_env() -> dict[str, str]:
    """This run's environment without what would make the inner pytest a worker or a measured child."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COVERAGE_", "PYTEST_XDIST_", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST"))
    }


def diff_cover_command() -> str:
    """diff-cover from the consumers' folder (.ci/install-consumers), as the consumer tests use it."""
    return str(venv_tool("diff-cover"))


PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def run_checked(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


PROJECT = {
    ".gitignore": "__pycache__/\n.pytest_cache/\nlcov.info\n.coverage*\nreport.json\n",
    "pyproject.toml": '[tool.coverage.run]\nsource = ["pkg"]\n',
    "pkg/__init__.py": "",
    "pkg/calc.py": (
        "def add(a, b):\n"  # 1
        "    return a + b\n"  # 2
        "\n"  # 3
        "\n"  # 4
        "def sign(x):\n"  # 5
        "    if x > 0:\n"  # 6
        "        return 1\n"  # 7
        "    return -1\n"  # 8
    ),
    "pkg/shape.py": "".join(f"def f{n}():\n    return {n}\n\n\n" for n in range(1, 6)),
    "pkg/gone.py": "def gone():\n    return 0\n",
    "tests/test_calc.py": "from pkg.calc import add, sign\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


def make_change(repo: Path) -> None:
    """A branch with every kind of change, committed, staged, unstaged and untracked."""
    # committed: line 2 of calc.py changed, scale() added at 9-14
    write(
        repo,
        "pkg/calc.py",
        PROJECT["pkg/calc.py"].replace("return a + b", "return b + a")
        + "\n\ndef scale(x, k):\n    if k == 0:\n        return 0\n    return x * k\n",
    )
    git(repo, "mv", "pkg/shape.py", "pkg/shapes.py")  # renamed with an edit of line 6 (f2's body)
    write(repo, "pkg/shapes.py", PROJECT["pkg/shape.py"].replace("return 2", "return 2 * 1"))
    git(repo, "rm", "-q", "pkg/gone.py")
    write(repo, "pkg/added.py", "def added(flag):\n    if flag:\n        return 1\n    return 2\n")
    write(
        repo,
        "tests/test_calc.py",
        PROJECT["tests/test_calc.py"]
        + "\n\ndef test_more():\n"
        + "    from pkg.added import added\n    from pkg.calc import scale\n    from pkg.shapes import f2\n"
        + "    assert added(True) == 1\n    assert scale(2, 3) == 6\n    assert f2() == 2\n",
    )
    commit(repo, "feature")
    # staged: a function appended to added.py (lines 5-8)
    write(
        repo,
        "pkg/added.py",
        "def added(flag):\n    if flag:\n        return 1\n    return 2\n\n\ndef more():\n    return 3\n",
    )
    git(repo, "add", "pkg/added.py")
    # unstaged: a function appended to shapes.py (lines 21-22), after its committed edit
    write(repo, "pkg/shapes.py", (repo / "pkg/shapes.py").read_text() + "def f6():\n    return 6\n")
    # untracked: a module and a test that uses part of it
    write(repo, "pkg/extra.py", "def used():\n    return 1\n\n\ndef unused():\n    return 2\n")
    write(
        repo,
        "tests/test_extra.py",
        "from pkg.extra import used\n\n\ndef test_used():\n    assert used() == 1\n",
    )


def test_agrees_with_diff_cover_on_the_same_tracefile_and_change(tmp_path: Path) -> None:
    command = diff_cover_command()
    repo = new_repo(tmp_path / "repo", PROJECT)
    make_change(repo)
    run_checked([*PYTEST, "--lcov", "--lcov-branch"], repo)
    # --include-untracked: diff-cover, like changed_lines, then counts every line of untracked files.
    # What differs (see pytest_lcov.diff) is kept out of this change: the uncommitted edits come after
    # the committed ones in each file (test_where_diff_cover_differs shows the other case), the
    # untracked files are UTF-8 with LF endings, and partly missed branches are compared by hand only.
    run_checked(
        [
            command,
            "lcov.info",
            "--compare-branch=main",
            "--include-untracked",
            "--format",
            "json:report.json",
        ],
        repo,
    )
    report = json.loads((repo / "report.json").read_text())
    stats = report["src_stats"]
    theirs = {
        name: entry for name, entry in stats.items() if entry["violation_lines"] or entry["covered_lines"]
    }

    changed = changed_lines("main", repo)
    parsed = parse((repo / "lcov.info").read_text(encoding="utf-8"))
    records = {os.path.join(changed.root, entry.record.path): entry.record for entry in parsed}
    ours = diff_coverage(changed, records, changed.relative)

    mine = {entry.name: entry for entry in ours.files}
    assert {name: sorted(stats["violation_lines"]) for name, stats in theirs.items()} == {
        name: list(entry.missing) for name, entry in mine.items() if entry.statements
    }
    assert {name: sorted(stats["covered_lines"]) for name, stats in theirs.items()} == {
        name: sorted(set(entry.statements) - set(entry.missing))
        for name, entry in mine.items()
        if entry.statements
    }
    # And by hand: what the tests ran of each change.
    assert ours.missing_by_file() == [
        "pkg/added.py:4,8",  # return 2 (flag never false), more() never called
        "pkg/calc.py:13",  # scale(2, 3): k == 0 never
        "pkg/extra.py:6",  # untracked; unused() never called
        "pkg/shapes.py:22",  # unstaged f6(), never called
    ]
    assert ours.partial_by_file() == [
        "pkg/added.py:2",
        "pkg/calc.py:12",
    ]  # diff-cover has no such notion for LCOV
    assert (ours.statements, ours.covered) == (18, 13)
    assert (report["total_num_lines"], report["total_num_violations"]) == (18, 5)


def test_where_diff_cover_differs_uncommitted_lines_above_committed_ones(tmp_path: Path) -> None:
    """diff-cover adds its committed, staged and unstaged diffs by line number, each counted in
    another version of the file: two lines inserted above a committed function shift it in the
    working tree, and diff-cover reports lines of the old numbering.  One diff against the merge
    base has one numbering: the working tree's, which the tracefile's numbers are in.
    """
    command = diff_cover_command()
    repo = new_repo(tmp_path / "repo", PROJECT)
    write(
        repo,
        "pkg/calc.py",
        PROJECT["pkg/calc.py"] + "\n\ndef scale(x, k):\n    if k == 0:\n        return 0\n",
    )
    commit(repo)
    write(repo, "pkg/calc.py", "import os\nX = 1\n" + (repo / "pkg/calc.py").read_text())  # not committed
    run_checked([*PYTEST, "--lcov"], repo)
    run_checked([command, "lcov.info", "--compare-branch=main", "--format", "json:report.json"], repo)
    theirs = json.loads((repo / "report.json").read_text())["src_stats"]["pkg/calc.py"]["violation_lines"]
    changed = changed_lines("main", repo)
    # The working tree: import os, X = 1 (1-2), add (3-4), sign (7-10), blank 11-12, scale 13-15.
    assert lines_by_name(changed) == {"pkg/calc.py": [1, 2, 11, 12, 13, 14, 15]}
    parsed = parse((repo / "lcov.info").read_text(encoding="utf-8"))
    records = {os.path.join(changed.root, entry.record.path): entry.record for entry in parsed}
    assert diff_coverage(changed, records, changed.relative).missing_by_file() == ["pkg/calc.py:14-15"]
    # diff-cover 11.0.1: the committed lines 9-13 (HEAD's numbers) plus the inserted 1-2, met with the
    # working tree's tracefile: 9 and 10 are sign's unchanged returns, and scale's 14-15 are not seen.
    assert sorted(theirs) == [9, 10]


# --- performance --------------------------------------------------------------------------------


@pytest.fixture
def big_project(tmp_path: Path) -> Iterator[tuple[Path, dict[str, FileRecord]]]:
    """1,000 modules of 40 lines on main; a branch edits 50: lines 9, 12 and 29 changed, 41-45 added.

    The records make every line but multiples of 5 a statement, run when
    its number is not a multiple of 3: of the changed lines, 9, 12 and 29
    are statements, 9 and 12 never ran.
    """
    repo = tmp_path / "big"
    body = "".join(f"def f{n}(x):\n    if x > {n}:\n        return x\n    return {n}\n\n" for n in range(8))
    modules = {f"pkg/sub{n % 20}/mod{n}.py": body for n in range(1000)}
    new_repo(repo, modules)
    for n in range(0, 1000, 20):
        edited = (
            body.replace("return 1\n", "return -1\n")
            .replace("x > 2", "x >= 2")
            .replace("return 5\n", "return 55\n")
        )
        write(repo, f"pkg/sub0/mod{n}.py", edited + "x = 1\n" * 5)
    commit(repo)
    records = {
        str(repo.resolve() / name): record(name, {line: line % 3 for line in range(1, 41) if line % 5})
        for name in modules
    }
    yield repo, records


def test_diff_coverage_of_a_large_project(big_project: tuple[Path, dict[str, FileRecord]]) -> None:
    """A 50-file change in 1,000 modules (its cost is measured by benchmarks/diff_cost.py)."""
    repo, records = big_project
    changed = changed_lines("main", repo)
    result = diff_coverage(changed, records, changed.relative)
    assert sorted(changed[str(repo.resolve() / "pkg/sub0/mod20.py")]) == [9, 12, 29, 41, 42, 43, 44, 45]
    assert len(changed) == 50
    assert len(result.files) == 50
    assert (result.statements, result.covered) == (150, 50)
    assert result.files[0].missing_ranges == "9,12"  # 11, a statement that ran, lies between them
