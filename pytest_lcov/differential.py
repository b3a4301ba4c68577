"""Differential coverage, as lcov 2.x's genhtml computes it: every line, branch and function in a category.

genhtml (``--baseline-file BASE.info --diff-file change.diff current.info``)
compares a baseline tracefile with the current one through a unified diff of
the sources, and sorts what it finds into twelve categories (lcov's "TLAs"):
UNC/GNC new code not covered/covered, LBC covered code that lost its
coverage, UIC/GIC code measured now but not in the baseline, UBC/GBC/CBC
unchanged code 0=>0, 0=>1, 1=>1, EUB/ECB code that is no longer code, and
DUB/DCB deleted code.  This module computes the same counts from the model,
without pytest, coverage.py or Perl, so that the plugin can print them and
gate on them; tests/test_differential.py runs genhtml 2.3.1 on the same
inputs and checks that the counts are equal.

The rules are genhtml 2.3.1's own.  Places are given as ``genhtml:LINE`` for
``/usr/bin/genhtml`` and ``lcovutil.pm:LINE`` for ``/usr/lib/lcov/lcovutil.pm``
of the Debian package lcov 2.3.1-1 (as ``.ci/install-lcov`` unpacks it).

Where this module differs from genhtml, on purpose:

- The diff is read as git writes it: a hunk ends when its header's line
  counts are used up, so a removed line reading ``-- x`` or an added one
  reading ``++ x`` is a line of the hunk, where genhtml (DiffMap::_read_udiff,
  genhtml:3925) would take it for a file header.  A hunk header without
  counts (``@@ -3 +3 @@``, git's way of writing one line) counts one line;
  genhtml's pattern (genhtml:4056) needs both counts and skips such a header.
  ``genhtml_diff`` writes every header with its counts, so genhtml and this
  module read its output alike.
- Quoted names (``"a/t\\303\\251.py"``) are unquoted and git's ``a/`` and ``b/``
  prefixes are dropped in sections that start with ``diff --git a/``;
  genhtml takes a name as the rest of the line.  ``genhtml_diff`` writes the
  tracefiles' own names, unquoted and without prefixes.
- A renamed file without hunks (``rename from``/``rename to`` only) is paired
  with its old name; genhtml reads only ``---``/``+++`` lines, and
  ``genhtml_diff`` writes them for such a file too.
- A current file missing from the baseline is compared with nothing (its
  code is "included", UIC/GIC).  genhtml (TraceFile::data with its
  basename check, lcovutil.pm:6851) compares it with the baseline's file of
  the same base name when there is exactly one: a newly measured
  ``b/util.py`` would be compared, line by line, with ``a/util.py``.
- MC/DC is not categorized: the model does not hold it (pytest-lcov writes none).

Where genhtml 2.3.1 goes wrong and this module does not follow it:

- Its category tables count each branch shown in the current source twice
  when no ``--annotate-script`` gives line ages: SourceFile::
  _countBranchTlaData (genhtml:4690-4695) adds the branch to the table, then
  ``branchCovCount($tla, 'noGroup', ...)`` adds it to the same table again.
  Here each branch counts once.
- It stops ("FILE:1: incorrectly marked 'delete'", genhtml:2715-2721) when
  the baseline has data on deleted lines at the very top of a file (a first
  import line replaced); here they are DUB/DCB like any deleted line.

Hunks without context (``git diff -U0``) are read as genhtml reads them,
chunk for chunk: genhtml takes a zero-length side's start for its first line
where git means the line before, so a pure insertion or deletion shifts the
lines after it by one, and the lines after a last pure deletion are taken for
deleted ones (genhtml stops, "'current' line ... should not be marked
'delete'", unless told to ignore it; they are dropped here, as it then drops
them).  `genhtml_diff` writes three lines of context, where both read the
hunks as git means them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pytest_lcov.diff import (
    DIFF_OPTIONS,
    GIT_TIMEOUT,
    DiffError,
    filters_off,
    git_complaint,
    git_output,
    merge_base,
    repository,
    run_git,
    unquote_name,
)
from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord
from pytest_lcov.tracefile import safe_field

CATEGORIES = ("UNC", "LBC", "UIC", "UBC", "GBC", "GIC", "GNC", "CBC", "EUB", "ECB", "DUB", "DCB")
"""genhtml's categories in its priority order (SummaryInfo's tlaPriorityOrder, genhtml:299)."""
METRICS = ("lines", "branches", "functions")
Metric = Literal["lines", "branches", "functions"]
Kind = Literal["equal", "insert", "delete"]
OLD, NEW = 0, 1  # the sides of a chunk, as DiffMap names them (genhtml:3469)
HITS = frozenset({"GBC", "GIC", "GNC", "CBC"})  # the categories of covered code (genhtml:1061)

# genhtml drops a date after a ---/+++ name (genhtml:3949): diff -u writes one, git does not.
_TIMESTAMP = re.compile(
    rb"^[-+=]{3} \S.*(\s+[1-9][0-9]{3}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?( .[0-9]+)?)$"
)
_HUNK = re.compile(rb"@@\s+-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?\s+@@")
_DEV_NULL = b"/dev/null"
_SKIPPED_MODES = (b" 160000", b" 120000")  # submodules and symbolic links: no lines of their own


# --- the diff, as genhtml reads it --------------------------------------------------------------


@dataclass
class Chunk:
    """One run of equal, inserted or deleted lines: [start, end] on the old and the new side.

    The very representation of DiffMap (genhtml:3898, _newChunk): an insert
    chunk's old range is the one old line before it, a delete chunk's new
    range the one new line before it, and empty equal chunks ([1, 0]) occur.
    `lookup` and `kind` depend on these details, so they are kept.
    """

    kind: Kind
    old: list[int]
    new: list[int]

    def side(self, which: int) -> list[int]:
        return self.old if which == OLD else self.new


@dataclass
class FileDiff:
    """One file of the diff: its baseline and current names and its chunks.

    `old_path` is None for a new file and `new_path` None for a deleted one
    (``/dev/null``).  `deleted_text` holds the removed lines by baseline number.
    """

    old_path: str | None
    new_path: str | None
    chunks: list[Chunk] = field(default_factory=list)
    deleted_text: dict[int, bytes] = field(default_factory=dict)

    def lookup(self, which: int, line: int) -> int:
        """The line on the other side that `line` of side `which` maps to (DiffMap::lookup, genhtml:3600).

        For an equal line this is its number on the other side.  For an
        inserted or deleted line it is genhtml's estimate (the first line of a
        run maps past the chunk before it, the next ones from the run's start),
        which genhtml uses when it checks whether a function changed.
        """
        candidates = [chunk for chunk in self.chunks if chunk.side(which)[0] < line]
        if not candidates:
            return line
        chunk = candidates[-1]
        here, there = chunk.side(which), chunk.side(NEW if which == OLD else OLD)
        if line > here[1]:
            return there[1] + (line - here[1])
        return there[0] + (line - here[0])

    def kind(self, which: int, line: int) -> str:
        """Whether `line` of side `which` is equal, inserted or deleted (DiffMap::type, genhtml:3627).

        The last chunk starting at or before the line, or an earlier one that
        holds it: an insert chunk's old range is the line before the insertion,
        which its equal chunk holds.
        """
        if self.new_path is None:
            return "delete"
        candidates = [chunk for chunk in self.chunks if chunk.side(which)[0] <= line]
        if not candidates:
            return "undef chunk"  # genhtml warns and returns this; not reached for lines >= 1
        chunk = candidates.pop()
        while candidates and candidates[-1].side(which)[0] <= line <= candidates[-1].side(which)[1]:
            chunk = candidates.pop()
        return chunk.kind

    def baseline_line(self, current_line: int) -> int | None:
        """The baseline line a current line was, or None when it was inserted."""
        if self.kind(NEW, current_line) == "insert":
            return None
        return self.lookup(NEW, current_line)

    def inserted_lines(self) -> frozenset[int]:
        """Current lines the diff adds."""
        return frozenset(
            line
            for chunk in self.chunks
            if chunk.kind == "insert"
            for line in range(chunk.new[0], chunk.new[1] + 1)
        )

    def deleted_lines(self) -> frozenset[int]:
        """Baseline lines the diff removes."""
        return frozenset(
            line
            for chunk in self.chunks
            if chunk.kind == "delete"
            for line in range(chunk.old[0], chunk.old[1] + 1)
        )


@dataclass
class UnifiedDiff:
    """A parsed diff: each file by its current name, and the files it deletes by their baseline name."""

    files: dict[str, FileDiff] = field(default_factory=dict)
    deleted: dict[str, FileDiff] = field(default_factory=dict)

    def baseline_name(self, current: str) -> str | None:
        """The baseline name of a current file: its old name if renamed, None if new (genhtml:3672)."""
        entry = self.files.get(current)
        if entry is None:
            return current
        return entry.old_path


@dataclass
class _Section:
    """One file's part of a diff while it is read."""

    git_prefixed: bool = False
    old: bytes | None = None
    new: bytes | None = None
    rename_from: bytes | None = None
    rename_to: bytes | None = None
    skipped: bool = False
    headers: bool = False  # saw ---/+++
    # hunks: (old start, old count, new start, new count) and the hunk's lines
    hunks: list[tuple[tuple[int, int, int, int], list[bytes]]] = field(default_factory=list)

    def names(self) -> tuple[bytes | None, bytes | None] | None:
        """(old, new) names without quotes and prefixes; None for a section that names no file change."""
        if self.headers:
            return (
                _name(self.old, b"a/" if self.git_prefixed else b""),
                _name(self.new, b"b/" if self.git_prefixed else b""),
            )
        if self.rename_from is not None and self.rename_to is not None:
            return _name(self.rename_from, b""), _name(self.rename_to, b"")
        return None


