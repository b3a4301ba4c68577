"""The job summary: Markdown for GitHub's job page, bounded, and safe whatever the file names."""

from __future__ import annotations

import os
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_lcov.diff import DiffCoverage, FileDiffCoverage
from pytest_lcov.job_summary import (
    DEFAULT_MAX_BYTES,
    append_summary,
    job_summary,
    markdown_code,
    markdown_text,
    rows_from_records,
)
from pytest_lcov.model import FileRecord, FileRow, Totals
from pytest_lcov.report import FileSummary
from pytest_lcov.tracefile import safe_field

TOTALS = Totals(
    lines_found=31, lines_hit=26, functions_found=5, functions_hit=4, branches_found=14, branches_hit=10
)
ROWS = [
    FileRow("shop/cart.py", Totals(lines_found=19, lines_hit=18), "7"),
    FileRow("shop/__init__.py", Totals(), ""),
    FileRow("shop/pricing.py", Totals(lines_found=12, lines_hit=8), "10, 21-23"),
]
DIFF = DiffCoverage(
    (
        FileDiffCoverage(
            "/r/shop/pricing.py", "shop/pricing.py", (9, 10, 21), (10, 21), (9,), ((10, 10), (21, 21))
        ),
    ),
    "origin/main",
)
MISSED = "Files with the most missed lines"


# --- reading Markdown tables back, as GFM does --------------------------------------------------


