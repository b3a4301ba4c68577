"""From a finished Coverage to a tracefile on disk."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import coverage
from coverage.plugin import FileReporter

from pytest_lcov.analysis import ParallelAnalysis
from pytest_lcov.coverage_internals import Analysis, Numbers, statement_starts
from pytest_lcov.executions import FileCounts, check
from pytest_lcov.html import Lcov2Load
from pytest_lcov.model import FileRecord, FileRow, Totals, format_ranges, merge_records
from pytest_lcov.option_table import ReportOptions
from pytest_lcov.records import (
    FileShape,
    Hits,
    PathStyle,
    RecordCounts,
    build_record,
    context_hits,
    file_shape,
    modified_since,
    run_hits,
    source_bytes,
)
from pytest_lcov.reported_files import analysed_files
from pytest_lcov.safe_write import DESCRIPTION_LINE, TRACEFILE_LINE, atomic_output
from pytest_lcov.tracefile import format_descriptions, format_record, unique_test_names

RUN_DESCRIPTION = "lines run outside any test: imports, collection, session set-up"


@dataclass(frozen=True)
class FileSummary(FileRow):
    """One row of the terminal table: a file's totals and its missed lines.

    `numbers` and `missing_arcs` are coverage.py's own (its per-file total, and
    its term-missing text with partial branches such as ``4->6``), so the table
    reads as pytest-cov's; `missing` is the tracefile's missed lines only.
    """

    numbers: Numbers = field(default_factory=Numbers)
    missing_arcs: str = ""


@dataclass(frozen=True)
class Report:
    """What was written: the totals, per-file rows when a table was asked for, files changed meanwhile,
    and the whole-run records of the files the caller asked to keep (by their measured path)."""

    totals: Totals
    files: tuple[FileSummary, ...] = ()
    changed: tuple[str, ...] = ()
    records: dict[str, FileRecord] = field(default_factory=dict)
    tests_load: Lcov2Load | None = None  # what the per-test file costs lcov 2.x to read, when written
    uncounted: tuple[tuple[str, str], ...] = ()  # (file, why) where execution counts were not trusted
    # of the kept files: each line of a statement that spans lines -> the statement's first line
    starts: dict[str, dict[int, int]] = field(default_factory=dict)
    # coverage.py's total over the same files (Coverage.report's), and the files skip_empty left out
    numbers: Numbers = field(default_factory=Numbers)
    empty_skipped: int = 0


def write_report(
    cov: coverage.Coverage,
    options: ReportOptions,
    rootdir: Path,
    measured_since: float | None = None,
    parallel: ParallelAnalysis | None = None,
    keep: Collection[str] = (),
    execution_counts: Mapping[str, FileCounts] | None = None,
    file_rows: bool | None = None,
) -> Report:
    """Write the tracefile `options` asks for; return what it holds.

    Records stream from analysis to disk one file at a time, so memory grows
    with the largest file, not with the code base.  Files modified after
    `measured_since` are named in the report's `changed`.  `parallel` is the
    parsing started with the session, if any.  The records of the files in
    `keep` (absolute paths, as measured) are kept in the report's `records`.
    `execution_counts` are the import hook's, by real path (``lcov_counts = "executions"``).
    `file_rows` asks for each file's row with its missing lines (the table's,
    the job summary's); by default, when the table is asked for.
    """
    rows = options.table if file_rows is None else file_rows
    with frozen_heap():
        return _write_report(
            cov, options, rootdir, measured_since, parallel, frozenset(keep), execution_counts, rows
        )


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
    execution_counts: Mapping[str, FileCounts] | None = None,
    file_rows: bool = False,
) -> Report:
    paths = PathStyle(rootdir, options.absolute_paths, options.path_prefix)
    tests = TestSections(cov, options) if options.needs_contexts else None
    totals = Totals()
    rows: list[FileSummary] = []
    changed: list[str] = []
    kept: dict[str, FileRecord] = {}
    starts: dict[str, dict[int, int]] = {}
    uncounted: list[tuple[str, str]] = []
    numbers = Numbers()
    empty_skipped = 0
    skip_empty = bool(cov.get_option("report:skip_empty"))
    with atomic_output(options.output) as out, _tests_output(options) as per_test:
        out.write(f"TN:{options.test_name}\n")  # one section: every file once, under the run's name
        for reporter, analysis in analysed_files(cov, options.cache_dir, parallel):
            numbers += analysis.numbers  # Coverage.report counts the files skip_empty leaves out too
            if skip_empty and analysis.numbers.n_statements == 0:
                empty_skipped += 1
                continue
            path = paths.name(reporter.filename)
            if modified_since(reporter.filename, measured_since):
                changed.append(path)
            shape = file_shape(reporter, analysis, path, options.checksums)
            checked = _checked_counts(execution_counts, shape, reporter, analysis)
            if isinstance(checked, str):
                uncounted.append((path, checked))
                checked = None
            record = _write_file(out, per_test, shape, reporter, analysis, tests, options, checked)
            if reporter.filename in keep:
                kept[reporter.filename] = record
                starts[reporter.filename] = statement_starts(reporter)
            file_totals = record.totals()
            totals += file_totals
            if file_rows:
                missed = [line for line, count in record.lines.items() if not count]
                missing = format_ranges(missed, record.lines, separator=", ")
                arcs = analysis.missing_formatted(branches=True)
                rows.append(FileSummary(path, file_totals, missing, analysis.numbers, arcs))
    if tests is not None and options.per_test:
        with atomic_output(options.description_file, DESCRIPTION_LINE, "a genhtml description file") as desc:
            desc.write(format_descriptions(tests.descriptions()))
    load = per_test.load if per_test else None
    return Report(
        totals, tuple(rows), tuple(changed), kept, load, tuple(uncounted), starts, numbers, empty_skipped
    )


def _checked_counts(
    execution_counts: Mapping[str, FileCounts] | None,
    shape: FileShape,
    reporter: FileReporter,
    analysis: Analysis,
) -> RecordCounts | str | None:
    """The file's execution counts if they agree with coverage.py; else why not; None without counts."""
    found = (
        execution_counts.get(os.path.realpath(reporter.filename)) if execution_counts is not None else None
    )
    if found is None:
        return None
    return check(shape, run_hits(analysis), found, source_bytes(reporter))


