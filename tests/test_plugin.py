"""The plugin as a user meets it: flags, configuration twins, start-up errors."""

from __future__ import annotations

import sys
import textwrap

import pytest

from tests.helpers import QUIET_PLUGINS, read_records, run_pytest, summary_line

MOD = """\
def used():
    return 1


def unused():
    return 2
"""

TEST = """\
import mod


def test_it():
    assert mod.used() == 1
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(mod=MOD, test_mod=TEST)
    return pytester


def test_lcov_writes_lcov_info_in_rootdir(project: pytest.Pytester) -> None:
    result = run_pytest(project, "--lcov")
    assert result.ret == 0
    records = read_records(project.path / "lcov.info")
    # Nothing configured: the rootdir is measured, tests included.
    assert sorted(records) == ["mod.py", "test_mod.py"]
    assert records["mod.py"].lines == {1: 1, 2: 1, 5: 1, 6: 0}
    assert records["test_mod.py"].lines == {1: 1, 4: 1, 5: 1}
    # 6 of 7 statements; used and test_it called, unused not.
    assert summary_line(result) == "LCOV written to lcov.info: lines 6/7 (85.7%), functions 2/3 (66.7%)"
    assert (project.path / "lcov.info").read_text().startswith("TN:")


def test_lcov_path_creates_parent_folders(project: pytest.Pytester) -> None:
    result = run_pytest(project, "--lcov=reports/deep/cov.info")
    assert result.ret == 0
    assert (project.path / "reports/deep/cov.info").is_file()
    assert not (project.path / "lcov.info").exists()
    assert "LCOV written to reports/deep/cov.info" in summary_line(result)


def test_lcov_source_limits_what_is_measured(project: pytest.Pytester) -> None:
    run_pytest(project, "--lcov", "--lcov-source=mod")
    assert sorted(read_records(project.path / "lcov.info")) == ["mod.py"]


def test_lcov_source_overrides_a_configured_source(pytester: pytest.Pytester) -> None:
    """Like pytest-cov's --cov=: the command line names what to measure, whatever is configured."""
    for package in ("a", "b"):
        pytester.mkpydir(package)
        pytester.path.joinpath(package, "mod.py").write_text("x = 1\n")
    pytester.makepyfile(test_ab="import a.mod, b.mod\n\n\ndef test_ab():\n    pass\n")
    pytester.makepyprojecttoml('[tool.coverage.run]\nsource = ["a", "tests"]\n')
    run_pytest(pytester, "--lcov", "--lcov-source=b")
    assert sorted(read_records(pytester.path / "lcov.info")) == ["b/__init__.py", "b/mod.py"]
    run_pytest(pytester, "--lcov")
    assert sorted(read_records(pytester.path / "lcov.info")) == ["a/__init__.py", "a/mod.py"]


def test_coverage_configuration_decides_what_is_measured(project: pytest.Pytester) -> None:
    project.makepyprojecttoml("""
        [tool.coverage.run]
        omit = ["test_*.py"]
        [tool.coverage.report]
        exclude_also = ["def unused"]
    """)
    run_pytest(project, "--lcov")
    records = read_records(project.path / "lcov.info")
    assert sorted(records) == ["mod.py"]
    assert records["mod.py"].lines == {1: 1, 2: 1}
    assert [f.name for f in records["mod.py"].functions] == ["used"]


def test_no_lcov_wins_over_configuration(project: pytest.Pytester) -> None:
    project.makepyprojecttoml("""
        [tool.pytest.ini_options]
        lcov_enabled = true
    """)
    result = run_pytest(project, "--no-lcov")
    assert result.ret == 0
    assert not (project.path / "lcov.info").exists()
    assert not any(line.startswith("LCOV") for line in result.outlines)


