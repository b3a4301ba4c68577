"""Age and owner of every line for genhtml 2.x: real git repositories, real genhtml 2.3.1.

Each repository is made in a tmp folder with commits by named authors at
fixed dates, and genhtml runs with ``SOURCE_DATE_EPOCH`` fixed, so every
line's age bin is known in advance; the HTML's source pages say, per line,
which date bin and which owner genhtml put it in.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_lcov import annotate
from pytest_lcov.annotate import (
    UNCOMMITTED,
    AnnotateError,
    genhtml_arguments,
    start_annotations,
    write_annotations,
)
from pytest_lcov.diff import run_git
from tests.helpers import git
from tests.lcov_tools import LcovTools

DAY = 86400
NOW = 1_700_000_000  # genhtml's "now" (SOURCE_DATE_EPOCH): 2023-11-14
OLD, RECENT, EDITED, UNTRACKED = NOW - 400 * DAY, NOW - 10 * DAY, NOW - 2 * DAY, NOW - 60 * DAY
BINS = {
    OLD: "(180..) days",
    RECENT: "(7,30] days",
    EDITED: "[..7] days",
    UNTRACKED: "(30,180] days",
}
ADA = ("Ada Lovelace", "ada@example.org")
BOB = ("Bøb Brown", "bob@example.org")  # a name beyond ASCII
CURRENT = ("Cleo Current", "cleo@example.org")  # this checkout's user.name: uncommitted lines are hers


@pytest.fixture(autouse=True)
def plain_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration, and no repository above the tmp folder."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW))
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE"):
        monkeypatch.delenv(name, raising=False)


def commit(repo: Path, author: tuple[str, str], when: int, message: str) -> None:
    """Commit everything staged as `author` at `when` (author and committer alike)."""
    name, mail = author
    stamp = f"@{when} +0200"
    git(
        repo,
        "-c",
        f"user.name={name}",
        "-c",
        f"user.email={mail}",
        "commit",
        "-q",
        "-m",
        message,
        "--date",
        stamp,
    )


def commit_env(monkeypatch: pytest.MonkeyPatch, when: int) -> None:
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"@{when} +0200")


def write(path: Path, text: str, mtime: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())  # line ends as written
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two commits by two authors, an uncommitted edit, an untracked file with a comma, space and é.

    a.py  line 1 Ada (old), line 2 Bob (recent), line 3 Ada (old), line 4 edited (Cleo, 2 days)
    b.py  lines 1-2 Ada (old); CRLF line ends, no newline at its end
    new dir, é/c d.py  untracked: lines 1-3 Cleo, 60 days (the file's time)
    """
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", CURRENT[0])
    git(folder, "config", "user.email", CURRENT[1])
    write(folder / "a.py", "a = 1\nb = 2\nc = 3\nd = 4\n", OLD)
    write(folder / "b.py", "x = 1\r\ny = 2", OLD)
    git(folder, "add", "a.py", "b.py")
    commit_env(monkeypatch, OLD)
    commit(folder, ADA, OLD, "first")
    write(folder / "a.py", "a = 1\nb = 20\nc = 3\nd = 4\n", RECENT)
    git(folder, "add", "a.py")
    commit_env(monkeypatch, RECENT)
    commit(folder, BOB, RECENT, "second")
    write(folder / "a.py", "a = 1\nb = 20\nc = 3\nd = 40\n", EDITED)
    write(folder / "new dir, é" / "c d.py", "p = 1\nq = 2\nr = 3\n", UNTRACKED)
    return folder


def tracefile(path: Path, sources: dict[Path, int]) -> Path:
    """A tracefile with every line of each source a statement run once."""
    records = []
    for source, count in sources.items():
        lines = "".join(f"DA:{n},1\n" for n in range(1, count + 1))
        records.append(f"SF:{source}\n{lines}LF:{count}\nLH:{count}\nend_of_record\n")
    path.write_text("TN:\n" + "".join(records), encoding="utf-8")
    return path


