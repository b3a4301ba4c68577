"""LCOV tracefile text: the model to text and back, as pure functions.

Two dialects are written:

``compat``
    What every reader understands: lcov 1.x, lcov 2.x, Codecov, Coveralls and
    npm's ``lcov-parse``.  ``FN:<line>,<name>`` with no end line, numeric block
    and branch ids.  A line whose every run raised gets its taken way out as a
    numeric block of its own, which every reader counts the same way.
``lcov2``
    lcov 2.x's richer form: ``FN:<line>,<end>,<name>``, readable branch
    descriptions and the ``e`` exception-branch marker.  lcov 1.x and the
    tools that copy its regular expressions misread it.

The parser reads both, and anything lcov itself writes that this model holds.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord

DIALECTS = ("compat", "lcov2")


class LcovParseError(ValueError):
    """A tracefile line that cannot be read; says which line and why."""

    def __init__(self, lineno: int, reason: str, source: str = "<tracefile>") -> None:
        super().__init__(f"{source}:{lineno}: {reason}")
        self.lineno = lineno
        self.reason = reason
        self.source = source


def safe_field(text: str) -> str:
    """Make `text` safe as one LCOV field.

    The format has no escaping: a newline in a file name would forge records.
    Every non-printable character becomes ``?``.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def safe_test_name(text: str) -> str:
    """LCOV test names may hold only letters, digits and ``_``."""
    name = re.sub(r"\W", "_", text, flags=re.ASCII)
    return name or "pytest"


def _branch_description(branch: BranchRecord) -> str:
    # lcov 2 splits the record at its last comma and reads an all-digit
    # expression as a branch number: keep descriptions free of both traps.
    text = safe_field(branch.description).replace(",", ";").strip()
    if not text or text.isdigit():
        text = f"branch {branch.branch}"
    return text


def _format_branch(branch: BranchRecord, dialect: str) -> str:
    taken = "-" if branch.taken is None else str(branch.taken)
    if dialect == "lcov2":
        block = f"e{branch.block}" if branch.exception else str(branch.block)
        return f"BRDA:{branch.line},{block},{_branch_description(branch)},{taken}\n"
    if branch.exception:
        # Numeric everywhere: a block of its own after the real ways out.
        return f"BRDA:{branch.line},{branch.block + 1},0,{taken}\n"
    return f"BRDA:{branch.line},{branch.block},{branch.branch},{taken}\n"


def format_record(record: FileRecord, dialect: str = "compat") -> str:
    """One ``SF`` ... ``end_of_record`` section, in LCOV's usual record order."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown LCOV dialect {dialect!r}")
    out = [f"SF:{safe_field(record.path)}\n"]
    for fn in record.functions:
        name = safe_field(fn.name)
        if dialect == "lcov2" and fn.end is not None:
            out.append(f"FN:{fn.start},{fn.end},{name}\n")
        else:
            out.append(f"FN:{fn.start},{name}\n")
    for fn in record.functions:
        out.append(f"FNDA:{fn.hits},{safe_field(fn.name)}\n")
    totals = record.totals()
    out.append(f"FNF:{totals.functions_found}\nFNH:{totals.functions_hit}\n")
    if record.branches:
        out.extend(_format_branch(branch, dialect) for branch in record.branches)
        out.append(f"BRF:{totals.branches_found}\nBRH:{totals.branches_hit}\n")
    for line, count in sorted(record.lines.items()):
        checksum = record.checksums.get(line)
        out.append(f"DA:{line},{count},{checksum}\n" if checksum else f"DA:{line},{count}\n")
    out.append(f"LF:{totals.lines_found}\nLH:{totals.lines_hit}\n")
    out.append("end_of_record\n")
    return "".join(out)


def write_section(out: TextIO, test_name: str, records: Iterable[FileRecord], dialect: str) -> None:
    """Write one test's section: a ``TN:`` line, then one record per file.

    Records are consumed one at a time, so a caller can stream them.
    """
    out.write(f"TN:{safe_test_name(test_name)}\n")
    for record in records:
        out.write(format_record(record, dialect))


def dumps(sections: Iterable[tuple[str, Iterable[FileRecord]]], dialect: str = "compat") -> str:
    """A whole tracefile as text; `sections` pairs test names with records."""
    out = io.StringIO()
    for test_name, records in sections:
        write_section(out, test_name, records, dialect)
    return out.getvalue()


@dataclass
class ParsedRecord:
    """A file record as read back, with the test name it stood under."""

    test_name: str
    record: FileRecord
    declared: dict[str, int] = field(default_factory=dict)


_INT = re.compile(r"\d+")


def _number(text: str, lineno: int, what: str, source: str) -> int:
    if not _INT.fullmatch(text):
        raise LcovParseError(lineno, f"{what} is not a whole number: {text!r}", source)
    return int(text)


class _FileBuilder:
    """Collects one ``SF`` section's records while parsing."""

    def __init__(self, path: str, lineno: int) -> None:
        self.record = FileRecord(path)
        self.start_lineno = lineno
        self.fn_lines: dict[str, tuple[int, int | None]] = {}
        self.fn_hits: dict[str, int] = {}
        self.fnl: dict[int, tuple[int, int | None]] = {}
        self.branch_ids: dict[tuple[int, int], int] = {}
        self.declared: dict[str, int] = {}

    def finish(self, lineno: int, source: str) -> FileRecord:
        for name in self.fn_hits:
            if name not in self.fn_lines:
                raise LcovParseError(lineno, f"FNDA for unknown function {name!r}", source)
        self.record.functions = [
            FunctionRecord(name, start, end, self.fn_hits.get(name, 0))
            for name, (start, end) in self.fn_lines.items()
        ]
        return self.record


