"""A short Markdown summary for the job page of a CI run (GitHub's ``GITHUB_STEP_SUMMARY``).

What a reviewer looks at first: the totals, the coverage of the change, and
the files that miss the most.  The page is bounded (GitHub refuses a step's
summary over 1 MiB, and a long one buries everything else), cut only between
table rows and blocks, and says what it left out.  File names are data, not
Markdown: each is a code span, whose content Markdown and GitHub leave as it
is (no emphasis, links, HTML, mentions), with its pipes escaped so that no name
can end a table cell and a fence longer than any run of backticks in it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pytest_lcov.diff import DiffCoverage
from pytest_lcov.differential import CATEGORIES, METRICS, DifferentialReport
from pytest_lcov.model import FileRecord, FileRow, Totals, format_ranges, percent
from pytest_lcov.tracefile import safe_field

DEFAULT_MAX_BYTES = 64 * 1024
GITHUB_LIMIT = 1024 * 1024  # GitHub drops a step's whole summary when its file is larger
MIN_MAX_BYTES = 1024
NOTE_RESERVE = 600  # bytes kept for the note that says what was cut
DEFAULT_TITLE = "Coverage"
TOP_FILES = 10
MAX_RANGES = 12
MAX_NAME = 160  # characters of a file name shown; longer ones keep their start and end
MAX_FAILURE = 1000
PUNCTUATION = frozenset(string.punctuation)
RANGE = re.compile(r"[0-9]+(?:-[0-9]+)?")  # needs no escaping; anything else in a range cell is escaped
MISSED_FILES = "Files with the most missed lines"
CHANGED_FILES = "Changed files"


def rows_from_records(records: Iterable[FileRecord]) -> list[FileRow]:
    """Rows for `job_summary` from records, named by their ``SF`` paths.

    Missed ranges go on across lines that are not statements, as the
    terminal table's do.
    """
    rows = []
    for record in records:
        missed = [line for line, count in record.lines.items() if not count]
        rows.append(
            FileRow(record.path, record.totals(), format_ranges(missed, record.lines, separator=", "))
        )
    return rows


def markdown_text(text: str) -> str:
    """`text` as literal Markdown text, safe in a table cell.

    Non-printable characters (newlines, tabs, bidirectional overrides, lone
    surrogates) become ``?``, as in the tracefile; every ASCII punctuation
    character is backslash-escaped, which CommonMark reads as that very
    character: ``|`` cannot end the cell, nor backticks, brackets, ``<``,
    ``*``, ``$`` or ``:`` make code, links, HTML, emphasis, math or emoji.
    """
    return "".join("\\" + ch if ch in PUNCTUATION else ch for ch in safe_field(text))


def markdown_code(text: str) -> str:
    """`text` as a Markdown code span that shows it as it is, safe in a table cell.

    Non-printable characters become ``?``.  A pipe is escaped as ``\\|``,
    which GFM tables read as a pipe even inside code (cmark-gfm and
    markdown-it alike take any pipe right after a backslash as escaped).
    The fence is one backtick longer than the longest run in `text`, and a
    space on each side, which CommonMark removes, lets `text` start or end
    with a backtick.
    """
    content = safe_field(text).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", content)), default=0) + 1)
    return f"{fence} {content} {fence}"


def _shorten(text: str, limit: int) -> str:
    """At most `limit` characters, keeping the end (a file's own name) and marking the cut with ``…``."""
    if len(text) <= limit:
        return text
    head = limit // 3
    return text[:head] + "…" + text[len(text) - (limit - head - 1) :]


def _cap_ranges(missing: str, limit: int = MAX_RANGES) -> str:
    """The first `limit` ranges of ``1-3, 7`` (either separator), and how many more there are."""
    ranges = [part.strip() for part in missing.split(",") if part.strip()]
    shown = ", ".join(
        part if RANGE.fullmatch(part) else markdown_text(_shorten(part, 40)) for part in ranges[:limit]
    )
    if len(ranges) > limit:
        shown += f" … \\(\\+{len(ranges) - limit} more\\)"
    return shown


def _rate(hit: int, found: int) -> str:
    return f"{percent(hit, found)}%" if found else "-"


# --- the page, as blocks that are kept whole or cut between rows ---------------------------------


@dataclass
class _Block:
    """A paragraph (a head alone) or a table (a head, cut only between its rows).

    `section` names it in the note that says what a cut left out.
    """

    section: str
    head: str
    rows: list[str] = field(default_factory=list)


def _table(
    section: str, header: Sequence[str], align: Sequence[str], rows: Iterable[Sequence[str]]
) -> _Block:
    """A GFM table: header and delimiter rows as one head, so that no cut separates them."""
    head = "| " + " | ".join(header) + " |\n| " + " | ".join(align) + " |"
    return _Block(section, head, ["| " + " | ".join(row) + " |" for row in rows])


def _totals_block(totals: Totals) -> _Block:
    """Lines and functions always; branches only when they were measured."""
    metrics = [
        ("lines", totals.lines_hit, totals.lines_found),
        ("functions", totals.functions_hit, totals.functions_found),
    ]
    if totals.branches_found:
        metrics.append(("branches", totals.branches_hit, totals.branches_found))
    rows = [(metric, str(hit), str(found), _rate(hit, found)) for metric, hit, found in metrics]
    return _table("Totals", ("", "Hit", "Found", "Cover"), (":--", "--:", "--:", "--:"), rows)


def _categories_block(found: DifferentialReport) -> _Block:
    """genhtml 2.x's differential categories against the baseline: one row per metric, one column each."""
    counts = found.totals
    used = [category for category in CATEGORIES if any(counts[metric].get(category) for metric in METRICS)]
    rows = [
        (metric.capitalize(), *(str(counts[metric].get(category, 0)) for category in used))
        for metric in METRICS
    ]
    return _table(
        "Against the baseline",
        ("Against the baseline", *used),
        (":--", *("--:" for _ in used)),
        rows,
    )


def _diff_blocks(diff: DiffCoverage) -> list[_Block]:
    """The change's rate in a sentence, then one row per changed file of the measured source."""
    since = f" since {markdown_code(_shorten(diff.ref, MAX_NAME))}" if diff.ref else ""
    heading = _Block("Diff coverage", f"### Diff coverage{since}")
    if not diff.statements:
        return [heading, _Block("Diff coverage", "No changed line is a measured statement.")]
    sentence = (
        f"**{diff.covered}** of **{diff.statements}** changed statements ran (**{diff.percent}%**). "
        f"Never ran: {diff.missing}"
    )
    if diff.partial:
        sentence += f". Branch lines partly missed: {diff.partial}"
    rows = [
        (
            markdown_code(_shorten(entry.name, MAX_NAME)),
            str(len(entry.statements)),
            str(entry.covered),
            _cap_ranges(entry.missing_ranges),
            _cap_ranges(format_ranges(entry.partial)),
        )
        for entry in diff.files
        if entry.statements
    ]
    table = _table(
        CHANGED_FILES,
        ("File", "Changed statements", "Ran", "Never ran", "Branches partly missed"),
        (":--", "--:", "--:", ":--", ":--"),
        rows,
    )
    return [heading, _Block("Diff coverage", sentence + "."), table]


def _missed_blocks(files: Iterable[FileRow], top: int) -> list[_Block]:
    """The `top` files with the most missed lines, most first, then by name."""
    missed = [row for row in files if row.totals.lines_found > row.totals.lines_hit]
    if not missed or top <= 0:
        return []
    missed.sort(key=lambda row: (row.totals.lines_hit - row.totals.lines_found, row.path))
    rows = [
        (
            markdown_code(_shorten(row.path, MAX_NAME)),
            f"{row.totals.lines_hit}/{row.totals.lines_found}",
            _rate(row.totals.lines_hit, row.totals.lines_found),
            str(row.totals.lines_found - row.totals.lines_hit),
            _cap_ranges(row.missing),
        )
        for row in missed[:top]
    ]
    header = ("File", "Lines", "Cover", "Missed", "Missing")
    table = _table(MISSED_FILES, header, (":--", "--:", "--:", "--:", ":--"), rows)
    blocks = [_Block(MISSED_FILES, f"### {MISSED_FILES}"), table]
    if len(missed) > top:
        blocks.append(_Block(MISSED_FILES, f"{len(missed) - top} more files miss lines."))
    return blocks


def job_summary(
    totals: Totals | None,
    files: Iterable[FileRow] = (),
    diff: DiffCoverage | None = None,
    failure: str | None = None,
    *,
    differential: DifferentialReport | None = None,
    title: str = DEFAULT_TITLE,
    top: int = TOP_FILES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """The job page's Markdown: totals, the change's coverage, the files missing most; at most `max_bytes`.

    With `failure` (the report failed), only the heading and that line: no
    numbers from a report that was not written.  When the page would be
    longer than `max_bytes` (UTF-8), whole table rows and blocks are left
    out from the end and a closing note says which.  `max_bytes` below 1024
    is refused (ValueError): the heading and the note must fit.
    """
    if max_bytes < MIN_MAX_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_MAX_BYTES}, not {max_bytes}")
    blocks = [_Block("heading", f"## {markdown_text(_shorten(title, MAX_NAME))}")]
    if failure is not None:
        line = markdown_text(_shorten(failure, MAX_FAILURE)) or "the report failed"
        blocks.append(_Block("failure", f"**{line}**"))
    else:
        if totals is not None:
            blocks.append(_totals_block(totals))
        if diff is not None:
            blocks.extend(_diff_blocks(diff))
        if differential is not None:
            blocks.append(_categories_block(differential))
        blocks.extend(_missed_blocks(files, top))
    return _fit(blocks, max_bytes)


def _size(text: str) -> int:
    return len(text.encode("utf-8", errors="replace"))


def _render(blocks: Iterable[_Block]) -> str:
    """Blocks separated by blank lines: a table must not run into the paragraph after it."""
    return "\n\n".join("\n".join([block.head, *block.rows]) for block in blocks) + "\n"


def _fit(blocks: list[_Block], max_bytes: int) -> str:
    """The page whole when it fits; otherwise what fits of it, cut between rows, and a note.

    Sizes count the separators `_render` adds: each kept block costs its
    head and a blank line, each row itself and a newline.  Once something is
    cut, everything after it goes too, so the page never skips ahead.
    """
    page = _render(blocks)
    if _size(page) <= max_bytes:
        return page
    budget = max_bytes - NOTE_RESERVE
    kept: list[_Block] = []
    tallies: dict[str, _Tally] = {}
    used = 0
    cut = False
    for block in blocks:
        tally = tallies.setdefault(block.section, _Tally())
        tally.rows += len(block.rows)
        cost = _size(block.head) + 2 + (_size(block.rows[0]) + 1 if block.rows else 0)
        if cut or used + cost > budget:
            cut = True
            tally.rows_out += len(block.rows)
            tally.blocks_out += 1
            continue
        fitted = _Block(block.section, block.head)
        used += _size(block.head) + 2
        for row in block.rows:
            if used + _size(row) + 1 > budget:
                cut = True
                break
            fitted.rows.append(row)
            used += _size(row) + 1
        tally.rows_out += len(block.rows) - len(fitted.rows)
        tally.kept = True
        kept.append(fitted)
    return _render([*kept, _Block("note", _note(tallies, max_bytes))])


@dataclass
class _Tally:
    """What one section had and lost."""

    rows: int = 0
    rows_out: int = 0
    blocks_out: int = 0
    kept: bool = False


def _note(tallies: Mapping[str, _Tally], max_bytes: int) -> str:
    """What was left out, by section: rows of its table, its end, or all of it."""
    parts = []
    for section, tally in tallies.items():
        if tally.rows_out:
            parts.append(f"{tally.rows_out} of {tally.rows} rows of “{section}”")
        elif tally.blocks_out:
            parts.append(f"the end of “{section}”" if tally.kept else f"“{section}”")
    return f"*Cut to stay under {max_bytes:,} bytes; left out: {'; '.join(parts)}.*"


# --- writing it where GitHub reads it ------------------------------------------------------------


def append_summary(markdown: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Append `markdown` to the file named by ``GITHUB_STEP_SUMMARY``; an error is one line, returned.

    Nothing happens (None) when the variable is unset or empty.  The file is
    only ever appended to, in UTF-8, after a blank line when it already has
    content; a pipe without a reader fails at once instead of hanging; and a
    summary that would take the file over GitHub's 1 MiB per step is not
    written, since GitHub would then show none of the step's summary.
    """
    env = os.environ if environ is None else environ
    path = env.get("GITHUB_STEP_SUMMARY", "")
    if not path:
        return None
    data = markdown.encode("utf-8", errors="replace")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        return _write_error(path, exc)
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            data = b"\n" + data if info.st_size else data
            if info.st_size + len(data) > GITHUB_LIMIT:
                return (
                    f"job summary not written to {safe_field(path)}: "
                    "it would take the step's summary over GitHub's 1 MiB"
                )
        else:
            _blocking(fd)
        _write_all(fd, data)
    except OSError as exc:
        return _write_error(path, exc)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return None


def _blocking(fd: int) -> None:
    """Let writes to a pipe or device wait for room: opening without blocking was only against a hang."""
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_error(path: str, exc: OSError) -> str:
    return f"job summary not written to {safe_field(path)}: {exc.strerror or exc}"