LINE = re.compile(r'<span id="L(\d+)"[^>]*>(.*?)<span class="lineNum">', re.S)
NEXT_IN = re.compile(r"next \w+ in &ldquo;(.*?)&rdquo; bin")


def annotated_lines(page: Path) -> dict[int, tuple[str, str]]:
    """Each line of a genhtml 2.x source page: (its date bin, its owner), as the page's links name them.

    genhtml shows them where the commit changes, and leaves them blank on the
    lines of the same commit that follow: those repeat the line above.
    """
    found: dict[int, tuple[str, str]] = {}
    shown = ("", "")
    for match in LINE.finditer(page.read_text(encoding="utf-8")):
        bins = NEXT_IN.findall(match[2])
        assert len(bins) in (0, 2), match[0]
        if bins:
            shown = (html.unescape(bins[0]), html.unescape(bins[1]))
        assert shown != ("", ""), match[0]
        found[int(match[1])] = shown
    return found


def tooltip(page: Path, line: int) -> str:
    match = re.search(rf'<span id="L{line}"(?: title="([^"]*)")?>', page.read_text(encoding="utf-8"))
    assert match is not None
    return html.unescape(match[1] or "")


def run_genhtml(lcov2: LcovTools, info: Path, out: Path, annotations: Path) -> str:
    tools = dataclasses.replace(lcov2, env={**lcov2.env, "SOURCE_DATE_EPOCH": str(NOW)})
    return tools.genhtml(info, out, *genhtml_arguments(annotations), cwd=info.parent)


def page_of(out: Path, root: Path, source: Path) -> Path:
    """genhtml's page for `source`: under the output folder, named from the common prefix."""
    pages = [p for p in out.rglob(source.name + ".gcov.html")]
    assert len(pages) == 1, pages
    return pages[0]


@pytest.mark.lcov2
def test_each_line_has_its_owner_and_age_bin(lcov2: LcovTools, repo: Path, tmp_path: Path) -> None:
    untracked = repo / "new dir, é" / "c d.py"
    outside = write(tmp_path / "elsewhere" / "e.py", "z = 1\n", RECENT)
    sources = {repo / "a.py": 4, repo / "b.py": 2, untracked: 3, outside: 1}
    annotations = tmp_path / "annotations, with a comma"
    result = write_annotations(repo, [str(path) for path in sources], annotations)
    assert (result.files, result.outside, result.committed_lines, result.uncommitted_lines) == (3, 1, 5, 4)
    out = tmp_path / "html"
    output = run_genhtml(lcov2, tracefile(tmp_path / "lcov.info", sources), out, annotations)
    assert "did not find" not in output

    ada, bob, cleo = ADA[0], BOB[0], CURRENT[0]
    a_page = page_of(out, repo, repo / "a.py")
    assert annotated_lines(a_page) == {
        1: (BINS[OLD], ada),
        2: (BINS[RECENT], bob),
        3: (BINS[OLD], ada),
        4: (BINS[EDITED], cleo),
    }
    assert annotated_lines(page_of(out, repo, repo / "b.py")) == {1: (BINS[OLD], ada), 2: (BINS[OLD], ada)}
    assert annotated_lines(page_of(out, repo, untracked)) == {n: (BINS[UNTRACKED], cleo) for n in (1, 2, 3)}
    # outside the repository: not under its version control, genhtml's "no.body", dated by the file
    assert annotated_lines(page_of(out, repo, outside)) == {1: (BINS[RECENT], "no.body")}

    assert "by Bøb Brown <bob@example.org>" in tooltip(a_page, 2)
    assert "on 2023-11-05 " in tooltip(a_page, 2)  # the author date in the author's offset (UTC: 11-04)
    assert f"commit {UNCOMMITTED}" in tooltip(a_page, 4)
    assert "by Cleo Current <cleo@example.org>" in tooltip(a_page, 4)
    # the source text shown is the working tree's
    assert "d = 40" in a_page.read_text(encoding="utf-8")


