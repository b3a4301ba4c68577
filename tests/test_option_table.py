"""The options table is the one source of truth: it fills every field, and the README lists it.

Pure checks of pytest_lcov.option_table (no pytest run): a field no option sets,
an option that sets no field, or a flag missing from the README's tables
would each let the table and what users see drift apart.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pytest_lcov.option_table import (
    DEFAULT_OUTPUT,
    OPTIONS,
    REPORT_FIELDS,
    OptionError,
    report_options,
    with_defaults,
)
from pytest_lcov.settings import SPELLED_AS_LCOV, Settings

README = Path(__file__).resolve().parent.parent / "README.md"
NOT_SETTINGS = {"report", "cache_dir"}  # Settings.report holds ReportOptions; cache_dir is pytest's


def test_each_field_is_set_by_exactly_one_option() -> None:
    attrs = [option.attr for option in OPTIONS]
    assert len(attrs) == len(set(attrs))
    settings_fields = {field.name for field in dataclasses.fields(Settings)}
    assert not REPORT_FIELDS & settings_fields
    assert set(attrs) == (REPORT_FIELDS | settings_fields) - NOT_SETTINGS


def test_nothing_given_gives_the_table_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "my-app"\n')
    report = report_options({}, tmp_path)
    assert report.output == tmp_path / DEFAULT_OUTPUT
    assert report.test_name == "my_app"  # the project's name, as a TN: may spell it
    for option in OPTIONS:
        if option.attr in REPORT_FIELDS and option.attr not in ("output", "test_name"):
            assert getattr(report, option.attr) == option.default, option.key
    assert with_defaults({}, tmp_path, report=False) == {
        option.attr: option.default for option in OPTIONS if option.attr not in REPORT_FIELDS
    }


def test_per_test_counts_tests(tmp_path: Path) -> None:
    assert report_options({"per_test": True}, tmp_path).count_mode == "tests"
    with pytest.raises(OptionError, match="lcov_counts must be 'tests' or unset"):
        report_options({"per_test": True, "count_mode": "run"}, tmp_path)


def test_the_readme_tables_name_every_flag_and_key() -> None:
    rows = [line.split(" | ") for line in README.read_text(encoding="utf-8").splitlines()]
    flag_rows = [(row[0], row[1]) for row in rows if row[0].startswith("| `--") and len(row) > 2]
    for option in OPTIONS:
        # lcov_enabled and lcov_output are the --lcov row's keys
        flag = "--lcov" if option.key in SPELLED_AS_LCOV else option.flag
        named, keyed = re.compile(rf"`{re.escape(flag)}[`=]"), re.compile(rf"`{option.key}[` ]")
        assert any(named.search(flags) and keyed.search(keys) for flags, keys in flag_rows), option.key


def test_the_help_says_which_settings_need_lcov_diff() -> None:
    for option in OPTIONS:
        assert option.needs_diff == ("(needs lcov_diff)" in option.help), option.key
