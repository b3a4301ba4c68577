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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coverage import CoverageData
from coverage.plugin import CodeRegion, FileReporter

from pytest_lcov.coverage_internals import Analysis, SourceReporter, context_arcs
from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord

EXCEPTION_DESCRIPTION = "every run raised"
Arc = tuple[int, int]


@dataclass(frozen=True)
class PathStyle:
    """How ``SF:`` names a file: relative to `root` (absolute outside it), absolute, or under `prefix`."""

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
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            # Outside the root (coverage.py measures whatever ran when no `source` is set):
            # absolute, as coverage.py's own report names it, not a climb out of the project.
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
    parent_start: int = 1  # first line of the code that runs the ``def``: 1 for a module


@dataclass(frozen=True)
class Hits:
    """What ran, in coverage.py's reported line numbers; `arcs` is None without branch data."""

    lines: frozenset[int]
    arcs: frozenset[Arc] | None


@dataclass(frozen=True)
class FileShape:
    """What one measured file holds, whatever ran: statements, functions, branch ways.

    Function and branch records are immutable, so the records built from one
    shape share them: a file reached by thousands of tests holds each
    function's and each way out's few possible records once, not once a test.
    """

    path: str
    statements: tuple[int, ...]
    functions: tuple[FunctionShape, ...]
    branch_ways: dict[int, tuple[tuple[int, str], ...]]
    raising_lines: frozenset[int]
    checksums: dict[int, str]
    _functions: dict[tuple[str, int], FunctionRecord] = field(default_factory=dict, compare=False, repr=False)
    _branches: dict[tuple[int, int, int | None], BranchRecord] = field(
        default_factory=dict, compare=False, repr=False
    )

    def function_record(self, fn: FunctionShape, hits: int) -> FunctionRecord:
        key = (fn.name, hits)  # names are unique within a file
        record = self._functions.get(key)
        if record is None:
            record = self._functions[key] = FunctionRecord(fn.name, fn.start, fn.end, hits)
        return record

    def branch_record(self, line: int, number: int, taken: int | None) -> BranchRecord:
        """The record of way `number` out of `line` (the exception branch when it is one past the ways)."""
        key = (line, number, taken)
        record = self._branches.get(key)
        if record is None:
            ways = self.branch_ways[line]
            if number < len(ways):
                record = BranchRecord(line, 0, number, taken, ways[number][1])
            else:
                record = BranchRecord(line, 0, number, taken, EXCEPTION_DESCRIPTION, exception=True)
            self._branches[key] = record
        return record


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
    all_regions = list(reporter.code_regions())
    regions = [r for r in all_regions if r.kind == "function" and r.lines]
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
        parent = _parent_start(region, all_regions)
        yield FunctionShape(name, start, end, frozenset(own), one_line, parent)


def _parent_start(region: CodeRegion, regions: Iterable[CodeRegion]) -> int:
    """The ``def`` or ``class`` line of the code that runs `region`'s ``def`` (1: the module).

    That code's own exit arcs can leave from the ``def`` line too (when it is
    its last statement); they end at its first line or above, never below.
    """
    return max(
        (other.start for other in regions if other.start < region.start and region.start in other.lines),
        default=1,
    )


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


@dataclass(frozen=True)
class RecordCounts:
    """How many times things ran, where a record shows more than 0/1 (``lcov_counts = "executions"``).

    By statement line, by function start line, by branch way (line,
    destination); anything not named keeps 0/1.  The counts must agree with
    the hits on what ran at all (pytest_lcov.executions checks that).
    """

    lines: dict[int, int]
    functions: dict[int, int]
    ways: dict[Arc, int]


def function_hits(shape: FileShape, hits: Hits) -> Iterator[tuple[FunctionShape, bool]]:
    """Each function of `shape`, and whether it ran in `hits`, as its record says.

    A function ran when one of its own lines did.  A one-line function has no
    line of its own: its call shows only in arcs, and each of coverage.py's
    cores records other ones (see called_one_liners).
    """
    called: set[int] = set()
    if hits.arcs is not None and any(fn.one_line for fn in shape.functions):
        called = called_one_liners(
            hits.arcs, {fn.start: fn.parent_start for fn in shape.functions if fn.one_line}
        )
    for fn in shape.functions:
        yield fn, fn.start in called if fn.one_line else not fn.own.isdisjoint(hits.lines)


def called_one_liners(arcs: Iterable[Arc], parents: Mapping[int, int]) -> set[int]:
    """Which one-line functions ran, from `parents` (def line -> its parent's first line).

    The settrace cores (``ctrace``, ``pytrace``) record the entry arc
    ``(-first, def)`` of every call and the exit ``(def, -first)`` of every
    return or raise; ``sysmon`` records no entry arc (its line events give
    ``(def, def)``, which the import gives too) and exits of returns only.
    The exit arc is the one they share.  Its code's first line is the ``def``
    line or a decorator above it, always below the parent's first line: the
    parent's own exit from the ``def`` line ends at or above that.
    """
    called = set()
    for src, dst in arcs:
        if src < 0 and dst in parents:  # an entry arc (settrace cores)
            called.add(dst)
        elif dst < 0 and src in parents and parents[src] < -dst <= src:  # an exit arc (every core)
            called.add(src)
    return called


