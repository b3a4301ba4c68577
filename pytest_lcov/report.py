"""From a finished Coverage to a tracefile on disk."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import coverage

from pytest_lcov.analysis import Analysis, FileReporter, ParallelAnalysis, analysed_files, format_lines
from pytest_lcov.collect import (
    FileShape,
    Hits,
    PathStyle,
    build_record,
    context_hits,
    file_shape,
    modified_since,
    run_hits,
)
from pytest_lcov.files import DESCRIPTION_LINE, atomic_output
from pytest_lcov.model import FileRecord, Totals, merge_records
from pytest_lcov.options import ReportOptions
from pytest_lcov.tracefile import format_descriptions, format_record, unique_test_names

RUN_DESCRIPTION = "lines run outside any test: imports, collection, session set-up"


@dataclass(frozen=True)
class FileSummary:
    """One row of the terminal table: a file's totals and its missed lines."""

    path: str
    totals: Totals
    missing: str


@dataclass(frozen=True)
class Report:
    """What was written: the totals, per-file rows when a table was asked for, files changed meanwhile,
    and the whole-run records of the files the caller asked to keep (by their measured path)."""

    totals: Totals
    files: tuple[FileSummary, ...] = ()
    changed: tuple[str, ...] = ()
    records: dict[str, FileRecord] = field(default_factory=dict)


def write_report(
    cov: coverage.Coverage,
    options: ReportOptions,
    rootdir: Path,
    measured_since: float | None = None,
    parallel: ParallelAnalysis | None = None,
    keep: Collection[str] = (),
) -> Report:
    """Write the tracefile `options` asks for; return what it holds.

    Records stream from analysis to disk one file at a time, so memory grows
    with the largest file, not with the code base.  Files modified after
    `measured_since` are named in the report's `changed`.  `parallel` is the
    parsing started with the session, if any.  The records of the files in
    `keep` (absolute paths, as measured) are kept in the report's `records`.
    """
    with frozen_heap():
        return _write_report(cov, options, rootdir, measured_since, parallel, frozenset(keep))


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the garbage collector off everything that exists before the report.

    At the end of a session the heap holds every test, module and fixture;
    parsing thousands of files triggers full collections that would scan it
    all again and again (measured: about a third of a large run's time).
    Objects the report creates are still collected as usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _write_report(
    cov: coverage.Coverage,
    options: ReportOptions,
    rootdir: Path,
    measured_since: float | None,
    parallel: ParallelAnalysis | None,
    keep: frozenset[str],
) -> Report:
    paths = PathStyle(rootdir, options.absolute_paths, options.path_prefix)
    tests = TestSections(cov, options) if options.needs_contexts else None
    totals = Totals()
    rows: list[FileSummary] = []
    changed: list[str] = []
    kept: dict[str, FileRecord] = {}
    with atomic_output(options.output) as out:
        if not options.per_test:
            out.write(f"TN:{options.test_name}\n")  # one section: every file under the run's name
        for reporter, analysis in analysed_files(cov, options.cache_dir, parallel):
            path = paths.name(reporter.filename)
            if modified_since(reporter.filename, measured_since):
                changed.append(path)
            shape = file_shape(reporter, analysis, path, options.checksums)
            record = _write_file(out, shape, reporter, analysis, tests, options)
            if reporter.filename in keep:
                kept[reporter.filename] = record
            file_totals = record.totals()
            totals += file_totals
            if options.table:
                missed = [line for line, count in record.lines.items() if not count]
                rows.append(FileSummary(path, file_totals, format_lines(record.lines, missed)))
    if tests is not None and options.per_test:
        with atomic_output(options.description_file, DESCRIPTION_LINE, "a genhtml description file") as desc:
            desc.write(format_descriptions(tests.descriptions()))
    return Report(totals, tuple(rows), tuple(changed), kept)


def _write_file(
    out: TextIO,
    shape: FileShape,
    reporter: FileReporter,
    analysis: Analysis,
    tests: TestSections | None,
    options: ReportOptions,
) -> FileRecord:
    """Write one file's section(s); return its whole-run record, whose totals the summary counts."""
    if tests is None:
        record = build_record(shape, run_hits(analysis))
        out.write(format_record(record, options.dialect))
        return record
    sections = tests.sections(shape, reporter, analysis)
    merged = merge_records(record for _, record in sections)
    if not options.per_test:
        out.write(format_record(merged, options.dialect))
        return merged
    for name, record in sections:
        out.write(f"TN:{name}\n")
        out.write(format_record(record, options.dialect))
    return merged


class TestSections:
    """Per-test data: per file, the run's section and one section per test that reached it.

    This is the layout lcov itself writes (a ``TN:`` line before each file's
    section), which lets the file be streamed file by file.  With
    ``lcov_counts = "tests"`` the sections are added into one instead.
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, cov: coverage.Coverage, options: ReportOptions) -> None:
        self.data = cov.get_data()
        self.run_name = options.test_name
        self.run_context = str(cov.get_option("run:context") or "")
        test_prefix = self.run_context + "|" if self.run_context else ""
        labels = {
            context: context.removeprefix(test_prefix)
            for context in self.data.measured_contexts()
            if context != self.run_context
        }
        self.names_by_label = unique_test_names(labels.values(), reserved=[self.run_name])
        self.names = {context: self.names_by_label[label] for context, label in labels.items()}

    def sections(
        self, shape: FileShape, reporter: FileReporter, analysis: Analysis
    ) -> list[tuple[str, FileRecord]]:
        """The run's section (every line; what ran outside tests counts 1), then each test's, by name."""
        by_context = context_hits(self.data, reporter, analysis.has_arcs)
        nothing = Hits(frozenset(), frozenset() if analysis.has_arcs else None)
        run_record = build_record(shape, by_context.pop(self.run_context, nothing))
        tests = sorted(
            (self.names[context], build_record(shape, hits, only_reached=True))
            for context, hits in by_context.items()
        )
        return [(self.run_name, run_record), *tests]

    def descriptions(self) -> list[tuple[str, str]]:
        """genhtml's description of each section name: the node id it stands for."""
        named = sorted((name, label) for label, name in self.names_by_label.items())
        return [(self.run_name, RUN_DESCRIPTION), *named]
