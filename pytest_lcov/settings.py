"""Command-line options, their pyproject twins, and validation of both.

Every option is registered twice: as ``--lcov-x`` and as the ini key
``lcov_x``, which pytest reads from ``[tool.pytest.ini_options]``, pytest 9's
``[tool.pytest]``, pytest.ini, tox.ini or setup.cfg.  The command line wins.
A bad value stops the run at start-up with one line naming the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_lcov.tracefile import DIALECTS, safe_test_name

DEFAULT_OUTPUT = "lcov.info"
DEFAULT_GENHTML_TIMEOUT = 600.0
PATH_STYLES = ("relative", "absolute")
COUNTS = ("run", "tests")  # ran at all in the run (0/1), or how many tests reached it


@dataclass(frozen=True)
class Option:
    """One setting: its ini key, its flag, and how pytest stores it."""

    key: str
    help: str
    ini_type: str = "string"

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


OPTIONS = (
    Option("lcov_enabled", "write an LCOV tracefile, as if --lcov were given", "bool"),
    Option("lcov_output", f"where --lcov writes the tracefile (default {DEFAULT_OUTPUT} in the rootdir)"),
    Option("lcov_source", "package or folder to measure, instead of coverage.py's `source`", "linelist"),
    Option("lcov_branch", "measure branches (coverage.py's `branch = true`)", "bool"),
    Option("lcov_format", f"LCOV dialect: {' or '.join(DIALECTS)} (default compat)"),
    Option("lcov_test_name", "TN: name of the tracefile's section (default: the project's name)"),
    Option("lcov_paths", f"SF: paths, {' or '.join(PATH_STYLES)} (default relative to the rootdir)"),
    Option("lcov_path_prefix", "text put before every relative SF: path"),
    Option("lcov_checksums", "write an MD5 checksum of each line's source (DA:n,count,md5)", "bool"),
    Option("lcov_per_test", "one TN: section per test, and a description file for genhtml", "bool"),
    Option("lcov_counts", f"what DA/FNDA/BRDA counts mean: {' or '.join(COUNTS)} (default run)"),
    Option("lcov_html", "also write genhtml's HTML report into this folder"),
    Option("lcov_html_required", "fail the run when the HTML report cannot be made", "bool"),
    Option("lcov_genhtml", "the genhtml command to run (default: genhtml on PATH)"),
    Option(
        "lcov_genhtml_timeout",
        f"seconds genhtml may run before it is stopped (default {DEFAULT_GENHTML_TIMEOUT:g})",
    ),
    Option("lcov_fail_under_lines", "fail the run when line coverage is under this percent"),
    Option("lcov_fail_under_functions", "fail the run when function coverage is under this percent"),
    Option("lcov_fail_under_branches", "fail the run when branch coverage is under this percent"),
    Option("lcov_table", "print a per-file table with the missing lines in the terminal summary", "bool"),
    Option("lcov_no_cache", "do not cache the analysis of unchanged files in pytest's cache folder", "bool"),
)
GATES = ("lines", "functions", "branches")


def setting_error(message: str) -> pytest.UsageError:
    """A setting with a value we cannot use: pytest prints it as one line and stops."""
    return pytest.UsageError(message)


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one run."""

    enabled: bool
    output: Path
    source: tuple[str, ...]
    branch: bool
    dialect: str
    test_name: str
    absolute_paths: bool
    path_prefix: str
    checksums: bool
    per_test: bool = False
    counts: str = "run"
    html: Path | None = None
    html_required: bool = False
    genhtml: str = "genhtml"
    genhtml_timeout: float = DEFAULT_GENHTML_TIMEOUT
    fail_under: dict[str, float] = field(default_factory=dict)
    table: bool = False
    use_cache: bool = True
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


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("lcov", "LCOV coverage report (pytest-lcov)")
    group.addoption(
        "--lcov",
        action="store",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help=f"measure the run and write an LCOV tracefile (default {DEFAULT_OUTPUT} in the rootdir)",
    )
    group.addoption(
        "--no-lcov",
        action="store_true",
        default=False,
        help="do not measure or write LCOV, whatever the configuration says",
    )
    for option in OPTIONS:
        parser.addini(option.key, option.help, type=option.ini_type)  # type: ignore[arg-type]
        if option.key in ("lcov_enabled", "lcov_output"):
            continue  # spelled --lcov[=PATH]
        if option.ini_type == "bool":
            group.addoption(option.flag, action="store_true", default=None, help=option.help)
        elif option.ini_type == "linelist":
            group.addoption(
                option.flag,
                action="append",
                default=None,
                metavar="VALUE",
                help=option.help + " (repeatable)",
            )
        else:
            group.addoption(option.flag, action="store", default=None, metavar="VALUE", help=option.help)


INI_TYPES = {option.key: option.ini_type for option in OPTIONS}


def _ini(config: pytest.Config, key: str) -> Any:
    """A configuration value; a value of the wrong type names its key."""
    try:
        value = config.getini(key)
    except (pytest.UsageError, ValueError, TypeError) as exc:
        message = str(exc)
        if key not in message:
            message = f"{key}: {message}"
        raise setting_error(f"pytest-lcov: {message}") from None
    wanted = INI_TYPES.get(key, "string")
    if wanted == "string" and not isinstance(value, str):
        raise setting_error(f"pytest-lcov: {key} = {value!r}: expected one text value")
    if wanted == "linelist" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise setting_error(f"pytest-lcov: {key} = {value!r}: expected a list of text values")
    return value


