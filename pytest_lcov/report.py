"""From a finished Coverage to a tracefile on disk."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import coverage

from pytest_lcov.analysis import analysed_files, format_lines
from pytest_lcov.collect import (
    ChangedFiles,
    Hits,
    PathStyle,
    build_record,
    context_hits,
    file_records,
    file_shape,
)
from pytest_lcov.files import atomic_output
from pytest_lcov.model import FileRecord, Totals, merge_records
from pytest_lcov.settings import Settings
from pytest_lcov.tracefile import format_descriptions, format_section, unique_test_names, write_section


@dataclass
class FileSummary:
    """One row of the terminal table: a file's totals and its missed lines."""

    path: str
    totals: Totals
    missing: str


@dataclass
class Report:
    """What was written: the totals, and per-file rows when a table was asked for."""

    totals: Totals = field(default_factory=Totals)
    files: list[FileSummary] = field(default_factory=list)
    keep_files: bool = False
    changed: ChangedFiles = field(default_factory=ChangedFiles)

    def add(self, record: FileRecord) -> None:
        totals = record.totals()
        self.totals += totals
        if self.keep_files:
            missed = [line for line, count in record.lines.items() if not count]
            self.files.append(FileSummary(record.path, totals, format_lines(record.lines, missed)))


def write_report(
    cov: coverage.Coverage,
    settings: Settings,
    rootdir: Path,
    measured_since: float | None = None,
    cache_dir: Path | None = None,
) -> Report:
    """Write the tracefile `settings` asks for; return what it holds.

    Records stream from analysis to disk one file at a time, so memory grows
    with the largest file, not with the code base.  Files modified after
    `measured_since` are listed in the report's `changed`.
    """
    if cache_dir is not None:
        settings = dataclasses.replace(settings, cache_dir=cache_dir)
    with frozen_heap():
        return _write_report(cov, settings, rootdir, measured_since)


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
    cov: coverage.Coverage, settings: Settings, rootdir: Path, measured_since: float | None
) -> Report:
    paths = PathStyle(rootdir, settings.absolute_paths, settings.path_prefix)
    report = Report(keep_files=settings.table, changed=ChangedFiles(measured_since))
    with atomic_output(settings.output) as out:
        if settings.needs_contexts:
            _write_by_test(cov, settings, paths, out, report)
            return report

        def counted(records: Iterator[FileRecord]) -> Iterator[FileRecord]:
            for record in records:
                report.add(record)
                yield record

        records = counted(file_records(cov, paths, settings.checksums, report.changed, settings.cache_dir))
        write_section(out, settings.test_name, records, settings.dialect)
    return report


def _write_by_test(
    cov: coverage.Coverage, settings: Settings, paths: PathStyle, out: TextIO, report: Report
) -> None:
    """Per-test data: per file, the run's section and one section per test that reached it.

    This is the layout lcov itself writes (a ``TN:`` line before each file's
    section), which lets the file be streamed file by file.  With
    ``lcov_counts = "tests"`` the sections are added into one instead.
    """
    data = cov.get_data()
    run_context = str(cov.get_option("run:context") or "")
    test_prefix = run_context + "|" if run_context else ""
    labels = {c: c.removeprefix(test_prefix) for c in data.measured_contexts() if c != run_context}
    names = unique_test_names(labels.values(), reserved=[settings.test_name])
    test_names = {context: names[label] for context, label in labels.items()}
    for reporter, analysis in analysed_files(cov, settings.cache_dir):
        path = paths.name(reporter.filename)
        report.changed.check(reporter.filename, path)
        shape = file_shape(reporter, analysis, path, settings.checksums)
        by_context = context_hits(data, reporter, analysis.has_arcs)
        outside = by_context.pop(run_context, Hits(frozenset(), frozenset() if analysis.has_arcs else None))
        run_record = build_record(shape, outside)
        tests = sorted(
            (test_names[c], build_record(shape, hits, only_reached=True)) for c, hits in by_context.items()
        )
        merged = merge_records([run_record, *(record for _, record in tests)])
        report.add(merged)
        if settings.per_test:
            out.write(format_section(settings.test_name, run_record, settings.dialect))
            for name, record in tests:
                out.write(format_section(name, record, settings.dialect))
        else:
            out.write(format_section(settings.test_name, merged, settings.dialect))
    if settings.per_test:
        descriptions = [
            (settings.test_name, "lines run outside any test: imports, collection, session set-up")
        ]
        descriptions += sorted((name, label) for label, name in names.items())
        with atomic_output(settings.description_file) as desc:
            desc.write(format_descriptions(descriptions))
