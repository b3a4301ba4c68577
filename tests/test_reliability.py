"""When something is off: one clear line, the test run's own result, no broken report."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import INTERRUPTIBLE_PYTEST, QUIET_PLUGINS, read_records, run_pytest

GOOD = "TN:earlier\nSF:kept.py\nDA:1,1\nLF:1\nLH:1\nend_of_record\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A package with one tested module and a good tracefile from an earlier run."""
    pytester.mkpydir("pkg")
    pytester.path.joinpath("pkg/mod.py").write_text("def f():\n    return 1\n")
    pytester.makepyfile(test_mod="import pkg.mod\n\n\ndef test_f():\n    assert pkg.mod.f() == 1\n")
    pytester.path.joinpath("lcov.info").write_text(GOOD)
    return pytester


def failure_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("pytest-lcov: no tracefile written")]


def assert_good_file_kept(project: pytest.Pytester) -> None:
    assert project.path.joinpath("lcov.info").read_text() == GOOD
    assert not list(project.path.glob(".lcov.info.*.tmp"))


def test_a_source_deleted_before_the_report(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_gone="import os\nimport pkg.mod\n\n\ndef test_gone():\n    os.remove(pkg.mod.__file__)\n"
    )
    result = run_pytest(project, "--lcov", "--lcov-source=pkg")
    assert result.ret == 0  # left out with a warning, as pytest-cov (coverage.py's ignore_errors) does
    assert not failure_lines(result)
    assert "No source for code" in result.stdout.str() and "pkg/mod.py" in result.stdout.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert sorted(read_records(project.path / "lcov.info")) == ["pkg/__init__.py"]


def test_a_source_changed_during_the_run_is_named(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_edit="""
            import pkg.mod

            def test_edit():
                with open(pkg.mod.__file__, "a") as source:
                    source.write("\\n\\ndef added():\\n    return 2\\n")
        """
    )
    result = run_pytest(project, "--lcov", "--lcov-source=pkg")
    assert result.ret == 0
    assert "pytest-lcov: pkg/mod.py changed during the run: its report may not match the code that ran" in (
        result.outlines
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"def broken(:\n", "Couldn't parse"), (b"x = 1\n\x00y = 2\n", "Couldn't parse")],
    ids=["syntax-error", "nul-bytes"],
)
def test_a_source_coverage_cannot_parse(project: pytest.Pytester, content: bytes, reason: str) -> None:
    project.path.joinpath("pkg/bad.py").write_bytes(content)  # in the source, never imported
    result = run_pytest(project, "--lcov", "--lcov-source=pkg")
    assert result.ret == 0  # left out with a warning, as pytest-cov (coverage.py's ignore_errors) does
    assert not failure_lines(result)
    [warning] = [line for line in result.outlines if "CoverageWarning" in line]
    assert reason in warning and "bad.py" in warning
    assert sorted(read_records(project.path / "lcov.info")) == ["pkg/__init__.py", "pkg/mod.py"]


def test_coverage_ignore_errors_skips_the_bad_file(project: pytest.Pytester) -> None:
    project.path.joinpath("pkg/bad.py").write_bytes(b"def broken(:\n")
    project.makepyprojecttoml("[tool.coverage.report]\nignore_errors = true\n")
    result = run_pytest(project, "--lcov", "--lcov-source=pkg")
    assert result.ret == 0
    assert sorted(read_records(project.path / "lcov.info")) == ["pkg/__init__.py", "pkg/mod.py"]


def test_odd_file_names_are_written_so_they_cannot_forge_records(pytester: pytest.Pytester) -> None:
    names = ["café.py", "with space, comma.py", "new\nline.py"]
    for index, name in enumerate(names):
        pytester.path.joinpath(name).write_text(f"def f{index}():\n    return {index}\n")
    pytester.makepyfile(
        test_names=f"""
            import importlib.util
            from pathlib import Path

            def test_load():
                for name in {names!r}:
                    spec = importlib.util.spec_from_file_location("m", Path(__file__).with_name(name))
                    spec.loader.exec_module(importlib.util.module_from_spec(spec))
        """
    )
    result = run_pytest(pytester, "--lcov")
    assert result.ret == 0
    records = read_records(pytester.path / "lcov.info")
    assert records["café.py"].lines == {1: 1, 2: 0}
    assert records["with space, comma.py"].lines == {1: 1, 2: 0}
    assert records["new?line.py"].lines == {1: 1, 2: 0}  # the newline could have started a record


