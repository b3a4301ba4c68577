"""--lcov-append: this run's tracefile added to the one an earlier run left at the output path.

pytest-cov's ``--cov-append`` adds to coverage.py's data file; pytest-lcov keeps
no data file, so the tracefile is what earlier runs leave, and it is added as
``pytest-lcov merge OLD NEW`` adds tracefiles (merge.TracefileMerge).

Read back from disk, the old file is trusted in nothing.  It must read as LCOV,
and be written as this run writes: one section per source file under this
run's test name (not per-test data, not another ``lcov_test_name``), and with
branch records only if this run has them too, as coverage.py refuses to
combine line data with branch data.  Otherwise the sum would say what no run
measured: a line run with none of its branches taken, one file twice.  What
the counts mean (``lcov_counts``) is not in the file: pytest's cache remembers
it for each file --lcov-append wrote, by the file's SHA-256, so counts of another
kind are refused whenever that very file is known; an unknown file (another
tool's, a cleared cache) is added as ``lcov -a`` adds.  A refusal leaves the
old file as it was; the sum replaces it at once (files.atomic_output).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_lcov import PytestLcovError
from pytest_lcov.coverage_internals import Numbers
from pytest_lcov.merge import Added, TracefileMerge
from pytest_lcov.model import BranchRecord, FileRecord, MergeConflict, Totals, format_ranges
from pytest_lcov.option_table import ReportOptions
from pytest_lcov.report import FileSummary
from pytest_lcov.safe_write import atomic_output
from pytest_lcov.tracefile import LcovParseError

if TYPE_CHECKING:
    import pytest

CACHE_KEY = "pytest-lcov/appended"  # output's real path -> {"sha256": ..., "counts": ...}
REMEMBERED = 20  # outputs whose counts are remembered, the latest


class AppendRefused(PytestLcovError):
    """Why the earlier tracefile cannot be added to; one line, after the file's name."""


@dataclass
class Earlier:
    """The earlier tracefile read into a merge, and what it held."""

    merge: TracefileMerge
    added: Added


