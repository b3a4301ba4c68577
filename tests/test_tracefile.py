"""The writer and parser alone: pure text in, pure text out."""

from __future__ import annotations

import pytest

from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord, percent
from pytest_lcov.tracefile import (
    LcovParseError,
    McdcRecord,
    format_record,
    parse,
    safe_test_name,
    unique_test_names,
)
from tests.helpers import dumps

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


# Numbers are ASCII digits only, as lcov's \d on bytes reads them: Python's \d
# and str.isdigit() also take a superscript two, Arabic-Indic and fullwidth digits.
# lcov 2.3.1 refuses `DA:` + Arabic-Indic 1,3 ("unexpected .info file record"), lcov 1.16 skips it.
NOT_ASCII_NUMBERS = {
    "arabic-da": ("DA:\u0661,\u0663", "DA line is not a whole number: '\u0661'"),
    "superscript-count": ("DA:1,\u00b2", "DA count is not a whole number: '\u00b2'"),
    "fullwidth-count": ("DA:1,\uff11", "DA count is not a whole number"),
    "fn-line": ("FN:\u0663,f", "FN needs line[,end],name"),
    "fnda-count": ("FNDA:\u0663,f", "FNDA count is not a whole number"),
    "fnl-index": ("FNL:\u0660,3", "FNL needs index,line[,end]"),
    "fna-count": ("FNL:0,3\nFNA:0,\u0663,f", "FNA needs a known index,count,name"),
    "brda-line": ("BRDA:\u0661,0,0,1", "BRDA needs line,block,branch,taken"),
    "brda-taken": ("BRDA:1,0,0,\u0663", "BRDA needs line,block,branch,taken"),
    "declared": ("LF:\u0663", "LF is not a whole number"),
    "mcdc-count": ("MCDC:2,2,t,\u0663,0,a", "MCDC needs line,group size,t|f,count,index,expression"),
}


@pytest.mark.parametrize("case", NOT_ASCII_NUMBERS, ids=list(NOT_ASCII_NUMBERS))
def test_numbers_in_other_scripts_are_refused(case: str) -> None:
    records, reason = NOT_ASCII_NUMBERS[case]
    text = f"TN:t\nSF:a.py\nDA:7,1\n{records}\nend_of_record\n"
    lineno = 3 + records.count("\n") + 1
    with pytest.raises(LcovParseError) as info:
        parse(text, "in.info")
    assert str(info.value).startswith(f"in.info:{lineno}: {reason}")


def test_a_branch_named_by_a_non_ascii_digit_is_a_description() -> None:
    # `lcov -a` 2.3.1 writes `BRDA:1,0,<superscript two>,1` back: an expression, not a number.
    [parsed] = parse("SF:a.py\nBRDA:1,0,\u00b2,1\nBRDA:1,0,7,0\nDA:1,1\nend_of_record\n")
    assert parsed.record.branches == [BranchRecord(1, 0, 0, 1, "\u00b2"), BranchRecord(1, 0, 7, 0)]
    assert "BRDA:1,0,\u00b2,1\n" in format_record(parsed.record, "lcov2")


TOO_LARGE = {
    "5000-digit count": (
        "DA:1," + "9" * 5000,
        "DA count '9999999999999999999999999999999999999999'... (5000 characters)",
    ),
    "2**64": ("DA:1,18446744073709551616", "DA count '18446744073709551616'"),
    "line": ("DA:18446744073709551616,1", "DA line '18446744073709551616'"),
    "fnda": ("FN:1,f\nFNDA:" + "9" * 4301 + ",f", "FNDA count '99999"),
    "fna": ("FNL:0,1\nFNA:0," + "9" * 30 + ",f", "FNA count '99999"),
    "brda taken": ("BRDA:1,0,0,18446744073709551616", "BRDA taken '18446744073709551616'"),
    "brda branch": ("BRDA:1,0,18446744073709551616,1", "BRDA branch '18446744073709551616'"),
    "declared": ("LH:" + "1" * 21, "LH '111111111111111111111'"),
}


@pytest.mark.parametrize("case", TOO_LARGE, ids=list(TOO_LARGE))
def test_numbers_beyond_64_bits_are_refused_in_one_short_line(case: str) -> None:
    records, reason = TOO_LARGE[case]
    lineno = 2 + records.count("\n") + 1
    with pytest.raises(LcovParseError) as info:
        parse(f"SF:a.py\nDA:7,1\n{records}\nend_of_record\n", "in.info")
    message = str(info.value)
    assert message.startswith(f"in.info:{lineno}: {reason}")
    assert message.endswith("is too large (more than 2**64 - 1)")
    assert len(message) < 150


def test_the_largest_64_bit_number_and_leading_zeros_are_read() -> None:
    text = "SF:a.py\nDA:1,18446744073709551615\nDA:2," + "0" * 5000 + "3\nend_of_record\n"
    [parsed] = parse(text)
    assert parsed.record.lines == {1: 2**64 - 1, 2: 3}


# What lcov 2.3.1 reads and this parser refused: each worked out by hand from
# lcovutil.pm's _read_info, and checked against `lcov -a` in test_merge.py.
def test_trailing_blanks_are_stripped_as_lcov_2_strips_them() -> None:
    # lcov 2 strips \s+$ from every line before matching: names and paths lose them too.
    text = "TN:t \t\nSF:a.py \nFN:1,f  \nFNDA:2,f \nBRDA:1,0,0,1 \nDA:1,2,abc\t\nLF:1 \nend_of_record  \n"
    [parsed] = parse(text)
    assert parsed.test_name == "t"
    assert parsed.record == FileRecord(
        "a.py",
        lines={1: 2},
        functions=[FunctionRecord("f", 1, None, 2)],
        branches=[BranchRecord(1, 0, 0, 1)],
        checksums={1: "abc"},
    )
    assert parsed.declared == {"LF": 1}


