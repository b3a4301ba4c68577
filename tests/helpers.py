"""Running real pytest sessions in a pytester folder and reading what they wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_lcov.model import FileRecord
from pytest_lcov.tracefile import parse


def run_pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A real pytest in a fresh interpreter, so coverage starts as it would for a user."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def read_records(path: Path) -> dict[str, FileRecord]:
    """The tracefile's records by SF path (one section expected)."""
    return {p.record.path: p.record for p in parse(path.read_text(encoding="utf-8"), str(path))}


def summary_line(result: pytest.RunResult) -> str:
    [line] = [line for line in result.outlines if line.startswith("LCOV written to ")]
    return line
