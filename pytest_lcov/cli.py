"""The ``pytest-lcov`` command: merge tracefiles, or convert a coverage.py data file.

``merge`` is for CI jobs that split one test suite into shards or Python
versions: it adds their tracefiles as ``lcov -a`` does, on machines without
lcov.  ``convert`` is for runs measured by ``coverage run`` (or pytest-cov):
it writes the very LCOV that ``pytest --lcov`` would have written.

A refusal is one line on stderr and exit code 2, never a traceback, and it
leaves the output file as it was: every input is read before the output is
opened, and the output is written beside its target and renamed over it.
An error nobody foresaw is refused the same way, worded as a bug to report.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from pytest_lcov import PytestLcovError
from pytest_lcov.merge import TracefileMerge
from pytest_lcov.model import MergeConflict, format_totals
from pytest_lcov.option_table import (
    DEFAULT_OUTPUT,
    OptionError,
    ReportOptions,
    add_shared_arguments,
    report_options,
    shared_values,
)
from pytest_lcov.safe_write import TRACEFILE_LINE, atomic_output, refuse_unless_ours
from pytest_lcov.tracefile import DEFAULT_DIALECT, DIALECTS, LcovParseError, safe_field

EXIT_REFUSED = 2


class Refused(PytestLcovError):
    """Why the command stops, worded for the user as one line."""


def main(argv: list[str] | None = None) -> int:
    """Run ``pytest-lcov COMMAND ...``; return the exit code.

    Usage errors are argparse's (its usage text, exit code 2); every other
    failure is one line on stderr: in CI logs a traceback buries the reason.
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "merge":
            _merge(args.inputs, Path(args.output), args.format, _merge_renamer(args))
        else:
            _convert(args)
    except Refused as exc:
        return _refuse(args.command, str(exc))
    except Exception as exc:
        return _refuse(args.command, f"unexpected error (please report it): {type(exc).__name__}: {exc}")
    return 0


def _refuse(command: str, message: str) -> int:
    """Say why on one line of stderr, whatever line breaks or control characters `message` holds."""
    print(f"pytest-lcov {command}: {safe_field(' '.join(message.splitlines()))}", file=sys.stderr)
    return EXIT_REFUSED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-lcov", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    merge = commands.add_parser("merge", help="add LCOV tracefiles together as `lcov -a` does")
    merge.add_argument("inputs", nargs="+", type=Path, metavar="TRACEFILE")
    merge.add_argument("-o", "--output", required=True, metavar="OUT", help="the merged tracefile")
    _add_format(merge)
    merge.add_argument(
        "--paths",
        action="append",
        default=[],
        metavar="WHERE,PATTERN[,PATTERN...]",
        help="rename SF: paths matching a PATTERN to WHERE, as coverage.py's [paths] does "
        "(e.g. src/,*/site-packages/); repeatable; after the [paths] of coverage.py's configuration",
    )
    merge.add_argument(
        "--rcfile",
        metavar="FILE",
        help="coverage.py's configuration file to read [paths] from (default: where coverage.py looks)",
    )
    merge.add_argument(
        "--no-coverage-paths",
        action="store_true",
        help="do not read [paths] from coverage.py's configuration",
    )
    convert = commands.add_parser("convert", help="write a coverage.py data file as the plugin's LCOV")
    convert.add_argument("datafile", nargs="?", default=".coverage", type=Path, metavar="DATAFILE")
    convert.add_argument(
        "-o", "--output", default=DEFAULT_OUTPUT, metavar="OUT", help=f"default: {DEFAULT_OUTPUT}"
    )
    add_shared_arguments(convert)
    convert.add_argument("--rootdir", type=Path, default=Path.cwd(), help="SF: paths are relative to it")
    convert.add_argument(
        "--cache-dir",
        type=Path,
        help="keep coverage.py's analysis of unchanged files here, as `pytest --lcov` does in .pytest_cache",
    )
    return parser


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=DIALECTS,
        default=DEFAULT_DIALECT,
        help=f"LCOV dialect (default {DEFAULT_DIALECT})",
    )


def _merge_renamer(args: argparse.Namespace) -> Callable[[str], str] | None:
    """The SF: renaming of ``merge``: the configuration's [paths] groups, then those of --paths.

    coverage.py is imported only when there is something to read or remap.
    """
    groups = []
    for text in args.paths:
        group = [part.strip() for part in text.split(",") if part.strip()]
        if len(group) < 2:
            raise Refused(f"--paths {text!r}: give WHERE,PATTERN: where the files are, then where else")
        groups.append(group)
    if args.no_coverage_paths and not groups:
        return None
    from coverage.exceptions import ConfigError

    from pytest_lcov.coverage_settings import configured_path_groups, path_aliases

    try:
        configured = [] if args.no_coverage_paths else configured_path_groups(args.rcfile)
        return path_aliases(configured + groups)
    except ConfigError as exc:
        raise Refused(f"coverage.py's configuration: {exc}") from None