def _value(config: pytest.Config, key: str) -> Any:
    """The command-line value if given, else the configuration's."""
    given = getattr(config.known_args_namespace, key, None)
    return given if given is not None else _ini(config, key)


def _choice(config: pytest.Config, key: str, choices: tuple[str, ...], default: str) -> str:
    value = _value(config, key) or default
    if not isinstance(value, str) or value not in choices:
        raise setting_error(f"pytest-lcov: {key} = {value!r} is not one of: {', '.join(choices)}")
    return value


def test_name_problem(name: str) -> str | None:
    """Why `name` cannot be a TN: name as given, or None when it can."""
    if name == safe_test_name(name):
        return None
    return f"LCOV test names may hold only letters, digits and _ (try {safe_test_name(name)!r})"


def path_prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot start SF: paths (a control character would break the record)."""
    return "holds a control character" if re.search(r"[\x00-\x1f]", prefix) else None


def project_name(rootdir: Path) -> str:
    """The [project] name of the rootdir's pyproject.toml, else the rootdir's name."""
    try:
        data = tomllib.loads((rootdir / "pyproject.toml").read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        name = None
    return name if isinstance(name, str) and name else rootdir.name


def resolve(config: pytest.Config) -> Settings:
    """Read and check every setting; raises a UsageError naming the bad key."""
    rootdir = config.rootpath
    cli_lcov = getattr(config.known_args_namespace, "lcov", None)
    no_lcov = bool(getattr(config.known_args_namespace, "no_lcov", False))
    enabled = not no_lcov and (cli_lcov is not None or bool(_ini(config, "lcov_enabled")))
    output_text = cli_lcov if isinstance(cli_lcov, str) else (_ini(config, "lcov_output") or DEFAULT_OUTPUT)
    # The command line is relative to where pytest was started, the
    # configuration to the rootdir, as pytest does for its own paths.
    output = _path(output_text, "--lcov / lcov_output", Path.cwd() if isinstance(cli_lcov, str) else rootdir)
    source = _value(config, "lcov_source") or []
    if isinstance(source, str):
        source = [source]
    test_name = str(_value(config, "lcov_test_name") or project_name(rootdir))
    if _value(config, "lcov_test_name") and (problem := test_name_problem(test_name)):
        raise setting_error(f"pytest-lcov: lcov_test_name = {test_name!r}: {problem}")
    prefix = str(_value(config, "lcov_path_prefix") or "")
    if problem := path_prefix_problem(prefix):
        raise setting_error(f"pytest-lcov: lcov_path_prefix {problem}")
    per_test = bool(_value(config, "lcov_per_test"))
    if per_test and _value(config, "lcov_counts") not in (None, "", "tests"):
        raise setting_error(
            "pytest-lcov: lcov_per_test counts tests by nature: lcov_counts must be 'tests' or unset"
        )
    html_text = _value(config, "lcov_html")
    html = None
    if html_text:
        html = _path(html_text, "lcov_html", Path.cwd() if config.known_args_namespace.lcov_html else rootdir)
    return Settings(
        enabled=enabled,
        output=output,
        source=tuple(str(s) for s in source),
        branch=bool(_value(config, "lcov_branch")),
        dialect=_choice(config, "lcov_format", DIALECTS, "compat"),
        test_name=safe_test_name(test_name),
        absolute_paths=_choice(config, "lcov_paths", PATH_STYLES, "relative") == "absolute",
        path_prefix=prefix,
        checksums=bool(_value(config, "lcov_checksums")),
        per_test=per_test,
        counts="tests" if per_test else _choice(config, "lcov_counts", COUNTS, "run"),
        html=html,
        html_required=bool(_value(config, "lcov_html_required")),
        genhtml=str(_value(config, "lcov_genhtml") or "genhtml"),
        genhtml_timeout=_seconds(config, "lcov_genhtml_timeout", DEFAULT_GENHTML_TIMEOUT),
        fail_under=_thresholds(config),
        table=bool(_value(config, "lcov_table")),
        use_cache=not _value(config, "lcov_no_cache"),
    )


def _path(text: str, key: str, base: Path) -> Path:
    """A path setting, made absolute against `base`; refuses what cannot be meant as a path."""
    if not text.strip():
        raise setting_error(f"pytest-lcov: {key}: the path is empty")
    if text.strip().lower() in ("true", "false"):
        raise setting_error(f"pytest-lcov: {key} = {text!r}: expected a path, not a yes/no value")
    if "\0" in text:
        raise setting_error(f"pytest-lcov: {key}: the path holds a NUL character")
    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # ~user that does not exist, or no home folder
        raise setting_error(f"pytest-lcov: {key} = {text!r}: {exc}") from None
    return path if path.is_absolute() else base / path


def _seconds(config: pytest.Config, key: str, default: float) -> float:
    value = _value(config, key)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise setting_error(f"pytest-lcov: {key} = {value!r} is not a number of seconds") from None
    if not 0 < number < float("inf"):
        raise setting_error(f"pytest-lcov: {key} = {value!r} must be more than 0 seconds")
    return number


def _thresholds(config: pytest.Config) -> dict[str, float]:
    """The coverage gates asked for, each a percent from 0 to 100."""
    gates = {}
    for metric in GATES:
        key = f"lcov_fail_under_{metric}"
        value = _value(config, key)
        if value is None or value == "":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise setting_error(f"pytest-lcov: {key} = {value!r} is not a number") from None
        if not 0 <= number <= 100:
            raise setting_error(f"pytest-lcov: {key} = {value!r} is not a percent from 0 to 100")
        gates[metric] = number
    return gates