def _name(raw: bytes | None, prefix: bytes) -> bytes | None:
    if raw is None or raw == _DEV_NULL:
        return None
    if raw.startswith(b'"'):
        name = unquote_name(raw)
    elif prefix:  # git ends a name holding a space with a tab
        name = raw[:-1] if raw.endswith(b"\t") else raw
    else:
        name = raw
    if name == _DEV_NULL:
        return None
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def _sections(diff: bytes) -> Iterator[_Section]:
    """The file sections of a unified diff, git's or ``diff -u``'s, with their hunks' lines.

    A hunk's lines are counted by its header, so content is never taken for a header.
    """
    section: _Section | None = None
    old_left = new_left = 0
    lines: list[bytes] = []
    for raw in diff.split(b"\n"):
        line = raw.replace(b"\r", b"")  # as genhtml reads it (genhtml:3944)
        if old_left > 0 or new_left > 0:
            tag = line[:1]
            if tag == b"-":
                old_left -= 1
            elif tag == b"+":
                new_left -= 1
            elif tag in (b" ", b""):
                old_left, new_left = old_left - 1, new_left - 1
            lines.append(line)
            continue
        match = _TIMESTAMP.match(line)
        if match:
            line = line[: match.start(1)]
        if line.startswith(b"diff --git "):
            if section is not None:
                yield section
            section = _Section(git_prefixed=line.startswith((b"diff --git a/", b'diff --git "a/')))
        elif line.startswith(b"--- "):
            if section is None or section.headers or section.old is not None:
                if section is not None:
                    yield section
                section = _Section()
            section.old = line[4:]
        elif line.startswith(b"+++ ") and section is not None and section.old is not None:
            section.new, section.headers = line[4:], True
        elif section is not None and line.startswith(b"rename from "):
            section.rename_from = line[len(b"rename from ") :]
        elif section is not None and line.startswith(b"rename to "):
            section.rename_to = line[len(b"rename to ") :]
        elif section is not None and line.startswith((b"index ", b"new file mode ", b"new mode ")):
            section.skipped = section.skipped or line.endswith(_SKIPPED_MODES)
        elif line.startswith(b"@@") and section is not None:
            hunk = _HUNK.match(line)
            if hunk is None:
                raise DiffError(f"cannot read the diff: {safe_field(line[:80].decode('utf-8', 'replace'))!r}")
            counts = (
                int(hunk[1]),
                1 if hunk[2] is None else int(hunk[2]),
                int(hunk[3]),
                1 if hunk[4] is None else int(hunk[4]),
            )
            lines = []
            section.hunks.append((counts, lines))
            old_left, new_left = counts[1], counts[3]
        elif line.startswith(b"\\") and section is not None and section.hunks:
            lines.append(line)  # "\ No newline at end of file": no line of either side
    if section is not None:
        yield section