def split_row(line: str) -> list[str]:
    """A table row's cells, split as cmark-gfm and markdown-it split them: a pipe right after a
    backslash is part of the cell (and loses the backslash), any other pipe separates cells.
    """
    assert line.startswith("|") and line.endswith("|"), line
    cells, current, index = [], "", 1
    while index < len(line) - 1:
        if line[index] == "\\" and line[index + 1] == "|":
            current, index = current + "|", index + 2
        elif line[index] == "|":
            cells.append(current.strip())
            current, index = "", index + 1
        else:
            current, index = current + line[index], index + 1
    return [*cells, current.strip()]


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table of `markdown`, checked: blank lines around it, a delimiter row, and every row
    with as many cells as the header; a line starting with a pipe anywhere else fails.
    """
    assert markdown.endswith("\n")
    lines = markdown[:-1].split("\n")
    found: list[list[list[str]]] = []
    index = 0
    while index < len(lines):
        if not lines[index].startswith("|"):
            index += 1
            continue
        assert index == 0 or lines[index - 1] == "", f"no blank line before the table at line {index + 1}"
        header = split_row(lines[index])
        delimiter = split_row(lines[index + 1])
        assert len(delimiter) == len(header) and all(re.fullmatch(":?-+:?", cell) for cell in delimiter)
        rows = []
        index += 2
        while index < len(lines) and lines[index].startswith("|"):
            row = split_row(lines[index])
            assert len(row) == len(header), f"{len(row)} cells under {len(header)} columns: {lines[index]!r}"
            rows.append(row)
            index += 1
        assert index == len(lines) or lines[index] == "", f"no blank line after the table: {lines[index]!r}"
        found.append([header, *rows])
    return found


def code_span_text(cell: str) -> str:
    """What a code span cell shows: valid only with a fence no backtick run inside matches."""
    match = re.fullmatch(r"(`+) (.*) \1", cell, flags=re.DOTALL)
    assert match, cell
    runs = {len(run) for run in re.findall("`+", match[2])}
    assert len(match[1]) not in runs, cell
    return match[2]


# --- the page -----------------------------------------------------------------------------------


def test_a_small_known_input_by_hand() -> None:
    assert job_summary(TOTALS, ROWS, DIFF) == (
        "## Coverage\n"
        "\n"
        "|  | Hit | Found | Cover |\n"
        "| :-- | --: | --: | --: |\n"
        "| lines | 26 | 31 | 83.9% |\n"  # 26/31 = 83.87%
        "| functions | 4 | 5 | 80.0% |\n"
        "| branches | 10 | 14 | 71.4% |\n"  # 10/14 = 71.43%
        "\n"
        "### Diff coverage since ` origin/main `\n"
        "\n"
        "**1** of **3** changed statements ran (**33.3%**). Never ran: 2. Branch lines partly missed: 1.\n"
        "\n"
        "| File | Changed statements | Ran | Never ran | Branches partly missed |\n"
        "| :-- | --: | --: | :-- | :-- |\n"
        "| ` shop/pricing.py ` | 3 | 1 | 10, 21 | 9 |\n"
        "\n"
        "### Files with the most missed lines\n"
        "\n"
        "| File | Lines | Cover | Missed | Missing |\n"
        "| :-- | --: | --: | --: | :-- |\n"
        "| ` shop/pricing.py ` | 8/12 | 66.7% | 4 | 10, 21-23 |\n"  # 4 missed: first
        "| ` shop/cart.py ` | 18/19 | 94.7% | 1 | 7 |\n"  # 18/19 = 94.74%; __init__ misses none
    )


def test_without_branches_or_diff_and_with_few_files() -> None:
    page = job_summary(
        Totals(lines_found=4, lines_hit=4), [FileRow("a.py", Totals(4, 4), "")], title="My project"
    )
    assert page == (
        "## My project\n"
        "\n"
        "|  | Hit | Found | Cover |\n"
        "| :-- | --: | --: | --: |\n"
        "| lines | 4 | 4 | 100.0% |\n"
        "| functions | 0 | 0 | - |\n"
    )


def test_a_change_with_no_measured_statement() -> None:
    page = job_summary(TOTALS, diff=DiffCoverage((), "main"))
    assert page.endswith("### Diff coverage since ` main `\n\nNo changed line is a measured statement.\n")


def test_top_files_and_their_ranges_are_capped() -> None:
    many_ranges = ", ".join(str(line) for line in range(1, 40, 2))  # 20 ranges
    rows = [
        FileRow(f"m{n}.py", Totals(lines_found=100, lines_hit=100 - n), many_ranges) for n in range(1, 13)
    ]
    [_, top] = tables(job_summary(TOTALS, rows, top=3))
    assert [row[0] for row in top[1:]] == ["` m12.py `", "` m11.py `", "` m10.py `"]
    assert top[1][4] == "1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23 … \\(\\+8 more\\)"
    assert job_summary(TOTALS, rows, top=3).endswith("\n\n9 more files miss lines.\n")


def test_the_report_failed() -> None:
    page = job_summary(
        TOTALS, ROWS, DIFF, failure="pytest-lcov: no tracefile written: out/lcov.info is a folder"
    )
    assert (
        page == "## Coverage\n\n**pytest\\-lcov\\: no tracefile written\\: out\\/lcov\\.info is a folder**\n"
    )
    assert job_summary(None, failure="") == "## Coverage\n\n**the report failed**\n"


def test_failure_lines_and_titles_cannot_carry_markup() -> None:
    page = job_summary(
        None, failure="x\n| a | b |\n<img src=x onerror=alert(1)> [l](http://e) `c`", title="# T *"
    )
    assert page == (
        "## \\# T \\*\n\n"
        "**x\\?\\| a \\| b \\|\\?\\<img src\\=x onerror\\=alert\\(1\\)\\>"
        " \\[l\\]\\(http\\:\\/\\/e\\) \\`c\\`**\n"
    )
    assert tables(page) == []


def test_markdown_text_and_code() -> None:
    # the newline becomes "?", itself punctuation, so escaped too
    assert markdown_text("a*b_c<d>|e`f\ng") == "a\\*b\\_c\\<d\\>\\|e\\`f\\?g"
    assert markdown_code("plain.py") == "` plain.py `"
    assert markdown_code("a|b") == "` a\\|b `"
    assert markdown_code("x``y`") == "``` x``y` ```"  # longest run 2: a fence of 3
    assert markdown_code("`edge`") == "`` `edge` ``"  # the spaces let it start and end with a backtick


def test_the_reports_own_rows_work_as_they_are() -> None:
    rows = [FileSummary("pkg/a.py", Totals(lines_found=3, lines_hit=1), "2, 3")]
    assert tables(job_summary(TOTALS, rows))[1][1] == ["` pkg/a.py `", "1/3", "33.3%", "2", "2, 3"]


def test_rows_from_records() -> None:
    record = FileRecord("pkg/m.py", lines={1: 1, 2: 0, 3: 0, 5: 0, 6: 1, 8: 0})
    [row] = rows_from_records([record])
    # 2, 3 and 5 never ran, 4 is no statement: one range; 6 ran between 5 and 8.
    assert row == FileRow("pkg/m.py", Totals(lines_found=6, lines_hit=2), "2-5, 8")  # as the table writes it
    assert tables(job_summary(TOTALS, [row]))[1][1] == ["` pkg/m.py `", "2/6", "33.3%", "4", "2-5, 8"]


# --- hostile names and the size bound -----------------------------------------------------------

HOSTILE = [
    "a|b.py",
    "back\\|slash.py",
    "ends with backslash\\",
    "tick`s``.py",
    "```fence```.py",
    "`edge`",
    "new\nline\r.py",
    "<script>alert(1)</script>.py",
    "emoji 😀🎉 ünï.py",
    "**bold** [link](http://x) @user #1 $x$ :smile: www.example.com.py",
    "\u202eyp.exe",  # a right-to-left override
    os.fsdecode(b"caf\xe9.py"),  # a Latin-1 name on a UTF-8 system: a lone surrogate
]


def hostile_rows(count: int) -> list[FileRow]:
    rows = [FileRow(name, Totals(lines_found=50, lines_hit=10), "1-40") for name in HOSTILE]
    rows.append(FileRow("long/" + "x" * 5000 + "|`😀.py", Totals(lines_found=50, lines_hit=20), "1-30"))
    rows += [
        FileRow(f"gen/{n}😀|`<{'é' * 50}.py", Totals(lines_found=1000, lines_hit=n % 900), "1-2, 4")
        for n in range(count)
    ]
    return rows


def test_hostile_names_stay_inside_their_cells() -> None:
    page = job_summary(TOTALS, hostile_rows(0), top=100)
    [_, top] = tables(page)
    shown = {code_span_text(row[0]) for row in top[1:]}
    for name in HOSTILE:
        assert safe_field(name) in shown, name
    [long] = [text for text in shown if text.startswith("long/")]
    assert len(long) == 160 and "…" in long and long.endswith("x|`😀.py")
    assert "\ufffd" not in page
    page.encode("utf-8")  # no lone surrogate left


@pytest.mark.parametrize("max_bytes", [DEFAULT_MAX_BYTES, 8192, 1024])
def test_the_size_bound_holds_and_the_cut_is_said(max_bytes: int) -> None:
    rows = hostile_rows(3000)
    page = job_summary(TOTALS, rows, DIFF, top=len(rows), max_bytes=max_bytes)
    size = len(page.encode("utf-8"))
    assert size <= max_bytes
    found = tables(page)  # every row kept is whole
    kept_rows = sum(len(table) - 1 for table in found if table[0][0] == "File" and table[0][1] == "Lines")
    last = page.rstrip("\n").rsplit("\n", 1)[-1]
    assert last.startswith(f"*Cut to stay under {max_bytes:,} bytes; left out: ")
    if kept_rows:
        assert f"{len(rows) - kept_rows} of {len(rows)} rows of “{MISSED}”" in last
    else:
        assert f"“{MISSED}”" in last
    assert "\ufffd" not in page
    if max_bytes == DEFAULT_MAX_BYTES:
        assert size > max_bytes - 2048  # not cut far shorter than it had to be


def test_a_page_that_fits_is_not_cut() -> None:
    rows = ROWS + [FileRow(f"pkg/m{n}.py", Totals(lines_found=10, lines_hit=5), "1-5") for n in range(30)]
    page = job_summary(TOTALS, rows, DIFF, top=100)
    size = len(page.encode())
    assert size > 1024
    assert job_summary(TOTALS, rows, DIFF, top=100, max_bytes=size) == page
    smaller = job_summary(TOTALS, rows, DIFF, top=100, max_bytes=size - 1)
    assert len(smaller.encode()) <= size - 1
    assert "*Cut to stay under" in smaller


def test_a_bound_too_small_for_the_note_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1024"):
        job_summary(TOTALS, max_bytes=1000)


class HtmlTables(HTMLParser):
    """Tables of rendered HTML: per row, per cell, the text and the tags inside it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[tuple[str, list[str]]]]] = []
        self.cell: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ("", [])
        elif self.cell is not None:
            self.cell[1].append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(self.cell)
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell = (self.cell[0] + data, self.cell[1])


