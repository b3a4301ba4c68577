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

The parser reads both, and whatever lcov 1.16 and 2.3.1 write and read back:
``#`` comments, ``KF:``, ``VER:``, ``FNL``/``FNA`` and lcov 2.2's MC/DC records
(kept apart from the model, in ParsedRecord.mcdc).  Its numbers are ASCII
digits, as lcov's ``\\d`` on bytes reads them, and at most 2**64 - 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pytest_lcov import PytestLcovError
from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord

DEFAULT_DIALECT = "compat"  # what every reader understands
DIALECTS = (DEFAULT_DIALECT, "lcov2")


class LcovParseError(PytestLcovError, ValueError):
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
    if not text or is_number(text):
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


def format_record(record: FileRecord, dialect: str = DEFAULT_DIALECT) -> str:
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


MAX_NUMBER = 2**64 - 1
"""The largest number a record may hold: a count, a line, an index.

No tool counts past 64-bit counters, and lcov adds counts beyond this as
floating-point numbers (``lcov -a`` of two ``DA:1,18446744073709551615``
writes ``DA:1,3.68934881474191e+19``, a count of 5,000 digits becomes
``Inf``): such a number is corruption, refused rather than summed into nonsense.
"""
_MAX_DIGITS = len(str(MAX_NUMBER))
_BOM = "\ufeff"
_BLANKS = " \t\n\r\f\v"  # Perl's \s on bytes: what lcov strips from the end of each line
_NUMBER = "[0-9]+"  # not \d: Python's \d and str.isdigit() take other scripts' digits, which lcov refuses
_FN = re.compile(rf"({_NUMBER}),(?:({_NUMBER}),)?(.+)")
_FNL = re.compile(rf"({_NUMBER}),({_NUMBER})(?:,({_NUMBER}))?")
_FNA = re.compile(rf"({_NUMBER}),({_NUMBER}),(.+)")
_BRDA = re.compile(rf"({_NUMBER}),(e?)({_NUMBER}),(.+),({_NUMBER}|-)")
_MCDC = re.compile(rf"({_NUMBER}),({_NUMBER}),([tf]),({_NUMBER}),({_NUMBER}),(.+)")
# Totals lcov writes after each kind of data; readers recount them, so they are only checked as numbers.
_DECLARED = frozenset({"LF", "LH", "FNF", "FNH", "BRF", "BRH", "MCF", "MCH"})


@dataclass(frozen=True)
class McdcRecord:
    """One ``MCDC:`` line of lcov 2.2+: how often a condition was shown to decide its decision.

    `sense` is True for the ``t`` line; `index` numbers the conditions of the
    group of `group_size` conditions on `line`.
    """

    line: int
    group_size: int
    sense: bool
    count: int
    index: int
    expression: str


@dataclass
class ParsedRecord:
    """A file record as read back, with the test name it stood under.

    `mcdc` holds lcov 2.2's MC/DC records, which the model has no place for.
    """

    test_name: str
    record: FileRecord
    declared: dict[str, int] = field(default_factory=dict)
    mcdc: list[McdcRecord] = field(default_factory=list)


def is_number(text: str) -> bool:
    """True for ASCII digits only: what lcov (and this parser) reads as a number."""
    return text.isascii() and text.isdigit()


def _excerpt(text: str) -> str:
    """`text` quoted for an error message, cut short so that the message stays one readable line."""
    return repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} characters)"


def _number(text: str, lineno: int, what: str, source: str) -> int:
    """`text` as a number: ASCII digits, at most MAX_NUMBER.

    Checked before int(), which would take other scripts' digits and refuses
    more than 4,300 digits with a ValueError of its own.
    """
    if not (text.isascii() and text.isdigit()):  # is_number, inline: this runs for every number read
        raise LcovParseError(lineno, f"{what} is not a whole number: {_excerpt(text)}", source)
    digits = text if len(text) <= _MAX_DIGITS else text.lstrip("0") or "0"
    value = int(digits) if len(digits) <= _MAX_DIGITS else MAX_NUMBER + 1
    if value > MAX_NUMBER:
        raise LcovParseError(lineno, f"{what} {_excerpt(text)} is too large (more than 2**64 - 1)", source)
    return value


