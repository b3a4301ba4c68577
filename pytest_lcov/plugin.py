"""The pytest hooks: options, start-up checks, and what each process registers.

Shaped like pytest's junitxml plugin: the module's hooks set up stashed
objects whose methods are the session hooks.  Each process registers only
what its role needs:

* every process that runs tests: `TestContexts`, when per-test data is asked for;
* a pytest-xdist worker: `WorkerHandoff`, which sends its data to the controller;
* the process that writes the report (a plain run, or the xdist controller):
  `LcovReport`, and in an xdist controller `WorkerData`, whose hook exists
  only when xdist is loaded.

Data flows one way: each object gets what it needs through its constructor;
workers' results (transport.py) arrive in the report's inbox; the report
writes the tracefile, the steps after it (outcome.py) return lines, and
`LcovReport` alone shows them and sets the exit status.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import tempfile
import warnings
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import coverage
import pytest
from coverage.exceptions import CoverageWarning

from pytest_lcov import PytestLcovWarning, analysis, prefixed
from pytest_lcov.analysis import ParallelAnalysis, measured_sources
from pytest_lcov.analysis_cache import own_folder, user_key_problem
from pytest_lcov.append import (
    AppendRefused,
    Earlier,
    append_run,
    read_earlier,
    refuse_other_counts,
    remember_counts,
    written_counts,
)
from pytest_lcov.counting import CountingFinder
from pytest_lcov.coverage_settings import (
    remapped,
    remapped_names,
    report_precision,
    required_total,
)
from pytest_lcov.diff import ChangedLines, DiffError, changed_lines
from pytest_lcov.differential import DifferentialReport
from pytest_lcov.executions import (
    FileCounts,
    imported_before_notice,
    instrumented_files,
    merged_counts,
    plain_counts,
)
from pytest_lcov.html import genhtml_command_problem, html_folder_problem
from pytest_lcov.job_summary import append_summary, job_summary
from pytest_lcov.measure import (
    Measurement,
    _configured_coverage,
    refuse_pytest_cov,
    refuse_unusable_coverage,
    release,
)
from pytest_lcov.option_table import ReportOptions
from pytest_lcov.outcome import (
    NOT_WRITTEN,
    Line,
    baseline_step,
    change_gate_lines,
    diff_step,
    earlier_lines,
    failure_lines,
    gate_lines,
    html_lines,
    left_out_lines,
    notice,
    report_failure,
    tell,
    written_lines,
)
from pytest_lcov.report import Report, write_report
from pytest_lcov.reported_files import collected_data
from pytest_lcov.safe_write import DESCRIPTION_LINE, TRACEFILE_LINE, output_problem
from pytest_lcov.settings import Settings, add_options, resolve, setting_error
from pytest_lcov.terminal import categories_table, shown, table
from pytest_lcov.tracefile import safe_field
from pytest_lcov.transport import WorkerLoss, WorkerResult, WorkerResults, error_to_wire, from_wire

lcov_run_key = pytest.StashKey["LcovRun"]()
TITLE = "Coverage (pytest-lcov)"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """Check the settings, then start measuring before conftest.py files and the project are imported."""
    settings = resolve(early_config)
    if not settings.enabled:
        return
    refuse_value_taken_from_next_word(args)
    refuse_unusable_coverage()
    refuse_pytest_cov(
        early_config.known_args_namespace,
        early_config.pluginmanager.has_plugin("_cov"),
        *cov_and_lcov_origins(early_config),
    )
    refuse_unsafe_outputs(settings, early_config.rootpath)
    refuse_unreadable_coverage_config(settings)
    distributes = xdist_will_distribute(early_config)
    measurement = Measurement.begin(settings, trace=not distributes)
    if settings.coverage_config is not None and measurement.borrowed:
        measurement.notices.append(
            "--lcov-config is ignored under `coverage run`, which read its own configuration: "
            "use `coverage run --rcfile=FILE`"
        )
    try:
        check_appending(settings, measurement)
    except pytest.UsageError:
        close_quietly(measurement)
        raise
    run = LcovRun(settings, measurement, distributes)
    if settings.report.counts_executions and not distributes:
        run.start_counting(early_config)
    early_config.stash[lcov_run_key] = run
    early_config.pluginmanager.register(run, "lcov-run")
    if settings.needs_contexts:
        early_config.pluginmanager.register(TestContexts(measurement), "lcov-contexts")


def cov_and_lcov_origins(config: pytest.Config) -> tuple[str, str]:
    """Where a ``--cov`` the user did not type came from ("" when typed), and how --lcov was turned on.

    pytest puts ``addopts`` and ``PYTEST_ADDOPTS`` before the typed arguments;
    a user who never typed ``--cov`` is told where it is.
    """
    typed = [str(arg) for arg in config.invocation_params.args]
    inifile = config.inipath.name if config.inipath is not None else "the configuration"

    def given(flag: str, words: list[str]) -> bool:
        return any(word == flag or word.startswith(flag + "=") for word in words)

    if given("--cov", typed):
        cov_from = ""
    elif given("--cov", os.environ.get("PYTEST_ADDOPTS", "").split()):
        cov_from = " (from PYTEST_ADDOPTS)"
    else:
        cov_from = f" (from addopts in {inifile})"
    lcov_on = getattr(config.known_args_namespace, "lcov", None) is not None
    return cov_from, "--lcov" if lcov_on else f"lcov_enabled = true (in {inifile})"


def refuse_value_taken_from_next_word(args: list[str]) -> None:
    """Stop on ``--lcov WORD``: argparse takes WORD as the output, which would overwrite it.

    ``pytest --lcov tests/test_x.py`` reads as "measure and run this file",
    but the optional value swallows the path; the report would replace the
    test file and the whole suite would run.  Only ``--lcov=PATH`` names an output.
    """
    for word, following in itertools.pairwise(args):
        if word == "--":
            return
        if word == "--lcov" and not following.startswith("-"):
            raise setting_error(
                f"`--lcov {following}` would take {following!r} as the report's path: "
                f"write --lcov={following} to choose the output, or put test paths before --lcov"
            )


def refuse_unsafe_outputs(settings: Settings, rootdir: Path) -> None:
    """Stop at start-up, before any test runs, when a report would replace something not ours."""
    problems = [(settings.output, output_problem(settings.output, TRACEFILE_LINE, "a tracefile"))]
    if settings.per_test:
        if settings.output.exists() and not settings.output.is_file():
            raise setting_error(
                f"per-test data writes a description file beside the tracefile, "
                f"and {settings.output} is not a file: use --lcov=PATH with a file path"
            )
        tests_file = settings.report.tests_file
        problems.append((tests_file, output_problem(tests_file, TRACEFILE_LINE, "a tracefile")))
        desc = settings.report.description_file
        problems.append((desc, output_problem(desc, DESCRIPTION_LINE, "a genhtml description file")))
    if settings.html is not None:
        keep = (rootdir, settings.output, settings.report.tests_file, settings.report.description_file)
        problems.append((settings.html, html_folder_problem(settings.html, keep=keep)))
        if problem := genhtml_command_problem(settings.genhtml):
            raise setting_error(f"lcov_genhtml = {settings.genhtml!r}: {problem}")
    for path, problem in problems:
        if problem is not None:
            raise setting_error(f"refusing to write {shown(path)}: it {problem}")


def refuse_unreadable_coverage_config(settings: Settings) -> None:
    """Stop at start-up when --lcov-config names no file coverage.py could read.

    coverage.py says only "Couldn't read 'x' as a config file", whether it is
    missing, a folder or unreadable: say which.
    """
    path = settings.coverage_config
    if path is None:
        return
    try:
        if path.is_file():
            with path.open("rb"):
                return
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
    except OSError as exc:
        problem = f"cannot be read: {exc.strerror or exc}"
    raise setting_error(f"lcov_config: coverage.py's configuration file {shown(path)} {problem}")


def check_appending(settings: Settings, measurement: Measurement) -> None:
    """For --lcov-append: stop before the tests when the tracefile there cannot be added to.

    It is read again at the end (it may change meanwhile); this check spares a
    whole test run that would end refused.  Not in an xdist worker: the
    controller writes the report.
    """
    if not settings.append or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if settings.per_test:
        raise setting_error(
            "--lcov-append cannot go with per-test data: its sections and description file "
            "are this run's; add per-test files of several runs with `pytest-lcov merge`"
        )
    try:
        read_earlier(settings.output, settings.report.test_name, _measures_branches(measurement.cov))
    except AppendRefused as exc:
        raise setting_error(f"--lcov-append: {shown(settings.output)} {exc}") from None


@contextlib.contextmanager
def coverage_warnings_shown() -> Iterator[None]:
    """coverage.py's warnings at session end are shown once, not raised, unless a filter names them.

    pytest applies ``filterwarnings`` again at session end, so ``error`` there
    would turn coverage.py's "Couldn't parse" or "No data was collected" into
    a lost tracefile.  pytest-cov adds the same ``once`` filter for
    CoverageWarning unless one of the filters names it; pytest-lcov's own
    notices keep the filters as they are (``-W error::...`` fails the run).
    """
    with warnings.catch_warnings():
        if not any(category is CoverageWarning for _, _, category, _, _ in warnings.filters):
            warnings.simplefilter("once", CoverageWarning)
        yield


def close_quietly(measurement: Measurement) -> None:
    """Close a measurement the run stops before any test: coverage.py has nothing to say of its data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoverageWarning)
        measurement.close()


