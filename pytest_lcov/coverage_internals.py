"""Everything pytest-lcov takes from coverage.py beyond its documented API, and the check that it still fits.

The documented API (``Coverage``, ``CoverageData``, the plugin classes
``FileReporter`` and ``CodeRegion``, the exceptions) is imported where it is
used; anything else of coverage.py's (its modules ``results``, ``parser``,
``files``, ``python``, ``regions``, ``phystokens``, ``report_core``, private
attributes, the SQL of its data file, the names of its environment variables
and of its sys.monitoring tool) is reached only through this module, so a
coverage.py release that moves one of them touches this file alone.

Two routes lead to a file's analysis:

* the fast one: each source read once, coverage.py's parser state stored and
  restored (the analysis cache, helper processes), arcs of every test read by
  one SQL query;
* coverage.py's own: the file reporters and analyses ``coverage report``
  itself uses (``report_core.get_analysis_to_report``), and per-test data
  through ``CoverageData``'s API.

`fast_path` runs a self-check once, at the first use (the helpers' start or
the report), on a small known source: coverage.py's own route must give what
its public ``Coverage.analysis2`` and JSON report give, and the fast route
what coverage.py's own gives.  If the fast route differs, the run takes
coverage.py's own (slower, the same tracefile), with one warning line; if
coverage.py's own differs, no tracefile is written, with one line.  A
release that changes an internal never changes a tracefile.
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import json
import os
import sqlite3
import tempfile
import traceback
import warnings
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import coverage
from coverage import Coverage, CoverageData
from coverage.exceptions import CoverageException, DataError
from coverage.plugin import CodeRegion, FileReporter

from pytest_lcov import PytestLcovWarning, prefixed
from pytest_lcov.counting import source_digest
from pytest_lcov.parser_state import NotPlainData, from_plain, to_plain

# Needed on both routes (report code, numbers, [paths]): a release without them cannot be reported on,
# and says so in one line when pytest-lcov is asked for (`unusable_release`), never at pytest's start-up.
try:
    from coverage.files import PathAliases
    from coverage.report_core import get_analysis_to_report
    from coverage.results import Analysis, Numbers, display_covered, should_fail_under

    CORE_IMPORT_PROBLEM = ""
except (
    ImportError
) as exc:  # pragma: no cover - a coverage.py that moved them; tests/test_coverage_internals.py
    CORE_IMPORT_PROBLEM = str(exc)
    if not TYPE_CHECKING:
        PathAliases = Analysis = Numbers = get_analysis_to_report = display_covered = should_fail_under = None

# Needed on the fast route only: a release without them takes coverage.py's own route.
try:
    from coverage.files import GlobMatcher, prep_patterns
    from coverage.parser import PythonParser
    from coverage.phystokens import source_encoding
    from coverage.python import PythonFileReporter, get_zip_bytes
    from coverage.regions import RegionFinder
    from coverage.results import analysis_from_file_reporter

    FAST_IMPORT_PROBLEM = ""
except ImportError as exc:  # pragma: no cover - a coverage.py that moved them
    FAST_IMPORT_PROBLEM = str(exc)

__all__ = [
    "Analysis",
    "Numbers",
    "PathAliases",
    "display_covered",
    "should_fail_under",
]

# coverage.py's names outside its API: its subprocess patch's variable, its sys.monitoring tool.
PROCESS_CONFIG_VARIABLE = "COVERAGE_PROCESS_CONFIG"
PROCESS_VARIABLES_PREFIX = "COVERAGE_PROCESS_"
SYSMON_TOOL_NAME = "coverage.py"

# The parser's inputs, rebuilt from the source and settings; everything else it holds is derived state.
PARSER_INPUTS = frozenset({"text", "filename", "exclude", "_ast_root", "show_tokens", "_first_line_cache"})
# Not stored either: the fragments of every arc's description, 70% of an entry and of its decoding.
# The report reads descriptions of the branch lines' arcs only, and those are stored ready-made.
PARSER_NOT_STORED = PARSER_INPUTS | {"_missing_arc_fragments"}

# None: not decided yet (the self-check decides at first use); tests set False to force coverage.py's route.
USE_FAST_PATH: bool | None = None
FALLBACK_NOTICE = (
    "coverage.py {version} does not behave as pytest-lcov's fast analysis expects ({problem}): "
    "analysing with coverage.py's own report code instead (slower, same numbers)"
)


def unusable_release() -> str:
    """Why this coverage.py cannot be reported on ("" if it can): an internal that both routes need moved."""
    if not CORE_IMPORT_PROBLEM:
        return ""
    return (
        f"coverage.py {coverage.__version__} lacks what pytest-lcov's report needs ({CORE_IMPORT_PROBLEM}): "
        "install the coverage.py release pytest-lcov was tested with, or a newer pytest-lcov"
    )


def fast_path() -> bool:
    """Whether this run may take the fast route: decided once, by the self-check, with one warning if not.

    Raises CoverageException (no tracefile, one line) when even coverage.py's
    own report code does not give what its API gives: no route is then right.
    """
    global USE_FAST_PATH
    if USE_FAST_PATH is None:
        own, fast = self_check_problems()
        if own:
            raise CoverageException(
                f"coverage.py {coverage.__version__}'s report code does not give what its API gives ({own}): "
                "pytest-lcov cannot analyse with this release"
            )
        problem = FAST_IMPORT_PROBLEM or fast
        USE_FAST_PATH = not problem
        if problem:
            warnings.warn(
                prefixed(FALLBACK_NOTICE.format(version=coverage.__version__, problem=problem)),
                PytestLcovWarning,
                stacklevel=2,
            )
    return USE_FAST_PATH


def config_file(cov: Coverage) -> str | None:
    """The configuration file coverage.py read (``Coverage.config`` is not in its API)."""
    name = getattr(getattr(cov, "config", None), "config_file", None)
    return name if isinstance(name, str) and name else None


def check_data_file_schema(uri: str) -> None:
    """Read coverage.py's schema table of the SQLite file at `uri`; sqlite3.Error if it has none."""
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        db.execute("select version from coverage_schema").fetchone()


