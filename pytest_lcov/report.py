"""From a finished Coverage to a tracefile on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import coverage

from pytest_lcov.collect import (
    Hits,
    PathStyle,
    analysed_files,
    build_record,
    context_hits,
    file_records,
    file_shape,
)
from pytest_lcov.files import atomic_output
from pytest_lcov.model import FileRecord, Totals, merge_records
from pytest_lcov.settings import Settings
from pytest_lcov.tracefile import format_descriptions, format_section, unique_test_names, write_section


def write_report(cov: coverage.Coverage, settings: Settings, rootdir: Path) -> Totals:
    """Write the tracefile `settings` asks for; return what it holds in total.

    Records stream from analysis to disk one file at a time, so memory grows
    with the largest file, not with the code base.
    """
    paths = PathStyle(rootdir, settings.absolute_paths, settings.path_prefix)
    with atomic_output(settings.output) as out:
        if settings.needs_contexts:
            return _write_by_test(cov, settings, paths, out)
        totals = Totals()

        def counted(records: Iterator[FileRecord]) -> Iterator[FileRecord]:
            nonlocal totals
            for record in records:
                totals += record.totals()
                yield record

        write_section(
            out, settings.test_name, counted(file_records(cov, paths, settings.checksums)), settings.dialect
        )
        return totals


def _write_by_test(cov: coverage.Coverage, settings: Settings, paths: PathStyle, out: TextIO) -> Totals:
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
    totals = Totals()
    for reporter, analysis in analysed_files(cov):
        shape = file_shape(reporter, analysis, paths.name(reporter.filename), settings.checksums)
        by_context = context_hits(data, reporter, analysis.has_arcs)
        outside = by_context.pop(run_context, Hits(frozenset(), frozenset() if analysis.has_arcs else None))
        run_record = build_record(shape, outside)
        tests = sorted(
            (test_names[c], build_record(shape, hits, only_reached=True)) for c, hits in by_context.items()
        )
        merged = merge_records([run_record, *(record for _, record in tests)])
        totals += merged.totals()
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
    return totals
