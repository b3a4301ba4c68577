"""Choosing the files to report and analysing each one with coverage.py.

This is the one module that reaches past coverage.py's public API (its
parser's state, its file-choosing rules, its encoding detection), so that a
new coverage.py release that moves those can break only this file.

Each Python source is read exactly once: the bytes read are the ones hashed
for the analysis cache, parsed by coverage.py, and checksummed.  A file that
changes while the report runs can therefore never pair one content's analysis
with another's key.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import importlib.util
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import traceback
import warnings
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coverage
from coverage import Coverage, CoverageData
from coverage.exceptions import CoverageWarning, DataError, NoDataError, NoSource, NotPython
from coverage.files import GlobMatcher, prep_patterns
from coverage.parser import PythonParser
from coverage.phystokens import source_encoding
from coverage.plugin import CodeRegion, FileReporter
from coverage.python import PythonFileReporter, get_zip_bytes
from coverage.regions import RegionFinder
from coverage.report_core import get_analysis_to_report
from coverage.results import Analysis, analysis_from_file_reporter, format_lines

from pytest_lcov.analysis_cache import AnalysisStore, load_or_create_key, user_key_file
from pytest_lcov.counting import source_digest
from pytest_lcov.tracefile import safe_field

__all__ = ["Analysis", "FileReporter", "format_lines"]

STATE_FORMAT = 4
SETTINGS_THAT_CHANGE_ANALYSIS = (
    "report:exclude_lines",
    "report:exclude_also",
    "report:partial_branches",
    "report:partial_also",
)
# The parser's inputs, rebuilt from the source and settings; everything else it holds is derived state.
PARSER_INPUTS = frozenset({"text", "filename", "exclude", "_ast_root", "show_tokens", "_first_line_cache"})
# Not stored either: the fragments of every arc's description, 70% of an entry and of its decoding.
# The report reads descriptions of the branch lines' arcs only, and those are stored ready-made.
PARSER_NOT_STORED = PARSER_INPUTS | {"_missing_arc_fragments"}


@dataclass(frozen=True)
class SourceText:
    """One read of a source file: its raw bytes and the text coverage.py parses."""

    raw: bytes
    text: str

    @property
    def digest(self) -> str:
        return source_digest(self.raw)  # the import hook's digest too: the two must agree


def read_source(filename: str) -> SourceText:
    """Read `filename` (or a module inside a zip file) once, decoded as coverage.py decodes it.

    The steps are those of coverage.py's ``get_python_source``, applied to
    bytes already read, so the text parsed is exactly the text hashed.
    """
    if os.path.exists(filename):
        with open(filename, "rb") as handle:
            raw = handle.read()
    else:
        zipped = get_zip_bytes(filename)
        if zipped is None:
            raise NoSource(f"No source for code: '{filename}'.")
        raw = zipped
    normalized = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\f", b" ")
    try:
        encoding = source_encoding(normalized)
    except SyntaxError as exc:  # an unknown coding cookie
        raise NotPython(f"Couldn't parse '{filename}' as Python source: {exc}") from None
    text = normalized.decode(encoding, "replace")
    if text and not text.endswith("\n"):
        text += "\n"
    return SourceText(raw, text)


def analysis_salt(cov: Coverage, has_arcs: bool) -> str:
    """Everything besides the source that a file's analysis depends on."""
    parts = [f"state {STATE_FORMAT}", coverage.__version__, sys.version, f"arcs {has_arcs}"]
    parts += [repr(cov.get_option(name)) for name in SETTINGS_THAT_CHANGE_ANALYSIS]
    return "\0".join(parts)


# The parser state as plain JSON data: containers are tagged, so sets, tuples
# and dicts with tuple keys come back as they were; nothing else is accepted.
# The bulk (sets of line numbers, of arcs, line-to-line maps) has flat forms
# that decode at C speed.


class NotPlainData(ValueError):
    """A value that is not made of ints, strings, None, lists, tuples, sets and dicts."""


# Type checks by set(map(type, ...)): a stored entry holds many thousands of numbers.
PRIMITIVE_TYPES = frozenset({int, str, bool, type(None)})


def _ints(items: Any) -> bool:
    return set(map(type, items)) <= {int}


def _int_pairs(items: Any) -> bool:
    return all(type(item) is tuple and len(item) == 2 and _ints(item) for item in items)


