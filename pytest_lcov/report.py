"""From a finished Coverage to a tracefile on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import coverage

from pytest_lcov.collect import PathStyle, file_records
from pytest_lcov.files import atomic_output
from pytest_lcov.model import FileRecord, Totals
from pytest_lcov.settings import Settings
from pytest_lcov.tracefile import write_section


def write_report(cov: coverage.Coverage, settings: Settings, rootdir: Path) -> Totals:
    """Write the tracefile `settings` asks for; return what it holds in total.

    Records stream from analysis to disk one file at a time, so memory grows
    with the largest file, not with the code base.
    """
    paths = PathStyle(rootdir, settings.absolute_paths, settings.path_prefix)
    totals = Totals()

    def counted(records: Iterator[FileRecord]) -> Iterator[FileRecord]:
        nonlocal totals
        for record in records:
            totals += record.totals()
            yield record

    with atomic_output(settings.output) as out:
        records = file_records(cov, paths, settings.checksums)
        write_section(out, settings.test_name, counted(records), settings.dialect)
    return totals