# --- reading a source as coverage.py reads it (sources.read_source) ------------------------------


@dataclass(frozen=True)
class SourceText:
    """One read of a source file: its raw bytes and the text coverage.py parses."""

    raw: bytes
    text: str

    @property
    def digest(self) -> str:
        return source_digest(self.raw)  # the import hook's digest too: the two must agree


def zip_bytes(filename: str) -> bytes | None:
    """The bytes of a module inside a zip file, as coverage.py finds it; None if there is none."""
    return get_zip_bytes(filename)


def decoded_source(normalized: bytes) -> str:
    """Text of a source whose line endings are normalized, decoded as coverage.py decodes it.

    SyntaxError for an unknown coding cookie.
    """
    return normalized.decode(source_encoding(normalized), "replace")


# --- the fast route: coverage.py's reporter over text read once, its parser state restorable -----


if TYPE_CHECKING or not FAST_IMPORT_PROBLEM:

    class SourceReporter(PythonFileReporter):
        """coverage.py's Python file reporter over text read once, its parser state optionally restored."""

        def __init__(
            self, filename: str, cov: Coverage, source: SourceText, state: dict[str, Any] | None
        ) -> None:
            super().__init__(filename, cov)
            self.source_text = source
            self._state = state
            self._regions: list[CodeRegion] | None = None

        def source(self) -> str:
            return self.source_text.text

        @property
        def parser(self) -> PythonParser:
            if self._parser is None:
                assert self.coverage is not None
                parser = PythonParser(
                    text=self.source_text.text,
                    filename=self.filename,
                    exclude=self.coverage._exclude_regex("exclude"),
                )
                if self._state is None:
                    parser.parse_source()
                    self._regions = _regions_of(parser)
                else:
                    for name, value in self._state["parser"].items():
                        setattr(parser, name, value)
                self._parser = parser
            return self._parser

        def arc_description(self, start: int, end: int) -> str:
            """coverage.py's description of an arc: stored for branch lines' arcs; others parsed afresh."""
            if self._state is not None:
                description = self._state["descriptions"].get((start, end))
                if isinstance(description, str):
                    return description
                self._state, self._parser = None, None  # not stored: parse, as without a store
            self.parser.arcs()  # descriptions come from the arcs' analysis (done once)
            return str(super().arc_description(start, end))

        def code_regions(self) -> Iterable[CodeRegion]:
            if self._regions is None and self._state is None:
                self.parser  # noqa: B018 - parsing finds the regions too, from the same syntax tree
            if self._regions is None:
                if self._state is not None:
                    self._regions = [CodeRegion(*_region_fields(flat)) for flat in self._state["regions"]]
                else:
                    self._regions = list(super().code_regions())
            return self._regions

        def plain_state(self, has_arcs: bool) -> Any:
            """This file's analysis as plain data, for the store; None when it has no plain form."""
            parser = self.parser
            descriptions = {}
            if has_arcs:
                exits = parser.exit_counts()
                branches = (arc for arc in parser.arcs() if exits.get(arc[0], 0) > 1)
                descriptions = {arc: str(parser.arc_description(*arc)) for arc in branches}
            try:
                return to_plain(
                    {
                        "parser": {k: v for k, v in vars(parser).items() if k not in PARSER_NOT_STORED},
                        # Flat, [kind, name, start, *lines]: one tag for them all.
                        "regions": [[r.kind, r.name, r.start, *sorted(r.lines)] for r in self.code_regions()],
                        "descriptions": descriptions,
                    }
                )
            except NotPlainData:
                return None


