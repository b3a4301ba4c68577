"""Every setting, declared once: its flag, its configuration key, how its value is read and checked,
its default, and the attribute of ``Settings`` or ``ReportOptions`` it sets.

The table is the one source of truth, as coverage.py's ``CONFIG_FILE_OPTIONS``:
resolving the settings is a loop over it, and a default written here (or one
of the named constants below) is the one used.  The pytest plugin turns the
table into ``--lcov-*`` flags and ini keys, and the ``pytest-lcov convert``
command into its own flags for the settings that shape the tracefile, so both
check a value the same way and say the same thing about a bad one.  This
module imports neither pytest nor coverage.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_lcov import PytestLcovError
from pytest_lcov.differential import CATEGORIES
from pytest_lcov.html import DEFAULT_GENHTML, DEFAULT_GENHTML_TIMEOUT
from pytest_lcov.tracefile import DEFAULT_DIALECT, DIALECTS, safe_test_name

# The defaults other modules need too (the pytest-lcov command, the help text): each written once.
DEFAULT_OUTPUT = "lcov.info"
DEFAULT_PATHS = "relative"
PATH_STYLES = (DEFAULT_PATHS, "absolute")
DEFAULT_COUNTS = "run"
# ran at all in the run (0/1), how many tests reached it, or how many times it ran
COUNTS = (DEFAULT_COUNTS, "tests", "executions")
GATES = ("lines", "functions", "branches")
GATE_NOUNS = {"lines": "line", "functions": "function", "branches": "branch"}


class OptionError(PytestLcovError, ValueError):
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


def _categories(value: Any, key: str) -> tuple[str, ...]:
    """Differential categories (``UNC,LBC,UIC``), one value or several, each comma-separated."""
    parts = [part.strip().upper() for item in _lines(value, key) for part in item.split(",")]
    named = tuple(dict.fromkeys(part for part in parts if part))
    unknown = [part for part in named if part not in CATEGORIES]
    if unknown or not named:
        what = f"{', '.join(unknown)} is not a category" if unknown else "names no category"
        raise OptionError(f"{key} = {value!r}: {what}; the categories are {', '.join(CATEGORIES)}")
    return named


def _source(value: Any, key: str) -> tuple[str, ...]:
    """Sources to measure, without empty ones: an empty --lcov-source= means no filter, as --cov= does."""
    return tuple(item for item in _lines(value, key) if item.strip())


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

    `attr` names the field of ``Settings`` or of ``ReportOptions`` that holds
    its value (or its `default` when nothing sets it), so no code maps names
    by hand.  `kind` says how pytest stores it ("bool", "lines", "path" or
    text); `parse` checks a value and turns it into what the report uses
    (see `checked`).  `shared` settings shape the tracefile and are flags of
    ``convert`` too.  A `gate` fails the run, so it is checked or refused at
    start-up, never dropped unsaid; a `needs_diff` setting works on a change,
    so it needs lcov_diff.  `cli_flag` spells a flag as pytest-cov's
    counterpart is spelled, where ``--lcov-`` + the name would read worse
    (``--no-lcov-on-fail``).
    """

    key: str
    attr: str
    help: str
    kind: str = "text"
    parse: Callable[[Any, str], Any] = _text
    default: Any = None
    shared: bool = False
    gate: bool = False
    needs_diff: bool = False
    cli_flag: str | None = None

    @property
    def flag(self) -> str:
        return self.cli_flag or "--" + self.key.replace("_", "-")

    @property
    def name(self) -> str:
        """The setting's name without the ``lcov_`` prefix."""
        return self.key.removeprefix("lcov_")

    def default_in(self, rootdir: Path) -> Any:
        """The value when nothing sets it; a default path is relative to the rootdir, as a configured one."""
        if self.kind == "path" and self.default is not None:
            return parse_path(self.default, self.key, rootdir)
        return self.default


def checked(option: Option, value: Any, name: str, base: Path) -> Any:
    """A value given for `option`, as its attribute holds it; `name` is what a refusal calls it.

    A relative path is made absolute against `base`, which the caller knows:
    where pytest started for the command line, the rootdir for the configuration.
    """
    if option.kind == "path":
        return parse_path(value, name, base)
    if option.kind == "bool":
        return bool(value)
    return option.parse(value, name)


