"""Hostile input: what a planted file, a strange name or an odd setting must never achieve.

Each test is a real pytest session (real coverage.py, real git, real genhtml)
fed something a user, a restored CI cache or a pull request could put in
its way; it grows with every such finding.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PYTEST, QUIET_PLUGINS, commit_base_then_change, git, read_records, run_pytest

MOD = "def f(x):\n    if x > 0:\n        return 1\n    return 0\n"
TEST = "from pkg.mod import f\n\n\ndef test_f():\n    assert f(1) == 1\n"
PYPROJECT = '[tool.coverage.run]\nsource = ["pkg"]\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pkg/mod.py and its test, with a cache folder of its own for the analysis key."""
    pytester.mkpydir("pkg")
    pytester.path.joinpath("pkg/mod.py").write_text(MOD)
    pytester.path.joinpath("test_mod.py").write_text(TEST)
    pytester.makepyprojecttoml(PYPROJECT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(pytester.path / "xdg-cache"))
    return pytester


def run_with_cache(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A real pytest with pytest's cache folder on (run_pytest turns it off)."""
    return pytester.runpytest_subprocess(*QUIET_PLUGINS, *args)


def no_traceback(result: pytest.RunResult) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output, output


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (not following links) with its content."""
    files = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = Path(dirpath, name)
            files[str(path.relative_to(folder))] = path.read_bytes() if not path.is_symlink() else b"<link>"
    return files


# 1. The analysis cache deletes and writes only its own entries, whatever its folder turns out to be.


def _victim(folder: Path, names: list[str]) -> dict[str, bytes]:
    """A user's folder of files in four subfolders, all older than any cache entry."""
    for sub in range(4):
        for index, name in enumerate(names):
            path = folder / f"sub{sub}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"user data {sub} {index}\n")
            os.utime(path, (1_000_000, 1_000_000))
    return tree(folder)


@pytest.mark.parametrize("names", ["plain", "entry-like"])
def test_a_cache_folder_that_is_a_link_is_never_written_or_pruned_through(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, names: str
) -> None:
    victim = tmp_path_factory.mktemp("victim")
    hexes = [f"{index:064x}" for index in range(100)]
    plain = [f"photo-{index}.jpg" for index in range(100)]
    before = _victim(victim, plain if names == "plain" else hexes)
    project.path.joinpath(".pytest_cache/d").mkdir(parents=True)
    project.path.joinpath(".pytest_cache/d/pytest-lcov-analysis").symlink_to(victim)
    result = run_with_cache(project, "--lcov")
    assert result.ret == 0
    no_traceback(result)
    assert tree(victim) == before  # nothing removed, nothing added
    result.stdout.fnmatch_lines(
        ["*pytest-lcov: the analysis cache is off: *pytest-lcov-analysis is not a folder*"]
    )
    assert read_records(project.path / "lcov.info")["pkg/mod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}


@pytest.mark.parametrize("planted", ["file", "link-to-nothing", "pipe"])
def test_anything_planted_at_the_cache_folder_leaves_the_run_going(
    project: pytest.Pytester, planted: str
) -> None:
    store = project.path / ".pytest_cache/d/pytest-lcov-analysis"
    store.parent.mkdir(parents=True)
    if planted == "file":
        store.write_text("not a folder\n")
    elif planted == "pipe":
        os.mkfifo(store)
    else:
        store.symlink_to(project.path / "nowhere")
    result = project.runpytest_subprocess(*QUIET_PLUGINS, "--lcov", timeout=60)
    assert result.ret == 0
    no_traceback(result)
    result.stdout.fnmatch_lines(
        ["*pytest-lcov: the analysis cache is off: *pytest-lcov-analysis is not a folder*"]
    )
    assert not project.path.joinpath("nowhere").exists()
    assert read_records(project.path / "lcov.info")["pkg/mod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}


def test_the_cache_removes_only_its_own_entries_never_a_linked_shard_or_other_files(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    victim = tmp_path_factory.mktemp("victim")
    before = _victim(victim, [f"{index:064x}" for index in range(100)])
    store = project.path / ".pytest_cache/d/pytest-lcov-analysis"
    store.mkdir(parents=True)
    for shard in range(256):  # every shard a link to the user's folder: no entry may be written there
        store.joinpath(f"{shard:02x}").symlink_to(victim / "sub0", target_is_directory=True)
    kept = store / "notes"
    kept.mkdir()
    for index in range(400):  # not entries: the store never removes them, however many there are
        kept.joinpath(f"note-{index}.txt").write_text("mine\n")
        os.utime(kept / f"note-{index}.txt", (1_000_000, 1_000_000))
    result = run_with_cache(project, "--lcov")
    assert result.ret == 0
    no_traceback(result)
    assert tree(victim) == before
    assert len(list(kept.iterdir())) == 400


# 2. No file name reaches the terminal raw: none can start a line of its own (a workflow command).

BREAKS = {"LF": "\n", "CR": "\r", "LINE-SEPARATOR": "\u2028", "ESC": "\x1b]0;x\x07"}
WORKFLOW_COMMAND_AT_LINE_START = re.compile(r"(?:^|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])\s*::error::", re.M)


def shown(text: str) -> str:
    """`text` as the terminal shows it: every character that is not printable as ``?``."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def no_workflow_command(result: pytest.RunResult) -> str:
    """The whole output, which no line of starts a GitHub workflow command, nor holds an escape."""
    output = result.stdout.str() + result.stderr.str()
    assert not WORKFLOW_COMMAND_AT_LINE_START.search(output), output
    assert "\x1b]" not in output
    return output


@pytest.mark.parametrize("cut", BREAKS.values(), ids=BREAKS.keys())
def test_names_in_the_change_line_cannot_start_a_line(project: pytest.Pytester, cut: str) -> None:
    git(project.path, "init", "-q", "-b", "main")
    git(project.path, "add", ".")
    git(project.path, "commit", "-q", "-m", "base")
    project.path.joinpath(f"pkg/x{cut}::error::INJECTED.py").write_text("def g():\n    return 2\n")
    result = run_pytest(project, "--lcov", "--lcov-diff=HEAD")
    assert result.ret == 0
    output = no_workflow_command(result)
    assert f"not run: pkg/x{shown(cut)}::error::INJECTED.py:1-2" in output


@pytest.mark.parametrize("cut", BREAKS.values(), ids=BREAKS.keys())
def test_names_in_the_run_notices_cannot_start_a_line(project: pytest.Pytester, cut: str) -> None:
    """A measured file changed during the run, whose counts fall back to 0/1: both notices name it."""
    module = f"y{cut}::error::CHANGED"
    project.path.joinpath(f"pkg/{module}.py").write_text("def f():\n    return 1\n")
    project.path.joinpath("test_changes.py").write_text(
        "import importlib, pathlib\n\n\n"
        "def test_it():\n"
        f"    module = importlib.import_module({'pkg.' + module!r})\n"
        "    assert module.f() == 1\n"
        "    path = pathlib.Path(module.__file__)\n"
        "    path.write_text(path.read_text() + 'X = 2\\n')\n"
    )
    result = run_pytest(
        project, "--lcov", "--lcov-counts=executions", "-W", "always::pytest_lcov.PytestLcovWarning"
    )
    assert result.ret == 0
    output = no_workflow_command(result)
    assert f"pkg/y{shown(cut)}::error::CHANGED.py changed during the run" in output
    assert f"counts are 0/1, not executions, in pkg/y{shown(cut)}::error::CHANGED.py" in output


@pytest.mark.parametrize("cut", BREAKS.values(), ids=BREAKS.keys())
def test_names_in_a_failed_report_and_its_traceback_cannot_start_a_line(
    project: pytest.Pytester, cut: str
) -> None:
    """The output's name in "no tracefile written" and in -v's traceback; and in a start-up error."""
    output = f"out{cut}::error::X.info"
    project.path.joinpath("test_folder.py").write_text(
        f"import pathlib\n\n\ndef test_makes_a_folder():\n    pathlib.Path({output!r}).mkdir()\n"
    )
    result = run_pytest(project, f"--lcov={output}", "-v")
    text = no_workflow_command(result)
    assert "pytest-lcov: no tracefile written" in text and f"out{shown(cut)}::error::X.info" in text
    assert "Traceback (most recent call last)" in text

    project.path.joinpath(f"a{cut}::error::b").write_text("a file\n")
    result = run_pytest(project, f"--lcov=a{cut}::error::b/lcov.info")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "refusing to write" in no_workflow_command(result)


# 3. A gate the user asked for is checked, or refused at start-up in one line: never dropped unsaid.


def one_error(result: pytest.RunResult) -> str:
    """The run stopped at start-up with exactly one line, and no traceback."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    lines = [line for line in result.errlines if line.strip()]
    assert len(lines) == 1, lines
    no_traceback(result)
    return lines[0]


@pytest.mark.parametrize(
    "key", ["lcov_max_uncovered_diff_lines = 0", "lcov_fail_under_diff = 0", "lcov_fail_under_diff = 0.0"]
)
def test_a_change_gate_set_to_zero_is_set(project: pytest.Pytester, key: str) -> None:
    project.makepyprojecttoml(PYPROJECT + f"lcov_enabled = true\n{key}\n")
    line = one_error(run_pytest(project))
    assert f"{key.split()[0]} needs lcov_diff" in line


@pytest.mark.parametrize(
    "gate",
    [
        ["--lcov-fail-under-functions=100", "--lcov-html=h", "--lcov-html-required"],
        ["--lcov-fail-under-lines=0"],
        ["--lcov-html-required"],
        ["--lcov-diff=HEAD", "--lcov-max-uncovered-diff-lines=0"],
    ],
    ids=["functions-html", "lines-0", "html-required", "diff"],
)
def test_a_gate_on_the_command_line_without_the_report_is_refused(
    project: pytest.Pytester, gate: list[str]
) -> None:
    line = one_error(run_pytest(project, *gate))
    assert "would not be checked: no report is written without --lcov" in line
    assert not project.path.joinpath("h").exists()


def test_a_gate_without_the_report_stays_quiet_in_the_configuration_and_under_no_lcov(
    project: pytest.Pytester,
) -> None:
    """The rule the README states: the configuration serves every run; --no-lcov turns every gate off."""
    project.makepyprojecttoml(PYPROJECT + "lcov_fail_under_functions = 100\nlcov_html_required = true\n")
    result = run_pytest(project)
    assert result.ret == 0
    assert "pytest-lcov" not in result.stdout.str()
    result = run_pytest(project, "--no-lcov", "--lcov-fail-under-lines=100")
    assert result.ret == 0


# 4. The change is read the same whatever attributes, diff drivers or textconv filters say.

BASE_MOD = MOD
CHANGED_MOD = BASE_MOD + "\n\ndef g(x):\n    if x > 0:\n        return 2\n    return -2\n"
CHANGE_TEST = "from pkg.mod import f, g\n\n\ndef test_f():\n    assert f(1) == 1\n    assert g(1) == 2\n"


@pytest.fixture
def repo(project: pytest.Pytester) -> pytest.Pytester:
    """A checkout on a branch `work` whose change to pkg/mod.py adds g, whose line 10 never runs."""
    ignored = "lcov.info\n.pytest_cache/\n__pycache__/\nxdg-cache/\n"
    commit_base_then_change(project.path, ignored, {"pkg/mod.py": CHANGED_MOD, "test_mod.py": CHANGE_TEST})
    return project


ATTRIBUTES = {
    "no-diff": ("*.py -diff\n", []),
    "binary": ("*.py binary\n", []),
    "driver-binary": ("*.py diff=hidden\n", ["diff.hidden.binary", "true"]),
    "driver-textconv": ("*.py diff=hidden\n", ["diff.hidden.textconv", "sed -n 1p"]),
    "driver-command": ("*.py diff=hidden\n", ["diff.hidden.command", "true"]),
    "external": ("", ["diff.external", "true"]),
    "clean-filter": ("*.py filter=hide\n", ["filter.hide.clean", "sed -e /def/d"]),
    "clean-filter-required": ("*.py filter=hide\n", ["filter.hide.clean", "grep -v return"]),
    "filter-name-with-dots": ("*.py filter=a.b\n", ["filter.a.b.clean", "head -c 0"]),
}


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "uncommitted"])
@pytest.mark.parametrize("attributes", ATTRIBUTES.values(), ids=ATTRIBUTES.keys())
def test_attributes_and_drivers_do_not_hide_a_change(
    repo: pytest.Pytester, attributes: tuple[str, list[str]], committed: bool
) -> None:
    text, config = attributes
    if text:
        repo.path.joinpath(".gitattributes").write_text(text)
        if committed:
            git(repo.path, "add", ".gitattributes")
            git(repo.path, "commit", "-q", "-m", "attributes")
    if config:
        git(repo.path, "config", *config)
        if "grep" in config[-1]:
            git(repo.path, "config", "filter.hide.required", "true")
    result = run_pytest(repo, "--lcov", "--lcov-diff=main", "--lcov-fail-under-diff=100")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "LCOV diff coverage since main: 3/4 changed lines (75.0%)*; not run: pkg/mod.py:10",
            "pytest-lcov: FAIL diff coverage 75.0% is under --lcov-fail-under-diff=100",
        ]
    )