def test_with_a_markdown_library_if_one_is_installed() -> None:
    markdown_it = pytest.importorskip("markdown_it", reason="no Markdown library installed")
    page = job_summary(TOTALS, hostile_rows(0), DIFF, top=100)
    parser = HtmlTables()
    parser.feed(markdown_it.MarkdownIt("commonmark").enable("table").render(page))
    totals, changed, top = parser.tables
    for table in parser.tables:
        assert {len(row) for row in table} == {len(table[0])}
    assert [cell for cell, _ in totals[1]] == ["lines", "26", "31", "83.9%"]
    assert changed[1][0] == ("shop/pricing.py", ["code"])
    names = top[1:]
    assert all(row[0][1] == ["code"] and all(not tags for _, tags in row[1:]) for row in names)
    assert {row[0][0] for row in names} >= {safe_field(name) for name in HOSTILE}


# --- writing GITHUB_STEP_SUMMARY ----------------------------------------------------------------


def test_appends_after_what_is_there(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("earlier step output\n")
    assert append_summary("## Coverage\n\né\n", {"GITHUB_STEP_SUMMARY": str(target)}) is None
    assert target.read_text(encoding="utf-8") == "earlier step output\n\n## Coverage\n\né\n"
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    assert append_summary("## A\n", {"GITHUB_STEP_SUMMARY": str(empty)}) is None
    assert empty.read_bytes() == b"## A\n"


def test_nothing_happens_without_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_summary("## A\n") is None
    assert append_summary("## A\n", {"GITHUB_STEP_SUMMARY": ""}) is None
    assert list(tmp_path.iterdir()) == []


def test_reads_the_process_environment_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "s.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert append_summary("x\n") is None
    assert target.read_text() == "x\n"


def test_errors_are_one_line_returned_never_raised(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    error = append_summary("x", {"GITHUB_STEP_SUMMARY": str(folder)})
    assert error == f"job summary not written to {folder}: Is a directory"
    missing = tmp_path / "no" / "such" / "file.md"
    error = append_summary("x", {"GITHUB_STEP_SUMMARY": str(missing)})
    assert error == f"job summary not written to {missing}: No such file or directory"
    odd = tmp_path / "odd\nname"
    odd.mkdir()
    error = append_summary("x", {"GITHUB_STEP_SUMMARY": str(odd)})
    assert error is not None and "\n" not in error


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_without_a_reader_fails_at_once(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    error = append_summary("x", {"GITHUB_STEP_SUMMARY": str(pipe)})
    assert error == f"job summary not written to {pipe}: No such device or address"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_with_a_reader_gets_everything(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    ready = threading.Event()

    def read() -> None:
        with open(pipe, "rb") as handle:
            ready.set()
            received.append(handle.read())

    reader = threading.Thread(target=read)
    reader.start()
    fd = os.open(pipe, os.O_WRONLY)  # wait until the reader has it open too
    ready.wait(10)
    big = "é" * 200_000  # more than a pipe holds at once
    try:
        assert append_summary(big, {"GITHUB_STEP_SUMMARY": str(pipe)}) is None
    finally:
        os.close(fd)
    reader.join(10)
    assert received == [big.encode("utf-8")]


def test_a_summary_that_would_pass_githubs_limit_is_not_written(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_bytes(b"x" * (1024 * 1024 - 100))
    error = append_summary("y" * 200, {"GITHUB_STEP_SUMMARY": str(target)})
    assert error == (
        f"job summary not written to {target}: it would take the step's summary over GitHub's 1 MiB"
    )
    assert target.stat().st_size == 1024 * 1024 - 100
    empty = tmp_path / "empty.md"
    assert append_summary("z" * (1024 * 1024 + 1), {"GITHUB_STEP_SUMMARY": str(empty)}) is not None
    assert empty.read_bytes() == b""


def test_unencodable_text_is_written_replaced_not_raised(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    assert append_summary(os.fsdecode(b"caf\xe9\n"), {"GITHUB_STEP_SUMMARY": str(target)}) is None
    assert target.read_bytes() == b"caf?\n"