def _chunks(
    hunks: list[tuple[tuple[int, int, int, int], list[bytes]]],
) -> tuple[list[Chunk], dict[int, bytes]]:
    """The chunks genhtml builds from a file's hunks (DiffMap::_read_udiff, genhtml:4044-4170)."""
    chunks: list[Chunk] = []
    deleted: dict[int, bytes] = {}
    chunk = Chunk("equal", [1, 1], [1, 1])  # a file's first chunk (genhtml:4040)
    for (old_start, old_count, new_start, new_count), lines in hunks:
        if old_start > chunk.old[1] and chunk.kind != "equal":  # equal lines skipped before the hunk
            chunks.append(chunk)
            chunk = Chunk("equal", [chunk.old[1] + 1] * 2, [chunk.new[1] + 1] * 2)
        chunk.old[1], chunk.new[1] = old_start - 1, new_start - 1
        if old_count == 0 and new_count == 0:
            continue  # genhtml reads no line of such a hunk (genhtml:4081)
        for line in lines:
            tag = line[:1]
            if tag in (b" ", b""):
                if chunk.kind != "equal":
                    chunks.append(chunk)
                    chunk = Chunk("equal", [chunk.old[1] + 1] * 2, [chunk.new[1] + 1] * 2)
                else:
                    chunk.old[1] += 1
                    chunk.new[1] += 1
            elif tag == b"-":
                baseline_line = chunk.old[1] + 1
                deleted[baseline_line] = line[1:]
                if chunk.kind != "delete":
                    chunks.append(chunk)
                    chunk = Chunk("delete", [baseline_line] * 2, [chunk.new[1]] * 2)
                else:
                    chunk.old[1] = baseline_line
            elif tag == b"+":
                if chunk.kind != "insert":
                    chunks.append(chunk)
                    chunk = Chunk("insert", [chunk.old[1]] * 2, [chunk.new[1] + 1] * 2)
                else:
                    chunk.new[1] += 1
    chunks.append(chunk)
    return chunks, deleted


def parse_unified_diff(diff: bytes | str) -> UnifiedDiff:
    """Read a unified diff (``git diff``'s, with or without prefixes, or ``diff -u``'s) as genhtml does.

    Each changed file is kept under its current name with genhtml's chunks;
    a file whose new side is ``/dev/null`` is kept apart, under its old name,
    as deleted.  Sections of submodules and symbolic links are skipped.  Names
    are decoded from UTF-8 (undecodable bytes kept as surrogates, as
    ``os.fsdecode`` keeps them), since the tracefile names files in UTF-8.
    """
    data = diff.encode("utf-8", "surrogateescape") if isinstance(diff, str) else diff
    result = UnifiedDiff()
    for section in _sections(data):
        names = section.names()
        if names is None or section.skipped:
            continue
        old, new = (None if name is None else name.decode("utf-8", "surrogateescape") for name in names)
        chunks, deleted = _chunks(section.hunks)
        entry = FileDiff(old, new, chunks, deleted)
        if new is not None:
            result.files[new] = entry
        elif old is not None:
            result.deleted[old] = entry
    return result


# --- categories ---------------------------------------------------------------------------------


@dataclass
class _LineData:
    """What genhtml's LineData (genhtml:2134) keeps of one line: where it is on each side and its data."""

    kind: str
    base_line: int | None = None
    cur_line: int | None = None
    base_count: int | None = None
    cur_count: int | None = None
    category: str | None = None  # None: genhtml's "UNK"
    base_branches: dict[int, list[int]] | None = None
    cur_branches: dict[int, list[int]] | None = None
    branch_categories: list[str] | None = None
    base_function: _Function | None = None
    cur_function: _Function | None = None
    function_categories: dict[str, str] | None = None


@dataclass
class _Function:
    """genhtml's FunctionEntry (lcovutil.pm:4329): every name starting on one line, with its hits."""

    start: int
    end: int | None
    aliases: dict[str, int]

    @property
    def hits(self) -> int:
        return sum(self.aliases.values())