def _measures_branches(cov: coverage.Coverage) -> bool:
    return bool(cov.get_option("run:branch"))


def xdist_will_distribute(config: pytest.Config) -> bool:
    """Whether pytest-xdist will run the tests in workers rather than in this process.

    xdist settles this only after measuring must have started, so its own
    rules are followed here: ``-n 0``, ``-n auto`` with ``--pdb`` or with
    zero CPUs to use, ``--collect-only`` and ``--dist no`` all run in-process.
    The session start checks the guess against what xdist did.  A pytest
    that a test starts inside a worker inherits the worker's mark: it is
    guessed to run in-process, and hands over at session start if not.
    """
    if not config.pluginmanager.has_plugin("xdist") or os.environ.get("PYTEST_XDIST_WORKER"):
        return False  # a worker gets the controller's options but runs the tests itself
    options = config.known_args_namespace
    if getattr(options, "collectonly", False):
        return False
    numprocesses = getattr(options, "numprocesses", None)
    if numprocesses in ("auto", "logical"):
        if getattr(options, "usepdb", False):
            return False
        numprocesses = _auto_workers()
    dist = "load" if getattr(options, "distload", False) else getattr(options, "dist", "no")
    if numprocesses == 0:
        return False
    if numprocesses:
        return True
    return dist != "no" and bool(getattr(options, "tx", None))


