"""The in-memory LCOV model: what one tracefile section says about one source file.

The model knows nothing of coverage.py or of the text format, so building records (records.py),
the writer and the parser can each be read and tested alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace

from pytest_lcov import PytestLcovError


@dataclass(frozen=True)
class FunctionRecord:
    """One function: `start` is its first body line, `end` its last line.

    `end` is None when it is unknown or must not be written: LCOV 2 checks a
    function's hit count against every line in [start, end], which a one-line
    Python function cannot satisfy (its only line also ran at import).
    """

    name: str
    start: int
    end: int | None
    hits: int


@dataclass(frozen=True)
class BranchRecord:
    """One way out of a branch line.

    `taken` is None when the line never ran (LCOV's `-`).  An `exception`
    branch stands for a line whose every run raised: it is the one taken way
    out, so LCOV 2 does not see a run line with no branch evaluated.
    """

    line: int
    block: int
    branch: int
    taken: int | None
    description: str = ""
    exception: bool = False


@dataclass
class Totals:
    """Found and hit counts, as LCOV's LF/LH, FNF/FNH and BRF/BRH add them up."""

    lines_found: int = 0
    lines_hit: int = 0
    functions_found: int = 0
    functions_hit: int = 0
    branches_found: int = 0
    branches_hit: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.lines_found + other.lines_found,
            self.lines_hit + other.lines_hit,
            self.functions_found + other.functions_found,
            self.functions_hit + other.functions_hit,
            self.branches_found + other.branches_found,
            self.branches_hit + other.branches_hit,
        )


@dataclass
class FileRecord:
    """Everything one section of a tracefile says about one source file."""

    path: str
    lines: dict[int, int] = field(default_factory=dict)
    functions: list[FunctionRecord] = field(default_factory=list)
    branches: list[BranchRecord] = field(default_factory=list)
    checksums: dict[int, str] = field(default_factory=dict)

    def totals(self) -> Totals:
        return Totals(
            lines_found=len(self.lines),
            lines_hit=sum(1 for count in self.lines.values() if count > 0),
            functions_found=len(self.functions),
            functions_hit=sum(1 for f in self.functions if f.hits > 0),
            branches_found=len(self.branches),
            branches_hit=sum(1 for b in self.branches if b.taken),
        )


def percent(hit: int, found: int) -> str:
    """Format a rate exactly as `lcov --summary` and genhtml do.

    One decimal, but never 0.0% when something was hit nor 100.0% when
    something was missed, so that our numbers read the same as theirs.
    """
    if found == 0:
        return "-"
    rate = f"{hit * 100 / found:.1f}"
    if float(rate) == 0 and hit > 0:
        return "0.1"
    if float(rate) == 100 and hit != found:
        return "99.9"
    return rate


class MergeConflict(PytestLcovError, ValueError):
    """Two records of one file that cannot be added together."""


def _add_taken(a: int | None, b: int | None) -> int | None:
    # LCOV's "-" (never evaluated) adds as nothing.
    if a is None:
        return b
    if b is None:
        return a
    return a + b


class RecordSum:
    """A running ``lcov -a`` sum of records of one source file, added one at a time.

    Adding costs the size of the record added, not of the sum so far, so a file
    reached by thousands of per-test sections still merges in linear time; and
    a conflict is raised by the very `add` that brings it, so a caller knows
    which input it came from.  After a MergeConflict the sum is part-added:
    discard it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lines: dict[int, int] = {}
        self._checksums: dict[int, str] = {}
        self._functions: dict[str, FunctionRecord] = {}
        # The first record of each way out, and its taken count so far: a record is
        # rebuilt once, in result(), not once per record added.
        self._branches: dict[tuple[int, int, int, bool], BranchRecord] = {}
        self._taken: dict[tuple[int, int, int, bool], int | None] = {}

    def add(self, record: FileRecord) -> None:
        """Add `record`'s counts; MergeConflict if it describes another source."""
        if record.path != self.path:
            raise MergeConflict(f"cannot merge records of {self.path!r} and {record.path!r}")
        for line, count in record.lines.items():
            self._lines[line] = self._lines.get(line, 0) + count
        for line, checksum in record.checksums.items():
            known = self._checksums.setdefault(line, checksum)
            if known != checksum:
                raise MergeConflict(f"{record.path}: line {line} has two checksums: the sources differ")
        for fn in record.functions:
            self._add_function(fn)
        for br in record.branches:
            key = (br.line, br.block, br.branch, br.exception)
            if key in self._branches:
                self._taken[key] = _add_taken(self._taken[key], br.taken)
            else:
                self._branches[key] = br
                self._taken[key] = br.taken

    def _add_function(self, fn: FunctionRecord) -> None:
        # Matched by name, as lcov does; an unknown end line matches any.
        seen = self._functions.get(fn.name)
        if seen is None:
            self._functions[fn.name] = fn
            return
        if seen.start != fn.start or (seen.end and fn.end and seen.end != fn.end):
            raise MergeConflict(
                f"{self.path}: function {fn.name!r} is at {_span(seen)} in one record and at "
                f"{_span(fn)} in another: the sources differ"
            )
        self._functions[fn.name] = FunctionRecord(fn.name, fn.start, seen.end or fn.end, seen.hits + fn.hits)

    def result(self) -> FileRecord:
        """The sum as one record, in the order the writer and lcov use."""
        return FileRecord(
            self.path,
            lines=dict(sorted(self._lines.items())),
            functions=sorted(self._functions.values(), key=lambda f: (f.start, f.name)),
            branches=sorted(
                (
                    br if br.taken == self._taken[key] else replace(br, taken=self._taken[key])
                    for key, br in self._branches.items()
                ),
                key=lambda b: (b.line, b.exception, b.block, b.branch),
            ),
            checksums=dict(self._checksums),
        )


