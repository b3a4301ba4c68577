"""coverage.py's analysis of each measured file, turned into LCOV file records.

coverage.py does the measuring, parsing, exclusion and path handling; this
module only decides how its statements, code regions and arcs map onto LCOV's
lines, functions and branches.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from coverage import Coverage
from coverage.plugin import CodeRegion, FileReporter
from coverage.report_core import get_analysis_to_report
from coverage.results import Analysis

from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord

EXCEPTION_DESCRIPTION = "every run raised"


@dataclass(frozen=True)
class PathStyle:
    """How ``SF:`` names a file: relative to `root`, absolute, or under `prefix`."""

    root: Path
    absolute: bool = False
    prefix: str = ""

    def name(self, filename: str) -> str:
        if self.absolute:
            return Path(filename).as_posix()
        try:
            relative = os.path.relpath(filename, self.root)
        except ValueError:  # another drive on Windows
            return Path(filename).as_posix()
        return self.prefix + Path(relative).as_posix()


def file_records(cov: Coverage, paths: PathStyle, checksums: bool = False) -> Iterator[FileRecord]:
    """Yield one record per measured file, analysing each file once.

    Files come from coverage.py's own report machinery, so `source`, `omit`,
    `include`, exclusions, `skip_empty` and unimported source files behave
    exactly as in ``coverage report``.  Records are yielded one at a time so a
    writer can stream them.
    """
    cov.get_data()  # flushes the tracer's data into the data object the reporters read
    skip_empty = bool(cov.get_option("report:skip_empty"))
    for reporter, analysis in get_analysis_to_report(cov, None):
        if skip_empty and analysis.numbers.n_statements == 0:
            continue
        yield file_record(reporter, analysis, paths.name(reporter.filename), checksums)


def file_record(reporter: FileReporter, analysis: Analysis, path: str, checksums: bool) -> FileRecord:
    """The LCOV record of one analysed file."""
    executed = set(analysis.executed)
    record = FileRecord(
        path,
        lines={line: int(line in executed) for line in sorted(analysis.statements)},
        functions=function_records(reporter, analysis),
        branches=branch_records(reporter, analysis) if analysis.has_arcs else [],
    )
    if checksums:
        record.checksums = line_checksums(reporter.filename, record.lines)
    return record


def function_records(reporter: FileReporter, analysis: Analysis) -> list[FunctionRecord]:
    """Functions with qualified names, each starting at its first body statement.

    Starting at the body, not at the ``def`` line that ran at import, keeps an
    uncalled function consistent with its line data.  A one-line function has
    no such line: only arc data can tell whether it was called, so without
    branch measurement it gets no function record at all.
    """
    regions = [r for r in reporter.code_regions() if r.kind == "function" and r.lines]
    statements = analysis.statements
    executed = set(analysis.executed)
    arcs = set(analysis.arcs_executed) if analysis.has_arcs else None
    first_statement = min(statements, default=0)
    records: list[FunctionRecord] = []
    seen: set[str] = set()
    for index, region in enumerate(regions):
        end = _region_end(region, regions[index + 1 :])
        one_line = min(region.lines) == region.start
        own = _own_statements(region, statements)
        if not own:
            continue  # wholly excluded, e.g. `# pragma: no cover`
        start = min(own)
        if one_line:
            if arcs is None or start == first_statement:
                continue  # a call cannot be told from the definition
            hits = int(any(src < 0 and dst == start for src, dst in arcs))
            end_line: int | None = None
        else:
            hits = int(bool(own & executed))
            end_line = max(end, start)
        name = region.name if region.name not in seen else f"{region.name}@{start}"
        seen.add(name)
        records.append(FunctionRecord(name, start, end_line, hits))
    return records


def _own_statements(region: CodeRegion, statements: set[int]) -> set[int]:
    """Statements that run only when this function runs.

    coverage.py's region lines begin at the first body statement's ``def`` line
    when that statement is a decorated function: its decorators belong here too.
    """
    body_start = min(region.lines)
    decorators = range(region.start + 1, body_start)
    return {line for line in statements if line in region.lines or line in decorators}


def _region_end(region: CodeRegion, later: list[CodeRegion]) -> int:
    """The last line of a function, nested functions included.

    coverage.py removes nested bodies from a region's lines; the nested
    regions follow it in the list, named under it.
    """
    end = max(region.lines)
    prefix = region.name + "."
    for other in later:
        if other.name == region.name:
            break  # a redefinition: what follows belongs to it
        if other.name.startswith(prefix) and other.lines:
            end = max(end, max(other.lines))
    return end


def branch_records(reporter: FileReporter, analysis: Analysis) -> list[BranchRecord]:
    """Every possible way out of every branch line, taken or not.

    Ways out are numbered 0..n-1 per line (exits from the function last, as
    they read like the "else"), so numeric-only readers keep them.  A line
    that ran but never left normally always raised: it gets an exception
    branch marked taken, the form LCOV defines for this.
    """
    executed_arcs = analysis.executed_branch_arcs()
    missing_arcs = analysis.missing_branch_arcs()
    missing_lines = analysis.missing
    records: list[BranchRecord] = []
    for line in sorted(analysis.branch_stats()):
        line_ran = line not in missing_lines
        taken_dests = set(executed_arcs.get(line, ()))
        dests = sorted(taken_dests | set(missing_arcs.get(line, ())), key=lambda d: (d < 0, d))
        for number, dest in enumerate(dests):
            taken = int(dest in taken_dests) if line_ran else None
            records.append(BranchRecord(line, 0, number, taken, reporter.arc_description(line, dest)))
        if line_ran and not taken_dests:
            records.append(BranchRecord(line, 0, len(dests), 1, EXCEPTION_DESCRIPTION, exception=True))
    return records


def line_checksums(filename: str, lines: dict[int, int]) -> dict[int, str]:
    """MD5 of each measured line's bytes, as geninfo and ``genhtml --checksum`` compute it.

    geninfo hashes the raw bytes of the line without its newline, so this
    reads the file as bytes: a latin-1 source hashes as latin-1.
    """
    raw_lines = Path(filename).read_bytes().split(b"\n")
    sums = {}
    for line in lines:
        text = raw_lines[line - 1] if line <= len(raw_lines) else b""
        digest = hashlib.md5(text, usedforsecurity=False).digest()
        sums[line] = base64.b64encode(digest).decode("ascii").rstrip("=")
    return sums