def _regions_of(parser: PythonParser) -> list[CodeRegion] | None:
    """Functions and classes from the syntax tree the parser just built: one parse serves both.

    None when this coverage.py keeps no tree (then regions are parsed apart).
    """
    tree = getattr(parser, "_ast_root", None)
    if not isinstance(tree, ast.AST):
        return None
    finder = RegionFinder()
    finder.handle_node(tree)
    return finder.regions


def restored_state(plain: Any) -> dict[str, Any] | None:
    """A stored analysis, checked to fit this coverage.py's parser; None if it does not."""
    try:
        state = from_plain(plain)
    except NotPlainData:
        return None
    if not isinstance(state, dict) or set(state) != {"parser", "regions", "descriptions"}:
        return None
    fresh = vars(PythonParser(text="", filename="<check>"))
    parser, regions, descriptions = state["parser"], state["regions"], state["descriptions"]
    if not isinstance(parser, dict) or set(parser) != set(fresh) - PARSER_NOT_STORED:
        return None
    if not isinstance(descriptions, dict) or not set(map(type, descriptions.values())) <= {str}:
        return None
    for name, value in parser.items():
        expected = fresh[name]
        if expected is None or value is None or (isinstance(expected, dict) and isinstance(value, dict)):
            continue  # unset until analysed; defaultdicts come back as dicts
        if type(value) is not type(expected):
            return None
    if not isinstance(regions, list) or not _are_regions(regions):
        return None
    return state


def _are_regions(regions: list[Any]) -> bool:
    """Stored regions: each [kind, name, start, *lines] (checked in one pass per field, at C speed)."""
    if not set(map(type, regions)) <= {list} or not all(len(flat) >= 3 for flat in regions):
        return False
    names = itertools.chain.from_iterable(flat[:2] for flat in regions)
    numbers = itertools.chain.from_iterable(flat[2:] for flat in regions)
    return set(map(type, names)) <= {str} and set(map(type, numbers)) <= {int}


def _region_fields(flat: list[Any]) -> tuple[str, str, int, set[int]]:
    return flat[0], flat[1], flat[2], set(flat[3:])


def file_analysis(data: CoverageData, precision: int, reporter: FileReporter, filename: str) -> Analysis:
    """coverage.py's own analysis of one file, from its reporter and the run's data."""
    return analysis_from_file_reporter(data, precision, reporter, filename)


def should_be_python(filename: str, cov: Coverage) -> bool:
    """Whether coverage.py would report a file it cannot parse as an error (a ``.py`` file)."""
    return bool(PythonFileReporter(filename, cov).should_be_python())


def reported_names(cov: Coverage, data: CoverageData) -> list[str]:
    """The measured files minus the report's include/omit patterns, matched as coverage.py matches them."""
    names = sorted(data.measured_files())
    include = cov.get_option("report:include")
    omit = cov.get_option("report:omit")
    if isinstance(include, list) and include:
        matcher = GlobMatcher(prep_patterns(include), "report_include")
        names = [name for name in names if matcher.match(name)]
    if isinstance(omit, list) and omit:
        matcher = GlobMatcher(prep_patterns(omit), "report_omit")
        names = [name for name in names if not matcher.match(name)]
    return names


# --- coverage.py's own route -----------------------------------------------------------------------


def coverage_analyses(cov: Coverage) -> Iterator[tuple[FileReporter, Analysis]]:
    """What ``coverage report`` analyses: every file coverage.py reports, with its own reporters."""
    yield from get_analysis_to_report(cov, None)


# --- what the run's data holds beyond the API ------------------------------------------------------


def failed_adding_unexecuted_files(exc: BaseException) -> bool:
    """Whether `exc` came from adding the files no test ran, which coverage.py does after the run's data."""
    return any(frame.name == "_post_save_work" for frame in traceback.extract_tb(exc.__traceback__))


