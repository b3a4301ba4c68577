"""Every setting, declared once: its flag, its configuration key, how its value is read and checked.

The pytest plugin turns this table into ``--lcov-*`` flags and ini keys, and
the ``pytest-lcov convert`` command into its own flags for the settings that
shape the tracefile, so both check a value the same way and say the same
thing about a bad one.  This module imports neither pytest nor coverage.py.
"""

from __future__ import annotations

import argparse
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_lcov.tracefile import DIALECTS, safe_test_name

DEFAULT_OUTPUT = "lcov.info"
DEFAULT_GENHTML_TIMEOUT = 600.0
PATH_STYLES = ("relative", "absolute")
# ran at all in the run (0/1), how many tests reached it, or how many times it ran
COUNTS = ("run", "tests", "executions")
GATES = ("lines", "functions", "branches")
GATE_NOUNS = {"lines": "line", "functions": "function", "branches": "branch"}


class OptionError(ValueError):
    """A value a setting cannot take; the message is one line that names the setting."""


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise OptionError(f"{key} = {value!r}: expected one text value")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, key: str) -> str:
        if _text(value, key) not in choices:
            raise OptionError(f"{key} = {value!r} is not one of: {', '.join(choices)}")
        return str(value)

    return parse


def _number(value: Any, key: str, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{key} = {value!r} is not {what}") from None


def _percent(value: Any, key: str) -> float:
    number = _number(value, key, "a number")
    if not 0 <= number <= 100:  # NaN fails this too
        raise OptionError(f"{key} = {value!r} is not a percent from 0 to 100")
    return number


def _total_percent(value: Any, key: str) -> float | int:
    """A percent as pytest-cov reads --cov-fail-under: a whole number stays one (95%, not 95.0%)."""
    number = _percent(value, key)
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else number


def _seconds(value: Any, key: str) -> float:
    number = _number(value, key, "a number of seconds")
    if not 0 < number < math.inf:
        raise OptionError(f"{key} = {value!r} must be more than 0 seconds")
    return number


def _count(value: Any, key: str) -> int:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise OptionError(f"{key} = {value!r} is not a whole number from 0 up")
    return int(text)


def _precision(value: Any, key: str) -> int:
    """Digits after the decimal point, checked at start-up: coverage.py refuses a bad one after the tests."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise OptionError(f"{key} = {value!r} is not a number of digits (a whole number from 0 up)")
    return int(text)


def _git_ref(value: Any, key: str) -> str:
    """A git revision name; one that starts with '-' would be read by git as an option."""
    text = _text(value, key).strip()
    if not text or text.startswith("-") or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise OptionError(f"{key} = {value!r} is not a git ref (a branch, tag or commit such as origin/main)")
    return text


def _lines(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise OptionError(f"{key} = {value!r}: expected a list of text values")
    return tuple(value)


def test_name_problem(name: str) -> str | None:
    """Why `name` cannot be a TN: name as given, or None when it can."""
    if name == safe_test_name(name):
        return None
    return f"LCOV test names may hold only letters, digits and _ (try {safe_test_name(name)!r})"


def _test_name(value: Any, key: str) -> str:
    if problem := test_name_problem(_text(value, key)):
        raise OptionError(f"{key} = {value!r}: {problem}")
    return str(value)


def path_prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot start SF: paths (a control character would break the record)."""
    return "holds a control character" if re.search(r"[\x00-\x1f]", prefix) else None


def _prefix(value: Any, key: str) -> str:
    if problem := path_prefix_problem(_text(value, key)):
        raise OptionError(f"{key} {problem}")
    return str(value)


def parse_path(value: Any, key: str, base: Path) -> Path:
    """A path setting, made absolute against `base`; refuses what cannot be meant as a path."""
    text = _text(value, key)
    if not text.strip():
        raise OptionError(f"{key}: the path is empty")
    if text.strip().lower() in ("true", "false"):
        raise OptionError(f"{key} = {text!r}: expected a path, not a yes/no value")
    if "\0" in text:
        raise OptionError(f"{key}: the path holds a NUL character")
    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # ~user that does not exist, or no home folder
        raise OptionError(f"{key} = {text!r}: {exc}") from None
    return path if path.is_absolute() else base / path


@dataclass(frozen=True)
class Option:
    """One setting.

    `kind` says how pytest stores it ("bool", "lines" or text); `parse`
    checks a value and turns it into what the report uses (paths are made
    absolute by the caller, which knows what they are relative to).
    `shared` settings shape the tracefile and are flags of ``convert`` too.
    `cli_flag` spells a flag as pytest-cov's counterpart is spelled, where
    ``--lcov-`` + the name would read worse (``--no-lcov-on-fail``).
    """

    key: str
    help: str
    kind: str = "text"
    parse: Callable[[Any, str], Any] = _text
    default: Any = None
    shared: bool = False
    cli_flag: str | None = None

    @property
    def flag(self) -> str:
        return self.cli_flag or "--" + self.key.replace("_", "-")

    @property
    def name(self) -> str:
        """The setting's name without the ``lcov_`` prefix."""
        return self.key.removeprefix("lcov_")


OPTIONS = (
    Option("lcov_enabled", "write an LCOV tracefile, as if --lcov were given", "bool", default=False),
    Option(
        "lcov_output", f"where --lcov writes the tracefile (default {DEFAULT_OUTPUT} in the rootdir)", "path"
    ),
    Option(
        "lcov_source",
        "package or folder to measure, instead of coverage.py's `source`",
        "lines",
        _lines,
        default=(),
    ),
    Option("lcov_branch", "measure branches (coverage.py's `branch = true`)", "bool", default=False),
    Option(
        "lcov_config",
        "coverage.py's configuration file, read instead of .coveragerc, setup.cfg, tox.ini or "
        "pyproject.toml (pytest-cov's --cov-config)",
        "path",
    ),
    Option(
        "lcov_format",
        f"LCOV dialect: {' or '.join(DIALECTS)} (default compat)",
        parse=_choice(DIALECTS),
        default="compat",
        shared=True,
    ),
    Option(
        "lcov_test_name",
        "TN: name of the tracefile's section (default: the project's name)",
        parse=_test_name,
        shared=True,
    ),
    Option(
        "lcov_paths",
        f"SF: paths, {' or '.join(PATH_STYLES)} (default relative to the rootdir)",
        parse=_choice(PATH_STYLES),
        default="relative",
        shared=True,
    ),
    Option(
        "lcov_path_prefix", "text put before every relative SF: path", parse=_prefix, default="", shared=True
    ),
    Option(
        "lcov_checksums",
        "write an MD5 checksum of each line's source (DA:n,count,md5)",
        "bool",
        default=False,
        shared=True,
    ),
    Option(
        "lcov_per_test", "one TN: section per test, and a description file for genhtml", "bool", default=False
    ),
    Option(
        "lcov_counts",
        "what DA/FNDA/BRDA counts mean: run (ran at all, 0/1; the default), tests (how many tests "
        "reached it) or executions (how many times it ran; needs coverage.py's source)",
        parse=_choice(COUNTS),
        default="run",
    ),
    Option("lcov_html", "also write genhtml's HTML report into this folder", "path"),
    Option("lcov_html_required", "fail the run when the HTML report cannot be made", "bool", default=False),
    Option("lcov_genhtml", "the genhtml command to run (default: genhtml on PATH)", default="genhtml"),
    Option(
        "lcov_genhtml_timeout",
        f"seconds genhtml may run (default {DEFAULT_GENHTML_TIMEOUT:g})",
        parse=_seconds,
        default=DEFAULT_GENHTML_TIMEOUT,
    ),
    *(
        Option(
            f"lcov_fail_under_{metric}",
            f"fail the run when {GATE_NOUNS[metric]} coverage is under this percent",
            parse=_percent,
        )
        for metric in GATES
    ),
    Option(
        "lcov_fail_under",
        "fail the run when coverage.py's total (lines and branches together, rounded to [report] "
        "precision) is under this percent, as pytest-cov's --cov-fail-under (default: [report] fail_under)",
        parse=_total_percent,
    ),
    Option(
        "lcov_precision",
        "digits after the decimal point of the table's percentages and of the fail-under rule, "
        "as pytest-cov's --cov-precision (default: [report] precision)",
        parse=_precision,
    ),
    Option(
        "lcov_optional",
        "keep the tests' exit status when the tracefile cannot be written (by default that fails the run)",
        "bool",
        default=False,
    ),
    Option(
        "lcov_no_on_fail",
        "when tests failed, write no tracefile and skip the HTML report and the gates; an earlier "
        "tracefile stays (pytest-cov's --no-cov-on-fail)",
        "bool",
        default=False,
        cli_flag="--no-lcov-on-fail",
    ),
    Option(
        "lcov_append",
        "add this run's coverage to the tracefile already at the output path, as `pytest-lcov merge` "
        "adds tracefiles (pytest-cov's --cov-append)",
        "bool",
        default=False,
    ),
    Option(
        "lcov_table",
        "print a per-file table with the missing lines in the terminal summary",
        "bool",
        default=False,
    ),
    Option(
        "lcov_no_cache",
        "do not cache the analysis of unchanged files in pytest's cache folder",
        "bool",
        default=False,
    ),
    Option(
        "lcov_diff",
        "also report coverage of the lines changed since the merge base of this git ref and HEAD, "
        "uncommitted and untracked changes included (e.g. origin/main)",
        parse=_git_ref,
    ),
    Option(
        "lcov_fail_under_diff",
        "fail the run when coverage of the changed lines is under this percent (needs lcov_diff)",
        parse=_percent,
    ),
    Option(
        "lcov_max_uncovered_diff_lines",
        "fail the run when more changed lines than this never ran (needs lcov_diff)",
        parse=_count,
    ),
    Option(
        "lcov_no_job_summary",
        "do not append a Markdown summary to $GITHUB_STEP_SUMMARY (the job page of GitHub Actions)",
        "bool",
        default=False,
    ),
    Option(
        "lcov_annotations",
        "under GitHub Actions, annotate changed lines no test ran (needs lcov_diff)",
        "bool",
        default=False,
    ),
)
OPTIONS_BY_KEY = {option.key: option for option in OPTIONS}


def project_name(rootdir: Path) -> str:
    """The [project] name of the rootdir's pyproject.toml, else the rootdir's name."""
    try:
        data = tomllib.loads((rootdir / "pyproject.toml").read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        name = None
    return name if isinstance(name, str) and name else rootdir.name


@dataclass(frozen=True)
class ReportOptions:
    """What shapes the tracefile: everything the report needs, and nothing about pytest."""

    output: Path
    test_name: str
    dialect: str = "compat"
    absolute_paths: bool = False
    path_prefix: str = ""
    checksums: bool = False
    per_test: bool = False
    counts: str = "run"
    table: bool = False
    cache_dir: Path | None = None

    @property
    def needs_contexts(self) -> bool:
        """Whether coverage.py must record which test ran each line."""
        return self.per_test or self.counts == "tests"

    @property
    def description_file(self) -> Path:
        """genhtml's description file for per-test data, beside the tracefile."""
        if self.output.suffix == ".desc":
            return self.output.with_name(self.output.name + ".desc")
        return self.output.with_suffix(".desc")

    @property
    def tests_file(self) -> Path:
        """Where per-test data puts its sections: beside the tracefile, named after it.

        The tracefile's last suffix gives way to ``.tests.info``, as it gives way
        to ``.desc`` for the description file: ``lcov.info`` -> ``lcov.tests.info``,
        ``out/cov.lcov`` -> ``out/cov.tests.info``, ``report`` -> ``report.tests.info``.
        Always ``.info``: an uploader that collects ``*.lcov`` files does not
        take it for a second report of the same run.
        """
        return self.output.with_name(self.output.stem + ".tests.info")


def report_options(values: dict[str, Any], output: Path, rootdir: Path) -> ReportOptions:
    """The report's options from checked setting values (by name), with defaults for the rest."""
    per_test = bool(values.get("per_test"))
    counts = values.get("counts")
    if per_test and counts == "executions":
        raise OptionError("lcov_counts = 'executions' cannot go with lcov_per_test, which counts tests")
    if per_test and counts not in (None, "tests"):
        raise OptionError("lcov_per_test counts tests by nature: lcov_counts must be 'tests' or unset")
    return ReportOptions(
        output=output,
        test_name=safe_test_name(values.get("test_name") or project_name(rootdir)),
        dialect=values.get("format") or "compat",
        absolute_paths=values.get("paths") == "absolute",
        path_prefix=values.get("path_prefix") or "",
        checksums=bool(values.get("checksums", False)),
        per_test=per_test,
        counts="tests" if per_test else counts or "run",
        table=bool(values.get("table", False)),
    )


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the settings that shape the tracefile, for a command that writes one."""
    for option in OPTIONS:
        if not option.shared:
            continue
        flag = "--" + option.name.replace("_", "-")
        if option.kind == "bool":
            parser.add_argument(flag, action="store_true", dest=option.name, help=option.help)
        else:
            parser.add_argument(flag, dest=option.name, metavar="VALUE", help=option.help)


def shared_values(args: argparse.Namespace) -> dict[str, Any]:
    """The shared settings given on a command line, checked as the plugin checks them."""
    values = {}
    for option in OPTIONS:
        given = getattr(args, option.name, None) if option.shared else None
        if given is None or given is False:
            continue
        flag = "--" + option.name.replace("_", "-")
        values[option.name] = given if option.kind == "bool" else option.parse(given, flag)
    return values