@pytest.mark.lcov2
def test_a_repository_without_commits(lcov2: LcovTools, tmp_path: Path) -> None:
    """Every line is uncommitted, and genhtml still takes the files as annotated (no "did not find")."""
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", CURRENT[0])
    source = write(repo / "m.py", "a = 1\nb = 2\n", EDITED)
    staged = write(repo / "s.py", "c = 3\n", UNTRACKED)
    git(repo, "add", "s.py")
    annotations = tmp_path / "ann"
    result = write_annotations(repo, [str(source), str(staged)], annotations)
    assert (result.committed_lines, result.uncommitted_lines) == (0, 3)
    out = tmp_path / "html"
    info = tracefile(tmp_path / "lcov.info", {source: 2, staged: 1})
    run_genhtml(lcov2, info, out, annotations)
    assert annotated_lines(page_of(out, repo, source)) == {
        1: (BINS[EDITED], "Cleo Current"),
        2: (BINS[EDITED], "Cleo Current"),
    }
    assert annotated_lines(page_of(out, repo, staged)) == {1: (BINS[UNTRACKED], "Cleo Current")}


@pytest.mark.lcov2
def test_a_shallow_clone(lcov2: LcovTools, repo: Path, tmp_path: Path) -> None:
    """Lines older than a shallow clone's history are its boundary commit's (as git blame says)."""
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    os.utime(clone / "a.py", (OLD, OLD))
    annotations = tmp_path / "ann"
    sources = {clone / "a.py": 4, clone / "b.py": 2}
    result = write_annotations(clone, [str(path) for path in sources], annotations)
    assert result.shallow
    assert (result.committed_lines, result.uncommitted_lines) == (6, 0)
    out = tmp_path / "html"
    run_genhtml(lcov2, tracefile(tmp_path / "lcov.info", sources), out, annotations)
    assert annotated_lines(page_of(out, clone, clone / "a.py")) == {
        n: (BINS[RECENT], BOB[0]) for n in (1, 2, 3, 4)
    }


def test_the_data_written(repo: Path, tmp_path: Path) -> None:
    """Without genhtml: the counts, ignored and missing files, and the arguments."""
    (repo / ".gitignore").write_text("gen_*.py\n")
    ignored = write(repo / "gen_x.py", "g = 1\n", EDITED)
    sources = [str(repo / "a.py"), str(repo / "a.py"), str(ignored), str(repo / "missing.py"), str(repo)]
    folder = tmp_path / "ann"
    result = write_annotations(repo / "new dir, é", sources, folder, workers=1)
    assert result.root == os.path.realpath(repo)
    assert (result.files, result.outside, result.committed_lines, result.uncommitted_lines) == (2, 0, 3, 2)
    assert result.module == str(folder / "pytest_lcov_annotate.pm")
    index = (folder / "index").read_bytes().split(b"\0")
    assert index[:2] == [b"pytest-lcov annotations 1", b"240"]  # how long genhtml may wait: 60 x (2 + 1) + 60
    assert index[2] == os.fsencode(os.path.realpath(repo / "a.py"))
    assert genhtml_arguments(folder) == [
        "--annotate-script",
        str(folder / "pytest_lcov_annotate.pm"),
        "--annotate-script",
        str(folder),
        "--date-bins",
        "7,30,180",
        "--show-owners",
    ]
    assert genhtml_arguments(folder, (90, 30), owners=False)[-2:] == ["--date-bins", "30,90"]
    with pytest.raises(AnnotateError, match="positive"):
        genhtml_arguments(folder, (0,))