def test_a_symlinked_source_folder(pytester: pytest.Pytester) -> None:
    real = pytester.mkdir("real_src")
    real.joinpath("linked.py").write_text("def g():\n    return 2\n")
    pytester.path.joinpath("src").symlink_to(real, target_is_directory=True)
    pytester.makepyfile(
        test_link="""
            import sys

            sys.path.insert(0, "src")
            import linked

            def test_g():
                assert linked.g() == 2
        """
    )
    result = run_pytest(pytester, "--lcov", "--lcov-source=src")
    assert result.ret == 0
    [(path, record)] = read_records(pytester.path / "lcov.info").items()
    assert path.endswith("linked.py") and not path.startswith("/")
    assert record.lines == {1: 1, 2: 1}


def test_a_namespace_package(pytester: pytest.Pytester) -> None:
    pytester.mkdir("nspkg").joinpath("part.py").write_text("def h():\n    return 3\n")
    pytester.path.joinpath("nspkg/unused.py").write_text("X = 1\n")
    pytester.makepyfile(test_ns="from nspkg import part\n\n\ndef test_h():\n    assert part.h() == 3\n")
    pytester.makepyprojecttoml("[tool.coverage.report]\ninclude_namespace_packages = true\n")
    result = run_pytest(pytester, "--lcov", "--lcov-source=nspkg")
    assert result.ret == 0
    records = read_records(pytester.path / "lcov.info")
    assert records["nspkg/part.py"].lines == {1: 1, 2: 1}
    assert records["nspkg/unused.py"].lines == {1: 0}


def test_output_path_that_is_a_folder(project: pytest.Pytester) -> None:
    project.mkdir("out.info")
    result = run_pytest(project, "--lcov=out.info")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # refused before any test ran
    assert [line for line in result.errlines if line] == [
        "ERROR: pytest-lcov: refusing to write out.info: it is a folder"
    ]
    assert not list(project.path.glob(".out.info.*.tmp"))


def test_output_below_a_file_is_refused_at_start_up(project: pytest.Pytester) -> None:
    project.path.joinpath("reports").write_text("not a folder")
    result = run_pytest(project, "--lcov=reports/lcov.info")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line] == [
        "ERROR: pytest-lcov: refusing to write reports/lcov.info: it is below reports, which is not a folder"
    ]
    assert project.path.joinpath("reports").read_text() == "not a folder"


def test_output_in_a_read_only_folder(project: pytest.Pytester) -> None:
    locked = project.mkdir("locked")
    locked.joinpath("lcov.info").write_text(GOOD)
    locked.chmod(0o555)
    if os.geteuid() == 0:
        # Root writes anywhere: make the folder refuse new files as it would for a user.
        project.makeconftest(
            """
            import errno
            import tempfile

            def refuse(*args, dir=None, **kwargs):
                raise PermissionError(errno.EACCES, "Permission denied", dir)

            tempfile.mkstemp = refuse
            """
        )
    try:
        result = run_pytest(project, "--lcov=locked/lcov.info")
    finally:
        locked.chmod(0o755)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # no tracefile: the run fails
    [line] = failure_lines(result)
    assert "Permission denied" in line and "locked" in line
    assert locked.joinpath("lcov.info").read_text() == GOOD


def test_a_read_only_good_file_survives(project: pytest.Pytester) -> None:
    # Works as root too: the write goes to a new file whose rename fails on a
    # folder a test makes unwritable by replacing it with a file of the same name
    # (at start-up the path was fine).
    project.makepyfile(test_block="def test_block():\n    open('reports', 'w').write('not a folder')\n")
    result = run_pytest(project, "--lcov=reports/lcov.info")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # no tracefile: the run fails
    [line] = failure_lines(result)
    assert "reports" in line
    assert_good_file_kept(project)


def test_a_full_disk_keeps_the_good_file(project: pytest.Pytester) -> None:
    # The write itself fails as on a full disk: pytest-lcov's own file layer reports ENOSPC.
    project.makeconftest(
        """
        import errno
        import os

        def no_space(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        os.fsync = no_space
        """
    )
    result = run_pytest(project, "--lcov")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # no tracefile: the run fails
    [line] = failure_lines(result)
    assert "No space left on device" in line
    assert_good_file_kept(project)


def test_nothing_measured(project: pytest.Pytester) -> None:
    result = run_pytest(project, "--lcov", "--lcov-source=no_such_package")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # no tracefile: the run fails
    [line] = failure_lines(result)
    assert line == "pytest-lcov: no tracefile written: No data to report."
    assert_good_file_kept(project)