class _FileBuilder:
    """Collects one ``SF`` section's records while parsing."""

    def __init__(self, path: str, source: str) -> None:
        self.record = FileRecord(path)
        self.source = source
        self.fn_lines: dict[str, tuple[int, int | None]] = {}
        self.fn_hits: dict[str, int] = {}
        self.fnl: dict[int, tuple[int, int | None]] = {}
        self.branch_ids: dict[tuple[int, int], int] = {}
        self.declared: dict[str, int] = {}
        self.mcdc: list[McdcRecord] = []

    def fail(self, lineno: int, reason: str) -> LcovParseError:
        return LcovParseError(lineno, reason, self.source)

    def finish(self, lineno: int) -> FileRecord:
        for name in self.fn_hits:
            if name not in self.fn_lines:
                raise self.fail(lineno, f"FNDA for unknown function {name!r}")
        self.record.functions = [
            FunctionRecord(name, start, end, self.fn_hits.get(name, 0))
            for name, (start, end) in self.fn_lines.items()
        ]
        return self.record


def iter_parse(lines: Iterable[str], source: str = "<tracefile>") -> Iterator[ParsedRecord]:
    """Read tracefile lines, yielding each file record as its section ends.

    Raises LcovParseError, naming the line, on anything that is not LCOV.
    Lines are read as lcov 2 reads them: without trailing blanks (lcov strips
    ``\\s+$``, so ``end_of_record  `` ends a section and ``SF:a.py `` names
    ``a.py``); blank lines and ``#`` comments (``lcov --comment``) are skipped.
    A byte order mark before the first line is skipped too, although lcov
    2.3.1 refuses it and 1.16 drops the record it starts: Windows editors add
    one, and the merged output, written without, is then one lcov reads.
    """
    test_name = ""
    current: _FileBuilder | None = None
    lineno = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip(_BLANKS)
        if lineno == 1:
            line = line.removeprefix(_BOM)
        if not line.strip() or line.startswith("#"):
            continue
        tag, sep, value = line.partition(":")
        if tag == "end_of_record" and not value:
            if current is None:
                raise LcovParseError(lineno, "end_of_record outside a file section", source)
            yield ParsedRecord(test_name, current.finish(lineno), current.declared, current.mcdc)
            current = None
            continue
        if not sep:
            raise LcovParseError(lineno, f"not an LCOV record: {_excerpt(line)}", source)
        if tag == "TN":
            if current is not None:
                raise LcovParseError(lineno, "TN inside a file section (missing end_of_record)", source)
            test_name = value
            continue
        if tag == "VER" and current is not None:
            continue
        if tag in ("SF", "KF"):  # KF: an old spelling of SF that lcov 1.16 and 2.3.1 both read
            if current is not None:
                raise LcovParseError(lineno, f"{tag} inside a file section (missing end_of_record)", source)
            if not value:
                raise LcovParseError(lineno, f"{tag} with an empty file name", source)
            current = _FileBuilder(value, source)
            continue
        if current is None:
            raise LcovParseError(lineno, f"{tag} record outside a file section", source)
        _parse_in_file(current, tag, value, lineno)
    if current is not None:
        raise LcovParseError(
            lineno + 1,
            f"file ended inside the section for {current.record.path!r} (missing end_of_record)",
            source,
        )


def _parse_in_file(current: _FileBuilder, tag: str, value: str, lineno: int) -> None:
    """One record inside an ``SF`` section, by its tag; an unknown tag is refused, not skipped."""
    parse_record = _RECORDS.get(tag)
    if parse_record is not None:
        parse_record(current, value, lineno)
    elif tag in _DECLARED:
        current.declared[tag] = _number(value, lineno, tag, current.source)
    else:
        raise current.fail(lineno, f"unknown record {_excerpt(tag)}")


def _parse_da(current: _FileBuilder, value: str, lineno: int) -> None:
    parts = value.split(",")
    if len(parts) not in (2, 3):
        raise current.fail(lineno, f"DA needs line,count[,checksum]: {_excerpt(value)}")
    line = _number(parts[0], lineno, "DA line", current.source)
    count = _number(parts[1], lineno, "DA count", current.source)
    record = current.record
    record.lines[line] = record.lines.get(line, 0) + count
    if len(parts) == 3:
        record.checksums[line] = parts[2]


def _parse_fn(current: _FileBuilder, value: str, lineno: int) -> None:
    match = _FN.fullmatch(value)
    if not match:
        raise current.fail(lineno, f"FN needs line[,end],name: {_excerpt(value)}")
    end = _number(match[2], lineno, "FN end line", current.source) if match[2] else None
    current.fn_lines[match[3]] = (_number(match[1], lineno, "FN line", current.source), end)


def _parse_fnda(current: _FileBuilder, value: str, lineno: int) -> None:
    count_text, sep, name = value.partition(",")
    if not sep or not name:
        raise current.fail(lineno, f"FNDA needs count,name: {_excerpt(value)}")
    count = _number(count_text, lineno, "FNDA count", current.source)
    current.fn_hits[name] = current.fn_hits.get(name, 0) + count


