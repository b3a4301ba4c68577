"""The in-memory LCOV model: what one tracefile section says about one source file.

The model knows nothing of coverage.py or of the text format, so the collector,
the writer and the parser can each be read and tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
