"""A pytest-cov user's set-up gives the same outcome with pytest-lcov.

Each test runs pytest-cov (``--cov --cov-report=lcov:cov.info``) and pytest-lcov
(``--lcov``) on the same project, in real pytest sessions measured by the real
coverage.py, and compares what a CI job sees: the exit status, the numbers of the
fail-under message, the ``SF:`` paths and the line and branch totals (and, against
``--cov-report=term-missing``, what ``--lcov-table`` lists).  Where
pytest-lcov differs on purpose (a missing tracefile fails the run; Ctrl-C keeps
the earlier tracefile), the test shows pytest-cov's behaviour beside it.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from pytest_lcov.cli import main
from pytest_lcov.tracefile import parse, safe_test_name
from tests.helpers import COVERAGE_RUN_PYTEST, INTERRUPTIBLE_PYTEST, QUIET_PLUGINS, read_records, run_pytest

pytest.importorskip("pytest_cov")

# What these tests compare (the fail-under lines, Ctrl-C) is pytest-cov 7's behaviour. The
# dependency floor pairs coverage.py 7.10.4 with pytest-cov 5 (7.x needs coverage.py 7.10.6+).
PYTEST_COV_7 = pytest.mark.skipif(
    int(metadata.version("pytest-cov").split(".")[0]) < 7,
    reason="the reference is pytest-cov 7.x; this is the dependency floor's pytest-cov "
    + metadata.version("pytest-cov"),
)

CORE = """\
def classify(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    return "positive"


def first_over(values, limit):
    for value in values:
        if value > limit:
            return value
    return None


def unused(x):
    if x:
        return 1
    return 2
"""
TESTS = """\
from mylib.core import classify, first_over


def test_classify():
    assert classify(1) == "positive"
    assert classify(-1) == "negative"


def test_first_over():
    assert first_over([1, 5], 3) == 5
"""
COVERAGE_CONFIG = """\
[tool.coverage.run]
source = ["mylib"]
branch = true
"""
FAIL_UNDER = re.compile(
    r"(FAIL )?Required test coverage of (\S+)% (not reached|reached)\. Total coverage: (\S+)%"
)
FAILURE = re.compile(r"Coverage failure: total of (\S+) is less than fail-under=(\S+)")


@dataclass(frozen=True)
class Lcov:
    """What a CI service reads from a tracefile: the files, and the line and branch totals."""

    files: frozenset[str]
    lines: tuple[int, int]  # hit, found
    branches: tuple[int, int]

    @classmethod
    def read(cls, path: Path) -> Lcov:
        files, numbers = set(), dict.fromkeys(("LH", "LF", "BRH", "BRF"), 0)
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key == "SF":
                files.add(value)
            elif key in numbers:
                numbers[key] += int(value)
        return cls(frozenset(files), (numbers["LH"], numbers["LF"]), (numbers["BRH"], numbers["BRF"]))


def write_project(root: Path, config: str = COVERAGE_CONFIG, *, installed: Path | None = None) -> None:
    """A src-layout project; `installed`: also a copy of the package there (a non-editable install)."""
    package = root / "src" / "mylib"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(CORE)
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_core.py").write_text(TESTS)
    (root / "pyproject.toml").write_text(config)
    if installed is not None:
        copy = installed / "mylib"
        copy.mkdir(parents=True, exist_ok=True)
        for source in package.iterdir():
            if source.is_file():
                (copy / source.name).write_text(source.read_text())


@pytest.fixture(params=[[], ["-n", "2"]], ids=["serial", "xdist"])
def workers(request: pytest.FixtureRequest) -> list[str]:
    """Each comparison that takes it runs serial and under pytest-xdist (``-n 2``)."""
    workers: list[str] = request.param
    if workers:
        pytest.importorskip("xdist")
    return workers


def pytest_cov(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, "--cov", "--cov-report=lcov:cov.info", *args)


def pytest_lcov(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, "--lcov", *args)


def gate_numbers(result: pytest.RunResult) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The numbers of pytest-cov's two fail-under messages, as printed (the second only on a failure)."""
    text = result.stdout.str()
    [reached] = FAIL_UNDER.findall(text)
    failures = FAILURE.findall(text)
    return reached, failures[0] if failures else None


# Item 1: [report] fail_under, --cov-fail-under.


@pytest.mark.parametrize(
    ("config", "cov_args", "lcov_args"),
    [
        pytest.param("[tool.coverage.report]\nfail_under = 95\n", [], [], id="config-fails"),
        pytest.param("[tool.coverage.report]\nfail_under = 60\n", [], [], id="config-passes"),
        pytest.param(
            "[tool.coverage.report]\nfail_under = 73.5\nprecision = 2\n", [], [], id="config-precision"
        ),
        pytest.param("", ["--cov-fail-under=95"], ["--lcov-fail-under=95"], id="flag-fails"),
        pytest.param(
            "[tool.coverage.report]\nfail_under = 100\n",
            ["--cov-fail-under=50"],
            ["--lcov-fail-under=50"],
            id="flag-wins",
        ),
    ],
)
@PYTEST_COV_7
def test_fail_under_gives_pytest_cov_outcome_and_numbers(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    cov_args: list[str],
    lcov_args: list[str],
) -> None:
    write_project(pytester.path, COVERAGE_CONFIG + config)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = pytest_cov(pytester, *cov_args)
    lcov = pytest_lcov(pytester, *lcov_args)
    assert lcov.ret == cov.ret, lcov.stdout.str()
    assert gate_numbers(lcov) == gate_numbers(cov)
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")


@PYTEST_COV_7
def test_fail_under_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    write_project(pytester.path, COVERAGE_CONFIG + "[tool.coverage.report]\nfail_under = 95\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = pytest_cov(pytester, "-n", "2")
    lcov = pytest_lcov(pytester, "-n", "2")
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED
    assert gate_numbers(lcov) == gate_numbers(cov)
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")


@PYTEST_COV_7
def test_covdefaults_fail_under_100(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """covdefaults sets fail_under = 100 (and branch = true) from its coverage.py plugin."""
    pytest.importorskip("covdefaults")
    write_project(pytester.path, '[tool.coverage.run]\nplugins = ["covdefaults"]\nsource = ["mylib"]\n')
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = pytest_cov(pytester)
    lcov = pytest_lcov(pytester)
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED
    assert gate_numbers(lcov) == gate_numbers(cov)
    assert gate_numbers(lcov)[0][1] == "100"
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")


# Item 3: a source file coverage.py cannot parse; a tracefile that cannot be written.


def test_an_unparseable_file_no_test_imports_is_left_out_with_a_warning(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(pytester.path)
    (pytester.path / "src" / "mylib" / "broken.py").write_text("def broken(:\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = pytest_cov(pytester)
    lcov = pytest_lcov(pytester)
    assert lcov.ret == cov.ret == pytest.ExitCode.OK
    assert "Couldn't parse Python file" in lcov.stdout.str() + lcov.stderr.str()
    written = Lcov.read(pytester.path / "lcov.info")
    assert written == Lcov.read(pytester.path / "cov.info")
    assert written.files == {"src/mylib/__init__.py", "src/mylib/core.py"}


@pytest.mark.parametrize("filters", [["-W", "error"], ["-o", "filterwarnings=error"]], ids=["W", "ini"])
def test_filterwarnings_error_shows_coverages_warnings_as_pytest_cov_does(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, filters: list[str]
) -> None:
    """pytest-cov shows coverage.py's warnings once under `error` (unless a filter names them): so does
    pytest-lcov, whose report at session end would otherwise be lost to "Couldn't parse"."""
    write_project(pytester.path)
    (pytester.path / "src" / "mylib" / "broken.py").write_text("def broken(:\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = pytest_cov(pytester, *filters)
    lcov = pytest_lcov(pytester, *filters)
    assert lcov.ret == cov.ret == pytest.ExitCode.OK, lcov.stdout.str()
    assert "Couldn't parse Python file" in lcov.stdout.str() + lcov.stderr.str()
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")
    # A filter that names CoverageWarning is the user's word, as for pytest-cov 7 (5 reports anyway).
    named = ["-W", "error::coverage.exceptions.CoverageWarning"]
    strict_lcov = pytest_lcov(pytester, *named)
    assert strict_lcov.ret != pytest.ExitCode.OK
    if int(metadata.version("pytest-cov").split(".")[0]) >= 7:
        assert pytest_cov(pytester, *named).ret != pytest.ExitCode.OK
    assert "pytest-lcov: no tracefile written: internal error CoverageWarning(" in strict_lcov.stdout.str()


def test_no_tracefile_fails_the_run_unless_optional(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-cov warns and exits 0 without its report; pytest-lcov fails the run (README: the rule)."""
    write_project(pytester.path, "")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = run_pytest(pytester, "--cov=no_such_package", "--cov-report=lcov:cov.info")
    assert cov.ret == pytest.ExitCode.OK and not (pytester.path / "cov.info").exists()
    lcov = pytest_lcov(pytester, "--lcov-source=no_such_package")
    assert lcov.ret == pytest.ExitCode.TESTS_FAILED
    assert "pytest-lcov: no tracefile written: No data to report." in lcov.outlines
    assert any(line.startswith("pytest-lcov: FAIL the run asked for a tracefile") for line in lcov.outlines)
    optional = pytest_lcov(pytester, "--lcov-source=no_such_package", "--lcov-optional")
    assert optional.ret == pytest.ExitCode.OK
    assert not (pytester.path / "lcov.info").exists()


def test_a_failed_test_run_keeps_its_own_status_without_a_tracefile(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(pytester.path, "")
    (pytester.path / "tests" / "test_fails.py").write_text("def test_fails():\n    assert False\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    lcov = pytest_lcov(pytester, "--lcov-source=no_such_package")
    assert lcov.ret == pytest.ExitCode.TESTS_FAILED
    assert not any("FAIL the run asked for a tracefile" in line for line in lcov.outlines)


# Item 2: [paths] in serial runs, and in `pytest-lcov merge`.


PATHS_CONFIG = COVERAGE_CONFIG + '[tool.coverage.paths]\nsource = ["src/", "*/site-packages/"]\n'


def test_paths_remap_an_installed_package_as_pytest_cov_does(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    site = pytester.path / "venv" / "lib" / "python3.11" / "site-packages"
    write_project(pytester.path, PATHS_CONFIG, installed=site)
    monkeypatch.setenv("PYTHONPATH", str(site))  # the tests import the installed copy, not src/
    cov = pytest_cov(pytester, *workers)
    lcov = pytest_lcov(pytester, *workers)
    assert lcov.ret == cov.ret == pytest.ExitCode.OK
    written = Lcov.read(pytester.path / "lcov.info")
    assert written == Lcov.read(pytester.path / "cov.info")
    assert written.files == {"src/mylib/__init__.py", "src/mylib/core.py"}


def test_paths_keep_execution_counts(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts are taken by measured path: renamed with the data, they still meet their file."""
    site = pytester.path / "venv" / "lib" / "python3.11" / "site-packages"
    write_project(pytester.path, PATHS_CONFIG, installed=site)
    monkeypatch.setenv("PYTHONPATH", str(site))
    cov = pytest_cov(pytester)
    lcov = pytest_lcov(pytester, "--lcov-counts=executions")
    assert lcov.ret == cov.ret == pytest.ExitCode.OK
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")
    [record] = [
        p.record
        for p in parse((pytester.path / "lcov.info").read_text())
        if p.record.path.endswith("core.py")
    ]
    assert record.path == "src/mylib/core.py"
    assert record.lines[2] == 2  # classify() was called twice


def tox_runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, config: str) -> list[Path]:
    """One pytest --lcov run per tox environment, each importing its own installed copy."""
    outputs = []
    for env, python in (("py311", "python3.11"), ("py312", "python3.12")):
        site = pytester.path / ".tox" / env / "lib" / python / "site-packages"
        write_project(pytester.path, config, installed=site)
        monkeypatch.setenv("PYTHONPATH", str(site))
        output = pytester.path / f"{env}.info"
        assert pytest_lcov(pytester, f"--lcov={output}").ret == pytest.ExitCode.OK
        outputs.append(output)
    monkeypatch.delenv("PYTHONPATH")
    return outputs


def test_merge_remaps_tox_environments_into_one_record_per_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tox_runs(pytester, monkeypatch, COVERAGE_CONFIG)  # no [paths]: SF: under .tox/
    assert all(".tox/" in path for path in Lcov.read(outputs[0]).files)
    # pytest-cov's reference: one run with [paths], the source files where they are.
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / ".tox/py311/lib/python3.11/site-packages"))
    write_project(pytester.path, PATHS_CONFIG)
    assert pytest_cov(pytester).ret == pytest.ExitCode.OK
    # As `lcov -a`, merge drops records without lines (the empty __init__.py).
    reference = dataclasses.replace(
        Lcov.read(pytester.path / "cov.info"), files=frozenset({"src/mylib/core.py"})
    )
    monkeypatch.chdir(pytester.path)
    write_project(pytester.path, COVERAGE_CONFIG)
    # From the command line,
    given = ["--paths", "src/,*/site-packages/", "--no-coverage-paths"]
    assert main(["merge", *map(str, outputs), "-o", "flag.info", *given]) == 0
    assert Lcov.read(pytester.path / "flag.info") == reference
    # and from coverage.py's configuration.
    write_project(pytester.path, PATHS_CONFIG)
    assert main(["merge", *map(str, outputs), "-o", "config.info"]) == 0
    assert Lcov.read(pytester.path / "config.info") == reference
    out = capsys.readouterr().out
    assert "SF: paths renamed by [paths] (e.g. .tox/py311/lib/python3.11/site-packages/mylib/" in out
    # Without remapping, each environment keeps its own records: twice the lines.
    assert main(["merge", *map(str, outputs), "-o", "plain.info", "--no-coverage-paths"]) == 0
    plain = Lcov.read(pytester.path / "plain.info")
    assert plain.lines[1] == 2 * reference.lines[1]


# Item 6: an empty --lcov-source= is no filter, as --cov= is.


def test_an_empty_source_option_is_no_filter(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-cov's help says --cov= means no filter: what its bare --cov does (7.1.0's --cov= measures
    nothing with coverage.py 7.18: "Module  was never imported", README)."""
    write_project(pytester.path)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = run_pytest(pytester, "--cov", "--cov-report=lcov:cov.info")
    lcov = run_pytest(pytester, "--lcov", "--lcov-source=")
    assert lcov.ret == cov.ret == pytest.ExitCode.OK
    written = Lcov.read(pytester.path / "lcov.info")
    assert written == Lcov.read(pytester.path / "cov.info")
    assert written.files == {"src/mylib/__init__.py", "src/mylib/core.py"}


# Item 7: --cov in addopts.


@pytest.mark.parametrize("turned_on", ["--lcov", "lcov_enabled"])
def test_cov_in_addopts_names_the_way_out(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, turned_on: str
) -> None:
    enabled = "lcov_enabled = true\n" if turned_on == "lcov_enabled" else ""
    pytest_section = f'[tool.pytest.ini_options]\naddopts = "--cov --cov-report=lcov:cov.info"\n{enabled}'
    write_project(pytester.path, COVERAGE_CONFIG + pytest_section)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    lcov_flag = ["--lcov"] if turned_on == "--lcov" else []
    refused = run_pytest(pytester, *lcov_flag)
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    [error] = [line for line in refused.errlines if line.startswith("ERROR:")]
    how = "--lcov" if turned_on == "--lcov" else "lcov_enabled = true (in pyproject.toml)"
    assert error.startswith(
        f"ERROR: pytest-lcov: {how} and pytest-cov's --cov (from addopts in pyproject.toml) would trace "
        "this run twice: add --no-cov to turn pytest-cov off for this run"
    )
    # The way out it names works, and measures what pytest-cov measured.
    cov = run_pytest(pytester, "--no-lcov")
    lcov = run_pytest(pytester, *lcov_flag, "--no-cov")
    assert lcov.ret == cov.ret == pytest.ExitCode.OK
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")


# Item 9: Ctrl-C.


EARLIER = "TN:earlier\nSF:src/mylib/core.py\nDA:1,1\nLF:1\nLH:1\nend_of_record\n"


def interrupted(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A run stopped by SIGINT (Ctrl-C) while its second test waits."""
    started = root / "started"
    started.unlink(missing_ok=True)
    (root / "tests" / "test_wait.py").write_text(
        f"import pathlib, time\n\n\ndef test_wait():\n"
        f"    pathlib.Path({str(started)!r}).write_text('yes')\n    time.sleep(60)\n"
    )
    command = [*INTERRUPTIBLE_PYTEST, *QUIET_PLUGINS, "-p", "no:cacheprovider", "-p", "no:randomly"]
    process = subprocess.Popen(
        [*command, *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, output)


@PYTEST_COV_7
def test_ctrl_c_keeps_the_earlier_tracefile(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(pytester.path)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    (pytester.path / "cov.info").write_text(EARLIER)
    (pytester.path / "lcov.info").write_text(EARLIER)
    cov = interrupted(pytester.path, "--cov", "--cov-report=lcov:cov.info")
    lcov = interrupted(pytester.path, "--lcov")
    assert lcov.returncode == cov.returncode == pytest.ExitCode.INTERRUPTED, lcov.stdout
    assert (pytester.path / "cov.info").read_text() == EARLIER  # pytest-cov writes nothing
    assert (pytester.path / "lcov.info").read_text() == EARLIER
    assert "pytest-lcov: no tracefile written: the run was interrupted, so what it measured is partial" in (
        lcov.stdout
    )
    assert "pytest-lcov: lcov.info is from an earlier run (" in lcov.stdout


# Item 8 and --cov-precision: the terminal table, as --cov-report=term-missing shows it.


BRANCHY = """\
def partial(x):
    y = 0
    if x:
        y = 1
    return y


def loop(items):
    for item in items:
        if item:
            break
    return 1
"""
COMPLETE = "def complete():\n    return 1\n"
MORE_TESTS = """\
from mylib.branchy import loop, partial
from mylib.complete import complete


def test_more():
    assert partial(True) == 1
    assert loop([1]) == 1
    assert complete() == 1
"""
SKIPPED = re.compile(r"\d+ (empty )?files? skipped")


def write_table_project(root: Path, report: str) -> None:
    """write_project's package, with partial branches, a complete file and an empty one."""
    write_project(root, COVERAGE_CONFIG + "[tool.coverage.report]\n" + report)
    package = root / "src" / "mylib"
    (package / "branchy.py").write_text(BRANCHY)
    (package / "complete.py").write_text(COMPLETE)
    (package / "empty.py").write_text("# nothing to run\n")
    (root / "tests" / "test_more.py").write_text(MORE_TESTS)


@dataclass(frozen=True)
class Table:
    """A terminal table as printed: per file (and TOTAL) coverage.py's percent and the Missing text."""

    rows: dict[str, tuple[str, str]]
    skipped: tuple[str, ...]  # coverage.py's lines about the files left out
    cells: tuple[tuple[str, ...], ...]  # every row, split into its cells

    @classmethod
    def read(cls, result: pytest.RunResult, first: str, cover: str) -> Table:
        """The table whose header starts with `first`; `cover` is the header of coverage.py's percent."""
        lines = result.outlines
        start = next(i for i, line in enumerate(lines) if line.startswith(first + " "))
        header = lines[start].split()  # captions are single words
        rows, cells = {}, []
        end = start
        for end, line in enumerate(lines[start + 1 :], start + 1):  # noqa: B007 (read after the loop)
            if set(line) == {"-"}:
                continue
            row = line.split(maxsplit=len(header) - 1)  # only Missing holds spaces
            cells.append(tuple(row))
            rows[row[0]] = (row[header.index(cover)], row[-1] if len(row) == len(header) else "")
            if row[0] == "TOTAL":
                break
        skipped = tuple(line for line in lines[end + 1 : end + 5] if SKIPPED.match(line))
        return cls(rows, skipped, tuple(cells))


def term_missing(pytester: pytest.Pytester, *args: str) -> Table:
    result = run_pytest(pytester, "--cov", "--cov-report=term-missing", *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    return Table.read(result, "Name", "Cover")


def lcov_table(pytester: pytest.Pytester, *args: str) -> Table:
    result = pytest_lcov(pytester, "--lcov-table", *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    return Table.read(result, "File", "Total")


@pytest.mark.parametrize(
    ("report", "cov_args", "lcov_args", "digits", "skipped"),
    [
        pytest.param("", [], [], 0, (), id="plain"),
        pytest.param(
            "skip_covered = true\nprecision = 2\n",
            [],
            [],
            2,
            ("3 files skipped due to complete coverage.",),
            id="skip-covered",
        ),
        pytest.param(
            "skip_empty = true\nprecision = 1\n", [], [], 1, ("2 empty files skipped.",), id="skip-empty"
        ),
        pytest.param(
            "skip_covered = true\nskip_empty = true\n",
            [],
            [],
            0,
            ("3 files skipped due to complete coverage.",),  # coverage.py counts empty files as complete
            id="skip-both",
        ),
        pytest.param(
            "precision = 1\n", ["--cov-precision=3"], ["--lcov-precision=3"], 3, (), id="precision-flag"
        ),
    ],
)
@PYTEST_COV_7
def test_table_lists_what_term_missing_lists(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    report: str,
    cov_args: list[str],
    lcov_args: list[str],
    digits: int,
    skipped: tuple[str, ...],
) -> None:
    """The same files, Missing text (partial branches too), per-file and TOTAL percent, skipped lines."""
    write_table_project(pytester.path, report)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = term_missing(pytester, *cov_args)
    lcov = lcov_table(pytester, *lcov_args)
    assert lcov.rows == cov.rows
    assert lcov.skipped == cov.skipped == skipped
    assert "3->5, 9->12, 10->9" in {missing for _, missing in cov.rows.values()}
    # Every percentage of the table, coverage.py's and LCOV's per metric, with the same digits.
    percents = [cell for row in lcov.cells for cell in row if cell.endswith("%")]
    pattern = rf"\d+\.\d{{{digits}}}%" if digits else r"\d+%"
    assert percents and all(re.fullmatch(pattern, cell) for cell in percents), percents


HAND_MODULE = """\
def f(x):
    y = 0
    if x:
        y = 1
    return y
"""


@PYTEST_COV_7
def test_table_worked_out_by_hand(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """f(True) only: 5 of 5 statements and 1 of 2 branches ran, so coverage.py's total is 6/7.

    85.714...% shows as 85.71% with precision 2; the missed arc 3->5 is the Missing text; the empty
    __init__.py is left out by skip_empty.  --lcov-precision decides the fail-under rule as
    --cov-precision does: 85.714 rounds to 86 (passes a gate of 86) but to 85.7 with one digit.
    """
    write_project(
        pytester.path, COVERAGE_CONFIG + "[tool.coverage.report]\nskip_empty = true\nprecision = 2\n"
    )
    (pytester.path / "src" / "mylib" / "core.py").write_text(HAND_MODULE)
    (pytester.path / "tests" / "test_core.py").write_text(
        "from mylib.core import f\n\n\ndef test_f():\n    assert f(True) == 1\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    table = lcov_table(pytester)
    assert table.cells == (
        ("src/mylib/core.py", "5/5", "100.00%", "1/1", "100.00%", "1/2", "50.00%", "85.71%", "3->5"),
        ("TOTAL", "5/5", "100.00%", "1/1", "100.00%", "1/2", "50.00%", "85.71%"),
    )
    assert table.rows == {"src/mylib/core.py": ("85.71%", "3->5"), "TOTAL": ("85.71%", "")}
    assert table.skipped == ("1 empty file skipped.",)
    reference = term_missing(pytester)
    assert (reference.rows, reference.skipped) == (table.rows, table.skipped)
    for digits, status, failure in [
        ("0", pytest.ExitCode.OK, None),
        ("1", pytest.ExitCode.TESTS_FAILED, ("85.7", "86.0")),
    ]:
        cov = pytest_cov(pytester, "--cov-fail-under=86", f"--cov-precision={digits}")
        lcov = pytest_lcov(pytester, "--lcov-fail-under=86", f"--lcov-precision={digits}")
        assert lcov.ret == cov.ret == status
        (_, *lcov_line), lcov_failure = gate_numbers(lcov)
        (_, *cov_line), cov_failure = gate_numbers(cov)
        assert lcov_failure == cov_failure == failure
        # The words differ at the rounding edge (README): pytest-cov's "FAIL ... not reached" on a pass.
        assert lcov_line[0::2] == cov_line[0::2] == ["86", "85.71"]


@pytest.mark.parametrize("value", ["-1", "1.5", "two", ""])
def test_a_bad_precision_stops_the_run_at_start_up(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile(test_f="def test_f():\n    pass\n")
    result = pytest_lcov(pytester, f"--lcov-precision={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"lcov_precision = '{value}' is not a number of digits (a whole number from 0 up)" in (
        result.stderr.str()
    )
    pytester.makeini(f"[pytest]\nlcov_precision = {value}\n")
    assert pytest_lcov(pytester).ret == pytest.ExitCode.USAGE_ERROR


# Item 10: the help text.


def test_help_names_each_gate_in_words(pytester: pytest.Pytester) -> None:
    text = run_pytest(pytester, "--help").stdout.str()
    assert "branche " not in text
    assert "fail the run when branch coverage is under this percent" in " ".join(text.split())


# Item 5: no `source` at all.


def test_without_source_the_files_that_ran_as_pytest_cov_lists_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """coverage.py's own rule decides: what ran outside the stdlib and installed packages, nothing else."""
    write_project(pytester.path, "[tool.coverage.run]\nbranch = true\n")
    (pytester.path / "setup.py").write_text("from setuptools import setup\n\nsetup()\n")
    (pytester.path / "noxfile.py").write_text("import nox\n")
    (pytester.path / "src" / "mylib" / "never.py").write_text("def unused():\n    return 3\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = pytest_cov(pytester)
    lcov = pytest_lcov(pytester)
    assert lcov.ret == cov.ret == pytest.ExitCode.OK

    def in_project(path: Path) -> Lcov:
        # An editable install of the plugins under test, outside the project, runs too: leave it out.
        text = path.read_text(encoding="utf-8")
        records = [part for part in text.split("end_of_record\n") if "\nSF:/" not in "\n" + part]
        assert "SF:.." not in text  # outside the project: absolute, as coverage.py names it
        kept = path.with_suffix(".project")
        kept.write_text("end_of_record\n".join(records), encoding="utf-8")
        return Lcov.read(kept)

    written = in_project(pytester.path / "lcov.info")
    assert written == in_project(pytester.path / "cov.info")
    assert written.files == {"src/mylib/__init__.py", "src/mylib/core.py", "tests/test_core.py"}


# Item 4: concurrency = ["thread", "multiprocessing"].

MULTIPROCESSING_CORE = """\
import multiprocessing


def square(x):
    if x > 2:
        return x * x
    return x


def in_pool():
    pool = multiprocessing.Pool(2)
    try:
        return pool.map(square, [1, 2, 3])
    finally:
        pool.close()
        pool.join()


def in_process(queue):
    process = multiprocessing.Process(target=child, args=(queue,))
    process.start()
    process.join()
    return queue.get()


def child(queue):
    queue.put(square(5))
"""
MULTIPROCESSING_TESTS = """\
import multiprocessing

from mylib import core


def test_pool():
    assert core.in_pool() == [1, 2, 9]


def test_process():
    assert core.in_process(multiprocessing.Queue()) == 25
"""
MULTIPROCESSING_CONFIG = COVERAGE_CONFIG + 'concurrency = ["thread", "multiprocessing"]\n'


def test_multiprocessing_children_are_measured_and_leave_no_data_files(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    write_project(pytester.path, MULTIPROCESSING_CONFIG)
    (pytester.path / "src" / "mylib" / "core.py").write_text(MULTIPROCESSING_CORE)
    (pytester.path / "tests" / "test_core.py").write_text(MULTIPROCESSING_TESTS)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    lcov = pytest_lcov(pytester, *workers)
    assert lcov.ret == pytest.ExitCode.OK, lcov.stdout.str()
    assert not list(pytester.path.glob(".coverage*"))
    assert "concurrency = multiprocessing" not in lcov.stdout.str()
    cov = pytest_cov(pytester, *workers)
    assert cov.ret == pytest.ExitCode.OK
    written = Lcov.read(pytester.path / "lcov.info")
    assert written == Lcov.read(pytester.path / "cov.info")
    core = read_records(pytester.path / "lcov.info")["src/mylib/core.py"]
    # Only children run square() and child(): x > 2 both ways (pool: 1, 2, 3; process: 5).
    assert core.lines[5] == core.lines[6] == core.lines[7] == core.lines[27] == 1
    assert [branch.taken for branch in core.branches if branch.line == 5] == [1, 1]


def test_branches_children_cannot_measure_stop_the_run(pytester: pytest.Pytester) -> None:
    """Children start with the configuration file alone: line data of theirs would not combine."""
    write_project(
        pytester.path, '[tool.coverage.run]\nsource = ["mylib"]\nconcurrency = ["multiprocessing"]\n'
    )
    result = pytest_lcov(pytester, "--lcov-branch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*concurrency = multiprocessing*does not set branch = true: set it there*"])
    assert not (pytester.path / "lcov.info").exists()


# The no_cover marker and fixture.

NO_COVER_TESTS = """\
import pytest

from mylib.core import classify, first_over, unused


def test_classify():
    assert classify(1) == "positive"


@pytest.mark.no_cover
def test_marked():
    assert classify(-1) == "negative"
    assert unused(1) == 1


def test_with_fixture(no_cover):
    assert first_over([1, 5], 3) == 5
"""


@pytest.mark.parametrize(
    "lcov_args",
    [[], ["--lcov-counts=executions"], ["--lcov-per-test"], ["-n", "2"]],
    ids=["plain", "executions", "per-test", "xdist"],
)
def test_no_cover_tests_are_not_measured_as_under_pytest_cov(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, lcov_args: list[str]
) -> None:
    if "-n" in lcov_args:
        pytest.importorskip("xdist")
    write_project(pytester.path)
    (pytester.path / "tests" / "test_core.py").write_text(NO_COVER_TESTS)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    cov = pytest_cov(pytester, "--strict-markers", "-p", "no:randomly")
    lcov = pytest_lcov(pytester, "--strict-markers", "-p", "no:cov", "-p", "no:randomly", *lcov_args)
    assert lcov.ret == cov.ret == pytest.ExitCode.OK, lcov.stdout.str()
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")
    core = read_records(pytester.path / "lcov.info")["src/mylib/core.py"]
    # By hand: only classify(1) ran measured; "negative", first_over's body and unused's did not
    # (their def lines ran at import).
    expected = {2: 1, 3: 0, 6: 1, 9: 1, 10: 0, 11: 0, 16: 1, 17: 0}
    assert {line: core.lines[line] for line in expected} == expected


# --cov-config, --no-cov-on-fail and --cov-append, and pytest-lcov's flags for them: the same
# project under both, then what a file left on disk or a mistyped path can do to each flag.


# --cov-config / --lcov-config


# Read only from the file given: pyproject.toml measures another package without branches.
ALT_CONFIG = """\
[run]
source = mylib
branch = true
patch = subprocess

[paths]
source =
    src/
    */site-packages/

[report]
fail_under = 95
"""
CHILD_TEST = """\
import subprocess
import sys


def test_child():
    # Only a child measured through the configuration's `patch = subprocess` runs unused().
    subprocess.run([sys.executable, "-c", "from mylib.core import unused; unused(1)"], check=True)
"""


@PYTEST_COV_7
def test_config_file_reaches_every_coverage_as_cov_config_does(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    """The measuring Coverage (in each worker too), its children, [paths] and the fail-under total."""
    site = pytester.path / "venv" / "lib" / "python3.11" / "site-packages"
    write_project(pytester.path, '[tool.coverage.run]\nsource = ["elsewhere"]\n', installed=site)
    (pytester.path / "tests" / "test_child.py").write_text(CHILD_TEST)
    (pytester.path / "conf").mkdir()
    (pytester.path / "conf" / "alt.cfg").write_text(ALT_CONFIG)
    monkeypatch.setenv("PYTHONPATH", str(site))  # imports the installed copy: [paths] maps it to src/
    cov = pytest_cov(pytester, "--cov-config=conf/alt.cfg", *workers)
    lcov = pytest_lcov(pytester, "--lcov-config=conf/alt.cfg", *workers)
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED, lcov.stdout.str()
    assert gate_numbers(lcov) == gate_numbers(cov)
    written = Lcov.read(pytester.path / "lcov.info")
    assert written == Lcov.read(pytester.path / "cov.info")
    assert written.files == {"src/mylib/__init__.py", "src/mylib/core.py"}
    assert written.branches[1] > 0
    core = read_records(pytester.path / "lcov.info")["src/mylib/core.py"]
    assert core.lines[18] == 1  # `return 1` of unused(): run by the child only


@pytest.mark.parametrize("where", ["missing.toml", "conf"], ids=["missing", "folder"])
def test_a_config_file_that_cannot_be_read_stops_at_start_up(pytester: pytest.Pytester, where: str) -> None:
    write_project(pytester.path)
    (pytester.path / "conf").mkdir()
    result = pytest_lcov(pytester, f"--lcov-config={where}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    problem = "does not exist" if where == "missing.toml" else "is a folder, not a file"
    assert result.errlines == [
        f"ERROR: pytest-lcov: lcov_config: coverage.py's configuration file {where} {problem}",
        "",
    ]
    assert not (pytester.path / "lcov.info").exists()
    # coverage.py's own words when the file is there but not its configuration
    (pytester.path / "bad.cfg").write_text("[run]\nbranch = perhaps\n")
    bad = pytest_lcov(pytester, "--lcov-config=bad.cfg")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "pytest-lcov: coverage.py cannot measure this run: " in bad.stderr.str()


def test_config_key_is_relative_to_the_rootdir(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As every path in the configuration; the command line's is relative to the current folder."""
    write_project(pytester.path, '[tool.coverage.run]\nsource = ["elsewhere"]\n')
    (pytester.path / "pytest.ini").write_text("[pytest]\nlcov_config = conf/alt.cfg\n")
    (pytester.path / "conf").mkdir()
    (pytester.path / "conf" / "alt.cfg").write_text("[run]\nsource = mylib\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    (pytester.path / "tests" / "sub").mkdir()
    monkeypatch.chdir(pytester.path / "tests" / "sub")
    result = run_pytest(
        pytester, "--lcov", "--rootdir", str(pytester.path), "-c", str(pytester.path / "pytest.ini"), ".."
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert Lcov.read(pytester.path / "lcov.info").files == {"src/mylib/__init__.py", "src/mylib/core.py"}


def test_config_file_under_coverage_run_is_coverage_runs_own(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running Coverage read its configuration before pytest started: a notice says so."""
    write_project(pytester.path)
    (pytester.path / "alt.cfg").write_text("[run]\nsource = elsewhere\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    result = subprocess.run(
        [*COVERAGE_RUN_PYTEST, "--lcov", "--lcov-config=alt.cfg"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert "pytest-lcov: --lcov-config is ignored under `coverage run`" in result.stdout
    assert "src/mylib/core.py" in Lcov.read(pytester.path / "lcov.info").files


# --no-cov-on-fail / --no-lcov-on-fail

FAILING_TEST = "def test_fails():\n    assert False\n"


@PYTEST_COV_7
def test_no_report_on_failed_tests_as_no_cov_on_fail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    """No file written, no gate checked, the tests' exit status; an earlier file stays and says so."""
    write_project(pytester.path, COVERAGE_CONFIG + "[tool.coverage.report]\nfail_under = 95\n")
    (pytester.path / "tests" / "test_fails.py").write_text(FAILING_TEST)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    (pytester.path / "html").mkdir()
    cov = pytest_cov(pytester, "--no-cov-on-fail", *workers)
    lcov = pytest_lcov(
        pytester, "--no-lcov-on-fail", "--lcov-html=html", "--lcov-fail-under-lines=99", *workers
    )
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED
    assert not (pytester.path / "cov.info").exists()
    assert not (pytester.path / "lcov.info").exists()
    assert not list((pytester.path / "html").iterdir())
    assert "Required test coverage" not in cov.stdout.str() + lcov.stdout.str()
    assert "pytest-lcov: no tracefile written: tests failed (--no-lcov-on-fail)" in lcov.outlines
    assert not any("FAIL" in line for line in lcov.outlines if line.startswith("pytest-lcov"))
    # A tracefile an earlier run left stays, as pytest-cov leaves its own, and is said to be earlier.
    (pytester.path / "cov.info").write_text(EARLIER)
    (pytester.path / "lcov.info").write_text(EARLIER)
    cov = pytest_cov(pytester, "--no-cov-on-fail", *workers)
    lcov = pytest_lcov(pytester, "--no-lcov-on-fail", *workers)
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED
    assert (pytester.path / "cov.info").read_text() == EARLIER
    assert (pytester.path / "lcov.info").read_text() == EARLIER
    assert "pytest-lcov: lcov.info is from an earlier run (" in lcov.stdout.str()
    # Tests that pass: the report and its gates, as without the flag.
    (pytester.path / "tests" / "test_fails.py").unlink()
    cov = pytest_cov(pytester, "--no-cov-on-fail", *workers)
    lcov = pytest_lcov(pytester, "--no-lcov-on-fail", *workers)
    assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED  # fail_under = 95 is not reached
    assert gate_numbers(lcov) == gate_numbers(cov)
    assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")


def test_no_report_on_fail_from_the_configuration(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(pytester.path, COVERAGE_CONFIG)
    (pytester.path / "pytest.ini").write_text("[pytest]\nlcov_no_on_fail = true\n")
    (pytester.path / "tests" / "test_fails.py").write_text(FAILING_TEST)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    result = pytest_lcov(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert not (pytester.path / "lcov.info").exists()


# --cov-append / --lcov-append

TEST_A = """\
from mylib.core import classify


def test_positive():
    assert classify(1) == "positive"
"""
TEST_B = """\
from mylib.core import classify, first_over


def test_negative():
    assert classify(-1) == "negative"
    assert first_over([1, 5], 3) == 5
"""


def two_test_files(root: Path) -> None:
    (root / "tests" / "test_core.py").unlink()
    (root / "tests" / "test_a.py").write_text(TEST_A)
    (root / "tests" / "test_b.py").write_text(TEST_B)


@PYTEST_COV_7
def test_append_over_two_invocations_as_cov_append(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    """Two invocations build one tracefile: the same files, totals and fail-under numbers."""
    write_project(pytester.path, COVERAGE_CONFIG + "[tool.coverage.report]\nfail_under = 60\n")
    two_test_files(pytester.path)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    for number, test_file in enumerate(("tests/test_a.py", "tests/test_b.py")):
        cov = pytest_cov(pytester, "--cov-append", test_file, *workers)
        lcov = pytest_lcov(pytester, "--lcov-append", test_file, *workers)
        assert lcov.ret == cov.ret, lcov.stdout.str()
        assert gate_numbers(lcov) == gate_numbers(cov)
        assert Lcov.read(pytester.path / "lcov.info") == Lcov.read(pytester.path / "cov.info")
        added = "pytest-lcov: added to the tracefile of earlier runs at lcov.info" in lcov.outlines
        assert added == (number == 1)
    assert cov.ret == pytest.ExitCode.OK  # the sum reaches 60%, neither run alone does
    both = read_records(pytester.path / "lcov.info")["src/mylib/core.py"]
    assert both.lines[1] == 2  # each run ran the def: lcov -a adds the counts


def test_append_adds_what_merge_adds(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The appended tracefile holds what `pytest-lcov merge` makes of the two runs' own."""
    write_project(pytester.path)
    two_test_files(pytester.path)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    assert pytest_lcov(pytester, "--lcov=a.info", "tests/test_a.py").ret == pytest.ExitCode.OK
    assert pytest_lcov(pytester, "--lcov=b.info", "tests/test_b.py").ret == pytest.ExitCode.OK
    monkeypatch.chdir(pytester.path)
    assert main(["merge", "a.info", "b.info", "-o", "merged.info"]) == 0
    assert pytest_lcov(pytester, "--lcov-append", "tests/test_a.py").ret == pytest.ExitCode.OK
    assert pytest_lcov(pytester, "--lcov-append", "tests/test_b.py").ret == pytest.ExitCode.OK
    appended = read_records(pytester.path / "lcov.info")
    assert appended["src/mylib/__init__.py"].lines == {}  # kept, as pytest-lcov and pytest-cov list it
    del appended["src/mylib/__init__.py"]  # which `lcov -a` and merge drop
    assert appended == read_records(pytester.path / "merged.info")


# What an old file at the output path can be: each stops the run with one line, and stays as it was.

NOT_LCOV = "TN:x\nSF:src/mylib/core.py\nDA:1,zz\nend_of_record\n"  # passes for a tracefile at a glance
OTHER_NAME = "TN:other\nSF:src/mylib/core.py\nDA:1,1\nLF:1\nLH:1\nend_of_record\n"
WITH_BRANCHES = "TN:{name}\nSF:src/mylib/core.py\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nDA:1,1\nDA:2,1\nend_of_record\n"


@pytest.mark.parametrize(
    ("old", "args", "says"),
    [
        pytest.param(
            NOT_LCOV,
            [],
            "is not a tracefile to add to: {path}:3: DA count is not a whole number: 'zz'",
            id="not-lcov",
        ),
        pytest.param(
            "", [], "is not a tracefile to add to: {path}:1: no SF section with DA lines", id="empty"
        ),
        pytest.param(
            OTHER_NAME, [], "holds sections of the test name 'other', not of this run's", id="test-name"
        ),
        pytest.param(
            WITH_BRANCHES, [], "holds branch data and this run measures no branches", id="branches-then-none"
        ),
        pytest.param(EARLIER, ["--lcov-per-test"], None, id="per-test"),
    ],
)
def test_append_refuses_at_start_up_what_it_cannot_add_to(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, old: str, args: list[str], says: str | None
) -> None:
    write_project(pytester.path, '[tool.coverage.run]\nsource = ["mylib"]\n')
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    output = pytester.path / "lcov.info"
    old = old.replace("{name}", safe_test_name(pytester.path.name))
    output.write_text(old)
    result = pytest_lcov(pytester, "--lcov-append", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    [line] = [line for line in result.errlines if line]
    if says is None:
        assert line.startswith("ERROR: pytest-lcov: --lcov-append cannot go with per-test data")
    else:
        assert line.startswith("ERROR: pytest-lcov: --lcov-append: lcov.info " + says.format(path=output))
    assert output.read_text() == old
    assert "passed" not in result.stdout.str()  # no test ran


def test_append_refuses_a_file_that_is_not_lcov_as_any_report(pytester: pytest.Pytester) -> None:
    write_project(pytester.path)
    (pytester.path / "lcov.info").write_text("my notes\n")
    (pytester.path / "folder.info").mkdir()
    for output, problem in (("lcov.info", "exists and is not a tracefile"), ("folder.info", "is a folder")):
        result = pytest_lcov(pytester, f"--lcov={output}", "--lcov-append")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert f"pytest-lcov: refusing to write {output}: it {problem}" in result.stderr.str()
    assert (pytester.path / "lcov.info").read_text() == "my notes\n"


def test_append_refuses_at_the_end_what_turns_out_not_to_add_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known only once this run's data is there (its branches), or changed during the run."""
    write_project(pytester.path)  # branch = true
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    output = pytester.path / "lcov.info"
    earlier = EARLIER.replace("TN:earlier", f"TN:{safe_test_name(pytester.path.name)}")
    output.write_text(earlier)  # written without branches
    result = pytest_lcov(pytester, "--lcov-append")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (
        "pytest-lcov: no tracefile written: --lcov-append: lcov.info holds no branch data and this run "
        "measures branches" in result.stdout.str()
    )
    assert "pytest-lcov: lcov.info is from an earlier run (" in result.stdout.str()
    assert output.read_text() == earlier
    # Replaced by something else while the tests ran: read again at the end, and refused.
    output.unlink()
    assert pytest_lcov(pytester).ret == pytest.ExitCode.OK
    good = output.read_text()
    (pytester.path / "tests" / "test_spoil.py").write_text(
        f"import pathlib\n\n\ndef test_spoil():\n    pathlib.Path({str(output)!r}).write_text({NOT_LCOV!r})\n"
    )
    result = pytest_lcov(pytester, "--lcov-append")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "pytest-lcov: no tracefile written: --lcov-append: lcov.info is not a tracefile to add to: " in (
        result.stdout.str()
    )
    assert output.read_text() == NOT_LCOV != good


def runs_with_cache(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A real pytest with pytest's cache on, where --lcov-append remembers what counts mean."""
    return pytester.runpytest_subprocess("-p", "no:hypothesispytest", "--lcov", "--lcov-append", *args)


def test_append_refuses_counts_of_another_kind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Execution counts and 0/1 counts would add up into neither: the cache knows which file holds which."""
    write_project(pytester.path)
    two_test_files(pytester.path)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    output = pytester.path / "lcov.info"
    executions = "--lcov-counts=executions"
    assert runs_with_cache(pytester, executions, "tests/test_a.py").ret == pytest.ExitCode.OK
    written = output.read_text()
    refused = runs_with_cache(pytester, "tests/test_b.py")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in refused.errlines if line] == [
        "ERROR: pytest-lcov: --lcov-append: lcov.info was written with lcov_counts = 'executions' and this "
        "run counts 'run': the sum would add counts of two kinds; give the same lcov_counts, or write to "
        "another file"
    ]
    assert output.read_text() == written
    added = runs_with_cache(pytester, executions, "tests/test_b.py")
    assert added.ret == pytest.ExitCode.OK
    assert read_records(output)["src/mylib/core.py"].lines[2] == 2  # classify() ran once in each run
    # A file the cache does not know (changed since, another tool's) is added as lcov -a adds.
    output.write_text(output.read_text() + "\n")
    assert runs_with_cache(pytester, "tests/test_b.py").ret == pytest.ExitCode.OK


SIGN = """\
def sign(text):
    if int(text) < 0:
        return -1
    return 1
"""


@PYTEST_COV_7
def test_append_total_leaves_out_the_branch_of_a_line_that_raised(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-lcov's exception branch (a branch line whose every run raised) is not coverage.py's."""
    write_project(pytester.path, COVERAGE_CONFIG + "[tool.coverage.report]\nfail_under = 99\n")
    (pytester.path / "src" / "mylib" / "sign.py").write_text(SIGN)
    (pytester.path / "tests" / "test_core.py").unlink()
    (pytester.path / "tests" / "test_raises.py").write_text(
        "import pytest\n\nfrom mylib.sign import sign\n\n\ndef test_raises():\n"
        "    with pytest.raises(ValueError):\n        sign('x')\n"
    )
    (pytester.path / "tests" / "test_positive.py").write_text(
        "from mylib.sign import sign\n\n\ndef test_positive():\n    assert sign('5') == 1\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    for test_file in ("tests/test_raises.py", "tests/test_positive.py"):
        cov = pytest_cov(pytester, "--cov-append", test_file)
        lcov = pytest_lcov(pytester, "--lcov-append", test_file)
        assert lcov.ret == cov.ret == pytest.ExitCode.TESTS_FAILED
        assert gate_numbers(lcov) == gate_numbers(cov)
    # The tracefile has the exception branch (BRDA:2,1,0,1), which coverage.py does not count.
    assert (
        Lcov.read(pytester.path / "lcov.info").branches[1]
        == Lcov.read(pytester.path / "cov.info").branches[1] + 1
    )