def _primitive(items: Any) -> bool:
    return set(map(type, items)) <= PRIMITIVE_TYPES


def _lists_of_primitives(items: list[Any]) -> bool:
    return set(map(type, items)) <= {list} and _primitive(itertools.chain.from_iterable(items))


def _primitive_tuples(items: Any) -> bool:
    return all(type(item) is tuple and _primitive(item) for item in items)


# Runs of line numbers are stored as base64 of int32s: decoded at C speed, not digit by digit.
PACKED = array("i").itemsize == 4


def _pack(numbers: list[int]) -> list[int] | str:
    if not PACKED or len(numbers) < 8:
        return numbers
    try:
        packed = array("i", numbers)
    except OverflowError:
        return numbers
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpack(items: Any) -> list[int]:
    """Stored whole numbers, checked: a JSON list of ints, or packed int32s (ints by construction)."""
    if isinstance(items, list) and _ints(items):
        return items
    if not isinstance(items, str) or not PACKED:
        raise NotPlainData("not whole numbers")
    try:
        raw = base64.b64decode(items, validate=True)
    except ValueError:
        raise NotPlainData("not base64") from None
    if len(raw) % 4:
        raise NotPlainData("not int32s")
    numbers = array("i")
    numbers.frombytes(raw)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tolist()


def _flat(pairs: Any) -> list[int]:
    return [number for pair in pairs for number in pair]


def _paired(flat: list[int]) -> Iterator[tuple[int, int]]:
    """Pairs of `flat`, whole numbers from _unpack."""
    if len(flat) % 2:
        raise NotPlainData("not pairs of whole numbers")
    numbers = iter(flat)
    return zip(numbers, numbers, strict=True)


