"""The steps after the tracefile, as results: the lines to show and whether each fails the run.

Each step (what was written, the HTML report, the gates, the change's
coverage) reads the written report and returns `Line`s; none prints or sets
the exit status.  The plugin shows them in order and turns a `fail` line
into the run's failure, so the data flows one way: measurement, report,
steps, terminal.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_lcov import PytestLcovError, prefixed
from pytest_lcov.coverage_settings import TotalGate, coverage_total, total_gate
from pytest_lcov.diff import (
    MAX_ANNOTATIONS,
    ChangedLines,
    DiffCoverage,
    DiffError,
    capped_annotations,
    diff_coverage,
    escape_data,
    escape_property,
    github_annotations,
    repo_relative,
)
from pytest_lcov.diff import summary_line as diff_summary_line
from pytest_lcov.differential import (
    DifferentialReport,
    baseline_mismatch,
    categories,
    genhtml_diff,
    parse_unified_diff,
)
from pytest_lcov.executions import uncounted_notices
from pytest_lcov.html import Annotate, Differential, Genhtml, HtmlError, find_genhtml, write_html
from pytest_lcov.merge import TracefileMerge
from pytest_lcov.model import FileRecord, MergeConflict
from pytest_lcov.option_table import ReportOptions
from pytest_lcov.report import Report
from pytest_lcov.settings import Settings
from pytest_lcov.terminal import missed_gates, shown, summary_line
from pytest_lcov.tracefile import LcovParseError, safe_field

NOT_WRITTEN = "no tracefile written"
SLOW_GENHTML_SECONDS = 10.0  # genhtml 2.x on per-test data: say how long from this estimate on
MAX_FILES_IN_LINE = 10


@dataclass(frozen=True)
class Line:
    """One line for the terminal.

    `kind` says what it does besides being shown: a ``notice`` is also a
    warning of pytest-lcov's class (so ``-W error::...`` can fail the run),
    a ``fail`` fails the run unless it failed already, and a
    ``fail_if_passing`` is shown, and fails the run, only while nothing else has.
    """

    text: str
    kind: str = "say"  # "say", "notice", "fail" or "fail_if_passing"
    markup: tuple[str, ...] = ()  # terminal markup: "red", "green", "yellow", "bold"

    @property
    def markup_flags(self) -> dict[str, bool]:
        return dict.fromkeys(self.markup, True)


def say(text: str, *markup: str) -> Line:
    """A line as it is (``LCOV written to ...``)."""
    return Line(text, "say", markup)


def tell(text: str, *markup: str) -> Line:
    """A line of pytest-lcov's own, under its name."""
    return Line(prefixed(text), "say", markup)


def notice(text: str) -> Line:
    return Line(prefixed(text), "notice", ("yellow",))


def fail(text: str) -> Line:
    return Line(prefixed(text), "fail", ("red", "bold"))


def written_lines(report: Report, settings: Settings, options: ReportOptions) -> list[Line]:
    """What was written, and what in it the user should know of."""
    lines = [notice(text) for text in uncounted_notices(report.uncounted)]
    lines += [
        notice(f"{name} changed during the run: its report may not match the code that ran")
        for name in report.changed
    ]
    lines.append(say(summary_line(settings.output, report.totals)))
    if settings.per_test:
        lines.append(say(f"LCOV per-test sections in {shown(options.tests_file)}"))
        lines.append(say(f"LCOV test descriptions in {shown(options.description_file)}"))
    return lines


def gate_lines(report: Report, settings: Settings, required: float | None, precision: int) -> list[Line]:
    """Each metric's gate, then coverage.py's total against `required` (None: no total gate)."""
    lines = [fail(text) for text in missed_gates(report.totals, settings.fail_under)]
    if required:
        lines += total_gate_lines(total_gate(coverage_total(report.numbers), required, precision))
    return lines


def total_gate_lines(gate: TotalGate) -> list[Line]:
    """pytest-cov's two lines on a failure, its one green line on a pass."""
    if gate.failed:
        return [fail(gate.line), tell(gate.detail, "red")]
    return [tell(gate.line, "green")]


@dataclass
class DiffResult:
    """The change's coverage, its lines, and the workflow commands that annotate it."""

    coverage: DiffCoverage
    lines: list[Line] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)


