"""The pytest hooks: options, start-up, and the report at session end.

Shaped like pytest's junitxml plugin: the hooks here set up one stashed
LcovReport object, whose methods are the session hooks that write the file.
"""

from __future__ import annotations

import dataclasses
import os
import traceback
from collections.abc import Generator
from pathlib import Path
from typing import Any

import coverage
import pytest

from pytest_lcov.html import HtmlError, find_genhtml, write_html
from pytest_lcov.measure import Measurement, refuse_pytest_cov
from pytest_lcov.report import Report, write_report
from pytest_lcov.settings import Settings, add_options, resolve
from pytest_lcov.summary import missed_gates, shown, summary_line, table

lcov_report_key = pytest.StashKey["LcovReport"]()
WORKER_DATA_KEY = "pytest_lcov_data"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Start measuring before conftest.py files and the project are imported."""
    settings = resolve(early_config)
    if not settings.enabled:
        return
    refuse_pytest_cov(early_config.known_args_namespace, early_config.pluginmanager.has_plugin("_cov"))
    controller = runs_xdist_workers(early_config)
    measurement = Measurement.begin(settings, early_config.rootpath, trace=not controller)
    report = LcovReport(settings, measurement, early_config)
    early_config.stash[lcov_report_key] = report
    early_config.pluginmanager.register(report, "lcov-report")


def report_failure(exc: Exception, output: Path) -> str:
    """One line that says why no tracefile was written."""
    if isinstance(exc, coverage.CoverageException):
        return f"pytest-lcov: no tracefile written: {exc}"
    if isinstance(exc, OSError):
        where = exc.filename or output
        return f"pytest-lcov: no tracefile written: {where}: {exc.strerror or exc}"
    return f"pytest-lcov: no tracefile written: internal error {exc!r} (-v shows the traceback)"


def runs_xdist_workers(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist controller: its workers run the tests.

    Read from the options, as xdist itself decides, before any worker starts.
    A worker gets the same options, but xdist marks it in the environment
    before its configuration exists (a pytest a test starts inherits the mark:
    it then traces too, which costs time, not data).
    """
    if not config.pluginmanager.has_plugin("xdist") or os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    options = config.known_args_namespace
    return bool(getattr(options, "numprocesses", None) or getattr(options, "tx", None))


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_unconfigure(config: pytest.Config) -> None:
    report = config.stash.get(lcov_report_key, None)
    if report is not None:
        report.measurement.close()  # also when the run stopped before the session ended
        del config.stash[lcov_report_key]
        config.pluginmanager.unregister(report)


class LcovReport:
    """Writes the tracefile at session end and says so in the summary.

    In a pytest-xdist worker it hands its data to the controller instead;
    in the controller it gathers the workers' data before writing.  Then the
    HTML report, the gates and the table follow from the written numbers.
    """

    def __init__(self, settings: Settings, measurement: Measurement, config: pytest.Config) -> None:
        self.settings = settings
        self.measurement = measurement
        self.config = config
        self.rootdir = config.rootpath
        self.report: Report | None = None
        self.messages: list[tuple[str, dict[str, bool]]] = []
        self.worker_data: list[bytes] = []
        self.lost_workers: list[str] = []

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker finished or died: keep its data, or remember it is missing."""
        blob = getattr(node, "workeroutput", {}).get(WORKER_DATA_KEY)
        if blob is None:
            self.lost_workers.append(str(node.gateway.id))
        else:
            self.worker_data.append(blob)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # trylast: session-scoped fixtures have been torn down, their lines count.
        cov = self.measurement.end()
        if _is_xdist_worker(self.config):
            # Bytes travel through execnet, also to a controller on another host.
            self.config.workeroutput[WORKER_DATA_KEY] = cov.get_data().dumps()  # type: ignore[attr-defined]
            return
        for worker in self.lost_workers:
            self._say(
                f"pytest-lcov: no coverage data from worker {worker} (it did not finish): "
                "lines only its tests ran are missing from the report",
                red=True,
            )
        for notice in self.measurement.notices:
            self._say(notice, yellow=True)
        settings = self.settings
        cache = getattr(self.config, "cache", None)  # None under -p no:cacheprovider
        if settings.use_cache and cache is not None:
            settings = dataclasses.replace(settings, cache_dir=cache.mkdir("pytest-lcov-analysis"))
        try:
            self.measurement.add_data(self.worker_data)
            self.report = write_report(cov, settings, self.rootdir, self.measurement.started)
        except Exception as exc:  # the report must never take the test run down
            # The run keeps the exit status its tests earned; a good file
            # written earlier stays as it was (writes are atomic).
            self._say(report_failure(exc, self.settings.output), red=True, bold=True)
            if self.config.option.verbose > 0:
                self._say("".join(traceback.format_exception(exc)).rstrip())
            return
        for name in self.report.changed.names:
            self._say(
                f"pytest-lcov: {name} changed during the run: its report may not match the code that ran",
                yellow=True,
            )
        self._say(summary_line(self.settings.output, self.report.totals))
        if self.settings.per_test:
            self._say(f"LCOV test descriptions in {shown(self.settings.description_file)}")
        if self.settings.html is not None:
            self._write_html(session, self.settings.html)
        for line in missed_gates(self.report.totals, self.settings.fail_under):
            self._fail(session, line, pytest.ExitCode.TESTS_FAILED)

    def _write_html(self, session: pytest.Session, out_dir: Path) -> None:
        settings = self.settings
        try:
            genhtml = find_genhtml(settings.genhtml)
            complaints = write_html(
                genhtml,
                settings.output,
                out_dir,
                self.rootdir,
                title=settings.test_name,
                description_file=settings.description_file if settings.per_test else None,
                path_prefix=settings.path_prefix,
                absolute=settings.absolute_paths,
            )
        except HtmlError as exc:
            if settings.html_required:
                self._fail(session, str(exc), pytest.ExitCode.TESTS_FAILED)
            else:
                self._say(str(exc), yellow=True)
            return
        for complaint in complaints:
            self._say(f"pytest-lcov: genhtml: {complaint}", yellow=True)
        self._say(f"LCOV HTML report in {shown(out_dir / 'index.html')}")

    def _say(self, line: str, **markup: bool) -> None:
        self.messages.append((line, markup))

    def _fail(self, session: pytest.Session, line: str, status: pytest.ExitCode) -> None:
        """Report a failure; the run fails with `status` unless it already failed."""
        self._say(line, red=True, bold=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = status

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        # Set-up, call and teardown all belong to the test.
        if not self.settings.needs_contexts:
            return (yield)
        self.measurement.switch_test(item.nodeid)
        try:
            return (yield)
        finally:
            self.measurement.switch_test(None)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.settings.table and self.report is not None:
            terminalreporter.section("LCOV coverage")
            for line in table(self.report.files, self.report.totals):
                terminalreporter.write_line(line)
        for line, markup in self.messages:
            terminalreporter.write_line(line, **markup)