def _merge(
    inputs: list[Path], output: Path, dialect: str, rename: Callable[[str], str] | None = None
) -> None:
    for path in inputs:  # before reading any: a typo should not wait for big files to be read
        _require_file(path, "")
    merge = TracefileMerge(rename)
    for path in inputs:
        try:
            merge.add_file(path)
        except OSError as exc:
            raise Refused(f"cannot read {path}: {_reason(exc)}") from None
        except (LcovParseError, MergeConflict) as exc:
            raise Refused(str(exc)) from None
    try:
        with atomic_output(output) as out:
            totals = merge.write(out, dialect)
    except OSError as exc:
        raise Refused(f"cannot write {output}: {_reason(exc)}") from None
    print(f"pytest-lcov merge: {len(inputs)} tracefiles into {output}: {format_totals(totals)}")
    if merge.renamed:
        renamed = sorted(merge.renamed)
        example = f"{renamed[0][0]} -> {renamed[0][1]}"
        print(f"pytest-lcov merge: {len(renamed)} SF: paths renamed by [paths] (e.g. {example})")
    if merge.mcdc_left_out:
        _note_mcdc_left_out(merge.mcdc_left_out)


def _note_mcdc_left_out(count: int) -> None:
    """Say on stderr that MC/DC data was not merged, so that its loss is never silent (lcov's is)."""
    print(
        f"pytest-lcov merge: {count} MCDC records (MC/DC condition coverage) left out, as `lcov -a` "
        "leaves them out without --mcdc-coverage; `lcov -a --mcdc-coverage` keeps them",
        file=sys.stderr,
    )


def _reason(exc: OSError) -> str:
    """What went wrong, without the file name: the caller names the file the user knows.

    With a strerror the file named by the exception (perhaps the temporary
    output beside the target) is left out; without one, the text is all there is.
    """
    return exc.strerror or str(exc) or type(exc).__name__


def _os_error(exc: OSError, output: Path) -> str:
    """Word an OSError of `convert`: a file it could not read, or the output it could not write.

    The report reads the measured sources and writes only the output, through
    a temporary file beside it: an error naming any other file is a read.
    One naming no file (a full disk) happened while writing.
    """
    filename = exc.filename
    if isinstance(filename, str | bytes | os.PathLike) and not _is_output(os.fsdecode(filename), output):
        return f"cannot read {os.fsdecode(filename)}: {_reason(exc)}"
    return f"cannot write {output}: {_reason(exc)}"


def _is_output(filename: str, output: Path) -> bool:
    """True for `output`, a folder on its way (made if missing), or its temporary file.

    atomic_output writes ``.NAME.xxxxxxxx.tmp`` beside the file the output
    resolves to, so both the output as given and as resolved are checked.
    """
    path = Path(os.path.abspath(filename))
    for target in {Path(os.path.abspath(output)), Path(os.path.realpath(output))}:
        if path == target or path in target.parents:
            return True
        if (
            path.parent == target.parent
            and path.name.startswith(f".{target.name}.")
            and path.suffix == ".tmp"
        ):
            return True
    return False


def _require_file(path: Path, hint: str) -> None:
    if not path.is_file():
        raise Refused(f"{path}: {'not a file' if path.exists() else 'no such file'}{hint}")


def _convert(args: argparse.Namespace) -> None:
    # Imported here: `merge` must not pay for coverage.py.
    import coverage

    from pytest_lcov.coverage_internals import unusable_release
    from pytest_lcov.report import write_report

    if unusable_release():
        raise Refused(unusable_release())

    datafile: Path = args.datafile
    rootdir: Path = args.rootdir.resolve()
    if not rootdir.is_dir():
        raise Refused(f"--rootdir {args.rootdir}: not a folder")
    options = _report_options(args, rootdir)
    _check_data_file(datafile)
    try:
        refuse_unless_ours(options.output, TRACEFILE_LINE, "a tracefile")
    except OSError as exc:
        raise Refused(f"cannot write {options.output}: {_reason(exc)}") from None
    try:
        cov = coverage.Coverage(data_file=str(datafile), config_file=True)
        cov.load()
        totals = write_report(cov, options, rootdir).totals
    except coverage.exceptions.CoverageException as exc:
        raise Refused(f"{datafile}: {exc}") from None
    except OSError as exc:
        raise Refused(_os_error(exc, options.output)) from None
    print(f"LCOV written to {options.output}: {format_totals(totals)}")


def _report_options(args: argparse.Namespace, rootdir: Path) -> ReportOptions:
    """The report's options from the shared flags, checked as the plugin checks them."""
    try:
        values = shared_values(args)
    except OptionError as exc:
        raise Refused(str(exc)) from None
    options = report_options({**values, "output": Path(args.output)}, rootdir)
    return dataclasses.replace(options, cache_dir=args.cache_dir)


def _check_data_file(path: Path) -> None:
    """Refuse anything but a coverage.py SQLite data file, without writing to it.

    coverage.py's ``Coverage.load`` takes a database without its tables for
    a new data file and writes its schema into it: checked read-only first,
    a foreign database (or an empty file) is left as it was.
    """
    _require_file(path, " (write one with `coverage run -m pytest`)")
    from pytest_lcov.coverage_internals import check_data_file_schema  # not for `merge`

    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        check_data_file_schema(uri)
    except sqlite3.Error as exc:
        raise Refused(f"{path}: not a readable coverage.py data file ({exc})") from None
