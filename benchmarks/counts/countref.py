"""A pytest plugin for real_counts.py: the settrace reference counts of a whole test suite.

Loaded with ``-p countref`` (this folder on PYTHONPATH), before pytest loads
any other plugin, so the measured packages are traced from their first import.
It traces, in every thread, the ``.py`` files under the packages named in
``$REAL_COUNTS_PACKAGES`` with tests/counting_reference.py's tracer (the spec
the unit tests compare against), and writes each file's statement counts,
function entries and line-to-line transitions to ``$REAL_COUNTS_OUT`` as JSON
when the tests are done.  With ``$REAL_COUNTS_COUNTERS`` set, pytest-lcov's
import hook counts the same files in the same run (without coverage.py), and
its counts are written beside the reference's.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest


def _load_reference() -> ModuleType:
    """tests/counting_reference.py by its path: the suite may have a ``tests`` package of its own."""
    path = Path(os.environ["REAL_COUNTS_REFERENCE"])
    spec = importlib.util.spec_from_file_location("real_counts_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _package_roots(names: list[str]) -> tuple[str, ...]:
    roots = []
    for name in names:
        spec = importlib.util.find_spec(name)  # a top-level package: found, not imported
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"countref: no package {name!r}")
        roots += [os.path.join(os.path.realpath(p), "") for p in spec.submodule_search_locations]
    return tuple(roots)


_reference = _load_reference()
_roots = _package_roots(os.environ["REAL_COUNTS_PACKAGES"].split(","))
_tracers: dict[str, Any] = {}
_other: set[str] = set()


def _dispatch(frame: FrameType, event: str, arg: Any) -> Any:
    """Every event of a measured file goes to its tracer, with the garbage collector held off.

    CPython traces nothing run inside a trace function: a collection started
    by the tracer's own allocations would run finalizers (a measured
    ``close()``, say) unseen.  Held off here, it starts just after.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        name = frame.f_code.co_filename
        tracer = _tracers.get(name)
        if tracer is None:
            if name in _other:
                return None
            if not (name.endswith(".py") and name.startswith(_roots)):
                _other.add(name)
                return None
            tracer = _tracers[name] = _reference._Tracer(Path(name).read_text(encoding="utf-8"), name)
        return _dispatch if tracer(frame, event, arg) is not None else None
    finally:
        if collecting:
            gc.enable()


_counters: Any = None
if os.environ.get("REAL_COUNTS_COUNTERS"):
    # The same run counted by pytest-lcov's import hook too (no coverage.py): one execution, two counts.
    from countdump import counters_json

    from pytest_lcov.counting import CountingFinder

    _counters = CountingFinder(
        frozenset(
            os.path.join(folder, name)
            for root in _roots
            for folder, _, names in os.walk(root)
            for name in names
            if name.endswith(".py")
        )
    )
    _counters.install()
threading.settrace(_dispatch)
sys.settrace(_dispatch)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish() -> None:
    """The tests are done: collect garbage (its finalizers may run measured code), stop, write."""
    gc.collect()
    sys.settrace(None)
    threading.settrace(None)
    reference = {
        name: {
            "lines": sorted(t.lines.items()),
            "functions": sorted([line, qualname, n] for (line, qualname), n in t.function_counts().items()),
            "transitions": sorted([a, b, n] for (a, b), n in t.transitions().items()),
        }
        for name, t in _tracers.items()
    }
    out = {"reference": reference, "counters": counters_json(_counters) if _counters else None}
    Path(os.environ["REAL_COUNTS_OUT"]).write_text(json.dumps(out), encoding="utf-8")
