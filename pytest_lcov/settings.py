"""The options table as pytest flags and configuration keys, and one run's resolved settings.

Every option is registered twice: as ``--lcov-x`` and as the ini key
``lcov_x``, which pytest reads from ``[tool.pytest.ini_options]``, pytest 9's
``[tool.pytest]``, pytest.ini, tox.ini or setup.cfg.  The command line wins,
then the configuration, then the table's default: one loop over the table
fills ``Settings`` and ``ReportOptions``, each field from the option naming it.
A bad value stops the run at start-up with one line naming the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_lcov import prefixed
from pytest_lcov.option_table import (
    DEFAULT_OUTPUT,
    GATES,
    OPTIONS,
    Option,
    OptionError,
    ReportOptions,
    checked,
    parse_path,
    report_options,
    with_defaults,
)
from pytest_lcov.tracefile import safe_field

INI_TYPES = {"bool": "bool", "lines": "linelist"}
SPELLED_AS_LCOV = ("lcov_enabled", "lcov_output")  # both are --lcov[=PATH]
# What pytest gives for a key the configuration does not set: a key set to "" is set, and checked
# (`lcov_html = ""` is an empty path, not "no HTML report").
NOT_SET = ("pytest-lcov: not set",)


def setting_error(message: str) -> pytest.UsageError:
    """A setting with a value we cannot use: pytest prints it as one line and stops.

    One line whatever it quotes: a path with a newline would start a line of its own.
    """
    return pytest.UsageError(safe_field(prefixed(message)))


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one run: what to measure, the report's options, what follows it.

    Each field but `report` is set by the option of OPTIONS that names it
    (see `_resolve`), so none has a default of its own.
    """

    report: ReportOptions
    enabled: bool
    source: tuple[str, ...]
    branch: bool
    coverage_config: Path | None  # None: where coverage.py looks (or COVERAGE_RCFILE)
    html: Path | None
    html_required: bool
    genhtml: str
    genhtml_timeout: float
    fail_under_lines: float | None
    fail_under_functions: float | None
    fail_under_branches: float | None
    fail_under_total: float | None  # None: [report] fail_under decides, as for pytest-cov
    precision: int | None  # None: [report] precision, as for pytest-cov's --cov-precision
    optional: bool  # no tracefile written does not fail the run
    no_on_fail: bool  # failed tests: no tracefile, no HTML report, no gate
    append: bool  # add to the tracefile at the output path
    no_cache: bool
    diff_ref: str | None
    fail_under_diff: float | None
    max_uncovered_diff_lines: int | None
    baseline: Path | None  # the base's tracefile, for the differential categories
    fail_on: tuple[str, ...]  # differential categories that fail the run
    no_job_summary: bool
    annotations: bool

    @property
    def fail_under(self) -> dict[str, float]:
        """The LCOV gates that are set, by metric."""
        gates = {metric: getattr(self, f"fail_under_{metric}") for metric in GATES}
        return {metric: value for metric, value in gates.items() if value is not None}

    @property
    def use_cache(self) -> bool:
        return not self.no_cache

    @property
    def job_summary(self) -> bool:
        return not self.no_job_summary

    @property
    def output(self) -> Path:
        return self.report.output

    @property
    def per_test(self) -> bool:
        return self.report.per_test

    @property
    def needs_contexts(self) -> bool:
        return self.report.needs_contexts


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("lcov", "LCOV coverage report (pytest-lcov)")
    group.addoption(
        "--lcov",
        action="store",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help=f"measure the run and write an LCOV tracefile (default {DEFAULT_OUTPUT} in the rootdir); "
        "write the path with '=': --lcov=PATH",
    )
    group.addoption(
        "--no-lcov",
        action="store_true",
        default=False,
        help="do not measure or write LCOV, whatever the configuration says",
    )
    for option in OPTIONS:
        kind = INI_TYPES.get(option.kind, "string")
        parser.addini(option.key, option.help, type=kind, default=NOT_SET)  # type: ignore[arg-type]
        if option.key in SPELLED_AS_LCOV:
            continue
        # dest: the key, also for a flag spelled otherwise (--no-lcov-on-fail)
        if option.kind == "bool":
            group.addoption(option.flag, action="store_true", default=None, dest=option.key, help=option.help)
        elif option.kind == "lines":
            help_text = option.help + " (repeatable)"
            group.addoption(
                option.flag, action="append", default=None, dest=option.key, metavar="VALUE", help=help_text
            )
        else:
            group.addoption(
                option.flag, action="store", default=None, dest=option.key, metavar="VALUE", help=option.help
            )