def iter_parse(lines: Iterable[str], source: str = "<tracefile>") -> Iterator[ParsedRecord]:
    """Read tracefile lines, yielding each file record as its section ends.

    Raises LcovParseError, naming the line, on anything that is not LCOV.
    """
    test_name = ""
    current: _FileBuilder | None = None
    lineno = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        tag, sep, value = line.partition(":")
        if tag == "end_of_record" and not value:
            if current is None:
                raise LcovParseError(lineno, "end_of_record outside a file section", source)
            yield ParsedRecord(test_name, current.finish(lineno, source), current.declared)
            current = None
            continue
        if not sep:
            raise LcovParseError(lineno, f"not an LCOV record: {line[:80]!r}", source)
        if tag == "TN":
            if current is not None:
                raise LcovParseError(lineno, "TN inside a file section (missing end_of_record)", source)
            test_name = value
            continue
        if tag == "VER" and current is not None:
            continue
        if tag == "SF":
            if current is not None:
                raise LcovParseError(lineno, "SF inside a file section (missing end_of_record)", source)
            if not value:
                raise LcovParseError(lineno, "SF with an empty file name", source)
            current = _FileBuilder(value, lineno)
            continue
        if current is None:
            raise LcovParseError(lineno, f"{tag} record outside a file section", source)
        _parse_in_file(current, tag, value, lineno, source)
    if current is not None:
        raise LcovParseError(
            lineno + 1,
            f"file ended inside the section for {current.record.path!r} (missing end_of_record)",
            source,
        )


def _parse_in_file(current: _FileBuilder, tag: str, value: str, lineno: int, source: str) -> None:
    record = current.record
    if tag == "DA":
        parts = value.split(",")
        if len(parts) not in (2, 3):
            raise LcovParseError(lineno, f"DA needs line,count[,checksum]: {value!r}", source)
        line = _number(parts[0], lineno, "DA line", source)
        count = _number(parts[1], lineno, "DA count", source)
        record.lines[line] = record.lines.get(line, 0) + count
        if len(parts) == 3:
            record.checksums[line] = parts[2]
    elif tag == "FN":
        match = re.fullmatch(r"(\d+),(?:(\d+),)?(.+)", value)
        if not match:
            raise LcovParseError(lineno, f"FN needs line[,end],name: {value!r}", source)
        end = int(match[2]) if match[2] else None
        current.fn_lines[match[3]] = (int(match[1]), end)
    elif tag == "FNDA":
        count_text, sep, name = value.partition(",")
        if not sep or not name:
            raise LcovParseError(lineno, f"FNDA needs count,name: {value!r}", source)
        count = _number(count_text, lineno, "FNDA count", source)
        current.fn_hits[name] = current.fn_hits.get(name, 0) + count
    elif tag == "FNL":
        match = re.fullmatch(r"(\d+),(\d+)(?:,(\d+))?", value)
        if not match:
            raise LcovParseError(lineno, f"FNL needs index,line[,end]: {value!r}", source)
        current.fnl[int(match[1])] = (int(match[2]), int(match[3]) if match[3] else None)
    elif tag == "FNA":
        match = re.fullmatch(r"(\d+),(\d+),(.+)", value)
        if not match or int(match[1]) not in current.fnl:
            raise LcovParseError(lineno, f"FNA needs a known index,count,name: {value!r}", source)
        current.fn_lines[match[3]] = current.fnl[int(match[1])]
        current.fn_hits[match[3]] = current.fn_hits.get(match[3], 0) + int(match[2])
    elif tag == "BRDA":
        record.branches.append(_parse_branch(current, value, lineno, source))
    elif tag in ("LF", "LH", "FNF", "FNH", "BRF", "BRH"):
        current.declared[tag] = _number(value, lineno, tag, source)
    else:
        raise LcovParseError(lineno, f"unknown record {tag!r}", source)


def _parse_branch(current: _FileBuilder, value: str, lineno: int, source: str) -> BranchRecord:
    match = re.fullmatch(r"(\d+),(e?)(\d+),(.+),(\d+|-)", value)
    if not match:
        raise LcovParseError(lineno, f"BRDA needs line,block,branch,taken: {value!r}", source)
    line, block = int(match[1]), int(match[3])
    taken = None if match[5] == "-" else int(match[5])
    key = (line, block)
    if match[4].isdigit():
        branch, description = int(match[4]), ""
    else:
        branch, description = current.branch_ids.get(key, 0), match[4]
    current.branch_ids[key] = branch + 1
    return BranchRecord(line, block, branch, taken, description, exception=match[2] == "e")


def parse(text: str, source: str = "<tracefile>") -> list[ParsedRecord]:
    """Read a whole tracefile held in a string."""
    return list(iter_parse(text.splitlines(), source))


def format_section(test_name: str, record: FileRecord, dialect: str = "compat") -> str:
    """One file's record under its own ``TN:`` line, as lcov writes per-test data."""
    return f"TN:{safe_test_name(test_name)}\n" + format_record(record, dialect)


def unique_test_names(labels: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Give each label (a pytest node id) an LCOV test name no other label gets.

    LCOV names allow only ``\\w``, so ``t.py::f[1-2]`` and ``t.py::f[1_2]``
    read alike: the later one in sorted order gets ``_2``, and so on.
    """
    used = set(reserved)
    names = {}
    for label in sorted(set(labels)):
        base = safe_test_name(label)
        name, number = base, 2
        while name in used:
            name, number = f"{base}_{number}", number + 1
        used.add(name)
        names[label] = name
    return names


def format_descriptions(descriptions: Iterable[tuple[str, str]]) -> str:
    """genhtml's ``--description-file``: a ``TN:`` line and a ``TD:`` line per test."""
    return "".join(f"TN:{name}\nTD:{safe_field(text)}\n" for name, text in descriptions)