def test_a_byte_order_mark_before_the_first_record_is_skipped() -> None:
    # lcov 2.3.1 refuses this file and lcov 1.16 drops its first record: read it as
    # the same file without the mark, so that merging it writes one lcov reads.
    for first in ("TN:t\nSF:a.py", "SF:a.py"):
        [parsed] = parse(f"\ufeff{first}\nDA:1,1\nend_of_record\n")
        assert parsed.record == FileRecord("a.py", lines={1: 1})


def test_a_byte_order_mark_elsewhere_is_refused() -> None:
    with pytest.raises(LcovParseError, match=r"^in\.info:2: unknown record '\\ufeffDA'"):
        parse("SF:a.py\n\ufeffDA:1,1\nend_of_record\n", "in.info")


def test_comments_kf_and_ver_records_are_read_as_lcov_reads_them() -> None:
    # `lcov --comment` writes '#' lines; lcov reads KF: as SF:; VER: is a source version.
    text = "# written by lcov\nTN:t\n#inside\nKF:a.py\nVER:1.2\nDA:1,1\nend_of_record\n"
    [parsed] = parse(text)
    assert (parsed.test_name, parsed.record) == ("t", FileRecord("a.py", lines={1: 1}))


def test_mcdc_records_of_lcov_2_2_are_read() -> None:
    # As lcov 2.3.1 writes them: line,group size,sense,count,index,expression; then MCF/MCH.
    text = (
        "SF:m.c\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nBRF:2\nBRH:1\n"
        "MCDC:2,2,t,1,0,a\nMCDC:2,2,f,0,0,a\nMCDC:2,2,t,0,1,b || c\nMCDC:2,2,f,3,1,b || c\nMCF:4\nMCH:2\n"
        "DA:2,1\nLF:1\nLH:1\nend_of_record\n"
    )
    [parsed] = parse(text)
    assert parsed.mcdc == [
        McdcRecord(2, 2, True, 1, 0, "a"),
        McdcRecord(2, 2, False, 0, 0, "a"),
        McdcRecord(2, 2, True, 0, 1, "b || c"),
        McdcRecord(2, 2, False, 3, 1, "b || c"),
    ]
    assert parsed.declared == {"BRF": 2, "BRH": 1, "MCF": 4, "MCH": 2, "LF": 1, "LH": 1}
    assert parsed.record.lines == {2: 1}


@pytest.mark.parametrize("record", ["MCDC:2,2,x,1,0,a", "MCDC:2,2,t,1,0,", "MCDC:2,2,t,1,a"])
def test_malformed_mcdc_records_are_refused(record: str) -> None:
    with pytest.raises(LcovParseError, match=r"^in\.info:2: MCDC needs line,group size"):
        parse(f"SF:m.c\n{record}\nDA:1,1\nend_of_record\n", "in.info")


@pytest.mark.parametrize(
    ("labels", "reserved", "names"),
    [
        # '-' (0x2d) sorts before '_' (0x5f): the first keeps the base name.
        (
            ["t.py::f[1_2]", "t.py::f[1-2]"],
            [],
            {"t.py::f[1-2]": "t_py__f_1_2_", "t.py::f[1_2]": "t_py__f_1_2__2"},
        ),
        # A label whose own name is `base_2` sorts before the second `base`: that one takes _3.
        (["a)", "a(", "a(_2"], [], {"a(": "a_", "a(_2": "a__2", "a)": "a__3"}),
        # ... and after it: `base_2` is taken, so the later label gets `base_2_2`.
        (["f[1]", "f(1)", "f[1]-2"], [], {"f(1)": "f_1_", "f[1]": "f_1__2", "f[1]-2": "f_1__2_2"}),
        # Reserved names (the run's own section) are never given, suffixed ones neither.
        (
            ["sample-app", "sample.app"],
            ["sample_app", "sample_app_2"],
            {"sample-app": "sample_app_3", "sample.app": "sample_app_4"},
        ),
        # One label given twice is one name.
        (["x", "x"], [], {"x": "x"}),
    ],
)
def test_unique_test_names_on_hand_worked_cases(
    labels: list[str], reserved: list[str], names: dict[str, str]
) -> None:
    assert unique_test_names(labels, reserved) == names


def test_twenty_thousand_labels_that_read_alike_get_numbered_in_sorted_order() -> None:
    """Once quadratic (38 s): now one pass.  Labels differ only in '-' and '.', which both read as '_'."""
    # Label i spells i in 15 binary digits, 0 as '-' and 1 as '.': as '-' < '.', sorted order is i's order.
    labels = [f"t::f[{format(i, '015b').replace('0', '-').replace('1', '.')}]" for i in range(20_000)]
    base = "t__f_" + "_" * 15 + "_"
    assert {safe_test_name(label) for label in labels} == {base}
    names = unique_test_names(reversed(labels), reserved=[f"{base}_3"])
    assert len(set(names.values())) == 20_000
    # i = 0 gets the base, i = 1 gets _2, and from i = 2 on _{i + 2}, as _3 is reserved.
    assert [names[labels[i]] for i in (0, 1, 2, 3)] == [base, f"{base}_2", f"{base}_4", f"{base}_5"]
    assert labels[19_999] == "t::f[.--...----.....]"  # 19999 = 0b100111000011111
    assert names[labels[19_999]] == f"{base}_20001"
