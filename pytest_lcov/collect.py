"""coverage.py's analysis of each measured file, turned into LCOV file records.

coverage.py does the measuring, parsing, exclusion and path handling; this
module only decides how its statements, code regions and arcs map onto LCOV's
lines, functions and branches.  Each file is analysed once into a FileShape
(what the file holds); records are then built from the hits of the whole run
or of one test.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from coverage import CoverageData
from coverage.plugin import CodeRegion, FileReporter

from pytest_lcov.analysis import Analysis, SourceReporter
from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord

EXCEPTION_DESCRIPTION = "every run raised"
Arc = tuple[int, int]


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


@dataclass(frozen=True)
class FunctionShape:
    """A function as LCOV sees it: `own` are the statements only its calls run."""

    name: str
    start: int
    end: int | None
    own: frozenset[int]
    one_line: bool


@dataclass(frozen=True)
class Hits:
    """What ran, in coverage.py's reported line numbers; `arcs` is None without branch data."""

    lines: frozenset[int]
    arcs: frozenset[Arc] | None


@dataclass(frozen=True)
class FileShape:
    """What one measured file holds, whatever ran: statements, functions, branch ways."""

    path: str
    statements: tuple[int, ...]
    functions: tuple[FunctionShape, ...]
    branch_ways: dict[int, tuple[tuple[int, str], ...]]
    raising_lines: frozenset[int]
    checksums: dict[int, str]


def modified_since(filename: str, since: float | None) -> bool:
    """Whether `filename` changed after `since`: its line data may then not fit its source."""
    if since is None:
        return False
    try:
        return os.stat(filename).st_mtime > since
    except OSError:  # inside a zip file, or gone: the analysis has said what it could
        return False


def file_shape(reporter: FileReporter, analysis: Analysis, path: str, checksums: bool) -> FileShape:
    statements = tuple(sorted(analysis.statements))
    branch_ways = branch_ways_of(reporter, analysis) if analysis.has_arcs else {}
    executed_arcs = analysis.executed_branch_arcs() if analysis.has_arcs else {}
    raising = frozenset(
        line for line in branch_ways if line not in analysis.missing and not executed_arcs.get(line)
    )
    return FileShape(
        path=path,
        statements=statements,
        functions=tuple(function_shapes(reporter, analysis)),
        branch_ways=branch_ways,
        raising_lines=raising,
        checksums=line_checksums(source_bytes(reporter), statements) if checksums else {},
    )


def run_hits(analysis: Analysis) -> Hits:
    """The whole run's hits, as coverage.py analysed them."""
    arcs = frozenset(analysis.arcs_executed) if analysis.has_arcs else None
    return Hits(frozenset(analysis.executed), arcs)


def function_shapes(reporter: FileReporter, analysis: Analysis) -> Iterator[FunctionShape]:
    """Functions with qualified names, each starting at its first body statement.

    Starting at the body, not at the ``def`` line that ran at import, keeps an
    uncalled function consistent with its line data.  A one-line function has
    no such line: only arc data can tell whether it was called, so without
    branch measurement it gets no function record at all, and it is written
    without an end line so that lcov 2 does not read the import as a call.
    """
    regions = [r for r in reporter.code_regions() if r.kind == "function" and r.lines]
    statements = analysis.statements
    first_statement = min(statements, default=0)
    seen: set[str] = set()
    for index, region in enumerate(regions):
        own = _own_statements(region, statements)
        if not own:
            continue  # wholly excluded, e.g. `# pragma: no cover`
        start = min(own)
        one_line = min(region.lines) == region.start
        if one_line and (not analysis.has_arcs or start == first_statement):
            # Without arcs, or where the module's own entry arc looks the same,
            # a call cannot be told from the definition.
            continue
        end = None if one_line else max(_region_end(region, regions[index + 1 :]), start)
        name = region.name if region.name not in seen else f"{region.name}@{start}"
        seen.add(name)
        yield FunctionShape(name, start, end, frozenset(own), one_line)


def _own_statements(region: CodeRegion, statements: set[int]) -> set[int]:
    """Statements that run only when this function runs.

    coverage.py's region lines begin at the first body statement's ``def`` line
    when that statement is a decorated function: its decorators belong here too.
    """
    decorators = range(region.start + 1, min(region.lines))
    return {line for line in region.lines if line in statements} | {
        line for line in decorators if line in statements
    }


def _region_end(region: CodeRegion, later: list[CodeRegion]) -> int:
    """The last line of a function, nested functions included.

    coverage.py removes nested bodies from a region's lines; the nested
    regions come right after it in the list, named under it.
    """
    end = max(region.lines)
    prefix = region.name + "."
    for other in later:
        if not other.name.startswith(prefix):
            break
        end = max(end, max(other.lines, default=end))
    return end


