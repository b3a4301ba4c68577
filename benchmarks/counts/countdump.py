"""A pytest plugin for real_counts.py: pytest-lcov's own counters of a run, as JSON.

Loaded with ``-p countdump`` beside ``--lcov --lcov-counts=executions``; when
the tests are done it writes, for each file the import hook counted, its
statement counts, function entries (by the line the body starts on, as the
reference has them) and ways taken to ``$REAL_COUNTS_OUT``, and the files
imported before counting began.
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

import pytest

_finder: Any = None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _finder
    report = session.config.pluginmanager.get_plugin("lcov-report")
    _finder = getattr(report, "counter", None)
    if _finder is None:
        raise pytest.UsageError("countdump: run with --lcov --lcov-counts=executions, without xdist")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish() -> None:
    """The tests are done: collect garbage (its finalizers may run measured code), write the counts.

    First, so that the tracefile pytest-lcov then writes holds the same counts.
    """
    if _finder is None:
        return
    gc.collect()
    Path(os.environ["REAL_COUNTS_OUT"]).write_text(json.dumps(counters_json(_finder)), encoding="utf-8")


def counters_json(finder: Any) -> dict[str, Any]:
    """A CountingFinder's counts, with the files imported before it began."""
    out: dict[str, Any] = {"early": sorted(finder.early), "files": {}}
    for name, counted in finder.files.items():
        cmap, values = counted.cmap, counted.values
        out["files"][name] = {
            "lines": sorted(cmap.line_counts(values).items()),
            "functions": sorted(
                [line, qualname, values[slot]] for (line, qualname), slot in cmap.function_keys.items()
            ),
            "ways": [list(way) for way in cmap.way_counts(values)],
        }
    return out
