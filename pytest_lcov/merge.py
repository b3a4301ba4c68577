"""Adding LCOV tracefiles together as ``lcov -a`` does, without needing lcov.

CI jobs that split a test suite (by Python version, by shard) each write a
tracefile; uploaders and genhtml want one.  This module is pure: tracefile
text in, tracefile text out, no coverage.py, so it runs wherever the files are.

What ``lcov -a`` (1.16 and 2.x alike) does, and so what this does:

* records of one source file under one test name add up: line, function and
  branch counts are added, functions matched by name, branches by
  (line, block, branch), a ``-`` branch adds as nothing;
* each test name keeps its own section: per source file, one ``TN:`` + ``SF:``
  section per test name, files and test names in sorted order;
* test names read as lcov reads them: up to the first comma, every byte that
  is not a letter, digit or ``_`` turned into ``_``;
* a section with no line data is dropped, and an input with no line data at
  all is refused;
* lcov 2.2's MC/DC records (``MCDC:``) are read and left out, as ``lcov -a``
  2.3.1 leaves them out unless given ``--mcdc-coverage``.  coverage.py
  measures no MC/DC, the compat dialect has no such record, and lcov adds
  them only under rules of its own (groups by size, expressions by index);
  the caller is told how many were left out, so that none go missing unseen.

A count summed past 2**64 - 1 is written as 2**64 - 1 (lcov writes a float,
which no parser reads as a count): the merged file must read back.

With a `rename` function (coverage.py's ``[paths]`` aliases, see
coverage_settings.path_aliases), each ``SF:`` path is renamed as it is read,
so the same file measured in another place (a tox environment's
site-packages, another CI machine) adds up with its record elsewhere.

Two inputs that disagree about a source (a function at other lines, a line
with another checksum) are refused rather than added into nonsense.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, TextIO

from pytest_lcov.model import FileRecord, MergeConflict, RecordSum, Totals, merge_records
from pytest_lcov.tracefile import (
    DEFAULT_DIALECT,
    MAX_NUMBER,
    LcovParseError,
    ParsedRecord,
    format_record,
    iter_parse,
)


def lcov_test_name(raw: str) -> str:
    """The name lcov files a ``TN:`` value under.

    lcov reads up to the first comma and replaces each non-word byte of the
    UTF-8 text (Perl's ``\\W`` on bytes) with ``_``; an empty name stays empty.
    """
    name = raw.split(",", 1)[0].encode("utf-8")
    return re.sub(rb"\W", b"_", name).decode("ascii")


class _NumberedLines:
    """A tracefile's lines, decoded one at a time, remembering where we are.

    Reading bytes and decoding each line gives a bad byte its line number;
    `section_line` is the line of the last ``SF:``, which names the section
    a conflict came from.  A UTF-8 byte order mark before the first line is
    dropped here, so that an ``SF:`` right after it is seen as one.
    """

    def __init__(self, handle: BinaryIO, source: str) -> None:
        self._handle = handle
        self.source = source
        self.lineno = 0
        self.section_line = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._handle:
            self.lineno += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8 text (byte {exc.start + 1} of the line)"
                raise LcovParseError(self.lineno, reason, self.source) from None
            if self.lineno == 1:
                line = line.removeprefix("\ufeff")
            if line.startswith(("SF:", "KF:")):
                self.section_line = self.lineno
            yield line


@dataclass(frozen=True)
class Added:
    """What one input held: its test names (as lcov files them), and how many branch records."""

    test_names: frozenset[str]
    branch_records: int


@dataclass
class _FileSums:
    """One source file's sums: all sections together, and each test's own."""

    total: RecordSum
    first_seen: str
    tests: dict[str, RecordSum] = field(default_factory=dict)


class TracefileMerge:
    """Tracefiles added one by one, then written out as one.

    The inputs are read line by line; only the sums are held, as lcov does.
    `keep_empty` keeps the sections without lines that lcov drops (an empty
    ``__init__.py``): --lcov-append lists the files a run of pytest-lcov lists.
    """

    def __init__(self, rename: Callable[[str], str] | None = None, keep_empty: bool = False) -> None:
        self._files: dict[str, _FileSums] = {}
        self.mcdc_left_out = 0
        self._rename = rename
        self._keep_empty = keep_empty
        self.renamed: set[tuple[str, str]] = set()  # (as read, as written) of each renamed path

    def add_file(self, path: Path) -> Added:
        """Add one tracefile; return what it held, for a caller that must check it (--lcov-append).

        Raises OSError if it cannot be read, LcovParseError (``file:line:
        reason``) if it is not LCOV, MergeConflict if it contradicts an
        earlier input.  On an error the merge holds part of the file: discard it.
        """
        names: set[str] = set()
        branches = 0
        with path.open("rb") as handle:
            lines = _NumberedLines(handle, str(path))
            has_lines = False
            for parsed in iter_parse(lines, lines.source):
                has_lines = has_lines or bool(parsed.record.lines)
                names.add(lcov_test_name(parsed.test_name))
                branches += len(parsed.record.branches)
                self._add(parsed, f"{lines.source}:{lines.section_line}")
        if not has_lines:
            reason = "no SF section with DA lines: empty, or not a tracefile"
            raise LcovParseError(max(lines.lineno, 1), reason, lines.source)
        return Added(frozenset(names), branches)

    def records(self) -> Iterator[FileRecord]:
        """Each source file's sum over all its sections, in sorted order."""
        for path in sorted(self._files):
            yield self._files[path].total.result()

    def _add(self, parsed: ParsedRecord, where: str) -> None:
        self.mcdc_left_out += len(parsed.mcdc)
        record = parsed.record
        if self._rename is not None and (path := self._rename(record.path)) != record.path:
            self.renamed.add((record.path, path))
            record = replace(record, path=path)
        sums = self._files.get(record.path)
        if sums is None:
            sums = self._files[record.path] = _FileSums(RecordSum(record.path), where)
        test_sum = sums.tests.setdefault(lcov_test_name(parsed.test_name), RecordSum(record.path))
        try:
            # The file's total catches conflicts between sections of different tests too.
            sums.total.add(record)
            test_sum.add(record)
        except MergeConflict as exc:
            raise MergeConflict(f"{where}: {exc} (first read at {sums.first_seen})") from None

    def sections(self, path: str) -> Iterator[tuple[str, FileRecord]]:
        """One file's (test name, record) pairs in lcov's order, sections without lines dropped.

        Unless `keep_empty`: see the class.
        """
        tests = self._files[path].tests
        for name in sorted(tests):
            record = tests[name].result()
            if record.lines or self._keep_empty:
                yield name, record

    def write(self, out: TextIO, dialect: str = DEFAULT_DIALECT) -> Totals:
        """Write the merged tracefile; return its totals as ``lcov --summary`` counts them.

        A file's totals are those of its sections added together: a line is
        hit when any test hit it.
        """
        totals = Totals()
        for path in sorted(self._files):
            sections = list(self.sections(path))
            for name, record in sections:
                out.write(f"TN:{name}\n")
                out.write(format_record(_capped(record), dialect))
            if len(sections) == len(self._files[path].tests):
                totals += self._files[path].total.result().totals()
            elif sections:  # a section without lines was dropped: count what was written
                totals += merge_records(record for _, record in sections).totals()
        return totals


def _capped(record: FileRecord) -> FileRecord:
    """`record` with each count above MAX_NUMBER written as MAX_NUMBER.

    Each input count is at most MAX_NUMBER, but their sum may not be; hit or
    not stays as it was, and the merged file stays one the parser reads back.
    """
    counts = [*record.lines.values(), *(fn.hits for fn in record.functions)]
    counts += [br.taken for br in record.branches if br.taken is not None]
    if max(counts, default=0) <= MAX_NUMBER:
        return record
    return FileRecord(
        record.path,
        lines={line: min(count, MAX_NUMBER) for line, count in record.lines.items()},
        functions=[replace(fn, hits=min(fn.hits, MAX_NUMBER)) for fn in record.functions],
        branches=[replace(br, taken=br.taken and min(br.taken, MAX_NUMBER)) for br in record.branches],
        checksums=record.checksums,
    )