def _span(fn: FunctionRecord) -> str:
    return f"lines {fn.start}-{fn.end}" if fn.end else f"line {fn.start}"


def merge_records(records: Iterable[FileRecord]) -> FileRecord:
    """Add records of one source file as ``lcov -a`` does.

    Line, function and branch counts add up; functions are matched by name
    and branches by (line, block, branch, exception).  A function whose start
    line differs between records, or a line whose checksum differs, means the
    records describe different sources: MergeConflict says which.
    """
    total: RecordSum | None = None
    for record in records:
        if total is None:
            total = RecordSum(record.path)
        total.add(record)
    if total is None:
        raise ValueError("merge_records needs at least one record")
    return total.result()


def format_totals(totals: Totals) -> str:
    """Each measured metric as hit/found (percent), as ``lcov --summary`` rounds it.

    Lines are always named; functions and branches only when the file has
    any, so a run without branch measurement does not claim "0 of 0".
    """
    metrics = [
        ("lines", totals.lines_hit, totals.lines_found),
        ("functions", totals.functions_hit, totals.functions_found),
        ("branches", totals.branches_hit, totals.branches_found),
    ]
    return ", ".join(
        f"{name} {hit}/{found} ({percent(hit, found)}%)" if found else f"{name} 0/0"
        for name, hit, found in metrics
        if found or name == "lines"
    )


@dataclass(frozen=True)
class FileRow:
    """One file in a summary (the terminal table, the job summary): path, totals, missed lines."""

    path: str
    totals: Totals
    missing: str


# Line ranges, as the reports write them ------------------------------------------------------


def line_spans(lines: Iterable[int], statements: Collection[int] | None = None) -> list[tuple[int, int]]:
    """Sorted `lines` grouped into (first, last) runs.

    Without `statements`, a run is consecutive numbers.  With them, a run
    goes on across lines that are not statements, as coverage.py's missing
    ranges do: 4 and 6 make ``4-6`` when line 5 is a comment.
    """
    wanted = sorted(set(lines))
    if not wanted:
        return []
    if statements is None:
        return _runs(wanted, lambda previous, line: line == previous + 1)
    ordered = sorted(statements)
    position = {line: index for index, line in enumerate(ordered)}

    def follows(previous: int, line: int) -> bool:
        a, b = position.get(previous), position.get(line)
        return line == previous + 1 or (a is not None and b is not None and b == a + 1)

    return _runs(wanted, follows)


def _runs(lines: list[int], follows: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = previous = lines[0]
    for line in lines[1:]:
        if not follows(previous, line):
            spans.append((start, previous))
            start = line
        previous = line
    spans.append((start, previous))
    return spans


def format_spans(spans: Iterable[tuple[int, int]], separator: str = ",") -> str:
    """``4-5,9`` from [(4, 5), (9, 9)]; with ``separator=", "`` as coverage.py's reports write it."""
    return separator.join(str(first) if first == last else f"{first}-{last}" for first, last in spans)


def format_ranges(
    lines: Iterable[int], statements: Collection[int] | None = None, separator: str = ","
) -> str:
    """Line numbers as ranges, ``4-5,9`` (compact, for lists split at spaces) or ``4-5, 9``.

    With `statements`, the same text as coverage.py's ``format_lines`` for the
    missing lines of a file, so the table and the diff name one range alike.
    """
    return format_spans(line_spans(lines, statements), separator)