OPTIONS = (
    Option(
        "lcov_enabled", "enabled", "write an LCOV tracefile, as if --lcov were given", "bool", default=False
    ),
    Option(
        "lcov_output",
        "output",
        f"where --lcov writes the tracefile (default {DEFAULT_OUTPUT} in the rootdir)",
        "path",
        default=DEFAULT_OUTPUT,
    ),
    Option(
        "lcov_source",
        "source",
        "package or folder to measure, instead of coverage.py's `source`",
        "lines",
        _source,
        default=(),
    ),
    Option(
        "lcov_branch", "branch", "measure branches (coverage.py's `branch = true`)", "bool", default=False
    ),
    Option(
        "lcov_config",
        "coverage_config",
        "coverage.py's configuration file, read instead of .coveragerc, setup.cfg, tox.ini or "
        "pyproject.toml (pytest-cov's --cov-config)",
        "path",
    ),
    Option(
        "lcov_format",
        "dialect",
        f"LCOV dialect: {' or '.join(DIALECTS)} (default {DEFAULT_DIALECT})",
        parse=_choice(DIALECTS),
        default=DEFAULT_DIALECT,
        shared=True,
    ),
    Option(
        "lcov_test_name",
        "test_name",
        "TN: name of the tracefile's section (default: the project's name)",
        parse=_test_name,
        shared=True,
    ),
    Option(
        "lcov_paths",
        "paths",
        f"SF: paths, {' or '.join(PATH_STYLES)} (default {DEFAULT_PATHS} to the rootdir)",
        parse=_choice(PATH_STYLES),
        default=DEFAULT_PATHS,
        shared=True,
    ),
    Option(
        "lcov_path_prefix",
        "path_prefix",
        "text put before every relative SF: path",
        parse=_prefix,
        default="",
        shared=True,
    ),
    Option(
        "lcov_checksums",
        "checksums",
        "write an MD5 checksum of each line's source (DA:n,count,md5)",
        "bool",
        default=False,
        shared=True,
    ),
    Option(
        "lcov_per_test",
        "per_test",
        "one TN: section per test, and a description file for genhtml",
        "bool",
        default=False,
    ),
    Option(
        "lcov_counts",
        "count_mode",
        f"what DA/FNDA/BRDA counts mean: {DEFAULT_COUNTS} (ran at all, 0/1; the default), tests (how many "
        "tests reached it) or executions (how many times it ran; needs coverage.py's source)",
        parse=_choice(COUNTS),
        default=DEFAULT_COUNTS,
    ),
    Option("lcov_html", "html", "also write genhtml's HTML report into this folder", "path"),
    Option(
        "lcov_html_required",
        "html_required",
        "fail the run when the HTML report cannot be made",
        "bool",
        default=False,
        gate=True,
    ),
    Option(
        "lcov_genhtml",
        "genhtml",
        f"the genhtml command to run (default: {DEFAULT_GENHTML} on PATH)",
        default=DEFAULT_GENHTML,
    ),
    Option(
        "lcov_genhtml_timeout",
        "genhtml_timeout",
        f"seconds genhtml may run (default {DEFAULT_GENHTML_TIMEOUT:g})",
        parse=_seconds,
        default=DEFAULT_GENHTML_TIMEOUT,
    ),
    *(
        Option(
            f"lcov_fail_under_{metric}",
            f"fail_under_{metric}",
            f"fail the run when {GATE_NOUNS[metric]} coverage is under this percent",
            parse=_percent,
            gate=True,
        )
        for metric in GATES
    ),
    Option(
        "lcov_fail_under",
        "fail_under_total",
        "fail the run when coverage.py's total (lines and branches together, rounded to [report] "
        "precision) is under this percent, as pytest-cov's --cov-fail-under (default: [report] fail_under)",
        parse=_total_percent,
        gate=True,
    ),
    Option(
        "lcov_precision",
        "precision",
        "digits after the decimal point of the table's percentages and of the fail-under rule, "
        "as pytest-cov's --cov-precision (default: [report] precision)",
        parse=_precision,
    ),
    Option(
        "lcov_optional",
        "optional",
        "keep the tests' exit status when the tracefile cannot be written (by default that fails the run)",
        "bool",
        default=False,
    ),
    Option(
        "lcov_no_on_fail",
        "no_on_fail",
        "when tests failed, write no tracefile and skip the HTML report and the gates; an earlier "
        "tracefile stays (pytest-cov's --no-cov-on-fail)",
        "bool",
        default=False,
        cli_flag="--no-lcov-on-fail",
    ),
    Option(
        "lcov_append",
        "append",
        "add this run's coverage to the tracefile already at the output path, as `pytest-lcov merge` "
        "adds tracefiles (pytest-cov's --cov-append)",
        "bool",
        default=False,
    ),
    Option(
        "lcov_table",
        "table",
        "print a per-file table with the missing lines in the terminal summary",
        "bool",
        default=False,
    ),
    Option(
        "lcov_no_cache",
        "no_cache",
        "do not cache the analysis of unchanged files in pytest's cache folder",
        "bool",
        default=False,
    ),
    Option(
        "lcov_diff",
        "diff_ref",
        "also report coverage of the lines changed since the merge base of this git ref and HEAD, "
        "uncommitted and untracked changes included (e.g. origin/main)",
        parse=_git_ref,
    ),
    Option(
        "lcov_fail_under_diff",
        "fail_under_diff",
        "fail the run when coverage of the changed lines is under this percent (needs lcov_diff)",
        parse=_percent,
        gate=True,
        needs_diff=True,
    ),
    Option(
        "lcov_max_uncovered_diff_lines",
        "max_uncovered_diff_lines",
        "fail the run when more changed lines than this never ran (needs lcov_diff)",
        parse=_count,
        gate=True,
        needs_diff=True,
    ),
    Option(
        "lcov_baseline",
        "baseline",
        "the base's tracefile, as the base's own run wrote it: sort every line, branch and function of "
        "this run into genhtml 2.x's differential categories (UNC, LBC, GNC, ...) through the change, "
        "and make --lcov-html genhtml 2.x's differential report (needs lcov_diff)",
        "path",
        needs_diff=True,
    ),
    Option(
        "lcov_fail_on",
        "fail_on",
        "fail the run when any line, branch or function falls in one of these differential categories, "
        "e.g. UNC,LBC,UIC (needs lcov_baseline) (needs lcov_diff)",
        "lines",
        _categories,
        default=(),
        gate=True,
        needs_diff=True,
    ),
    Option(
        "lcov_no_job_summary",
        "no_job_summary",
        "do not append a Markdown summary to $GITHUB_STEP_SUMMARY (the job page of GitHub Actions)",
        "bool",
        default=False,
    ),
    Option(
        "lcov_annotations",
        "annotations",
        "under GitHub Actions, annotate changed lines no test ran (needs lcov_diff)",
        "bool",
        default=False,
        needs_diff=True,
    ),
)


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
    """What shapes the tracefile: everything the report needs, and nothing about pytest.

    Each field but `cache_dir` is set by the option of OPTIONS that names it,
    so its default is the table's (see `report_options`).
    """

    output: Path
    test_name: str
    dialect: str
    paths: str
    path_prefix: str
    checksums: bool
    per_test: bool
    count_mode: str  # lcov_counts: run, tests or executions
    table: bool
    cache_dir: Path | None = None  # not a setting: pytest's cache folder, when the plugin may use it

    @property
    def absolute_paths(self) -> bool:
        return self.paths == "absolute"

    @property
    def counts_executions(self) -> bool:
        """Whether DA/FNDA/BRDA count executions, from the import hook's counters."""
        return self.count_mode == "executions"

    @property
    def needs_contexts(self) -> bool:
        """Whether coverage.py must record which test ran each line."""
        return self.per_test or self.count_mode == "tests"

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