def diff_step(changed: ChangedLines, report: Report, settings: Settings) -> DiffResult:
    """Say how much of the change ran, and where it did not; check the change's gates."""
    diff = diff_coverage(changed, report.records, changed.relative, report.starts)
    missing = diff.missing_by_file()
    text = f"LCOV {diff_summary_line(diff)}"
    if missing:
        shown_files = missing[:MAX_FILES_IN_LINE]
        more = f" and {len(missing) - len(shown_files)} more files" if len(missing) > len(shown_files) else ""
        text += f"; not run: {' '.join(shown_files)}{more}"
    result = DiffResult(diff, [say(text)])
    if settings.fail_under_diff is not None and diff.under(settings.fail_under_diff):
        result.lines.append(
            fail(
                f"FAIL diff coverage {diff.percent}% is under "
                f"--lcov-fail-under-diff={settings.fail_under_diff:g}"
            )
        )
    limit = settings.max_uncovered_diff_lines
    if limit is not None and diff.missing > limit:
        result.lines.append(
            fail(
                f"FAIL {diff.missing} changed lines never ran, "
                f"more than --lcov-max-uncovered-diff-lines={limit}"
            )
        )
    if settings.annotations and os.environ.get("GITHUB_ACTIONS") == "true":
        result.annotations = github_annotations(diff, changed.root)
    return result


def change_gate_lines(settings: Settings, why: str) -> list[Line]:
    """The change's gates, failed because they cannot be checked."""
    lines = []
    if settings.fail_under_diff is not None:
        lines.append(fail(f"FAIL diff coverage {why}"))
    if settings.max_uncovered_diff_lines is not None:
        lines.append(fail(f"FAIL uncovered changed lines {why}"))
    if settings.fail_on:
        lines.append(fail(f"FAIL differential categories {','.join(settings.fail_on)} {why}"))
    return lines


@dataclass
class BaselineResult:
    """This run against the base's tracefile: the categories (None if they could not be made), their
    lines, and what genhtml 2.x needs for the differential report."""

    report: DifferentialReport | None
    lines: list[Line] = field(default_factory=list)
    html: Differential | None = None
    annotations: list[str] = field(default_factory=list)


# What a reviewer is told of beside a change's lines never run (UNC): code that ran at the base
# and runs no more, and code measured now that the base did not measure, never run.
ANNOTATED = {
    "LBC": "ran at the base, not now (lost baseline coverage)",
    "UIC": "not measured at the base, never run now (uncovered included code)",
}


def baseline_step(
    settings: Settings, options: ReportOptions, rootdir: Path, repository: str | None = None
) -> BaselineResult:
    """Sort this run's lines, branches and functions into genhtml 2.x's categories; check --lcov-fail-on.

    Both tracefiles are read back from disk as any reader would (and refused
    as `pytest-lcov merge` refuses them); the change is git's, since the
    merge base of lcov_diff, for the files either names.  Names are compared
    without the path prefix, as genhtml reads them.
    """
    assert settings.baseline is not None and settings.diff_ref is not None
    prefix = options.path_prefix
    try:
        base = _records(settings.baseline, prefix, "the baseline")
        current = _records(settings.output, prefix, "the tracefile")
        mismatch = baseline_mismatch(base, settings.diff_ref, rootdir)
        if mismatch is not None:
            why = f"does not match the merge base of {settings.diff_ref}: {mismatch}"
            raise _Unreadable(f"the baseline {shown(settings.baseline)} {why}")
        diff = genhtml_diff(settings.diff_ref, rootdir, sorted(base.keys() | current.keys()))
        found = categories(base, current, parse_unified_diff(diff))
    except (DiffError, _Unreadable) as exc:
        why = "cannot be checked: no differential coverage"
        return BaselineResult(
            None, [tell(f"no differential coverage: {exc}", "red"), *_fail_on_lines(settings, why)]
        )
    text = f"LCOV against {shown(settings.baseline)} since {settings.diff_ref}: {categories_line(found)}"
    result = BaselineResult(found, [say(text)], Differential(settings.baseline, diff))
    failing = found.failing(settings.fail_on)
    if failing:
        listed = "; ".join(
            f"{metric} " + ", ".join(f"{category} {count}" for category, count in counts.items())
            for metric, counts in failing.items()
        )
        result.lines.append(fail(f"FAIL {listed} (--lcov-fail-on={','.join(settings.fail_on)})"))
    if settings.annotations and repository is not None and os.environ.get("GITHUB_ACTIONS") == "true":
        result.annotations = category_annotations(found, rootdir, repository)
    return result