@dataclass(frozen=True)
class FileCategories:
    """One current file's categories: counts per metric, and the category of each line.

    `lines` holds the category of each current line that is code now or was
    before; `deleted` the category (DUB, DCB) of each deleted baseline line.
    """

    path: str
    baseline_path: str | None
    counts: dict[str, dict[str, int]]
    lines: dict[int, str]
    deleted: dict[int, str]

    def count(self, metric: Metric, category: str) -> int:
        return self.counts[metric].get(category, 0)


@dataclass(frozen=True)
class DifferentialReport:
    """Categories per file (by current path) and added up: `totals[metric][category]`."""

    files: dict[str, FileCategories]
    totals: dict[str, dict[str, int]]

    def count(self, metric: Metric, category: str) -> int:
        return self.totals[metric].get(category, 0)

    def failing(self, categories: Iterable[str]) -> dict[str, dict[str, int]]:
        """For a gate like ``--lcov-fail-on=UNC,LBC``: metric -> category -> count, non-zero ones only."""
        wanted = [category.upper() for category in categories]
        unknown = [category for category in wanted if category not in CATEGORIES]
        if unknown:
            raise ValueError(
                f"unknown categories {', '.join(unknown)}: expected some of {', '.join(CATEGORIES)}"
            )
        found: dict[str, dict[str, int]] = {}
        for metric in METRICS:
            counts = {category: self.totals[metric].get(category, 0) for category in wanted}
            counts = {category: count for category, count in counts.items() if count}
            if counts:
                found[metric] = counts
        return found


def _categorize(base: int, current: int) -> str:
    """Code in both versions (FileCoverageInfo::_categorize, genhtml:2663)."""
    if base == 0:
        return "UBC" if current == 0 else "GBC"
    return "LBC" if current == 0 else "CBC"


def _branch_blocks(branches: Iterable[BranchRecord]) -> dict[int, dict[int, list[int]]]:
    """Branches by line, then block: their taken counts in tracefile order.

    genhtml numbers a block's branches by the order they come in, whatever
    the BRDA's branch field says, and puts lcov 2's exception branch (``e0``)
    into the block of its number (lcovutil.pm:8655-8713); ``-`` counts 0
    (BranchBlock::count, lcovutil.pm:3985).  The model keeps the block the
    tracefile wrote, so this is the block genhtml reads.
    """
    lines: dict[int, dict[int, list[int]]] = {}
    for branch in branches:
        lines.setdefault(branch.line, {}).setdefault(branch.block, []).append(branch.taken or 0)
    return lines


def _functions(functions: Iterable[FunctionRecord]) -> dict[int, _Function]:
    """Functions by start line, names starting on one line being aliases (FunctionMap, lcovutil.pm:4627)."""
    found: dict[int, _Function] = {}
    for fn in functions:
        entry = found.get(fn.start)
        if entry is None:
            found[fn.start] = _Function(fn.start, fn.end, {fn.name: fn.hits})
            continue
        entry.aliases[fn.name] = entry.aliases.get(fn.name, 0) + fn.hits
        if fn.end is not None and (entry.end is None or fn.end > entry.end):
            entry.end = fn.end  # the highest end line (lcovutil.pm:4700)
    return found


class _Identity:
    """The map of a file the diff does not name: every line equal to itself (genhtml:3600, 3633)."""

    def lookup(self, which: int, line: int) -> int:
        return line

    def kind(self, which: int, line: int) -> str:
        return "equal"


