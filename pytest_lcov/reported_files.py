"""The files a report covers, each with coverage.py's analysis, in coverage.py's order.

Which files, and with which errors, is coverage.py's rule (``coverage
report``'s); the fast route reads each source once and reuses stored
analyses, coverage.py's own route (coverage_internals.fast_path decides) is
its report code as it is.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

from coverage import Coverage, CoverageData
from coverage.exceptions import CoverageWarning, NoDataError, NotPython
from coverage.plugin import FileReporter

from pytest_lcov.analysis import Analyser, ParallelAnalysis
from pytest_lcov.coverage_internals import (
    Analysis,
    coverage_analyses,
    failed_adding_unexecuted_files,
    fast_path,
    file_analysis,
    reported_names,
    should_be_python,
    touch_unexecuted_files,
)
from pytest_lcov.tracefile import safe_field


def collected_data(cov: Coverage) -> tuple[CoverageData, list[str]]:
    """coverage.py's data of the run, and the source files left out of it: their names are not UTF-8.

    coverage.py keeps file names in SQLite, as UTF-8: a file whose name holds
    other bytes (``caf\\xe9.py`` in Latin-1) cannot be stored.  Its
    `get_data` fails on one among the source files no test ran, which it adds
    once, after the run's data is in; those are added here then, all but the
    files that cannot be stored, whose names are returned for the report to
    say.  The report's first call: later ones find the data settled.
    """
    try:
        return cov.get_data(), []
    except UnicodeEncodeError as exc:
        if not failed_adding_unexecuted_files(exc):
            raise  # the run's own data could not be stored: no report may go on without it
        data = cov.get_data()  # the run's data is in: only files no test ran are missing
    left_out = touch_unexecuted_files(cov, data, _storable)
    return data, sorted(left_out or [])


def _storable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def analysed_files(
    cov: Coverage, store_folder: Path | None, parallel: ParallelAnalysis | None = None
) -> Iterator[tuple[FileReporter, Analysis]]:
    """Each measured file with coverage.py's analysis, one at a time, in coverage.py's order.

    Files come from coverage.py's own rules, so `source`, `omit`, `include`,
    exclusions and unimported source files behave exactly as in ``coverage
    report``; like it, this yields empty files too, for the caller to count
    and leave out under `skip_empty`.  Plain Python files are read once and analysed by
    coverage.py's own analysis of a file reporter; with `store_folder`,
    unchanged files reuse an earlier, signed analysis.  `parallel` is the
    parsing already under way since the session started, if any.
    """
    data = cov.get_data()  # flushes the tracer's data into the data object the reporters read
    if fast_path() and _plain_python_only(cov, data):
        yield from _analyses(cov, data, store_folder, parallel)
    else:
        yield from coverage_analyses(cov)


def _plain_python_only(cov: Coverage, data: CoverageData) -> bool:
    """No file-tracer plugins and no relative names: every file is a Python file at its measured path."""
    if cov.get_option("run:relative_files") or cov.get_option("run:plugins"):
        return False
    return not any(data.file_tracer(name) for name in data.measured_files())


def _analyses(
    cov: Coverage, data: CoverageData, store_folder: Path | None, parallel: ParallelAnalysis | None
) -> Iterator[tuple[FileReporter, Analysis]]:
    """What coverage.py's report code yields (coverage_analyses), from sources read once.

    The same files (measured, minus the report's include/omit patterns), in
    the same order, with the same error policy (`ignore_errors` warns and
    skips), analysed by coverage.py's own analysis of a file reporter.
    """
    names = reported_names(cov, data)
    if not names:
        raise NoDataError("No data to report.")
    has_arcs = data.has_arcs()
    precision_option = cov.get_option("report:precision")
    precision = precision_option if isinstance(precision_option, int) else 0
    ignore_errors = bool(cov.get_option("report:ignore_errors"))
    silenced = cov.get_option("run:disable_warnings")
    warn = not (isinstance(silenced, list) and "couldnt-parse" in silenced)  # as coverage.py's own warning
    with contextlib.ExitStack() as stack:
        if parallel is None or parallel.has_arcs != has_arcs:
            parallel = stack.enter_context(ParallelAnalysis(cov, store_folder, has_arcs))
        store = parallel.complete(names)
        analyser = Analyser(cov, store)
        for name in names:
            try:
                reporter = analyser.reporter(name, has_arcs)
                analysis = file_analysis(data, precision, reporter, name)
            except NotPython:
                if not should_be_python(name, cov):
                    continue
                if not ignore_errors:
                    raise
                if warn:
                    warnings.warn(
                        f"Couldn't parse Python file '{safe_field(name)}' (couldnt-parse)",
                        CoverageWarning,
                        stacklevel=1,
                    )
            except Exception as exc:
                if not ignore_errors:
                    raise
                if warn:
                    warnings.warn(
                        f"Couldn't parse '{safe_field(name)}': {safe_field(str(exc))} (couldnt-parse)",
                        CoverageWarning,
                        stacklevel=1,
                    )
            else:
                yield reporter, analysis
