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
import os
import pickle
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

    def load(self, key: str) -> tuple[PythonParser, list[CodeRegion]] | None:
        try:
            entry = pickle.loads((self.folder / key[:2] / key).read_bytes())
        except Exception:  # absent, truncated, from another version: a miss
            return None
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], PythonParser)):
            return None
        self.hits += 1
        return entry[0], entry[1]

    def store(self, key: str, entry: tuple[PythonParser, list[CodeRegion]]) -> None:
        """Write an entry atomically; a cache that cannot be written is only slower."""
        self.misses += 1
        folder = self.folder / key[:2]
        with contextlib.suppress(OSError, pickle.PicklingError, RecursionError):
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    pickle.dump(entry, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, folder / key)
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
        key = self._cache.key(Path(self.filename).read_bytes())
        entry = self._cache.load(key)
        if entry is None:
            parser: PythonParser = PythonFileReporter.parser.fget(self)  # type: ignore[attr-defined]
            parser.arcs()  # work out arcs and exits now, so they are cached too
            parser.exit_counts()
            entry = (parser, list(super().code_regions()))
            self._cache.store(key, entry)
        self._entry = entry
        return entry

    @property
    def parser(self) -> PythonParser:
        return self._cached()[0]

    def code_regions(self) -> Iterable[CodeRegion]:
        return self._cached()[1]