def _ini(config: pytest.Config, option: Option) -> Any:
    """A configuration value; a value of the wrong type names its key."""
    try:
        return config.getini(option.key)
    except (pytest.UsageError, ValueError, TypeError) as exc:
        message = str(exc)
        if option.key not in message:
            message = f"{option.key}: {message}"
        raise setting_error(f"{message}") from None


def _given(config: pytest.Config, option: Option) -> tuple[Any, bool]:
    """The value set for `option`, and whether it came from the command line; None when unset."""
    cli = getattr(config.known_args_namespace, option.key, None)
    if cli is not None:
        return cli, True
    value = _ini(config, option)
    if value is NOT_SET or (option.kind == "bool" and value is False):
        return None, False
    return value, False


def resolve(config: pytest.Config) -> Settings:
    """Read and check every setting; raises a UsageError naming the bad key."""
    try:
        settings = _resolve(config)
    except OptionError as exc:
        raise setting_error(f"{exc}") from None
    refuse_gates_without_report(config, settings)
    return settings


def refuse_gates_without_report(config: pytest.Config, settings: Settings) -> None:
    """Stop when a gate typed on the command line (or in addopts) could not be checked: the report is off.

    A gate in the configuration serves every run, also a quick ``pytest`` without
    ``--lcov``, so it stays quiet then; ``--no-lcov`` turns off the report and all its gates.
    """
    if settings.enabled or getattr(config.known_args_namespace, "no_lcov", False):
        return
    for option in OPTIONS:
        if option.gate and getattr(config.known_args_namespace, option.key, None) is not None:
            raise setting_error(
                f"{option.flag} would not be checked: no report is written without --lcov "
                f"(or lcov_enabled = true); add --lcov, or leave out {option.flag}"
            )


def _resolve(config: pytest.Config) -> Settings:
    rootdir = config.rootpath
    given: dict[str, Any] = {}  # by attribute: what the command line or the configuration sets
    for option in OPTIONS:
        value, from_cli = _given(config, option)
        if value is not None:
            # The command line is relative to where pytest was started, the
            # configuration to the rootdir, as pytest does for its own paths.
            given[option.attr] = checked(option, value, option.key, Path.cwd() if from_cli else rootdir)
    cli_lcov = getattr(config.known_args_namespace, "lcov", None)
    no_lcov = bool(getattr(config.known_args_namespace, "no_lcov", False))
    if isinstance(cli_lcov, str):  # --lcov=PATH: lcov_output on the command line
        given["output"] = parse_path(cli_lcov, "--lcov", Path.cwd())
    report = report_options(given, rootdir)
    _refuse_diff_gates_without_ref(given)
    baseline = given.get("baseline")
    if baseline is not None and os.path.realpath(baseline) == os.path.realpath(report.output):
        raise OptionError(
            "lcov_baseline is the tracefile this run writes: give the base's own tracefile, kept elsewhere"
        )
    values = with_defaults(given, rootdir, report=False)
    # --lcov turns the report on and --no-lcov off, whatever lcov_enabled says.
    values["enabled"] = not no_lcov and (cli_lcov is not None or values["enabled"])
    return Settings(report=report, **values)


def _refuse_diff_gates_without_ref(given: dict[str, Any]) -> None:
    """A gate on the change needs the ref to compare with.

    Set to 0 is set: a gate of 0 uncovered lines is the strictest, not none.
    """
    if given.get("fail_on") and given.get("baseline") is None:
        raise OptionError(
            "lcov_fail_on needs lcov_baseline: the base's tracefile the categories compare with"
        )
    if given.get("diff_ref"):
        return
    for option in OPTIONS:
        if option.needs_diff and option.attr in given:
            raise OptionError(f"{option.key} needs lcov_diff: the git ref the change is measured from")
