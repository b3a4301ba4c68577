"""A cache of coverage.py's static analysis of source files, keyed on their content.

Parsing is almost all of a report's time (tokenizing, building the AST,
finding statements and possible arcs), and between two runs most files have
not changed.  The cache stores coverage.py's own parser object for a file,
after it has worked out statements, exclusions and arcs, together with the
file's code regions, under a key made of the source text, the coverage.py and
Python versions and the exclusion settings: any change to one of them is a miss.
coverage.py still does all the analysis; the cache only spares it re-parsing.

Entries are pickles in the project's own pytest cache folder: whoever can
write there can also write conftest.py, so reading them adds no new trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import coverage
from coverage.parser import PythonParser
from coverage.plugin import CodeRegion
from coverage.python import PythonFileReporter

CACHE_FORMAT = 1
SETTINGS_THAT_CHANGE_ANALYSIS = (
    "report:exclude_lines",
    "report:exclude_also",
    "report:partial_branches",
    "report:partial_also",
)


class AnalysisCache:
    """Cached parsers for the files of one Coverage's configuration."""

    def __init__(self, folder: Path, cov: coverage.Coverage) -> None:
        self.folder = folder
        salt = [str(CACHE_FORMAT), coverage.__version__, sys.version]
        salt += [repr(cov.get_option(name)) for name in SETTINGS_THAT_CHANGE_ANALYSIS]
        self.salt = hashlib.sha256("\0".join(salt).encode()).digest()
        self.hits = 0
        self.misses = 0

    def key(self, source: bytes) -> str:
        return hashlib.sha256(self.salt + source).hexdigest()

    def path(self, filename: str) -> Path:
        """Where the entry for `filename`'s current content lives."""
        key = self.key(Path(filename).read_bytes())
        return self.folder / key[:2] / key

    def has(self, filename: str) -> bool:
        try:
            return self.path(filename).exists()
        except OSError:
            return False

    def load(self, entry_path: Path) -> tuple[PythonParser, list[CodeRegion]] | None:
        try:
            entry = pickle.loads(entry_path.read_bytes())
        except Exception:  # absent, truncated, from another version: a miss
            return None
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], PythonParser)):
            return None
        self.hits += 1
        return entry[0], entry[1]

    def store(self, entry_path: Path, entry: tuple[PythonParser, list[CodeRegion]]) -> None:
        """Write an entry atomically; a cache that cannot be written is only slower."""
        self.misses += 1
        folder = entry_path.parent
        with contextlib.suppress(OSError, pickle.PicklingError, RecursionError):
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    pickle.dump(entry, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, entry_path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise


class CachedFileReporter(PythonFileReporter):
    """coverage.py's Python file reporter, whose parser comes from the cache when it can."""

    def __init__(self, filename: str, cov: coverage.Coverage, cache: AnalysisCache) -> None:
        super().__init__(filename, cov)
        self._cache = cache
        self._entry: tuple[PythonParser, list[CodeRegion]] | None = None

    def _cached(self) -> tuple[PythonParser, list[CodeRegion]]:
        if self._entry is not None:
            return self._entry
        entry_path = self._cache.path(self.filename)
        entry = self._cache.load(entry_path)
        if entry is None:
            parser: PythonParser = PythonFileReporter.parser.fget(self)  # type: ignore[attr-defined]
            parser.arcs()  # work out arcs and exits now, so they are cached too
            parser.exit_counts()
            entry = (parser, list(super().code_regions()))
            self._cache.store(entry_path, entry)
        self._entry = entry
        return entry

    @property
    def parser(self) -> PythonParser:
        return self._cached()[0]

    def code_regions(self) -> Iterable[CodeRegion]:
        return self._cached()[1]


MIN_FILES_PER_PROCESS = 50


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def warm(cache: AnalysisCache, cov: coverage.Coverage, filenames: list[str]) -> None:
    """Parse the files the cache lacks in parallel processes, when there are many.

    The processes only fill the cache; the report then reads every entry in
    order, so its output does not depend on how the work was split.  Each
    process is a fresh interpreter (no inherited tracer, open database or
    main module to re-run) that builds a Coverage with the exclusion settings
    making the cache key, so its entries are the ones this configuration reads.
    """
    processes = min(available_cpus(), len(filenames) // MIN_FILES_PER_PROCESS)
    if processes < 2:
        return
    missing = [name for name in filenames if not cache.has(name)]
    processes = min(processes, len(missing) // MIN_FILES_PER_PROCESS)
    if processes < 2:
        return
    options = {name: cov.get_option(name) for name in SETTINGS_THAT_CHANGE_ANALYSIS}
    # Not measured by coverage's subprocess patch: these are ours, not the tests'.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    workers = []
    for index in range(processes):
        job = json.dumps(
            {"folder": str(cache.folder), "options": options, "files": missing[index::processes]}
        )
        with contextlib.suppress(OSError, ValueError):
            worker = subprocess.Popen(
                [sys.executable, "-c", "from pytest_lcov.analysis_cache import warm_worker; warm_worker()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                text=True,
            )
            assert worker.stdin is not None
            with worker.stdin:  # hand over the whole job, then let it run beside the others
                worker.stdin.write(job)
            workers.append(worker)
    for worker in workers:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            worker.wait(timeout=3600)  # a failed worker only leaves entries missing


def warm_worker() -> None:
    """A warming process: read the job from stdin, parse each file into the cache."""
    job = json.load(sys.stdin)
    cov = coverage.Coverage(data_file=None, config_file=False)
    for name, value in job["options"].items():
        cov.set_option(name, value)
    cache = AnalysisCache(Path(job["folder"]), cov)
    for filename in job["files"]:
        with contextlib.suppress(Exception):  # the report meets the same error and says it
            CachedFileReporter(filename, cov, cache).parser  # noqa: B018 - parsing fills the cache