def to_plain(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        raise NotPlainData("nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list):
        if _primitive_tuples(value):
            return {"lt": [list(item) for item in value]}
        if _lists_of_primitives(value):
            return {"ll": [list(item) for item in value]}
        return [to_plain(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        if _primitive(value):
            return {"tv": list(value)}
        return {"t": [to_plain(item, depth + 1) for item in value]}
    if isinstance(value, set | frozenset):
        if _ints(value):
            return {"si": _pack(sorted(value))}
        if _int_pairs(value):
            return {"sp": _pack(_flat(sorted(value)))}
        return {"s": [to_plain(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        if _ints(value) and _ints(value.values()):
            return {"dii": _pack(_flat(sorted(value.items())))}
        if _int_pairs(value):
            keys = sorted(value)
            if set(map(type, value.values())) <= {str}:
                # Line pairs to strings (the branch arcs' descriptions): one tag for all.
                return {"dps": [_pack(_flat(keys)), [value[key] for key in keys]]}
            return {"dp": [_pack(_flat(keys)), [to_plain(value[key], depth + 1) for key in keys]]}
        return {"d": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in value.items()]}
    raise NotPlainData(f"cannot store a {type(value).__name__}")


def from_plain(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        raise NotPlainData("nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list):
        if _primitive(value):
            return list(value)
        return [from_plain(item, depth + 1) for item in value]
    if isinstance(value, dict) and len(value) == 1:
        [(tag, items)] = value.items()
        if isinstance(items, list) or (isinstance(items, str) and tag in ("si", "sp", "dii")):
            return _from_tagged(tag, items, depth)
    raise NotPlainData("not a stored value")


def _from_tagged(tag: str, items: Any, depth: int) -> Any:
    if tag == "si":
        return set(_unpack(items))
    if tag == "sp":
        return set(_paired(_unpack(items)))
    if tag == "dii":
        return dict(_paired(_unpack(items)))
    if tag == "tv" and _primitive(items):
        return tuple(items)
    if tag == "lt" and _lists_of_primitives(items):
        return [tuple(item) for item in items]
    if tag == "ll" and _lists_of_primitives(items):
        return items  # lists fresh from JSON, already of primitives
    if tag == "dps" and len(items) == 2 and isinstance(items[1], list) and set(map(type, items[1])) <= {str}:
        keys = list(_paired(_unpack(items[0])))
        if len(keys) == len(items[1]):
            return dict(zip(keys, items[1], strict=True))
    if tag == "dp" and len(items) == 2 and isinstance(items[1], list):
        keys = list(_paired(_unpack(items[0])))
        if len(keys) == len(items[1]):
            return {key: from_plain(item, depth + 1) for key, item in zip(keys, items[1], strict=True)}
    if tag == "t":
        return tuple(from_plain(item, depth + 1) for item in items)
    if tag == "s":
        return {from_plain(item, depth + 1) for item in items}
    if tag == "d" and all(isinstance(pair, list) and len(pair) == 2 for pair in items):
        return {from_plain(k, depth + 1): from_plain(v, depth + 1) for k, v in items}
    raise NotPlainData("not a stored value")


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
        """coverage.py's description of an arc: stored for branch lines' arcs; any other, parsed afresh."""
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
    return set(map(type, names)) <= {str} and _ints(
        itertools.chain.from_iterable(flat[2:] for flat in regions)
    )


def _region_fields(flat: list[Any]) -> tuple[str, str, int, set[int]]:
    return flat[0], flat[1], flat[2], set(flat[3:])


class Analyser:
    """Analyses the measured files of one Coverage, using a store of earlier analyses if given."""

    def __init__(self, cov: Coverage, store: AnalysisStore | None) -> None:
        self.cov = cov
        self.store = store

    def reporter(self, filename: str, has_arcs: bool) -> SourceReporter:
        """A reporter for `filename` that reads it once and uses a stored analysis of that text."""
        source = read_source(filename)
        state = None
        if self.store is not None:
            state = restored_state(self.store.get(source.digest))
        reporter = SourceReporter(filename, self.cov, source, state)
        if state is None and self.store is not None:
            with contextlib.suppress(Exception):  # a file that does not parse is reported below
                plain = reporter.plain_state(has_arcs)
                if plain is not None:
                    self.store.put(source.digest, plain)
        return reporter


def collected_data(cov: Coverage) -> tuple[CoverageData, list[str]]:
    """coverage.py's data of the run, and the source files left out of it: their names are not UTF-8.

    coverage.py keeps file names in SQLite, as UTF-8: a file whose name holds
    other bytes (``caf\\xe9.py`` in Latin-1) cannot be stored.  Its
    `get_data` fails on one among the source files no test ran, which it adds
    once, after the run's data is in; those are added here then, all but the
    files that cannot be stored, whose names are returned for the report to
    say.  The report's first call: later ones find the data settled.
    """
    try:
        return cov.get_data(), []
    except UnicodeEncodeError as exc:
        if not any(frame.name == "_post_save_work" for frame in traceback.extract_tb(exc.__traceback__)):
            raise  # the run's own data could not be stored: no report may go on without it
        data = cov.get_data()  # the run's data is in: only files no test ran are missing
    inorout, mapper = getattr(cov, "_inorout", None), getattr(cov, "_file_mapper", None)
    if inorout is None or mapper is None:
        return data, []
    left_out: list[str] = []
    by_plugin: dict[str, list[str]] = {}
    for path, plugin_name in inorout.find_possibly_unexecuted_files():
        name = mapper(path)
        if _storable(name):
            by_plugin.setdefault(plugin_name or "", []).append(name)
        else:
            left_out.append(name)
    for plugin_name, names in by_plugin.items():
        data.touch_files(names, plugin_name or None)
    return data, sorted(left_out)


def _storable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def analysed_files(
    cov: Coverage, store_folder: Path | None, parallel: ParallelAnalysis | None = None
) -> Iterator[tuple[FileReporter, Analysis]]:
    """Each measured file with coverage.py's analysis, one at a time, in coverage.py's order.

    Files come from coverage.py's own rules, so `source`, `omit`, `include`,
    exclusions and unimported source files behave exactly as in ``coverage
    report``; like it, this yields empty files too, for the caller to count
    and leave out under `skip_empty`.  Plain Python files are read once and analysed by
    coverage.py's own `analysis_from_file_reporter`; with `store_folder`,
    unchanged files reuse an earlier, signed analysis.  `parallel` is the
    parsing already under way since the session started, if any.
    """
    data = cov.get_data()  # flushes the tracer's data into the data object the reporters read
    if _plain_python_only(cov, data):
        yield from _analyses(cov, data, store_folder, parallel)
    else:
        yield from get_analysis_to_report(cov, None)


def _plain_python_only(cov: Coverage, data: CoverageData) -> bool:
    """No file-tracer plugins and no relative names: every file is a Python file at its measured path."""
    if cov.get_option("run:relative_files") or cov.get_option("run:plugins"):
        return False
    return not any(data.file_tracer(name) for name in data.measured_files())


def _analyses(
    cov: Coverage, data: CoverageData, store_folder: Path | None, parallel: ParallelAnalysis | None
) -> Iterator[tuple[FileReporter, Analysis]]:
    """What `get_analysis_to_report` yields, from sources read once.

    The same files (measured, minus the report's include/omit patterns), in
    the same order, with the same error policy (`ignore_errors` warns and
    skips), analysed by coverage.py's own analysis_from_file_reporter.
    """
    names = _reported_names(cov, data)
    has_arcs = data.has_arcs()
    precision_option = cov.get_option("report:precision")
    precision = precision_option if isinstance(precision_option, int) else 0
    ignore_errors = bool(cov.get_option("report:ignore_errors"))
    with contextlib.ExitStack() as stack:
        if parallel is None or parallel.has_arcs != has_arcs:
            parallel = stack.enter_context(ParallelAnalysis(cov, store_folder, has_arcs))
        store = parallel.complete(names)
        analyser = Analyser(cov, store)
        for name in names:
            try:
                reporter = analyser.reporter(name, has_arcs)
                analysis = analysis_from_file_reporter(data, precision, reporter, name)
            except NotPython:
                if not PythonFileReporter(name, cov).should_be_python():
                    continue
                if not ignore_errors:
                    raise
                warnings.warn(
                    f"Couldn't parse Python file '{safe_field(name)}' (couldnt-parse)",
                    CoverageWarning,
                    stacklevel=1,
                )
            except Exception as exc:
                if not ignore_errors:
                    raise
                warnings.warn(
                    f"Couldn't parse '{safe_field(name)}': {safe_field(str(exc))} (couldnt-parse)",
                    CoverageWarning,
                    stacklevel=1,
                )
            else:
                yield reporter, analysis


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
    knows, so that the caller takes the public way.
    """
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


def _reported_names(cov: Coverage, data: CoverageData) -> list[str]:
    names = sorted(data.measured_files())
    include = cov.get_option("report:include")
    omit = cov.get_option("report:omit")
    if isinstance(include, list) and include:
        matcher = GlobMatcher(prep_patterns(include), "report_include")
        names = [name for name in names if matcher.match(name)]
    if isinstance(omit, list) and omit:
        matcher = GlobMatcher(prep_patterns(omit), "report_omit")
        names = [name for name in names if not matcher.match(name)]
    if not names:
        raise NoDataError("No data to report.")
    return names


MIN_FILES_PER_PROCESS = 50


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parallel_processes(files: int) -> int:
    return min(available_cpus(), files // MIN_FILES_PER_PROCESS)


def helpers_for(files: int, background: bool = False) -> int:
    """How many helper processes parse `files` files: enough to share out, or one beside the tests; or 0."""
    processes = parallel_processes(files)
    if processes >= 2:
        return processes
    return 1 if background and files else 0


class ParallelAnalysis:
    """The store a report reads, and the processes that fill it while the tests run or just before.

    Parsing depends only on a file's bytes, so it need not wait for the
    tests: the processes started at session start parse the measured sources
    beside them, and the report then parses only what they have not done
    (files changed since, or reached only now).  They only fill the store;
    the report reads each file once and takes an entry only for the very
    bytes it read, so its output does not depend on how the work was split.
    Without a cache folder the store is a temporary folder, for this run only.
    """

    def __init__(self, cov: Coverage, cache_dir: Path | None, has_arcs: bool) -> None:
        self.cov = cov
        self.has_arcs = has_arcs
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="pytest-lcov-analysis-")
            folder, key = Path(self._temporary.name), load_or_create_key(None)
        else:
            # Absolute: the helpers run in the temporary folder, and must write where the report reads.
            folder, key = cache_dir.absolute(), load_or_create_key(user_key_file())
        self.store = AnalysisStore(folder, key, analysis_salt(cov, has_arcs))
        self.workers: list[subprocess.Popen[str]] = []

    def __enter__(self) -> ParallelAnalysis:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, filenames: list[str], background: bool = False) -> None:
        """Start parsing `filenames` in helper processes, when there are enough to share out."""
        processes = helpers_for(len(filenames), background)
        if not processes:
            return
        options = {name: self.cov.get_option(name) for name in SETTINGS_THAT_CHANGE_ANALYSIS}
        for index in range(processes):
            job = {
                "folder": str(self.store.folder),
                "key": self.store.key.hex(),
                "salt": self.store.salt,
                "options": options,
                "has_arcs": self.has_arcs,
                "files": filenames[index::processes],
                "nice": background,  # the tests come first
            }
            worker = _start_worker(job)
            if worker is not None:
                self.workers.append(worker)

    def complete(self, filenames: list[str]) -> AnalysisStore | None:
        """The store with `filenames` parsed as far as helpers can: wait for them, share out the rest."""
        self._wait()
        if helpers_for(len(filenames)):  # else none would start for the missing ones: read no file for it
            missing = [name for name in filenames if not _stored(self.store, name)]
            self.start(missing)
            self._wait()
        if self._temporary is not None and not any(self.store.folder.iterdir()):
            return None  # nothing was parsed ahead: reading an empty store would only cost
        return self.store

    def _wait(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                worker.wait(timeout=3600)  # a failed worker only leaves entries missing
        self.workers = []

    def close(self) -> None:
        """Stop helpers still running, and bound the store (a temporary one goes)."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.kill()
        self._wait()
        if self._temporary is not None:
            self._temporary.cleanup()
        else:
            self.store.prune()


def _start_worker(job: dict[str, Any]) -> subprocess.Popen[str] | None:
    """A fresh interpreter that imports nothing from the project (``-P``: no current folder on
    ``sys.path``), is not measured by coverage's subprocess patch, and reads its job from stdin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    try:
        worker = subprocess.Popen(
            [sys.executable, "-P", "-c", "from pytest_lcov.analysis import warm_worker; warm_worker()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=tempfile.gettempdir(),
            text=True,
        )
        assert worker.stdin is not None
        with worker.stdin:  # hand over the whole job, then let it run beside the others
            worker.stdin.write(json.dumps(job))
    except (OSError, ValueError):
        return None
    return worker


def _stored(store: AnalysisStore, filename: str) -> bool:
    try:
        return store.has(read_source(filename).digest)
    except Exception:
        return False


def measured_sources(cov: Coverage, limit: int = 50_000) -> list[str]:
    """The Python files under the folders and top-level packages that `source` names.

    Known before any test runs, so they can be parsed while the tests run.
    Virtual environments, hidden folders and caches are skipped; a package
    name is looked up without importing anything.  Files found only later
    are parsed at the report.
    """
    roots = []
    entries = [cov.get_option("run:source"), cov.get_option("run:source_pkgs")]
    for entry in [item for option in entries if isinstance(option, list) for item in option]:
        if os.path.isdir(entry):
            roots.append(entry)
        elif isinstance(entry, str) and entry.isidentifier():
            with contextlib.suppress(Exception):
                spec = importlib.util.find_spec(entry)
                if spec is not None and spec.submodule_search_locations:
                    roots.extend(spec.submodule_search_locations)
    found: list[str] = []
    for root in roots:
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = [name for name in subfolders if _searched(Path(folder) / name)]
            found += [os.path.abspath(os.path.join(folder, name)) for name in files if name.endswith(".py")]
            if len(found) >= limit:
                return found[:limit]
    return found


def _searched(folder: Path) -> bool:
    name = folder.name
    skipped = name.startswith(".") or name in ("__pycache__", "node_modules", "site-packages")
    return not skipped and not (folder / "pyvenv.cfg").exists()


def warm_worker() -> None:
    """A parsing process: read the job from stdin, store each file's analysis."""
    job = json.load(sys.stdin)
    if job.get("nice") and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(10)
    cov = Coverage(data_file=None, config_file=False)
    for name, value in job["options"].items():
        cov.set_option(name, value)
    store = AnalysisStore(Path(job["folder"]), bytes.fromhex(job["key"]), job["salt"])
    analyser = Analyser(cov, store)
    for filename in job["files"]:
        with contextlib.suppress(Exception):  # the report meets the same error and says it
            analyser.reporter(filename, job["has_arcs"])