def category_annotations(
    found: DifferentialReport, rootdir: Path, repository: str, limit: int = MAX_ANNOTATIONS
) -> list[str]:
    """GitHub ``::warning`` commands for each run of ANNOTATED lines, as diff coverage's annotations.

    At most `limit`: the last one then says how many were left out, since
    GitHub would drop them unsaid.  File names are relative to the repository.
    """
    commands = []
    for name, entry in found.files.items():
        file = escape_property(repo_relative(str(rootdir / name), repository))
        spans: list[tuple[str, int, int]] = []
        for line in sorted(entry.lines):
            category = entry.lines[line]
            if category not in ANNOTATED:
                continue
            if spans and spans[-1][0] == category and spans[-1][2] == line - 1:
                spans[-1] = (category, spans[-1][1], line)
            else:
                spans.append((category, line, line))
        for category, first, last in spans:
            where = f"line {first}" if first == last else f"lines {first}-{last}"
            message = escape_data(f"{where}: {ANNOTATED[category]}")
            commands.append(f"::warning file={file},line={first},endLine={last},title={category}::{message}")
    return capped_annotations(commands, limit, "Against the baseline", "ranges")


def categories_line(found: DifferentialReport) -> str:
    """Each metric's non-empty categories, in genhtml's order of priority, on one line."""
    parts = []
    for metric, counts in found.totals.items():
        listed = ", ".join(f"{category} {count}" for category, count in counts.items() if count)
        if listed:
            parts.append(f"{metric} {listed}")
    return "; ".join(parts) or "nothing measured"


def _fail_on_lines(settings: Settings, why: str) -> list[Line]:
    if not settings.fail_on:
        return []
    return [fail(f"FAIL differential categories {','.join(settings.fail_on)} {why}")]


class _Unreadable(PytestLcovError):
    """A tracefile that cannot be read or is not one; the message says which and why."""


def _records(path: Path, prefix: str, what: str) -> dict[str, FileRecord]:
    """The records of the tracefile at `path`, added up per source file, by name without `prefix`."""
    merge = TracefileMerge(keep_empty=True)
    if path.exists() and not path.is_file():  # a folder; a FIFO or a device, whose reading could block
        raise _Unreadable(f"{what} {shown(path)} is not a regular file")
    try:
        merge.add_file(path)
    except OSError as exc:
        raise _Unreadable(f"{what} {shown(path)} cannot be read: {exc.strerror or exc}") from None
    except (LcovParseError, MergeConflict) as exc:
        raise _Unreadable(f"{what} {shown(path)} is not a tracefile: {exc}") from None
    records: dict[str, FileRecord] = {}
    for record in merge.records():
        name = record.path.removeprefix(prefix)
        records[name] = dataclasses.replace(record, path=name)
    return records


def html_lines(
    report: Report,
    settings: Settings,
    options: ReportOptions,
    rootdir: Path,
    out_dir: Path,
    announce: Callable[[Line], None],
    differential: Differential | None = None,
    annotate: bool = False,
) -> list[Line]:
    """genhtml's report: of the per-test file with its descriptions, else of the tracefile.

    `announce` shows a line at once, before a long genhtml run, rather than
    after it with the others.  With `differential`, genhtml 2.x makes its
    differential report; genhtml 1.x, which has none, the plain one, and says so.
    With `annotate` (a change under review), genhtml 2.x gives each line its age and owner.
    """
    lines = []
    try:
        genhtml = find_genhtml(settings.genhtml)
        if differential is not None and genhtml.major < 2:
            lines.append(
                notice(
                    f"genhtml {genhtml.major}.x makes no differential report (lcov 2.x's genhtml does): "
                    "the HTML report is of this run alone"
                )
            )
            differential = None
        if (warning := how_long_line(genhtml, report, settings)) is not None:
            announce(warning)
        complaints = write_html(
            genhtml,
            options.tests_file if settings.per_test else settings.output,
            out_dir,
            rootdir,
            title=options.test_name,
            description_file=options.description_file if settings.per_test else None,
            path_prefix=options.path_prefix,
            absolute=options.absolute_paths,
            timeout=settings.genhtml_timeout,
            differential=differential,
            annotate=annotate_for(options) if annotate else None,
        )
    except HtmlError as exc:
        return [*lines, fail(str(exc)) if settings.html_required else notice(str(exc))]
    lines += [notice(f"genhtml: {complaint}") for complaint in complaints]
    lines.append(say(f"LCOV HTML report in {shown(out_dir / 'index.html')}"))
    return lines


