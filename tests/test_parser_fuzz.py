"""The tracefile parser on random and mutated input: it raises only LcovParseError.

The input mixes in what once escaped as other errors or was misread: digits of
other scripts (Python's \\d and str.isdigit() take them, int() reads them),
numbers of thousands of digits (int() refuses more than 4,300), byte order
marks and trailing blanks.  Whatever `merge` accepts, it must write a file
that reads back.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytest_lcov.merge import TracefileMerge
from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord, MergeConflict
from pytest_lcov.tracefile import LcovParseError, parse
from tests.helpers import dumps

VALID = dumps(
    [
        (
            "t",
            [
                FileRecord(
                    "a.py",
                    lines={1: 1, 2: 0, 5: 3},
                    functions=[FunctionRecord("f", 2, 5, 0)],
                    branches=[
                        BranchRecord(2, 0, 0, 1, "x"),
                        BranchRecord(2, 0, 1, None, "y", exception=True),
                    ],
                    checksums={1: "abc"},
                )
            ],
        )
    ],
    "lcov2",
) + (
    # As lcov 2.3.1 writes a C file: a comment, VER, FNL/FNA, MC/DC records.
    "# lcov --comment\nTN:\nSF:m.c\nVER:1.2\nFNL:0,1,5\nFNA:0,1,main\nFNF:1\nFNH:1\n"
    "BRDA:2,0,0,1\nBRDA:2,0,1,0\nBRF:2\nBRH:1\n"
    "MCDC:2,2,t,1,0,a\nMCDC:2,2,f,0,0,a\nMCDC:2,2,t,0,1,b\nMCDC:2,2,f,1,1,b\nMCF:4\nMCH:2\n"
    "DA:1,1\nDA:2,1\nLF:2\nLH:2\nend_of_record\n"
)
TAGS = [
    "TN",
    "SF",
    "KF",
    "FN",
    "FNDA",
    "FNF",
    "FNH",
    "FNL",
    "FNA",
    "BRDA",
    "BRF",
    "BRH",
    "MCDC",
    "MCF",
    "MCH",
    "DA",
    "LF",
    "LH",
    "VER",
]
# Superscript two, Arabic-Indic 1 and 3, fullwidth 0, NKo 0, Bengali 4, Devanagari 7.
OTHER_DIGITS = "\u00b2\u0661\u0663\uff10\u07c0\u09ea\u096d"
BOM = "\ufeff"
BLANKS = " \t\f\v\r"
huge_number = st.builds(
    lambda digit, size: digit * size, st.sampled_from("0123456789"), st.integers(15, 6000)
)
field = st.one_of(
    st.text(alphabet="0123456789,-etfx #" + OTHER_DIGITS + BOM + BLANKS, max_size=20),
    st.lists(st.one_of(huge_number, st.sampled_from(["0", "1", "-", "e0", "t", "f", "x"])), max_size=6).map(
        ",".join
    ),
)
lcov_like_line = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda tag, rest, blanks: f"{tag}:{rest}{blanks}", st.sampled_from(TAGS), field, st.text(BLANKS)
    ),
    st.builds(lambda blanks: "end_of_record" + blanks, st.text(BLANKS, max_size=3)),
)


def parses_or_says_why(text: str) -> None:
    try:
        parse(text)
    except LcovParseError as exc:
        assert exc.lineno >= 1 and exc.reason


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
@example("SF:a.py\nBRDA:1,0,\u00b2,1\nend_of_record\n")  # once int('²'): ValueError
@example("SF:a.py\nDA:1," + "9" * 5000 + "\nend_of_record\n")  # once int() of 5000 digits: ValueError
@example("SF:a.py\nFNL:0,1\nFNA:0," + "1" * 4301 + ",f\nend_of_record\n")
@example("\ufeffSF:a.py\nDA:1,1 \nend_of_record\t\n")
def test_random_text(text: str) -> None:
    parses_or_says_why(text)


@settings(max_examples=500, deadline=None)
@given(st.booleans(), st.lists(lcov_like_line, max_size=30))
def test_random_records(bom: bool, lines: list[str]) -> None:
    parses_or_says_why(BOM * bom + "\n".join(lines))


def mutate(data: st.DataObject, text: str) -> str:
    """`text` with one to four random edits, some of them the kinds that once escaped."""
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(
            st.sampled_from(["insert", "delete", "truncate", "duplicate", "digit", "huge", "blanks", "bom"])
        )
        if action == "insert":
            text = text[:position] + data.draw(st.text(max_size=5)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + data.draw(st.integers(1, 10)) :]
        elif action == "truncate":
            text = text[:position]
        elif action == "duplicate":
            line = data.draw(st.sampled_from(text.splitlines() or [""]))
            text = text[:position] + "\n" + line + "\n" + text[position:]
        elif action == "digit":  # a digit of another script in place of the next ASCII one
            digit = next(
                (i for i in range(position, len(text)) if text[i].isascii() and text[i].isdigit()), None
            )
            if digit is not None:
                text = text[:digit] + data.draw(st.sampled_from(OTHER_DIGITS)) + text[digit + 1 :]
        elif action == "huge":
            text = text[:position] + data.draw(huge_number) + text[position:]
        elif action == "blanks":  # before the next line break
            end = text.find("\n", position)
            end = len(text) if end < 0 else end
            text = text[:end] + data.draw(st.text(BLANKS, min_size=1, max_size=4)) + text[end:]
        else:
            text = BOM + text
    return text


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_valid_files(data: st.DataObject) -> None:
    parses_or_says_why(mutate(data, VALID))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_merge_of_mutated_files_refuses_cleanly_or_writes_what_reads_back(data: st.DataObject) -> None:
    """As `pytest-lcov merge` reads files: bytes, line by line; its output must parse."""
    raw = mutate(data, VALID).encode("utf-8", "surrogatepass")
    if data.draw(st.booleans()):
        raw = raw.replace(b"a.py", data.draw(st.sampled_from([b"\xff.py", b"\xe9t\xe9.py", b"a.py"])))
    merge = TracefileMerge()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "in.info")
        path.write_bytes(raw)
        try:
            merge.add_file(path)
            merge.add_file(path)
        except (LcovParseError, MergeConflict):
            return
    out = io.StringIO()
    merge.write(out, data.draw(st.sampled_from(["compat", "lcov2"])))
    parse(out.getvalue())
