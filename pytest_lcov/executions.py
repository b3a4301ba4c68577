"""``lcov_counts = "executions"``: how many times each line, function and branch way ran.

coverage.py still decides what is measured and what ran; the counts come from
pytest_lcov.counting's import hook and are used for a file only when they
agree with coverage.py everywhere (see `check`): otherwise that file keeps
0/1 counts, and the report says which file and why.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_lcov.counting import CountingFinder, source_digest
from pytest_lcov.records import FileShape, Hits, RecordCounts, function_hits

MAX_NAMED = 3  # modules named in a notice line
NOT_IMPORTED = (
    "it ran without counters: imported before pytest-lcov started, or loaded without the import system "
    "(runpy, exec, a loader of its own)"
)
RAN_UNCOUNTED = (
    "it also ran without counters, outside the import system (runpy.run_path, exec, a loader of its own)"
)
Way = tuple[int, int]


def instrumented_files(sources: Iterable[str], python_files: Sequence[str]) -> frozenset[str]:
    """The measured sources to count, minus what pytest imports itself and rewrites asserts in.

    Test modules (pytest's ``python_files`` globs) and conftest.py files are
    imported by pytest's assertion-rewriting hook: counting them would take
    that over, and pytest's assert messages would be lost.
    """
    chosen = set()
    for path in sources:
        name = os.path.basename(path)
        posix = path.replace(os.sep, "/")
        test_module = any(
            fnmatch.fnmatch(posix if "/" in pattern else name, pattern) for pattern in python_files
        )
        if path.endswith(".py") and name != "conftest.py" and not test_module:
            chosen.add(os.path.abspath(path))
    return frozenset(chosen)


def _named(names: Sequence[str]) -> str:
    """The first few names, and how many more: a notice stays one line."""
    more = f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    return ", ".join(names[:MAX_NAMED]) + more


def imported_before_notice(names: list[str]) -> str | None:
    """One line naming modules imported before counting began (they keep 0/1 counts)."""
    if not names:
        return None
    return f"{_named(names)} imported before pytest-lcov started: their counts are 0/1, not executions"


def uncounted_notices(uncounted: Iterable[tuple[str, str]]) -> list[str]:
    """One line per reason: the files whose counts fell back to 0/1 for it (a few named), and why."""
    by_reason: dict[str, list[str]] = {}
    for path, why in uncounted:
        by_reason.setdefault(why, []).append(path)
    return [f"counts are 0/1, not executions, in {_named(paths)}: {why}" for why, paths in by_reason.items()]


def plain_counts(finder: CountingFinder) -> dict[str, Any]:
    """Each instrumented file's counts as plain JSON-able data, to send from an xdist worker."""
    out: dict[str, dict[str, Any]] = {}
    for path, counted in finder.files.items():
        if counted.reloaded_changed:
            out[path] = {"digest": "", "not_counted": "it was imported again after its source changed"}
            continue
        if counted.not_counted is not None:
            out[path] = {"digest": "", "not_counted": counted.not_counted}
            continue
        if path in finder.ran_uncounted:
            out[path] = {"digest": "", "not_counted": RAN_UNCOUNTED}
            continue
        values = counted.values.snapshot()  # read once: each slot is read by its line, way or function
        cmap = counted.cmap
        out[path] = {
            "digest": counted.digest,
            "lines": sorted(cmap.line_counts(values).items()),
            "functions": sorted(cmap.function_counts(values).items()),
            "ways": [[line, dest, taken] for line, dest, taken in cmap.way_counts(values)],
        }
    for path in finder.early:  # imported before counting began: whatever else counted it, it lacks those
        out[path] = {"digest": "", "not_counted": NOT_IMPORTED}
    return out


@dataclass
class FileCounts:
    """One file's counts, added up over processes; `conflict` when they ran different sources."""

    digest: str
    lines: dict[int, int] = field(default_factory=dict)
    functions: dict[int, int] = field(default_factory=dict)
    way_keys: list[tuple[int, int | None]] = field(default_factory=list)  # (line, destination or None)
    way_taken: list[int] = field(default_factory=list)
    conflict: bool = False
    not_counted: str | None = None  # why the file ran without counters, if it did

    def add(self, plain: dict[str, Any]) -> None:
        if plain.get("not_counted"):
            self.not_counted = str(plain["not_counted"])
            return
        keys = [(line, dest) for line, dest, _ in plain["ways"]]
        if plain["digest"] != self.digest or (self.way_keys and keys != self.way_keys):
            self.conflict = True
            return
        for line, count in plain["lines"]:
            self.lines[line] = self.lines.get(line, 0) + count
        for line, count in plain["functions"]:
            self.functions[line] = self.functions.get(line, 0) + count
        taken = [taken for _, _, taken in plain["ways"]]
        self.way_taken = (
            [a + b for a, b in zip(self.way_taken, taken, strict=True)] if self.way_keys else taken
        )
        self.way_keys = keys

    def ways(self) -> dict[int, list[tuple[int | None, int]]]:
        """Counted ways by branch line, in the order counted: the body's first, then the else."""
        out: dict[int, list[tuple[int | None, int]]] = {}
        for (line, dest), taken in zip(self.way_keys, self.way_taken, strict=True):
            out.setdefault(line, []).append((dest, taken))
        return out


def merged_counts(
    parts: Iterable[dict[str, Any]], expected: Iterable[str] = (), children: Iterable[str] = ()
) -> dict[str, FileCounts]:
    """The counts of every process added up, by real path (coverage.py's name may be a link's).

    A file to count (`expected`) with no counts ran without counters, if it ran
    at all; one that child processes ran (`children`) lacks their executions.
    """
    merged: dict[str, FileCounts] = {}
    for part in parts:
        for name, plain in part.items():
            path = os.path.realpath(name)
            counts = merged.get(path)
            if counts is None:
                counts = merged[path] = FileCounts(plain["digest"])
            counts.add(plain)
    for path in map(os.path.realpath, expected):
        if path not in merged:
            merged[path] = FileCounts("", not_counted=NOT_IMPORTED)
    for path in map(os.path.realpath, children):
        if path in merged:
            merged[path].not_counted = "child processes ran it, and their executions are not counted"
    return merged


def map_ways(shape: FileShape, counts: FileCounts) -> dict[Way, int]:
    """Counted ways matched to coverage.py's ways out of each branch line, by destination line.

    A counter at the start of a body, an existing ``else`` or a ``case`` body
    maps to the way into that block's first line; a synthesised ``else`` (no
    destination) maps to the one other way of a line with exactly two.
    Anything not certain stays unmapped, and so keeps 0/1: a ``case`` line's
    way to the next case, a one-line ``if x: y`` body, a one-line function,
    a way into a line two counters claim, and branch lines of other kinds.
    """
    mapped: dict[Way, int] = {}
    counted = counts.ways()
    for line, ways in shape.branch_ways.items():
        entries = counted.get(line, [])
        dests = [dest for dest, _ in ways]
        known = [dest for dest, _ in entries if dest is not None]
        for dest, taken in entries:
            if dest is not None and dest != line and dest in dests and known.count(dest) == 1:
                mapped[line, dest] = taken
        others = [taken for dest, taken in entries if dest is None]
        rest = [dest for dest in dests if (line, dest) not in mapped and dest not in known]
        if len(others) == 1 and len(dests) == 2 and len(rest) == 1:
            mapped[line, rest[0]] = others[0]
    return mapped


def check(shape: FileShape, hits: Hits, counts: FileCounts, source: bytes) -> RecordCounts | str:
    """The counts to write, or why they cannot be trusted (the first disagreement with coverage.py).

    `source` is the bytes the report read: counts taken from other bytes are not the file's.
    """
    if not shape.statements:
        return RecordCounts({}, {}, {})  # nothing to count
    if counts.not_counted is not None:
        if counts.not_counted == NOT_IMPORTED and hits.lines.isdisjoint(shape.statements):
            return RecordCounts({line: 0 for line in shape.statements}, {}, {})  # never ran: 0 is exact
        return counts.not_counted
    if counts.conflict:
        return "the processes counted different versions of it"
    if counts.digest != source_digest(source):
        return "its source changed after it was imported"
    for line in shape.statements:
        count = counts.lines.get(line, 0)
        if (count > 0) != (line in hits.lines):
            return _disagreement(f"line {line}", count, line in hits.lines)
    functions = {}
    for fn, hit in function_hits(shape, hits):
        entries = counts.functions.get(fn.start)
        if entries is None:
            continue
        if (entries > 0) != hit:
            return _disagreement(f"function {fn.name}", entries, hit)
        functions[fn.start] = entries
    ways = map_ways(shape, counts)
    arcs = hits.arcs or frozenset()
    for (line, dest), count in ways.items():
        taken = line in hits.lines and (line, dest) in arcs
        if (count > 0) != taken:
            return _disagreement(f"branch {line}->{dest}", count, taken)
    return RecordCounts({line: counts.lines.get(line, 0) for line in shape.statements}, functions, ways)


def _disagreement(what: str, count: int, ran: bool) -> str:
    return f"{what} counted {count} but coverage.py says it {'ran' if ran else 'did not run'}"
