"""Safe by default: nothing of the user's is ever replaced, and a gate never passes unchecked."""

from __future__ import annotations

import os
import stat
import subprocess
import threading

import pytest

from tests.helpers import COVERAGE_RUN_PYTEST, PYTEST, read_records, run_pytest, summary_line
from tests.lcov_tools import LcovTools

MOD = "def f(x):\n    if x > 0:\n        return 1\n    return 0\n"
TEST = "from pkg.mod import f\n\n\ndef test_f():\n    assert f(1) == 1\n"
PYPROJECT = '[tool.coverage.run]\nsource = ["pkg"]\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
EARLIER = "TN:earlier\nSF:pkg/mod.py\nDA:1,1\nLF:1\nLH:1\nend_of_record\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The small project of the safety report: pkg/mod.py and tests/test_mod.py."""
    pytester.mkpydir("pkg")
    pytester.path.joinpath("pkg/mod.py").write_text(MOD)
    pytester.mkdir("tests")
    pytester.path.joinpath("tests/test_mod.py").write_text(TEST)
    pytester.makepyprojecttoml(PYPROJECT)
    return pytester


def one_error(result: pytest.RunResult) -> str:
    """The run stopped at start-up with exactly one line, and no traceback."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    lines = [line for line in result.errlines if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    return lines[0]


def no_traceback(result: pytest.RunResult) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output


# 1. A plain install works, with and without xdist loaded.


@pytest.mark.parametrize("xdist", [[], ["-p", "no:xdist"]], ids=["xdist-loaded", "no-xdist"])
def test_a_plain_run_works_with_and_without_xdist(project: pytest.Pytester, xdist: list[str]) -> None:
    result = run_pytest(project, "--lcov", *xdist)
    assert result.ret == 0
    no_traceback(result)
    assert read_records(project.path / "lcov.info")["pkg/mod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}


# 2. No user file is ever overwritten.


def test_lcov_followed_by_a_test_path_stops_and_says_how_to_write_it(project: pytest.Pytester) -> None:
    result = run_pytest(project, "--lcov", "tests/test_mod.py")
    line = one_error(result)
    assert line == (
        "ERROR: pytest-lcov: `--lcov tests/test_mod.py` would take 'tests/test_mod.py' as the report's path: "
        "write --lcov=tests/test_mod.py to choose the output, or put test paths before --lcov"
    )
    assert project.path.joinpath("tests/test_mod.py").read_text() == TEST
    assert not project.path.joinpath("lcov.info").exists()


def test_lcov_after_the_test_path_runs_it(project: pytest.Pytester) -> None:
    result = run_pytest(project, "tests/test_mod.py", "--lcov")
    assert result.ret == 0
    assert project.path.joinpath("lcov.info").is_file()


@pytest.mark.parametrize("target", ["tests/test_mod.py", "pkg/mod.py", "pyproject.toml"])
def test_an_output_that_is_not_a_report_is_never_replaced(project: pytest.Pytester, target: str) -> None:
    before = project.path.joinpath(target).read_bytes()
    line = one_error(run_pytest(project, f"--lcov={target}"))
    assert line == (
        f"ERROR: pytest-lcov: refusing to write {target}: it exists and is not a tracefile: "
        "pytest-lcov replaces only its own reports"
    )
    assert project.path.joinpath(target).read_bytes() == before


def test_python_that_starts_like_lcov_is_not_a_tracefile(project: pytest.Pytester) -> None:
    """``SF:x`` is also a Python annotation: the whole head of the file must read as LCOV."""
    project.path.joinpath("pkg/ann.py").write_text("SF: int\nend_of_record = 1\n")
    one_error(run_pytest(project, "--lcov=pkg/ann.py"))
    assert project.path.joinpath("pkg/ann.py").read_text() == "SF: int\nend_of_record = 1\n"


def test_an_earlier_tracefile_and_an_empty_file_are_replaced(project: pytest.Pytester) -> None:
    project.path.joinpath("lcov.info").write_text(EARLIER)
    project.path.joinpath("empty.info").write_text("")
    assert run_pytest(project, "--lcov").ret == 0
    assert run_pytest(project, "--lcov=empty.info").ret == 0
    for name in ("lcov.info", "empty.info"):
        assert read_records(project.path / name)["pkg/mod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}


def test_a_description_file_that_is_not_ours_is_never_replaced(project: pytest.Pytester) -> None:
    project.path.joinpath("lcov.desc").write_text("my notes\n")
    line = one_error(run_pytest(project, "--lcov", "--lcov-per-test"))
    assert line.startswith("ERROR: pytest-lcov: refusing to write lcov.desc: it exists and is not a genhtml")
    assert project.path.joinpath("lcov.desc").read_text() == "my notes\n"


def test_an_html_folder_that_is_not_a_report_is_refused_at_start_up(project: pytest.Pytester) -> None:
    line = one_error(run_pytest(project, "--lcov", "--lcov-html=pkg"))
    assert line.startswith("ERROR: pytest-lcov: refusing to write pkg: it ")
    assert sorted(p.name for p in project.path.joinpath("pkg").iterdir()) == ["__init__.py", "mod.py"]


def test_a_link_to_a_tracefile_is_kept_and_its_target_replaced(project: pytest.Pytester) -> None:
    project.mkdir("reports")
    project.path.joinpath("reports/real.info").write_text(EARLIER)
    project.path.joinpath("lcov.info").symlink_to("reports/real.info")
    assert run_pytest(project, "--lcov").ret == 0
    assert project.path.joinpath("lcov.info").is_symlink()
    assert "pkg/mod.py" in read_records(project.path / "reports/real.info")
    assert read_records(project.path / "reports/real.info")["pkg/mod.py"].lines[4] == 0


def test_a_link_to_nothing_is_refused(project: pytest.Pytester) -> None:
    project.path.joinpath("lcov.info").symlink_to("nowhere/at/all.info")
    line = one_error(run_pytest(project, "--lcov"))
    assert line == "ERROR: pytest-lcov: refusing to write lcov.info: it is a link to nothing"
    assert os.readlink(project.path / "lcov.info") == "nowhere/at/all.info"


def test_dev_stdout_is_written_through_not_replaced(project: pytest.Pytester) -> None:
    """``/dev/stdout`` is a link to this process's output: the report goes there, the link stays."""
    result = subprocess.run(
        [
            *PYTEST,
            "--lcov=/dev/stdout",
            "-q",
        ],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SF:pkg/mod.py\n" in result.stdout and "end_of_record\n" in result.stdout
    assert "LCOV written to /dev/stdout" in result.stdout
    assert os.path.islink("/dev/stdout")


def test_per_test_data_to_a_device_is_refused(project: pytest.Pytester) -> None:
    line = one_error(run_pytest(project, "--lcov=/dev/null", "--lcov-per-test"))
    assert line.startswith("ERROR: pytest-lcov: per-test data writes a description file beside the tracefile")
    assert not os.path.exists("/dev/null.desc")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_device_is_a_failed_report_not_a_replaced_device(project: pytest.Pytester) -> None:
    result = run_pytest(project, "--lcov=/dev/full", "--lcov-fail-under-lines=0")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the gate cannot be checked: it fails
    assert "pytest-lcov: no tracefile written: /dev/full: No space left on device" in result.outlines
    assert "pytest-lcov: FAIL lines coverage cannot be checked: no tracefile" in result.outlines
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    no_traceback(result)


def test_a_pipe_is_written_through(project: pytest.Pytester) -> None:
    fifo = project.path / "report.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run_pytest(project, f"--lcov={fifo}")
    reader.join(timeout=60)
    assert result.ret == 0
    assert b"SF:pkg/mod.py\n" in received[0]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_pipe_nobody_reads_fails_the_report_without_hanging(project: pytest.Pytester) -> None:
    fifo = project.path / "report.pipe"
    os.mkfifo(fifo)
    result = run_pytest(project, f"--lcov={fifo}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # no tracefile: the run fails
    assert f"pytest-lcov: no tracefile written: {fifo}: a pipe with no reader" in result.outlines
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# 4. Gates fail closed.


@pytest.mark.parametrize(
    "gate", ["--lcov-fail-under-lines=0", "--lcov-fail-under-functions=0", "--lcov-html-required"]
)
def test_a_failed_report_fails_every_gate(project: pytest.Pytester, gate: str) -> None:
    project.path.joinpath("lcov.info").write_text(EARLIER)
    html = ["--lcov-html=htmlcov"] if gate == "--lcov-html-required" else []
    # Nothing measured: coverage.py has no data to report.
    result = run_pytest(project, "--lcov", "--lcov-source=no_such_package", "--lcov-optional", gate, *html)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failures = [line for line in result.outlines if line.startswith("pytest-lcov: FAIL")]
    assert len(failures) == 1 and "no tracefile" in failures[0]
    [stale] = [line for line in result.outlines if "is from an earlier run" in line]
    assert stale.startswith("pytest-lcov: lcov.info is from an earlier run (") and stale.endswith(
        "), not from this one"
    )
    assert project.path.joinpath("lcov.info").read_text() == EARLIER
    no_traceback(result)


def test_a_failed_report_fails_the_run_unless_optional(project: pytest.Pytester) -> None:
    result = run_pytest(project, "--lcov", "--lcov-source=no_such_package")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert any(line.startswith("pytest-lcov: no tracefile written: ") for line in result.outlines)
    assert any(line.startswith("pytest-lcov: FAIL the run asked for a tracefile") for line in result.outlines)
    result = run_pytest(project, "--lcov", "--lcov-source=no_such_package", "--lcov-optional")
    assert result.ret == 0  # the user said so: the tests' result stays the run's
    assert any(line.startswith("pytest-lcov: no tracefile written: ") for line in result.outlines)


# 5. Every xdist shape is measured.


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["-n", "auto", "--pdb"], {}),
        (["-n", "auto"], {"PYTEST_XDIST_AUTO_NUM_WORKERS": "0"}),
        (["-n", "0"], {}),
        (["-n", "2"], {}),
        (["-n", "2", "--dist", "loadfile"], {}),
    ],
    ids=["auto-pdb", "auto-zero-workers", "zero", "two-workers", "loadfile"],
)
def test_every_xdist_shape_is_measured(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run_pytest(project, "--lcov", *args)
    assert result.ret == 0, result.stdout.str()
    assert summary_line(result) == "LCOV written to lcov.info: lines 3/4 (75.0%), functions 1/1 (100.0%)"
    assert read_records(project.path / "lcov.info")["pkg/mod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}


def test_collect_only_under_xdist_is_measured(project: pytest.Pytester) -> None:
    """Collection imports the code under test: its module-level lines ran."""
    result = run_pytest(project, "--lcov", "-n", "2", "--collect-only")
    assert result.ret == 0
    assert read_records(project.path / "lcov.info")["pkg/mod.py"].lines == {1: 1, 2: 0, 3: 0, 4: 0}


# 7. Start-up errors are one line.


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        (
            '[tool.pytest.ini_options]\nlcov_output = ["a", "b"]\n',
            "ERROR: pytest-lcov: lcov_output = ['a', 'b']: expected one text value",
        ),
        (
            "[tool.pytest.ini_options]\nlcov_html = true\n",
            "ERROR: pytest-lcov: lcov_html = 'True': expected a path, not a yes/no value",
        ),
        (
            '[tool.coverage.report]\nexclude_lines = ["("]\n',
            "ERROR: pytest-lcov: coverage.py cannot measure this run: Invalid [tool.coverage.report]."
            "exclude_lines value '(': missing ), unterminated subpattern at position 0",
        ),
        (
            '[tool.coverage.run]\ncore = "nonsense"\n',
            "ERROR: pytest-lcov: coverage.py cannot measure this run: ",
        ),
        (
            '[tool.coverage.run]\nplugins = ["no_such_plugin_module"]\n',
            "ERROR: pytest-lcov: coverage.py cannot measure this run: "
            "No module named 'no_such_plugin_module'",
        ),
    ],
    ids=["list-as-output", "true-as-html-folder", "bad-regex", "unknown-core", "unknown-plugin"],
)
def test_start_up_errors_are_one_line(pytester: pytest.Pytester, pyproject: str, expected: str) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    pytester.makepyprojecttoml(pyproject)
    line = one_error(run_pytest(pytester, "--lcov"))
    assert line.startswith(expected), line
    assert not list(pytester.path.glob("True"))


