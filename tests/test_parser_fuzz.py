"""The tracefile parser on random and mutated input: it raises only LcovParseError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord
from pytest_lcov.tracefile import LcovParseError, dumps, parse

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
)
TAGS = ["TN", "SF", "FN", "FNDA", "FNF", "FNH", "FNL", "FNA", "BRDA", "BRF", "BRH", "DA", "LF", "LH", "VER"]
lcov_like_line = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda tag, rest: f"{tag}:{rest}",
        st.sampled_from(TAGS),
        st.text(alphabet="0123456789,-e x", max_size=20),
    ),
    st.just("end_of_record"),
)


def parses_or_says_why(text: str) -> None:
    try:
        parse(text)
    except LcovParseError as exc:
        assert exc.lineno >= 1 and exc.reason


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    parses_or_says_why(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(lcov_like_line, max_size=30))
def test_random_records(lines: list[str]) -> None:
    parses_or_says_why("\n".join(lines))


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_valid_files(data: st.DataObject) -> None:
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["insert", "delete", "truncate", "duplicate"]))
        if action == "insert":
            text = text[:position] + data.draw(st.text(max_size=5)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + data.draw(st.integers(1, 10)) :]
        elif action == "truncate":
            text = text[:position]
        else:
            line = data.draw(st.sampled_from(text.splitlines() or [""]))
            text = text[:position] + "\n" + line + "\n" + text[position:]
    parses_or_says_why(text)