def touch_unexecuted_files(cov: Coverage, data: CoverageData, storable: Any) -> list[str] | None:
    """Add the source files no test ran, as coverage.py adds them, all but those `storable` refuses.

    Returns the names left out; None when this coverage.py does not keep them where it did.
    """
    inorout, mapper = getattr(cov, "_inorout", None), getattr(cov, "_file_mapper", None)
    if inorout is None or mapper is None:
        return None
    left_out: list[str] = []
    by_plugin: dict[str, list[str]] = {}
    for path, plugin_name in inorout.find_possibly_unexecuted_files():
        name = mapper(path)
        if storable(name):
            by_plugin.setdefault(plugin_name or "", []).append(name)
        else:
            left_out.append(name)
    for plugin_name, names in by_plugin.items():
        data.touch_files(names, plugin_name or None)
    return left_out


def statement_starts(reporter: FileReporter) -> dict[int, int]:
    """Each line of a statement that spans lines, mapped to the statement's first line (its ``DA`` line).

    coverage.py's parser knows them; a file of a plugin's has none.
    """
    parser = getattr(reporter, "parser", None)
    starts = getattr(parser, "multiline_map", None)
    if not isinstance(starts, dict):
        starts = getattr(parser, "_multiline", None)
    if not isinstance(starts, dict):
        return {}
    return {int(line): int(first) for line, first in starts.items() if int(line) > 0 and int(first) > 0}


def context_arcs(data: CoverageData, filename: str) -> dict[str, array[int]] | None:
    """Every context's arcs in one file, from one query: context -> flat (from, to, from, to, ...).

    The public way, `set_query_context` then `arcs` for each context, costs two
    queries per (file, test) pair, which adds up to most of a per-test report on
    a suite of thousands of tests.  This reads coverage.py's arc table directly,
    into compact arrays.  None when the data is not the SQLite layout this
    knows, or the run takes coverage.py's own route, so that the caller takes
    the public way.
    """
    if not fast_path():
        return None
    return _context_arcs(data, filename)


def _context_arcs(data: CoverageData, filename: str) -> dict[str, array[int]] | None:
    try:
        data._start_using()
        with data._connect() as con:
            file_id = data._file_id(filename)
            if file_id is None:
                return {}
            arcs: dict[str, array[int]] = {}
            with con.execute(CONTEXT_ARCS_QUERY, (file_id,)) as rows:
                for context, fromno, tono in rows:
                    flat = arcs.get(context)
                    if flat is None:
                        flat = arcs[context] = array("i")
                    flat.append(fromno)
                    flat.append(tono)
            return arcs
    except (AttributeError, TypeError, ValueError, OverflowError, sqlite3.Error, DataError):
        return None


CONTEXT_ARCS_QUERY = (
    "SELECT context.context, arc.fromno, arc.tono FROM arc JOIN context ON arc.context_id = context.id "
    "WHERE arc.file_id = ?"
)


# --- the self-check ----------------------------------------------------------------------------------

CHECK_SOURCE = b"""\
import os  # a comment

def f(a,
      b=2):
    if a:  # pragma: no cover
        return 1
    for i in range(b):
        if i:
            continue
    return (
        a
    )

class C:
    def m(self):
        return [x for x in (1, 2) if x]

try:
    f(0)
except ValueError:
    pass
"""
# What ran: a run of f(0) and nothing of C, as coverage.py's C tracer records it, in two contexts.
CHECK_ARCS = {
    "": [(-1, 1), (1, 3), (3, 14), (14, 18), (18, 19), (19, -1), (14, -14), (-14, 15), (15, -14)],
    "t": [(-3, 5), (5, 7), (7, 8), (8, 7), (8, 9), (9, 7), (7, 10), (10, -3)],
}