@dataclass
class PerTestFile:
    """The per-test file being written, and what it will cost lcov 2.x to read."""

    out: TextIO
    dialect: str
    load: Lcov2Load = field(default_factory=Lcov2Load)

    def written(self, sections: Iterable[tuple[str, FileRecord]]) -> Iterator[FileRecord]:
        """Write one source file's sections, each under its test name, passing each on as it is written."""
        records = []
        for name, section in sections:
            self.out.write(f"TN:{name}\n")
            self.out.write(format_record(section, self.dialect))
            records.append(len(section.lines) + 2 * len(section.functions))
            yield section
        self.load.add_file(records)


@contextlib.contextmanager
def _tests_output(options: ReportOptions) -> Iterator[PerTestFile | None]:
    """The per-test file, written as the tracefile is: atomically, and only over a tracefile; or None.

    The per-test sections have a file of their own so that the tracefile holds
    each source file once: consumers that do not add up repeated sections
    (lcov-parse, lcov_cobertura, Coverage Gutters) then read it right.
    """
    if not options.per_test:
        yield None
        return
    with atomic_output(options.tests_file, TRACEFILE_LINE, "a tracefile") as out:
        yield PerTestFile(out, options.dialect)


def _write_file(
    out: TextIO,
    per_test: PerTestFile | None,
    shape: FileShape,
    reporter: FileReporter,
    analysis: Analysis,
    tests: TestSections | None,
    options: ReportOptions,
    record_counts: RecordCounts | None = None,
) -> FileRecord:
    """Write one file's whole-run record, and its per-test sections when asked; return the record.

    With per-test data the record is the sections added up: each count is the
    number of tests that reached the line, plus one when it also ran outside
    any test, which is what ``lcov -a`` of the per-test file reads.
    """
    if tests is None:
        record = build_record(shape, run_hits(analysis), record_counts=record_counts)
    else:
        # One section at a time: written, added to the sum, then dropped.
        sections = tests.sections(shape, reporter, analysis)
        if per_test is not None:
            record = merge_records(per_test.written(sections))
        else:
            record = merge_records(section for _, section in sections)
    out.write(format_record(record, options.dialect))
    return record


class TestSections:
    """Per-test data: per file, the run's section and one section per test that reached it.

    The per-test file holds them source file by source file, each under its
    ``TN:`` line, as lcov writes them: so both files stream one source file at
    a time and memory follows the largest file, not the per-test data.  (By
    test instead reads no faster in lcov 1.x or 2.x: benchmarks/README.md,
    case d.)  The tracefile gets their sum, as with ``lcov_counts = "tests"``.
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
    ) -> Iterator[tuple[str, FileRecord]]:
        """The run's section (every line; what ran outside tests counts 1), then each test's, by name.

        Each section is built as it is asked for, so a caller that writes and
        drops them holds one test's data at a time.
        """
        by_context = context_hits(self.data, reporter, analysis.has_arcs)
        nothing = Hits(frozenset(), frozenset() if analysis.has_arcs else None)
        yield self.run_name, build_record(shape, by_context.pop(self.run_context, nothing))
        for name, context in sorted((self.names[context], context) for context in by_context):
            yield name, build_record(shape, by_context[context], only_reached=True)

    def descriptions(self) -> list[tuple[str, str]]:
        """genhtml's description of each section name: the node id it stands for."""
        named = sorted((name, label) for label, name in self.names_by_label.items())
        return [(self.run_name, RUN_DESCRIPTION), *named]
