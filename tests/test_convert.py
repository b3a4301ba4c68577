"""`pytest-lcov convert`: a `coverage run` data file to the very LCOV `pytest --lcov` writes.

Each test measures the sample project twice for real, once with the plugin
and once with `coverage run -m pytest -p no:lcov`, converts the second, and
compares the two files byte for byte.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_lcov.analysis import MIN_FILES_PER_PROCESS, available_cpus
from tests.helpers import QUIET_PLUGINS, assert_refused, run_cli, run_pytest
from tests.sample_project import write_sample_project


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    return pytester


def coverage_run(project: pytest.Pytester, *args: str) -> Path:
    """`coverage run -m pytest` with the plugin unloaded: coverage.py's own data file."""
    result = project.run(
        sys.executable,
        "-m",
        "coverage",
        "run",
        *args,
        "-m",
        "pytest",
        *QUIET_PLUGINS,
        "-p",
        "no:lcov",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    return project.path / ".coverage"


def plugin_run(project: pytest.Pytester, *args: str) -> tuple[str, str]:
    """The plugin's tracefile text and the numbers of its summary line."""
    result = run_pytest(project, "--lcov=plugin.info", *args)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    [line] = [line for line in result.outlines if line.startswith("LCOV written to plugin.info: ")]
    return (project.path / "plugin.info").read_text(encoding="utf-8"), line.split(": ", 1)[1]


# (coverage run options, convert options, the plugin options that mean the same)
OPTIONS = {
    "lines": ([], [], []),
    "branches": (["--branch"], [], ["--lcov-branch"]),
    "lcov2-checksums": (
        ["--branch"],
        ["--format=lcov2", "--checksums"],
        ["--lcov-branch", "--lcov-format=lcov2", "--lcov-checksums"],
    ),
    "absolute": (["--branch"], ["--paths=absolute"], ["--lcov-branch", "--lcov-paths=absolute"]),
    "name-prefix": (
        [],
        ["--test-name=ci_run", "--path-prefix=src/"],
        ["--lcov-test-name=ci_run", "--lcov-path-prefix=src/"],
    ),
}


@pytest.mark.parametrize("case", OPTIONS, ids=list(OPTIONS))
def test_convert_writes_what_the_plugin_writes(sample: pytest.Pytester, case: str) -> None:
    coverage_options, convert_options, plugin_options = OPTIONS[case]
    expected, plugin_numbers = plugin_run(sample, *plugin_options)
    coverage_run(sample, *coverage_options)
    result = run_cli("convert", "-o", "out.info", *convert_options, cwd=sample.path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (sample.path / "out.info").read_text(encoding="utf-8") == expected
    assert result.stdout == f"LCOV written to out.info: {plugin_numbers}\n"


def test_test_name_defaults_to_the_project_name(sample: pytest.Pytester) -> None:
    coverage_run(sample)
    assert run_cli("convert", cwd=sample.path).returncode == 0
    # [project] name = "sample-app", as the plugin spells it for LCOV
    assert (sample.path / "lcov.info").read_text(encoding="utf-8").startswith("TN:sample_app\nSF:app/")


def test_data_file_and_rootdir_named_from_elsewhere(sample: pytest.Pytester) -> None:
    expected, _ = plugin_run(sample, "--lcov-branch")
    coverage_run(sample, "--branch")
    elsewhere = sample.path / "tests"
    result = run_cli("convert", "../.coverage", "--rootdir=..", "-o", "../out.info", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert (sample.path / "out.info").read_text(encoding="utf-8") == expected


def test_missing_data_file_is_refused(tmp_path: Path) -> None:
    assert_refused(tmp_path, ["convert"], ".coverage: no such file", "coverage run")
    assert_refused(tmp_path, ["convert", "gone.db"], "gone.db: no such file")
    assert_refused(tmp_path, ["convert", "."], ".: not a file")


def foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table notes (text)")
        db.execute("insert into notes values ('mine')")
    db.close()


def wrong_schema(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table coverage_schema (version integer)")
        db.execute("insert into coverage_schema values (1)")
    db.close()


FOREIGN: dict[str, tuple[Callable[[Path], object], str]] = {
    "text": (
        lambda path: path.write_text("!coverage.py: This is a private format\n"),
        "file is not a database",
    ),
    "empty": (lambda path: path.write_bytes(b""), "no such table: coverage_schema"),
    "sqlite": (foreign_sqlite, "no such table: coverage_schema"),
    "wrong-schema": (wrong_schema, "wrong schema"),
}


@pytest.mark.parametrize("case", FOREIGN, ids=list(FOREIGN))
def test_foreign_data_file_is_refused_and_left_as_it_was(tmp_path: Path, case: str) -> None:
    make, reason = FOREIGN[case]
    data = tmp_path / "data.cov"
    make(data)
    before = data.read_bytes()
    assert_refused(tmp_path, ["convert", "data.cov"], "data.cov", reason)
    # coverage.py's own load would have written its schema into the file.
    assert data.read_bytes() == before


def test_truncated_data_file_is_refused(sample: pytest.Pytester) -> None:
    data = coverage_run(sample)
    (sample.path / "cut.cov").write_bytes(data.read_bytes()[:4096])
    assert_refused(sample.path, ["convert", "cut.cov"], "cut.cov: not a readable coverage.py data file")


def test_data_of_a_deleted_source_is_refused(sample: pytest.Pytester) -> None:
    coverage_run(sample)
    (sample.path / "app/legacy.py").unlink()
    assert_refused(sample.path, ["convert"], ".coverage", "No source for code", "legacy.py")


def test_bad_options_are_refused(sample: pytest.Pytester) -> None:
    coverage_run(sample)
    assert_refused(sample.path, ["convert", "--test-name=my-run"], "--test-name = 'my-run'", "try 'my_run'")
    assert_refused(sample.path, ["convert", "--path-prefix=a\tb"], "--path-prefix holds a control character")
    assert_refused(sample.path, ["convert", "--rootdir=nowhere"], "--rootdir nowhere: not a folder")


# Failures while reading sources: each must name the file read, never blame
# the output, and never print a traceback.  A small project measured for real.
@pytest.fixture
def small(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(
        mod="def f(x):\n    if x:\n        return 1\n    return 2\n",
        gone="def g():\n    return 3\n",
        test_mod="import gone\nimport mod\n\n\ndef test_f():\n    assert mod.f(1) + gone.g() == 4\n",
    )
    coverage_run(pytester, "--branch")
    return pytester


def convert_refused(project: pytest.Pytester, *args: str) -> str:
    """Run convert to out.info: exit 2, one line on stderr, no traceback, no output.  Returns the line."""
    result = run_cli("convert", "-o", "out.info", *args, cwd=project.path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert not [path.name for path in project.path.iterdir() if path.name.endswith("out.info")]
    return line


CACHE = {"no-cache": [], "cache-dir": ["--cache-dir=analysis-cache"]}


@pytest.mark.parametrize("cache", CACHE, ids=list(CACHE))
def test_a_deleted_source_is_named_not_the_output(small: pytest.Pytester, cache: str) -> None:
    """With --cache-dir this once said `cannot write out.info: No such file or directory`."""
    (small.path / "gone.py").unlink()
    line = convert_refused(small, *CACHE[cache])
    assert f"{os.sep}gone.py" in line
    assert "out.info" not in line


@pytest.mark.parametrize("cache", CACHE, ids=list(CACHE))
def test_a_source_that_cannot_be_read_is_named_not_the_output(small: pytest.Pytester, cache: str) -> None:
    """A folder where the measured file was: it exists, but reading it fails."""
    (small.path / "gone.py").unlink()
    (small.path / "gone.py").mkdir()
    line = convert_refused(small, *CACHE[cache])
    assert line.startswith("pytest-lcov convert: cannot read ")
    assert line.endswith(f"{os.sep}gone.py: Is a directory")


def test_an_error_nobody_worded_is_one_line_not_a_traceback(small: pytest.Pytester) -> None:
    """A source edited after the run to declare an encoding Python does not know.

    coverage.py's encoding detection raises a SyntaxError there, which once ended in a traceback.
    """
    (small.path / "gone.py").write_text("# -*- coding: bogus -*-\ndef g():\n    return 3\n", encoding="utf-8")
    line = convert_refused(small)
    assert line.startswith("pytest-lcov convert: ")
    assert "bogus" in line


def test_the_output_is_named_never_its_temporary_file(small: pytest.Pytester) -> None:
    """A name that fits, but whose temporary `.NAME.xxxxxxxx.tmp` is too long for the file system."""
    name = "o" * 250
    result = run_cli("convert", "-o", name, cwd=small.path)
    assert result.returncode == 2
    assert result.stderr == f"pytest-lcov convert: cannot write {name}: File name too long\n"
    assert not (small.path / name).exists()


def test_a_relative_cache_dir_is_filled_where_it_is_named(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The parsing helpers run in the temporary folder: they once wrote a relative --cache-dir there.

    The report then found none of their entries, parsed every file again in
    one process, and left a folder in the temporary folder.
    """
    if available_cpus() < 2:
        pytest.skip("parsing is shared out only on two or more processors")
    modules = 2 * MIN_FILES_PER_PROCESS
    pytester.mkpydir("pkg")
    for index in range(modules):
        pytester.path.joinpath(f"pkg/m{index}.py").write_text(f"def f(x):\n    return x + {index}\n")
    pytester.makepyfile(
        main=f"import importlib\nfor i in range({modules}):\n    importlib.import_module(f'pkg.m{{i}}')\n"
    )
    coverage_data = pytester.run(sys.executable, "-m", "coverage", "run", "--source=pkg", "main.py")
    assert coverage_data.ret == 0, coverage_data.stderr.str()
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_lcov",
            "convert",
            ".coverage",
            "-o",
            "out.info",
            "--cache-dir=analysis-cache",
        ],
        cwd=pytester.path,
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(temporary.iterdir()) == []
    entries = [path for path in (pytester.path / "analysis-cache").rglob("*") if path.is_file()]
    assert len(entries) == modules + 1  # one per module, and pkg/__init__.py
    assert (pytester.path / "out.info").read_text().count("end_of_record") == modules + 1