class _FileCategorizer:
    """FileCoverageInfo (genhtml:2503) for one file: lines, then branches, then functions."""

    def __init__(self, base: FileRecord, current: FileRecord, diff: FileDiff | _Identity) -> None:
        self.base = base
        self.current = current
        self.diff = diff
        self.data: dict[int | str, _LineData] = {}

    def find(self, base_line: int) -> tuple[int | str, _LineData]:
        """The entry a baseline line belongs to (_findLineData, genhtml:2677).

        A line still there shares the entry of its current line; a deleted
        one gets an entry of its own, which is summed but never shown.
        """
        current_line = self.diff.lookup(OLD, base_line)
        kind = self.diff.kind(OLD, base_line)
        key: int | str
        if kind != "delete":
            key = current_line
            data = self.data.get(key)
            if data is None:
                data = self.data[key] = _LineData(kind, cur_line=current_line)
        else:
            key = f"<<<{base_line}"
            data = self.data.get(key) or self.data.setdefault(key, _LineData(kind))
        data.base_line = base_line
        return key, data

    def lines(self) -> None:
        """_categorizeLineCov (genhtml:2741)."""
        for line, count in self.current.lines.items():
            kind = self.diff.kind(NEW, line)
            if line <= 0 or kind == "delete":
                continue  # genhtml drops such a line with an error it may be told to ignore
            data = self.data.setdefault(line, _LineData(kind))
            data.cur_line, data.cur_count = line, count
        for line, count in self.base.lines.items():
            if line > 0:
                _, data = self.find(line)
                data.base_count = (data.base_count or 0) + count
        for data in self.data.values():
            if data.kind == "insert":
                if data.cur_count is not None:
                    data.category = "GNC" if data.cur_count > 0 else "UNC"
            elif data.kind == "delete":
                if data.base_count is not None:
                    data.category = "DCB" if data.base_count > 0 else "DUB"
            elif data.base_count is not None and data.cur_count is not None:
                data.category = _categorize(data.base_count, data.cur_count)
            elif data.base_count is not None:
                data.category = "ECB" if data.base_count > 0 else "EUB"
            elif data.cur_count is not None:
                data.category = "GIC" if data.cur_count > 0 else "UIC"

    def branches(self) -> None:
        """_categorizeBranchCov (genhtml:2891).

        Branches are matched by line, then block id, then position in the
        block.  A deleted line's branches are not categorized at all: genhtml
        records them but never adds their line to the list it categorizes
        (genhtml:2941-2948), so there are no DUB/DCB branches.
        """
        lines: set[int | str] = set()
        for line, blocks in _branch_blocks(self.current.branches).items():
            if line <= 0 or line not in self.data:
                continue  # "line has branchcov but no linecov data (skipping)"
            self.data[line].cur_line = line
            self.data[line].cur_branches = _merge_blocks(self.data[line].cur_branches, blocks)
            lines.add(line)
        for line, blocks in _branch_blocks(self.base.branches).items():
            key, data = self.find(line)
            if data.kind != "delete":
                lines.add(key)
            data.base_branches = _merge_blocks(data.base_branches, blocks)
        for key in lines:
            data = self.data[key]
            current, base = data.cur_branches, data.base_branches
            if data.kind == "insert":
                found = ["GNC" if count else "UNC" for block in (current or {}).values() for count in block]
            else:
                found = _equal_branches(base or {}, current)
            data.branch_categories = found

    def functions(self) -> None:
        """_categorizeFunctionCov (genhtml:3207): functions are matched by start line, through the diff."""
        lines: set[int | str] = set()
        for line, fn in _functions(self.current.functions).items():
            if line <= 0:
                continue
            data = self.data.setdefault(line, _LineData(self.diff.kind(NEW, line)))
            data.cur_line = line
            data.cur_function = _merge_function(data.cur_function, fn)
            lines.add(line)
        for line, fn in _functions(self.base.functions).items():
            if line <= 0:
                continue
            key, data = self.find(line)
            lines.add(key)
            data.base_function = _merge_function(data.base_function, fn)
        for key in lines:
            self._function(self.data[key])

    def _function(self, data: _LineData) -> None:
        current, base = data.cur_function, data.base_function
        categories: dict[str, str] = {}
        if base is None:
            assert current is not None
            new = data.kind == "insert"
            for name, hits in current.aliases.items():
                categories[name] = ("GNC" if new else "GIC") if hits else ("UNC" if new else "UIC")
            merged = ("GNC" if new else "GIC") if current.hits else ("UNC" if new else "UIC")
        elif current is None:
            gone = data.kind == "delete"
            for name, hits in base.aliases.items():
                categories[name] = ("DCB" if gone else "ECB") if hits else ("DUB" if gone else "EUB")
            merged = ("DCB" if gone else "ECB") if base.hits else ("DUB" if gone else "EUB")
        else:
            changed = self._changed(base, current)
            merged = _recategorized(_categorize(base.hits, current.hits), changed)
            for name, hits in base.aliases.items():
                if name in current.aliases:
                    categories[name] = _recategorized(_categorize(hits, current.aliases[name]), changed)
                else:
                    categories[name] = "ECB" if hits else "EUB"
            for name, hits in current.aliases.items():
                if name not in base.aliases:
                    categories[name] = "GIC" if hits else "UIC"
        data.function_categories = categories
        if data.category is None:
            # "a function here but no line": the line takes the function's category (genhtml:3425)
            data.category = merged

    def _changed(self, base: _Function, current: _Function) -> bool:
        """Whether a function's body changed, which makes its category new code (genhtml:3330-3384).

        Only known with an end line (lcov 2's ``FN:start,end,name``): a
        current line of the body that is inserted code, or one whose being
        code differs from its baseline line's, or a baseline line of the body
        that is deleted code.  The baseline line of an inserted line is
        genhtml's estimate (FileDiff.lookup).
        """
        if current.end is None:
            return False
        for line in range(current.start, current.end + 1):
            if self.diff.kind(NEW, line) == "insert" and line in self.current.lines:
                return True
            if (self.diff.lookup(NEW, line) in self.base.lines) != (line in self.current.lines):
                return True
        if base.end is None:
            return False
        return any(
            self.diff.kind(OLD, line) != "equal" and line in self.base.lines
            for line in range(base.start, base.end + 1)
        )

    def result(self, path: str, baseline_path: str | None) -> FileCategories:
        """Counts as SourceFile counts them (genhtml:4520-4545): every entry once, per metric.

        Each function name counts once: genhtml counts aliases apart unless
        told to merge them (``--merge-aliases``, genhtml:5029).
        """
        counts: dict[str, dict[str, int]] = {metric: defaultdict(int) for metric in METRICS}
        lines: dict[int, str] = {}
        deleted: dict[int, str] = {}
        for key, data in self.data.items():
            if data.category is not None:
                counts["lines"][data.category] += 1
                if isinstance(key, int):
                    lines[key] = data.category
                elif data.base_line is not None:
                    deleted[data.base_line] = data.category
            for category in data.branch_categories or ():
                counts["branches"][category] += 1
            for category in (data.function_categories or {}).values():
                counts["functions"][category] += 1
        return FileCategories(
            path,
            baseline_path,
            {metric: _ordered(found) for metric, found in counts.items()},
            dict(sorted(lines.items())),
            dict(sorted(deleted.items())),
        )