def self_check_problems() -> tuple[str, str]:
    """What coverage.py's own route gives unlike its API, and the fast route unlike coverage.py's own.

    Each "" when nothing differs, on CHECK_SOURCE measured as CHECK_ARCS.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="pytest-lcov-check-") as folder:
            filename = os.path.join(folder, "check.py")
            Path(filename).write_bytes(CHECK_SOURCE)
            cov = Coverage(data_file=None, config_file=False, branch=True)
            data = cov.get_data()
            try:
                for context, arcs in CHECK_ARCS.items():
                    data.set_context(context)
                    data.add_arcs({filename: arcs})
                data.set_context(None)
                [(reporter, analysis)] = list(coverage_analyses(cov))
                own = _own_route_problem(cov, filename, analysis, os.path.join(folder, "check.json"))
                return own, "" if own else _fast_route_problem(cov, data, filename, reporter, analysis)
            finally:
                # Its database in memory, closed now: one collected open makes 3.13+ warn.
                data.close(force=True)
    except Exception as exc:  # an internal that fails is as good as gone
        return f"{type(exc).__name__}: {exc}", ""


def _own_route_problem(cov: Coverage, filename: str, analysis: Analysis, json_file: str) -> str:
    """coverage.py's analysis as pytest-lcov reads it, against ``Coverage.analysis2`` and the JSON report."""
    if cov.analysis2(filename)[1:4] != (
        sorted(analysis.statements),
        sorted(analysis.excluded),
        sorted(analysis.missing),
    ):
        return "a file's statements differ from Coverage.analysis2"
    cov.json_report(outfile=json_file)
    with open(json_file, encoding="utf-8") as handle:
        [reported] = json.load(handle)["files"].values()
    numbers, summary = analysis.numbers, reported["summary"]
    ours = {
        "executed_lines": sorted(analysis.executed),
        "missing_lines": sorted(analysis.missing),
        "executed_branches": _flat_arcs(analysis.executed_branch_arcs()),
        "missing_branches": _flat_arcs(analysis.missing_branch_arcs()),
        "summary": [
            numbers.n_statements,
            numbers.n_executed,
            numbers.n_branches,
            numbers.n_executed_branches,
            numbers.n_partial_branches,
        ],
    }
    theirs = {key: reported[key] for key in ours if key != "summary"}
    theirs["summary"] = [
        summary[key]
        for key in (
            "num_statements",
            "covered_lines",
            "num_branches",
            "covered_branches",
            "num_partial_branches",
        )
    ]
    return "" if ours == theirs else "a file's lines or branches differ from the JSON report"


def _flat_arcs(by_line: dict[int, list[int]]) -> list[list[int]]:
    return sorted([line, dest] for line, dests in by_line.items() for dest in dests)


def _fast_route_problem(
    cov: Coverage, data: CoverageData, filename: str, own_reporter: FileReporter, own: Analysis
) -> str:
    """The fast route against coverage.py's own: fresh, from a stored state, and the per-test arcs."""
    if FAST_IMPORT_PROBLEM:
        return FAST_IMPORT_PROBLEM
    text = SourceText(CHECK_SOURCE, decoded_source(CHECK_SOURCE))
    fresh = SourceReporter(filename, cov, text, None)
    restored = restored_state(fresh.plain_state(True))
    if restored is None:
        return "a stored parser state does not fit the parser"
    if reported_names(cov, data) != [filename]:
        return "the report's file list differs"
    for reporter in (fresh, SourceReporter(filename, cov, text, restored)):
        analysis = file_analysis(data, 0, reporter, filename)
        if _shape(reporter, analysis) != _shape(own_reporter, own):
            return "a file's analysis differs from coverage.py's report code"
        if statement_starts(reporter) != statement_starts(own_reporter):
            return "multi-line statements differ"
    by_context = _context_arcs(data, filename)
    if by_context is None:
        return "the data file's arc table is not where it was"
    for context in CHECK_ARCS:
        data.set_query_context(context)
        public_arcs = sorted(data.arcs(filename) or [])
        if sorted(zip(*[iter(by_context.get(context, array("i")))] * 2, strict=True)) != public_arcs:
            return "the arcs of a context differ from CoverageData.arcs"
    data.set_query_contexts(None)
    return ""


def _shape(reporter: FileReporter, analysis: Analysis) -> Any:
    """All of a file's analysis that a tracefile shows."""
    branch_lines = sorted(analysis.branch_stats())
    descriptions = [
        reporter.arc_description(start, end)
        for start, end in sorted(analysis.arc_possibilities)
        if start in branch_lines
    ]
    regions = [(r.kind, r.name, r.start, sorted(r.lines)) for r in reporter.code_regions()]
    return (
        sorted(analysis.statements),
        sorted(analysis.executed),
        sorted(analysis.excluded),
        sorted(analysis.arcs_executed),
        sorted(analysis.arc_possibilities),
        analysis.executed_branch_arcs(),
        analysis.missing_branch_arcs(),
        analysis.branch_stats(),
        descriptions,
        regions,
        analysis.numbers.n_statements,
        analysis.numbers.n_missing_branches,
        analysis.missing_formatted(branches=True),
    )
