"""A pytest plugin for run.py's case e: when the last test finished, to time the report phase from outside.

run.py puts this folder on PYTHONPATH and loads the plugin with ``-p benchtiming``,
so pytest-lcov runs unchanged.  The report phase is then the tracefile's mtime
(pytest-lcov writes it at the end of its trylast ``pytest_sessionfinish``, by an
atomic rename) less the time recorded here.  The time is ``time.time()``, the
wall clock that file mtimes use, and it is written to the file named by
``$BENCHTIMING_FILE`` only at ``pytest_unconfigure``, after the report: the plugin
adds no file writes between the tests and the report.
"""

from __future__ import annotations

import os
import time

ENV = "BENCHTIMING_FILE"

_last_finish: float | None = None


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Each test's end (after its teardown is reported): the last test's stays."""
    global _last_finish
    _last_finish = time.time()


def pytest_unconfigure() -> None:
    """Write the last test's end, once everything else (the report too) is done."""
    path = os.environ.get(ENV)
    if path and _last_finish is not None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(f"{_last_finish!r}\n")