def _auto_workers() -> int:
    """``-n auto``'s worker count as xdist reads it: the environment first, else some."""
    with contextlib.suppress(ValueError):
        return int(os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", ""))
    return max(os.cpu_count() or 1, 1)


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(lcov_run_key, None)
    if run is not None:
        run.close()  # also when the run stopped before the session ended
        del config.stash[lcov_run_key]


class LcovRun:
    """The measurement of this process; registers, at session start, what this process's role needs."""

    def __init__(self, settings: Settings, measurement: Measurement, distributes: bool) -> None:
        self.settings = settings
        self.measurement = measurement
        self.distributes = distributes
        self.report_options = settings.report
        self.parallel: ParallelAnalysis | None = None
        self.counter: CountingFinder | None = None
        self.report: LcovReport | None = None  # in the process that writes the report

    def start_counting(self, config: pytest.Config) -> str | None:
        """Count executions of the measured sources imported from now on; say which were imported before.

        The import hook goes first on ``sys.meta_path`` and passes on every
        module that is not one of the files to count.
        """
        paths = files_to_count(self.measurement.cov, config)
        self.counter = CountingFinder(paths)
        notice = imported_before_notice(self.counter.imported_before())
        if not paths:
            notice = (
                "no Python file to count executions of under coverage.py's source: "
                "counts are 0/1 (a folder or a top-level package name is looked for)"
            )
        self.counter.install()
        if notice is not None:
            self.measurement.notices.append(notice)
        return notice

    def pytest_configure(self, config: pytest.Config) -> None:
        """Settle everything the report needs: its cache folder lives in pytest's."""
        config.addinivalue_line("markers", f"{NO_COVER}: do not measure this test's call (as pytest-cov's)")
        cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
        if self.settings.use_cache and cache is not None and not _is_xdist_worker(config):
            cache_dir, notice = analysis_cache_dir(cache)
            if cache_dir is not None:
                self.report_options = dataclasses.replace(self.settings.report, cache_dir=cache_dir)
            if notice is not None:  # else the cache would be off, or stay cold, unsaid
                self.measurement.notices.append(notice)
        if self.settings.append and not _is_xdist_worker(config):  # the cache is there from now on
            try:
                refuse_other_counts(
                    written_counts(cache, self.settings.output), self.settings.report.count_mode
                )
            except AppendRefused as exc:
                close_quietly(self.measurement)
                raise setting_error(f"--lcov-append: {shown(self.settings.output)} {exc}") from None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """Run a ``no_cover`` test (marker or fixture, pytest-cov's) unmeasured; its set-up is measured."""
        if not (item.get_closest_marker(NO_COVER) or NO_COVER in getattr(item, "fixturenames", ())):
            return (yield)
        with self.measurement.paused(), self.counter.paused() if self.counter else contextlib.nullcontext():
            return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # tryfirst: before xdist starts its workers.
        config = session.config
        manager = config.pluginmanager
        if _is_xdist_worker(config):
            manager.register(WorkerHandoff(self.measurement, config, self.counter), "lcov-worker")
            return
        self.parallel = start_parallel_analysis(self.measurement, self.report_options)
        notices = []
        counted_before_handover = None
        workers = None
        if manager.has_plugin("dsession"):
            self.measurement.hand_over_to_workers()
            if self.counter is not None:  # guessed wrong (see xdist_will_distribute): stop, as coverage does
                counted_before_handover = plain_counts(self.counter)
                self.counter.uninstall()
                self.counter = None
            workers = WorkerResults()
            manager.register(WorkerData(workers), "lcov-worker-data")
        elif self.distributes:  # xdist decided to run the tests here after all
            self.measurement.start()
            if self.report_options.counts_executions:
                self.start_counting(config)  # its notice joins the measurement's
            notices.append(
                "pytest-xdist runs the tests in this process after all, so measuring started "
                "late: lines run while pytest started up (imports of conftest.py files) count as not run"
            )
        self.report = LcovReport(
            self.settings,
            self.report_options,
            self.measurement,
            config,
            parallel=self.parallel,
            counter=self.counter,
            counted_before_handover=counted_before_handover,
            workers=workers,
            notices=notices,
        )
        manager.register(self.report, "lcov-report")

    def close(self) -> None:
        self.measurement.close()
        if self.report is not None:
            self.report.close()
        if self.counter is not None:
            self.counter.uninstall()
        if self.parallel is not None:
            self.parallel.close()


def analysis_cache_dir(cache: pytest.Cache) -> tuple[Path | None, str | None]:
    """The analysis cache's folder in pytest's, or None; and a notice when it cannot serve as it should.

    Whatever was planted there (a link, a file, a link to nothing), the run goes
    on: with no cache, or with one for this run only when the key cannot be kept.
    """
    off = "the analysis cache is off:"
    planted = "is not a folder of this user's (a file or a link?); remove it and the next run makes a new one"
    try:
        folder = cache.mkdir("pytest-lcov-analysis")
    except FileExistsError as exc:  # a file, or a link to nothing
        return None, f"{off} {shown(Path(exc.filename or 'pytest-lcov-analysis'))} {planted}"
    except OSError as exc:
        return None, f"{off} {shown(Path(exc.filename or 'pytest-lcov-analysis'))}: {exc.strerror or exc}"
    if not own_folder(folder):  # a planted link: nothing may be written or removed through it
        return None, f"{off} {shown(folder)} {planted}"
    if problem := user_key_problem():
        return folder, f"the analysis cache lasts this run only: {problem}"
    return folder, None


def files_to_count(cov: coverage.Coverage, config: pytest.Config) -> frozenset[str]:
    """The measured sources whose executions are counted; test modules stay pytest's to import."""
    return instrumented_files(measured_sources(cov), config.getini("python_files"))


def start_parallel_analysis(measurement: Measurement, options: ReportOptions) -> ParallelAnalysis | None:
    """Start parsing the measured sources beside the tests: the report then waits for less.

    Only for code bases big enough to share out (a small one is parsed at
    the report in less time than a helper process takes to start), and only
    with a processor to spare: on one, a helper takes its time from the tests.
    """
    if analysis.available_cpus() < 2:
        return None
    cov = measurement.cov
    sources = measured_sources(cov)
    if len(sources) < analysis.MIN_FILES_PER_PROCESS:
        return None
    parallel = ParallelAnalysis(cov, options.cache_dir, has_arcs=bool(cov.get_option("run:branch")))
    parallel.start(sources, background=True)
    return parallel


NO_COVER = "no_cover"  # pytest-cov's marker and fixture: a test whose call is not measured


@pytest.fixture
def no_cover() -> None:
    """Ask for this fixture to run the test unmeasured, as the ``no_cover`` marker does."""


class TestContexts:
    """Attributes each test's set-up, call and teardown to the test, for per-test data."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, measurement: Measurement) -> None:
        self.measurement = measurement

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.measurement.switch_test(item.nodeid)
        try:
            return (yield)
        finally:
            self.measurement.switch_test(None)


class WorkerHandoff:
    """In a pytest-xdist worker: send this worker's data to the controller, which writes the report."""

    def __init__(
        self, measurement: Measurement, config: pytest.Config, counter: CountingFinder | None = None
    ) -> None:
        self.measurement = measurement
        self.config = config
        self.counter = counter

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        # trylast: session-scoped fixtures have been torn down, their lines count.
        output = self.config.workeroutput  # type: ignore[attr-defined]
        try:
            # Bytes travel through execnet, also to a controller on another host.
            with coverage_warnings_shown():
                data, left_out = collected_data(self.measurement.end())
            counted = self.counter is not None
            result = WorkerResult(
                data=data.dumps(),
                left_out=tuple(left_out),
                execution_counts=plain_counts(self.counter) if self.counter is not None else {},
                children=tuple(sorted(self.measurement.child_files)) if counted else (),
            )
            output.update(result.to_wire())
        except Exception as exc:
            output.update(error_to_wire(exc))


class WorkerData:
    """In a pytest-xdist controller: puts each worker's result in the report's inbox."""

    def __init__(self, inbox: WorkerResults) -> None:
        self.inbox = inbox

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker finished or died: keep its data, or why there is none."""
        self.inbox.add(from_wire(node.gateway.id, getattr(node, "workeroutput", {})))


class LcovReport:
    """Writes the tracefile at session end; then the steps after it, whose lines it shows.

    Everything it needs comes through the constructor; the workers' results
    arrive in `workers` as they finish.  The steps (outcome.py) return lines;
    this class alone shows them and turns failures into the exit status.
    """

    def __init__(
        self,
        settings: Settings,
        options: ReportOptions,
        measurement: Measurement,
        config: pytest.Config,
        *,
        parallel: ParallelAnalysis | None = None,
        counter: CountingFinder | None = None,
        counted_before_handover: dict[str, Any] | None = None,
        workers: WorkerResults | None = None,
        notices: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.options = options
        self.parallel = parallel
        self.measurement = measurement
        self.config = config
        self.rootdir = config.rootpath
        self.counter = counter
        self.counted_before_handover = counted_before_handover
        self.workers = workers or WorkerResults()
        self.notices = [*measurement.notices, *notices]
        self.report: Report | None = None
        self.remapped_cov: coverage.Coverage | None = None  # the run's data with [paths] applied
        self.lines: list[Line] = []
        self.annotations: list[str] = []
        self.differential: DifferentialReport | None = None  # this run against --lcov-baseline
        self.table_settings = (0, False)  # coverage.py's precision, skip_covered: read when reporting

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # trylast: session-scoped fixtures have been torn down, their lines count.
        with coverage_warnings_shown():
            self._finish(session)

    def _finish(self, session: pytest.Session) -> None:
        cov = self.measurement.end()
        self._show(session, [notice(text) for text in self.notices])
        self._show(session, [notice(self._lost_line(loss)) for loss in self.workers.lost])
        if session.exitstatus == pytest.ExitCode.INTERNAL_ERROR:
            # What ran is unknown: an earlier file stays, and says it is earlier.
            self._report_failed(session, f"{NOT_WRITTEN}: pytest stopped on an internal error")
            return
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            # Ctrl-C, pytest.exit(), --stepwise: a partial measurement must not replace a whole one.
            self._report_failed(
                session, f"{NOT_WRITTEN}: the run was interrupted, so what it measured is partial"
            )
            return
        if self.settings.no_on_fail and session.testsfailed:  # what pytest-cov's --no-cov-on-fail looks at
            self._skip_on_fail(session)
            return
        changed = self._changed_lines(session)
        try:
            cov, report = self._write(session, cov, changed)
        except AppendRefused as exc:
            self._report_failed(session, f"{NOT_WRITTEN}: --lcov-append: {shown(self.settings.output)} {exc}")
            return
        except Exception as exc:  # the report must never take the test run down
            self._report_failed(session, report_failure(exc, self.settings.output), exc)
            return
        self._after_tracefile(session, cov, report, changed)

    def _write(
        self, session: pytest.Session, cov: coverage.Coverage, changed: ChangedLines | None
    ) -> tuple[coverage.Coverage, Report]:
        """Settle the data (workers', [paths], counts) and write the tracefile; the data and the report."""
        settings, options = self.settings, self.options
        left_out = set(collected_data(cov)[1]).union(*(result.left_out for result in self.workers.received))
        self._show(session, left_out_lines(left_out))  # first: the data settles
        worker_data = [result.data for result in self.workers.received]
        self.measurement.add_data(worker_data)
        measured = cov
        if not worker_data:  # combining the workers' data applied [paths] already
            cov = remapped(cov, lambda: _configured_coverage(settings, data_file=None))
            if cov is not measured:
                self.remapped_cov = cov  # closed with the run
        counts = self._counts()
        if counts is not None and (cov is not measured or worker_data):
            counts = remapped_names(counts, cov)  # they are by measured path: rename them as the data
        earlier = None
        cache = getattr(self.config, "cache", None)
        if settings.append:  # read before this run's file is written: a refusal writes nothing
            earlier = read_earlier(settings.output, options.test_name, _measures_branches(cov))
            refuse_other_counts(written_counts(cache, settings.output), options.count_mode)
        file_rows = options.table or self._job_summary_wanted()  # the summary lists the files missing most
        with contextlib.ExitStack() as stack:
            written = options
            if earlier is not None:  # this run's tracefile is written aside, then added
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="pytest-lcov-"))
                written = dataclasses.replace(options, output=Path(folder) / "run.info")
            report = write_report(
                cov,
                written,
                self.rootdir,
                self.measurement.started,
                self.parallel,
                keep=changed.touched() if changed is not None else (),  # no file read for it
                execution_counts=counts,
                file_rows=file_rows,
            )
            if earlier is not None:
                report = self._append(session, earlier, written, report, file_rows)
        if settings.append:
            remember_counts(cache, settings.output, options.count_mode)
        self.report = report
        return cov, report

    def _after_tracefile(
        self, session: pytest.Session, cov: coverage.Coverage, report: Report, changed: ChangedLines | None
    ) -> None:
        """The steps after the tracefile, in order: what was written, HTML, gates, the change."""
        settings = self.settings
        self._show(session, written_lines(report, settings, self.options))
        baseline = None
        if changed is not None and settings.baseline is not None:
            baseline = baseline_step(settings, self.options, self.rootdir, changed.root)
        if settings.html is not None:
            for_genhtml = baseline.html if baseline is not None else None
            html = html_lines(
                report,
                settings,
                self.options,
                self.rootdir,
                settings.html,
                self._announce,
                for_genhtml,
                annotate=changed is not None,
            )
            self._show(session, html)
        precision = report_precision(cov, settings.precision)
        required = required_total(cov, settings.fail_under_total)
        self._show(session, gate_lines(report, settings, required, precision))
        self.table_settings = (precision, bool(cov.get_option("report:skip_covered")))
        diff = None
        if changed is not None:
            result = diff_step(changed, report, settings)
            self._show(session, result.lines)
            self.annotations = result.annotations
            diff = result.coverage
        if baseline is not None:
            self._show(session, baseline.lines)
            self.annotations += baseline.annotations
        differential = self.differential = baseline.report if baseline is not None else None
        summary = job_summary(report.totals, report.files, diff, title=TITLE, differential=differential)
        self._write_job_summary(session, summary)

    def _append(
        self,
        session: pytest.Session,
        earlier: Earlier,
        written: ReportOptions,
        report: Report,
        file_rows: bool,
    ) -> Report:
        """Add this run's tracefile to the earlier one at the output path; the report of the sum.

        The summary line, the gates and the table are the sum's, as pytest-cov's
        report after --cov-append is of the combined data; diff coverage stays
        this run's.
        """
        output = self.settings.output
        totals, numbers, files = append_run(earlier, written.output, output, written, file_rows=file_rows)
        self._show(session, [tell(f"added to the tracefile of earlier runs at {shown(output)}")])
        return dataclasses.replace(report, totals=totals, numbers=numbers, files=files)

    def _skip_on_fail(self, session: pytest.Session) -> None:
        """--no-lcov-on-fail and tests failed: no tracefile, HTML report or gate, as pytest-cov does.

        The exit status stays the tests' own; a tracefile an earlier run left
        stays too (pytest-cov leaves its own), and is said to be earlier.
        """
        why = f"{NOT_WRITTEN}: tests failed (--no-lcov-on-fail)"
        self._show(session, [tell(why, "yellow"), *earlier_lines(self.settings.output)])
        self._write_job_summary(session, job_summary(None, failure=prefixed(why), title=TITLE))

    def _counts(self) -> dict[str, FileCounts] | None:
        """Execution counts of this process and the workers, added up; None unless asked for."""
        if not self.options.counts_executions:
            return None
        mine = [plain_counts(self.counter)] if self.counter is not None else []
        if self.counted_before_handover is not None:
            mine.append(self.counted_before_handover)
        received = self.workers.received
        expected = files_to_count(self.measurement.cov, self.config)
        children = self.measurement.child_files.union(*(result.children for result in received))
        return merged_counts(
            mine + [dict(result.execution_counts) for result in received], expected, children
        )

    def _changed_lines(self, session: pytest.Session) -> ChangedLines | None:
        """The lines the change touches, or None; a git problem fails the change's gates."""
        ref = self.settings.diff_ref
        if ref is None:
            return None
        try:
            return changed_lines(ref, self.rootdir)
        except DiffError as exc:
            why = "cannot be checked: no diff coverage"
            self._show(
                session,
                [tell(f"no diff coverage: {exc}", "red"), *change_gate_lines(self.settings, why)],
            )
            return None

    def _job_summary_wanted(self) -> bool:
        return self.settings.job_summary and bool(os.environ.get("GITHUB_STEP_SUMMARY"))

    def _write_job_summary(self, session: pytest.Session, markdown: str) -> None:
        if self._job_summary_wanted() and (error := append_summary(markdown)):
            self._show(session, [notice(error)])

    def _report_failed(self, session: pytest.Session, why: str, exc: Exception | None = None) -> None:
        """Say why, keep an earlier file but say it is not this run's, and fail every gate."""
        total_required = bool(required_total(self.measurement.cov, self.settings.fail_under_total))
        verbose = self.config.option.verbose > 0
        lines = failure_lines(why, self.settings, exc=exc, verbose=verbose, total_required=total_required)
        # The job summary comes before the HTML gate's line, as the report's own order has it.
        html_gate = [line for line in lines if line.text.startswith(prefixed("FAIL no HTML report"))]
        self._show(session, [line for line in lines if line not in html_gate])
        self._write_job_summary(session, job_summary(None, failure=prefixed(why), title=TITLE))
        self._show(session, html_gate)

    @staticmethod
    def _lost_line(loss: WorkerLoss) -> str:
        return (
            f"no coverage data from worker {loss.worker} ({loss.why}): "
            "lines only its tests ran are missing from the report"
        )

    def _announce(self, line: Line) -> None:
        """Show `line` now, on a line of its own, not after the wait that follows."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            self.lines.append(dataclasses.replace(line, text=safe_field(line.text)))
            return
        terminal.ensure_newline()
        if terminal._tw.width_of_current_line:  # after pytest's progress dots and "[100%]"
            terminal.write("\n")
        terminal.write_line(safe_field(line.text), **line.markup_flags)

    def _show(self, session: pytest.Session, lines: Iterable[Line]) -> None:
        """Queue `lines` for the terminal summary; notices also warn, failures fail the run."""
        for line in lines:
            # Names of files and tests are anybody's: none may start a line of its own (a CI
            # workflow command) or carry an escape sequence to the terminal.
            safe = dataclasses.replace(line, text=safe_field(line.text))
            passing = session.exitstatus == pytest.ExitCode.OK
            if safe.kind == "fail_if_passing" and not passing:
                continue
            self.lines.append(safe)
            if safe.kind in ("fail", "fail_if_passing") and passing:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            elif safe.kind == "notice" and self._warning_fails(safe.text):
                failed = Line(f"{safe.text} (an error by the warning filters)", "fail", ("red", "bold"))
                self._show(session, [failed])

    @staticmethod
    def _warning_fails(text: str) -> bool:
        """Warn with pytest-lcov's class, so ``-W error::...`` can make a notice fail the run."""
        try:
            # Shown already: as a warning it only serves -W filters, which come
            # first and win (error::pytest_lcov.PytestLcovWarning fails the run).
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=PytestLcovWarning, append=True)
                # Under the plugin's name, not a line of its source.
                warnings.warn_explicit(
                    PytestLcovWarning(text), PytestLcovWarning, "pytest-lcov", 0, "pytest_lcov"
                )
        except PytestLcovWarning:
            return True
        return False

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.options.table and self.report is not None:
            terminalreporter.section("LCOV coverage")
            precision, skip_covered = self.table_settings
            report = self.report
            rows = table(
                report.files, report.totals, report.numbers, precision, skip_covered, report.empty_skipped
            )
            if self.differential is not None:
                rows += ["", *categories_table(self.differential)]
            for row in rows:
                terminalreporter.write_line(row)
        for line in self.lines:
            terminalreporter.write_line(line.text, **line.markup_flags)
        for command in self.annotations:  # GitHub Actions reads workflow commands from the output
            terminalreporter.write_line(command)

    def close(self) -> None:
        if self.remapped_cov is not None:
            release(self.remapped_cov)
            self.remapped_cov = None