def _merge_blocks(
    known: dict[int, list[int]] | None, blocks: Mapping[int, list[int]]
) -> dict[int, list[int]]:
    """Branch data added into an entry (LineData::_mergeBranchData, genhtml:2308): counts add by position."""
    if known is None:
        return {block: list(counts) for block, counts in blocks.items()}
    for block, counts in known.items():
        if block in blocks:
            for index, count in enumerate(blocks[block][: len(counts)]):
                counts[index] += count
            counts.extend(blocks[block][len(counts) :])
    return known


def _merge_function(known: _Function | None, fn: _Function) -> _Function:
    if known is None:
        return _Function(fn.start, fn.end, dict(fn.aliases))
    for name, hits in fn.aliases.items():
        known.aliases[name] = known.aliases.get(name, 0) + hits
    return known


def _equal_branches(base: dict[int, list[int]], current: dict[int, list[int]] | None) -> list[str]:
    """Branches of a line in both versions, by block then position (genhtml:2985-3040)."""
    found: list[str] = []
    for block, counts in base.items():
        if current is not None and block in current:
            now = current[block]
            for index in range(max(len(counts), len(now))):
                if index < len(counts) and index < len(now):
                    found.append(_categorize(counts[index], now[index]))
                elif index < len(counts):
                    found.append("ECB" if counts[index] else "EUB")
                else:
                    found.append("GIC" if now[index] else "UIC")
        else:
            found.extend("ECB" if count else "EUB" for count in counts)
    for block, now in (current or {}).items():
        if block not in base:
            found.extend("GIC" if count else "UIC" for count in now)
    return found


def _recategorized(category: str, changed: bool) -> str:
    """A function whose body changed is new code: UBC becomes UNC, GBC and CBC GNC; LBC stays."""
    if not changed:
        return category
    return {"UBC": "UNC", "GBC": "GNC", "CBC": "GNC"}.get(category, category)


def _ordered(counts: Mapping[str, int]) -> dict[str, int]:
    return {category: counts[category] for category in CATEGORIES if counts.get(category)}


def categories(
    baseline: Mapping[str, FileRecord], current: Mapping[str, FileRecord], diff: UnifiedDiff
) -> DifferentialReport:
    """Every current file's categories against the baseline through `diff`, as genhtml sorts them.

    Files are those of the current tracefile (genhtml reports no other, not
    even a deleted file's lines: its summary counts "source files" of the
    current data, genhtml:7490).  A file is found in the baseline under the
    name the diff gives its old side (a renamed file's old name), else under
    its own; a new file (``--- /dev/null``) or one the baseline lacks is
    compared with an empty record, so its lines are UNC/GNC where the diff
    inserts them and UIC/GIC where it does not (genhtml:3633-3643: a file
    the diff does not name is unchanged).  Names are matched exactly: the
    diff must name files as the tracefiles do (see `genhtml_diff`).
    """
    files: dict[str, FileCategories] = {}
    for path in sorted(current):
        entry = diff.files.get(path)
        baseline_path = entry.old_path if entry is not None else path
        base = baseline.get(baseline_path) if baseline_path is not None else None
        worker = _FileCategorizer(
            base or FileRecord(baseline_path or path), current[path], entry or _Identity()
        )
        worker.lines()
        worker.branches()
        worker.functions()
        files[path] = worker.result(path, baseline_path)
    totals: dict[str, dict[str, int]] = {}
    for metric in METRICS:
        summed: dict[str, int] = defaultdict(int)
        for found in files.values():
            for category, count in found.counts[metric].items():
                summed[category] += count
        totals[metric] = _ordered(summed)
    return DifferentialReport(files, totals)


def summary_text(report: DifferentialReport) -> str:
    """One line per metric, as genhtml's summary lists them: ``lines: UNC 2, GNC 5, CBC 40``."""
    return "\n".join(
        f"{metric}: " + (", ".join(f"{category} {count}" for category, count in found.items()) or "none")
        for metric, found in report.totals.items()
    )


# --- the diff genhtml needs, made with git --------------------------------------------------------


def genhtml_diff(
    ref: str,
    cwd: str | os.PathLike[str],
    paths: Iterable[str],
    prefix: str = "",
    timeout: float = GIT_TIMEOUT,
) -> bytes:
    """The diff file for ``genhtml --diff-file``: the merge base of `ref` and HEAD against the working tree.

    Only files that `paths` (the tracefiles' ``SF:`` names, relative ones
    read from `cwd`) name on either side are written, each under the name
    the tracefile gives it, `prefix` before it; a renamed file's old name is
    written in the style of its new one.  Untracked files that are not
    ignored come as new files.  Written so that genhtml reads it as git means it:

    - three lines of context: genhtml maps an insertion with no context
      (``@@ -5,0 +6,2 @@``) one line off, taking 5 for the first old line of
      the hunk;
    - every hunk header with both counts (genhtml skips ``@@ -3 +3 @@``);
    - names unquoted, without ``a/``/``b/``, and only ``---``/``+++``
      header lines (genhtml keys a file by the rest of the ``+++`` line);
    - a renamed file always has its ``---``/``+++`` lines, hunks or not.

    Binary attributes, textconv and filter drivers are set aside, as in
    `changed_lines`.  Raises DiffError (one line) when git cannot answer.
    """
    folder = os.fspath(cwd)
    if not os.path.isdir(folder):
        raise DiffError(f"{safe_field(folder)} is not a folder")
    root, shallow = repository(folder, timeout)
    base = merge_base(ref, root, shallow, timeout)
    names = _SourceNames(root, folder, paths, prefix)
    settings = filters_off(root, timeout)
    listing = git_output(
        ["diff", *DIFF_OPTIONS, "--name-status", "-z", base, "--"],
        root,
        "git diff --name-status",
        timeout,
    )
    wanted: list[str] = []
    for old, new in _name_status(listing):
        if names.known(old) or names.known(new):
            wanted += [old, new] if old != new else [new]
    out: list[bytes] = []
    if wanted:
        pathspecs = [":(literal)" + name for name in wanted]
        options = [
            option for option in DIFF_OPTIONS if option not in ("--unified=0", "--inter-hunk-context=0")
        ]
        result = run_git(
            ["diff", *options, "--unified=3", "--text", base, "--", *pathspecs], root, timeout, settings
        )
        if result.returncode != 0:
            complaint = result.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
            raise DiffError(f"git diff failed: {safe_field(complaint[0])}")
        out.extend(_rewritten(result.stdout, names))
    untracked = git_output(
        ["ls-files", "--others", "--exclude-standard", "-z"], root, "git ls-files", timeout
    )
    for raw in untracked.split(b"\0"):
        name = os.fsdecode(raw)
        if raw and not raw.endswith(b"/") and names.known(name):
            out.append(_new_file(os.path.join(root, name), names.shown(name)))
    return b"".join(out)