# 5. --lcov-diff reads only what can be a measured source, and never whole.


def test_a_huge_untracked_file_is_never_read(repo: pytest.Pytester) -> None:
    """An untracked data set of 1 TiB (sparse: no disk used) under a 1.5 GiB memory limit.

    Read whole, it needs the memory; read in pieces, it takes far longer than the run may.
    """
    resource = pytest.importorskip("resource")
    with open(repo.path / "dataset.bin", "wb") as data:
        data.truncate(1 << 40)
    repo.path.joinpath("pkg/extra.py").write_text("def h():\n    return 3\n")  # untracked and measured

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    result = subprocess.run(
        [*PYTEST, "--lcov", "--lcov-diff=main"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        preexec_fn=limit_memory,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "MemoryError" not in output
    assert (
        "LCOV diff coverage since main: 3/6 changed lines (50.0%); not run: pkg/extra.py:1-2 pkg/mod.py:10"
        in output
    )


# 6. Only a report of ours is replaced: comments and blank lines alone are not one.

HEADERS = {
    "licence": "# Copyright 2026 Someone\n# SPDX-License-Identifier: MIT\n",
    "blank-and-comments": "\n# just a comment\n\n   \n#!/usr/bin/env python\n",
    "blank": "\n\n   \n",
}


@pytest.mark.parametrize("text", HEADERS.values(), ids=HEADERS.keys())
@pytest.mark.parametrize(
    ("args", "name"),
    [(["--lcov=pkg/__init__.py"], "pkg/__init__.py"), (["--lcov", "--lcov-per-test"], "lcov.desc")],
    ids=["tracefile", "description-file"],
)
def test_a_file_of_comments_or_blank_lines_is_not_replaced(
    project: pytest.Pytester, text: str, args: list[str], name: str
) -> None:
    target = project.path / name
    target.write_text(text)
    line = one_error(run_pytest(project, *args))
    assert "refusing to write" in line and "replaces only its own reports" in line
    assert target.read_text() == text


@pytest.mark.parametrize("name", ["pkg/__init__.py", "pkg/stub.pyi"])
def test_an_empty_python_source_is_not_replaced(project: pytest.Pytester, name: str) -> None:
    """An empty file may be an earlier report (a path made ready for it), but not a source."""
    project.path.joinpath(name).write_text("")
    line = one_error(run_pytest(project, f"--lcov={name}"))
    assert "is an empty Python source" in line
    assert project.path.joinpath(name).read_text() == ""


# 7 and 11. The key file: a planted pipe cannot hold the run, an untrusted key is named once, and
# nothing is made outside a home folder that exists.


def _key(project: pytest.Pytester) -> Path:
    key = project.path / "xdg-cache" / "pytest-lcov" / "key"
    key.parent.mkdir(parents=True, mode=0o700)
    return key


def test_a_pipe_at_the_key_path_does_not_hold_the_run(project: pytest.Pytester) -> None:
    key = _key(project)
    os.mkfifo(key)
    result = project.runpytest_subprocess(*QUIET_PLUGINS, "--lcov", timeout=60)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["pytest-lcov: the analysis cache lasts this run only: *key is not a regular file*"]
    )


def _world_readable(key: Path) -> str:
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    return "can be read or written by others: chmod 600 it"


def _group_writable(key: Path) -> str:
    key.write_bytes(os.urandom(32))
    key.chmod(0o620)
    return "can be read or written by others"


def _short(key: Path) -> str:
    key.write_bytes(os.urandom(16))
    key.chmod(0o600)
    return "is not a key (16 bytes, not 32)"


def _linked(key: Path) -> str:
    real = key.parent / "real-key"
    real.write_bytes(os.urandom(32))
    real.chmod(0o600)
    key.symlink_to(real)
    return "is a link"


def _folder(key: Path) -> str:
    key.mkdir()
    return "is not a regular file"


UNTRUSTED = {"world-readable": _world_readable, "group-writable": _group_writable, "short": _short}
UNTRUSTED.update({"link": _linked, "folder": _folder})


@pytest.mark.parametrize("plant", UNTRUSTED.values(), ids=UNTRUSTED.keys())
def test_a_key_that_cannot_be_trusted_is_named_once(
    project: pytest.Pytester, plant: Callable[[Path], str]
) -> None:
    key = _key(project)
    why = plant(key)
    result = run_with_cache(project, "--lcov", "-W", "always::pytest_lcov.PytestLcovWarning")
    assert result.ret == 0
    said = [
        line
        for line in result.outlines
        if line.startswith("pytest-lcov: the analysis cache lasts this run only:")
    ]
    assert len(said) == 1 and f"{key} {why}" in said[0], result.outlines
    assert read_records(project.path / "lcov.info")["pkg/mod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}


def test_a_good_key_says_nothing(project: pytest.Pytester) -> None:
    result = run_with_cache(project, "--lcov")
    assert result.ret == 0
    assert "analysis cache" not in result.stdout.str()
    key = project.path / "xdg-cache" / "pytest-lcov" / "key"
    assert key.stat().st_mode & 0o777 == 0o600 and key.stat().st_size == 32


@pytest.mark.parametrize("variable", ["HOME", "XDG_CACHE_HOME"])
def test_nothing_is_made_outside_a_home_that_exists(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    variable: str,
) -> None:
    gone = tmp_path_factory.mktemp("nohome") / "nonexistent" / "x"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv(variable, str(gone / ".cache" if variable == "XDG_CACHE_HOME" else gone))
    result = run_with_cache(project, "--lcov")
    assert result.ret == 0
    assert not gone.parent.exists()
    result.stdout.fnmatch_lines(
        ["pytest-lcov: the analysis cache lasts this run only: *key cannot be made: *x does not exist"]
    )


# 12. A key set to an empty value is set: it is checked like any other value, never dropped.

EMPTY_KEYS = {
    "lcov_html": "the path is empty",
    "lcov_output": "the path is empty",
    "lcov_fail_under_lines": "is not a number",
    "lcov_max_uncovered_diff_lines": "is not a whole number",
    "lcov_diff": "is not a git ref",
}


@pytest.mark.parametrize("key", EMPTY_KEYS, ids=EMPTY_KEYS)
@pytest.mark.parametrize("style", ["toml", "ini", "override"])
def test_a_key_set_to_an_empty_value_is_refused(project: pytest.Pytester, key: str, style: str) -> None:
    args = ["--lcov"]
    if style == "toml":
        project.makepyprojecttoml(PYPROJECT + f'{key} = ""\n')
    elif style == "ini":
        project.path.joinpath("pytest.ini").write_text(f"[pytest]\npythonpath = .\n{key} =\n")
    else:
        args += ["-o", f"{key}="]
    line = one_error(run_pytest(project, *args))
    assert key in line and EMPTY_KEYS[key] in line


def test_an_empty_genhtml_command_is_refused(project: pytest.Pytester) -> None:
    project.makepyprojecttoml(PYPROJECT + 'lcov_html = "h"\nlcov_genhtml = " "\n')
    line = one_error(run_pytest(project, "--lcov"))
    assert "lcov_genhtml = ' ': is empty" in line


# 9. A change to any line of a statement is a change to the statement.

CONTINUED = {
    "call": ("    return max(\n        1,\n        2,\n    )\n", "        2,", "        3,"),
    "backslash": ("    return 1 + \\\n        2\n", "        2\n", "        3\n"),
    "string": ('    return """a\n    b\n    """\n', "    b\n", "    c\n"),
    "closing": ("    return [\n        1,\n    ]\n", "    ]\n", "    ] * 2\n"),
}


@pytest.mark.parametrize("cached", [False, True], ids=["fresh", "from-cache"])
@pytest.mark.parametrize("shape", CONTINUED.values(), ids=CONTINUED.keys())
def test_a_change_to_a_continuation_line_counts_its_statement(
    project: pytest.Pytester, shape: tuple[str, str, str], cached: bool
) -> None:
    body, old, new = shape
    project.path.joinpath("pkg/mod.py").write_text(MOD + "\n\ndef g():\n" + body)  # g never runs: line 8
    project.path.joinpath(".gitignore").write_text("lcov.info\n.pytest_cache/\n__pycache__/\nxdg-cache/\n")
    git(project.path, "init", "-q", "-b", "main")
    git(project.path, "add", ".")
    git(project.path, "commit", "-q", "-m", "base")
    text = project.path.joinpath("pkg/mod.py").read_text()
    project.path.joinpath("pkg/mod.py").write_text(text.replace(old, new))
    args = ["--lcov", "--lcov-diff=main", "--lcov-fail-under-diff=100"]
    if cached:
        run_with_cache(project, "--lcov")  # the analysis of the changed file is stored...
        result = run_with_cache(project, *args)  # ...and read back
    else:
        result = run_pytest(project, *args)
    assert read_records(project.path / "lcov.info")["pkg/mod.py"].lines[8] == 0
    result.stdout.fnmatch_lines(
        [
            "LCOV diff coverage since main: 0/1 changed lines (0.0%); not run: pkg/mod.py:8",
            "pytest-lcov: FAIL diff coverage 0.0% is under --lcov-fail-under-diff=100",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_change_to_a_continuation_line_of_a_statement_that_ran_is_covered(project: pytest.Pytester) -> None:
    project.path.joinpath("pkg/mod.py").write_text(
        MOD.replace("return 1\n", "return max(\n            1,\n        )\n")
    )
    project.path.joinpath(".gitignore").write_text("lcov.info\n.pytest_cache/\n__pycache__/\nxdg-cache/\n")
    git(project.path, "init", "-q", "-b", "main")
    git(project.path, "add", ".")
    git(project.path, "commit", "-q", "-m", "base")
    text = project.path.joinpath("pkg/mod.py").read_text()
    project.path.joinpath("pkg/mod.py").write_text(text.replace("            1,", "            1, 0,"))
    result = run_pytest(project, "--lcov", "--lcov-diff=main", "--lcov-fail-under-diff=100")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["LCOV diff coverage since main: 1/1 changed lines (100.0%)"])


# 10. A source file whose name is not UTF-8 is left out with a notice; the report is written.


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_a_source_named_in_another_encoding_is_left_out_and_the_rest_reported(
    project: pytest.Pytester, xdist: list[str]
) -> None:
    pkg = os.fsencode(project.path / "pkg")
    for raw in (b"caf\xe9.py", b"\xff\xfe.py"):  # Latin-1, and bytes of no encoding
        with open(os.path.join(pkg, raw), "wb") as source:
            source.write(b"def f():\n    return 1\n")
    for name in ("a_unrun.py", "z_unrun.py"):  # no test imports them: found as coverage.py finds them
        project.path.joinpath("pkg", name).write_text("X = 1\n")
    result = run_pytest(project, "--lcov", *xdist)
    assert result.ret == 0
    no_traceback(result)
    output = no_workflow_command(result)
    assert "pytest-lcov: pkg/caf?.py is left out: coverage.py cannot store a name that is not UTF-8" in output
    assert "pytest-lcov: pkg/??.py is left out" in output
    records = read_records(project.path / "lcov.info")
    assert sorted(records) == ["pkg/__init__.py", "pkg/a_unrun.py", "pkg/mod.py", "pkg/z_unrun.py"]
    assert records["pkg/mod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}
    assert records["pkg/a_unrun.py"].lines == {1: 0} and records["pkg/z_unrun.py"].lines == {1: 0}


# 8. A new HTML report replaces genhtml's files only: the user's files beside them stay.

USERS_FILES = {
    "NOTES.md": b"# my notes\n",
    "CNAME": b"coverage.example.com\n",
    ".nojekyll": b"",
    "notes.html": b"<html><title>My notes</title></html>\n",  # a page of the user's, not genhtml's
    "assets/logo.svg": b"<svg/>\n",
    "pkg/README.txt": b"in a folder genhtml writes too\n",
}


@pytest.mark.parametrize("major", [1, 2], ids=["lcov1", "lcov2"])
def test_a_new_html_report_keeps_the_users_files_beside_the_earlier_one(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, major: int
) -> None:
    from tests.lcov_tools import require
    from tests.test_html import genhtml_option

    option = genhtml_option(require(major), monkeypatch)
    result = run_pytest(project, "--lcov", "--lcov-html=h", option, "--lcov-html-required")
    assert result.ret == 0, result.stdout.str()
    report = project.path / "h"
    first = report.joinpath("pkg/mod.py.gcov.html").read_bytes()
    for name, content in USERS_FILES.items():
        report.joinpath(name).parent.mkdir(parents=True, exist_ok=True)
        report.joinpath(name).write_bytes(content)
    report.joinpath("link-to-notes").symlink_to("NOTES.md")
    project.path.joinpath("test_mod.py").write_text(TEST + "    assert f(-1) == 0\n")  # a new report
    result = run_pytest(project, "--lcov", "--lcov-html=h", option, "--lcov-html-required")
    assert result.ret == 0, result.stdout.str()
    for name, content in USERS_FILES.items():
        assert report.joinpath(name).read_bytes() == content, name
    assert os.readlink(report / "link-to-notes") == "NOTES.md"
    assert report.joinpath("pkg/mod.py.gcov.html").read_bytes() != first  # the new report is in place
    assert not [p for p in project.path.iterdir() if p.name.startswith(".h.")]  # no work folder left


def test_a_source_taken_for_binary_is_read_as_text_but_a_real_binary_is_not(tmp_path: Path) -> None:
    """Renamed and edited under `*.py -diff`, with a tab in its name: only the edited lines count;
    a binary file (a NUL byte) changed beside it counts nothing, and is never diffed as text."""
    from pytest_lcov.diff import changed_lines

    repo = tmp_path / "repo"
    repo.mkdir()
    numbered = "".join(f"line {n}\n" for n in range(1, 11))
    (repo / "old name.py").write_text(numbered)
    (repo / "data.bin").write_bytes(b"\0" * 100 + b"\n" * 50)
    (repo / ".gitattributes").write_text("*.py -diff\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "mv", "old name.py", "new\tname.py")
    (repo / "new\tname.py").write_text(numbered.replace("line 3\n", "line three\n") + "line 11\n")
    (repo / "data.bin").write_bytes(b"\0" * 100 + b"\n" * 60)
    changed = changed_lines("main", repo)
    assert {changed.relative(path): sorted(lines) for path, lines in changed.items()} == {
        "new\tname.py": [3, 11]
    }