def _parse_fnl(current: _FileBuilder, value: str, lineno: int) -> None:
    match = _FNL.fullmatch(value)
    if not match:
        raise current.fail(lineno, f"FNL needs index,line[,end]: {_excerpt(value)}")
    end = _number(match[3], lineno, "FNL end line", current.source) if match[3] else None
    index = _number(match[1], lineno, "FNL index", current.source)
    current.fnl[index] = (_number(match[2], lineno, "FNL line", current.source), end)


def _parse_fna(current: _FileBuilder, value: str, lineno: int) -> None:
    match = _FNA.fullmatch(value)
    problem = f"FNA needs a known index,count,name: {_excerpt(value)}"
    if not match:
        raise current.fail(lineno, problem)
    index = _number(match[1], lineno, "FNA index", current.source)
    if index not in current.fnl:
        raise current.fail(lineno, problem)
    name, count = match[3], _number(match[2], lineno, "FNA count", current.source)
    current.fn_lines[name] = current.fnl[index]
    current.fn_hits[name] = current.fn_hits.get(name, 0) + count


def _parse_brda(current: _FileBuilder, value: str, lineno: int) -> None:
    """``BRDA:line,[e]block,branch,taken``, split at the last comma as lcov 2 splits it."""
    match = _BRDA.fullmatch(value)
    if not match:
        raise current.fail(lineno, f"BRDA needs line,block,branch,taken: {_excerpt(value)}")
    line = _number(match[1], lineno, "BRDA line", current.source)
    block = _number(match[3], lineno, "BRDA block", current.source)
    taken = None if match[5] == "-" else _number(match[5], lineno, "BRDA taken", current.source)
    key = (line, block)
    # A number is a branch id (lcov 1.x); anything else, '²' included, lcov 2's description.
    if match[4].isascii() and match[4].isdigit():
        branch, description = _number(match[4], lineno, "BRDA branch", current.source), ""
    else:
        branch, description = current.branch_ids.get(key, 0), match[4]
    current.branch_ids[key] = branch + 1
    branch_record = BranchRecord(line, block, branch, taken, description, exception=match[2] == "e")
    current.record.branches.append(branch_record)


def _parse_mcdc(current: _FileBuilder, value: str, lineno: int) -> None:
    """``MCDC:line,group size,t|f,count,index,expression``, with lcov 2.3.1's own pattern."""
    match = _MCDC.fullmatch(value)
    if not match:
        reason = f"MCDC needs line,group size,t|f,count,index,expression: {_excerpt(value)}"
        raise current.fail(lineno, reason)
    line, size, count, index = (
        _number(match[i], lineno, f"MCDC {what}", current.source) for i, what in _MCDC_NUMBERS
    )
    current.mcdc.append(McdcRecord(line, size, match[3] == "t", count, index, match[6]))


_MCDC_NUMBERS = ((1, "line"), (2, "group size"), (4, "count"), (5, "index"))
_RECORDS: dict[str, Callable[[_FileBuilder, str, int], None]] = {
    "DA": _parse_da,
    "FN": _parse_fn,
    "FNDA": _parse_fnda,
    "FNL": _parse_fnl,
    "FNA": _parse_fna,
    "BRDA": _parse_brda,
    "MCDC": _parse_mcdc,
}


def parse(text: str, source: str = "<tracefile>") -> list[ParsedRecord]:
    """Read a whole tracefile held in a string."""
    return list(iter_parse(text.splitlines(), source))


def unique_test_names(labels: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Give each label (a pytest node id) an LCOV test name no other label gets.

    LCOV names allow only ``\\w``, so ``t.py::f[1-2]`` and ``t.py::f[1_2]``
    read alike: the later one in sorted order gets ``_2``, and so on, skipping
    any name already taken (a reserved one, or another label's own name).

    Each base name remembers the next number to try, so thousands of labels
    that read alike cost linear time, not one pass over the taken numbers each.
    Every name ``base_k`` below that number is taken, so the names are those of
    trying ``_2``, ``_3``, ... afresh for each label.
    """
    used = set(reserved)
    next_number: dict[str, int] = {}
    names = {}
    for label in sorted(set(labels)):
        base = safe_test_name(label)
        name, number = base, next_number.get(base, 2)
        while name in used:
            name, number = f"{base}_{number}", number + 1
        next_number[base] = number
        used.add(name)
        names[label] = name
    return names


def format_descriptions(descriptions: Iterable[tuple[str, str]]) -> str:
    """genhtml's ``--description-file``: a ``TN:`` line and a ``TD:`` line per test."""
    return "".join(f"TN:{name}\nTD:{safe_field(text)}\n" for name, text in descriptions)