class _SourceNames:
    """The tracefiles' names for the repository's files (``/``-separated, relative to its root)."""

    def __init__(self, root: str, cwd: str, paths: Iterable[str], prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self.by_relative: dict[str, str] = {}
        self.absolute = False
        for path in paths:
            full = os.path.normpath(os.path.join(cwd, path))
            relative = self._relative(full) or self._relative(os.path.realpath(full))
            if relative is not None:
                self.by_relative[relative] = path
                self.absolute = self.absolute or os.path.isabs(path)
        self.cwd = cwd

    def _relative(self, full: str) -> str | None:
        for root in (self.root, os.path.realpath(self.root)):
            relative = os.path.relpath(full, root)
            if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
                return relative.replace(os.sep, "/")
        return None

    def known(self, relative: str) -> bool:
        return relative in self.by_relative

    def shown(self, relative: str) -> bytes:
        """The name to write: the tracefile's own, or one made as the tracefile makes names."""
        name = self.by_relative.get(relative)
        if name is None:
            full = os.path.join(self.root, *relative.split("/"))
            name = full if self.absolute else os.path.relpath(full, self.cwd)
        return (self.prefix + name).encode("utf-8", "surrogateescape")


def _name_status(listing: bytes) -> Iterator[tuple[str, str]]:
    """(old, new) names of ``git diff --name-status -z`` entries; renames and copies have two."""
    fields = iter(listing.split(b"\0"))
    for status in fields:
        if not status:
            continue
        first = next(fields, b"")
        second = next(fields, b"") if status[:1] in (b"R", b"C") else first
        yield os.fsdecode(first), os.fsdecode(second)


def _rewritten(diff: bytes, names: _SourceNames) -> Iterator[bytes]:
    """git's diff again, in the dialect genhtml reads (see `genhtml_diff`)."""
    for section in _sections(diff):
        pair = section.names()
        if pair is None or section.skipped:
            continue
        old, new = (None if name is None else os.fsdecode(name) for name in pair)
        if not ((old is not None and names.known(old)) or (new is not None and names.known(new))):
            continue
        yield b"--- " + (_DEV_NULL if old is None else names.shown(old)) + b"\n"
        yield b"+++ " + (_DEV_NULL if new is None else names.shown(new)) + b"\n"
        for (old_start, old_count, new_start, new_count), lines in section.hunks:
            yield f"@@ -{old_start},{old_count} +{new_start},{new_count} @@\n".encode()
            for line in lines:
                yield line + b"\n"


def _new_file(path: str, name: bytes) -> bytes:
    """An untracked file as a new file: each of its lines added (lines end at ``\\n``, as git counts them)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return b""
    if b"\0" in data[:8000]:  # binary, by git's rule: no lines
        return b""
    lines = data.split(b"\n")
    last_ends = data.endswith(b"\n")
    if last_ends or not data:
        lines.pop()
    out = [b"--- /dev/null\n+++ " + name + b"\n"]
    if lines:
        out.append(f"@@ -0,0 +1,{len(lines)} @@\n".encode())
        out.extend(b"+" + line + b"\n" for line in lines)
        if not last_ends:
            out.append(b"\\ No newline at end of file\n")
    return b"".join(out)


# --- whether the baseline is the base's --------------------------------------------------------

_BATCH_HEADER = re.compile(rb"^[0-9a-f]{40,64} ([a-z]+) ([0-9]+)$")
_SHORT_SHA = 12


def baseline_mismatch(
    baseline: Mapping[str, FileRecord],
    ref: str,
    cwd: str | os.PathLike[str],
    timeout: float = GIT_TIMEOUT,
) -> str | None:
    """None when `baseline` fits the sources at the merge base of `ref` and HEAD; else why not, in one line.

    The categories take the baseline for the base's own tracefile: a
    baseline written at another commit (a stale artifact) or of another
    project puts its lines on the wrong text, and every category after that
    is wrong without a word of warning (genhtml, which reads only the
    current sources and the diff, cannot tell).  So each file the
    baseline names (a relative name read from `cwd`, as the tracefile's
    names are) is read as the merge base holds it, and must have:

    - its existence: a file the base does not have is a mismatch, unless
      its record is empty (nothing measured), or git ignores it in the
      working tree (a file the build writes, such as a version module);
    - room for every ``DA`` line, function start and end and branch line;
    - for each ``DA`` line that carries a checksum, the same checksum of
      the base's text of that line (MD5, base64, as geninfo and
      `records.line_checksums` make it; padding is not compared).

    Files outside the repository cannot be read at the base and are not
    checked.  The base's text is git's blob, before any smudge filter or
    end-of-line conversion (a checksum drops a line's final CR, as
    genhtml does).  One ``git cat-file --batch`` reads every file, fed
    ``<sha>:<path>`` lines, never through a shell, so that the check costs
    one process however many files there are (``git check-ignore`` runs
    only when some file is missing); names holding a line break cannot be
    fed so and are not checked.  The reason names the first
    file (by name) and line that does not fit and the merge base's short
    hash.  Raises DiffError (one line) when git cannot answer.
    """
    folder = os.fspath(cwd)
    if not os.path.isdir(folder):
        raise DiffError(f"{safe_field(folder)} is not a folder")
    root, shallow = repository(folder, timeout)
    base = merge_base(ref, root, shallow, timeout)
    short = base[:_SHORT_SHA]
    wanted: dict[str, str] = {}  # baseline name: path in the repository
    for name in sorted(baseline):
        record = baseline[name]
        if not (record.lines or record.functions or record.branches):
            continue
        relative = _repository_path(root, os.path.normpath(os.path.join(folder, name)))
        if relative is not None and "\n" not in relative and "\r" not in relative:
            wanted[name] = relative
    if not wanted:
        return None
    paths = sorted(set(wanted.values()))
    request = b"".join(os.fsencode(f"{base}:{path}\n") for path in paths)
    blobs = _batch_blobs(_git_with_input(["cat-file", "--batch"], root, request, "git cat-file", timeout))
    if len(blobs) != len(paths):
        raise DiffError(f"git cat-file answered {len(blobs)} of {len(paths)} files")
    texts = dict(zip(paths, blobs, strict=True))
    missing = [path for path in paths if texts[path] is None]
    ignored = _ignored(missing, root, timeout) if missing else frozenset()
    for name, relative in wanted.items():
        text = texts[relative]
        if text is None:
            if relative in ignored:
                continue
            return f"names {safe_field(name)}, which {short} does not have"
        reason = _record_misfit(baseline[name], text)
        if reason is not None:
            return f"{safe_field(name)} {reason} at {short}"
    return None


def _repository_path(root: str, full: str) -> str | None:
    """`full` relative to the repository `root`, ``/``-separated; None when it lies outside."""
    for candidate in (full, os.path.realpath(full)):
        for top in (root, os.path.realpath(root)):
            try:
                relative = os.path.relpath(candidate, top)
            except ValueError:  # another drive on Windows
                continue
            if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
                return None if relative == os.curdir else relative.replace(os.sep, "/")
    return None


def _git_with_input(
    args: list[str], root: str, data: bytes, what: str, timeout: float, success: tuple[int, ...] = (0,)
) -> bytes:
    """A git command fed `data` on its standard input (`run_git`'s way: a list, no shell).

    Its output when it exits with one of `success`; DiffError with git's first complaint otherwise.
    """
    result = run_git(args, root, timeout, stdin=data)
    if result.returncode not in success:
        raise DiffError(f"{what} failed: {git_complaint(result.stderr)}")
    return result.stdout


def _batch_blobs(output: bytes) -> list[bytes | None]:
    """Each answer of ``git cat-file --batch``, in the order asked: a blob's bytes, else None.

    An answer is ``<oid> <type> <size>``, a line, the object, a line; or
    ``<name> missing`` (or ``ambiguous``), a line.  A tree (the name of a
    folder) is no file: None.
    """
    answers: list[bytes | None] = []
    position = 0
    while position < len(output):
        end = output.find(b"\n", position)
        if end < 0:
            raise DiffError("git cat-file answered a line without its end")
        header = _BATCH_HEADER.match(output[position:end])
        if header is None:  # missing or ambiguous: the name asked for, then why
            answers.append(None)
            position = end + 1
            continue
        size = int(header[2])
        answers.append(output[end + 1 : end + 1 + size] if header[1] == b"blob" else None)
        position = end + 1 + size + 1
    return answers


def _ignored(paths: list[str], root: str, timeout: float) -> frozenset[str]:
    """Those of `paths` (in the repository) that git ignores in the working tree and does not track."""
    request = b"".join(os.fsencode(path) + b"\0" for path in paths)
    output = _git_with_input(  # 1: none of them is ignored
        ["check-ignore", "-z", "--stdin"], root, request, "git check-ignore", timeout, success=(0, 1)
    )
    return frozenset(os.fsdecode(name) for name in output.split(b"\0") if name)


def _record_misfit(record: FileRecord, text: bytes) -> str | None:
    """Why `record` cannot be of `text` (its first line that does not fit), or None."""
    count = text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)
    numbers = [*record.lines, *(line for fn in record.functions for line in (fn.start, fn.end) if line)]
    numbers += [branch.line for branch in record.branches]
    past = min((line for line in numbers if line > count), default=None)
    lines = text.split(b"\n")
    differs = min(
        (
            line
            for line, checksum in record.checksums.items()
            if 0 < line <= count and checksum.rstrip("=") != _checksum(lines[line - 1])
        ),
        default=None,
    )
    if past is not None and (differs is None or past < differs):
        return f"line {past} is past the end of its {count} line{'' if count == 1 else 's'}"
    if differs is not None:
        return f"line {differs}'s checksum is not that of its text"
    return None


def _checksum(line: bytes) -> str:
    """A line's checksum as geninfo writes it (`records.line_checksums`): MD5, base64 without padding."""
    digest = hashlib.md5(line.removesuffix(b"\r"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")