def read_earlier(path: Path, test_name: str, branches: bool) -> Earlier | None:
    """The tracefile at `path` ready to be added to, None when there is none.

    `branches`: whether this run measures them.  Raises AppendRefused when the
    file is not a tracefile this run can add to.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AppendRefused(f"cannot be checked: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise AppendRefused("is not a regular file: --lcov-append adds to a tracefile")
    merge = TracefileMerge(keep_empty=True)  # pytest-lcov's own files list empty sources too
    try:
        added = merge.add_file(path)
    except OSError as exc:
        raise AppendRefused(f"cannot be read: {exc.strerror or exc}") from None
    except (LcovParseError, MergeConflict) as exc:
        raise AppendRefused(f"is not a tracefile to add to: {exc}") from None
    others = sorted(added.test_names - {test_name})
    if others:
        name = f"the test name {others[0]!r}" if others[0] else "no test name (TN:)"
        raise AppendRefused(
            f"holds sections of {name}, not of this run's {test_name!r}: it was "
            "written with another lcov_test_name, or holds per-test data (`pytest-lcov merge` keeps "
            "such sections apart)"
        )
    if added.branch_records and not branches:
        raise AppendRefused(
            "holds branch data and this run measures no branches: give --lcov-branch as the earlier run did "
            "(coverage.py refuses to combine line data with branch data too)"
        )
    return Earlier(merge, added)


def written_counts(cache: pytest.Cache | None, path: Path) -> str | None:
    """The ``lcov_counts`` that --lcov-append wrote the very file at `path` with; None when unknown."""
    entries = cache.get(CACHE_KEY, {}) if cache is not None else {}
    entry = entries.get(os.path.realpath(path)) if isinstance(entries, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("counts"), str):
        return None
    try:
        same = _regular_file(path) and entry.get("sha256") == _digest(path)
    except OSError:
        return None
    return str(entry["counts"]) if same else None


def refuse_other_counts(written: str | None, count_mode: str) -> None:
    """Refuse to add counts of one kind to counts of another (see the module)."""
    if written is not None and written != count_mode:
        raise AppendRefused(
            f"was written with lcov_counts = {written!r} and this run counts {count_mode!r}: the sum would "
            "add counts of two kinds; give the same lcov_counts, or write to another file"
        )


def remember_counts(cache: pytest.Cache | None, path: Path, count_mode: str) -> None:
    """Remember what the counts of the file just written at `path` mean, for the next --lcov-append."""
    if cache is None:
        return
    with contextlib.suppress(OSError):
        if not _regular_file(path):
            return
        entries = cache.get(CACHE_KEY, {})
        entries = dict(entries) if isinstance(entries, dict) else {}
        key = os.path.realpath(path)
        entries.pop(key, None)  # the latest last
        entries[key] = {"sha256": _digest(path), "counts": count_mode}
        cache.set(CACHE_KEY, dict(list(entries.items())[-REMEMBERED:]))


def _regular_file(path: Path) -> bool:
    return stat.S_ISREG(os.stat(path).st_mode)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def append_run(
    earlier: Earlier, this_run: Path, output: Path, options: ReportOptions, *, file_rows: bool = False
) -> tuple[Totals, Numbers, tuple[FileSummary, ...]]:
    """Add the tracefile `this_run` to `earlier` and write the sum to `output`.

    Returns the sum's totals, coverage.py's numbers of it (for ``fail_under``)
    and, with `file_rows`, each file's row (the table's, the job summary's).  Raises AppendRefused,
    with nothing written, when the two cannot be added.
    """
    try:
        added = earlier.merge.add_file(this_run)
    except MergeConflict as exc:
        raise AppendRefused(f"does not add up with this run: {exc}") from None
    if added.branch_records and not earlier.added.branch_records:
        raise AppendRefused(
            "holds no branch data and this run measures branches: measure as the earlier run did "
            "(without --lcov-branch and branch = true), or write to another file"
        )
    with atomic_output(output) as out:
        totals = earlier.merge.write(out, options.dialect)
    numbers = Numbers()
    rows = []
    for record in earlier.merge.records():
        file_numbers = coverage_numbers(record)
        numbers += file_numbers
        if file_rows:
            missing = format_ranges(
                [line for line, count in record.lines.items() if not count], record.lines, separator=", "
            )
            rows.append(FileSummary(record.path, record.totals(), missing, file_numbers, missing))
    return totals, numbers, tuple(rows)


def _is_exception_branch(branch: BranchRecord) -> bool:
    """The branch pytest-lcov adds for a line whose every run raised: not one of coverage.py's.

    The compat dialect writes it as block 1 (coverage.py's ways out are block 0),
    lcov2 with its ``e`` marker (tracefile._format_branch).
    """
    return branch.exception or branch.block != 0


def coverage_numbers(record: FileRecord) -> Numbers:
    """coverage.py's numbers of one file of the sum, for its total (``[report] fail_under``).

    The tracefile's lines are coverage.py's statements, and its branches are
    coverage.py's ways out of branch lines plus the exception branches, which
    coverage.py does not count.  A line or way out ran when any run ran it,
    as coverage.py's combine has it.
    """
    ways: dict[int, list[bool]] = {}
    for branch in record.branches:
        if not _is_exception_branch(branch):
            ways.setdefault(branch.line, []).append(bool(branch.taken))
    taken = [way for line_ways in ways.values() for way in line_ways]
    return Numbers(
        n_files=1,
        n_statements=len(record.lines),
        n_missing=sum(1 for count in record.lines.values() if not count),
        n_branches=len(taken),
        n_partial_branches=sum(1 for line_ways in ways.values() if any(line_ways) and not all(line_ways)),
        n_missing_branches=taken.count(False),
    )