def branch_ways_of(reporter: FileReporter, analysis: Analysis) -> dict[int, tuple[tuple[int, str], ...]]:
    """Every possible way out of every branch line, with coverage.py's description.

    Exits from the function sort last: they read like the "else".
    """
    executed = analysis.executed_branch_arcs()
    missing = analysis.missing_branch_arcs()
    ways = {}
    for line in sorted(analysis.branch_stats()):
        dests = sorted(set(executed.get(line, ())) | set(missing.get(line, ())), key=lambda d: (d < 0, d))
        ways[line] = tuple((dest, reporter.arc_description(line, dest)) for dest in dests)
    return ways


def build_record(shape: FileShape, hits: Hits, only_reached: bool = False) -> FileRecord:
    """The LCOV record of one file for `hits`.

    With `only_reached`, the record holds only what those hits reached, as a
    per-test section does; otherwise every statement, function and branch.
    """
    lines = {line: int(line in hits.lines) for line in shape.statements}
    if only_reached:
        lines = {line: 1 for line, count in lines.items() if count}
    record = FileRecord(shape.path, lines=lines, functions=[], branches=[])
    for fn in shape.functions:
        if fn.one_line:
            hit = hits.arcs is not None and any(src < 0 and dst == fn.start for src, dst in hits.arcs)
        else:
            hit = bool(fn.own & hits.lines)
        if hit or not only_reached:
            record.functions.append(FunctionRecord(fn.name, fn.start, fn.end, int(hit)))
    record.branches = list(_branches(shape, hits, only_reached))
    record.checksums = {line: shape.checksums[line] for line in lines if line in shape.checksums}
    return record


def _branches(shape: FileShape, hits: Hits, only_reached: bool) -> Iterator[BranchRecord]:
    """Ways out numbered 0..n-1 per line, so numeric-only readers keep them.

    A line that never ran has its ways as LCOV's ``-``.  A line whose every
    run raised gets one more, an exception branch, taken: LCOV's form for it.
    """
    arcs = hits.arcs or frozenset()
    for line, ways in shape.branch_ways.items():
        line_ran = line in hits.lines
        if only_reached and not line_ran:
            continue
        for number, (dest, description) in enumerate(ways):
            taken = int((line, dest) in arcs) if line_ran else None
            yield BranchRecord(line, 0, number, taken, description)
        if line in shape.raising_lines:
            yield BranchRecord(
                line, 0, len(ways), 1 if line_ran else None, EXCEPTION_DESCRIPTION, exception=True
            )


def context_hits(data: CoverageData, reporter: FileReporter, has_arcs: bool) -> dict[str, Hits]:
    """Each recorded context's hits in one file, in reported line numbers.

    One query finds which contexts touched which lines; with branch data, each
    of those contexts then gets its arcs, so the cost follows the data.
    """
    filename = reporter.filename
    by_context: dict[str, set[int]] = {}
    for line, contexts in data.contexts_by_lineno(filename).items():
        for context in contexts:
            by_context.setdefault(context, set()).add(line)
    hits = {}
    for context, raw_lines in by_context.items():
        arcs: frozenset[Arc] | None = None
        if has_arcs:
            data.set_query_context(context)
            try:
                raw_arcs = data.arcs(filename) or []
            finally:
                data.set_query_contexts(None)
            arcs = frozenset(reporter.translate_arcs(raw_arcs))
        hits[context] = Hits(frozenset(reporter.translate_lines(raw_lines)), arcs)
    return hits


def source_bytes(reporter: FileReporter) -> bytes:
    """The bytes the analysis was made from (read again only for other file reporters)."""
    if isinstance(reporter, SourceReporter):
        return reporter.source_text.raw
    return Path(reporter.filename).read_bytes()


def line_checksums(raw: bytes, lines: Iterable[int]) -> dict[int, str]:
    """MD5 of each measured line's bytes, as geninfo and ``genhtml --checksum`` compute it.

    geninfo hashes the raw bytes of the line without its line ending (genhtml
    strips a trailing carriage return before comparing), so this works on
    bytes: a latin-1 source hashes as latin-1, a CRLF one as its LF lines.
    """
    raw_lines = raw.split(b"\n")
    sums = {}
    for line in lines:
        text = raw_lines[line - 1].removesuffix(b"\r") if line <= len(raw_lines) else b""
        digest = hashlib.md5(text, usedforsecurity=False).digest()
        sums[line] = base64.b64encode(digest).decode("ascii").rstrip("=")
    return sums