def test_disabling_the_plugin_turns_it_off(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nlcov_enabled = true\n")
    result = run_pytest(project, "-p", "no:lcov")
    assert result.ret == 0
    assert not (project.path / "lcov.info").exists()


INI_SETTINGS = """
    lcov_enabled = true
    lcov_output = "out/cov.info"
    lcov_format = "lcov2"
    lcov_branch = true
    lcov_test_name = "nightly"
    lcov_paths = "absolute"
"""


@pytest.mark.parametrize("table", ["tool.pytest.ini_options", "tool.pytest"])
def test_every_option_has_a_pyproject_twin(project: pytest.Pytester, table: str) -> None:
    if table == "tool.pytest" and int(pytest.__version__.split(".")[0]) < 9:
        pytest.skip("the native [tool.pytest] table needs pytest 9")
    project.makepyprojecttoml(f"[{table}]\n" + textwrap.dedent(INI_SETTINGS))
    result = run_pytest(project)
    assert result.ret == 0
    text = (project.path / "out/cov.info").read_text()
    assert text.startswith("TN:nightly\n")
    assert f"SF:{(project.path / 'mod.py').as_posix()}\n" in text
    assert "FN:2,2,used\n" in text  # lcov2 dialect: end lines
    assert "BRDA:" not in text or "jump" in text
    assert "branches" not in summary_line(result)  # no branch lines in these files


def test_ini_file_twins(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nlcov_enabled = true\nlcov_source = mod\nlcov_path_prefix = src/\n")
    run_pytest(project)
    assert sorted(read_records(project.path / "lcov.info")) == ["src/mod.py"]


def test_command_line_wins_over_configuration(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nlcov_format = lcov2\n")
    run_pytest(project, "--lcov", "--lcov-format=compat")
    assert "FN:2,used\n" in (project.path / "lcov.info").read_text()


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ("[pytest]\nlcov_format = fancy\n", ["--lcov"], "lcov_format = 'fancy' is not one of: compat, lcov2"),
        ("[pytest]\n", ["--lcov", "--lcov-paths=sideways"], "lcov_paths = 'sideways' is not one of"),
        ("[pytest]\nlcov_branch = maybe\n", ["--lcov"], "lcov_branch"),
        ("[pytest]\nlcov_test_name = my-tests\n", ["--lcov"], "lcov_test_name = 'my-tests'"),
    ],
)
def test_bad_values_stop_the_run_with_one_line_naming_the_key(
    project: pytest.Pytester, config: str, args: list[str], message: str
) -> None:
    project.makeini(config)
    result = run_pytest(project, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.errlines
    assert message in errors[0]
    assert "Traceback" not in result.stderr.str()
    assert not (project.path / "lcov.info").exists()


def test_wrong_toml_type_names_the_key(project: pytest.Pytester) -> None:
    if int(pytest.__version__.split(".")[0]) < 9:
        pytest.skip("the native [tool.pytest] table needs pytest 9")
    project.makepyprojecttoml("[tool.pytest]\nlcov_output = 5\n")
    result = run_pytest(project, "--lcov")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "lcov_output" in result.stderr.str()


def test_conftest_imports_are_measured_from_the_start(pytester: pytest.Pytester) -> None:
    # helper is imported only by conftest.py: its def line ran at import, its body never.
    pytester.makepyfile(helper="def setup_value():\n    return 1\n", test_x="def test_x():\n    pass\n")
    pytester.makeconftest("import helper\n")
    run_pytest(pytester, "--lcov")
    records = read_records(pytester.path / "lcov.info")
    assert records["helper.py"].lines == {1: 1, 2: 0}
    assert records["conftest.py"].lines == {1: 1}


ONE_TRACER = """\
import gc

import coverage


def test_exactly_one_coverage():
    running = [c for c in gc.get_objects() if isinstance(c, coverage.Coverage)]
    assert running == [coverage.Coverage.current()]
"""


def test_one_tracer_under_plain_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one=ONE_TRACER)
    result = run_pytest(pytester, "--lcov")
    result.assert_outcomes(passed=1)


def test_coverage_run_is_reused_not_doubled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one=ONE_TRACER)
    result = pytester.run(
        sys.executable,
        "-m",
        "coverage",
        "run",
        "--source=.",
        "-m",
        "pytest",
        *QUIET_PLUGINS,
        "-p",
        "no:cacheprovider",
        "--lcov",
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["LCOV written to lcov.info: lines 5/5 (100.0%), functions 1/1 (100.0%)", "*1 passed*"]
    )
    assert "SF:test_one.py" in (pytester.path / "lcov.info").read_text()
    assert (pytester.path / ".coverage").exists()  # coverage run still saved its own data


def test_pytest_cov_together_is_refused_with_the_flag_to_drop(project: pytest.Pytester) -> None:
    pytest.importorskip("pytest_cov")
    result = run_pytest(project, "--lcov", "--cov")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: pytest-lcov: --lcov and pytest-cov's --cov would trace this run twice*drop --cov*"]
    )
