"""The writer and parser alone: pure text in, pure text out."""

from __future__ import annotations

import pytest

from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord, percent
from pytest_lcov.tracefile import LcovParseError, dumps, format_record, parse, safe_test_name

RECORD = FileRecord(
    "pkg/mod.py",
    lines={1: 1, 3: 1, 4: 0, 6: 1, 7: 1},
    functions=[
        FunctionRecord("f", 4, 4, 0),
        FunctionRecord("C.g", 7, 9, 1),
        FunctionRecord("one", 6, None, 1),
    ],
    branches=[
        BranchRecord(3, 0, 0, 0, "jump to line 4"),
        BranchRecord(3, 0, 1, 0, "jump to the function exit"),
        BranchRecord(3, 0, 2, 1, "every run raised", exception=True),
        BranchRecord(4, 0, 0, None, "jump to line 5"),
        BranchRecord(4, 0, 1, None, "jump to line 6"),
    ],
)


def test_compat_record_reads_as_lcov_1_does() -> None:
    # Written out by hand from the LCOV 1.x format: no FN end lines, numeric
    # branch ids, the raising line's taken way out as a numeric block of its own.
    assert format_record(RECORD, "compat") == (
        "SF:pkg/mod.py\n"
        "FN:4,f\nFN:7,C.g\nFN:6,one\n"
        "FNDA:0,f\nFNDA:1,C.g\nFNDA:1,one\n"
        "FNF:3\nFNH:2\n"
        "BRDA:3,0,0,0\nBRDA:3,0,1,0\nBRDA:3,1,0,1\nBRDA:4,0,0,-\nBRDA:4,0,1,-\n"
        "BRF:5\nBRH:1\n"
        "DA:1,1\nDA:3,1\nDA:4,0\nDA:6,1\nDA:7,1\n"
        "LF:5\nLH:4\n"
        "end_of_record\n"
    )


def test_lcov2_record_has_end_lines_descriptions_and_exception_branch() -> None:
    text = format_record(RECORD, "lcov2")
    assert "FN:4,4,f\n" in text
    assert "FN:7,9,C.g\n" in text
    assert "FN:6,one\n" in text  # end unknown: written without one
    assert "BRDA:3,0,jump to line 4,0\n" in text
    assert "BRDA:3,e0,every run raised,1\n" in text
    assert "BRDA:4,0,jump to line 6,-\n" in text


def test_lcov2_round_trip_is_lossless() -> None:
    [parsed] = parse(dumps([("t1", [RECORD])], "lcov2"))
    assert parsed.test_name == "t1"
    assert parsed.record == RECORD
    assert parsed.declared == {"FNF": 3, "FNH": 2, "BRF": 5, "BRH": 1, "LF": 5, "LH": 4}


def test_compat_round_trip_keeps_every_count() -> None:
    [parsed] = parse(dumps([("t1", [RECORD])], "compat"))
    assert parsed.record.lines == RECORD.lines
    assert parsed.record.totals() == RECORD.totals()
    assert [(f.name, f.start, f.hits) for f in parsed.record.functions] == [
        (f.name, f.start, f.hits) for f in RECORD.functions
    ]


def test_checksums_round_trip() -> None:
    record = FileRecord("a.py", lines={1: 1}, checksums={1: "abc+/"})
    text = format_record(record)
    assert "DA:1,1,abc+/\n" in text
    assert parse("TN:\n" + text)[0].record.checksums == {1: "abc+/"}


def test_file_names_cannot_forge_records() -> None:
    record = FileRecord("evil\nDA:1,99\nend_of_record.py", lines={1: 0})
    [parsed] = parse(format_record(record))
    assert parsed.record.path == "evil?DA:1,99?end_of_record.py"
    assert parsed.record.lines == {1: 0}


def test_branch_descriptions_never_split_the_record() -> None:
    record = FileRecord(
        "a.py", lines={1: 1}, branches=[BranchRecord(1, 0, 0, 1, "a, b"), BranchRecord(1, 0, 1, 0, "7")]
    )
    text = format_record(record, "lcov2")
    assert "BRDA:1,0,a; b,1\n" in text
    assert "BRDA:1,0,branch 1,0\n" in text


@pytest.mark.parametrize(
    ("node_id", "name"),
    [("tests/t.py::test_a[1-2]", "tests_t_py__test_a_1_2_"), ("", "pytest"), ("café", "caf_")],
)
def test_test_names_hold_only_word_characters(node_id: str, name: str) -> None:
    assert safe_test_name(node_id) == name


@pytest.mark.parametrize(
    ("text", "lineno", "reason"),
    [
        ("TN:x\nSF:a.py\nDA:1,x\nend_of_record\n", 3, "DA count is not a whole number"),
        ("SF:a.py\nDA:1,1\n", 3, "missing end_of_record"),
        ("DA:1,1\n", 1, "outside a file section"),
        ("SF:a.py\nBOGUS:1\nend_of_record\n", 2, "unknown record 'BOGUS'"),
        ("SF:a.py\nhello world\n", 2, "not an LCOV record"),
        ("SF:a.py\nFNDA:1,f\nend_of_record\n", 3, "FNDA for unknown function 'f'"),
        ("SF:a.py\nBRDA:1,0,0\nend_of_record\n", 2, "BRDA needs"),
        ("SF:a.py\nSF:b.py\n", 2, "SF inside a file section"),
    ],
)
def test_parse_errors_name_the_line_and_the_reason(text: str, lineno: int, reason: str) -> None:
    with pytest.raises(LcovParseError) as info:
        parse(text, "in.info")
    assert info.value.lineno == lineno
    assert reason in str(info.value)
    assert str(info.value).startswith(f"in.info:{lineno}: ")


def test_parser_reads_lcov_2_2_function_records() -> None:
    text = "SF:a.c\nFNL:0,3,9\nFNA:0,4,main\nDA:3,4\nend_of_record\n"
    [parsed] = parse(text)
    assert parsed.record.functions == [FunctionRecord("main", 3, 9, 4)]


@pytest.mark.parametrize(
    ("hit", "found", "shown"),
    [(0, 0, "-"), (1, 3, "33.3"), (2, 3, "66.7"), (1, 10000, "0.1"), (9999, 10000, "99.9"), (5, 5, "100.0")],
)
def test_percent_matches_lcov_rounding(hit: int, found: int, shown: str) -> None:
    # lcov's rate(): one decimal, never 0.0 with a hit nor 100.0 with a miss.
    assert percent(hit, found) == shown