def test_an_empty_suite_keeps_exit_status_5(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("lib.py").write_text("def f():\n    return 1\n")
    pytester.makepyprojecttoml('[tool.coverage.run]\nsource = ["."]\n')
    result = run_pytest(pytester, "--lcov")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert read_records(pytester.path / "lcov.info")["lib.py"].lines == {1: 0, 2: 0}


def test_a_test_that_calls_os_exit_leaves_the_good_file(project: pytest.Pytester) -> None:
    project.makepyfile(test_exit="import os\n\n\ndef test_exit():\n    os._exit(7)\n")
    result = run_pytest(project, "--lcov", "-p", "no:randomly")
    assert result.ret == 7
    assert_good_file_kept(project)


def test_ctrl_c_keeps_the_good_file_and_the_interrupted_status(project: pytest.Pytester) -> None:
    started = project.path / "started"
    project.makepyfile(
        test_wait=f"""
            import pathlib
            import time

            import pkg.mod

            def test_a_first():
                assert pkg.mod.f() == 1

            def test_b_wait():
                pathlib.Path({str(started)!r}).write_text("yes")
                time.sleep(60)
        """
    )
    process = subprocess.Popen(
        [
            *INTERRUPTIBLE_PYTEST,
            *QUIET_PLUGINS,
            "-p",
            "no:cacheprovider",
            "--lcov",
            "--lcov-source=pkg",
            "test_wait.py",
        ],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "LCOV written to" not in output  # a partial run must not replace a whole one
    assert (
        "pytest-lcov: no tracefile written: the run was interrupted, so what it measured is partial" in output
    )
    assert_good_file_kept(project)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ('lcov_fail_under_functions = "-1"', "lcov_fail_under_functions"),
        ('lcov_format = "lcov3"', "lcov_format"),
        ('lcov_counts = "sometimes"', "lcov_counts"),
        ('lcov_output = ""', "lcov_output"),
        ('lcov_path_prefix = "a\\nb/"', "lcov_path_prefix"),
    ],
)
def test_hostile_configuration_values(project: pytest.Pytester, config: str, key: str) -> None:
    project.makepyprojecttoml(f"[tool.pytest.ini_options]\nlcov_enabled = true\n{config}\n")
    result = run_pytest(project)
    # An empty value is set, and checked: for lcov_output, an empty path.
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1 and key in errors[0], result.errlines


def test_the_report_holds_no_absolute_path_unless_asked(project: pytest.Pytester, tmp_path: Path) -> None:
    result = run_pytest(project, "--lcov", "--lcov-branch", "--lcov-per-test", "--lcov-html=htmlcov")
    assert result.ret == 0
    root = str(project.path)
    assert root not in project.path.joinpath("lcov.info").read_text()
    assert root not in project.path.joinpath("lcov.desc").read_text()
    if project.path.joinpath("htmlcov").exists():  # genhtml present
        for page in project.path.joinpath("htmlcov").rglob("*.html"):
            assert root not in page.read_text(errors="replace"), page
    run_pytest(project, "--lcov", "--lcov-paths=absolute")
    assert f"SF:{root}/pkg/mod.py" in project.path.joinpath("lcov.info").read_text()


@pytest.mark.parametrize("spread", [(), ("-n", "2")], ids=["serial", "xdist"])
@pytest.mark.parametrize("paths", [True, False], ids=["[paths]", "no [paths]"])
def test_no_database_is_left_open_for_a_suite_that_turns_warnings_into_errors(
    pytester: pytest.Pytester, spread: tuple[str, ...], paths: bool
) -> None:
    """CPython 3.13+ warns of a SQLite connection collected unclosed; click's suite makes that an error.

    The report reads coverage.py's data from a database in memory (and, with
    ``[paths]``, from a second Coverage that combined it): each is closed.
    """
    config = (
        "[tool.pytest.ini_options]\n"
        'filterwarnings = ["error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning"]\n'
        '[tool.coverage.run]\nsource = ["mod"]\n'
    )
    if paths:
        config += '[tool.coverage.paths]\nsource = ["./", "*/elsewhere/"]\n'
    pytester.makepyprojecttoml(config)
    pytester.makepyfile(
        mod="def f(x):\n    return x + 1\n",
        test_mod="import mod\n\ndef test_f():\n    assert mod.f(1) == 2\n",
    )
    result = run_pytest(pytester, "--lcov", *spread)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert "ResourceWarning" not in result.stdout.str() + result.stderr.str()
    assert set(read_records(pytester.path / "lcov.info")) == {"mod.py"}
