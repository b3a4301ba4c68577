"""coverage.py's analysis of one file, made in the report or ahead of it in helper processes.

Parsing depends only on a file's bytes and a few settings, so its result is
stored (signed, as plain data: analysis_cache, parser_state) and made where it
costs least: by helper processes while the tests run, or by the report for
what they left.  How a stored state fits coverage.py's parser is
coverage_internals' to know.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import coverage
from coverage import Coverage
from coverage.exceptions import CoverageException

from pytest_lcov.analysis_cache import AnalysisStore, load_or_create_key, user_key_file
from pytest_lcov.coverage_internals import PROCESS_VARIABLES_PREFIX, SourceReporter, fast_path, restored_state
from pytest_lcov.sources import read_source

STATE_FORMAT = 4
SETTINGS_THAT_CHANGE_ANALYSIS = (
    "report:exclude_lines",
    "report:exclude_also",
    "report:partial_branches",
    "report:partial_also",
)


def analysis_salt(cov: Coverage, has_arcs: bool) -> str:
    """Everything besides the source that a file's analysis depends on."""
    parts = [f"state {STATE_FORMAT}", coverage.__version__, sys.version, f"arcs {has_arcs}"]
    parts += [repr(cov.get_option(name)) for name in SETTINGS_THAT_CHANGE_ANALYSIS]
    return "\0".join(parts)


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
        if not processes or not _fast_path():  # coverage.py's own route reads no stored analysis
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


def _fast_path() -> bool:
    """The self-check's answer; False when no route is right, which the report says in its one line."""
    try:
        return fast_path()
    except CoverageException:
        return False


def _start_worker(job: dict[str, Any]) -> subprocess.Popen[str] | None:
    """A fresh interpreter that imports nothing from the project (``-P``: no current folder on
    ``sys.path``), is not measured by coverage's subprocess patch, and reads its job from stdin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROCESS_VARIABLES_PREFIX)}
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