REPORT_FIELDS = frozenset(field.name for field in dataclasses.fields(ReportOptions))


def with_defaults(given: Mapping[str, Any], rootdir: Path, report: bool) -> dict[str, Any]:
    """The fields of ReportOptions (`report`) or of Settings: each given value, else the table's default."""
    return {
        option.attr: given[option.attr] if option.attr in given else option.default_in(rootdir)
        for option in OPTIONS
        if (option.attr in REPORT_FIELDS) == report
    }


def report_options(given: Mapping[str, Any], rootdir: Path) -> ReportOptions:
    """The report's options from checked values (by attribute), with the table's defaults for the rest."""
    per_test = bool(given.get("per_test"))
    count_mode = given.get("count_mode")
    if per_test and count_mode == "executions":
        raise OptionError("lcov_counts = 'executions' cannot go with lcov_per_test, which counts tests")
    if per_test and count_mode not in (None, "tests"):
        raise OptionError("lcov_per_test counts tests by nature: lcov_counts must be 'tests' or unset")
    values = with_defaults(given, rootdir, report=True)
    values["test_name"] = safe_test_name(values["test_name"] or project_name(rootdir))
    if per_test:  # the one way a per-test report counts
        values["count_mode"] = "tests"
    return ReportOptions(**values)


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the settings that shape the tracefile, for a command that writes one."""
    for option in OPTIONS:
        if not option.shared:
            continue
        flag = _command_flag(option)
        if option.kind == "bool":
            parser.add_argument(flag, action="store_true", dest=option.name, help=option.help)
        else:
            parser.add_argument(flag, dest=option.name, metavar="VALUE", help=option.help)


def shared_values(args: argparse.Namespace) -> dict[str, Any]:
    """The shared settings given on a command line (by attribute), checked as the plugin checks them."""
    values = {}
    for option in OPTIONS:
        given = getattr(args, option.name, None) if option.shared else None
        if given is None or given is False:
            continue
        values[option.attr] = checked(option, given, _command_flag(option), Path.cwd())
    return values


def _command_flag(option: Option) -> str:
    """A shared setting's flag in the ``pytest-lcov`` command, which needs no ``lcov`` in it."""
    return "--" + option.name.replace("_", "-")