def test_an_unknown_user_in_the_output_path_is_one_line(project: pytest.Pytester) -> None:
    line = one_error(run_pytest(project, "--lcov=~nosuchuser_pytest_lcov/x.info"))
    assert line.startswith("ERROR: pytest-lcov: --lcov = '~nosuchuser_pytest_lcov/x.info': ")


# 9. Smaller ones.


def test_checksums_of_crlf_sources_pass_genhtml_checksum(pytester: pytest.Pytester, lcov: LcovTools) -> None:
    """A Windows checkout (CRLF): genhtml strips the carriage return before it checks a line's MD5."""
    pytester.path.joinpath("mod.py").write_bytes(
        b"def f(x):\r\n    if x:\r\n        return 1\r\n    return 0\r\n"
    )
    pytester.makepyfile(test_mod="import mod\n\n\ndef test_f():\n    assert mod.f(1) == 1\n")
    assert run_pytest(pytester, "--lcov", "--lcov-checksums", "--lcov-source=mod").ret == 0
    checksum = ["--checksum"] if lcov.major == 2 else []  # 1.16 checks checksums whenever they are there
    lcov.genhtml(pytester.path / "lcov.info", pytester.path / "html", *checksum, cwd=pytester.path)


def test_the_table_prints_no_escape_sequences_from_file_names(pytester: pytest.Pytester) -> None:
    name = "evil\x1b[2Jname.py"
    pytester.path.joinpath(name).write_text("x = 1\n")
    loader = (
        "import importlib.util\n\n\ndef test_e():\n"
        f"    spec = importlib.util.spec_from_file_location('evil', {name!r})\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
    )
    pytester.makepyfile(test_e=loader)
    result = run_pytest(pytester, "--lcov", "--lcov-table", "--lcov-source=.")
    assert result.ret == 0
    assert "\x1b" not in result.stdout.str()
    assert any(line.startswith("evil?[2Jname.py") for line in result.outlines)


def test_lcov_branch_under_coverage_run_says_it_is_ignored(project: pytest.Pytester) -> None:
    result = subprocess.run(
        [*COVERAGE_RUN_PYTEST, "--lcov", "--lcov-branch"],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pytest-lcov: --lcov-branch is ignored under `coverage run`" in result.stdout


def test_a_notice_is_a_warning_that_w_error_turns_into_a_failure(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_edit="import pkg.mod\n\n\ndef test_edit():\n    open(pkg.mod.__file__, 'a').write('\\n')\n"
    )
    relaxed = run_pytest(project, "--lcov")
    assert relaxed.ret == 0
    changed = "pytest-lcov: pkg/mod.py changed during the run: its report may not match the code that ran"
    assert relaxed.outlines.count(changed) == 1  # said once: not repeated in a warnings summary
    shown = run_pytest(project, "--lcov", "-W", "always::pytest_lcov.PytestLcovWarning")
    assert f"PytestLcovWarning: {changed}" in shown.stdout.str()
    strict = run_pytest(project, "--lcov", "-W", "error::pytest_lcov.PytestLcovWarning")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    assert any(line.endswith("(an error by the warning filters)") for line in strict.outlines)
    no_traceback(strict)
