"""The options table as pytest flags and configuration keys, and one run's resolved settings.

Every option is registered twice: as ``--lcov-x`` and as the ini key
``lcov_x``, which pytest reads from ``[tool.pytest.ini_options]``, pytest 9's
``[tool.pytest]``, pytest.ini, tox.ini or setup.cfg.  The command line wins.
A bad value stops the run at start-up with one line naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_lcov.options import (
    DEFAULT_GENHTML_TIMEOUT,
    DEFAULT_OUTPUT,
    GATES,
    OPTIONS,
    Option,
    OptionError,
    ReportOptions,
    parse_path,
    report_options,
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
    return pytest.UsageError(safe_field(message))


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one run: what to measure, the report's options, what follows it."""

    enabled: bool
    report: ReportOptions
    source: tuple[str, ...] = ()
    branch: bool = False
    html: Path | None = None
    html_required: bool = False
    genhtml: str = "genhtml"
    genhtml_timeout: float = DEFAULT_GENHTML_TIMEOUT
    fail_under: dict[str, float] = field(default_factory=dict)
    use_cache: bool = True
    diff_ref: str | None = None
    fail_under_diff: float | None = None
    max_uncovered_diff_lines: int | None = None
    job_summary: bool = True
    annotations: bool = False
    fail_under_total: float | None = None  # None: [report] fail_under decides, as for pytest-cov
    optional: bool = False  # no tracefile written does not fail the run
    coverage_config: Path | None = None  # None: where coverage.py looks (or COVERAGE_RCFILE)
    no_on_fail: bool = False  # failed tests: no tracefile, no HTML report, no gate
    append: bool = False  # add to the tracefile at the output path
    precision: int | None = None  # None: [report] precision, as for pytest-cov's --cov-precision

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
        raise setting_error(f"pytest-lcov: {message}") from None


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
        raise setting_error(f"pytest-lcov: {exc}") from None
    refuse_gates_without_report(config, settings)
    return settings


# The settings that fail the run: each is checked, or refused at start-up, never dropped unsaid.
GATE_KEYS = (
    *(f"lcov_fail_under_{metric}" for metric in GATES),
    "lcov_fail_under",
    "lcov_fail_under_diff",
    "lcov_max_uncovered_diff_lines",
    "lcov_html_required",
)


def refuse_gates_without_report(config: pytest.Config, settings: Settings) -> None:
    """Stop when a gate typed on the command line (or in addopts) could not be checked: the report is off.

    A gate in the configuration serves every run, also a quick ``pytest`` without
    ``--lcov``, so it stays quiet then; ``--no-lcov`` turns off the report and all its gates.
    """
    if settings.enabled or getattr(config.known_args_namespace, "no_lcov", False):
        return
    for option in OPTIONS:
        if option.key in GATE_KEYS and getattr(config.known_args_namespace, option.key, None) is not None:
            raise setting_error(
                f"pytest-lcov: {option.flag} would not be checked: no report is written without --lcov "
                f"(or lcov_enabled = true); add --lcov, or leave out {option.flag}"
            )


def _resolve(config: pytest.Config) -> Settings:
    rootdir = config.rootpath
    values: dict[str, Any] = {}
    for option in OPTIONS:
        value, from_cli = _given(config, option)
        if value is None:
            continue
        if option.kind == "path":
            # The command line is relative to where pytest was started, the
            # configuration to the rootdir, as pytest does for its own paths.
            values[option.name] = parse_path(value, option.key, Path.cwd() if from_cli else rootdir)
        elif option.kind == "bool":
            values[option.name] = bool(value)
        else:
            values[option.name] = option.parse(value, option.key)
    cli_lcov = getattr(config.known_args_namespace, "lcov", None)
    no_lcov = bool(getattr(config.known_args_namespace, "no_lcov", False))
    if isinstance(cli_lcov, str):
        output = parse_path(cli_lcov, "--lcov", Path.cwd())
    else:
        output = values.get("output") or rootdir / DEFAULT_OUTPUT
    return Settings(
        enabled=not no_lcov and (cli_lcov is not None or bool(values.get("enabled"))),
        report=report_options(values, output, rootdir),
        source=measured_source(values.get("source", ())),
        branch=bool(values.get("branch")),
        html=values.get("html"),
        html_required=bool(values.get("html_required")),
        genhtml=values.get("genhtml", "genhtml"),
        genhtml_timeout=values.get("genhtml_timeout", DEFAULT_GENHTML_TIMEOUT),
        fail_under={
            metric: values[f"fail_under_{metric}"] for metric in GATES if f"fail_under_{metric}" in values
        },
        use_cache=not values.get("no_cache"),
        **_diff_settings(values),
        fail_under_total=values.get("fail_under"),
        optional=bool(values.get("optional")),
        coverage_config=values.get("config"),
        no_on_fail=bool(values.get("no_on_fail")),
        append=bool(values.get("append")),
        precision=values.get("precision"),
    )


def measured_source(given: tuple[str, ...]) -> tuple[str, ...]:
    """--lcov-source values, without empty ones: an empty --lcov-source= means no filter, as --cov= does."""
    return tuple(value for value in given if value.strip())


DIFF_ONLY = ("fail_under_diff", "max_uncovered_diff_lines", "annotations")


def _diff_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The change-coverage settings; a gate on the change needs the ref to compare with."""
    needs_ref = [  # set to 0 is set: a gate of 0 uncovered lines is the strictest, not none
        key for key in ("fail_under_diff", "max_uncovered_diff_lines", "annotations") if key in values
    ]
    if needs_ref and not values.get("diff"):
        raise OptionError(f"lcov_{needs_ref[0]} needs lcov_diff: the git ref the change is measured from")
    return {
        "diff_ref": values.get("diff"),
        "fail_under_diff": values.get("fail_under_diff"),
        "max_uncovered_diff_lines": values.get("max_uncovered_diff_lines"),
        "job_summary": not values.get("no_job_summary"),
        "annotations": bool(values.get("annotations")),
    }
