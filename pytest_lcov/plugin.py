"""The pytest hooks: options, start-up, and the report at session end.

Shaped like pytest's junitxml plugin: the hooks here set up one stashed
LcovReport object, whose methods are the session hooks that write the file.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import coverage
import pytest

from pytest_lcov.measure import Measurement, refuse_pytest_cov
from pytest_lcov.model import Totals, percent
from pytest_lcov.report import write_report
from pytest_lcov.settings import Settings, add_options, resolve

lcov_report_key = pytest.StashKey["LcovReport"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Start measuring before conftest.py files and the project are imported."""
    settings = resolve(early_config)
    if not settings.enabled:
        return
    refuse_pytest_cov(early_config.known_args_namespace, early_config.pluginmanager.has_plugin("_cov"))
    measurement = Measurement.begin(settings, early_config.rootpath)
    report = LcovReport(settings, measurement, early_config.rootpath)
    early_config.stash[lcov_report_key] = report
    early_config.pluginmanager.register(report, "lcov-report")


def pytest_unconfigure(config: pytest.Config) -> None:
    report = config.stash.get(lcov_report_key, None)
    if report is not None:
        report.measurement.end()  # a run stopped before the session ended
        del config.stash[lcov_report_key]
        config.pluginmanager.unregister(report)


class LcovReport:
    """Writes the tracefile at session end and says so in the summary."""

    def __init__(self, settings: Settings, measurement: Measurement, rootdir: Path) -> None:
        self.settings = settings
        self.measurement = measurement
        self.rootdir = rootdir
        self.totals: Totals | None = None
        self.error: str | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # trylast: session-scoped fixtures have been torn down, their lines count.
        cov = self.measurement.end()
        try:
            self.totals = write_report(cov, self.settings, self.rootdir)
        except coverage.CoverageException as exc:
            self.error = f"pytest-lcov: no tracefile written: {exc}"
        except OSError as exc:
            self.error = f"pytest-lcov: cannot write {self.settings.output}: {exc.strerror or exc}"
        if self.error and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

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
        if self.measurement.notice:
            terminalreporter.write_line(self.measurement.notice, yellow=True)
        if self.error:
            terminalreporter.write_line(self.error, red=True, bold=True)
        elif self.totals is not None:
            terminalreporter.write_line(summary_line(self.settings.output, self.totals))
            if self.settings.per_test:
                terminalreporter.write_line(
                    f"LCOV test descriptions in {_shown(self.settings.description_file)}"
                )


def summary_line(output: Path, totals: Totals) -> str:
    """One line: where the file went, and each metric as hit/total (percent)."""
    parts = [
        f"lines {totals.lines_hit}/{totals.lines_found} ({percent(totals.lines_hit, totals.lines_found)}%)",
        f"functions {totals.functions_hit}/{totals.functions_found} "
        f"({percent(totals.functions_hit, totals.functions_found)}%)",
    ]
    if totals.branches_found:
        parts.append(
            f"branches {totals.branches_hit}/{totals.branches_found} "
            f"({percent(totals.branches_hit, totals.branches_found)}%)"
        )
    return f"LCOV written to {_shown(output)}: " + ", ".join(parts)


def _shown(path: Path) -> str:
    """`path` as the user would type it from here."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