def test_not_a_checkout(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(AnnotateError, match="is not in a git checkout"):
        write_annotations(plain, [str(plain / "x.py")], tmp_path / "ann")
    with pytest.raises(AnnotateError, match="is not a folder"):
        write_annotations(tmp_path / "nowhere", [], tmp_path / "ann")


def test_a_git_blame_failure_is_one_line(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "blame.ignoreRevsFile", "no-such-file")
    with pytest.raises(AnnotateError) as raised:
        write_annotations(repo, [str(repo / "a.py"), str(repo / "b.py")], tmp_path / "ann")
    message = str(raised.value)
    assert message.startswith("git blame ") and "\n" not in message, message


def test_an_unwritable_folder(repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AnnotateError, match="cannot write annotations in"):
        write_annotations(repo, [str(repo / "a.py")], blocker / "ann")


def test_the_cache_spares_unchanged_files_a_second_blame(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blamed: list[str] = []

    def counting(args: list[str], *rest: Any, **named: Any) -> subprocess.CompletedProcess[bytes]:
        if args[0] == "blame":
            blamed.append(args[-1])
        return run_git(args, *rest, **named)

    monkeypatch.setattr(annotate, "run_git", counting)
    sources = [str(repo / "a.py"), str(repo / "b.py")]
    cache = tmp_path / "cache" / "blame.json"
    first = write_annotations(repo, sources, tmp_path / "one", cache=cache)
    assert sorted(blamed) == ["a.py", "b.py"]
    second = write_annotations(repo, sources, tmp_path / "two", cache=cache)
    assert len(blamed) == 2  # nothing changed: nothing blamed again
    assert (first.committed_lines, first.uncommitted_lines) == (5, 1)
    assert (second.committed_lines, second.uncommitted_lines) == (5, 1)
    one, two = (tmp_path / name / "lines" / "0.txt" for name in ("one", "two"))
    assert one.read_text() == two.read_text()
    write(repo / "b.py", "x = 1\r\nw = 0\r\ny = 2", EDITED)  # b.py edited: blamed again, a.py not
    third = write_annotations(repo, sources, tmp_path / "three", cache=cache)
    assert blamed[2:] == ["b.py"]
    assert third.uncommitted_lines == first.uncommitted_lines + 1
    cache.write_text("{not json")  # a broken cache is no cache
    write_annotations(repo, sources, tmp_path / "four", cache=cache)
    assert sorted(blamed[3:]) == ["a.py", "b.py"]


@pytest.mark.lcov2
def test_genhtml_started_while_git_blame_runs(lcov2: LcovTools, repo: Path, tmp_path: Path) -> None:
    """The module waits for each file's data: the report is the one written after the blames."""
    sources = {repo / "a.py": 4, repo / "b.py": 2}
    info = tracefile(tmp_path / "lcov.info", sources)
    pending = start_annotations(repo, [str(path) for path in sources], tmp_path / "ann", workers=1)
    assert pending.files == 2
    run_genhtml(lcov2, info, tmp_path / "html", tmp_path / "ann")
    assert pending.result().committed_lines == 5
    assert annotated_lines(page_of(tmp_path / "html", repo, repo / "a.py")) == {
        1: (BINS[OLD], ADA[0]),
        2: (BINS[RECENT], BOB[0]),
        3: (BINS[OLD], ADA[0]),
        4: (BINS[EDITED], CURRENT[0]),
    }


@pytest.mark.lcov2
def test_a_blame_failing_while_genhtml_runs_stops_it_with_gits_words(
    lcov2: LcovTools, repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "blame.ignoreRevsFile", "no-such-file")
    sources = {repo / "a.py": 4}
    info = tracefile(tmp_path / "lcov.info", sources)
    pending = start_annotations(repo, [str(path) for path in sources], tmp_path / "ann")
    tools = dataclasses.replace(lcov2, env={**lcov2.env, "SOURCE_DATE_EPOCH": str(NOW)})
    ran = tools.run("genhtml", *pending.genhtml_arguments(), "-o", tmp_path / "html", info, cwd=tmp_path)
    with pytest.raises(AnnotateError) as raised:
        pending.result()
    message = str(raised.value)
    assert message.startswith("git blame a.py failed: ") and "\n" not in message
    assert ran.returncode != 0
    assert f"pytest-lcov: {message}" in ran.stdout + ran.stderr