def annotate_for(options: ReportOptions) -> Annotate:
    """Age and owner of lines, the blames kept for the next run in pytest's cache (when there is one)."""
    return Annotate(options.cache_dir / "blame.json" if options.cache_dir is not None else None)


def how_long_line(genhtml: Genhtml, report: Report, settings: Settings) -> Line | None:
    """Before a long genhtml 2.x run on per-test data, how long it may take.

    The plugin hands genhtml 2.x per-test data in the shape it reads in
    about linear time (html.lcov2_per_test_text); html.Lcov2Load
    estimates that time.  Said when it is long, or longer than the timeout.
    """
    load = report.tests_load
    timeout = settings.genhtml_timeout
    if genhtml.major < 2 or load is None:
        return None
    late = load.seconds > timeout
    if load.seconds < SLOW_GENHTML_SECONDS and not late:
        return None
    over = f", over lcov_genhtml_timeout = {timeout:g} s" if late else ""
    return tell(
        f"genhtml {genhtml.major}.x may take {duration(load.seconds)} on "
        f"{load.sections:,} per-test sections{over}; genhtml {shown(settings.output)} "
        f"without per-test views takes seconds",
        "yellow",
    )


def duration(seconds: float) -> str:
    """About `seconds`, as a person would say it."""
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {seconds / 60:.0f} min"


def failure_lines(
    why: str,
    settings: Settings,
    *,
    exc: BaseException | None = None,
    verbose: bool = False,
    total_required: bool = False,
) -> list[Line]:
    """No tracefile: say why, say that a file there is earlier, and fail every gate.

    A gate that cannot be checked is never a pass.  A CI job that uploads the
    tracefile, or gates on it, must not stay green without it: the run fails
    unless --lcov-optional, or it failed already (then that is not said again).
    """
    lines = [tell(why, "red", "bold")]
    if exc is not None and verbose:
        lines += [say(text) for text in traceback_lines(exc)]
    lines += earlier_lines(settings.output)
    lines += [
        fail(f"FAIL {metric} coverage cannot be checked: no tracefile") for metric in settings.fail_under
    ]
    if total_required:
        lines.append(fail("FAIL total coverage cannot be checked: no tracefile"))
    if not settings.optional:
        lines.append(
            Line(
                prefixed(
                    "FAIL the run asked for a tracefile and none was written "
                    "(--lcov-optional, or lcov_optional = true, keeps the tests' exit status)"
                ),
                "fail_if_passing",
                ("red", "bold"),
            )
        )
    if settings.diff_ref is not None:
        lines += change_gate_lines(settings, "cannot be checked: no tracefile")
    if settings.html is not None and settings.html_required:
        lines.append(fail("FAIL no HTML report: no tracefile written"))
    return lines


def earlier_lines(output: Path) -> list[Line]:
    """A tracefile at the output path, if any, is not this run's: nothing may take it for it."""
    try:
        if not output.is_file():
            return []
        written = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(output.stat().st_mtime))
    except OSError:
        return []
    return [tell(f"{shown(output)} is from an earlier run ({written}), not from this one", "red")]


def report_failure(exc: Exception, output: Path) -> str:
    """One line that says why no tracefile was written."""
    import coverage  # the exception class only

    if isinstance(exc, coverage.CoverageException):
        return f"{NOT_WRITTEN}: {exc}"
    if isinstance(exc, OSError):
        where = exc.filename or output
        return f"{NOT_WRITTEN}: {where}: {exc.strerror or exc}"
    return f"{NOT_WRITTEN}: internal error {exc!r} (-v shows the traceback)"


def traceback_lines(exc: BaseException) -> list[str]:
    """The traceback of `exc` for ``-v``, one printable line per frame line: a name holding a
    newline (a file's, or in the message) stays inside its own line."""
    lines = ["Traceback (most recent call last):"]
    for frame in traceback.extract_tb(exc.__traceback__):
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    lines.append(f"{type(exc).__name__}: {exc}")
    return [safe_field(line) for line in lines]


def left_out_lines(names: Iterable[str]) -> list[Line]:
    why = "coverage.py cannot store a name that is not UTF-8"
    return [notice(f"{shown(Path(name))} is left out: {why}") for name in sorted(names)]