def build_record(
    shape: FileShape, hits: Hits, only_reached: bool = False, record_counts: RecordCounts | None = None
) -> FileRecord:
    """The LCOV record of one file for `hits`.

    With `only_reached`, the record holds only what those hits reached, as a
    per-test section does; otherwise every statement, function and branch.
    With `record_counts`, what they count replaces the 0/1 of what ran.
    """
    ran = hits.lines
    if only_reached:
        lines = {line: 1 for line in shape.statements if line in ran}
    else:
        lines = {line: int(line in ran) for line in shape.statements}
    if record_counts is not None:
        lines.update((line, count) for line, count in record_counts.lines.items() if line in lines)
    functions = []
    for fn, hit in function_hits(shape, hits):
        if hit or not only_reached:
            times = record_counts.functions.get(fn.start, int(hit)) if record_counts is not None else int(hit)
            functions.append(shape.function_record(fn, times))
    record = FileRecord(shape.path, lines=lines, functions=functions, branches=[])
    record.branches = list(_branches(shape, hits, only_reached, record_counts))
    if shape.checksums:
        record.checksums = {line: shape.checksums[line] for line in lines if line in shape.checksums}
    return record


def _branches(
    shape: FileShape, hits: Hits, only_reached: bool, record_counts: RecordCounts | None = None
) -> Iterator[BranchRecord]:
    """Ways out numbered 0..n-1 per line, so numeric-only readers keep them.

    A line that never ran has its ways as LCOV's ``-``.  A line whose every
    run raised gets one more, an exception branch, taken: LCOV's form for it.
    """
    arcs = hits.arcs or frozenset()
    for line, ways in shape.branch_ways.items():
        line_ran = line in hits.lines
        if only_reached and not line_ran:
            continue
        for number, (dest, _) in enumerate(ways):
            taken = int((line, dest) in arcs) if line_ran else None
            if taken is not None and record_counts is not None:
                taken = record_counts.ways.get((line, dest), taken)
            yield shape.branch_record(line, number, taken)
        if line in shape.raising_lines:
            yield shape.branch_record(line, len(ways), 1 if line_ran else None)


def context_hits(data: CoverageData, reporter: FileReporter, has_arcs: bool) -> ContextHits:
    """Each recorded context's hits in one file, in reported line numbers (see ContextHits)."""
    return ContextHits(data, reporter, has_arcs)


class ContextHits(Mapping[str, Hits]):
    """Each recorded context's hits in one file, read from the data as each is asked for.

    One query finds which contexts touched which lines.  With branch data, a
    context's arcs (and the lines they join) are queried when its hits are
    read, and not kept: a file that thousands of tests reached then holds one
    test's arcs at a time, not every test's at once.  Read each context once.
    """

    def __init__(self, data: CoverageData, reporter: FileReporter, has_arcs: bool) -> None:
        self._data = data
        self._reporter = reporter
        self._has_arcs = has_arcs
        # With branch data, every context's arcs from one query when the data allows it.
        self._arcs = context_arcs(data, reporter.filename) if has_arcs else None
        # Raw line numbers per context; with branch data, only which contexts (lines come from arcs).
        self._lines: dict[str, list[int]] = {}
        if self._arcs is not None:
            # The contexts contexts_by_lineno would name: those that reached a line.
            self._lines = {context: [] for context, flat in self._arcs.items() if max(flat) > 0}
            return
        for line, contexts in data.contexts_by_lineno(reporter.filename).items():
            for context in contexts:
                lines = self._lines.get(context)
                if lines is None:
                    lines = self._lines[context] = []
                if not has_arcs:
                    lines.append(line)

    def __getitem__(self, context: str) -> Hits:
        raw_lines: Iterable[int] = self._lines[context]
        reporter = self._reporter
        if not self._has_arcs:
            return Hits(frozenset(reporter.translate_lines(raw_lines)), None)
        raw_arcs: list[Arc]
        if self._arcs is not None:
            flat = self._arcs[context]
            raw_arcs = list(zip(flat[::2], flat[1::2], strict=True))
        else:
            data = self._data
            data.set_query_context(context)
            try:
                raw_arcs = data.arcs(reporter.filename) or []
            finally:
                data.set_query_contexts(None)
        raw_lines = {line for arc in raw_arcs for line in arc if line > 0}
        return Hits(
            frozenset(reporter.translate_lines(raw_lines)), frozenset(reporter.translate_arcs(raw_arcs))
        )

    def __contains__(self, context: object) -> bool:
        return context in self._lines  # without reading the context's hits, as Mapping's would

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def pop(self, context: str, default: Hits) -> Hits:
        """The hits of `context`, which is then no longer in the mapping; `default` when it is not."""
        if context not in self._lines:
            return default
        hits = self[context]
        del self._lines[context]
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
